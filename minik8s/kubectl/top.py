"""``kubectl top pod|node``: CPU and memory use, read from the resource metrics API.

``top`` asks ``metrics.k8s.io/v1beta1`` (served by metrics-server, :mod:`minik8s.metrics.server`)
for PodMetrics or NodeMetrics and prints them as upstream does:

* ``top pod [NAME] [-l SELECTOR] [-A] [--containers]``: ``NAME  CPU(cores)  MEMORY(bytes)``, a pod
  being the sum of its containers (``--containers``: one line per container under ``POD``; ``-A``:
  a ``NAMESPACE`` column first);
* ``top node [NAME] [-l SELECTOR]``: ``NAME  CPU(cores)  CPU(%)  MEMORY(bytes)  MEMORY(%)``, the
  percentages of the node's allocatable (``--show-capacity``: of its capacity); nodes without
  metrics follow as ``<unknown>``.

CPU is printed in millicores rounded up (``1m`` for any use at all), memory in whole Mi rounded
down, as upstream's top printer does. ``--sort-by=cpu|memory`` sorts, biggest first.
When the API is not served at all: ``error: Metrics API not available``; when it has nothing yet
for pods that exist: ``error: metrics not available yet``.

Interface: ``register(sub, parent)``.
Taught in chapter 17 (autoscaling: measuring usage).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import orjson

from minik8s.api import metrics, quantity, resources
from minik8s.api.duration import go_duration
from minik8s.clock import parse_rfc3339
from minik8s.kubectl import printing
from minik8s.kubectl.command import CommandError, Env, UsageError

PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")
METRICS_CREATION_DELAY_SECONDS = 120   # a pod older than this without metrics is worth a word of its own
MIB = 1024 * 1024


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("top", parents=[parent], add_help=False)
    p.add_argument("kind", nargs="?")
    p.add_argument("name", nargs="?")
    for switch in (("-A", "--all-namespaces"), ("--containers",), ("--no-headers",), ("--show-capacity",)):
        p.add_argument(*switch, action="store_true")
    for option, default in (("--selector", ""), ("--field-selector", ""), ("--sort-by", ""),
                            ("--use-protocol-buffers", None)):
        p.add_argument(*(("-l",) if option == "--selector" else ()), option, default=default)
    p.set_defaults(handler=cmd_top)


def cmd_top(env: Env) -> None:
    a = env.args
    if a.kind in ("pod", "pods", "po"):
        top_pods(env)
    elif a.kind in ("node", "nodes", "no"):
        top_nodes(env)
    else:
        raise UsageError(f'unknown command "{a.kind}" for "kubectl top"' if a.kind else
                         'must specify one of "pod" or "node"')


def _check(env: Env) -> None:
    a = env.args
    if a.sort_by not in ("", "cpu", "memory"):
        raise CommandError("--sort-by accepts only cpu or memory")
    if a.name and a.selector:
        raise CommandError("only one of NAME or --selector can be provided")
    groups = orjson.loads(env.client.request("GET", "/apis")).get("groups") or []
    if not any(g.get("name") == metrics.GROUP and any(v.get("version") == metrics.VERSION
                                                      for v in g.get("versions") or [])
               for g in groups):
        raise CommandError("Metrics API not available")


def _millicores(cpu: str) -> int:
    return math.ceil(quantity.parse(cpu) * 1000)   # upstream's MilliValue rounds up


def _bytes(memory: str) -> int:
    return math.ceil(quantity.parse(memory))


def _read(env: Env, resource: Any, namespace: str | None) -> list[dict[str, Any]]:
    a = env.args
    if a.name:
        return [env.client.get(resource, a.name, namespace)]
    return list(env.client.list(resource, namespace, label_selector=a.selector or None,
                                field_selector=a.field_selector or None)["items"])


def _sort(rows: list[tuple[Any, int, int]], sort_by: str) -> list[tuple[Any, int, int]]:
    if sort_by == "cpu":
        return sorted(rows, key=lambda r: -r[1])
    if sort_by == "memory":
        return sorted(rows, key=lambda r: -r[2])
    return rows


def _print(env: Env, header: list[str], lines: list[list[str]]) -> None:
    # Every cell, the last one too, ends with a tab, as upstream's top printer writes them.
    rows = ([] if env.args.no_headers else [header]) + lines
    env.out.write(printing.tabwrite(["".join(cell + "\t" for cell in row) for row in rows]))


def top_pods(env: Env) -> None:
    a = env.args
    _check(env)
    namespace = None if a.all_namespaces else env.namespace
    items = _read(env, metrics.POD_METRICS, namespace)
    if not items:
        _no_pod_metrics(env, namespace)
        return
    header = ["NAMESPACE"] if a.all_namespaces else []
    lines: list[list[str]] = []
    if a.containers:
        header += ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        measured = [((item, c["name"]), _millicores(c["usage"]["cpu"]), _bytes(c["usage"]["memory"]))
                    for item in items for c in item.get("containers") or []]
    else:
        header += ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        measured = [((item, None), _pod_millicores(item), sum(_bytes(c["usage"]["memory"])
                                                              for c in item.get("containers") or []))
                    for item in items]
    for (item, container), cpu, memory in _sort(measured, a.sort_by):
        meta = item["metadata"]
        line = [meta.get("namespace", "")] if a.all_namespaces else []
        line += [meta["name"]] + ([container] if a.containers else [])
        lines.append(line + [f"{cpu}m", f"{memory // MIB}Mi"])
    _print(env, header, lines)


def _pod_millicores(item: dict[str, Any]) -> int:
    """The pod's CPU: its containers' usage added exactly, then rounded up once."""
    total = sum((quantity.parse(c["usage"]["cpu"]) for c in item.get("containers") or []), start=quantity.parse(0))
    return math.ceil(total * 1000)


def _no_pod_metrics(env: Env, namespace: str | None) -> None:
    """Why there was nothing to print (upstream's verifyEmptyMetrics)."""
    a = env.args
    pods = _read(env, PODS, namespace)   # a missing named pod is the server's own 404
    if not pods:
        env.err.write(printing.no_resources_message(namespace, a.all_namespaces) + "\n")
        return
    now = env.clock.now()
    for pod in pods:
        meta = pod["metadata"]
        created = meta.get("creationTimestamp")
        age = now - parse_rfc3339(created) if created else 0.0
        if age > METRICS_CREATION_DELAY_SECONDS:
            raise CommandError(f"Metrics not available for pod {meta.get('namespace', '')}/{meta['name']}, "
                               f"age: {go_duration(age)}")
    raise CommandError("metrics not available yet")


def top_nodes(env: Env) -> None:
    a = env.args
    _check(env)
    items = _read(env, metrics.NODE_METRICS, None)
    if not items:
        raise CommandError("metrics not available yet")
    nodes = {n["metadata"]["name"]: n for n in _read(env, NODES, None)}
    field = "capacity" if a.show_capacity else "allocatable"
    measured = [(item, _millicores(item["usage"]["cpu"]), _bytes(item["usage"]["memory"])) for item in items]
    lines = []
    for item, cpu, memory in _sort(measured, a.sort_by):
        name = item["metadata"]["name"]
        available = ((nodes.get(name) or {}).get("status") or {}).get(field) or {}
        cpu_total = _millicores(available.get("cpu", "0"))
        memory_total = _bytes(available.get("memory", "0"))
        lines.append([name, f"{cpu}m", f"{cpu * 100 // cpu_total if cpu_total else 0}%", f"{memory // MIB}Mi",
                      f"{memory * 100 // memory_total if memory_total else 0}%"])
    measured_names = {item["metadata"]["name"] for item in items}
    lines += [[name] + ["<unknown>"] * 4 for name in nodes if name not in measured_names]
    _print(env, ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"], lines)


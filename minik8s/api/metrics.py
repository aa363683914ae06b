"""The resource metrics API, ``metrics.k8s.io/v1beta1``: what ``kubectl top`` and the HPA read.

metrics-server serves two read-only resources through API aggregation: ``pods``
(kind ``PodMetrics``, namespaced) and ``nodes`` (``NodeMetrics``), with the verbs get and
list. Nothing is stored: every object is made on request from the latest points
metrics-server scraped from the kubelets' Summary API (:mod:`minik8s.kubelet.stats`).
This module holds the pure part that the API server, the metrics component
(:mod:`minik8s.metrics.server`) and kubectl share: the two resources, and how their
objects and quantities are written.

An object as metrics-server writes it::

    {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
     "metadata": {"name": "web", "namespace": "default", "labels": {...}, "creationTimestamp": <now>},
     "timestamp": "2025-01-01T00:00:30Z", "window": "15s",
     "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}}]}

``cpu`` is a rate, nanocores over ``window`` (``"1234567n"``, or shorter when it divides
exactly: ``"250m"``); ``memory`` the working set in bytes, in the largest binary unit that
divides it (``"65536Ki"``, ``"64Mi"``). ``window`` is a Go duration (``"15s"``, ``"1m0s"``).

Interface:
    GROUP, VERSION, POD_METRICS, NODE_METRICS, RESOURCES
    cpu_quantity(nano_cores) -> str;  memory_quantity(bytes) -> str
    pod_metrics(meta, timestamp, window, containers, now) -> dict      # containers: [(name, nano_cores, bytes)]
    node_metrics(meta, timestamp, window, nano_cores, memory, now) -> dict
    not_found(resource, name) -> StatusError    # metrics-server's 404 for an object without metrics yet

Taught in chapter 11 (resources: measuring usage).
"""

from __future__ import annotations

from typing import Any

from minik8s.api import errors, quantity
from minik8s.api.duration import go_duration
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.clock import rfc3339

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
# As metrics-server registers them: no singular name, no short names, only get and list.
NODE_METRICS = Resource(GROUP, VERSION, "NodeMetrics", "nodes", namespaced=False, verbs=("get", "list"),
                        singular="nodemetrics")
POD_METRICS = Resource(GROUP, VERSION, "PodMetrics", "pods", namespaced=True, verbs=("get", "list"),
                       singular="podmetrics")
RESOURCES = (NODE_METRICS, POD_METRICS)


def cpu_quantity(nano_cores: int) -> str:
    """A rate in nanocores as a canonical decimal quantity: ``1234567n``, ``250m``, ``2``."""
    if nano_cores == 0:
        return "0"
    for divisor, suffix in ((10**9, ""), (10**6, "m"), (10**3, "u")):
        if nano_cores % divisor == 0:
            return f"{nano_cores // divisor}{suffix}"
    return f"{nano_cores}n"


def memory_quantity(size: int) -> str:
    """Bytes as a canonical binary quantity: ``64Mi``, ``12345Ki``, ``1000``."""
    return quantity.format_bytes(size) if size else "0"


def _meta(meta: dict[str, Any], now: float, namespaced: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": meta.get("name", "")}
    if namespaced:
        out["namespace"] = meta.get("namespace", "")
    out["creationTimestamp"] = rfc3339(now)   # metrics-server stamps each object when it answers
    if meta.get("labels"):
        out["labels"] = dict(meta["labels"])
    return out


def pod_metrics(meta: dict[str, Any], timestamp: float, window: float, containers: list[tuple[str, int, int]],
                now: float) -> dict[str, Any]:
    """A PodMetrics for the pod whose metadata is ``meta`` (its name, namespace and labels)."""
    return {"kind": POD_METRICS.kind, "apiVersion": API_VERSION, "metadata": _meta(meta, now, True),
            "timestamp": rfc3339(timestamp), "window": go_duration(window),
            "containers": [{"name": name, "usage": {"cpu": cpu_quantity(cpu), "memory": memory_quantity(memory)}}
                           for name, cpu, memory in containers]}


def node_metrics(meta: dict[str, Any], timestamp: float, window: float, nano_cores: int, memory: int,
                 now: float) -> dict[str, Any]:
    """A NodeMetrics for the node whose metadata is ``meta``."""
    return {"kind": NODE_METRICS.kind, "apiVersion": API_VERSION, "metadata": _meta(meta, now, False),
            "timestamp": rfc3339(timestamp), "window": go_duration(window),
            "usage": {"cpu": cpu_quantity(nano_cores), "memory": memory_quantity(memory)}}


def not_found(resource: Resource, name: str) -> StatusError:
    """metrics-server's 404 for an object that exists but has no metrics yet: ``podmetrics.metrics.k8s.io
    "default/web" not found`` (a pod is named with its namespace), ``nodemetrics.metrics.k8s.io "node-1" not
    found``."""
    return errors.not_found(GROUP, resource.name, name)

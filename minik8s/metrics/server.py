"""metrics-server: scrape every kubelet's Summary API, serve ``metrics.k8s.io/v1beta1``.

Every ``resolution`` seconds (metrics-server's ``--metric-resolution``, 15 s by default),
on the cluster's clock, the component asks each node's kubelet for its Summary
(``GET /api/v1/nodes/<node>/proxy/stats/summary``, :mod:`minik8s.kubelet.stats`) and keeps,
for every container and node, the last two *points*: when it started, when it was read,
the CPU it has used since it started (core-nanoseconds) and its memory working set. A rate
needs two points, so an object has metrics once two readings of it exist:

* CPU usage is ``(cpu₂ - cpu₁) / (t₂ - t₁)``, over the *window* ``t₂ - t₁``; memory is the
  last working set;
* a container that started less than one resolution before its first reading (but at least
  ``FRESH_CONTAINER_SECONDS`` before, less would be too noisy) gets a first point of its own,
  zero CPU at its start time, so a new pod has metrics after one scrape, as upstream;
* a container that restarted starts again from its new start time.

Nothing is stored in the API: the API server asks this component for PodMetrics and
NodeMetrics (:meth:`pod_metrics`, :meth:`node_metrics`; objects written by
:mod:`minik8s.api.metrics`) when a request comes, reading the pods and nodes (their names
and labels, and the label selector's choice) through the API as metrics-server does from
its informers. A pod or node without metrics yet is left out of a list, and a 404
(``podmetrics.metrics.k8s.io "default/web" not found``) to a get.

How minik8s differs: metrics-server is an extension API server behind an APIService that
names its Service; here the API server asks the component in the same process, so
``v1beta1.metrics.k8s.io`` is a *Local* APIService. Upstream scrapes ``/metrics/resource``
(Prometheus text) nowadays; minik8s scrapes the Summary API, as metrics-server did before 0.6.

Interface:
    MetricsServer(ctx, resolution=15.0)    # a component of the cluster's loop; api.serve_metrics(it)
    scrape()                               # one pass over every node (the loop calls it every resolution)
    pod_metrics(namespace, name, label_selector, field_selector) -> [PodMetrics]
    node_metrics(name, label_selector, field_selector) -> [NodeMetrics]

Taught in chapter 17 (autoscaling: measuring usage).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import orjson

from minik8s.api import metrics, resources
from minik8s.api.errors import StatusError
from minik8s.clock import parse_rfc3339
from minik8s.controllers.controller import Context, Controller

log = logging.getLogger(__name__)

PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")

DEFAULT_RESOLUTION_SECONDS = 15.0   # metrics-server's --metric-resolution
FRESH_CONTAINER_SECONDS = 10.0      # a container read sooner than this after its start waits for a second point
SCRAPE_KEY = "scrape"


@dataclass(frozen=True)
class Point:
    """One reading of a container or a node: start and read times (clock seconds), cumulative CPU
    (core-nanoseconds) and memory working set (bytes)."""
    start: float
    time: float
    cpu_ns: int
    memory: int


@functools.lru_cache(maxsize=4096)
def _time(text: str) -> float:
    """A Summary's time: a node's containers mostly share their read time, so each is parsed once."""
    return parse_rfc3339(text)


def _point(entry: dict[str, Any], start: str) -> Point:
    cpu, memory = entry.get("cpu") or {}, entry.get("memory") or {}
    return Point(_time(start), _time(cpu["time"]), int(cpu["usageCoreNanoSeconds"]),
                 int(memory.get("workingSetBytes") or 0))


def usage(last: Point, prev: Point) -> tuple[int, int, float] | None:
    """(nano-cores, memory bytes, window seconds) between two points; None when they do not make a
    rate (a counter that went down, a restart, no time between them)."""
    window = last.time - prev.time
    if last.start < prev.start or last.cpu_ns < prev.cpu_ns or window <= 0:
        return None
    return int((last.cpu_ns - prev.cpu_ns) / window), last.memory, window


def previous(new: Point, last: Point | None, prev: Point | None, resolution: float) -> Point | None:
    """Which point to keep before ``new``: its start (a fresh container), the last one, or the one before."""
    age = new.time - new.start
    if FRESH_CONTAINER_SECONDS <= age < resolution:
        return Point(new.start, new.start, 0, new.memory)
    if last is None or not new.start < last.time:   # never seen, or restarted since
        return None
    if new.time > last.time:
        return last
    if prev is not None and prev.time < new.time:
        return prev
    return None


def _node_previous(new: Point, last: Point | None, prev: Point | None) -> Point | None:
    """As :func:`previous` for a node: no fresh start, no restart check (upstream's nodeStorage)."""
    if last is None:
        return None
    if new.time > last.time:
        return last
    return prev if prev is not None and prev.time < new.time else None


Batch = dict[Any, Point]   # (namespace, pod, container) or node name -> point


class MetricsServer(Controller):
    name = "metrics-server"

    def __init__(self, ctx: Context, resolution: float = DEFAULT_RESOLUTION_SECONDS):
        super().__init__(ctx)
        self.resolution = resolution
        # (last, prev) of containers and of nodes: replaced whole on every scrape, so a request served
        # from another thread sees one scrape's points or the next one's, never a mixture.
        self._containers: tuple[Batch, Batch] = ({}, {})
        self._nodes: tuple[Batch, Batch] = ({}, {})
        self._order: dict[tuple[str, str], list[str]] = {}   # a pod's containers in the kubelet's order
        self.queue.add(SCRAPE_KEY)

    def reconcile(self, key: Any) -> None:
        self.scrape()
        self.requeue_after(key, self.resolution)

    # --- scraping -------------------------------------------------------------------------

    def scrape(self) -> None:
        """Read every node's Summary and store the new points."""
        containers: Batch = {}
        nodes: Batch = {}
        order: dict[tuple[str, str], list[str]] = {}
        for node in self.client.list(NODES)["items"]:
            name = node["metadata"]["name"]
            try:
                summary = orjson.loads(self.client.request("GET", f"/api/v1/nodes/{name}/proxy/stats/summary"))
                self._collect(summary, nodes, containers, order)
            except (StatusError, NotImplementedError, OSError, KeyError, TypeError, ValueError) as exc:
                log.info("metrics-server: failed to scrape node %s: %s", name, exc)
        last, prev = self._containers
        self._containers = (containers, {key: p for key, new in containers.items()
                                         if (p := previous(new, last.get(key), prev.get(key), self.resolution))})
        last, prev = self._nodes
        self._nodes = (nodes, {key: p for key, new in nodes.items()
                               if (p := _node_previous(new, last.get(key), prev.get(key)))})
        self._order = order

    @staticmethod
    def _collect(summary: dict[str, Any], nodes: Batch, containers: Batch,
                 order: dict[tuple[str, str], list[str]]) -> None:
        node = summary["node"]
        nodes[node["nodeName"]] = _point(node, node["startTime"])
        for pod in summary.get("pods") or []:
            ref = pod["podRef"]
            names = order.setdefault((ref["namespace"], ref["name"]), [])
            for entry in pod.get("containers") or []:
                containers[(ref["namespace"], ref["name"], entry["name"])] = _point(entry, entry["startTime"])
                names.append(entry["name"])

    # --- serving --------------------------------------------------------------------------

    def pod_metrics(self, namespace: str | None, name: str | None, label_selector: str = "",
                    field_selector: str = "") -> list[dict[str, Any]]:
        if name is not None:
            pods = [self.client.get(PODS, name, namespace)]   # a missing pod: `pods "web" not found`
        else:
            pods = self.client.list(PODS, namespace, label_selector=label_selector,
                                    field_selector=field_selector)["items"]
        last, prev = self._containers
        now = self.clock.now()
        found = []
        for pod in pods:
            meta = pod["metadata"]
            key = (meta.get("namespace", ""), meta["name"])
            containers: list[tuple[str, int, int]] = []
            earliest: tuple[float, float] | None = None   # the oldest reading's (time, window) is the pod's
            for container in self._order.get(key) or []:
                point = (*key, container)
                if point not in prev:
                    break   # every container needs two points
                rate = usage(last[point], prev[point])
                if rate is None:
                    continue
                containers.append((container, rate[0], rate[1]))
                if earliest is None or last[point].time < earliest[0]:
                    earliest = (last[point].time, rate[2])
            else:
                if earliest is not None:
                    found.append(metrics.pod_metrics(meta, earliest[0], earliest[1], containers, now))
        return sorted(found, key=lambda m: (m["metadata"]["namespace"], m["metadata"]["name"]))

    def node_metrics(self, name: str | None, label_selector: str = "",
                     field_selector: str = "") -> list[dict[str, Any]]:
        if name is not None:
            nodes = [self.client.get(NODES, name)]   # a missing node: `nodes "node-9" not found`
        else:
            nodes = self.client.list(NODES, label_selector=label_selector, field_selector=field_selector)["items"]
        last, prev = self._nodes
        now = self.clock.now()
        found = []
        for node in nodes:
            node_name = node["metadata"]["name"]
            if node_name not in prev:
                continue
            rate = usage(last[node_name], prev[node_name])
            if rate is not None:
                found.append(metrics.node_metrics(node["metadata"], last[node_name].time, rate[2], rate[0], rate[1],
                                                  now))
        return sorted(found, key=lambda m: m["metadata"]["name"])

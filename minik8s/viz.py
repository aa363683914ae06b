"""Pictures of a cluster, as SVG: where pods run, who owns what, how a rollout went.

Kubernetes state is a pile of objects; three pictures make most of it visible:

* :func:`cluster_svg` - nodes as boxes holding their pods, each pod coloured by
  its state (the same STATUS kubectl prints): Running and Ready green, Running
  but not ready olive, Pending amber, failed or crashing red, Succeeded blue,
  Terminating grey. Pods not yet scheduled wait in their own dashed box.
* :func:`ownership_svg` - the ownerReferences graph as a left-to-right tree:
  Deployment → ReplicaSets → Pods, StatefulSet → Pods → PersistentVolumeClaims.
* :func:`rollout_timeline_svg` - pods per revision over time, as stacked areas;
  :class:`RolloutRecorder` samples those counts while the clock moves.
* :func:`service_svg` - a Service, its EndpointSlices and their endpoints' Pods, ready or
  not: what the Service's traffic can reach.
* :func:`job_timeline_svg` - a Job's pods as bars over time, coloured by outcome: retries and back-off.
* :func:`access_svg` - who may do what in a namespace: subjects (users, groups,
  ServiceAccounts) → RoleBindings and ClusterRoleBindings → Roles and ClusterRoles
  with their first rules.
* :func:`storage_svg` - PersistentVolumeClaims → PersistentVolumes → nodes, coloured by phase.
* :func:`autoscaling_svg` - replicas and CPU utilization over time as step lines, from the samples
  :class:`minik8s.lab.autoscaling.LoadDriver` records.
* :func:`ingress_svg` - an Ingress's hosts and paths → Services → the Pods behind them.
* :func:`netpol_svg` - a NetworkPolicy connectivity matrix: who may connect to whom on a port.
* :func:`control_plane_svg` - the cluster's processes: clients, API server, store, controller manager,
  scheduler (with their elected leaders) and the nodes' kubelets, with an arrow for every connection.

Each returns an :class:`SVG`: notebooks show it inline (``_repr_svg_``), the book
saves it (``.save(path)``, ``str(svg)``). The output is deterministic: sorted
objects, fixed geometry, no random ids, so nbval can compare it. All text is
XML-escaped. Only the standard library is used.

Every function takes a ``source``: a :class:`~minik8s.cluster.Cluster`, an API
client, a lab :class:`~minik8s.lab.session.Session` or
:class:`~minik8s.lab.session.ClusterView` (works on a real cluster too), or
``None`` for the notebook's current lab session.

Taught across the book: chapter 2 (architecture) first, then the workload chapters, and chapter 13
(Services) for :func:`service_svg`, chapter 15 (storage) for :func:`storage_svg`, chapter 16 (access
control) for :func:`access_svg`, chapter 14 (Ingress) for :func:`ingress_svg` and
:func:`netpol_svg`, chapter 17 (autoscaling) for :func:`autoscaling_svg`, chapter 18 (building a
cluster) for :func:`control_plane_svg`.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable
from xml.sax.saxutils import escape, quoteattr

Obj = dict[str, Any]
Lister = Callable[[str, "str | None"], list[Obj]]

# Geometry (pixels). Text is monospace so that widths can be computed without a font.
FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
CHAR_WIDTH = 7.2  # width of one 12px monospace character
PAD = 10
POD_HEIGHT = 34
GAP = 12
NODES_PER_ROW = 4

# Pod states, in legend order: (key, label, fill colour).
STATES = [
    ("ready", "Running, Ready", "#4caf50"),
    ("running", "Running, not ready", "#c0ca33"),
    ("pending", "Pending", "#ffb300"),
    ("failed", "Failed / crashing", "#e53935"),
    ("succeeded", "Succeeded", "#42a5f5"),
    ("terminating", "Terminating", "#9e9e9e"),
]
_FILL = {key: colour for key, _, colour in STATES}

# Container reasons that mean something is broken (kubectl's STATUS column).
_BAD_REASONS = {"CrashLoopBackOff", "Error", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "OOMKilled",
                "CreateContainerError", "CreateContainerConfigError", "RunContainerError", "Evicted", "Unknown",
                "ContainerCannotRun", "DeadlineExceeded"}


class SVG:
    """An SVG picture: inline in Jupyter, ``str()`` for its text, ``save(path)`` for a file."""

    def __init__(self, text: str):
        self.text = text

    def _repr_svg_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:  # no memory address: notebooks' text/plain output must not change between runs
        size = re.search(r'width="([\d.]+)" height="([\d.]+)"', self.text)
        return f"<SVG {size.group(1)}x{size.group(2)}>" if size else "<SVG>"

    def save(self, path: str | Path) -> Path:
        target = Path(path)
        target.write_text(self.text, encoding="utf-8")
        return target


# --- reading objects from any source -----------------------------------------------------

def _lister(source: Any) -> Lister:
    """A function (plural kind, namespace or None for all) -> items, for whatever ``source`` is."""
    from minik8s.lab import session as lab_session

    if source is None:
        source = lab_session.require()
    if isinstance(source, lab_session.Session):
        source = source.cluster if source.cluster is not None else source.view
    if isinstance(source, lab_session.ClusterView):
        view = source
        return lambda kind, namespace: view.list(kind, namespace=namespace)
    client = getattr(source, "client", source)  # a Cluster has .client; anything else is a client

    def from_client(kind: str, namespace: str | None) -> list[Obj]:
        from minik8s.api import resources

        resource = resources.lookup(kind)
        if resource is None:
            return []
        items = client.list(resource, namespace if resource.namespaced else None)["items"]
        return list(items)

    return from_client


def _safe_list(lister: Lister, kind: str, namespace: str | None) -> list[Obj]:
    """Objects of a kind, or none when the cluster does not serve that kind (an older or smaller cluster)."""
    from minik8s.api.errors import StatusError
    from minik8s.lab.session import LabError

    try:
        return lister(kind, namespace)
    except (StatusError, LabError):
        return []


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _key(obj: Obj) -> tuple[str, str]:
    return (_meta(obj).get("namespace", ""), _meta(obj).get("name", ""))


# --- drawing primitives ------------------------------------------------------------------

def _text_width(text: str, size: float = 12) -> float:
    return len(text) * CHAR_WIDTH * size / 12


def _text(x: float, y: float, text: str, size: int = 12, weight: str = "normal", anchor: str = "start",
          fill: str = "#212121") -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{size}" font-weight="{weight}" text-anchor="{anchor}" '
            f'fill="{fill}">{escape(text)}</text>')


def _rect(x: float, y: float, w: float, h: float, fill: str, stroke: str = "#424242", dashed: bool = False,
          rx: int = 6) -> str:
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return (f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx}" fill="{fill}" '
            f'stroke="{stroke}"{dash}/>')


def _document(width: float, height: float, body: list[str], title: str | None) -> SVG:
    label = f" aria-label={quoteattr(title)}" if title else ""
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
            f'viewBox="0 0 {width:g} {height:g}" font-family="{FONT}" role="img"{label}>')
    parts = [head, f'<rect width="{width:g}" height="{height:g}" fill="#ffffff"/>']
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    return SVG("\n".join([*parts, *body, "</svg>"]) + "\n")


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    """A grey S-shaped edge from (x1, y1) to (x2, y2)."""
    mid = (x1 + x2) / 2
    return (f'<path d="M{x1:g},{y1:g} C{mid:g},{y1:g} {mid:g},{y2:g} {x2:g},{y2:g}" fill="none" '
            f'stroke="#757575" stroke-width="1.5"/>')


def _legend(x: float, y: float, entries: Iterable[tuple[str, str]]) -> tuple[list[str], float]:
    """Colour swatches with labels in one row; returns the parts and the width used."""
    parts, cx = [], x
    for label, colour in entries:
        parts.append(_rect(cx, y, 14, 14, colour, rx=3))
        parts.append(_text(cx + 20, y + 11, label, size=11))
        cx += 20 + _text_width(label, 11) + 18
    return parts, cx - x


# --- cluster_svg -------------------------------------------------------------------------

def pod_state(pod: Obj) -> tuple[str, str]:
    """(state key, STATUS text as kubectl prints it) for a Pod."""
    from minik8s.apiserver.tables import pod_cells

    cells = pod_cells(pod, datetime.fromtimestamp(0, timezone.utc))
    ready_text, reason = str(cells[1]), str(cells[2])
    status = pod.get("status") or {}
    phase = status.get("phase", "Pending")
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    if reason == "Terminating":
        state = "terminating"
    elif phase == "Failed" or reason in _BAD_REASONS or reason.startswith(("Init:Error", "Init:Crash")):
        state = "failed"
    elif phase == "Succeeded":
        state = "succeeded"
    elif phase == "Running":
        state = "ready" if ready else "running"
    else:
        state = "pending"
    return state, f"{reason} {ready_text}"


def _pod_label(pod: Obj) -> str:
    namespace, name = _key(pod)
    return name if namespace in ("default", "") else f"{namespace}/{name}"


@dataclass
class _Box:
    title: str
    subtitle: str
    pods: list[Obj]
    dashed: bool = False

    def width(self) -> float:
        inner = [_text_width(self.title, 13) + _text_width(self.subtitle, 11) + 16]
        inner += [_text_width(_pod_label(p)) + 2 * PAD for p in self.pods]
        inner += [_text_width(pod_state(p)[1], 10) + 2 * PAD for p in self.pods]
        return max(150.0, max(inner) + 2 * PAD)

    def height(self) -> float:
        return 34 + max(1, len(self.pods)) * (POD_HEIGHT + 6) + PAD


def _node_status(node: Obj) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            ready = {"True": "Ready", "False": "NotReady"}.get(cond.get("status", ""), "Unknown")
            return ready + (",SchedulingDisabled" if (node.get("spec") or {}).get("unschedulable") else "")
    return "Unknown"


def _draw_box(box: _Box, x: float, y: float, width: float, height: float) -> list[str]:
    parts = [_rect(x, y, width, height, "#f5f5f5", dashed=box.dashed, rx=8),
             _text(x + PAD, y + 20, box.title, size=13, weight="bold"),
             _text(x + width - PAD, y + 20, box.subtitle, size=11, anchor="end", fill="#616161")]
    py = y + 32
    if not box.pods:
        parts.append(_text(x + PAD, py + 20, "no pods", size=11, fill="#9e9e9e"))
    for pod in box.pods:
        state, status = pod_state(pod)
        parts.append(_rect(x + PAD, py, width - 2 * PAD, POD_HEIGHT, _FILL[state], stroke="#37474f", rx=5))
        parts.append(_text(x + 2 * PAD, py + 14, _pod_label(pod), weight="bold"))
        parts.append(_text(x + 2 * PAD, py + 28, status, size=10))
        py += POD_HEIGHT + 6
    return parts


def cluster_svg(source: Any = None, namespace: str | None = None, title: str | None = None) -> SVG:
    """Nodes as boxes holding their pods (all namespaces, or one), pods coloured by state, with a legend."""
    lister = _lister(source)
    nodes = sorted(_safe_list(lister, "nodes", None), key=_key)
    pods = sorted(_safe_list(lister, "pods", namespace), key=_key)
    by_node: dict[str, list[Obj]] = {_meta(n).get("name", ""): [] for n in nodes}
    unscheduled: list[Obj] = []
    for pod in pods:
        node_name = (pod.get("spec") or {}).get("nodeName")
        if node_name:
            by_node.setdefault(node_name, []).append(pod)
        else:
            unscheduled.append(pod)
    status = {_meta(n).get("name", ""): _node_status(n) for n in nodes}
    boxes = [_Box(name, status.get(name, "not a node"), by_node[name]) for name in sorted(by_node)]
    if unscheduled or not boxes:
        boxes.append(_Box("unscheduled", "waiting for a node", unscheduled, dashed=True))

    body: list[str] = []
    y = PAD + (24 if title else 0)
    if title:
        body.append(_text(PAD, PAD + 14, title, size=14, weight="bold"))
    width = 0.0
    for start in range(0, len(boxes), NODES_PER_ROW):
        row = boxes[start:start + NODES_PER_ROW]
        row_height = max(b.height() for b in row)
        x = PAD
        for box in row:
            body += _draw_box(box, x, y, box.width(), row_height)
            x += box.width() + GAP
        width = max(width, x - GAP + PAD)
        y += row_height + GAP
    legend, legend_width = _legend(PAD, y + 4, [(label, colour) for _, label, colour in STATES])
    body += legend
    return _document(max(width, legend_width + 2 * PAD), y + 28, body, title or "Nodes and their pods")


# --- ownership_svg -----------------------------------------------------------------------

# The kinds drawn, in the order siblings are listed, with their box colours.
OWNED_KINDS = [
    ("deployments", "Deployment", "#bbdefb"),
    ("statefulsets", "StatefulSet", "#d1c4e9"),
    ("daemonsets", "DaemonSet", "#b2dfdb"),
    ("cronjobs", "CronJob", "#ffe0b2"),
    ("jobs", "Job", "#ffecb3"),
    ("replicasets", "ReplicaSet", "#c5cae9"),
    ("pods", "Pod", ""),
    ("persistentvolumeclaims", "PersistentVolumeClaim", "#d7ccc8"),
]
_KIND_ORDER = {kind: i for i, (_, kind, _) in enumerate(OWNED_KINDS)}
_KIND_FILL = {kind: colour for _, kind, colour in OWNED_KINDS}


@dataclass
class _Vertex:
    kind: str
    obj: Obj
    children: list[str]
    row: float = 0.0
    depth: int = 0

    @property
    def label(self) -> str:
        return f"{self.kind}/{_meta(self.obj).get('name', '')}"

    def sort_key(self) -> tuple[int, str]:
        return (_KIND_ORDER.get(self.kind, 99), _meta(self.obj).get("name", ""))


def _ownership_graph(lister: Lister, namespace: str) -> tuple[dict[str, _Vertex], list[tuple[str, str]]]:
    """Vertices by uid, and (parent uid, child uid) edges: ownerReferences, then pod → claim."""
    vertices: dict[str, _Vertex] = {}
    for plural, kind, _ in OWNED_KINDS:
        for obj in _safe_list(lister, plural, namespace):
            vertices[_meta(obj).get("uid") or f"{kind}/{_meta(obj).get('name')}"] = _Vertex(kind, obj, [])
    edges: list[tuple[str, str]] = []
    for uid, vertex in vertices.items():
        for ref in _meta(vertex.obj).get("ownerReferences") or []:
            if ref.get("uid") in vertices:
                edges.append((ref["uid"], uid))
    claims = {_meta(v.obj).get("name"): uid for uid, v in vertices.items() if v.kind == "PersistentVolumeClaim"}
    for uid, vertex in vertices.items():
        if vertex.kind != "Pod":
            continue
        for volume in (vertex.obj.get("spec") or {}).get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if claim in claims:
                edges.append((uid, claims[claim]))
    return vertices, sorted(set(edges))


def _layout(vertices: dict[str, _Vertex], edges: list[tuple[str, str]]) -> list[str]:
    """Tidy tree: leaves take consecutive rows, a parent sits at the middle of its children.
    An object with two parents (a claim shared by pods) is placed under the first one only."""
    has_parent = {child for _, child in edges}
    for parent, child in edges:
        vertices[parent].children.append(child)
    for vertex in vertices.values():
        vertex.children.sort(key=lambda uid: vertices[uid].sort_key())
    roots = sorted((uid for uid in vertices if uid not in has_parent), key=lambda uid: vertices[uid].sort_key())
    placed: list[str] = []
    next_row = [0.0]

    def place(uid: str, depth: int) -> None:
        vertex = vertices[uid]
        vertex.depth = depth
        placed.append(uid)
        kids = [c for c in vertex.children if c not in placed]
        for child in kids:
            place(child, depth + 1)
        if kids:
            vertex.row = (vertices[kids[0]].row + vertices[kids[-1]].row) / 2
        else:
            vertex.row = next_row[0]
            next_row[0] += 1

    for root in roots:
        place(root, 0)
    return placed


def ownership_svg(source: Any = None, namespace: str = "default", title: str | None = None) -> SVG:
    """Who owns what in a namespace, left to right:
    Deployment → ReplicaSets → Pods, StatefulSet → Pods → PersistentVolumeClaims."""
    vertices, edges = _ownership_graph(_lister(source), namespace)
    placed = _layout(vertices, edges)
    depth_count = max((v.depth for v in vertices.values()), default=0) + 1
    column_width = [0.0] * depth_count
    for vertex in vertices.values():
        column_width[vertex.depth] = max(column_width[vertex.depth], _text_width(vertex.label) + 2 * PAD, 120.0)
    column_x = [PAD + sum(column_width[:d]) + 48 * d for d in range(depth_count)]
    top = PAD + (24 if title else 0)
    row_height = 40.0

    def box_y(v: _Vertex) -> float:
        return top + v.row * row_height

    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    for parent, child in edges:  # edges first, so boxes are drawn over them
        p, c = vertices[parent], vertices[child]
        x1, y1 = column_x[p.depth] + column_width[p.depth], box_y(p) + 14
        x2, y2 = column_x[c.depth], box_y(c) + 14
        mid = (x1 + x2) / 2
        body.append(f'<path d="M{x1:g},{y1:g} C{mid:g},{y1:g} {mid:g},{y2:g} {x2:g},{y2:g}" fill="none" '
                    f'stroke="#757575" stroke-width="1.5"/>')
    for uid in placed:
        vertex = vertices[uid]
        fill = _FILL[pod_state(vertex.obj)[0]] if vertex.kind == "Pod" else _KIND_FILL.get(vertex.kind, "#eeeeee")
        x, y = column_x[vertex.depth], box_y(vertex)
        body.append(_rect(x, y, column_width[vertex.depth], 28, fill, rx=5))
        body.append(_text(x + PAD, y + 18, vertex.label))
    rows = max((v.row for v in vertices.values()), default=-1) + 1
    if not vertices:
        body.append(_text(PAD, top + 18, f"no workloads in namespace {namespace}", fill="#757575"))
        rows = 1
    height = top + rows * row_height + PAD
    width = column_x[-1] + column_width[-1] + PAD if vertices else 320
    return _document(width, height, body, title or f"Ownership in namespace {namespace}")


# --- rollouts ----------------------------------------------------------------------------

@dataclass
class Sample:
    """Pods per revision at one moment: ``counts`` maps a revision label to a pod count."""

    time: float
    counts: dict[str, int]


# One colour per revision, oldest first; cycles after eight.
REVISION_COLOURS = ["#90a4ae", "#42a5f5", "#66bb6a", "#ffa726", "#ab47bc", "#ef5350", "#26c6da", "#d4e157"]


def _as_samples(samples: Any) -> list[Sample]:
    raw = getattr(samples, "samples", samples)
    out = []
    for item in raw:
        out.append(item if isinstance(item, Sample) else Sample(float(item[0]), dict(item[1])))
    return out


def _ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top``."""
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10 ** len(str(int(raw))) / 10 if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks, value = [], 0.0
    while value < top + step / 2:
        ticks.append(value)
        value += step
    return ticks


def rollout_timeline_svg(samples: Any, title: str | None = None, width: int = 640, height: int = 260) -> SVG:
    """Stacked areas of pods per revision over time (seconds since the first sample)."""
    data = _as_samples(samples)
    revisions: list[str] = []
    for sample in data:
        for revision in sample.counts:
            if revision not in revisions:
                revisions.append(revision)
    left, right, top = 48.0, 16.0, 16.0 + (24 if title else 0)
    bottom = 44.0
    plot_w, plot_h = width - left - right, height - top - bottom
    t0 = data[0].time if data else 0.0
    t_end = max((s.time - t0 for s in data), default=0.0) or 1.0
    peak = max((sum(s.counts.values()) for s in data), default=0) or 1
    y_ticks = [t for t in _ticks(peak, min(5, peak)) if t == int(t)]
    y_top = max(y_ticks[-1], peak)

    def px(t: float) -> float:
        return round(left + (t - t0) / t_end * plot_w, 2)

    def py(v: float) -> float:
        return round(top + plot_h - v / y_top * plot_h, 2)

    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    for tick in y_ticks:
        body.append(f'<line x1="{left:g}" y1="{py(tick):g}" x2="{left + plot_w:g}" y2="{py(tick):g}" '
                    f'stroke="#e0e0e0"/>')
        body.append(_text(left - 6, py(tick) + 4, f"{int(tick)}", size=10, anchor="end"))
    for tick in _ticks(t_end):
        body.append(_text(px(t0 + tick), top + plot_h + 14, f"{tick:g}s", size=10, anchor="middle"))
    below = [0] * len(data)
    for index, revision in enumerate(revisions):
        above = [b + s.counts.get(revision, 0) for b, s in zip(below, data)]
        upper = [f"{px(s.time):g},{py(v):g}" for s, v in zip(data, above)]
        lower = [f"{px(s.time):g},{py(v):g}" for s, v in reversed(list(zip(data, below)))]
        colour = REVISION_COLOURS[index % len(REVISION_COLOURS)]
        if len(data) > 1:
            body.append(f'<polygon points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.85" '
                        f'stroke="{colour}"><title>{escape(revision)}</title></polygon>')
        below = above
    body.append(f'<line x1="{left:g}" y1="{top + plot_h:g}" x2="{left + plot_w:g}" y2="{top + plot_h:g}" '
                f'stroke="#424242"/>')
    body.append(f'<line x1="{left:g}" y1="{top:g}" x2="{left:g}" y2="{top + plot_h:g}" stroke="#424242"/>')
    body.append(_text(8, top + plot_h / 2, "pods", size=10, fill="#616161"))
    legend, _ = _legend(left, height - 20, [(r, REVISION_COLOURS[i % len(REVISION_COLOURS)])
                                            for i, r in enumerate(revisions)])
    body += legend
    if not data:
        body.append(_text(left + 8, top + 20, "no samples yet", fill="#757575"))
    return _document(width, height, body, title or "Pods per revision over time")


class RolloutRecorder:
    """Samples a Deployment's pods per revision (``pod-template-hash``) as time passes.

    ``advance(seconds, step=1)`` moves the clock in steps (a real cluster: waits) and
    samples after each; ``wait(timeout)`` does so until the rollout is complete.
    Terminating pods are not counted: the picture shows what the controller is
    converging to. Revision labels are ``rev N (hash)`` from the ReplicaSets'
    ``deployment.kubernetes.io/revision`` annotation, when it is there.
    """

    def __init__(self, source: Any, deployment: str, namespace: str = "default", progress: bool = True):
        from minik8s.lab import session as lab_session

        if source is None:
            source = lab_session.require()
        self.source = source
        # The in-process cluster, if there is one: its clock times the samples and can be advanced.
        self.cluster: Any = None
        if isinstance(source, lab_session.Session):
            self.cluster = source.cluster
        elif hasattr(source, "clock") and hasattr(source, "advance"):
            self.cluster = source
        self.deployment = deployment
        self.namespace = namespace
        self.progress = progress
        self.samples: list[Sample] = []
        self._list = _lister(source)

    def _now(self) -> float:
        clock = getattr(self.cluster, "clock", None)
        return clock.now() if clock is not None else time.time()

    def _deployment(self) -> Obj | None:
        for obj in _safe_list(self._list, "deployments", self.namespace):
            if _meta(obj).get("name") == self.deployment:
                return obj
        return None

    def _revision_labels(self, deployment: Obj) -> dict[str, str]:
        labels = {}
        uid = _meta(deployment).get("uid")
        for rs in _safe_list(self._list, "replicasets", self.namespace):
            if not any(ref.get("uid") == uid for ref in _meta(rs).get("ownerReferences") or []):
                continue
            pod_hash = (_meta(rs).get("labels") or {}).get("pod-template-hash", "")
            revision = (_meta(rs).get("annotations") or {}).get("deployment.kubernetes.io/revision")
            labels[pod_hash] = f"rev {revision} ({pod_hash})" if revision else pod_hash
        return labels

    def sample(self) -> Sample:
        """Count the Deployment's pods per revision now, and remember it."""
        deployment = self._deployment()
        counts: dict[str, int] = {}
        if deployment is not None:
            match = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            labels = self._revision_labels(deployment)
            for pod in sorted(_safe_list(self._list, "pods", self.namespace), key=_key):
                pod_labels = _meta(pod).get("labels") or {}
                if _meta(pod).get("deletionTimestamp") or any(pod_labels.get(k) != v for k, v in match.items()):
                    continue
                pod_hash = pod_labels.get("pod-template-hash", "")
                label = labels.get(pod_hash, pod_hash or "no revision")
                counts[label] = counts.get(label, 0) + 1
        taken = Sample(self._now(), dict(sorted(counts.items(), key=lambda kv: _revision_order(kv[0]))))
        self.samples.append(taken)
        return taken

    def _advance(self, seconds: float) -> None:
        if self.cluster is not None and self.cluster.virtual:
            self.cluster.advance(seconds)
        elif self.cluster is None and hasattr(self.source, "advance"):
            self.source.advance(seconds)  # a lab session on a real cluster: it waits
        else:
            time.sleep(seconds)  # a real clock moves by itself: let it

    def _show(self, sample: Sample, final: bool = False) -> None:
        if not self.progress:
            return
        t = sample.time - self.samples[0].time
        counts = ", ".join(f"{k}: {v}" for k, v in sample.counts.items()) or "no pods"
        sys.stderr.write(f"\rrollout {self.deployment}: t={t:g}s {counts}" + ("\n" if final else ""))
        sys.stderr.flush()

    def advance(self, seconds: float, step: float = 1.0) -> list[Sample]:
        """Move time forward in ``step``s, sampling after each; returns the new samples."""
        if not self.samples:
            self.sample()
        new: list[Sample] = []
        steps = max(1, int(round(seconds / step)))
        for _ in range(steps):
            self._advance(step)
            new.append(self.sample())
            self._show(new[-1])
        self._show(new[-1], final=True)
        return new

    def complete(self) -> bool:
        """Whether the Deployment's rollout is done (kubectl rollout status's condition)."""
        deployment = self._deployment()
        if deployment is None:
            return False
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        want = spec.get("replicas", 1)
        return (status.get("observedGeneration", 0) >= _meta(deployment).get("generation", 0)
                and status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
                and status.get("availableReplicas", 0) == want)

    def wait(self, timeout: float = 600.0, step: float = 1.0) -> bool:
        """Advance until the rollout completes (True) or ``timeout`` seconds pass (False)."""
        if not self.samples:
            self.sample()
        waited = 0.0
        while waited < timeout and not self.complete():
            self._advance(step)
            waited += step
            self._show(self.sample())
        self._show(self.samples[-1], final=True)
        return self.complete()

    def svg(self, title: str | None = None) -> SVG:
        return rollout_timeline_svg(self, title=title or f"Rollout of deployment {self.deployment}")

    def _repr_svg_(self) -> str:
        return self.svg().text


def _revision_order(label: str) -> tuple[int, str]:
    """``rev 2 (...)`` sorts by number; other labels after, by name."""
    if label.startswith("rev "):
        number = label[4:].split(" ", 1)[0]
        if number.isdigit():
            return (int(number), label)
    return (1 << 30, label)


# --- service_svg -------------------------------------------------------------------------

SERVICE_FILL = "#ffe0b2"
SLICE_FILL = "#e1bee7"
# An endpoint's colour when its Pod is not in the list (deleted already, or not a Pod at all).
ENDPOINT_STATES = [("ready", "ready endpoint", "#4caf50"), ("not-ready", "not ready", "#c0ca33"),
                   ("terminating", "terminating", "#9e9e9e")]
_ENDPOINT_FILL = {key: colour for key, _, colour in ENDPOINT_STATES}


def endpoint_state(endpoint: Obj) -> str:
    """``ready``, ``not-ready`` or ``terminating``, from an EndpointSlice endpoint's conditions
    (an unset ``ready`` counts as ready, as the API documents it)."""
    conditions = endpoint.get("conditions") or {}
    if conditions.get("terminating"):
        return "terminating"
    return "not-ready" if conditions.get("ready") is False else "ready"


def _service_lines(service: Obj) -> list[str]:
    """The Service's box: its type and address, its ports, its selector."""
    spec = service.get("spec") or {}
    kind = spec.get("type") or "ClusterIP"
    if kind == "ExternalName":
        lines = [f"ExternalName {spec.get('externalName', '')}"]
    else:
        lines = [f"{kind} {spec.get('clusterIP') or '<none>'}"]
    for port in spec.get("ports") or []:
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        target = port.get("targetPort", port.get("port"))
        lines.append(f"{port.get('port')}{node_port} → {target}/{port.get('protocol', 'TCP')}")
    selector = spec.get("selector") or {}
    lines.append("selector " + (",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"))
    return lines


def _slice_ports(endpoint_slice: Obj) -> str:
    ports = [f"{p.get('name') or '<unset>'} {p.get('port')}/{p.get('protocol', 'TCP')}"
             for p in endpoint_slice.get("ports") or []]
    return ", ".join(ports) or "no ports"


def service_svg(source: Any = None, name: str = "", namespace: str = "default", title: str | None = None) -> SVG:
    """A Service, its EndpointSlices and each endpoint's Pod, left to right. An endpoint is
    coloured by its Pod's state as :func:`cluster_svg` colours pods (by its conditions when the
    Pod is gone), and says whether it is ready: only ready endpoints get the Service's traffic."""
    lister = _lister(source)
    service = next((s for s in _safe_list(lister, "services", namespace) if _meta(s).get("name") == name), None)
    slices = sorted((s for s in _safe_list(lister, "endpointslices", namespace)
                     if (_meta(s).get("labels") or {}).get("kubernetes.io/service-name") == name), key=_key)
    pods = {_meta(p).get("name"): p for p in _safe_list(lister, "pods", namespace)}
    top = PAD + (24 if title else 0)
    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    if service is None:
        body.append(_text(PAD, top + 18, f"no Service {name} in namespace {namespace}", fill="#757575"))
        return _document(360, top + 40, body, title or f"Service {name}")

    rows: list[tuple[int, Obj]] = []  # (slice index, endpoint)
    for index, endpoint_slice in enumerate(slices):
        endpoints = sorted(endpoint_slice.get("endpoints") or [],
                           key=lambda e: ((e.get("targetRef") or {}).get("name", ""), e.get("addresses")))
        rows += [(index, e) for e in endpoints]
    row_height = 44.0
    service_lines = _service_lines(service)
    service_w = max(_text_width(f"Service/{name}") + 2 * PAD,
                    max(_text_width(line, 11) for line in service_lines) + 2 * PAD, 160.0)
    slice_w = max([_text_width(f"EndpointSlice/{_meta(s).get('name', '')}") + 2 * PAD for s in slices]
                  + [_text_width(_slice_ports(s), 11) + 2 * PAD for s in slices] + [170.0])

    def endpoint_label(endpoint: Obj) -> tuple[str, str]:
        pod_name = (endpoint.get("targetRef") or {}).get("name") or "(no Pod)"
        state = endpoint_state(endpoint).replace("-", " ")
        where = endpoint.get("nodeName")
        return pod_name, f"{', '.join(endpoint.get('addresses') or [])} {state}" + (f" on {where}" if where else "")

    endpoint_w = max([max(_text_width(a) + 2 * PAD, _text_width(b, 10) + 2 * PAD)
                      for a, b in (endpoint_label(e) for _, e in rows)] + [200.0])
    x_service, x_slice = PAD, PAD + service_w + 48
    x_endpoint = x_slice + slice_w + 48
    service_h = 30 + 15 * len(service_lines)
    height_rows = max(len(rows), len(slices), 1)
    content_h = max(height_rows * row_height, service_h)

    def slice_y(index: int) -> float:
        members = [i for i, (s, _) in enumerate(rows) if s == index]
        middle = (members[0] + members[-1]) / 2 if members else index
        return top + middle * row_height

    parts: list[str] = []
    service_mid = top + service_h / 2
    for index in range(len(slices)):
        y = slice_y(index) + 17
        parts.append(f'<path d="M{x_service + service_w:g},{service_mid:g} L{x_slice:g},{y:g}" fill="none" '
                     f'stroke="#757575" stroke-width="1.5"/>')
    for row, (index, _) in enumerate(rows):
        y1, y2 = slice_y(index) + 17, top + row * row_height + 17
        parts.append(f'<path d="M{x_slice + slice_w:g},{y1:g} L{x_endpoint:g},{y2:g}" fill="none" '
                     f'stroke="#757575" stroke-width="1.5"/>')
    parts.append(_rect(x_service, top, service_w, service_h, SERVICE_FILL, rx=5))
    parts.append(_text(x_service + PAD, top + 18, f"Service/{name}", weight="bold"))
    for i, line in enumerate(service_lines):
        parts.append(_text(x_service + PAD, top + 36 + 15 * i, line, size=11))
    for index, endpoint_slice in enumerate(slices):
        y = slice_y(index)
        parts.append(_rect(x_slice, y, slice_w, 36, SLICE_FILL, rx=5))
        parts.append(_text(x_slice + PAD, y + 15, f"EndpointSlice/{_meta(endpoint_slice).get('name', '')}"))
        parts.append(_text(x_slice + PAD, y + 30, _slice_ports(endpoint_slice), size=11))
    for row, (_, endpoint) in enumerate(rows):
        y = top + row * row_height
        pod_name, detail = endpoint_label(endpoint)
        pod = pods.get(pod_name)
        fill = _FILL[pod_state(pod)[0]] if pod is not None else _ENDPOINT_FILL[endpoint_state(endpoint)]
        dashed = endpoint_state(endpoint) != "ready"
        parts.append(_rect(x_endpoint, y, endpoint_w, 36, fill, stroke="#37474f", dashed=dashed, rx=5))
        parts.append(_text(x_endpoint + PAD, y + 15, pod_name, weight="bold"))
        parts.append(_text(x_endpoint + PAD, y + 30, detail, size=10))
    if not slices:
        parts.append(_text(x_slice, top + 18, "no EndpointSlices: no Pod matches the selector"
                           if (service.get("spec") or {}).get("selector") else "no EndpointSlices", fill="#757575"))
    elif not rows:
        parts.append(_text(x_endpoint, top + 18, "no endpoints: the selector matches no Pod", fill="#757575"))
    body += parts
    legend_y = top + content_h + 8
    legend, legend_width = _legend(PAD, legend_y, [(label, colour) for _, label, colour in ENDPOINT_STATES])
    body += legend
    width = max(x_endpoint + endpoint_w + PAD if slices else x_slice + 340, legend_width + 2 * PAD)
    return _document(width, legend_y + 24, body, title or f"Service {name} and its endpoints")


# --- who may do what (chapter 16) --------------------------------------------------------

# Box colours of the access picture: subjects, bindings, roles.
ACCESS_FILL = {"User": "#bbdefb", "Group": "#c5cae9", "ServiceAccount": "#b2dfdb",
               "RoleBinding": "#fff9c4", "ClusterRoleBinding": "#ffe0b2",
               "Role": "#e1bee7", "ClusterRole": "#f8bbd0"}
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"   # rbac-defaults: the roles and bindings the API server made


def _subject_label(subject: Obj, namespace: str) -> str:
    kind, name = subject.get("kind", "?"), subject.get("name", "?")
    if kind == "ServiceAccount":
        return f"ServiceAccount {subject.get('namespace') or namespace}/{name}"
    return f"{kind} {name}"


def rule_summary(rule: Obj) -> str:
    """One RBAC rule in a line: ``get,list,watch pods`` or ``get /healthz``."""
    verbs = ",".join(rule.get("verbs") or [])
    if rule.get("nonResourceURLs"):
        return f"{verbs} {','.join(rule['nonResourceURLs'])}"
    groups = [g for g in rule.get("apiGroups") or [] if g]
    things = ",".join(rule.get("resources") or [])
    if groups:
        things += "." + ",".join(groups)
    if rule.get("resourceNames"):
        things += f" [{','.join(rule['resourceNames'])}]"
    return f"{verbs} {things}"


def _role_lines(role: Obj | None, limit: int = 3) -> list[str]:
    if role is None:
        return ["(missing: grants nothing)"]
    rules = role.get("rules") or []
    lines = [rule_summary(r) for r in rules[:limit]]
    if len(rules) > limit:
        lines.append(f"... {len(rules) - limit} more rules")
    return lines or ["(no rules)"]


def access_svg(source: Any = None, namespace: str = "default", title: str | None = None,
               include_bootstrap: bool = False) -> SVG:
    """Who may do what in a namespace, left to right: subjects → bindings → roles (with their first rules).

    The bindings are the namespace's RoleBindings and the ClusterRoleBindings (which reach every
    namespace); the cluster's own bootstrap bindings (``system:*``, labelled
    ``kubernetes.io/bootstrapping``) are left out unless ``include_bootstrap``. A binding whose
    role does not exist is drawn to a dashed box: it is stored, and grants nothing."""
    lister = _lister(source)
    bindings = [b for b in sorted(_safe_list(lister, "clusterrolebindings", None), key=_key)
                + sorted(_safe_list(lister, "rolebindings", namespace), key=_key)
                if include_bootstrap or BOOTSTRAP_LABEL not in (_meta(b).get("labels") or {})]
    roles = {("ClusterRole", _meta(r).get("name")): r for r in _safe_list(lister, "clusterroles", None)}
    roles.update({("Role", _meta(r).get("name")): r for r in _safe_list(lister, "roles", namespace)})
    subjects: list[tuple[str, str]] = []          # (kind, label), in first-seen order
    targets: list[tuple[str, str]] = []           # (kind, name) of the referenced roles
    edges: list[tuple[int, int, int]] = []        # (subject index, binding index, role index)
    for b_index, binding in enumerate(bindings):
        ref = binding.get("roleRef") or {}
        target = (ref.get("kind", "?"), ref.get("name", "?"))
        if target not in targets:
            targets.append(target)
        for subject in binding.get("subjects") or []:
            entry = (subject.get("kind", "?"), _subject_label(subject, namespace))
            if entry not in subjects:
                subjects.append(entry)
            edges.append((subjects.index(entry), b_index, targets.index(target)))
    role_lines = [[f"{kind}/{name}", *_role_lines(roles.get((kind, name)))] for kind, name in targets]
    binding_labels = [f"{b.get('kind', 'RoleBinding')}/{_meta(b).get('name', '')}" for b in bindings]

    line_height, top = 15.0, PAD + (24 if title else 0) + 18
    heights = [max(28.0, 10 + line_height * len(lines)) for lines in role_lines]
    role_y = [top + sum(heights[:i]) + GAP * i for i in range(len(heights))]
    row_y = lambda i: top + i * 40.0  # noqa: E731 - subjects and bindings: one line each
    widths = [max([_text_width(label) for _, label in subjects] + [120.0]) + 2 * PAD,
              max([_text_width(label) for label in binding_labels] + [120.0]) + 2 * PAD,
              max([_text_width(line) for lines in role_lines for line in lines] + [120.0]) + 2 * PAD]
    xs = [PAD, PAD + widths[0] + 60, PAD + widths[0] + widths[1] + 120]
    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    for x, head in zip(xs, ("subjects", "bindings", "roles")):
        body.append(_text(x, top - 6, head, size=11, fill="#757575"))

    drawn: set[tuple[str, int, int]] = set()
    for s, b, r in edges:
        if ("s", s, b) not in drawn:
            body.append(_curve(xs[0] + widths[0], row_y(s) + 14, xs[1], row_y(b) + 14))
            drawn.add(("s", s, b))
        if ("r", b, r) not in drawn:
            body.append(_curve(xs[1] + widths[1], row_y(b) + 14, xs[2], role_y[r] + 14))
            drawn.add(("r", b, r))
    for i, (kind, label) in enumerate(subjects):
        body += [_rect(xs[0], row_y(i), widths[0], 28, ACCESS_FILL.get(kind, "#eeeeee"), rx=5),
                 _text(xs[0] + PAD, row_y(i) + 18, label)]
    for i, (binding, label) in enumerate(zip(bindings, binding_labels)):
        body += [_rect(xs[1], row_y(i), widths[1], 28, ACCESS_FILL.get(binding.get("kind", ""), "#eeeeee"), rx=5),
                 _text(xs[1] + PAD, row_y(i) + 18, label)]
    for i, ((kind, name), lines) in enumerate(zip(targets, role_lines)):
        missing = (kind, name) not in roles
        body.append(_rect(xs[2], role_y[i], widths[2], heights[i], "#ffffff" if missing else ACCESS_FILL.get(kind, "#eeeeee"),
                          dashed=missing, rx=5))
        body.append(_text(xs[2] + PAD, role_y[i] + 18, lines[0], weight="bold"))
        for j, line in enumerate(lines[1:], 1):
            body.append(_text(xs[2] + PAD, role_y[i] + 18 + j * line_height, line, size=11, fill="#424242"))
    if not bindings:
        body.append(_text(PAD, top + 18, f"no bindings reach namespace {namespace}", fill="#757575"))
    bottom = max([row_y(len(subjects)), row_y(len(bindings))] + [y + h + GAP for y, h in zip(role_y, heights)])
    width = xs[2] + widths[2] + PAD
    return _document(width, bottom + PAD, body, title or f"Who may do what in namespace {namespace}")


# --- a Job's pods over time -------------------------------------------------------------------

def _seconds(stamp: Any) -> float | None:
    from minik8s.clock import parse_rfc3339

    return parse_rfc3339(str(stamp)) if stamp else None


def pod_span(pod: Obj) -> tuple[float, float | None]:
    """When a pod was created and when its last container finished (None: still running), in seconds."""
    start = _seconds(_meta(pod).get("creationTimestamp")) or 0.0
    status = pod.get("status") or {}
    ends = [_seconds((c.get("state") or {}).get("terminated", {}).get("finishedAt"))
            for c in status.get("containerStatuses") or []]
    if status.get("phase") not in ("Succeeded", "Failed") or not ends or None in ends:
        return start, None
    return start, max(e for e in ends if e is not None)


def job_timeline_svg(source: Any = None, job: str = "", namespace: str = "default", title: str | None = None,
                     width: int = 640) -> SVG:
    """One bar per pod of a Job, from its creation to the end of its last container, on the cluster
    clock, coloured by outcome (the STATES colours): the gaps between failed pods are the back-off."""
    lister = _lister(source)
    pods = [p for p in _safe_list(lister, "pods", namespace)
            if (_meta(p).get("labels") or {}).get("batch.kubernetes.io/job-name") == job]
    spans = sorted(((pod_span(p), p) for p in pods), key=lambda item: (item[0][0], _meta(item[1]).get("name", "")))
    jobs = [j for j in _safe_list(lister, "jobs", namespace) if _meta(j).get("name") == job]
    status = (jobs[0].get("status") or {}) if jobs else {}
    t0 = min([s for (s, _), _ in spans] + [t for t in [_seconds(status.get("startTime"))] if t is not None],
             default=0.0)
    known = [e for (_, e), _ in spans if e is not None] + [s for (s, _), _ in spans]
    t_end = max(known + [t for t in [_seconds(status.get("completionTime"))] if t is not None], default=t0)
    t_end = max(t_end - t0, 1.0)
    names = [_meta(p).get("name", "") for _, p in spans]
    left = PAD + max((_text_width(n) for n in names), default=60) + PAD
    top, row = 16.0 + (24 if title else 0), 26.0
    plot_w = width - left - 24
    plot_h = row * max(len(spans), 1)

    def px(t: float) -> float:
        return round(left + (t - t0) / t_end * plot_w, 2)

    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    ticks = _ticks(t_end)
    for tick in ticks:
        x = round(left + tick / t_end * plot_w, 2) if tick <= t_end else None
        if x is None:
            continue
        body.append(f'<line x1="{x:g}" y1="{top:g}" x2="{x:g}" y2="{top + plot_h:g}" stroke="#e0e0e0"/>')
        body.append(_text(x, top + plot_h + 14, f"{tick:g}s", size=10, anchor="middle"))
    for i, ((start, end), pod) in enumerate(spans):
        y = top + i * row
        state, _ = pod_state(pod)
        open_ended = end is None
        x1, x2 = px(start), px(end if end is not None else t0 + t_end)
        body.append(_text(left - PAD, y + 17, names[i], anchor="end"))
        body.append(_rect(x1, y + 5, max(x2 - x1, 3), row - 10, _FILL[state], dashed=open_ended, rx=3))
    body.append(f'<line x1="{left:g}" y1="{top + plot_h:g}" x2="{left + plot_w:g}" y2="{top + plot_h:g}" '
                f'stroke="#424242"/>')
    if not spans:
        body.append(_text(left, top + 17, f"no pods of Job {job}", fill="#757575"))
    shown = {pod_state(p)[0] for _, p in spans}
    legend, _ = _legend(PAD, top + plot_h + 36, [(label, colour) for key, label, colour in STATES if key in shown])
    body += legend
    return _document(width, top + plot_h + 52, body, title or f"Pods of Job {job} over time")


# --- claims, volumes and nodes (chapter 15) ---------------------------------------------------------

# Claim and volume phases, in legend order: (phase, fill colour). Lost and Failed need an administrator.
VOLUME_PHASES = [("Bound", "#4caf50"), ("Pending", "#ffb300"), ("Available", "#42a5f5"),
                 ("Released", "#9e9e9e"), ("Lost / Failed", "#e53935")]
_PHASE_FILL = {phase: colour for phase, colour in VOLUME_PHASES} | {"Lost": "#e53935", "Failed": "#e53935"}
NODE_FILL = "#eceff1"
HOSTNAME_LABEL = "kubernetes.io/hostname"
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"


def volume_nodes(pv: Obj) -> list[str]:
    """The nodes a PersistentVolume's required node affinity names by host name (empty: any node)."""
    terms = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    return sorted({str(v) for term in terms for expr in term.get("matchExpressions") or []
                   if expr.get("key") == HOSTNAME_LABEL and expr.get("operator", "In") == "In"
                   for v in expr.get("values") or []})


def _phase_of(obj: Obj | None) -> str:
    return str(((obj or {}).get("status") or {}).get("phase") or "Pending")


def _claim_lines(claim: Obj, users: list[str]) -> list[str]:
    spec = claim.get("spec") or {}
    request = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "?")
    cls = spec.get("storageClassName")
    lines = [f"{_phase_of(claim)} · {request} · class {cls if cls else '<none>'}"]
    return lines + [f"used by {', '.join(users)}" if users else "used by no pod"]


def _volume_lines(pv: Obj) -> list[str]:
    spec = pv.get("spec") or {}
    capacity = (spec.get("capacity") or {}).get("storage", "?")
    lines = [f"{_phase_of(pv)} · {capacity} · {spec.get('persistentVolumeReclaimPolicy', 'Retain')}"]
    ref = spec.get("claimRef") or {}
    if _phase_of(pv) == "Released" and ref:
        lines.append(f"claimRef {ref.get('namespace', '')}/{ref.get('name', '')} (deleted)")
    elif (_meta(pv).get("annotations") or {}).get("pv.kubernetes.io/provisioned-by"):
        # a provisioner's own directory name says nothing to a reader; who made the volume does
        lines.append(f"provisioned by {_meta(pv)['annotations']['pv.kubernetes.io/provisioned-by']}")
    else:
        where = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
        nfs = spec.get("nfs") or {}
        lines.append(f"path {where}" if where else f"nfs {nfs.get('server')}:{nfs.get('path')}" if nfs else "")
    return [line for line in lines if line]


def storage_svg(source: Any = None, namespace: str | None = None, title: str | None = None) -> SVG:
    """PersistentVolumeClaims → PersistentVolumes → nodes, left to right, each claim and volume
    coloured by its phase (Bound green, Pending amber, Available blue, Released grey, Lost or Failed
    red). A claim's box names the pods that mount it; a volume's node is the one its node affinity
    names, else the claim's ``volume.kubernetes.io/selected-node``, else the node of a pod using it
    (a volume with none of these can be used anywhere). Volumes no claim holds get rows of their own;
    claims of all namespaces unless ``namespace`` is given."""
    lister = _lister(source)
    claims = sorted(_safe_list(lister, "persistentvolumeclaims", namespace), key=_key)
    volumes = {_meta(v).get("name", ""): v for v in _safe_list(lister, "persistentvolumes", None)}
    users: dict[tuple[str, str], list[Obj]] = {}
    for pod in sorted(_safe_list(lister, "pods", namespace), key=_key):
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            claim_name = (vol.get("persistentVolumeClaim") or {}).get("claimName")
            if claim_name:
                users.setdefault((_meta(pod).get("namespace", ""), claim_name), []).append(pod)
    rows: list[tuple[Obj | None, Obj | None, list[str]]] = []   # (claim, volume, nodes)
    held: set[str] = set()
    for claim in claims:
        pv = volumes.get(str((claim.get("spec") or {}).get("volumeName") or ""))
        pods = users.get(_key(claim), [])
        selected = (_meta(claim).get("annotations") or {}).get(SELECTED_NODE_ANNOTATION)
        nodes = (volume_nodes(pv) if pv else []) or ([selected] if selected else []) or sorted(
            {str((p.get("spec") or {}).get("nodeName")) for p in pods if (p.get("spec") or {}).get("nodeName")})
        if pv is not None:
            held.add(_meta(pv).get("name", ""))
        rows.append((claim, pv, nodes))
    rows += [(None, pv, volume_nodes(pv)) for name, pv in sorted(volumes.items()) if name not in held]
    node_names = sorted({n for _, _, nodes in rows for n in nodes})
    first_row = {n: min(i for i, (_, _, nodes) in enumerate(rows) if n in nodes) for n in node_names}

    claim_text = [[_pod_label(c), *_claim_lines(c, [_meta(p).get("name", "") for p in users.get(_key(c), [])])]
                  for c, _, _ in rows if c is not None]
    volume_text = [[_meta(v).get("name", ""), *_volume_lines(v)] for _, v, _ in rows if v is not None]
    bold = 1.1   # bold monospace is wider than CHAR_WIDTH
    widths = [max([_text_width(t[0]) * bold for t in claim_text] + [_text_width(line, 11) for t in claim_text
                                                                    for line in t[1:]] + [140.0]) + 2 * PAD,
              max([_text_width(t[0]) * bold for t in volume_text] + [_text_width(line, 11) for t in volume_text
                                                                     for line in t[1:]] + [140.0]) + 2 * PAD,
              max([_text_width(n) * bold for n in node_names] + [80.0]) + 2 * PAD]
    xs = [PAD, PAD + widths[0] + 60, PAD + widths[0] + widths[1] + 120]
    top, row_h, box_h = PAD + (24 if title else 0) + 18, 58.0, 48.0
    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    for x, head in zip(xs, ("PersistentVolumeClaims", "PersistentVolumes", "nodes")):
        body.append(_text(x, top - 6, head, size=11, fill="#757575"))
    node_y: dict[str, float] = {}   # each node level with the first row that uses it, never overlapping
    for name in sorted(node_names, key=lambda n: (first_row[n], n)):
        node_y[name] = max([top + first_row[name] * row_h + 10] + [y + 40 for y in node_y.values()])

    def box(x: float, y: float, width: float, fill: str, lines: list[str], dashed: bool = False) -> list[str]:
        parts = [_rect(x, y, width, box_h, fill, stroke="#37474f", dashed=dashed, rx=5),
                 _text(x + PAD, y + 16, lines[0], weight="bold")]
        return parts + [_text(x + PAD, y + 16 + 14 * i, line, size=11) for i, line in enumerate(lines[1:], 1)]

    shapes: list[str] = []
    claim_i = volume_i = 0
    for row, (claim, pv, nodes) in enumerate(rows):
        y = top + row * row_h
        mid = y + box_h / 2
        if claim is not None:
            shapes += box(xs[0], y, widths[0], _PHASE_FILL.get(_phase_of(claim), "#eeeeee"), claim_text[claim_i])
            claim_i += 1
            if pv is not None:
                body.append(_curve(xs[0] + widths[0], mid, xs[1], mid))
        if pv is not None:
            shapes += box(xs[1], y, widths[1], _PHASE_FILL.get(_phase_of(pv), "#eeeeee"), volume_text[volume_i])
            volume_i += 1
        elif claim is not None:
            wanted = (claim.get("spec") or {}).get("volumeName")
            shapes.append(_text(xs[1], mid + 4, f"{wanted} is gone" if wanted else "no volume yet", size=11,
                                fill="#757575"))
        start_x = xs[1] + widths[1] if pv is not None else xs[1] + 120
        for node in nodes:
            body.append(_curve(start_x, mid, xs[2], node_y[node] + 14))
    for name, y in node_y.items():
        shapes += [_rect(xs[2], y, widths[2], 28, NODE_FILL, rx=5), _text(xs[2] + PAD, y + 18, name, weight="bold")]
    body += shapes
    if not rows:
        body.append(_text(PAD, top + 18, "no PersistentVolumeClaims and no PersistentVolumes", fill="#757575"))
    bottom = max([top + max(len(rows), 1) * row_h] + [y + 40 for y in node_y.values()])
    legend, legend_width = _legend(PAD, bottom, VOLUME_PHASES)
    body += legend
    width = max(xs[2] + widths[2] + PAD, legend_width + 2 * PAD)
    return _document(width, bottom + 24, body, title or "Claims, volumes and nodes")


# --- autoscaling_svg ---------------------------------------------------------------------

REPLICAS_COLOUR = "#1e88e5"
UTILIZATION_COLOUR = "#e53935"


def autoscaling_svg(samples: Any, title: str | None = None, width: int = 640, height: int = 280) -> SVG:
    """Replicas (blue, left axis) and CPU utilization in percent of request (red, right axis) as step
    lines over time, with the HPA's target as a dashed red line. ``samples`` are objects with
    ``time``, ``replicas``, ``utilization`` (None while the HPA has no metric) and ``target``, such
    as :class:`minik8s.lab.autoscaling.LoadDriver` records (or a driver itself)."""
    data = list(getattr(samples, "samples", samples))
    left, right, top, bottom = 48.0, 52.0, 16.0 + (24 if title else 0), 44.0
    plot_w, plot_h = width - left - right, height - top - bottom
    t0 = min([0.0] + [float(s.time) for s in data])   # the driver's start, not its first sample
    t_end = max((float(s.time) - t0 for s in data), default=0.0) or 1.0
    peak = max((int(s.replicas) for s in data), default=0) or 1
    r_ticks = [t for t in _ticks(peak, min(5, peak)) if t == int(t)]
    r_top = max(r_ticks[-1], peak)
    targets = [int(s.target) for s in data if getattr(s, "target", None) is not None]
    u_peak = max([int(s.utilization) for s in data if s.utilization is not None] + targets + [100])
    u_ticks = _ticks(u_peak, 4)
    u_top = max(u_ticks[-1], u_peak)

    def px(t: float) -> float:
        return round(left + (t - t0) / t_end * plot_w, 2)

    def py(value: float, scale: float) -> float:
        return round(top + plot_h - value / scale * plot_h, 2)

    def steps(points: list[tuple[float, float]], colour: str, name: str) -> str:
        path, previous = [], None
        for x, y in points:
            path.append(f"{x:g},{previous:g} {x:g},{y:g}" if previous is not None else f"{x:g},{y:g}")
            previous = y
        return (f'<polyline points="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(name)}</title></polyline>")

    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    for tick in r_ticks:
        body.append(f'<line x1="{left:g}" y1="{py(tick, r_top):g}" x2="{left + plot_w:g}" y2="{py(tick, r_top):g}" '
                    f'stroke="#e0e0e0"/>')
        body.append(_text(left - 6, py(tick, r_top) + 4, f"{int(tick)}", size=10, anchor="end",
                          fill=REPLICAS_COLOUR))
    for tick in u_ticks:
        body.append(_text(left + plot_w + 6, py(tick, u_top) + 4, f"{tick:g}%", size=10, fill=UTILIZATION_COLOUR))
    for tick in (t for t in _ticks(t_end) if t <= t_end):
        body.append(_text(px(t0 + tick), top + plot_h + 14, f"{tick:g}s", size=10, anchor="middle"))
    if targets:
        y = py(targets[-1], u_top)
        body.append(f'<line x1="{left:g}" y1="{y:g}" x2="{left + plot_w:g}" y2="{y:g}" stroke="{UTILIZATION_COLOUR}" '
                    f'stroke-dasharray="6,4" stroke-opacity="0.7"><title>target {targets[-1]}%</title></line>')
    if len(data) > 1:
        body.append(steps([(px(float(s.time)), py(int(s.replicas), r_top)) for s in data], REPLICAS_COLOUR,
                          "replicas"))
        known = [(px(float(s.time)), py(int(s.utilization), u_top)) for s in data if s.utilization is not None]
        if len(known) > 1:
            body.append(steps(known, UTILIZATION_COLOUR, "CPU utilization"))
    body.append(f'<line x1="{left:g}" y1="{top + plot_h:g}" x2="{left + plot_w:g}" y2="{top + plot_h:g}" '
                f'stroke="#424242"/>')
    body.append(f'<line x1="{left:g}" y1="{top:g}" x2="{left:g}" y2="{top + plot_h:g}" stroke="#424242"/>')
    legend, _ = _legend(left, height - 20, [("replicas", REPLICAS_COLOUR),
                                            ("CPU utilization (% of request)", UTILIZATION_COLOUR)])
    body += legend
    if not data:
        body.append(_text(left + 8, top + 20, "no samples yet", fill="#757575"))
    return _document(width, height, body, title or "Replicas and CPU utilization over time")


# --- Ingress: hosts and paths → Services → Pods (chapter 14) ---------------------------------

RULE_FILL = "#bbdefb"


def ingress_routes(ingress: Obj) -> list[tuple[str, str, str, Any]]:
    """An Ingress's routes as (request, how it matches, Service, port), in the order of its spec;
    its ``defaultBackend`` last, as ``*`` (what no rule matched)."""
    name, spec = _meta(ingress).get("name", ""), ingress.get("spec") or {}

    def backend(b: Obj | None) -> tuple[str, Any]:
        service = (b or {}).get("service") or {}
        port = service.get("port") or {}
        return str(service.get("name") or ""), port.get("number", port.get("name", ""))

    routes = []
    for rule in spec.get("rules") or []:
        host = rule.get("host") or "*"
        for p in (rule.get("http") or {}).get("paths") or []:
            routes.append((f"{host}{p.get('path') or '/'}", f"{p.get('pathType', 'Prefix')} · ingress {name}",
                           *backend(p.get("backend"))))
    if spec.get("defaultBackend"):
        routes.append(("* (no rule matched)", f"defaultBackend · ingress {name}", *backend(spec["defaultBackend"])))
    return routes


def ingress_svg(source: Any = None, namespace: str = "default", title: str | None = None) -> SVG:
    """Every Ingress route of ``namespace`` (host and path, its pathType and Ingress) → the Service it
    names → that Service's endpoints' Pods, coloured as :func:`cluster_svg` colours pods. A Service
    that does not exist is a dashed grey box: the ingress controller answers 503 for it, as it does for
    a Service without ready endpoints. Requests no route matches get the controller's 404."""
    lister = _lister(source)
    routes = [r for ing in sorted(_safe_list(lister, "ingresses", namespace), key=_key) for r in ingress_routes(ing)]
    services = {_meta(s).get("name"): s for s in _safe_list(lister, "services", namespace)}
    pods = {_meta(p).get("name"): p for p in _safe_list(lister, "pods", namespace)}
    slices = _safe_list(lister, "endpointslices", namespace)
    names = list(dict.fromkeys(r[2] for r in routes))
    members: dict[str, list[Obj]] = {}
    for name in names:
        found = [e for s in slices if (_meta(s).get("labels") or {}).get("kubernetes.io/service-name") == name
                 for e in s.get("endpoints") or []]
        members[name] = sorted(found, key=lambda e: (e.get("targetRef") or {}).get("name", ""))

    def service_lines(name: str) -> list[str]:
        if name not in services:
            return [f"Service/{name}", "does not exist: 503"]
        ready = sum(1 for e in members[name] if endpoint_state(e) == "ready")
        ports = ", ".join(str(p.get("port")) for p in (services[name].get("spec") or {}).get("ports") or [])
        return [f"Service/{name}", f"port {ports} · {ready} ready" + ("" if ready else ": 503")]

    bold, row_h, box_h = 1.1, 50.0, 40.0
    pod_rows = [(name, e) for name in names for e in members[name]]
    widths = [max([_text_width(r[0]) * bold for r in routes] + [_text_width(r[1], 11) for r in routes]
                  + [150.0]) + 2 * PAD,
              max([_text_width(line) * bold for n in names for line in service_lines(n)] + [150.0]) + 2 * PAD,
              max([_text_width((e.get("targetRef") or {}).get("name", "")) * bold for _, e in pod_rows]
                  + [150.0]) + 2 * PAD]
    xs = [PAD, PAD + widths[0] + 60, PAD + widths[0] + widths[1] + 120]
    top = PAD + (24 if title else 0) + 18
    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    for x, head in zip(xs, ("host and path", "Service", "Pods (endpoints)")):
        body.append(_text(x, top - 6, head, size=11, fill="#757575"))
    rows = max(len(routes), len(names), len(pod_rows), 1)
    service_y = {name: top + i * row_h for i, name in enumerate(names)}
    shapes: list[str] = []
    for i, (request, how, service, port) in enumerate(routes):
        y = top + i * row_h
        body.append(_curve(xs[0] + widths[0], y + box_h / 2, xs[1], service_y[service] + box_h / 2))
        shapes += [_rect(xs[0], y, widths[0], box_h, RULE_FILL, stroke="#37474f", rx=5),
                   _text(xs[0] + PAD, y + 16, request, weight="bold"),
                   _text(xs[0] + PAD, y + 31, f"{how} → :{port}", size=11)]
    for name in names:
        y = service_y[name]
        first, second = service_lines(name)
        missing = name not in services
        shapes += [_rect(xs[1], y, widths[1], box_h, "#eeeeee" if missing else SERVICE_FILL, stroke="#37474f",
                         dashed=missing, rx=5),
                   _text(xs[1] + PAD, y + 16, first, weight="bold"), _text(xs[1] + PAD, y + 31, second, size=11)]
    for i, (name, endpoint) in enumerate(pod_rows):
        y = top + i * row_h
        pod_name = (endpoint.get("targetRef") or {}).get("name") or "(no Pod)"
        pod = pods.get(pod_name)
        fill = _FILL[pod_state(pod)[0]] if pod is not None else _ENDPOINT_FILL[endpoint_state(endpoint)]
        body.append(_curve(xs[1] + widths[1], service_y[name] + box_h / 2, xs[2], y + box_h / 2))
        shapes += [_rect(xs[2], y, widths[2], box_h, fill, stroke="#37474f",
                         dashed=endpoint_state(endpoint) != "ready", rx=5),
                   _text(xs[2] + PAD, y + 16, pod_name, weight="bold"),
                   _text(xs[2] + PAD, y + 31, ", ".join(endpoint.get("addresses") or []), size=11)]
    body += shapes
    if not routes:
        body.append(_text(PAD, top + 18, f"no Ingress in namespace {namespace}: every request gets a 404",
                          fill="#757575"))
    bottom = top + rows * row_h
    legend, legend_width = _legend(PAD, bottom, [(label, colour) for _, label, colour in STATES[:3]])
    body += legend
    width = max(xs[2] + widths[2] + PAD, legend_width + 2 * PAD)
    return _document(width, bottom + 24, body, title or f"Ingress routes in namespace {namespace}")


# --- NetworkPolicy: who may connect to whom (chapter 14) ---------------------------------------

CONNECTIVITY = [("allowed", "#4caf50"), ("blocked", "#e53935")]


def netpol_svg(source: Any = None, pods: Iterable[str] = (), port: int = 80, protocol: str = "TCP",
               title: str | None = None) -> SVG:
    """The connectivity matrix of ``pods`` ("namespace/name") on ``port``: rows are sources, columns
    destinations, each cell green when the NetworkPolicies allow the connection and red when they
    block it (decided by :mod:`minik8s.api.networkpolicy`, as the API defines it). A Pod that does not
    exist gets a grey row and column."""
    from minik8s.api.networkpolicy import Peer, allowed

    lister = _lister(source)
    names = list(pods)
    found = {"/".join(_key(p)): p for p in _safe_list(lister, "pods", None)}
    namespaces = {_meta(n).get("name", ""): _meta(n).get("labels") or {} for n in _safe_list(lister, "namespaces", None)}
    policies = _safe_list(lister, "networkpolicies", None)
    cell, gap = 28.0, 2.0
    label_w = max([_text_width(n) * 1.1 for n in names] + [60.0]) + PAD
    top = PAD + (24 if title else 0) + 18
    grid_y = top + label_w   # column labels are written upwards above the grid
    body = [_text(PAD, PAD + 14, title, size=14, weight="bold")] if title else []
    body.append(_text(PAD, top - 4, f"from ↓ to → on {port}/{protocol.upper()}", size=11, fill="#757575"))
    x0 = PAD + label_w
    for j, dst in enumerate(names):
        x = x0 + j * (cell + gap) + cell / 2 + 4
        body.append(f'<text x="{x:g}" y="{grid_y - 6:g}" font-size="12" transform="rotate(-90 {x:g} {grid_y - 6:g})" '
                    f'fill="#212121">{escape(dst)}</text>')
    for i, src in enumerate(names):
        y = grid_y + i * (cell + gap)
        body.append(_text(x0 - 6, y + cell / 2 + 4, src, anchor="end"))
        for j, dst in enumerate(names):
            if src in found and dst in found:
                ok = allowed(Peer.pod(found[src]), Peer.pod(found[dst]), port, protocol, policies, namespaces)
                fill, mark = (CONNECTIVITY[0][1], ".") if ok else (CONNECTIVITY[1][1], "X")
            else:
                fill, mark = "#eeeeee", "?"
            x = x0 + j * (cell + gap)
            body += [_rect(x, y, cell, cell, fill, stroke="#ffffff", rx=3),
                     _text(x + cell / 2, y + cell / 2 + 4, mark, anchor="middle", fill="#ffffff", weight="bold")]
    bottom = grid_y + max(len(names), 1) * (cell + gap) + 8
    legend, legend_width = _legend(PAD, bottom, CONNECTIVITY)
    body += legend
    width = max(x0 + len(names) * (cell + gap) + PAD, legend_width + 2 * PAD)
    return _document(width, bottom + 24, body, title or f"Who may connect to whom on port {port}")


# --- the control plane and its nodes: who talks to whom (chapter 18) -----------------------------

# The leader-election Leases of kube-system and the component each belongs to (kubeadm's names).
ELECTED = [("kube-controller-manager", "kube-controller-manager"), ("kube-scheduler", "kube-scheduler")]
COMPONENT_FILL = "#bbdefb"   # a control-plane process
STORE_FILL = "#ffe0b2"       # where the state lives
READY_NODE_FILL = "#c8e6c9"        # a node whose kubelet is Ready
LOST_FILL = "#ffcdd2"        # a node that is NotReady or Unknown


def _arrow(x1: float, y1: float, x2: float, y2: float) -> str:
    """A grey straight line with an arrowhead at (x2, y2): a client calling a server."""
    return (f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="#757575" stroke-width="1.5" '
            f'marker-end="url(#arrow)"/>')


def _leader(lease: Obj | None) -> str:
    if lease is None:
        return "no leader election"
    holder = (lease.get("spec") or {}).get("holderIdentity") or "nobody"
    return f"leader: {holder.split('_')[0]}"   # client-go's identity is host_uuid: the host is enough


def control_plane_svg(source: Any = None, store: str = "SQLite", title: str | None = None) -> SVG:
    """The cluster's processes and their connections: clients, the API server and its ``store``
    (``"SQLite"`` or ``"etcd"``, as the server was started), the controller manager and the scheduler
    (with the holder of their leader-election Lease in kube-system, when there is one), and every Node
    with its kubelet and kube-proxy, coloured by the Node's Ready condition and labelled with the last
    renewal of its Lease in kube-node-lease. Every arrow goes to the API server: nothing else talks to
    the store, and the components never talk to each other."""
    lister = _lister(source)
    nodes = sorted(_safe_list(lister, "nodes", None), key=_key)
    node_leases = {_meta(lease).get("name"): lease for lease in _safe_list(lister, "leases", "kube-node-lease")}
    system_leases = {_meta(lease).get("name"): lease for lease in _safe_list(lister, "leases", "kube-system")}
    box_w, box_h, gap = 200.0, 52.0, 30.0
    columns = max(3, len(nodes))
    width = PAD * 2 + columns * box_w + (columns - 1) * gap
    top = PAD + (24 if title else 0)
    body = ['<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#757575"/></marker></defs>']
    if title:
        body.append(_text(PAD, PAD + 14, title, size=14, weight="bold"))
    shapes: list[str] = []

    def box(x: float, y: float, fill: str, *lines: str) -> None:
        shapes.extend([_rect(x, y, box_w, box_h + 18 * (len(lines) - 2), fill, stroke="#37474f", rx=6),
                       _text(x + PAD, y + 20, lines[0], weight="bold")])
        shapes.extend(_text(x + PAD, y + 38 + 18 * i, line, size=11) for i, line in enumerate(lines[1:]))

    middle = (width - box_w) / 2
    api_y = top + box_h + gap
    box(PAD, top, "#eeeeee", "kubectl, clients", "HTTPS + kubeconfig")
    box(middle, api_y, COMPONENT_FILL, "kube-apiserver", "/healthz /livez /readyz")
    box(width - PAD - box_w, top, STORE_FILL, store, "every object, versioned")
    body.append(_arrow(PAD + box_w, top + box_h / 2, middle, api_y + box_h / 2))
    body.append(_arrow(middle + box_w, api_y + box_h / 2, width - PAD - box_w, top + box_h / 2))
    elected_y = api_y + box_h + gap
    for i, (lease_name, label) in enumerate(ELECTED):
        x = PAD if i == 0 else width - PAD - box_w
        box(x, elected_y, COMPONENT_FILL, label, _leader(system_leases.get(lease_name)))
        body.append(_arrow(x + box_w / 2 + (box_w / 4 if i == 0 else -box_w / 4), elected_y,
                           middle + box_w / 2 + (-box_w / 4 if i == 0 else box_w / 4), api_y + box_h))
    node_y = elected_y + box_h + gap * 2
    for i, node in enumerate(nodes):
        name = _meta(node).get("name", "")
        status = _node_status(node).replace("Unknown", "NotReady")   # as kubectl get nodes prints it
        renewed = ((node_leases.get(name) or {}).get("spec") or {}).get("renewTime") or "no Lease"
        x = PAD + i * (box_w + gap)
        box(x, node_y, READY_NODE_FILL if status.startswith("Ready") else LOST_FILL, f"{name}  {status}",
            "kubelet, kube-proxy", f"Lease renewed {renewed[11:19] if len(renewed) > 19 else renewed}")
        body.append(_arrow(x + box_w / 2, node_y, middle + box_w / 2, api_y + box_h))
    node_h = box_h + 18
    if not nodes:
        shapes.append(_text(PAD, node_y + 20, "no nodes have registered", fill="#757575"))
    body += shapes
    legend, _ = _legend(PAD, node_y + node_h + 14, [("control plane", COMPONENT_FILL), ("store", STORE_FILL),
                                                    ("node Ready", READY_NODE_FILL), ("node not Ready", LOST_FILL)])
    body += legend
    return _document(width, node_y + node_h + 40, body, title or "The control plane and its nodes")

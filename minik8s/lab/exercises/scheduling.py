"""Checks for the scheduling lab (labs/11-scheduling.ipynb, chapter 11).

Three exercises, each about telling the scheduler what you want instead of hoping for it:

* ``scheduling-spread``: a Deployment ``zonal`` of 6 replicas, 2 in each of the 3 zones, kept
  so by a topology spread constraint (a lucky spread without one does not count);
* ``scheduling-gpu``: a Pod ``cuda`` that runs on the tainted GPU node and could run nowhere
  else: a toleration lets it in, a node selector (or node affinity) keeps it there. The check
  asks :func:`minik8s.lab.scheduling.explain_objects` which nodes the scheduler would accept;
* ``scheduling-drain``: empty node-1 with ``kubectl drain`` while the PodDisruptionBudget
  ``shop`` (minAvailable 2) stays as it was and all 3 replicas of ``shop`` run again.

Every start state labels the nodes with their zones, as the lab does.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from minik8s.api.selectors import from_label_selector
from minik8s.lab.checks import exercise
from minik8s.lab.scheduling import explain_objects
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

ZONE = "topology.kubernetes.io/zone"
ZONES = {"node-1": "zone-a", "node-2": "zone-b", "node-3": "zone-c"}
GPU_NODE = "node-3"
GPU_LABEL = "accelerator=gpu"
GPU_TAINT = "dedicated=gpu:NoSchedule"

ZONAL = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: zonal
spec:
  replicas: 6
  selector:
    matchLabels:
      app: zonal
  template:
    metadata:
      labels:
        app: zonal
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: DoNotSchedule
        labelSelector:
          matchLabels:
            app: zonal
      containers:
      - name: web
        image: nginx
"""

CUDA = """\
apiVersion: v1
kind: Pod
metadata:
  name: cuda
spec:
  nodeSelector:
    accelerator: gpu
  tolerations:
  - key: dedicated
    operator: Equal
    value: gpu
    effect: NoSchedule
  containers:
  - name: cuda
    image: nginx
"""

SHOP = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
      - name: shop
        image: nginx
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: shop
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: shop
"""


def label_zones(cluster: "Cluster") -> None:
    """The lab's first step: each node in its own zone."""
    for node, zone in ZONES.items():
        cluster.kubectl(f"label node {node} {ZONE}={zone} --overwrite")


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _live(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]


def _running(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running"


# --- exercise 1: two replicas per zone, on purpose ----------------------------------------------------

def _zone_constraint(deployment: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    template = _spec(deployment).get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    constraints = _spec(template).get("topologySpreadConstraints") or []
    return next((c for c in constraints if c.get("topologyKey") == ZONE), None), labels


def _zone_counts(view: ClusterView, pods: list[dict[str, Any]]) -> Counter[str]:
    zones = {(n.get("metadata") or {}).get("name"): ((n.get("metadata") or {}).get("labels") or {}).get(ZONE, "none")
             for n in view.list("nodes", namespace=None)}
    return Counter(zones.get(_spec(p).get("nodeName"), "none") for p in pods if _running(p))


@exercise("scheduling-spread", nodes=3,
          hint="Create the Deployment zonal: 6 replicas of nginx, 2 per zone, kept so by a topology spread constraint.")
def scheduling_spread(view: ClusterView) -> str | None:
    deployment = view.get("deployments", "zonal")
    if deployment is None:
        return "there is no Deployment named zonal in namespace default"
    if _spec(deployment).get("replicas", 1) != 6:
        return f"Deployment zonal asks for {_spec(deployment).get('replicas', 1)} replica(s), not 6"
    pods = _live(view.list("pods", selector="app=zonal"))
    counts = _zone_counts(view, pods)
    constraint, labels = _zone_constraint(deployment)
    if constraint is None:
        if sorted(counts.values()) == [2, 2, 2]:
            return ("the pods happen to be 2 per zone, but nothing in the template keeps them so: add a "
                    f"topologySpreadConstraint on {ZONE}")
        return f"the Pod template has no topologySpreadConstraint with topologyKey {ZONE}"
    if constraint.get("whenUnsatisfiable") != "DoNotSchedule":
        return ("whenUnsatisfiable ScheduleAnyway is only a preference: the scheduler may break it; "
                "use DoNotSchedule")
    if constraint.get("maxSkew") != 1:
        return f"maxSkew {constraint.get('maxSkew')} lets one zone run {constraint.get('maxSkew')} more pods than another; use 1"
    if not from_label_selector(constraint.get("labelSelector")).matches(labels):
        return "the constraint's labelSelector does not select the Deployment's own pods, so it counts nothing"
    if len([p for p in pods if _running(p)]) != 6 or sorted(counts.values()) != [2, 2, 2]:
        spread = ", ".join(f"{zone}: {n}" for zone, n in sorted(counts.items())) or "none running"
        return f"running pods per zone: {spread}; the exercise wants 2 in each zone (let time pass)"
    return None


@scheduling_spread.start
def _spread_start(cluster: "Cluster") -> None:
    label_zones(cluster)


@scheduling_spread.solution
def _spread_solution(cluster: "Cluster") -> None:
    cluster.apply(ZONAL)
    cluster.advance(30)


# --- exercise 2: only on the GPU node -----------------------------------------------------------------

@exercise("scheduling-gpu", nodes=3,
          hint=f"Create a Pod cuda that tolerates node-3's taint {GPU_TAINT} and can run on no other node.")
def scheduling_gpu(view: ClusterView) -> str | None:
    pod = view.get("pods", "cuda")
    if pod is None:
        return "there is no Pod named cuda in namespace default"
    explanation = explain_objects(pod, view.list("nodes", namespace=None), view.list("pods", namespace=None))
    feasible = [row.node for row in explanation.rows if row.feasible]
    if GPU_NODE not in feasible:
        reason = explanation.row(GPU_NODE).filters
        why = "; ".join(v for v in reason.values() if v != "ok")
        return (f"the scheduler would not place cuda on {GPU_NODE} ({why}); a toleration for the taint "
                f"{GPU_TAINT} lets it in (spec.nodeName skips the scheduler, not the taint)")
    if feasible != [GPU_NODE]:
        return (f"cuda could also run on {', '.join(n for n in feasible if n != GPU_NODE)}: a toleration lets a pod "
                f"onto a tainted node but does not draw it there; add a nodeSelector for the label {GPU_LABEL}")
    if _spec(pod).get("nodeName") != GPU_NODE or not _running(pod):
        return f"cuda is not running on {GPU_NODE} yet (let time pass)"
    return None


@scheduling_gpu.start
def _gpu_start(cluster: "Cluster") -> None:
    label_zones(cluster)
    cluster.kubectl(f"label node {GPU_NODE} {GPU_LABEL}")
    cluster.kubectl(f"taint node {GPU_NODE} {GPU_TAINT}")


@scheduling_gpu.solution
def _gpu_solution(cluster: "Cluster") -> None:
    cluster.apply(CUDA)
    cluster.advance(10)


# --- exercise 3: drain under a budget -----------------------------------------------------------------

@exercise("scheduling-drain", nodes=3,
          hint="Drain node-1 with kubectl drain, keeping the PodDisruptionBudget shop as it is.")
def scheduling_drain(view: ClusterView) -> str | None:
    budget = view.get("poddisruptionbudgets", "shop")
    if budget is None or _spec(budget).get("minAvailable") != 2 or "maxUnavailable" in _spec(budget):
        return "the PodDisruptionBudget shop must stay as it was (minAvailable: 2): drain works with it, not around it"
    node = view.get("nodes", "node-1", namespace=None)
    if node is None or not _spec(node).get("unschedulable"):
        return "node-1 is still schedulable: kubectl drain cordons the node before it evicts its pods"
    left = sorted(p["metadata"]["name"] for p in _live(view.list("pods", namespace=None))
                  if _spec(p).get("nodeName") == "node-1"
                  and not any(o.get("kind") == "DaemonSet" for o in p["metadata"].get("ownerReferences") or []))
    if left:
        return f"pods still run on node-1: {', '.join(left)}"
    deployment = view.get("deployments", "shop")
    if deployment is None:
        return "the Deployment shop is gone: draining should move its pods, not delete them"
    available = (deployment.get("status") or {}).get("availableReplicas", 0)
    if available != 3:
        return f"Deployment shop has {available} of 3 replicas available (let time pass)"
    return None


@scheduling_drain.start
def _drain_start(cluster: "Cluster") -> None:
    label_zones(cluster)
    cluster.apply(SHOP)
    cluster.advance(30)


@scheduling_drain.solution
def _drain_solution(cluster: "Cluster") -> None:
    cluster.kubectl("drain node-1 --ignore-daemonsets --timeout=2m")
    cluster.advance(30)

"""Checks for the DaemonSets lab (labs/10-daemonsets.ipynb, chapter 10).

Three exercises, each about how a DaemonSet chooses its nodes or replaces its pods:

* ``daemonsets-selector``: an agent on exactly the nodes labelled ``disk=ssd``
  (a ``nodeSelector``, or node affinity, in the pod template);
* ``daemonsets-tolerate``: an agent that also runs on a node tainted
  ``node-role.kubernetes.io/control-plane:NoSchedule``, the taint kept;
* ``daemonsets-surge``: an update strategy that never leaves a node without a
  ready agent: ``maxUnavailable: 0`` with ``maxSurge: 1``. The check resolves
  percentages as the DaemonSet controller does (both round *up*, unlike a
  Deployment's ``maxUnavailable``), so ``25%`` of three nodes is one pod, not zero.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def daemonset(name: str, image: str = "nginx:alpine", pod_spec: str = "", strategy: str = "") -> str:
    """A DaemonSet manifest: ``pod_spec`` and ``strategy`` are extra lines, already indented."""
    return f"""\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {name}
spec:
  selector:
    matchLabels:
      app: {name}
{strategy}  template:
    metadata:
      labels:
        app: {name}
    spec:
{pod_spec}      containers:
      - name: {name}
        image: {image}
"""


def _nodes_running(view: ClusterView, name: str) -> list[str]:
    """The nodes where a ready pod of DaemonSet ``name`` runs (sorted, repeated if one runs twice)."""
    pods = view.list("pods", selector=f"app={name}")
    ready = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")
             and any(c.get("type") == "Ready" and c.get("status") == "True"
                     for c in (p.get("status") or {}).get("conditions") or [])]
    return sorted(str((p.get("spec") or {}).get("nodeName", "")) for p in ready)


def _node_names(view: ClusterView, predicate: Any = None) -> list[str]:
    nodes = view.list("nodes", namespace=None)
    return sorted(n["metadata"]["name"] for n in nodes if predicate is None or predicate(n))


def _rolled_out(view: ClusterView, name: str, want: list[str]) -> str | None:
    """None when DaemonSet ``name`` runs exactly one ready pod on each node of ``want``."""
    running = _nodes_running(view, name)
    if running == want:
        return None
    extra = sorted(set(running) - set(want))
    if extra:
        return f"{name} runs on {', '.join(extra)} too, which it should not"
    return (f"{name} has ready pods on {', '.join(running) or 'no node'} but should on {', '.join(want)}; "
            "let time pass (%minik8s advance 10s) and look again")


# --- exercise 1: only the SSD nodes -------------------------------------------------------------

@exercise("daemonsets-selector", hint="Run a DaemonSet disk-agent on exactly the nodes labelled disk=ssd.",
          nodes=3)
def daemonsets_selector(view: ClusterView) -> str | None:
    ds = view.get("daemonsets", "disk-agent")
    if ds is None:
        return "there is no DaemonSet named disk-agent in namespace default"
    ssd = _node_names(view, lambda n: (n["metadata"].get("labels") or {}).get("disk") == "ssd")
    if not ssd:
        return "no node is labelled disk=ssd any more: the lab labels node-1 and node-3 (kubectl label node)"
    running = _nodes_running(view, "disk-agent")
    others = sorted(set(running) - set(ssd))
    if others:
        return (f"disk-agent runs on {', '.join(others)}, which has no disk=ssd label: give the pod template "
                "a nodeSelector (spec.template.spec.nodeSelector)")
    return _rolled_out(view, "disk-agent", ssd)


@daemonsets_selector.start
def _selector_start(cluster: "Cluster") -> None:
    cluster.kubectl("label node node-1 node-3 disk=ssd")


@daemonsets_selector.solution
def _selector_solution(cluster: "Cluster") -> None:
    cluster.kubectl("apply -f -", stdin=daemonset("disk-agent", pod_spec="      nodeSelector:\n        disk: ssd\n"))
    cluster.advance(10)


# --- exercise 2: onto the control-plane node too --------------------------------------------------

@exercise("daemonsets-tolerate", hint="Make metrics-agent run on node-3 too, keeping node-3's taint.", nodes=3)
def daemonsets_tolerate(view: ClusterView) -> str | None:
    ds = view.get("daemonsets", "metrics-agent")
    if ds is None:
        return "there is no DaemonSet named metrics-agent: run the cell that creates it first"
    node = view.get("nodes", "node-3", namespace=None)
    taints = ((node or {}).get("spec") or {}).get("taints") or []
    if not any(t.get("key") == CONTROL_PLANE_TAINT and t.get("effect") == "NoSchedule" for t in taints):
        return (f"node-3 no longer has the {CONTROL_PLANE_TAINT}:NoSchedule taint: put it back "
                "(kubectl taint) and let metrics-agent tolerate it instead")
    tolerations = ((((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("tolerations") or [])
    if not any(_tolerates(t, CONTROL_PLANE_TAINT, "NoSchedule") for t in tolerations):
        return (f"metrics-agent's pod template does not tolerate {CONTROL_PLANE_TAINT}:NoSchedule, so node-3 "
                "gets no pod: add a toleration (spec.template.spec.tolerations)")
    return _rolled_out(view, "metrics-agent", _node_names(view))


def _tolerates(toleration: dict[str, Any], key: str, effect: str) -> bool:
    """Does ``toleration`` tolerate a taint ``key`` (with no value) of ``effect``?"""
    if toleration.get("effect") not in (None, "", effect):
        return False
    if toleration.get("operator") == "Exists":
        return toleration.get("key") in (None, "", key)
    return toleration.get("key") == key and not toleration.get("value")


@daemonsets_tolerate.start
def _tolerate_start(cluster: "Cluster") -> None:
    cluster.kubectl(f"taint node node-3 {CONTROL_PLANE_TAINT}:NoSchedule")
    cluster.kubectl("apply -f -", stdin=daemonset("metrics-agent"))
    cluster.advance(10)


@daemonsets_tolerate.solution
def _tolerate_solution(cluster: "Cluster") -> None:
    toleration = (f"      tolerations:\n      - key: {CONTROL_PLANE_TAINT}\n        operator: Exists\n"
                  "        effect: NoSchedule\n")
    cluster.kubectl("apply -f -", stdin=daemonset("metrics-agent", pod_spec=toleration))
    cluster.advance(10)


# --- exercise 3: never a node without an agent ---------------------------------------------------

def resolve(value: Any, total: int) -> int | None:
    """An int-or-percent as a number of pods, rounded up as the DaemonSet controller rounds both
    ``maxSurge`` and ``maxUnavailable``; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%") and text[:-1].isdigit():
        return math.ceil(int(text[:-1]) * total / 100)
    return None


@exercise("daemonsets-surge", hint="Create DaemonSet net-agent whose updates never leave a node without a "
                                   "ready agent (a new pod starts before the old one goes).", nodes=3)
def daemonsets_surge(view: ClusterView) -> str | None:
    ds = view.get("daemonsets", "net-agent")
    if ds is None:
        return "there is no DaemonSet named net-agent in namespace default"
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type") != "RollingUpdate":
        return (f"net-agent's updateStrategy is {strategy.get('type')}: with OnDelete nothing is replaced until "
                "you delete pods; use RollingUpdate")
    nodes = len(_node_names(view))
    rolling = strategy.get("rollingUpdate") or {}
    unavailable = resolve(rolling.get("maxUnavailable", 1), nodes)
    surge = resolve(rolling.get("maxSurge", 0), nodes)
    if unavailable != 0:
        return (f"maxUnavailable resolves to {unavailable} pod(s) of {nodes} (a DaemonSet rounds percentages up): "
                "a node may lose its agent before the new one is ready; make it 0")
    if surge != 1:   # the API server refuses 0 with maxUnavailable 0, so this is more than one
        return f"maxSurge resolves to {surge} pods; the exercise asks for one extra pod at a time"
    return _updated_everywhere(ds)


def _updated_everywhere(ds: dict[str, Any]) -> str | None:
    """None when the DaemonSet's every wanted pod (whichever nodes it wants) runs the current template
    and is available: what ``kubectl rollout status`` waits for."""
    status = ds.get("status") or {}
    want = status.get("desiredNumberScheduled", 0)
    done = (want > 0 and status.get("observedGeneration") == (ds.get("metadata") or {}).get("generation")
            and status.get("updatedNumberScheduled") == want and status.get("numberAvailable") == want)
    if done:
        return None
    return (f"{status.get('numberAvailable', 0)} of {want} net-agent pods are available; let time pass "
            "(%minik8s advance 10s) and look again")


@daemonsets_surge.start
def _surge_start(cluster: "Cluster") -> None:
    pass   # three nodes, no net-agent yet


@daemonsets_surge.solution
def _surge_solution(cluster: "Cluster") -> None:
    strategy = ("  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 1\n"
                "      maxUnavailable: 0\n")
    cluster.kubectl("apply -f -", stdin=daemonset("net-agent", strategy=strategy))
    cluster.advance(10)

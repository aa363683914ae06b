"""Checks for chapter 18, Building a cluster (labs/18-cluster.ipynb).

The exercises are the day-to-day work of whoever runs a cluster's machines:

* ``cluster-join``: a new machine joins as ``node-4`` with the label ``disk=ssd`` and is Ready
  (``kubeadm join`` with ``--node-labels``; ``%minik8s node add`` in the lab);
* ``cluster-lost-node``: one node's kubelet has stopped renewing its Lease and the node is
  NotReady; find it and take it out of the cluster (or bring it back), so that every Pod of the
  Deployment ``web`` runs on a Ready node without waiting five minutes for the taint eviction;
* ``cluster-maintenance``: take ``node-3`` out for maintenance: no new Pods may go there, ``web``'s
  Pods run elsewhere, and the Node stays in the cluster (``kubectl drain``).

Every check reads the cluster with ``kubectl get -o json`` (a
:class:`~minik8s.lab.session.ClusterView`), so it works on minik8s and on a real cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.exercises.deployments import WEB_DEPLOYMENT
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The Deployment the exercises keep running while nodes come and go: three replicas, one Pod per node
# (the deployments lab's web).
WEB = WEB_DEPLOYMENT

# The node whose kubelet falls silent in cluster-lost-node, and the one cluster-maintenance drains.
LOST_NODE = "node-2"
MAINTENANCE_NODE = "node-3"
# Long enough for the node lifecycle controller to notice a silent kubelet (its grace period is 40 s).
SILENCE_SECONDS = 60
# How long the start states let virtual time run: enough to schedule and start the Pods.
SETTLE_SECONDS = 10


def _ready(node: dict[str, Any]) -> str:
    """The Node's Ready condition status: True, False or Unknown (no condition yet: Unknown)."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status", "Unknown"))
    return "Unknown"


def _web_problem(view: ClusterView, nodes: dict[str, dict[str, Any]], avoid: str | None = None) -> str | None:
    """What keeps Deployment web from running all its replicas on Ready nodes (other than ``avoid``)."""
    deployment = view.get("deployments", "web")
    if deployment is None:
        return "there is no Deployment web: run the exercise's setup cell again"
    wanted = int((deployment.get("spec") or {}).get("replicas", 1))
    pods = [p for p in view.list("pods", selector="app=web") if not (p.get("metadata") or {}).get("deletionTimestamp")]
    running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"]
    for pod in running:
        node = (pod.get("spec") or {}).get("nodeName", "")
        name = pod["metadata"]["name"]
        if node == avoid:
            return f"Pod {name} still runs on {avoid}: its Pods must move before the maintenance"
        if node not in nodes or _ready(nodes[node]) != "True":
            return f"Pod {name} is on {node or 'no node'}, which is not Ready"
    if len(running) < wanted:
        return (f"Deployment web has {len(running)} Running Pod(s) of {wanted}: let time pass "
                "(%minik8s advance 10s) so the replacements are scheduled and started")
    return None


# --- cluster-join ----------------------------------------------------------------------------

@exercise("cluster-join", hint="Add a node named node-4 with the label disk=ssd, and let it become Ready.", nodes=3)
def cluster_join(view: ClusterView) -> str | None:
    node = view.get("nodes", "node-4", namespace=None)
    if node is None:
        return "there is no Node node-4: a new machine joins with %minik8s node add (kubeadm join on real machines)"
    labels = (node.get("metadata") or {}).get("labels") or {}
    if labels.get("disk") != "ssd":
        found = f"disk={labels['disk']}" if "disk" in labels else "no label disk"
        return (f"node-4 has {found}, not disk=ssd: give it with --label disk=ssd when it joins "
                "(the kubelet's --node-labels), or kubectl label node node-4 disk=ssd --overwrite")
    if _ready(node) != "True":
        return "node-4 is not Ready yet: its kubelet has to post its status (%minik8s advance 10s)"
    return None


@cluster_join.start
def _join_start(cluster: "Cluster") -> None:
    """The lab's three nodes as they are: the machine has not joined yet."""
    cluster.run_until_stable()


@cluster_join.solution
def _join_solution(cluster: "Cluster") -> None:
    cluster.add_node("node-4", labels={"disk": "ssd"})


# --- cluster-lost-node -----------------------------------------------------------------------

@exercise("cluster-lost-node",
          hint="Find the node that is not Ready and remove it (kubectl delete node), so web runs on Ready nodes.",
          nodes=3)
def cluster_lost_node(view: ClusterView) -> str | None:
    nodes = {n["metadata"]["name"]: n for n in view.list("nodes", namespace=None)}
    silent = sorted(name for name, node in nodes.items() if _ready(node) != "True")
    if silent:
        leases = {lease["metadata"]["name"]: (lease.get("spec") or {}).get("renewTime", "never")
                  for lease in view.list("leases", namespace="kube-node-lease")}
        return (f"{', '.join(silent)} is not Ready (its kubelet last renewed its Lease at "
                f"{leases.get(silent[0], 'never')}): the machine is gone, so remove its Node")
    return _web_problem(view, nodes)


@cluster_lost_node.start
def _lost_start(cluster: "Cluster") -> None:
    cluster.apply(WEB)
    cluster.advance(SETTLE_SECONDS)
    cluster.stop_kubelet(LOST_NODE)
    cluster.advance(SILENCE_SECONDS)


@cluster_lost_node.solution
def _lost_solution(cluster: "Cluster") -> None:
    cluster.kubectl(f"delete node {LOST_NODE}")
    cluster.advance(SETTLE_SECONDS)


# --- cluster-maintenance ---------------------------------------------------------------------

@exercise("cluster-maintenance",
          hint="Drain node-3: no new Pods go there, web's Pods run elsewhere, and the Node stays.", nodes=3)
def cluster_maintenance(view: ClusterView) -> str | None:
    nodes = {n["metadata"]["name"]: n for n in view.list("nodes", namespace=None)}
    node = nodes.get(MAINTENANCE_NODE)
    if node is None:
        return (f"there is no Node {MAINTENANCE_NODE} any more: after the maintenance it comes back, so "
                "keep the Node and mark it unschedulable instead (start again with the setup cell)")
    if not (node.get("spec") or {}).get("unschedulable"):
        return (f"{MAINTENANCE_NODE} is still schedulable: new Pods may land on it "
                f"(kubectl cordon {MAINTENANCE_NODE}, or drain, which cordons first)")
    return _web_problem(view, nodes, avoid=MAINTENANCE_NODE)


@cluster_maintenance.start
def _maintenance_start(cluster: "Cluster") -> None:
    cluster.apply(WEB)
    cluster.advance(SETTLE_SECONDS)


@cluster_maintenance.solution
def _maintenance_solution(cluster: "Cluster") -> None:
    cluster.kubectl(f"drain {MAINTENANCE_NODE} --ignore-daemonsets")
    cluster.advance(SETTLE_SECONDS)

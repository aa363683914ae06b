"""Checks for chapter 2, Kubernetes and its architecture (labs/02-architecture.ipynb).

The exercises make the student use the parts of a cluster the chapter names:

* ``architecture-node``: find which node's kubelet runs a Pod (the scheduler's binding
  is ``spec.nodeName``) and label that Node object;
* ``architecture-bypass``: create a Pod that names its node itself, so the scheduler
  never sees it and the kubelet of that node starts it anyway (no ``Scheduled`` event);
* ``architecture-desired``: declare desired state (the seed's "keep apache running")
  as a Deployment of two ``httpd`` replicas and let the controllers converge on it.

Every check reads the cluster with ``kubectl get -o json`` (a
:class:`~minik8s.lab.session.ClusterView`), so it works on minik8s and on a real cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The Pod the lab follows through the cluster (and the start state of architecture-node).
NGINX_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - name: container-0
    image: nginx:alpine
"""

PINNED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: pinned
spec:
  nodeName: node-2
  containers:
  - name: web
    image: nginx:alpine
"""

APACHE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: apache
spec:
  replicas: 2
  selector:
    matchLabels:
      app: apache
  template:
    metadata:
      labels:
        app: apache
    spec:
      containers:
      - name: httpd
        image: httpd:2.4
"""

# How long the solutions let virtual time run: enough to pull images and start containers.
SETTLE_SECONDS = 10


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _images(pod_spec: dict[str, Any]) -> list[str]:
    return [str(c.get("image", "")) for c in pod_spec.get("containers") or []]


# --- architecture-node ---------------------------------------------------------------------

@exercise("architecture-node", hint="Label the node that runs the Pod nginx with role=web.", nodes=3)
def architecture_node(view: ClusterView) -> str | None:
    pod = view.get("pods", "nginx")
    if pod is None:
        return "there is no Pod named nginx in namespace default: run the setup cell above first"
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        return "Pod nginx is not scheduled yet: let time pass (%minik8s advance 10s) and look again"
    labelled = [n["metadata"]["name"] for n in view.list("nodes", namespace=None)
                if _labels(n).get("role") == "web"]
    if node_name in labelled and len(labelled) == 1:
        return None
    wrong = [name for name in labelled if name != node_name]
    if wrong:
        return (f"{', '.join(wrong)} carries role=web, but Pod nginx does not run there: "
                "kubectl get pod nginx -o wide shows its NODE (remove a label with kubectl label node NAME role-)")
    return "no node has the label role=web yet: find Pod nginx's node (kubectl get pod nginx -o wide) and label it"


@architecture_node.start
def _node_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)
    cluster.advance(SETTLE_SECONDS)


@architecture_node.solution
def _node_solution(cluster: "Cluster") -> None:
    pod = cluster.kubectl("get pod nginx -o jsonpath={.spec.nodeName}").strip()
    cluster.kubectl(f"label node {pod} role=web")


# --- architecture-bypass -------------------------------------------------------------------

@exercise("architecture-bypass", hint="Create a Pod pinned whose spec.nodeName is node-2.", nodes=3)
def architecture_bypass(view: ClusterView) -> str | None:
    pod = view.get("pods", "pinned")
    if pod is None:
        return "there is no Pod named pinned in namespace default"
    spec = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid")
    scheduled = [e for e in view.list("events")
                 if e.get("reason") == "Scheduled" and (e.get("involvedObject") or {}).get("uid") == uid]
    if scheduled:
        return ("the scheduler placed Pod pinned (it has a Scheduled event): set spec.nodeName yourself, "
                "so that no scheduler is involved (delete the Pod and create it again)")
    if spec.get("nodeName") != "node-2":
        return f"Pod pinned runs on {spec.get('nodeName') or 'no node'}, not on node-2: set spec.nodeName: node-2"
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        return f"Pod pinned is {phase or 'not started'}: let node-2's kubelet start it (%minik8s advance 10s)"
    return None


@architecture_bypass.start
def _bypass_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)


@architecture_bypass.solution
def _bypass_solution(cluster: "Cluster") -> None:
    cluster.apply(PINNED_POD)
    cluster.advance(SETTLE_SECONDS)


# --- architecture-desired ------------------------------------------------------------------

@exercise("architecture-desired", hint="Create a Deployment apache with 2 replicas of the httpd image.", nodes=3)
def architecture_desired(view: ClusterView) -> str | None:
    deployment = view.get("deployments", "apache")
    if deployment is None:
        return "there is no Deployment named apache in namespace default"
    spec = deployment.get("spec") or {}
    if spec.get("replicas") != 2:
        return f"Deployment apache asks for {spec.get('replicas')} replicas; the exercise wants 2"
    images = _images((spec.get("template") or {}).get("spec") or {})
    if not any(image.split("@")[0].split(":")[0].rsplit("/", 1)[-1] == "httpd" for image in images):
        return f"Deployment apache should run the httpd image (Apache), not {', '.join(images) or 'nothing'}"
    available = (deployment.get("status") or {}).get("availableReplicas") or 0
    if available != 2:
        return f"Deployment apache has {available} available replica(s) of 2: let time pass (%minik8s advance 10s)"
    return None


@architecture_desired.start
def _desired_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)


@architecture_desired.solution
def _desired_solution(cluster: "Cluster") -> None:
    cluster.apply(APACHE_DEPLOYMENT)
    cluster.advance(SETTLE_SECONDS)

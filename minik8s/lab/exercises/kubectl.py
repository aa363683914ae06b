"""Checks for chapter 3, kubectl (labs/03-kubectl.ipynb): manifests that the API server accepts, and
reading an object's status with ``-o jsonpath``.

* ``kubectl-fix``: the lab ships a manifest with three mistakes (a misspelt field, a name that is not a
  valid DNS subdomain, an unsupported ``imagePullPolicy``); the API server rejects each in turn, and the
  student fixes them until ``kubectl create`` accepts the Pod ``web-1``.
* ``kubectl-jsonpath``: read the node the Pod ``nginx`` runs on (``.spec.nodeName``, written by the
  scheduler) with ``-o jsonpath`` and copy it into a label ``node=<name>`` on the same Pod.

Both checks read the cluster through :class:`~minik8s.lab.session.ClusterView` only, so they work on a
real cluster too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The seed's Pod, as the lab creates it (chapter 3 shows it in YAML and in JSON).
NGINX_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
spec:
  containers:
  - image: nginx:alpine
    name: container-0
    resources:
      limits:
        cpu: 100m
        memory: 200Mi
      requests:
        cpu: 100m
        memory: 200Mi
"""

# The broken manifest of exercise kubectl-fix, exactly as the lab prints it.
BROKEN_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: Web_1
  labels:
    app: web
spec:
  contianers:
  - name: web
    image: nginx:alpine
    imagePullPolicy: Sometimes
"""

FIXED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  labels:
    app: web
spec:
  containers:
  - name: web
    image: nginx:alpine
    imagePullPolicy: IfNotPresent
"""


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


@exercise("kubectl-fix", hint="Fix the three mistakes in the manifest and create the Pod web-1.", nodes=1)
def kubectl_fix(view: ClusterView) -> str | None:
    pod = view.get("pods", "web-1")
    if pod is None:
        return ("there is no Pod named web-1 yet: fix the manifest (kubectl names one mistake at a time) "
                "and create it")
    if _labels(pod).get("app") != "web":
        return "Pod web-1 must keep the label app=web from the manifest"
    containers = _containers(pod)
    if [c.get("name") for c in containers] != ["web"]:
        return "Pod web-1 must have exactly one container, named web, as in the manifest"
    if containers[0].get("image") != "nginx:alpine":
        return f"the container web must run nginx:alpine, not {containers[0].get('image')}"
    return None


@kubectl_fix.start
def _fix_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)


@kubectl_fix.solution
def _fix_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["create", "-f", "-"], stdin=FIXED_POD)


@exercise("kubectl-jsonpath", hint="Label the Pod nginx with node=<the node it runs on>.", nodes=3)
def kubectl_jsonpath(view: ClusterView) -> str | None:
    pod = view.get("pods", "nginx")
    if pod is None:
        return "there is no Pod named nginx in namespace default: run the cell that creates it first"
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        return "Pod nginx is not scheduled yet: advance the clock (%minik8s advance 30s) and try again"
    label = _labels(pod).get("node")
    if label is None:
        return "Pod nginx has no label node yet: read .spec.nodeName with -o jsonpath, then kubectl label"
    if label != node:
        # Do not give the answer away: say only that it is wrong and where to look.
        return f"Pod nginx has node={label}, but that is not the node it runs on (look at .spec.nodeName)"
    return None


@kubectl_jsonpath.start
def _jsonpath_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)
    cluster.advance(30)


@kubectl_jsonpath.solution
def _jsonpath_solution(cluster: "Cluster") -> None:
    node = cluster.kubectl("get pod nginx -o jsonpath={.spec.nodeName}").strip()
    cluster.kubectl(["label", "pod", "nginx", f"node={node}"])

"""Checks for the sample lab (labs/00-sample.ipynb): labels and namespaces.

The lab creates the seed's Pod ``nginx`` (labels ``app=nginx``, ``env=prod``); the
exercises then ask the student to label it and to make a Pod in a new namespace.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The seed's labelled Pod, as the lab applies it.
NGINX_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels:
    app: nginx
    env: prod
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

WEB_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
  labels:
    app: web
spec:
  containers:
  - image: nginx:alpine
    name: web
"""


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def _show(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none"


@exercise("sample-labels", hint="Add the label tier=frontend to the Pod nginx.", nodes=0)
def sample_labels(view: ClusterView) -> str | None:
    pod = view.get("pods", "nginx")
    if pod is None:
        return "there is no Pod named nginx in namespace default: run the %%kubectl apply cell above first"
    labels = _labels(pod)
    if "tier" not in labels:
        return f"Pod nginx has no label tier yet (its labels: {_show(labels)}); kubectl label can add one"
    if labels["tier"] != "frontend":
        return f"Pod nginx has tier={labels['tier']}, but the exercise asks for tier=frontend"
    if labels.get("app") != "nginx":
        return "Pod nginx lost its label app=nginx: add labels, do not replace them"
    return None


@sample_labels.start
def _labels_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)


@sample_labels.solution
def _labels_solution(cluster: "Cluster") -> None:
    cluster.kubectl("label pod nginx tier=frontend")


@exercise("sample-namespace", hint="Create the namespace team-a and, in it, a Pod web labelled app=web.", nodes=0)
def sample_namespace(view: ClusterView) -> str | None:
    if view.get("namespaces", "team-a", namespace=None) is None:
        return "there is no namespace team-a yet: kubectl create namespace makes one"
    pod = view.get("pods", "web", namespace="team-a")
    if pod is None:
        if view.get("pods", "web", namespace="default") is not None:
            return "Pod web is in namespace default: create it in team-a (-n team-a, or metadata.namespace)"
        return "there is no Pod named web in namespace team-a"
    labels = _labels(pod)
    if labels.get("app") != "web":
        return f"Pod web must have the label app=web (its labels: {_show(labels)})"
    images = [c.get("image", "") for c in pod.get("spec", {}).get("containers", [])]
    if not any(image.startswith("nginx") for image in images):
        return f"Pod web should run an nginx image, not {', '.join(images)}"
    return None


@sample_namespace.start
def _namespace_start(cluster: "Cluster") -> None:
    cluster.apply(NGINX_POD)


@sample_namespace.solution
def _namespace_solution(cluster: "Cluster") -> None:
    cluster.kubectl("create namespace team-a")
    cluster.apply(WEB_POD)

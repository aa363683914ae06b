"""Checks for the namespaces lab (labs/06-namespaces.ipynb, chapter 06-namespaces).

Before the exercises the lab creates the namespace ``scratch`` with two Pods in it,
and a Pod ``api`` in ``default`` that belongs elsewhere (:data:`START`). The
exercises ask the student to create two namespaces that each hold a Pod of the
same name, to "move" ``api`` into ``dev`` (a Pod's namespace cannot change: create
it again there and delete the old one), and to delete ``scratch`` with everything
in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

START = """\
apiVersion: v1
kind: Namespace
metadata:
  name: scratch
---
apiVersion: v1
kind: Pod
metadata:
  name: old-web
  namespace: scratch
spec:
  containers:
  - name: main
    image: nginx:alpine
---
apiVersion: v1
kind: Pod
metadata:
  name: old-db
  namespace: scratch
spec:
  containers:
  - name: main
    image: nginx:alpine
---
apiVersion: v1
kind: Pod
metadata:
  name: api
  labels:
    app: api
spec:
  containers:
  - name: main
    image: nginx:alpine
"""

# What exercise 2 asks for: the same Pod, in namespace dev.
API_IN_DEV = """\
apiVersion: v1
kind: Pod
metadata:
  name: api
  namespace: dev
  labels:
    app: api
spec:
  containers:
  - name: main
    image: nginx:alpine
"""


def _images(pod: dict[str, Any]) -> list[str]:
    return [c.get("image", "") for c in (pod.get("spec") or {}).get("containers") or []]


def _start(cluster: "Cluster") -> None:
    cluster.apply(START)


def _phase(ns: dict[str, Any]) -> str:
    return str((ns.get("status") or {}).get("phase", ""))


# --- 1: the same name in two namespaces -----------------------------------------------------

@exercise("namespaces-same-name", nodes=0,
          hint="Create the namespaces dev and prod, and in each of them a Pod named web running nginx:alpine.")
def namespaces_same_name(view: ClusterView) -> str | None:
    for ns in ("dev", "prod"):
        if view.get("namespaces", ns, namespace=None) is None:
            return f"there is no namespace {ns} yet: kubectl create namespace {ns}"
    for ns in ("dev", "prod"):
        pod = view.get("pods", "web", namespace=ns)
        if pod is None:
            return f"there is no Pod web in namespace {ns} (use -n {ns})"
        if not any(image.startswith("nginx") for image in _images(pod)):
            return f"Pod web in {ns} runs {', '.join(_images(pod))}; the exercise asks for nginx:alpine"
    return None


@namespaces_same_name.start
def _same_name_start(cluster: "Cluster") -> None:
    _start(cluster)


@namespaces_same_name.solution
def _same_name_solution(cluster: "Cluster") -> None:
    for ns in ("dev", "prod"):
        cluster.kubectl(f"create namespace {ns}")
        cluster.kubectl(f"run web --image=nginx:alpine -n {ns}")


# --- 2: "moving" a Pod to another namespace -------------------------------------------------

@exercise("namespaces-move", nodes=0,
          hint="Pod api belongs in namespace dev: create it there (same labels and image) and delete it from default.")
def namespaces_move(view: ClusterView) -> str | None:
    if view.get("namespaces", "dev", namespace=None) is None:
        return "there is no namespace dev yet: create it first (exercise 1)"
    moved = view.get("pods", "api", namespace="dev")
    if moved is None:
        return "there is no Pod api in namespace dev: a Pod's namespace cannot be changed, create it again in dev"
    labels = (moved.get("metadata") or {}).get("labels") or {}
    if labels.get("app") != "api":
        return "Pod api in dev must keep the label app=api"
    if not any(image.startswith("nginx") for image in _images(moved)):
        return f"Pod api in dev runs {', '.join(_images(moved))}; keep the image nginx:alpine"
    if view.get("pods", "api", namespace="default") is not None:
        return "Pod api is still in namespace default: delete the old one"
    return None


@namespaces_move.start
def _move_start(cluster: "Cluster") -> None:
    _start(cluster)


@namespaces_move.solution
def _move_solution(cluster: "Cluster") -> None:
    cluster.kubectl("create namespace dev")
    cluster.apply(API_IN_DEV)
    cluster.kubectl("delete pod api")


# --- 3: deleting a namespace deletes what is in it ------------------------------------------

@exercise("namespaces-delete", nodes=0,
          hint="Delete the namespace scratch; its Pods go with it.")
def namespaces_delete(view: ClusterView) -> str | None:
    ns = view.get("namespaces", "scratch", namespace=None)
    if ns is not None:
        if _phase(ns) == "Terminating":
            return "namespace scratch is Terminating: its contents are being deleted, check again in a moment"
        left = [p["metadata"]["name"] for p in view.list("pods", namespace="scratch")]
        if left:
            return (f"namespace scratch still exists, with Pod(s) {', '.join(left)}: delete the namespace itself, "
                    "not only its Pods")
        return "namespace scratch still exists: kubectl delete namespace scratch"
    return None


@namespaces_delete.start
def _delete_start(cluster: "Cluster") -> None:
    _start(cluster)


@namespaces_delete.solution
def _delete_solution(cluster: "Cluster") -> None:
    cluster.kubectl("delete namespace scratch")

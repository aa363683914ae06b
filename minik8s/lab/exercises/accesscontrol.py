"""Checks for the access-control lab (labs/16-access-control.ipynb, chapter 16).

Three exercises, each about one decision the API server makes for a ServiceAccount:

* ``access-reader``: the ServiceAccount ``reader`` may get, list and watch Pods in
  the lab's namespace, and may not delete them or read Secrets (least privilege:
  binding ``edit`` or ``admin`` fails the check).
* ``access-lister``: the Pod ``lister`` runs as the ServiceAccount ``lister``,
  which may list Pods in the namespace (the lab's program inside that Pod calls
  the API with the official client's ``load_incluster_config()``).
* ``access-no-token``: the Pod ``quiet`` gets no API credential at all:
  ``automountServiceAccountToken: false``, so no token volume is mounted.

The checks ask the API server itself whether a ServiceAccount may do something, with
a SubjectAccessReview (``kubectl create -f - -o json``): the same question
``kubectl auth can-i --as`` asks, but one a grader may ask without the right to
impersonate. So they work in-process, on a real cluster, and on a shared class
cluster through ``minik8s grade --namespaces-from`` (the student's namespace stands
in for ``default``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView, LabError

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The program the lab runs in the Pod lister: list the Pods of its own namespace as its ServiceAccount.
LISTER_SCRIPT = """\
import time
from kubernetes import client, config
from kubernetes.client.rest import ApiException

config.load_incluster_config()
namespace = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
while True:
    try:
        pods = client.CoreV1Api().list_namespaced_pod(namespace)
        print("allowed:", sorted(p.metadata.name for p in pods.items), flush=True)
    except ApiException as exc:
        print("refused:", exc.status, exc.reason, flush=True)
    time.sleep(5)
"""


def lister_pod(namespace: str = "default") -> str:
    """The Pod ``lister`` (the ``python`` image running :data:`LISTER_SCRIPT`) as the ServiceAccount lister."""
    script = "\n".join("      " + line for line in LISTER_SCRIPT.splitlines())
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: lister
  namespace: {namespace}
spec:
  serviceAccountName: lister
  containers:
  - name: lister
    image: python:3.12
    command: ["python", "-c"]
    args:
    - |
{script}
"""


QUIET_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: quiet
spec:
  automountServiceAccountToken: false
  containers:
  - name: web
    image: nginx:alpine
"""


def may(view: ClusterView, serviceaccount: str, verb: str, resource: str, group: str = "") -> bool:
    """Whether ServiceAccount ``serviceaccount`` of the view's namespace may ``verb`` ``resource`` there,
    as the API server's authorizer answers a SubjectAccessReview."""
    namespace = view.namespace
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": f"system:serviceaccount:{namespace}:{serviceaccount}",
                       "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                                  "system:authenticated"],
                       "resourceAttributes": {"namespace": namespace, "verb": verb, "group": group,
                                              "resource": resource}}}
    result = view.kubectl(["create", "-f", "-", "-o", "json"], stdin=json.dumps(review))
    if not result.ok:
        raise LabError(result.err.strip() or "kubectl create subjectaccessreview failed")
    try:
        answer = json.loads(result.out)
    except json.JSONDecodeError:
        raise LabError("kubectl printed something that is not JSON") from None
    return bool((answer.get("status") or {}).get("allowed"))


def _serviceaccount_problem(view: ClusterView, name: str) -> str | None:
    if view.get("serviceaccounts", name) is None:
        return f"there is no ServiceAccount {name} in namespace {view.namespace}"
    return None


# --- access-reader -------------------------------------------------------------------------------

@exercise("access-reader", hint="Create the ServiceAccount reader, a Role that may get, list and watch pods, "
                                "and a RoleBinding of that Role to the ServiceAccount.")
def access_reader(view: ClusterView) -> str | None:
    problem = _serviceaccount_problem(view, "reader")
    if problem:
        return problem
    missing = [verb for verb in ("get", "list", "watch") if not may(view, "reader", verb, "pods")]
    if missing:
        return f"ServiceAccount reader may not {', '.join(missing)} pods yet: bind it to a Role that allows them"
    if may(view, "reader", "delete", "pods"):
        return "ServiceAccount reader may delete pods: it should only read them (a Role with get, list, watch)"
    if may(view, "reader", "get", "secrets"):
        return "ServiceAccount reader may read secrets: grant pods only, not a broad role such as view or edit"
    return None


@access_reader.start
def _(cluster: "Cluster") -> None:
    pass  # nothing: the student creates the ServiceAccount, the Role and the RoleBinding


@access_reader.solution
def _(cluster: "Cluster") -> None:
    cluster.kubectl("create serviceaccount reader")
    cluster.kubectl("create role pod-reader --verb=get,list,watch --resource=pods")
    cluster.kubectl("create rolebinding reader-pods --role=pod-reader --serviceaccount=default:reader")


# --- access-lister -------------------------------------------------------------------------------

@exercise("access-lister", hint="Bind the ServiceAccount lister to a Role that may list pods, then watch the "
                                "Pod lister's log change from refused to allowed.")
def access_lister(view: ClusterView) -> str | None:
    problem = _serviceaccount_problem(view, "lister")
    if problem:
        return problem
    pod = view.get("pods", "lister")
    if pod is None:
        return f"there is no Pod named lister in namespace {view.namespace}"
    account = (pod.get("spec") or {}).get("serviceAccountName") or "default"
    if account != "lister":
        return f"Pod lister runs as the ServiceAccount {account}; it should run as lister"
    if not may(view, "lister", "list", "pods"):
        return "ServiceAccount lister may not list pods yet: the program in Pod lister gets 403 Forbidden"
    if may(view, "lister", "delete", "pods"):
        return "ServiceAccount lister may delete pods: it only needs to list them"
    return None


@access_lister.start
def _(cluster: "Cluster") -> None:
    cluster.kubectl("create serviceaccount lister")
    cluster.apply(lister_pod())


@access_lister.solution
def _(cluster: "Cluster") -> None:
    cluster.kubectl("create role pod-lister --verb=list --resource=pods")
    cluster.kubectl("create rolebinding lister-pods --role=pod-lister --serviceaccount=default:lister")


# --- access-no-token -----------------------------------------------------------------------------

def _token_volumes(pod: dict) -> list[str]:
    """Volumes that put a ServiceAccount token in the Pod (a projected serviceAccountToken source)."""
    names = []
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        sources = (volume.get("projected") or {}).get("sources") or []
        if any("serviceAccountToken" in source for source in sources):
            names.append(volume.get("name", "?"))
    return names


@exercise("access-no-token", hint="Create the Pod quiet with automountServiceAccountToken: false.")
def access_no_token(view: ClusterView) -> str | None:
    pod = view.get("pods", "quiet")
    if pod is None:
        return f"there is no Pod named quiet in namespace {view.namespace}"
    mounted = _token_volumes(pod)
    if mounted or (pod.get("spec") or {}).get("automountServiceAccountToken") is not False:
        where = f" (volume {', '.join(mounted)})" if mounted else ""
        return (f"Pod quiet gets a ServiceAccount token{where}: set automountServiceAccountToken: false in its spec "
                f"and create it again (a Pod's volumes cannot change)")
    return None


@access_no_token.start
def _(cluster: "Cluster") -> None:
    cluster.apply(QUIET_POD.replace("  automountServiceAccountToken: false\n", ""))


@access_no_token.solution
def _(cluster: "Cluster") -> None:
    cluster.kubectl("delete pod quiet")
    cluster.apply(QUIET_POD)

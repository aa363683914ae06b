"""Checks for the Ingress and NetworkPolicy lab (labs/14-ingress.ipynb, chapter 14).

Three exercises:

* ``ingress-hosts``: one Ingress sends ``shop.example`` to the Service shop and ``blog.example`` to
  the Service blog (name-based virtual hosting).
* ``netpol-db``: a NetworkPolicy lets only Pods labelled ``app=frontend`` reach the database on its
  port, 6379; everything else keeps working as before.
* ``ingress-404``: ``http://docs.example/guide/intro`` gets a 404 from the ingress controller; find
  why (the path's ``pathType``) and fix the Ingress.

The Ingress checks decide each request as the ingress controller does
(:mod:`minik8s.ingress.routing`, from the Ingresses ``kubectl get -o json`` shows) and, on an
in-process minik8s cluster, also send it through the controller (``Cluster.http_get``) and look at
the answer: the Pod's name from the echo server. The NetworkPolicy check asks the decision module
(:mod:`minik8s.lab.netpol`) about a matrix of connections, so it judges what the policies say on any
cluster, whether or not its network plugin enforces them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.ingress.routing import RouteTable
from minik8s.lab.checks import exercise
from minik8s.lab.exercises.services import ECHO_PORT, echo_deployment, endpoints, is_ready
from minik8s.lab.netpol import matrix
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
DB_PORT = 6379


def echo_service(name: str) -> str:
    """A Service ``name`` on port 80 in front of the echo Pods ``app=<name>``."""
    return f"""\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    targetPort: {ECHO_PORT}
"""


def echo_app(name: str, replicas: int = 2) -> str:
    """A Deployment of echo Pods and its Service, both named ``name``."""
    return echo_deployment(name).replace("replicas: 3", f"replicas: {replicas}") + "---\n" + echo_service(name)


# --- reading Ingresses ------------------------------------------------------------------------

def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def default_class(view: ClusterView) -> str | None:
    """The IngressClass marked as the cluster's default (None when no class is)."""
    for cls in view.list("ingressclasses", namespace=None):
        if ((cls.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
            return _name(cls)
    return None


def served(view: ClusterView) -> tuple[list[dict[str, Any]], list[str]]:
    """The Ingresses of the default namespace that the default class's controller serves, and a hint
    for each one it ignores (a class that does not exist or is another controller's)."""
    classes = {_name(c) for c in view.list("ingressclasses", namespace=None)}
    default = default_class(view)
    ours, ignored = [], []
    for ing in view.list("ingresses"):
        wanted = (ing.get("spec") or {}).get("ingressClassName") or default
        if wanted == default and wanted is not None:
            ours.append(ing)
        elif wanted not in classes:
            ignored.append(f"Ingress {_name(ing)} asks for IngressClass {wanted}, which does not exist, so no "
                           f"controller serves it (kubectl get ingressclass)")
        else:
            ignored.append(f"Ingress {_name(ing)} belongs to IngressClass {wanted}, not to the default class {default}")
    return ours, ignored


def route(view: ClusterView, host: str, path: str) -> tuple[str, int | str] | None:
    """(Service, port) the ingress controller sends ``http://host/path`` to; None: its 404."""
    ours, _ = served(view)
    found = RouteTable.build(ours).match(host, path)
    return None if found is None else (found.backend.service, found.backend.port)


def _pods_of(view: ClusterView, app: str) -> set[str]:
    return {_name(p) for p in view.list("pods", selector=f"app={app}")}


def _live_answer(view: ClusterView, host: str, path: str) -> tuple[int, str] | None:
    """The ingress controller's answer to ``http://host/path`` on an in-process cluster (None elsewhere)."""
    cluster = getattr(view.backend, "cluster", None)
    if cluster is None or getattr(cluster, "ingress", None) is None:
        return None
    status, body = cluster.http_get(host, path)
    return status, body.strip()


def _request_problem(view: ClusterView, host: str, path: str, service: str) -> str | None:
    """None when ``http://host/path`` reaches a Pod of ``service`` (port 80) through the ingress."""
    where = route(view, host, path)
    if where is None:
        return f"a request for http://{host}{path} matches no rule of any Ingress: the controller answers 404"
    target, port = where
    if target != service:
        return f"http://{host}{path} goes to the Service {target or where}, but should go to {service}"
    if port not in (80, "http"):
        return (f"the rule for http://{host}{path} names port {port} of the Service {service}; an Ingress backend "
                f"names the Service's port (80), not the Pods' ({ECHO_PORT})")
    if not any(is_ready(e) for e in endpoints(view, service)):
        return f"the Service {service} has no ready endpoints, so the controller would answer 503; let time pass"
    answer = _live_answer(view, host, path)
    if answer is not None and (answer[0] != 200 or answer[1] not in _pods_of(view, service)):
        return f"http://{host}{path} through the ingress controller answered {answer[0]} {answer[1][:60]!r}"
    return None


# --- exercise 1: two hosts, two Services ------------------------------------------------------

@exercise("ingress-hosts", hint="Create an Ingress that sends shop.example to the Service shop and blog.example "
                                "to the Service blog (both on port 80).")
def ingress_hosts(view: ClusterView) -> str | None:
    ours, ignored = served(view)
    if not ours:
        return "; ".join(ignored) or ("there is no Ingress in namespace default yet (kubectl create ingress NAME "
                                      "--rule=HOST/PATH=SERVICE:PORT ...)")
    for host, service in (("shop.example", "shop"), ("blog.example", "blog")):
        problem = _request_problem(view, host, "/", service) or _request_problem(view, host, "/any/page", service)
        if problem:
            return problem
    other = route(view, "other.example", "/")
    if other is not None:
        return (f"a request for another host (other.example) goes to the Service {other[0]} too: give every rule "
                "its host, so that only shop.example and blog.example are routed")
    return None


@ingress_hosts.start
def _hosts_start(cluster: "Cluster") -> None:
    cluster.apply(echo_app("shop") + "---\n" + echo_app("blog"))
    cluster.advance(30)


@ingress_hosts.solution
def _hosts_solution(cluster: "Cluster") -> None:
    cluster.kubectl("create ingress sites --rule=shop.example/*=shop:80 --rule=blog.example/*=blog:80")
    cluster.advance(5)


# --- exercise 2: only the frontend reaches the database ---------------------------------------

DB_PODS = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: db
  labels: {{app: db}}
spec:
  containers:
  - name: redis
    image: redis:7
    ports:
    - containerPort: {DB_PORT}
---
apiVersion: v1
kind: Pod
metadata:
  name: frontend
  labels: {{app: frontend}}
spec:
  containers:
  - name: web
    image: nginx
---
apiVersion: v1
kind: Pod
metadata:
  name: batch
  labels: {{app: batch}}
spec:
  containers:
  - name: web
    image: nginx
"""

DB_POLICY = f"""\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-from-frontend
spec:
  podSelector:
    matchLabels: {{app: db}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector:
        matchLabels: {{app: frontend}}
    ports:
    - port: {DB_PORT}
"""


@exercise("netpol-db", hint=f"Write a NetworkPolicy that lets only Pods labelled app=frontend reach the Pod db, "
                            f"on port {DB_PORT}.")
def netpol_db(view: ClusterView) -> str | None:
    missing = [p for p in ("db", "frontend", "batch") if view.get("pods", p) is None]
    if missing:
        return f"Pod(s) {', '.join(missing)} are gone: run the cell that creates db, frontend and batch again"
    pods = ["default/db", "default/frontend", "default/batch"]
    on_db = matrix(pods, DB_PORT, source=view, show=False)
    on_80 = matrix(pods, 80, source=view, show=False)
    if not on_db[("default/frontend", "default/db")]:
        return f"frontend cannot reach db on port {DB_PORT} any more: the policy must allow that one flow"
    if on_db[("default/batch", "default/db")]:
        if not view.list("networkpolicies"):
            return (f"there is no NetworkPolicy in namespace default, so every Pod reaches db (batch too): "
                    f"select db with a policy that allows ingress from app=frontend on port {DB_PORT}")
        return (f"batch still reaches db on port {DB_PORT}: a policy that selects db must allow ingress from "
                "app=frontend only (an empty 'from' or a podSelector {} allows every Pod)")
    if on_80[("default/frontend", "default/db")]:
        return (f"frontend may reach db on every port (80 too): list port {DB_PORT} in the rule's ports, so only "
                "the database's port is open")
    if not on_80[("default/frontend", "default/batch")] or not on_80[("default/batch", "default/frontend")]:
        return ("frontend and batch can no longer talk to each other: the policy must isolate db only (its "
                "podSelector selects app=db), not every Pod of the namespace")
    return None


@netpol_db.start
def _netpol_start(cluster: "Cluster") -> None:
    cluster.apply(DB_PODS)
    cluster.advance(20)


@netpol_db.solution
def _netpol_solution(cluster: "Cluster") -> None:
    cluster.apply(DB_POLICY)
    cluster.advance(2)


# --- exercise 3: why a 404? -------------------------------------------------------------------

DOCS_INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: docs
spec:
  rules:
  - host: docs.example
    http:
      paths:
      - path: /guide
        pathType: Exact
        backend:
          service:
            name: docs
            port:
              number: 80
"""


@exercise("ingress-404", hint="http://docs.example/guide/intro answers 404: find out why (kubectl describe ingress "
                              "docs) and fix the Ingress docs so that every page under /guide reaches the Service docs.")
def ingress_404(view: ClusterView) -> str | None:
    ingress = view.get("ingresses", "docs")
    if ingress is None:
        return "there is no Ingress docs any more: fix it rather than delete it"
    for path in ("/guide/intro", "/guide", "/guide/setup/linux"):
        problem = _request_problem(view, "docs.example", path, "docs")
        if problem:
            if path != "/guide/intro" and route(view, "docs.example", "/guide/intro") is not None:
                return (f"/guide/intro works now, but {problem}. One rule must cover /guide and every page under it "
                        "(which pathType matches element by element?)")
            return problem
    if route(view, "docs.example", "/guidebook") is not None:
        return ("http://docs.example/guidebook reaches docs too: /guidebook is not a page under /guide (pathType "
                "Prefix matches whole path elements, so keep the path /guide)")
    if route(view, "other.example", "/guide/intro") is not None:
        return "other hosts reach docs too: keep the rule's host docs.example"
    return None


@ingress_404.start
def _404_start(cluster: "Cluster") -> None:
    cluster.apply(echo_app("docs") + "---\n" + DOCS_INGRESS)
    cluster.advance(30)


@ingress_404.solution
def _404_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["patch", "ingress", "docs", "--type=json", "-p",
                     '[{"op":"replace","path":"/spec/rules/0/http/paths/0/pathType","value":"Prefix"}]'])
    cluster.advance(5)

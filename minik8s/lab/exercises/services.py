"""Checks for the Services lab (labs/13-services.ipynb, chapter 13).

Three exercises, each about one thing a Service does or fails to do:

* ``services-expose``: put a Service in front of a Deployment and reach it by
  name from a client Pod. The check reads the client's log, so it passes only
  when a request through the Service really got an answer from one of the Pods.
* ``services-readiness``: a readiness probe decides which Pods get traffic.
  Taking one Pod out of rotation leaves it ``Running`` (no restart) while the
  Service's ready endpoints drop from three to two.
* ``services-no-endpoints``: a Service whose selector matches no Pod has no
  endpoints and refuses connections; the fix is the selector, not the Pods.

Endpoints are read from the Service's EndpointSlices (label
``kubernetes.io/service-name``), as kube-proxy and the cluster DNS read them, so
the checks work the same on minik8s and on a real cluster. An endpoint whose
``ready`` condition is unset counts as ready, as the API defines it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The test server the lab's Deployments run: it answers every HTTP request with its Pod's name.
ECHO_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.39"
ECHO_PORT = 9376
CLIENT = "hello-client"


def echo_deployment(name: str) -> str:
    """A Deployment of three echo Pods labelled ``app=<name>``."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 3
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: {name}
        image: {ECHO_IMAGE}
        args: ["serve-hostname"]
        ports:
        - name: http
          containerPort: {ECHO_PORT}
"""


API = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 3
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: api
        image: nginx:alpine
        # create the file the readiness probe looks for, then run nginx as the image would
        command: ["sh", "-c", "touch /tmp/ready; nginx -g 'daemon off;'"]
        ports:
        - containerPort: 80
        readinessProbe:
          exec:
            command: ["cat", "/tmp/ready"]
          periodSeconds: 5
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector:
    app: api
  ports:
  - port: 80
"""

SHOP_SERVICE = f"""\
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shopp
  ports:
  - name: http
    port: 80
    targetPort: {ECHO_PORT}
"""


# --- reading Services and their endpoints ----------------------------------------------------

def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict(_meta(obj).get("labels") or {})


def selector_text(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service's selector (equality only) against a Pod's labels; an empty selector selects nothing
    (a Service without a selector gets no managed endpoints)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def is_ready(endpoint: dict[str, Any]) -> bool:
    """An EndpointSlice endpoint gets new traffic: ``ready`` true or unset."""
    return (endpoint.get("conditions") or {}).get("ready") is not False


def endpoints(view: ClusterView, service: str, namespace: str = "default") -> list[dict[str, Any]]:
    """Every endpoint of every EndpointSlice of ``service``."""
    slices = view.list("endpointslices", namespace=namespace, selector=f"kubernetes.io/service-name={service}")
    return [e for s in slices for e in s.get("endpoints") or []]


def _pod_of(endpoint: dict[str, Any]) -> str:
    return str((endpoint.get("targetRef") or {}).get("name") or "")


def _live_pods(view: ClusterView, selector: str) -> list[dict[str, Any]]:
    return sorted((p for p in view.list("pods", selector=selector) if not _meta(p).get("deletionTimestamp")),
                  key=lambda p: _meta(p).get("name", ""))


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(c.get("restartCount", 0)) for c in (pod.get("status") or {}).get("containerStatuses") or [])


def _ports_text(service: dict[str, Any]) -> str:
    return ", ".join(str(p.get("port")) for p in _spec(service).get("ports") or []) or "none"


def _port_80(service: dict[str, Any]) -> dict[str, Any] | None:
    return next((dict(p) for p in _spec(service).get("ports") or [] if p.get("port") == 80), None)


def _container_port(pods: list[dict[str, Any]], target: Any) -> int | None:
    """The port a Service's ``targetPort`` reaches on these Pods: a number as is, a name looked up
    in their container ports (None when no container declares it)."""
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for pod in pods:
        for container in _spec(pod).get("containers") or []:
            for port in container.get("ports") or []:
                if port.get("name") == target:
                    return int(port.get("containerPort", 0))
    return None


# --- exercise 1: expose a Deployment and reach it by name -----------------------------------------

@exercise("services-expose", hint="Expose the Deployment hello as a Service hello on port 80, then run a Pod "
                                  "hello-client that fetches http://hello.", nodes=3)
def services_expose(view: ClusterView) -> str | None:
    service = view.get("services", "hello")
    if service is None:
        return "there is no Service named hello in namespace default (kubectl expose makes one from a Deployment)"
    problem = _service_problem(view, service)
    if problem:
        return problem
    return _client_problem(view)


def _service_problem(view: ClusterView, service: dict[str, Any]) -> str | None:
    spec = _spec(service)
    if spec.get("type") == "ExternalName":
        return "Service hello is an ExternalName Service, a DNS alias: it sends nothing to the Pods"
    if spec.get("clusterIP") == "None":
        return ("Service hello is headless (clusterIP: None): its name resolves to the Pods themselves, on their "
                "own port, not to one address on port 80")
    port = _port_80(service)
    if port is None:
        return f"Service hello listens on port(s) {_ports_text(service)}; the exercise asks for port 80"
    selector = dict(spec.get("selector") or {})
    pods = _live_pods(view, "app=hello")
    if not any(matches(selector, _labels(p)) for p in pods):
        shown = selector_text(_labels(pods[0])) if pods else "none: is the Deployment hello still there?"
        return (f"Service hello selects {selector_text(selector)}, which matches none of the Pods of the "
                f"Deployment hello (their labels: {shown})")
    target = port.get("targetPort", 80)
    if _container_port(pods, target) != ECHO_PORT:
        return (f"Service hello sends port 80 to port {target} of the Pods, but they listen on {ECHO_PORT} "
                "(the Service's targetPort)")
    if not any(is_ready(e) for e in endpoints(view, "hello")):
        return "Service hello has no ready endpoints yet; let time pass (%minik8s advance 10s) and look again"
    return None


def _client_problem(view: ClusterView) -> str | None:
    client = view.get("pods", CLIENT)
    if client is None:
        return f"the Service looks right; now show that it works: run a Pod {CLIENT} that fetches http://hello once"
    words = [w for c in _spec(client).get("containers") or [] for w in (c.get("command") or []) + (c.get("args") or [])]
    if not any("//hello" in w or w.startswith(("hello.", "hello:")) or w == "hello" for w in words):
        return (f"{CLIENT} does not ask for the Service by its name ({' '.join(words) or 'no command'}); "
                "the exercise asks it to fetch http://hello")
    phase = (client.get("status") or {}).get("phase")
    if phase in ("Pending", None):
        return f"{CLIENT} has not run yet; let time pass (%minik8s advance 10s) and check again"
    result = view.kubectl(["logs", CLIENT])
    log = result.out if result.ok else ""
    names = {_meta(p).get("name") for p in _live_pods(view, "app=hello")}
    if any(line.strip() in names for line in log.splitlines()):
        return None
    last = (log.strip().splitlines() or [result.err.strip() or "nothing"])[-1]
    return (f"{CLIENT} got no answer from a Pod of hello (its log says: {last}); once the Service works, "
            f"delete {CLIENT} and run it again")


@services_expose.start
def _expose_start(cluster: "Cluster") -> None:
    cluster.apply(echo_deployment("hello"))
    cluster.advance(30)


@services_expose.solution
def _expose_solution(cluster: "Cluster") -> None:
    cluster.kubectl(f"expose deployment hello --port=80 --target-port={ECHO_PORT}")
    cluster.advance(10)
    cluster.kubectl(f"run {CLIENT} --image=busybox:1.36 --restart=Never -- wget -qO- http://hello")
    cluster.advance(10)


# --- exercise 2: a readiness probe takes a Pod out of rotation -------------------------------------

@exercise("services-readiness", hint="Make one Pod of api fail its readiness probe, without restarting or "
                                     "deleting it.", nodes=3)
def services_readiness(view: ClusterView) -> str | None:
    deployment = view.get("deployments", "api")
    if deployment is None or view.get("services", "api") is None:
        return "the Deployment or the Service api is missing: run the cell that creates them first"
    replicas = _spec(deployment).get("replicas", 1)
    if replicas != 3:
        return (f"Deployment api asks for {replicas} replica(s); keep 3 Pods and take one of them out of the "
                "Service instead")
    pods = _live_pods(view, "app=api")
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if phase != "Running":
            return f"Pod {_meta(pod).get('name')} is {phase}; all three Pods must stay Running"
        if _restarts(pod):
            return (f"Pod {_meta(pod).get('name')} was restarted: a failing readiness probe takes a Pod out of "
                    "the Service without restarting it")
    found = endpoints(view, "api")
    ready = sorted(_pod_of(e) for e in found if is_ready(e))
    if len(found) != 3 or len(pods) != 3:
        return f"the Service api has {len(found)} endpoint(s) for {len(pods)} Pod(s); let time pass and look again"
    if len(ready) == 3:
        return ("all three Pods of api are ready endpoints of the Service; make one of them fail its readiness "
                "probe (what does the probe check?), then let it fail three times in a row (%minik8s advance 15s)")
    if len(ready) < 2:
        return f"only {len(ready)} Pod(s) of api are ready endpoints ({', '.join(ready) or 'none'}); take out one, not more"
    return None


@services_readiness.start
def _readiness_start(cluster: "Cluster") -> None:
    cluster.apply(API)
    cluster.advance(30)


@services_readiness.solution
def _readiness_solution(cluster: "Cluster") -> None:
    first = cluster.kubectl(["get", "pods", "-l", "app=api", "-o", "jsonpath={.items[0].metadata.name}"])
    cluster.kubectl(["exec", first.strip(), "--", "rm", "/tmp/ready"])
    cluster.advance(20)


# --- exercise 3: a Service without endpoints ------------------------------------------------------

@exercise("services-no-endpoints", hint="Find out which Pods the Service shop selects, and fix the Service.", nodes=3)
def services_no_endpoints(view: ClusterView) -> str | None:
    service = view.get("services", "shop")
    if service is None:
        return "there is no Service shop any more: fix the Service rather than delete it"
    if view.get("deployments", "shop") is None:
        return "the Deployment shop is gone; the exercise asks you to fix the Service without touching it"
    pods = _live_pods(view, "app=shop")
    names = {_meta(p).get("name") for p in pods}
    found = endpoints(view, "shop")
    ready = [e for e in found if is_ready(e)]
    if not found:
        return ("Service shop has no endpoints, so connections to it are refused: find out which Pods its selector "
                "matches (kubectl describe service shop, kubectl get pods --show-labels)")
    strangers = sorted(_pod_of(e) for e in found if _pod_of(e) not in names)
    if strangers:
        return (f"Service shop now sends traffic to Pods that are not the Deployment shop's ({', '.join(strangers)}); "
                "change the Service's selector, not the Pods' labels")
    port = _port_80(service)
    if port is None or _container_port(pods, port.get("targetPort", 80)) != ECHO_PORT:
        return f"Service shop must still send its port 80 to port {ECHO_PORT} of the Pods"
    if len(ready) != len(pods) or len(pods) != 3:
        return (f"Service shop has {len(ready)} ready endpoint(s) for the {len(pods)} Pod(s) of the Deployment; "
                "let time pass and look again")
    return None


@services_no_endpoints.start
def _no_endpoints_start(cluster: "Cluster") -> None:
    cluster.apply(echo_deployment("shop"))
    cluster.apply(SHOP_SERVICE)
    cluster.advance(30)


@services_no_endpoints.solution
def _no_endpoints_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["patch", "service", "shop", "-p", '{"spec":{"selector":{"app":"shop"}}}'])
    cluster.advance(5)

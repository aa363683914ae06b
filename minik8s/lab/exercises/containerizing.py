"""Checks for chapter 19, Containerizing an application (labs/19-containerizing.ipynb).

The lab builds a small Python web app into the image ``localhost:5000/web`` and runs it
as the Deployment ``web`` (configuration from the ConfigMap ``web-config`` and the Secret
``web-secret``, probes on ``/healthz``) behind the Service ``web``. The exercises change
how it is run, the way an operator would, without touching its code:

* ``containerizing-port``: move the app to port 9090. The app reads ``PORT`` from its
  environment, so the ConfigMap, the container's port, its probes and the Service's
  target port must all agree (port binding, config in the environment);
* ``containerizing-nonroot``: run it as a non-root user that cannot gain privileges;
* ``containerizing-digest``: name the image by its digest, so that no later push can
  change what the Deployment runs.

The checks read the declared state (``kubectl get -o json``) and the Pods' container
states: a Pod that cannot start (``CreateContainerConfigError``) or keeps crashing
(``CrashLoopBackOff``) fails the check. Pull errors are not judged: a cluster without the
lab's registry cannot pull the image at all.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

REPOSITORY = "localhost:5000/web"
IMAGE = f"{REPOSITORY}:1.0"
NEW_PORT = 9090
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
TROUBLE = ("CrashLoopBackOff", "CreateContainerConfigError", "RunContainerError", "CreateContainerError")

# What the lab runs (and every exercise starts from): the app, its configuration, its Service.
CONFIG = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  GREETING: Hello from a ConfigMap
  PORT: "8080"
"""

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
stringData:
  API_TOKEN: not-a-real-token
"""

DEPLOYMENT = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      terminationGracePeriodSeconds: 10
      containers:
      - name: web
        image: {IMAGE}
        ports:
        - name: http
          containerPort: 8080
        envFrom:
        - configMapRef:
            name: web-config
        - secretRef:
            name: web-secret
        resources:
          requests:
            cpu: 50m
            memory: 64Mi
          limits:
            memory: 128Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 1
        livenessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 5
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - name: http
    port: 8080
    targetPort: http
"""

APP = "---\n".join([CONFIG, SECRET, DEPLOYMENT, SERVICE])


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    containers = spec.get("containers") or [{}]
    return dict(containers[0])


def _pod_spec(deployment: dict[str, Any]) -> dict[str, Any]:
    return dict(((deployment.get("spec") or {}).get("template") or {}).get("spec") or {})


def _port_number(port: Any, container: dict[str, Any]) -> int | None:
    """A probe's or Service's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared.get("containerPort", 0))
    return None


def _deployment(view: ClusterView) -> tuple[dict[str, Any] | None, str | None]:
    found = view.get("deployments", "web")
    if found is None:
        return None, "there is no Deployment named web in namespace default: run the lab's cells first"
    return found, None


def _trouble(view: ClusterView) -> str | None:
    """Why a Pod of the app cannot run, if one cannot."""
    for pod in view.list("pods", selector="app=web"):
        name = pod["metadata"]["name"]
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            waiting = (status.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") in TROUBLE:
                message = f": {waiting['message']}" if waiting.get("message") else ""
                return f"Pod {name} is {waiting['reason']}{message}"
    return None


# --- containerizing-port ---------------------------------------------------------------------

@exercise("containerizing-port", hint=f"Make the app listen on port {NEW_PORT}: PORT in the ConfigMap web-config, "
                                      "the container's port, its probes and the Service's targetPort must agree.")
def containerizing_port(view: ClusterView) -> str | None:
    config = view.get("configmaps", "web-config")
    if config is None:
        return "there is no ConfigMap named web-config: run the lab's cells first"
    said = str((config.get("data") or {}).get("PORT", ""))
    if said != str(NEW_PORT):
        return (f"the ConfigMap web-config says PORT={said or '(nothing)'}: the app binds the port its environment "
                f"names, so set PORT to \"{NEW_PORT}\" there")
    deployment, missing = _deployment(view)
    if deployment is None:
        return missing
    container = _container(deployment)
    declared = [p.get("containerPort") for p in container.get("ports") or []]
    if NEW_PORT not in declared:
        return (f"Deployment web's container declares port(s) {declared}, not {NEW_PORT}: change its containerPort "
                "(that also starts new Pods, which read the changed ConfigMap)")
    for kind in ("readinessProbe", "livenessProbe"):
        probe = (container.get(kind) or {}).get("httpGet") or {}
        if probe and _port_number(probe.get("port"), container) != NEW_PORT:
            return f"Deployment web's {kind} asks port {probe.get('port')}, which is not {NEW_PORT}"
    service = view.get("services", "web")
    if service is None:
        return "there is no Service named web: run the lab's cells first"
    targets = [_port_number(p.get("targetPort", p.get("port")), container)
               for p in (service.get("spec") or {}).get("ports") or []]
    if NEW_PORT not in targets:
        return f"Service web sends traffic to port(s) {targets} of its Pods, not {NEW_PORT}: change its targetPort"
    return _trouble(view)


@containerizing_port.start
def _port_start(cluster: "Cluster") -> None:
    cluster.apply(APP)


@containerizing_port.solution
def _port_solution(cluster: "Cluster") -> None:
    cluster.apply(CONFIG.replace('PORT: "8080"', f'PORT: "{NEW_PORT}"'))
    cluster.apply(DEPLOYMENT.replace("containerPort: 8080", f"containerPort: {NEW_PORT}"))


# --- containerizing-nonroot ------------------------------------------------------------------

@exercise("containerizing-nonroot", hint="Give Deployment web a securityContext: runAsNonRoot: true, a runAsUser "
                                         "other than 0, and allowPrivilegeEscalation: false on its container.")
def containerizing_nonroot(view: ClusterView) -> str | None:
    deployment, missing = _deployment(view)
    if deployment is None:
        return missing
    pod_context = _pod_spec(deployment).get("securityContext") or {}
    context = _container(deployment).get("securityContext") or {}
    non_root = context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
    user = context.get("runAsUser", pod_context.get("runAsUser"))
    if non_root is not True:
        return "Deployment web does not set runAsNonRoot: true (in the Pod's or the container's securityContext)"
    if user is None:
        return ("Deployment web sets runAsNonRoot but no runAsUser: the image names no user, so it would run as root "
                "and the kubelet refuses to start it; add runAsUser, e.g. 10001")
    if user == 0:
        return "Deployment web sets runAsUser: 0, which is root: choose another uid, e.g. 10001"
    if context.get("allowPrivilegeEscalation") is not False:
        return "Deployment web's container does not set allowPrivilegeEscalation: false"
    return _trouble(view)


@containerizing_nonroot.start
def _nonroot_start(cluster: "Cluster") -> None:
    cluster.apply(APP)


@containerizing_nonroot.solution
def _nonroot_solution(cluster: "Cluster") -> None:
    cluster.apply(DEPLOYMENT.replace(
        "      terminationGracePeriodSeconds: 10\n",
        "      terminationGracePeriodSeconds: 10\n      securityContext:\n        runAsNonRoot: true\n"
        "        runAsUser: 10001\n").replace(
        "        image: ", "        securityContext:\n          allowPrivilegeEscalation: false\n        image: "))


# --- containerizing-digest -------------------------------------------------------------------

@exercise("containerizing-digest", hint="Run Deployment web's image by digest: localhost:5000/web@sha256:...")
def containerizing_digest(view: ClusterView) -> str | None:
    deployment, missing = _deployment(view)
    if deployment is None:
        return missing
    image = str(_container(deployment).get("image", ""))
    if not image.startswith(REPOSITORY):
        return f"Deployment web runs {image or 'no image'}: keep the lab's image, {REPOSITORY}"
    if not DIGEST.search(image):
        return (f"Deployment web names its image {image}, by tag: name it by digest, {REPOSITORY}@sha256:<64 hex "
                "digits> (minik8s image inspect shows the Id)")
    return _trouble(view)


@containerizing_digest.start
def _digest_start(cluster: "Cluster") -> None:
    cluster.apply(APP)


@containerizing_digest.solution
def _digest_solution(cluster: "Cluster") -> None:
    cluster.apply(DEPLOYMENT.replace(IMAGE, f"{REPOSITORY}@sha256:{'0' * 64}"))

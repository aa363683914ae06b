"""Checks for chapter 4, Pods (labs/04-pods.ipynb): probes, a two-container Pod, restart policies.

* ``pods-liveness``: a Pod ``probed`` running nginx with an HTTP GET liveness probe on port 80 that
  runs every 5 seconds, and that stays healthy (Running, no restarts).
* ``pods-readiness``: the lab leaves a Pod ``gated`` whose readiness probe asks the wrong port, so it
  never becomes Ready. Probes cannot be changed on a running Pod: the student deletes and recreates it
  with the probe on port 80.
* ``pods-sidecar``: a Pod ``duo`` with two containers that share an ``emptyDir`` volume ``shared``,
  both containers running and ready (2/2).
* ``pods-once``: a Pod ``once`` whose command fails, and that Kubernetes must not restart
  (``restartPolicy: Never``): it ends in phase Failed with no restarts.

The checks read the cluster through :class:`~minik8s.lab.session.ClusterView` (``kubectl get -o
json``), so they work on a real cluster as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The Pod the readiness exercise starts with: nginx listens on 80, the probe asks 8080.
GATED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: gated
spec:
  containers:
  - name: web
    image: nginx:alpine
    readinessProbe:
      httpGet:
        path: /
        port: 8080
      periodSeconds: 5
"""

PROBED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: probed
spec:
  containers:
  - name: web
    image: nginx:alpine
    livenessProbe:
      httpGet:
        path: /
        port: 80
      initialDelaySeconds: 3
      periodSeconds: 5
"""

DUO_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: duo
spec:
  volumes:
  - name: shared
    emptyDir: {}
  containers:
  - name: web
    image: nginx:alpine
    volumeMounts:
    - name: shared
      mountPath: /usr/share/nginx/html
  - name: writer
    image: busybox:1.36
    command: ["sh", "-c", "echo hello > /data/hello.txt; sleep 3600"]
    volumeMounts:
    - name: shared
      mountPath: /data
"""

ONCE_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: once
spec:
  restartPolicy: Never
  containers:
  - name: task
    image: busybox:1.36
    command: ["sh", "-c", "echo trying; exit 1"]
"""


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("spec") or {}).get("containers") or [])


def _statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return list((pod.get("status") or {}).get("containerStatuses") or [])


def _condition(pod: dict[str, Any], kind: str) -> str | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return None


def _restarts(pod: dict[str, Any]) -> int:
    return sum(int(s.get("restartCount") or 0) for s in _statuses(pod))


def _port_is_80(port: Any) -> bool:
    # A probe may name the port by number or by a containerPort's name; this exercise asks for 80.
    return str(port) == "80"


# --- pods-liveness ---------------------------------------------------------------------------

@exercise("pods-liveness", hint="Create a Pod probed (nginx) with an HTTP GET liveness probe on port 80, "
                                "every 5 seconds.", nodes=1)
def pods_liveness(view: ClusterView) -> str | None:
    pod = view.get("pods", "probed")
    if pod is None:
        return "there is no Pod named probed in namespace default"
    probes = [c.get("livenessProbe") for c in _containers(pod) if c.get("livenessProbe")]
    if not probes:
        return "Pod probed has no livenessProbe: add one to its container (probes cannot be added later: recreate)"
    http = probes[0].get("httpGet")
    if not http:
        kinds = ", ".join(k for k in ("exec", "tcpSocket", "grpc") if k in probes[0]) or "none"
        return f"the liveness probe of Pod probed must be an httpGet probe (it is: {kinds})"
    if not _port_is_80(http.get("port")):
        return f"the liveness probe asks port {http.get('port')}, but nginx listens on port 80"
    if probes[0].get("periodSeconds", 10) != 5:
        return f"the liveness probe runs every {probes[0].get('periodSeconds', 10)}s; the exercise asks for 5"
    if (pod.get("status") or {}).get("phase") != "Running":
        return "Pod probed is not Running yet: advance the clock (%minik8s advance 30s) and check again"
    if _restarts(pod):
        return f"Pod probed was restarted {_restarts(pod)} time(s): its liveness probe fails; look at kubectl describe"
    return None


@pods_liveness.start
def _liveness_start(cluster: "Cluster") -> None:
    pass  # the student starts from an empty namespace


@pods_liveness.solution
def _liveness_solution(cluster: "Cluster") -> None:
    cluster.apply(PROBED_POD)
    cluster.advance(30)


# --- pods-readiness --------------------------------------------------------------------------

@exercise("pods-readiness", hint="Make the Pod gated Ready: its readiness probe must ask nginx's port, 80.",
          nodes=1)
def pods_readiness(view: ClusterView) -> str | None:
    pod = view.get("pods", "gated")
    if pod is None:
        return "there is no Pod named gated: recreate it (same name) with a readiness probe on port 80"
    probes = [c.get("readinessProbe") for c in _containers(pod) if c.get("readinessProbe")]
    if not probes:
        return "Pod gated has no readinessProbe any more: the exercise asks you to fix the probe, not remove it"
    port = (probes[0].get("httpGet") or probes[0].get("tcpSocket") or {}).get("port")
    if not _port_is_80(port):
        return (f"Pod gated's readiness probe still asks port {port}; a Pod's probes cannot be changed in place: "
                "delete the Pod and create it again with port 80")
    if _condition(pod, "Ready") != "True":
        return "Pod gated is not Ready yet: advance the clock (%minik8s advance 30s) and check again"
    return None


@pods_readiness.start
def _readiness_start(cluster: "Cluster") -> None:
    cluster.apply(GATED_POD)
    cluster.advance(30)


@pods_readiness.solution
def _readiness_solution(cluster: "Cluster") -> None:
    cluster.kubectl("delete pod gated")
    cluster.apply(GATED_POD.replace("port: 8080", "port: 80"))
    cluster.advance(30)


# --- pods-sidecar ----------------------------------------------------------------------------

@exercise("pods-sidecar", hint="Create a Pod duo with two containers that both mount an emptyDir volume "
                               "named shared.", nodes=1)
def pods_sidecar(view: ClusterView) -> str | None:
    pod = view.get("pods", "duo")
    if pod is None:
        return "there is no Pod named duo in namespace default"
    containers = _containers(pod)
    if len(containers) < 2:
        return f"Pod duo has {len(containers)} container(s); the exercise asks for two in the same Pod"
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    if "shared" not in volumes:
        return "Pod duo has no volume named shared (spec.volumes)"
    if "emptyDir" not in volumes["shared"]:
        return "the volume shared must be an emptyDir"
    without = [c.get("name") for c in containers
               if not any(m.get("name") == "shared" for m in c.get("volumeMounts") or [])]
    if without:
        return f"container(s) {', '.join(map(str, without))} do not mount the volume shared (volumeMounts)"
    ready = sum(1 for s in _statuses(pod) if s.get("ready"))
    if ready < len(containers):
        return (f"Pod duo has {ready}/{len(containers)} containers ready: advance the clock; a container "
                "that exits at once needs a long-running command such as sleep 3600")
    return None


@pods_sidecar.start
def _sidecar_start(cluster: "Cluster") -> None:
    pass


@pods_sidecar.solution
def _sidecar_solution(cluster: "Cluster") -> None:
    cluster.apply(DUO_POD)
    cluster.advance(30)


# --- pods-once -------------------------------------------------------------------------------

@exercise("pods-once", hint="Create a Pod once whose command exits 1 and that is never restarted.", nodes=1)
def pods_once(view: ClusterView) -> str | None:
    pod = view.get("pods", "once")
    if pod is None:
        return "there is no Pod named once in namespace default"
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    if policy != "Never":
        return (f"Pod once has restartPolicy {policy}, so the kubelet restarts its failing container; "
                "the policy is set at creation: delete the Pod and recreate it")
    phase = (pod.get("status") or {}).get("phase")
    if phase == "Succeeded":
        return "Pod once succeeded: its command must fail (exit with a non-zero code, e.g. exit 1)"
    if phase != "Failed":
        return f"Pod once is {phase}, not Failed yet: advance the clock and check again"
    return None


@pods_once.start
def _once_start(cluster: "Cluster") -> None:
    pass


@pods_once.solution
def _once_solution(cluster: "Cluster") -> None:
    cluster.apply(ONCE_POD)
    cluster.advance(30)

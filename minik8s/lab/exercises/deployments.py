"""Checks for the Deployments lab (labs/07-deployments.ipynb, chapter 7).

Three exercises, each about one thing a Deployment does for you:

* ``deployments-create``: declare replicas and let the controller make them;
* ``deployments-rollback``: a rollout to an image that does not exist is stuck;
  ``kubectl rollout undo`` brings the previous ReplicaSet back;
* ``deployments-strategy``: choose ``maxSurge``/``maxUnavailable`` so that an
  update never has fewer than ``replicas`` available pods and at most one extra.
  The check resolves percentages the way the Deployment controller does
  (surge rounds up, unavailable rounds down), so ``25%`` is accepted where it
  means the same number of pods.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The image that does not exist (the simulated runtime fails to pull it, as containerd would).
BROKEN_IMAGE = "nginx:1.161"

WEB_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:alpine
"""

API_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 4
  selector:
    matchLabels:
      app: api
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
      - name: api
        image: nginx:alpine
"""


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def _images(deployment: dict[str, Any]) -> list[str]:
    containers = _spec(_spec(deployment).get("template") or {}).get("containers") or []
    return [str(c.get("image", "")) for c in containers]


def resolve(value: Any, replicas: int, round_up: bool) -> int | None:
    """An int-or-percent field as a number of pods (upstream ``GetScaledValueFromIntOrPercent``);
    None when it is not a number or a percentage."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%") and text[:-1].isdigit():
        exact = int(text[:-1]) * replicas / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return None


def _rollout_done(deployment: dict[str, Any]) -> str | None:
    """None when every replica is updated and available (what ``kubectl rollout status`` waits for)."""
    want = _spec(deployment).get("replicas", 1)
    status = _status(deployment)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    total = status.get("replicas", 0)
    if updated == want and available == want and total == want:
        return None
    return (f"{updated} of {want} pods are up to date, {available} available and {total} exist; "
            "let time pass (%minik8s advance 30s) and look again")


# --- exercise 1: a Deployment of three --------------------------------------------------------

@exercise("deployments-create", hint="Create a Deployment hello with 3 replicas of nginx:alpine.", nodes=3)
def deployments_create(view: ClusterView) -> str | None:
    deployment = view.get("deployments", "hello")
    if deployment is None:
        if view.get("pods", "hello") is not None:
            return "hello is a bare Pod: a Deployment is what keeps replicas running (kind: Deployment)"
        return "there is no Deployment named hello in namespace default"
    images = _images(deployment)
    if images != ["nginx:alpine"]:
        return f"Deployment hello runs {', '.join(images) or 'no image'}; the exercise asks for nginx:alpine"
    replicas = _spec(deployment).get("replicas", 1)
    if replicas != 3:
        return f"Deployment hello asks for {replicas} replica(s), not 3 (kubectl scale can change that)"
    return _rollout_done(deployment)


@deployments_create.start
def _create_start(cluster: "Cluster") -> None:
    pass  # an empty cluster


@deployments_create.solution
def _create_solution(cluster: "Cluster") -> None:
    cluster.kubectl("create deployment hello --image=nginx:alpine --replicas=3")
    cluster.advance(30)


# --- exercise 2: undo a broken rollout --------------------------------------------------------

@exercise("deployments-rollback", hint="Roll the Deployment web back to the revision that worked.", nodes=3)
def deployments_rollback(view: ClusterView) -> str | None:
    deployment = view.get("deployments", "web")
    if deployment is None:
        return "there is no Deployment named web: run the cell that creates it first"
    images = _images(deployment)
    if BROKEN_IMAGE in images:
        return (f"Deployment web still asks for {BROKEN_IMAGE}, an image that does not exist; "
                "kubectl rollout undo returns to the previous template")
    if images != ["nginx:alpine"]:
        return f"Deployment web runs {', '.join(images)}; roll back to the revision that ran nginx:alpine"
    stuck = [p["metadata"]["name"] for p in view.list("pods", selector="app=web")
             if BROKEN_IMAGE in [c.get("image") for c in _spec(p).get("containers") or []]
             and not (p.get("metadata") or {}).get("deletionTimestamp")]
    if stuck:
        return f"pods with the broken image are still there ({', '.join(sorted(stuck))}); let time pass"
    return _rollout_done(deployment)


@deployments_rollback.start
def _rollback_start(cluster: "Cluster") -> None:
    cluster.apply(WEB_DEPLOYMENT)
    cluster.advance(30)
    cluster.kubectl(f"set image deployment/web web={BROKEN_IMAGE}")
    cluster.advance(30)


@deployments_rollback.solution
def _rollback_solution(cluster: "Cluster") -> None:
    cluster.kubectl("rollout undo deployment/web")
    cluster.advance(30)


# --- exercise 3: a strategy that never loses capacity ------------------------------------------

@exercise("deployments-strategy",
          hint="Create the Deployment api (4 replicas of nginx:alpine) with maxSurge 1 and maxUnavailable 0.",
          nodes=3)
def deployments_strategy(view: ClusterView) -> str | None:
    deployment = view.get("deployments", "api")
    if deployment is None:
        return "there is no Deployment named api in namespace default"
    spec = _spec(deployment)
    replicas = spec.get("replicas", 1)
    if replicas != 4:
        return f"Deployment api asks for {replicas} replica(s), not 4"
    strategy = dict(spec.get("strategy") or {})
    if strategy.get("type") != "RollingUpdate":
        return (f"Deployment api uses the {strategy.get('type')} strategy: it stops every pod before "
                "starting new ones; use RollingUpdate")
    rolling = dict(strategy.get("rollingUpdate") or {})
    surge = resolve(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = resolve(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if unavailable != 0:
        return (f"maxUnavailable {rolling.get('maxUnavailable')!s} lets {unavailable} of the 4 pods be unavailable "
                "during an update; the exercise wants 4 available at all times (maxUnavailable: 0)")
    if surge != 1:
        return (f"maxSurge {rolling.get('maxSurge')!s} allows {surge} extra pod(s) during an update; "
                "the exercise wants exactly one (maxSurge: 1)")
    return _rollout_done(deployment)


@deployments_strategy.start
def _strategy_start(cluster: "Cluster") -> None:
    pass  # an empty cluster


@deployments_strategy.solution
def _strategy_solution(cluster: "Cluster") -> None:
    cluster.apply(API_DEPLOYMENT)
    cluster.advance(30)

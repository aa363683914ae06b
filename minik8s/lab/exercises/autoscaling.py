"""Checks for the autoscaling lab (labs/17-autoscaling.ipynb, chapter 17).

Three exercises on the HorizontalPodAutoscaler:

* ``autoscale-web``: autoscale the Deployment ``web`` between 2 and 8 replicas at 50% CPU. The
  check reads the student's Deployment and HPA and replays them on a scratch simulated cluster with
  a virtual clock, under a load ramp (80m, 300m, then 1200m in all, spread over the ready pods):
  the replicas must stay in [2, 8] and follow the load (2, then 6, then 8);
* ``autoscale-why``: the HPA ``api`` shows ``<unknown>`` because the Deployment ``api``'s
  container has no CPU request, and utilization is a percentage of the request. Fix the
  Deployment; the check wants ``ScalingActive`` True and a current CPU metric;
* ``autoscale-gentle``: the HPA ``worker`` must remove at most one pod per minute when the load
  goes: a ``behavior.scaleDown`` policy of type ``Pods``, value 1, period 60 s.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView, InProcess

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

Obj = dict[str, Any]

# The load ramp autoscale-web replays: (total millicores over all ready pods, seconds).
RAMP = [(80, 60), (300, 90), (1200, 90)]


def deployment(name: str, replicas: int, requests: str | None) -> str:
    """A Deployment ``name`` of nginx pods labelled ``app: name``, container ``app``, with ``requests``
    (e.g. ``cpu: 100m``) or none."""
    resources = f"\n        resources:\n          requests:\n            {requests}" if requests else ""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: {replicas}
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
      containers:
      - name: app
        image: nginx{resources}
"""


def autoscaler(name: str, low: int, high: int, percent: int, behavior: str = "") -> str:
    """An autoscaling/v2 HPA ``name`` for the Deployment of the same name, on CPU utilization."""
    return f"""\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {name}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {name}
  minReplicas: {low}
  maxReplicas: {high}
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: {percent}
{behavior}"""


WEB = deployment("web", 2, "cpu: 100m")
API = deployment("api", 1, None)
API_FIXED = deployment("api", 1, "cpu: 200m")
API_HPA = autoscaler("api", 1, 5, 60)
WORKER = deployment("worker", 4, "cpu: 100m")
WORKER_HPA = autoscaler("worker", 1, 10, 50)
GENTLE = """\
  behavior:
    scaleDown:
      policies:
      - type: Pods
        value: 1
        periodSeconds: 60
"""


def _spec(obj: Obj | None) -> Obj:
    return dict((obj or {}).get("spec") or {})


def _hpa_for(view: ClusterView, name: str) -> tuple[Obj | None, list[Obj]]:
    """The HPA whose target is the Deployment ``name``, and every HPA in the namespace."""
    hpas = view.list("horizontalpodautoscalers")
    for hpa in hpas:
        ref = _spec(hpa).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name") == name:
            return hpa, hpas
    return None, hpas


def _cpu_metric(hpa: Obj) -> Obj | None:
    if "targetCPUUtilizationPercentage" in _spec(hpa):   # an autoscaling/v1 answer
        return {"type": "Utilization", "averageUtilization": _spec(hpa)["targetCPUUtilizationPercentage"]}
    for metric in _spec(hpa).get("metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            return dict(resource.get("target") or {})
    return None


def _cpu_request_millis(deploy: Obj) -> dict[str, int | None]:
    """Each container's CPU request in millicores (None: no request)."""
    from minik8s.api.quantity import milli

    out: dict[str, int | None] = {}
    for c in _spec(_spec(deploy).get("template")).get("containers") or []:
        cpu = ((c.get("resources") or {}).get("requests") or {}).get("cpu")
        out[str(c.get("name"))] = None if cpu is None else milli(str(cpu))
    return out


def _condition(hpa: Obj, kind: str) -> Obj:
    return next((c for c in (hpa.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


# --- exercise 1: between 2 and 8 at 50% -----------------------------------------------------------

def _web_spec_problem(hpa: Obj) -> str | None:
    spec = _spec(hpa)
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if low != 2:
        return (f"HPA {hpa['metadata']['name']} has minReplicas {low}; the Deployment must keep at least 2 "
                "replicas (kubectl autoscale ... --min=2)")
    if high != 8:
        return f"HPA {hpa['metadata']['name']} has maxReplicas {high}, not 8 (--max=8)"
    target = _cpu_metric(hpa)
    if target is None:
        return f"HPA {hpa['metadata']['name']} has no CPU metric (--cpu-percent=50)"
    if target.get("type") != "Utilization":
        return (f"HPA {hpa['metadata']['name']} aims at an average CPU {target.get('type')} of "
                f"{target.get('averageValue')}: that is millicores per pod; 50% is a Utilization, a percentage "
                "of each pod's CPU request")
    if target.get("averageUtilization") != 50:
        return f"HPA {hpa['metadata']['name']} aims at {target.get('averageUtilization')}% CPU, not 50%"
    return None


def _clean(obj: Obj) -> Obj:
    """An object as a manifest to create elsewhere: name, labels, spec."""
    meta = obj.get("metadata") or {}
    clean = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
             "metadata": {"name": meta.get("name"), "labels": meta.get("labels") or {}}, "spec": obj.get("spec")}
    if clean["kind"] == "Deployment":
        clean["spec"] = {**(obj.get("spec") or {}), "replicas": (obj.get("spec") or {}).get("replicas", 1)}
    return clean


def expected_replicas(total: int, request: int, percent: int, low: int, high: int) -> int:
    """Where the HPA settles when ``total`` millicores are spread over its pods: the smallest n with
    total / n / request at or below the target, clamped to [low, high]."""
    return max(low, min(high, math.ceil(total / (request * percent / 100))))


def replay(deploy: Obj, hpa: Obj) -> tuple[list[tuple[int, int]], str | None]:
    """Create ``deploy`` and ``hpa`` on a scratch simulated cluster with a virtual clock, drive
    :data:`RAMP` and return (load, replicas) after every 15 s, and the first problem seen."""
    import json

    from minik8s.cluster import Cluster
    from minik8s.lab.autoscaling import LoadDriver

    low, high = _spec(hpa).get("minReplicas", 1), int(_spec(hpa).get("maxReplicas") or 0)
    request = min(v for v in _cpu_request_millis(deploy).values() if v is not None)
    seen: list[tuple[int, int]] = []
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as scratch:
        scratch.apply(json.dumps(_clean(deploy)))
        scratch.advance(10)
        scratch.apply(json.dumps(_clean(hpa)))
        driver = LoadDriver(InProcess(scratch), deployment=deploy["metadata"]["name"],
                            hpa=hpa["metadata"]["name"], show=False)
        for load, seconds in RAMP:
            before = len(driver.samples)
            driver.drive(load, seconds)
            samples = driver.samples[before:]
            seen += [(s.load, s.replicas) for s in samples]
            outside = [s.replicas for s in samples if not low <= s.replicas <= high]
            if outside:
                return seen, f"under a load of {load}m the Deployment went to {outside[0]} replicas, outside [{low}, {high}]"
            want = expected_replicas(load, request, 50, low, high)
            if samples[-1].replicas != want:
                return seen, (f"under a load of {load}m in all ({request}m requested per pod, 50% target) the "
                              f"Deployment settled at {samples[-1].replicas} replicas, not {want}")
    return seen, None


@exercise("autoscale-web", hint="Autoscale the Deployment web between 2 and 8 replicas at 50% CPU.", nodes=2)
def autoscale_web(view: ClusterView) -> str | None:
    deploy = view.get("deployments", "web")
    if deploy is None:
        return "there is no Deployment named web: run the lab's cell that creates it"
    hpa, hpas = _hpa_for(view, "web")
    if hpa is None:
        others = [f"{h['metadata']['name']} (→ {(_spec(h).get('scaleTargetRef') or {}).get('kind')}/"
                  f"{(_spec(h).get('scaleTargetRef') or {}).get('name')})" for h in hpas]
        more = f"; found {', '.join(others)}" if others else ""
        return f"there is no HorizontalPodAutoscaler whose scaleTargetRef is Deployment web{more}"
    problem = _web_spec_problem(hpa)
    if problem:
        return problem
    requests = _cpu_request_millis(deploy)
    missing = sorted(name for name, cpu in requests.items() if cpu is None)
    if missing:
        return (f"container {missing[0]} of Deployment web has no CPU request: a utilization target needs one "
                "(the lab's web requests cpu: 100m)")
    _, problem = replay(deploy, hpa)
    return problem


@autoscale_web.start
def _web_start(cluster: "Cluster") -> None:
    cluster.apply(WEB)
    cluster.advance(10)


@autoscale_web.solution
def _web_solution(cluster: "Cluster") -> None:
    cluster.kubectl("autoscale deployment web --min=2 --max=8 --cpu-percent=50")
    cluster.advance(15)


# --- exercise 2: why <unknown>? -------------------------------------------------------------------

@exercise("autoscale-why", hint="Make the HPA api work: it shows <unknown> for its CPU utilization.")
def autoscale_why(view: ClusterView) -> str | None:
    hpa = view.get("horizontalpodautoscalers", "api")
    if hpa is None:
        return "there is no HorizontalPodAutoscaler named api: it is not the problem, run the lab's cell again"
    target = _cpu_metric(hpa)
    if target is None or target.get("type") != "Utilization":
        return ("HPA api no longer aims at a CPU utilization: keep the HPA as it was (60% of the request) and fix "
                "what it measures")
    deploy = view.get("deployments", "api")
    if deploy is None:
        return "there is no Deployment named api: the HPA has nothing to scale"
    missing = sorted(name for name, cpu in _cpu_request_millis(deploy).items() if cpu is None)
    if missing:
        return (f"container {missing[0]} of Deployment api requests no CPU: utilization is usage divided by the "
                "request, so the HPA cannot compute it (see ScalingActive in kubectl describe hpa api)")
    active = _condition(hpa, "ScalingActive")
    if active.get("status") != "True":
        reason = f" ({active.get('reason')}: {active.get('message')})" if active else ""
        return (f"HPA api is not scaling yet{reason}; the new pods need a scrape and the HPA a sync: let time pass "
                "(%minik8s advance 60s) and look again")
    if not (hpa.get("status") or {}).get("currentMetrics"):
        return "HPA api has no current metric yet: let time pass (%minik8s advance 30s) and look again"
    return None


@autoscale_why.start
def _why_start(cluster: "Cluster") -> None:
    cluster.apply(API + "---\n" + API_HPA)
    cluster.advance(45)


@autoscale_why.solution
def _why_solution(cluster: "Cluster") -> None:
    cluster.apply(API_FIXED)
    cluster.advance(60)


# --- exercise 3: one pod per minute ---------------------------------------------------------------

def _allows_more_than_one(policy: Obj) -> str | None:
    kind, value, period = policy.get("type"), policy.get("value"), policy.get("periodSeconds")
    if kind == "Percent":
        return (f"a Percent policy ({value}% per {period}s) removes a share of the pods, more than one when there "
                "are many; use type: Pods")
    if kind == "Pods" and value != 1:
        return f"a Pods policy of value {value} removes {value} pods per period, not 1"
    if kind == "Pods" and period != 60:
        return f"a Pods policy of periodSeconds {period} counts pods per {period}s, not per minute (60)"
    return None


@exercise("autoscale-gentle", hint="Make the HPA worker remove at most one pod per minute when it scales down.")
def autoscale_gentle(view: ClusterView) -> str | None:
    hpa = view.get("horizontalpodautoscalers", "worker")
    if hpa is None:
        return "there is no HorizontalPodAutoscaler named worker: run the lab's cell that creates it"
    down = (_spec(hpa).get("behavior") or {}).get("scaleDown")
    if not down:
        return ("HPA worker has no behavior.scaleDown: by default it may remove 100% of the pods per 15 s once the "
                "5-minute stabilization window has passed")
    if down.get("selectPolicy") == "Disabled":
        return "selectPolicy: Disabled stops scale-down altogether; the pods should go, one per minute"
    policies = down.get("policies") or []
    if not policies:
        return "behavior.scaleDown has no policies, so the default (100% per 15 s) applies"
    problems = [p for p in (_allows_more_than_one(policy) for policy in policies) if p]
    if problems and down.get("selectPolicy", "Max") == "Max":
        return problems[0] + ("; with several policies the default selectPolicy Max uses the one that allows the "
                              "most change" if len(policies) > 1 else "")
    if len(problems) == len(policies):
        return problems[0]
    return None


@autoscale_gentle.start
def _gentle_start(cluster: "Cluster") -> None:
    cluster.apply(WORKER + "---\n" + WORKER_HPA)
    cluster.advance(10)


@autoscale_gentle.solution
def _gentle_solution(cluster: "Cluster") -> None:
    cluster.apply(WORKER_HPA + GENTLE)
    cluster.advance(5)

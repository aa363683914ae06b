"""The horizontal pod autoscaler controller (minik8s.controllers.podautoscaler) on a simulated cluster with a
virtual clock and a fake metrics client, and its pure decision steps against upstream's rules."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.selectors import parse_label_selector
from minik8s.cluster import Cluster
from minik8s.controllers import podautoscaler as pa
from minik8s.controllers.podautoscaler import HorizontalPodAutoscalerController, Recommendation, ScaleEvent
from minik8s.controllers.replicacalculator import PodUsage

PODS = resources.lookup("pods")
HPA = resources.lookup("hpa")
DEPLOY = resources.lookup("deploy")
EVENTS = resources.get("", "v1", "events")
BY_CPU = "cpu resource utilization (percentage of request)"


class Load:
    """A fake metrics client: a total cpu load in millicores, shared evenly by the running pods it selects."""

    def __init__(self, cluster: Cluster, total: int):
        self.cluster, self.total = cluster, total
        self.asked: list[tuple[str, str]] = []

    def pod_metrics(self, namespace: str, selector: str) -> dict[str, PodUsage]:
        self.asked.append((namespace, selector))
        wanted = parse_label_selector(selector)
        running = [p for p in self.cluster.client.list(PODS, namespace)["items"]
                   if wanted.matches(p["metadata"].get("labels") or {}) and p["status"].get("phase") == "Running"]
        now = self.cluster.clock.now()
        return {p["metadata"]["name"]: PodUsage({"app": {"cpu": self.total // len(running)}}, now, 15.0)
                for p in running}


def workload(kind: str = "Deployment", replicas: int = 1, requests: str = "{cpu: 100m}") -> str:
    extra = "  serviceName: web\n" if kind == "StatefulSet" else ""
    return f"""
apiVersion: apps/v1
kind: {kind}
metadata: {{name: web}}
spec:
  replicas: {replicas}
{extra}  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: app, image: nginx, resources: {{requests: {requests}}}}}]}}
"""


def autoscaler(kind: str = "Deployment", name: str = "web", low: int = 1, high: int = 10, behavior: str = "") -> str:
    return f"""
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {{name: web}}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: {kind}, name: {name}}}
  minReplicas: {low}
  maxReplicas: {high}
  metrics: [{{type: Resource, resource: {{name: cpu, target: {{type: Utilization, averageUtilization: 50}}}}}}]
{behavior}
"""


def start(c: Cluster, manifest: str, load: int | None) -> Load | None:
    c.apply(manifest)
    controller = next(x for x in c.components if isinstance(x, HorizontalPodAutoscalerController))
    if load is None:
        return None
    fake = Load(c, load)
    controller.metrics = fake
    return fake


def hpa(c: Cluster) -> dict[str, Any]:
    return c.client.get(HPA, "web", "default")


def condition(c: Cluster, kind: str) -> dict[str, Any]:
    return next(x for x in hpa(c)["status"]["conditions"] if x["type"] == kind)


def replicas(c: Cluster, resource: Any = DEPLOY) -> int:
    return c.client.get(resource, "web", "default")["spec"]["replicas"]


def events(c: Cluster, reason: str) -> list[str]:
    return [e["message"] for e in c.client.list(EVENTS, "default")["items"]
            if e["reason"] == reason and e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"]


def history(c: Cluster, seconds: int) -> list[int]:
    """The target's replicas after each 15-second sync for ``seconds``."""
    seen = []
    for _ in range(seconds // 15):
        c.advance(15)
        seen.append(replicas(c))
    return seen


def test_scales_up_under_load_and_down_only_after_the_stabilization_window():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        load = start(c, workload() + "---" + autoscaler(), load=300)
        assert load is not None
        c.advance(14)
        assert replicas(c) == 1 and not hpa(c)["status"].get("conditions")   # first looked at 15 s after creation
        # 300m on one pod is 300% of its 100m request against 50%: 6 wanted, but at most max(2 × 1, 4) = 4 at once.
        seen = history(c, 180)
        assert seen[:3] == [1, 4, 6] and set(seen[3:]) == {6}
        assert events(c, "SuccessfulRescale")[0] == f"New size: 4; reason: {BY_CPU} above target"
        status = hpa(c)["status"]
        assert (status["currentReplicas"], status["desiredReplicas"]) == (6, 6)
        assert status["currentMetrics"] == [{"type": "Resource", "resource": {
            "name": "cpu", "current": {"averageUtilization": 50, "averageValue": "50m"}}}]
        assert load.asked[-1] == ("default", "app=web")
        described = c.kubectl("describe hpa web")
        assert "  resource cpu on pods  (as a percentage of request):  50% (50m) / 50%\n" in described
        assert "\nDeployment pods:                                       6 current / 6 desired\n" in described
        assert c.kubectl("get hpa").splitlines()[1].split()[1:6] == ["Deployment/web", "cpu:", "50%/50%", "1", "10"]
        # The load goes; the 5-minute window remembers the recommendation of 6 made just before.
        load.total = 20
        assert set(history(c, 300)) == {6}
        able = condition(c, "AbleToScale")
        assert (able["reason"], able["message"]) == (
            "ScaleDownStabilized",
            "recent recommendations were higher than current one, applying the highest recent recommendation")
        assert hpa(c)["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] == 3
        c.advance(15)
        assert replicas(c) == 1
        assert events(c, "SuccessfulRescale")[-1] == "New size: 1; reason: All metrics below target"
        assert hpa(c)["status"]["lastScaleTime"] == "2025-01-01T00:08:15Z"


def test_the_same_run_gives_the_same_replica_counts():
    def run() -> list[int]:
        with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=3) as c:
            load = start(c, workload() + "---" + autoscaler(), load=730)
            assert load is not None
            seen = history(c, 120)
            load.total = 90
            return seen + history(c, 420)
    first = run()
    assert first == run() and max(first) > 1 and first[-1] < max(first)


def test_behavior_policies_limit_the_rate_and_disable_scale_down():
    behavior = """  behavior:
    scaleUp: {policies: [{type: Pods, value: 1, periodSeconds: 60}]}
    scaleDown: {selectPolicy: Disabled}
"""
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        load = start(c, workload() + "---" + autoscaler(behavior=behavior), load=600)
        assert load is not None
        spec = hpa(c)["spec"]["behavior"]
        assert spec["scaleUp"]["selectPolicy"] == "Max" and spec["scaleDown"]["policies"] == [
            {"type": "Percent", "value": 100, "periodSeconds": 15}]
        seen = history(c, 240)
        # One pod more per minute, never two within 60 s.
        steps = [b - a for a, b in zip([1, *seen], seen)]
        assert set(steps) <= {0, 1} and seen[-1] == 5   # up at 30 s, 90 s, 150 s and 210 s
        assert all(seen[i + 3] - seen[i] <= 1 for i in range(len(seen) - 3))
        limited = condition(c, "ScalingLimited")
        assert (limited["status"], limited["reason"]) == ("True", "ScaleUpLimit")
        assert limited["message"] == "the desired replica count is increasing faster than the maximum scale rate"
        load.total = 10
        assert set(history(c, 600)) == {5}
        limited = condition(c, "ScalingLimited")
        assert (limited["status"], limited["reason"], limited["message"]) == (
            "True", "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate")


def test_max_replicas_limits_and_says_so():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, workload(replicas=2) + "---" + autoscaler(high=3), load=2000)
        c.advance(120)
        assert replicas(c) == 3
        limited = condition(c, "ScalingLimited")
        assert (limited["status"], limited["reason"], limited["message"]) == (
            "True", "TooManyReplicas", "the desired replica count is more than the maximum replica count")
        active = condition(c, "ScalingActive")
        assert (active["status"], active["reason"], active["message"]) == (
            "True", "ValidMetricFound", f"the HPA was able to successfully calculate a replica count from {BY_CPU}")


def test_replicas_outside_min_max_are_brought_in_without_metrics():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, workload(replicas=5) + "---" + autoscaler(low=1, high=3), load=None)
        c.advance(15)
        assert replicas(c) == 3
        assert events(c, "SuccessfulRescale") == ["New size: 3; reason: Current number of replicas above "
                                                  "Spec.MaxReplicas"]


def test_target_without_requests_fails_to_get_the_resource_metric():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, workload(requests="{}") + "---" + autoscaler(), load=300)
        c.advance(60)
        pod = c.client.list(PODS, "default")["items"][0]["metadata"]["name"]
        cause = f"failed to get cpu utilization: missing request for cpu in container app of Pod {pod}"
        # (the first sync found the new pod not ready yet; the second, its container without a request)
        assert events(c, "FailedGetResourceMetric")[-1] == cause
        active = condition(c, "ScalingActive")
        assert (active["status"], active["reason"], active["message"]) == (
            "False", "FailedGetResourceMetric", f"the HPA was unable to compute the replica count: {cause}")
        assert events(c, "FailedComputeMetricsReplicas")[-1] == (
            "failed to compute desired number of replicas based on listed metrics for Deployment/default/web: "
            f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {cause}")
        status = hpa(c)["status"]
        assert status["currentMetrics"] == [{"type": ""}] and status["currentReplicas"] == 1
        assert replicas(c) == 1


def test_without_a_metrics_api_the_metric_is_unavailable_and_nothing_crashes():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0, metric_resolution=None) as c:
        start(c, workload() + "---" + autoscaler(), load=None)
        c.advance(30)
        assert events(c, "FailedGetResourceMetric") == [
            "failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
            "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)"]
        assert condition(c, "ScalingActive")["status"] == "False"
        assert c.kubectl("get hpa").splitlines()[1].split()[2:4] == ["cpu:", "<unknown>/50%"]


def test_missing_target_fails_to_get_scale():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, autoscaler(name="ghost"), load=0)
        c.advance(30)
        assert events(c, "FailedGetScale") == ['deployments.apps "ghost" not found']
        able = condition(c, "AbleToScale")
        assert (able["status"], able["reason"], able["message"]) == (
            "False", "FailedGetScale",
            'the HPA controller was unable to get the target\'s current scale: deployments.apps "ghost" not found')
        c.apply(workload(replicas=2).replace("{name: web}", "{name: ghost}"))   # the target appears
        c.advance(15)
        able = condition(c, "AbleToScale")
        assert (able["status"], able["reason"]) == ("True", "SucceededGetScale")


def test_unknown_kind_fails_to_get_scale():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, autoscaler(kind="Gizmo"), load=0)
        c.advance(15)
        assert events(c, "FailedGetScale") == ['no matches for kind "Gizmo" in group "apps"']


def test_scales_a_stateful_set_through_its_scale_subresource():
    sts = resources.lookup("sts")
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, workload("StatefulSet") + "---" + autoscaler("StatefulSet"), load=150)
        c.advance(120)
        assert replicas(c, sts) == 3   # 150m over pods of 100m at 50%: 3


def test_scale_to_zero_target_disables_scaling():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, workload(replicas=0) + "---" + autoscaler(), load=0)
        c.advance(15)
        active = condition(c, "ScalingActive")
        assert (active["status"], active["reason"], active["message"]) == (
            "False", "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
        assert replicas(c) == 0


def test_deleting_the_autoscaler_forgets_its_history():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        start(c, workload() + "---" + autoscaler(), load=300)
        controller = next(x for x in c.components if isinstance(x, HorizontalPodAutoscalerController))
        c.advance(45)
        assert ("default", "web") in controller.recommendations
        c.client.delete(HPA, "web", "default")
        c.advance(15)
        assert ("default", "web") not in controller.recommendations


# --- the pure steps ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("current,desired,low,high,expected,reason", [
    (1, 6, 1, 10, 4, "ScaleUpLimit"),        # at most max(2 × 1, 4)
    (5, 30, 1, 100, 10, "ScaleUpLimit"),     # at most double
    (5, 30, 1, 8, 8, "TooManyReplicas"),
    (5, 0, 2, 10, 2, "TooFewReplicas"),
    (5, 7, 1, 10, 7, "DesiredWithinRange"),
])
def test_limit_by_rules(current, desired, low, high, expected, reason):
    assert (pa.limit_by_rules(current, desired, low, high).replicas,
            pa.limit_by_rules(current, desired, low, high).reason) == (expected, reason)


DEFAULT_BEHAVIOR = {
    "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15},
                             {"type": "Pods", "value": 4, "periodSeconds": 15}]},
    "scaleDown": {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
}


def test_limit_by_behavior_defaults_allow_double_or_four_pods():
    assert pa.limit_by_behavior(1, 20, 1, 100, DEFAULT_BEHAVIOR, [], [], 100.0).replicas == 5    # 1 + 4
    assert pa.limit_by_behavior(10, 50, 1, 100, DEFAULT_BEHAVIOR, [], [], 100.0).replicas == 20  # 10 × 2
    # 2 pods added 10 s ago count against the 15 s period: it started at 8, so 16 at most
    assert pa.limit_by_behavior(10, 50, 1, 100, DEFAULT_BEHAVIOR, [ScaleEvent(2, 90.0)], [], 100.0).replicas == 16
    # ...but not once the period is over
    assert pa.limit_by_behavior(10, 50, 1, 100, DEFAULT_BEHAVIOR, [ScaleEvent(2, 85.0)], [], 100.0).replicas == 20
    assert pa.limit_by_behavior(10, 0, 1, 100, DEFAULT_BEHAVIOR, [], [], 100.0).reason == "TooFewReplicas"


def test_limit_by_behavior_select_policy():
    rules = {"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60},
                          {"type": "Percent", "value": 50, "periodSeconds": 60}]}
    up = lambda select: pa.limit_by_behavior(10, 100, 1, 100, {"scaleUp": {**rules, "selectPolicy": select}},  # noqa: E731
                                             [], [], 0.0).replicas
    down = lambda select: pa.limit_by_behavior(10, 1, 1, 100, {"scaleDown": {**rules, "selectPolicy": select}},  # noqa: E731
                                               [], [], 0.0).replicas
    assert (up("Max"), up("Min"), up("Disabled")) == (15, 12, 10)
    assert (down("Max"), down("Min"), down("Disabled")) == (5, 8, 10)
    # a percentage going down truncates, going up rounds up: 3 pods -10% is 2, +10% is 4
    assert pa.limit_by_behavior(3, 1, 1, 9, {"scaleDown": {"policies": [
        {"type": "Percent", "value": 10, "periodSeconds": 60}]}}, [], [], 0.0).replicas == 2
    assert pa.limit_by_behavior(3, 9, 1, 9, {"scaleUp": {"policies": [
        {"type": "Percent", "value": 10, "periodSeconds": 60}]}}, [], [], 0.0).replicas == 4


def test_stabilize_keeps_the_highest_recent_recommendation():
    past = [Recommendation(8, 0.0), Recommendation(5, 100.0)]
    assert pa.stabilize(past, 2, 250.0) == 8
    assert pa.stabilize(past, 2, 301.0) == 5     # the 8 of t=0 fell out of the window; its slot is reused
    assert len(past) == 3 and past[0] == Recommendation(2, 301.0)


def test_stabilize_with_behavior_windows():
    past = [Recommendation(3, 90.0), Recommendation(9, 95.0)]
    # scaling up with a 30 s up window: the lowest recent recommendation (3) wins over 10
    assert pa.stabilize_with_behavior(list(past), 2, 10, 100.0, 30.0, 300.0)[:2] == (3, "ScaleUpStabilized")
    # scaling down with a 300 s down window: the highest (9), but never above current
    assert pa.stabilize_with_behavior(list(past), 6, 1, 100.0, 0.0, 300.0)[:2] == (6, "ScaleDownStabilized")
    assert pa.stabilize_with_behavior(list(past), 6, 1, 100.0, 0.0, 0.0)[0] == 1


def test_milli_quantity_is_canonical():
    assert [pa.milli_quantity(m) for m in (450, 2000, 0, 1500, 104857600000, 2_000_000_000)] == [
        "450m", "2", "0", "1500m", "104857600", "2M"]


def test_pod_usages_reads_a_pod_metrics_list():
    usages = pa.pod_usages({"kind": "PodMetricsList", "items": [{
        "metadata": {"name": "web-1"}, "timestamp": "2026-01-01T00:00:00Z", "window": "1m0.5s",
        "containers": [{"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}}]}]})
    assert usages["web-1"].containers == {"app": {"cpu": 250, "memory": 64 * 1024 * 1024 * 1000}}
    assert usages["web-1"].window == 60.5
    with pytest.raises(pa.MetricsUnavailable):
        pa.pod_usages({"items": [{"metadata": {}}]})


CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: crontabs.stable.example.com}
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {replicas: {type: integer}}}
          status: {type: object, properties: {replicas: {type: integer}, labelSelector: {type: string}}}
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas,
              labelSelectorPath: .status.labelSelector}
"""


def test_scales_a_custom_resource_with_a_scale_subresource():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(CRD)
        c.run_until_stable()
        crontabs = resources.Resource("stable.example.com", "v1", "CronTab", "crontabs", subresources=("scale",))
        c.client.create(crontabs, {"apiVersion": "stable.example.com/v1", "kind": "CronTab",
                                   "metadata": {"name": "web"}, "spec": {"replicas": 1}}, "default")
        c.client.patch(crontabs, "web", {"status": {"replicas": 1, "labelSelector": "app=web"}}, "default",
                       subresource="status")
        c.apply("""
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: web}}
spec: {containers: [{name: app, image: nginx, resources: {requests: {cpu: 100m}}}]}
""")
        start(c, autoscaler().replace("apiVersion: apps/v1, kind: Deployment", "apiVersion: stable.example.com/v1, "
                                      "kind: CronTab"), load=300)
        c.advance(60)
        # 300% against 50% on its one pod: 6, at most 4 at once, then 6 (nothing runs more pods for it here)
        assert c.client.get(crontabs, "web", "default")["spec"]["replicas"] == 6
        assert events(c, "SuccessfulRescale") == [f"New size: {n}; reason: {BY_CPU} above target" for n in (4, 6)]


def test_a_failing_metric_blocks_scale_down_but_not_scale_up():
    pods_metric = "  - {type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: '10'}}}\n"
    manifest = workload(replicas=4) + "---" + autoscaler().replace(
        "  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]\n",
        "  metrics:\n  - {type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}\n"
        + pods_metric)
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        load = start(c, manifest, load=40)   # 10% of the requests: cpu alone would scale down to 1
        assert load is not None
        c.advance(600)
        assert replicas(c) == 4
        cause = ("unable to get metric qps: unable to fetch metrics from custom metrics API: no custom metrics API "
                 "(custom.metrics.k8s.io) registered")
        active = condition(c, "ScalingActive")
        assert (active["status"], active["reason"], active["message"]) == (
            "False", "FailedGetPodsMetric", f"the HPA was unable to compute the replica count: {cause}")
        assert events(c, "FailedGetPodsMetric")[-1] == cause
        assert hpa(c)["status"]["currentMetrics"][1] == {"type": ""}
        load.total = 2000   # now cpu wants more: the valid metric is enough to scale up
        c.advance(60)
        assert replicas(c) > 4
        active = condition(c, "ScalingActive")
        assert (active["status"], active["reason"]) == ("True", "ValidMetricFound")


def test_metrics_server_drives_the_autoscaler_up_under_load_and_down_after_the_window():
    """No fake: the simulated containers' declared load, scraped by metrics-server every 15 s and read by
    the controller through metrics.k8s.io, scales the Deployment up at once and down only after 300 s."""
    busy = '{"cpuMillicores": 90}'   # 90% of a 100m request: above the 50% target
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(workload().replace("metadata: {labels: {app: web}}",
                                   f"metadata: {{labels: {{app: web}}, annotations: {{sim.minik8s.io/app: '{busy}'}}}}")
                + "---" + autoscaler(high=4))
        seen = []
        for _ in range(12):
            c.advance(15)
            seen.append(replicas(c))
        assert seen == [1, 2, 2] + [4] * 9   # ceil(n × 90 / 50) once the new pods have metrics, capped at 4
        assert any(e.startswith("New size: 2; reason: " + BY_CPU + " above target")
                   for e in events(c, "SuccessfulRescale"))
        for pod in c.client.list(PODS, "default")["items"]:   # the load goes away
            c.kubectl(f"annotate pod {pod['metadata']['name']} --overwrite sim.minik8s.io/app="
                      + "'{\"cpuMillicores\": 5}'")
        quiet = []
        for _ in range(30):
            c.advance(15)
            quiet.append(replicas(c))
        first_down = quiet.index(1)
        assert all(n == 4 for n in quiet[:first_down])           # nothing moves before the window ends
        assert 300 <= (first_down + 1) * 15 <= 345 and quiet[-1] == 1
        assert events(c, "SuccessfulRescale")[-1] == "New size: 1; reason: All metrics below target"

"""autoscaling/v1 HorizontalPodAutoscalers (minik8s.api.autoscaling): the v2 objects in their older shape, with
what v1 has no field for kept in upstream's annotations, served by the API server beside v2."""

from __future__ import annotations

import json

import pytest

from minik8s.api import autoscaling, resources
from minik8s.api.errors import StatusError
from minik8s.cluster import Cluster

V1 = resources.get("autoscaling", "v1", "horizontalpodautoscalers")
V2 = resources.get("autoscaling", "v2", "horizontalpodautoscalers")

V2_HPA = {
    "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "web", "namespace": "default", "annotations": {"team": "a"}},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
        "minReplicas": 2, "maxReplicas": 8,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}},
            {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "200Mi"}}},
            {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
        ],
        "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}},
    },
    "status": {
        "currentReplicas": 3, "desiredReplicas": 4,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {
            "averageUtilization": 75, "averageValue": "75m"}}}],
        "conditions": [{"type": "AbleToScale", "status": "True", "reason": "SucceededRescale",
                        "message": "the HPA controller was able to update the target scale to 4",
                        "lastTransitionTime": "2026-01-01T00:00:00Z"}],
    },
}


def test_v1_shape_keeps_cpu_in_fields_and_the_rest_in_annotations():
    v1 = autoscaling.to_v1(V2_HPA)
    assert v1["apiVersion"] == "autoscaling/v1"
    assert v1["spec"] == {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                          "minReplicas": 2, "maxReplicas": 8, "targetCPUUtilizationPercentage": 50}
    assert v1["status"] == {"currentReplicas": 3, "desiredReplicas": 4, "currentCPUUtilizationPercentage": 75}
    notes = v1["metadata"]["annotations"]
    assert notes["team"] == "a"
    assert json.loads(notes["autoscaling.alpha.kubernetes.io/metrics"]) == [
        {"type": "Resource", "resource": {"name": "memory", "targetAverageValue": "200Mi"}},
        {"type": "Pods", "pods": {"metricName": "qps", "targetAverageValue": "10"}}]
    assert json.loads(notes["autoscaling.alpha.kubernetes.io/current-metrics"]) == [
        {"type": "Resource", "resource": {"name": "cpu", "currentAverageUtilization": 75,
                                          "currentAverageValue": "75m"}}]
    assert json.loads(notes["autoscaling.alpha.kubernetes.io/behavior"]) == {"scaleDown": {"stabilizationWindowSeconds": 60}}
    assert json.loads(notes["autoscaling.alpha.kubernetes.io/conditions"])[0]["reason"] == "SucceededRescale"
    assert V2_HPA["apiVersion"] == "autoscaling/v2" and "targetCPUUtilizationPercentage" not in V2_HPA["spec"]


def test_round_trip_loses_nothing_but_puts_cpu_last():
    back = autoscaling.to_v2(autoscaling.to_v1(V2_HPA))
    metrics = V2_HPA["spec"]["metrics"]
    assert back["spec"]["metrics"] == [*metrics[1:], metrics[0]]
    assert {k: v for k, v in back["spec"].items() if k != "metrics"} == \
        {k: v for k, v in V2_HPA["spec"].items() if k != "metrics"}
    assert back["status"] == V2_HPA["status"] and back["metadata"] == V2_HPA["metadata"]


def test_v1_without_a_target_means_80_percent_cpu():
    v2 = autoscaling.to_v2({"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                            "metadata": {"name": "x"}, "spec": {"maxReplicas": 3}})
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]


def test_served_in_both_versions_from_one_stored_object():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        made = c.client.create(V1, {
            "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 5, "targetCPUUtilizationPercentage": 40}}, "default")
        assert made["apiVersion"] == "autoscaling/v1" and made["spec"]["minReplicas"] == 1
        v2 = c.client.get(V2, "web", "default")
        assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 40}}}]
        assert "annotations" not in v2["metadata"]
        # a v2 write shows through v1, annotations and all, and a v1 write of them turns them back into fields
        v2["spec"]["behavior"] = {"scaleUp": {"stabilizationWindowSeconds": 30}}
        c.client.update(V2, v2, "default")
        v1 = c.client.get(V1, "web", "default")
        assert "autoscaling.alpha.kubernetes.io/behavior" in v1["metadata"]["annotations"]
        v1["spec"]["maxReplicas"] = 6
        c.client.update(V1, v1, "default")
        v2 = c.client.get(V2, "web", "default")
        assert v2["spec"]["maxReplicas"] == 6 and v2["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 30
        assert "annotations" not in v2["metadata"]
        assert [h["apiVersion"] for h in c.client.list(V1, "default")["items"]] == ["autoscaling/v1"]
        with pytest.raises(StatusError) as err:
            c.client.create(V1, {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                                 "metadata": {"name": "bad"},
                                 "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "maxReplicas": 0}},
                            "default")
        assert err.value.code == 422 and "spec.maxReplicas: Invalid value: 0" in err.value.message

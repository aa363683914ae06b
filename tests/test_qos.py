"""QoS classes (:mod:`minik8s.api.qos`) against upstream's rules and the examples of its task page
"Configure Quality of Service for Pods", as the API server writes them into ``status.qosClass``."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api.qos import pod_qos_class


def c(**resources: Any) -> dict[str, Any]:
    return {"name": "c", "image": "nginx", "resources": resources}


@pytest.mark.parametrize("spec,expected", [
    # The task page's qos-demo pods.
    ({"containers": [c(limits={"memory": "200Mi", "cpu": "700m"}, requests={"memory": "200Mi", "cpu": "700m"})]},
     "Guaranteed"),
    ({"containers": [c(limits={"memory": "200Mi"}, requests={"memory": "100Mi"})]}, "Burstable"),
    ({"containers": [c()]}, "BestEffort"),
    ({"containers": [c(requests={"memory": "200Mi"}), {"name": "d", "image": "redis"}]}, "Burstable"),
    # Requests left out default to limits.
    ({"containers": [c(limits={"memory": "1Gi", "cpu": "1"})]}, "Guaranteed"),
    # Only cpu and memory count, and only above zero.
    ({"containers": [c(requests={"ephemeral-storage": "1Gi"}, limits={"ephemeral-storage": "2Gi"})]}, "BestEffort"),
    ({"containers": [c(requests={"cpu": "0", "memory": "0"})]}, "BestEffort"),
    ({"containers": [c(limits={"memory": "1Gi", "cpu": "0"})]}, "Burstable"),
    ({"containers": [c(limits={"memory": "1Gi", "cpu": "1", "ephemeral-storage": "1Gi"},
                       requests={"ephemeral-storage": "500Mi"})]}, "Guaranteed"),
    # Every container counts, init containers too.
    ({"containers": [c(limits={"memory": "1Gi", "cpu": "1"})], "initContainers": [c()]}, "Burstable"),
    ({"containers": [c(limits={"memory": "1Gi", "cpu": "1"})],
      "initContainers": [c(limits={"memory": "64Mi", "cpu": "100m"})]}, "Guaranteed"),
    ({"containers": [c(limits={"memory": "1Gi", "cpu": "1"}, requests={"cpu": "500m"})]}, "Burstable"),
])
def test_qos_class_follows_upstream(spec: dict[str, Any], expected: str) -> None:
    assert pod_qos_class(spec) == expected


def test_the_api_server_writes_the_class_that_kubectl_describe_shows() -> None:
    from minik8s import Cluster

    with Cluster(nodes=0, clock="virtual", seed=0) as cluster:
        cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  containers:
  - name: app
    image: nginx
    resources: {requests: {ephemeral-storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: pinned}
spec:
  containers:
  - name: app
    image: nginx
    resources: {limits: {cpu: 500m, memory: 128Mi}}
""")
        classes = cluster.kubectl(["get", "pods", "-o", "jsonpath={range .items[*]}{.metadata.name}={.status.qosClass} {end}"])
        assert classes.split() == ["pinned=Guaranteed", "scratch=BestEffort"]
        assert "QoS Class:                   BestEffort" in cluster.kubectl(["describe", "pod", "scratch"])

"""Objects as upstream serialises them: every field upstream's OpenAPI marks required is there, so the
official client's models (which refuse a missing required field) read every kind the server returns."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from minik8s import Cluster
from minik8s.api import resources

WORKLOADS = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  replicas: 1
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec:
  serviceName: sts
  replicas: 0
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
binaryData: {b: AAE=}
"""

KINDS = ["DaemonSet", "ReplicationController", "StatefulSet", "Deployment", "ReplicaSet", "Pod", "Node",
         "Namespace", "Service", "ServiceAccount", "ConfigMap", "Endpoints", "EndpointSlice", "Event",
         "ClusterRole", "ClusterRoleBinding", "Lease"]


def _model(kind: str, group_version: str) -> str:
    version = group_version.rsplit("/", 1)[-1]
    core_v1_event = kind == "Event" and group_version == "v1"   # the client names it apart from events.k8s.io's
    return f"CoreV1{kind}" if core_v1_event else f"{version.capitalize()}{kind}"


@pytest.fixture(scope="module")
def settled():
    with Cluster(nodes=1, runtime="simulated", seed=1) as cluster:
        cluster.apply(WORKLOADS)
        cluster.run_until_stable(timeout=30)
        yield cluster


def _deserialize(data: object, model: str) -> object:
    api_client = k8s.ApiClient()   # client-side validation is on: a missing required field raises
    return api_client._ApiClient__deserialize(data, model)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_every_object_of_the_kind_reads_into_the_official_clients_model(settled, kind):
    res = next(r for r in resources.RESOURCES if r.kind == kind)
    items = settled.api.list(res, None)["items"]
    assert items, f"no {kind} to check"
    model = _model(kind, res.api_version)
    for item in items:
        obj = _deserialize(item, model)
        assert obj.metadata.name == item["metadata"]["name"]
    listed = _deserialize({**settled.api.list(res, None), "apiVersion": res.api_version, "kind": kind + "List"},
                          model.replace(kind, kind + "List"))
    assert len(listed.items) == len(items)


def test_a_new_daemonset_carries_its_required_zero_counters_before_any_controller_ran():
    with Cluster(nodes=0, runtime="simulated", seed=1) as cluster:
        res = resources.lookup("daemonsets")
        created = cluster.api.create(res, "default", {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
            "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": {
                "metadata": {"labels": {"app": "ds"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        assert created["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                     "desiredNumberScheduled": 0, "numberReady": 0}
        _deserialize(created, "V1DaemonSet")

"""Volumes in the scheduler: VolumeBinding and VolumeRestrictions, alone and in a cluster.

The cases follow upstream's documentation ("Persistent Volumes": binding, reclaiming;
"Storage Classes": volume binding mode, allowed topologies; "Access modes":
ReadWriteOncePod) and the FailedScheduling messages of v1.32's volumebinding and
volumerestrictions plugins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minik8s.api import resources, storage
from minik8s.cluster import Cluster
from minik8s.scheduler.algorithm import Scheduler
from minik8s.scheduler.cache import Cache, StorageListers
from minik8s.scheduler.plugins import volume_binding, volume_restrictions
from tests.test_scheduler import cache_with, make_node, make_pod
from tests.test_volume import _events

PODS = resources.by_plural("", "v1", "pods")
PVS = resources.by_plural("", "v1", "persistentvolumes")
PVCS = resources.by_plural("", "v1", "persistentvolumeclaims")
HOST = "kubernetes.io/hostname"
NO_PREEMPTION = "preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."


def claim(name: str, cls: str = "local", size: str = "1Gi", modes: tuple[str, ...] = ("ReadWriteOnce",),
          volume: str = "", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": list(modes), "resources": {"requests": {"storage": size}},
                            "storageClassName": cls, **extra}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "annotations": {}},
            "spec": spec}


def pv(name: str, size: str = "1Gi", cls: str = "local", node: str | None = None, labels: dict[str, str] | None = None,
       modes: tuple[str, ...] = ("ReadWriteOnce",), **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                            **extra}
    if node:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": HOST, "operator": "In", "values": [node]}]}]}}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def sc(name: str, provisioner: str = "kubernetes.io/no-provisioner", mode: str = "WaitForFirstConsumer",
       **extra: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode, **extra}


def with_storage(cache: Cache, claims: list[dict[str, Any]], volumes: list[dict[str, Any]],
                 classes: list[dict[str, Any]]) -> Cache:
    by_name = {c["metadata"]["name"]: c for c in claims}
    by_class = {c["metadata"]["name"]: c for c in classes}
    cache.storage = StorageListers(claim=lambda ns, name: by_name.get(name), volumes=lambda: volumes,
                                   storage_class=by_class.get)
    return cache


def pod_using(name: str, *claims: str, **kw: Any) -> dict[str, Any]:
    volumes = [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}} for i, c in enumerate(claims)]
    return make_pod(name, volumes=volumes, **kw)


def three_nodes(*pods: dict[str, Any]) -> Cache:
    return cache_with(make_node("n1"), make_node("n2"), make_node("n3"), pods=pods)


# --- the matching rules (shared by the PV controller and the scheduler) -----------------------


def test_matching_follows_the_documented_binding_rules() -> None:
    want = claim("c", size="2Gi")
    volumes = [pv("big", "10Gi"), pv("small", "1Gi"), pv("right", "3Gi"), pv("other-class", "2Gi", cls="fast"),
               pv("rox", "2Gi", modes=("ReadOnlyMany",)), pv("block", "2Gi", volumeMode="Block")]
    assert storage.find_best_match(want, volumes)["metadata"]["name"] == "right"  # type: ignore[index]
    # A selector narrows the candidates to volumes with matching labels.
    labelled = [*volumes, pv("fast-disk", "5Gi", labels={"tier": "ssd"})]
    picky = claim("c", size="2Gi", selector={"matchLabels": {"tier": "ssd"}})
    assert storage.find_best_match(picky, labelled)["metadata"]["name"] == "fast-disk"  # type: ignore[index]
    # A volume pre-bound with claimRef goes to that claim only, even when bigger.
    reserved = pv("reserved", "8Gi", claimRef={"namespace": "default", "name": "c"})
    assert storage.find_best_match(want, [*volumes, reserved])["metadata"]["name"] == "reserved"  # type: ignore
    assert storage.find_best_match(claim("other"), [reserved]) is None
    # With a node, node affinity counts; WaitForFirstConsumer without a node binds only pre-bound volumes.
    local = [pv("on-n1", node="n1"), pv("on-n2", node="n2")]
    assert storage.find_best_match(claim("c"), local, ({HOST: "n2"}, "n2"))["metadata"]["name"] == "on-n2"  # type: ignore
    assert storage.find_best_match(claim("c"), local, delay_binding=True) is None


# --- the plugins as pure calls ----------------------------------------------------------------


def test_a_bound_claim_pulls_the_pod_to_its_volumes_node() -> None:
    cache = with_storage(three_nodes(), [claim("data", volume="disk")], [pv("disk", node="n2")], [sc("local")])
    result = Scheduler().schedule(pod_using("p", "data"), cache)
    assert result.node == "n2"
    cache = with_storage(three_nodes(), [claim("data", volume="disk")], [pv("disk", node="elsewhere")], [sc("local")])
    result = Scheduler().schedule(pod_using("p", "data"), cache)
    assert result.message == f"0/3 nodes are available: 3 node(s) had volume node affinity conflict. {NO_PREEMPTION}"


def test_unbound_immediate_and_missing_claims_fail_in_prefilter() -> None:
    cache = with_storage(three_nodes(), [claim("data", cls="standard")], [], [sc("standard", mode="Immediate")])
    result = Scheduler().schedule(pod_using("p", "data"), cache)
    assert result.message == ("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                              f"{NO_PREEMPTION}")
    result = Scheduler().schedule(pod_using("p", "nope"), cache)
    assert result.message.startswith('0/3 nodes are available: persistentvolumeclaim "nope" not found.')


def test_wait_for_first_consumer_finds_a_static_volume_or_a_class_that_can_provision() -> None:
    # No provisioner and no volume anywhere: every node fails.
    cache = with_storage(three_nodes(), [claim("data")], [], [sc("local")])
    result = Scheduler().schedule(pod_using("p", "data"), cache)
    assert result.message == ("0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind. "
                              f"{NO_PREEMPTION}")
    # A local volume on n3: the pod goes there, and PreBind will pre-bind that volume.
    cache = with_storage(three_nodes(), [claim("data")], [pv("disk", node="n3")], [sc("local")])
    result = Scheduler().schedule(pod_using("p", "data"), cache)
    assert result.node == "n3"
    decision = result.state["VolumeBinding"].decisions["n3"]  # type: ignore[index]
    assert [v["metadata"]["name"] for _, v in decision.static] == ["disk"] and not decision.provision
    # A provisioner limited by allowedTopologies to n1.
    topo = sc("zonal", provisioner="minik8s.io/hostpath",
              allowedTopologies=[{"matchLabelExpressions": [{"key": HOST, "values": ["n1"]}]}])
    cache = with_storage(three_nodes(), [claim("data", cls="zonal")], [], [topo])
    result = Scheduler().schedule(pod_using("p", "data"), cache)
    assert result.node == "n1"
    assert result.state["VolumeBinding"].decisions["n1"].provision[0]["metadata"]["name"] == "data"  # type: ignore
    # A claim already annotated for n2 (provisioning under way there) keeps the pod to n2.
    chosen = claim("data", cls="zonal")
    chosen["metadata"]["annotations"][storage.ANN_SELECTED_NODE] = "n2"
    cache = with_storage(three_nodes(), [chosen], [], [sc("zonal", provisioner="minik8s.io/hostpath")])
    assert Scheduler().schedule(pod_using("p", "data"), cache).node == "n2"


def test_read_write_once_pod_admits_one_pod_in_the_whole_cluster() -> None:
    rwop = claim("solo", modes=("ReadWriteOncePod",), volume="disk")
    first = pod_using("first", "solo", node_name="n1")
    cache = with_storage(three_nodes(first), [rwop], [pv("disk", modes=("ReadWriteOncePod",))], [sc("local")])
    result = Scheduler().schedule(pod_using("second", "solo"), cache)
    assert result.node is None
    assert result.message.startswith(f"0/3 nodes are available: 3 {volume_restrictions.REASON}. preemption: ")
    # A higher-priority pod may preempt the current user.
    urgent = pod_using("urgent", "solo", priority=1000)
    outcome = Scheduler().schedule(urgent, cache)
    assert outcome.diagnosis.nominated_node == "n1"
    assert [v.name for v in outcome.diagnosis.victims] == ["first"]
    # A ReadWriteOnce claim is shared freely.
    shared = claim("shared", volume="disk2")
    cache = with_storage(three_nodes(pod_using("a", "shared", node_name="n1")), [shared], [pv("disk2")], [sc("local")])
    assert Scheduler().schedule(pod_using("b", "shared"), cache).node is not None


def test_pods_without_claims_skip_the_volume_plugins() -> None:
    result = Scheduler(explain=True).schedule(make_pod("plain"), three_nodes())
    assert result.node is not None
    assert "VolumeBinding" not in result.state  # type: ignore[operator]
    assert volume_binding.REASON_BIND_CONFLICT == "node(s) didn't find available persistent volumes to bind"


# --- in a cluster -----------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0, data_dir=tmp_path) as c:
        yield c


WFFC_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-path}
provisioner: minik8s.io/hostpath
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
"""

STATIC_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-storage}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
"""


def _pvc(name: str, cls: str, mode: str = "ReadWriteOnce") -> str:
    return (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}}}\nspec:\n"
            f"  storageClassName: {cls}\n  accessModes: [{mode}]\n  resources: {{requests: {{storage: 1Gi}}}}\n")


def _pod(name: str, claim_name: str, node_selector: str = "") -> str:
    selector = f"  nodeSelector: {{kubernetes.io/hostname: {node_selector}}}\n" if node_selector else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n{selector}"
            f"  containers: [{{name: app, image: nginx}}]\n"
            f"  volumes: [{{name: data, persistentVolumeClaim: {{claimName: {claim_name}}}}}]\n")


def test_wait_for_first_consumer_provisions_on_the_pods_node(cluster: Cluster) -> None:
    cluster.apply(WFFC_CLASS + "---\n" + _pvc("data", "local-path"))
    cluster.run_until_stable()
    pvc = cluster.client.get(PVCS, "data", "default")
    assert pvc["status"]["phase"] == "Pending"
    assert ("WaitForFirstConsumer", "waiting for first consumer to be created before binding") in _events(
        cluster, "data")
    cluster.apply(_pod("app", "data", node_selector="node-2"))
    cluster.run_until_stable()
    pvc = cluster.client.get(PVCS, "data", "default")
    assert pvc["metadata"]["annotations"][storage.ANN_SELECTED_NODE] == "node-2"
    assert pvc["status"]["phase"] == "Bound"
    volume = cluster.client.get(PVS, pvc["spec"]["volumeName"])
    assert volume["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": HOST, "operator": "In", "values": ["node-2"]}]}]
    assert ("ProvisioningSucceeded", f"Successfully provisioned volume {volume['metadata']['name']}") in _events(
        cluster, "data")
    assert cluster.client.get(PODS, "app", "default")["spec"]["nodeName"] == "node-2"
    # A second pod using the claim follows the volume to node-2.
    cluster.apply(_pod("follower", "data"))
    cluster.run_until_stable()
    assert cluster.client.get(PODS, "follower", "default")["spec"]["nodeName"] == "node-2"


def test_a_static_local_volume_pulls_the_pod_to_its_node(cluster: Cluster) -> None:
    cluster.apply(STATIC_CLASS + "---\n" + _pvc("logs", "local-storage") + """---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-disk}
spec:
  capacity: {storage: 5Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local-storage
  persistentVolumeReclaimPolicy: Retain
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-3]}]
""")
    cluster.run_until_stable()
    assert cluster.client.get(PVCS, "logs", "default")["status"]["phase"] == "Pending"  # waits for its consumer
    cluster.apply(_pod("writer", "logs"))
    cluster.run_until_stable()
    assert cluster.client.get(PODS, "writer", "default")["spec"]["nodeName"] == "node-3"
    pvc = cluster.client.get(PVCS, "logs", "default")
    assert pvc["status"]["phase"] == "Bound" and pvc["spec"]["volumeName"] == "local-disk"
    # Retain: deleting the claim leaves the volume Released, data and all.
    cluster.client.delete(PODS, "writer", "default")
    cluster.run_until_stable()
    cluster.client.delete(PVCS, "logs", "default")
    cluster.run_until_stable()
    assert cluster.client.get(PVS, "local-disk")["status"]["phase"] == "Released"


def test_no_volume_for_a_wait_for_first_consumer_claim_leaves_the_pod_pending(cluster: Cluster) -> None:
    cluster.apply(STATIC_CLASS + "---\n" + _pvc("logs", "local-storage") + "---\n" + _pod("writer", "logs"))
    cluster.run_until_stable()
    pod = cluster.client.get(PODS, "writer", "default")
    assert not pod["spec"].get("nodeName")
    assert ("FailedScheduling", "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to "
            "bind. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.") in _events(
        cluster, "writer")


def test_a_second_pod_on_a_read_write_once_pod_claim_is_unschedulable(cluster: Cluster) -> None:
    cluster.apply(_pvc("solo", "standard", mode="ReadWriteOncePod") + "---\n" + _pod("first", "solo"))
    cluster.run_until_stable()
    assert cluster.client.get(PODS, "first", "default")["spec"]["nodeName"]
    cluster.apply(_pod("second", "solo"))
    cluster.run_until_stable()
    assert not cluster.client.get(PODS, "second", "default")["spec"].get("nodeName")
    messages = [m for r, m in _events(cluster, "second") if r == "FailedScheduling"]
    assert messages and messages[-1].startswith(
        "0/3 nodes are available: 3 node has pod using PersistentVolumeClaim with the same name and "
        "ReadWriteOncePod access mode. preemption: ")
    cluster.client.delete(PODS, "first", "default")
    cluster.run_until_stable()
    assert cluster.client.get(PODS, "second", "default")["spec"]["nodeName"]


def test_an_immediate_claim_not_yet_bound_holds_the_pod_back(cluster: Cluster) -> None:
    cluster.apply(_pvc("later", "missing-class") + "---\n" + _pod("app", "later"))
    cluster.run_until_stable()
    assert not cluster.client.get(PODS, "app", "default")["spec"].get("nodeName")
    assert ("ProvisioningFailed", 'storageclass.storage.k8s.io "missing-class" not found') in _events(cluster, "later")
    assert any(m.startswith("0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
               for r, m in _events(cluster, "app") if r == "FailedScheduling")

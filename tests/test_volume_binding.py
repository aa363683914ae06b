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
from minik8s.cluster import Cluster, KubectlError
from minik8s.scheduler.algorithm import Scheduler
from minik8s.scheduler.cache import Cache, StorageListers
from minik8s.scheduler.plugins import volume_binding, volume_restrictions
from tests.conftest import needs_kubectl, start_server, wait_for
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

FANCY_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fancy, annotations: {team: storage}}
provisioner: minik8s.io/hostpath
parameters: {type: ssd, fsType: ext4}
mountOptions: [noatime, nodiratime]
allowVolumeExpansion: true
reclaimPolicy: Retain
allowedTopologies:
- matchLabelExpressions:
  - {key: kubernetes.io/hostname, values: [node-1, node-2]}
  - {key: kubernetes.io/os, values: [linux]}
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


# --- the real kubectl against minik8s server ----------------------------------------------------


@needs_kubectl
def test_real_kubectl_gets_and_describes_storage(tmp_path: Path) -> None:
    srv = start_server(tmp_path, "--nodes", "2", "--runtime", "simulated")
    try:
        ephemeral = EPHEMERAL_POD.replace("name: app}", "name: scratcher}").replace(
            "labels: {type: scratch}", "labels: {type: scratch, tier: fast}, annotations: {note: hi}")
        manifest = (WFFC_CLASS + "---\n" + _pvc("data", "local-path") + "---\n" + _pod("app", "data", "node-2")
                    + "---\n" + FANCY_CLASS + "---\n" + ephemeral)
        applied = srv.kubectl("apply", "-f", "-", stdin=manifest)
        assert applied.returncode == 0, applied.stderr

        def bound() -> bool:
            out = srv.kubectl("get", "pvc", "data", "-o", "jsonpath={.status.phase}").stdout
            return out == "Bound"

        wait_for(bound, what="the claim bound")
        got = srv.kubectl("get", "pv,pvc,sc")
        assert got.returncode == 0, got.stderr
        lines = got.stdout.splitlines()
        assert lines[0].split() == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM",
                                    "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]
        assert any(line.startswith("persistentvolumeclaim/data") and "Bound" in line and "local-path" in line
                   for line in lines)
        assert any(line.split()[:5] == ["storageclass.storage.k8s.io/local-path", "minik8s.io/hostpath", "Delete",
                                        "WaitForFirstConsumer", "false"] for line in lines)
        described = srv.kubectl("describe", "pvc", "data")
        assert described.returncode == 0, described.stderr
        text = described.stdout
        assert "volume.kubernetes.io/selected-node: node-2" in text
        assert "Used By:       app" in text
        assert "WaitForFirstConsumer" in text and "ProvisioningSucceeded" in text
        volume = srv.kubectl("get", "pvc", "data", "-o", "jsonpath={.spec.volumeName}").stdout
        pv_text = srv.kubectl("describe", "pv", volume).stdout
        assert "Term 0:        kubernetes.io/hostname in [node-2]" in pv_text
        node = srv.kubectl("get", "pod", "app", "-o", "jsonpath={.spec.nodeName}").stdout
        assert node == "node-2"
        # Oracle: minik8s's own kubectl describes a class and a volume as the real one does.
        for args in (("describe", "sc", "local-path"), ("describe", "sc", "standard"), ("describe", "sc", "fancy"),
                     ("describe", "pv", volume)):
            assert srv.kubectl(*args, real=False).stdout == srv.kubectl(*args).stdout, args

        def volumes(text: str) -> str:
            return text[text.index("Volumes:"):text.index("QoS Class:")]

        real = srv.kubectl("describe", "pod", "scratcher").stdout
        assert "EphemeralVolume (an inline specification" in real
        assert volumes(srv.kubectl("describe", "pod", "scratcher", real=False).stdout) == volumes(real)
    finally:
        if srv.process.poll() is None:
            srv.stop()


# --- expansion ------------------------------------------------------------------------------------

EXPANDABLE_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: expandable}
provisioner: minik8s.io/hostpath
allowVolumeExpansion: true
"""


def _resize(c: Cluster, name: str, size: str) -> str:
    return c.kubectl(f"patch pvc {name} -p " + """'{"spec":{"resources":{"requests":{"storage":"%s"}}}}'""" % size)


def test_a_bound_claim_of_an_expandable_class_grows(cluster: Cluster) -> None:
    cluster.apply(EXPANDABLE_CLASS + "---\n" + _pvc("data", "expandable"))
    cluster.run_until_stable()
    assert _resize(cluster, "data", "3Gi").strip() == "persistentvolumeclaim/data patched"
    cluster.run_until_stable()
    pvc = cluster.client.get(PVCS, "data", "default")
    assert pvc["status"]["capacity"]["storage"] == "3Gi" and not pvc["status"].get("conditions")
    assert cluster.client.get(PVS, pvc["spec"]["volumeName"])["spec"]["capacity"]["storage"] == "3Gi"
    volume = pvc["spec"]["volumeName"]
    events = _events(cluster, "data")
    assert ("Resizing", f"External resizer is resizing volume {volume}") in events
    assert ("VolumeResizeSuccessful", "Resize volume succeeded") in events
    # Shrinking is refused by validation.
    with pytest.raises(KubectlError) as refused:
        _resize(cluster, "data", "1Gi")
    assert str(refused.value).strip().endswith('The PersistentVolumeClaim "data" is invalid: '
                                               "spec.resources.requests.storage: Forbidden: field can not be less "
                                               "than previous value")


def test_expansion_needs_a_class_that_allows_it_and_a_bound_claim(cluster: Cluster) -> None:
    cluster.apply(_pvc("plain", "standard") + "---\n" + _pvc("waiting", "missing-class"))
    cluster.run_until_stable()
    with pytest.raises(KubectlError) as refused:
        _resize(cluster, "plain", "2Gi")
    assert str(refused.value).strip().endswith(
        'persistentvolumeclaims "plain" is forbidden: only dynamically provisioned pvc can be resized and the '
        "storageclass that provisions the pvc must support resize")
    with pytest.raises(KubectlError) as refused:
        _resize(cluster, "waiting", "2Gi")
    assert "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound " \
           "claims" in str(refused.value)


# --- generic ephemeral volumes ------------------------------------------------------------------

EPHEMERAL_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers: [{name: app, image: nginx, volumeMounts: [{name: scratch, mountPath: /scratch}]}]
  volumes:
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        metadata: {labels: {type: scratch}}
        spec:
          accessModes: [ReadWriteOnce]
          storageClassName: standard
          resources: {requests: {storage: 1Gi}}
"""


def test_an_ephemeral_volume_gets_a_claim_owned_by_its_pod(cluster: Cluster) -> None:
    cluster.apply(EPHEMERAL_POD)
    cluster.run_until_stable()
    pod = cluster.client.get(PODS, "app", "default")
    pvc = cluster.client.get(PVCS, "app-scratch", "default")
    assert pvc["metadata"]["labels"] == {"type": "scratch"}
    assert pvc["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "app",
                                                   "uid": pod["metadata"]["uid"], "controller": True,
                                                   "blockOwnerDeletion": True}]
    assert pvc["status"]["phase"] == "Bound"
    assert pod["spec"]["nodeName"]
    assert "Used By:       app" in cluster.kubectl("describe pvc app-scratch")
    # The pod goes, and the garbage collector takes its claim (and the Delete policy the volume).
    cluster.kubectl("delete pod app --grace-period=0 --force")
    cluster.run_until_stable()
    assert not cluster.client.list(PVCS, "default")["items"]


def test_an_ephemeral_volume_never_takes_over_someone_elses_claim(cluster: Cluster) -> None:
    cluster.apply(_pvc("app-scratch", "standard"))
    cluster.run_until_stable()
    cluster.apply(EPHEMERAL_POD)
    cluster.run_until_stable()
    assert not cluster.client.get(PODS, "app", "default")["spec"].get("nodeName")
    events = _events(cluster, "app")
    assert ("FailedBinding", "ephemeral volume scratch: PVC default/app-scratch was not created for pod default/app "
            "(pod is not owner)") in events
    assert any(r == "FailedScheduling" and m.startswith(
        "0/3 nodes are available: PVC default/app-scratch was not created for pod default/app (pod is not owner).")
        for r, m in events)


def test_the_scheduler_waits_for_an_ephemeral_volumes_claim() -> None:
    pod = make_pod("app", volumes=[{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}])
    cache = with_storage(three_nodes(), [], [], [sc("standard", mode="Immediate")])
    assert Scheduler().schedule(pod, cache).message.startswith(
        '0/3 nodes are available: waiting for ephemeral volume controller to create the persistentvolumeclaim '
        '"app-scratch".')


def test_a_claim_bigger_than_any_volume_stays_pending_with_upstreams_event(cluster: Cluster) -> None:
    cluster.apply("""\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: manual}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: small}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: /tmp/small}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: huge}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 50Gi}}
""")
    cluster.run_until_stable()
    assert cluster.client.get(PVCS, "huge", "default")["status"]["phase"] == "Pending"
    assert cluster.client.get(PVS, "small")["status"]["phase"] == "Available"
    assert ("ProvisioningFailed", "no volume plugin matched name: kubernetes.io/no-provisioner") in _events(
        cluster, "huge")


def test_a_stateful_pod_comes_back_to_its_local_volumes_node(cluster: Cluster) -> None:
    cluster.apply(WFFC_CLASS + """---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx, volumeMounts: [{name: www, mountPath: /usr/share/nginx/html}]}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec: {storageClassName: local-path, accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
""")
    cluster.run_until_stable()
    cluster.advance(30)
    cluster.run_until_stable()
    node = cluster.client.get(PODS, "web-1", "default")["spec"]["nodeName"]
    cluster.kubectl(f"cordon {node}")
    cluster.kubectl("delete pod web-1")
    cluster.run_until_stable()
    cluster.advance(60)
    cluster.run_until_stable()
    pod = cluster.client.get(PODS, "web-1", "default")
    assert not pod["spec"].get("nodeName")
    messages = [m for r, m in _events(cluster, "web-1") if r == "FailedScheduling"]
    assert messages[-1] == ("0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had volume node "
                            "affinity conflict. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
                            "for scheduling.")
    cluster.kubectl(f"uncordon {node}")
    cluster.run_until_stable()
    assert cluster.client.get(PODS, "web-1", "default")["spec"]["nodeName"] == node


def test_the_process_runtime_mounts_an_ephemeral_volumes_claim(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as c:
        c.apply(EPHEMERAL_POD.replace("image: nginx,", 'image: busybox, command: [sh, -c, "echo kept > '
                                      '/scratch/note; sleep 3600"],'))

        def written() -> Path | None:
            claims = {p["metadata"]["name"]: p for p in c.client.list(PVCS, "default")["items"]}
            name = (claims.get("app-scratch", {}).get("spec") or {}).get("volumeName")
            if not name:
                return None
            # The file is in the claim's volume directory (as the node sees it), not in an emptyDir.
            return next((p for p in (tmp_path / "cluster").rglob("note") if name in p.parts), None)

        note = wait_for(written, timeout=30, what="the container to write into the ephemeral volume")
        assert note.read_text() == "kept\n"


def test_read_write_once_pod_goes_alone(cluster: Cluster) -> None:
    with pytest.raises(KubectlError) as refused:
        cluster.apply(_pvc("mixed", "standard", mode="ReadWriteOncePod, ReadWriteOnce"))
    assert ('spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes'
            in str(refused.value))


def test_a_pod_waits_for_its_volumes_then_gives_up_at_the_binding_timeout(cluster: Cluster) -> None:
    cluster.apply("""\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: external}
provisioner: example.com/nfs
volumeBindingMode: WaitForFirstConsumer
---
""" + _pvc("shared", "external") + "---\n" + _pod("app", "shared", node_selector="node-1"))
    cluster.run_until_stable()
    pvc = cluster.client.get(PVCS, "shared", "default")
    assert pvc["metadata"]["annotations"][storage.ANN_SELECTED_NODE] == "node-1"
    assert any(r == "ExternalProvisioning" for r, _ in _events(cluster, "shared"))
    assert not cluster.client.get(PODS, "app", "default")["spec"].get("nodeName")  # assumed, not bound
    cluster.advance(600)
    cluster.run_until_stable()
    assert ("FailedScheduling", 'running PreBind plugin "VolumeBinding": binding volumes: context deadline '
            "exceeded") in _events(cluster, "app")

"""The persistent volume controller: binding, provisioning, reclaiming, and the default class."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.cluster import Cluster
from minik8s.controllers import volume

PVS = resources.by_plural("", "v1", "persistentvolumes")
PVCS = resources.by_plural("", "v1", "persistentvolumeclaims")
EVENTS = resources.by_plural("", "v1", "events")


def _claim(name: str, cls: str | None = "standard", size: str = "1Gi", **spec: Any) -> str:
    line = f"  storageClassName: {cls!r}\n" if cls is not None else ""
    extra = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    return (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}}}\nspec:\n{line}{extra}"
            f"  accessModes: [ReadWriteOnce]\n  resources: {{requests: {{storage: {size}}}}}\n")


def _pv(name: str, size: str, cls: str = "", policy: str = "Retain", labels: str = "{}") -> str:
    return (f"apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {name}, labels: {labels}}}\nspec:\n"
            f"  capacity: {{storage: {size}}}\n  accessModes: [ReadWriteOnce]\n"
            f"  persistentVolumeReclaimPolicy: {policy}\n  storageClassName: {cls!r}\n"
            f"  hostPath: {{path: /tmp/{name}}}\n")


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0, data_dir=tmp_path) as c:
        yield c


def _events(c: Cluster, name: str) -> list[tuple[str, str]]:
    items = c.client.list(EVENTS, "default")["items"]
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name]


# --- pure functions ---------------------------------------------------------------------------


def test_default_storage_class_admission() -> None:
    classes = [volume.default_class_object(), {"metadata": {"name": "fast"}}]
    assert volume.default_storage_class({"spec": {}}, classes)["spec"]["storageClassName"] == "standard"
    assert volume.default_storage_class({"spec": {"storageClassName": ""}}, classes)["spec"]["storageClassName"] == ""
    assert volume.default_storage_class({"spec": {"storageClassName": "fast"}}, classes)["spec"][
        "storageClassName"] == "fast"
    assert "storageClassName" not in volume.default_storage_class({"spec": {}}, classes[1:])["spec"]


def test_best_match_is_the_smallest_that_fits() -> None:
    def pv(name: str, size: str, cls: str = "", modes: tuple[str, ...] = ("ReadWriteOnce",)) -> dict[str, Any]:
        return {"metadata": {"name": name}, "spec": {"capacity": {"storage": size}, "accessModes": list(modes),
                                                     "storageClassName": cls}}
    claim = {"metadata": {"name": "c", "namespace": "default", "uid": "1"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}},
                      "storageClassName": ""}}
    vols = [pv("big", "10Gi"), pv("small", "1Gi"), pv("right", "3Gi"), pv("rox", "2Gi", modes=("ReadOnlyMany",)),
            pv("classed", "2Gi", cls="fast")]
    assert volume.find_best_match(claim, vols)["metadata"]["name"] == "right"  # type: ignore[index]
    prebound = pv("pre", "5Gi")
    prebound["spec"]["claimRef"] = {"namespace": "default", "name": "c"}
    assert volume.find_best_match(claim, [*vols, prebound])["metadata"]["name"] == "pre"  # type: ignore[index]
    assert volume.find_best_match(claim, [pv("small", "1Gi")]) is None


# --- in a cluster -----------------------------------------------------------------------------


def test_default_class_exists_at_start(cluster: Cluster) -> None:
    out = cluster.kubectl("get storageclass")
    assert "standard (default)" in out and "minik8s.io/hostpath" in out and "Immediate" in out


def test_dynamic_provisioning_binds_a_new_volume(cluster: Cluster, tmp_path: Path) -> None:
    cluster.apply(_claim("data"))
    claim = cluster.client.get(PVCS, "data", "default")
    pv_name = f"pvc-{claim['metadata']['uid']}"
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["volumeName"] == pv_name
    assert claim["status"]["capacity"] == {"storage": "1Gi"}
    assert claim["metadata"]["annotations"][volume.ANN_BIND_COMPLETED] == "yes"
    pv = cluster.client.get(PVS, pv_name)
    assert pv["status"]["phase"] == "Bound"
    assert pv["spec"]["claimRef"]["name"] == "data" and pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["hostPath"]["path"] == str(tmp_path / "volumes" / pv_name)
    assert (tmp_path / "volumes" / pv_name).is_dir()
    reasons = [r for r, _ in _events(cluster, "data")]
    assert reasons == ["ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"]
    assert ("ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}") in _events(cluster, "data")
    row = cluster.kubectl("get pvc data").splitlines()[1].split()
    assert row[:6] == ["data", "Bound", pv_name, "1Gi", "RWO", "standard"]


def test_reclaim_delete_removes_volume_and_directory(cluster: Cluster, tmp_path: Path) -> None:
    cluster.apply(_claim("data"))
    pv_name = cluster.client.get(PVCS, "data", "default")["spec"]["volumeName"]
    (tmp_path / "volumes" / pv_name / "file").write_text("hello")
    cluster.kubectl("delete pvc data")
    assert cluster.client.list(PVS)["items"] == []
    assert not (tmp_path / "volumes" / pv_name).exists()


def test_static_volume_binds_and_retain_keeps_it_released(cluster: Cluster) -> None:
    cluster.apply(_pv("small", "1Gi") + "---\n" + _pv("large", "5Gi"))
    assert cluster.client.get(PVS, "small")["status"]["phase"] == "Available"
    cluster.apply(_claim("c", cls="", size="2Gi"))
    claim = cluster.client.get(PVCS, "c", "default")
    assert claim["spec"]["volumeName"] == "large" and claim["status"]["phase"] == "Bound"
    assert claim["metadata"]["annotations"][volume.ANN_BOUND_BY_CONTROLLER] == "yes"
    cluster.kubectl("delete pvc c")
    pv = cluster.client.get(PVS, "large")
    assert pv["status"]["phase"] == "Released" and pv["spec"]["claimRef"]["name"] == "c"
    assert "Released" in cluster.kubectl("get pv large")
    # A new claim does not get a released volume: its data belongs to the old claim.
    cluster.apply(_claim("d", cls="", size="2Gi"))
    assert cluster.client.get(PVCS, "d", "default")["status"]["phase"] == "Pending"


def test_claim_without_class_and_no_volume_waits_with_event(cluster: Cluster) -> None:
    cluster.apply(_claim("c", cls=""))
    assert cluster.client.get(PVCS, "c", "default")["status"]["phase"] == "Pending"
    assert ("FailedBinding", volume.NO_CLASS_MESSAGE) in _events(cluster, "c")
    # A fitting volume appears: the claim binds without anyone touching it.
    cluster.apply(_pv("late", "1Gi"))
    assert cluster.client.get(PVCS, "c", "default")["status"]["phase"] == "Bound"


def test_unknown_class_stays_pending_and_settles(cluster: Cluster) -> None:
    cluster.apply(_claim("c", cls="gold"))
    cluster.advance(60)  # settles: no loop
    assert cluster.client.get(PVCS, "c", "default")["status"]["phase"] == "Pending"
    assert ("ProvisioningFailed", 'storageclass.storage.k8s.io "gold" not found') in _events(cluster, "c")


def test_other_provisioner_only_announces(cluster: Cluster) -> None:
    cluster.apply("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: ebs}\n"
                  "provisioner: ebs.csi.aws.com\n")
    cluster.apply(_claim("c", cls="ebs"))
    assert cluster.client.get(PVCS, "c", "default")["status"]["phase"] == "Pending"
    reasons = [r for r, _ in _events(cluster, "c")]
    assert "ExternalProvisioning" in reasons and "ProvisioningSucceeded" not in reasons


def test_lost_claim_when_volume_disappears(cluster: Cluster) -> None:
    cluster.apply(_pv("v", "1Gi"))
    cluster.apply(_claim("c", cls=""))
    assert cluster.client.get(PVCS, "c", "default")["status"]["phase"] == "Bound"
    cluster.kubectl("delete pv v")
    assert cluster.client.get(PVCS, "c", "default")["status"]["phase"] == "Lost"


def test_temporary_dir_removed_on_stop() -> None:
    c = Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0)
    c.apply(_claim("data"))
    pv = cluster_pv = c.client.get(PVS, c.client.get(PVCS, "data", "default")["spec"]["volumeName"])
    path = Path(cluster_pv["spec"]["hostPath"]["path"])
    assert path.is_dir() and path.parent.name == "volumes" and path.name == pv["metadata"]["name"]
    c.stop()
    assert not path.exists()

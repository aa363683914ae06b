"""The StatefulSet controller: ordered identity, storage that outlives pods, rolling updates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.cluster import Cluster
from minik8s.controllers import statefulset as sts_mod

PODS = resources.by_plural("", "v1", "pods")
PVCS = resources.by_plural("", "v1", "persistentvolumeclaims")
PVS = resources.by_plural("", "v1", "persistentvolumes")
STS = resources.by_plural("apps", "v1", "statefulsets")
EVENTS = resources.by_plural("", "v1", "events")


def manifest(replicas: int = 3, image: str = "nginx:1.25", policy: str = "OrderedReady", partition: int = 0,
             claims: bool = True) -> str:
    text = f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: nginx
  replicas: {replicas}
  podManagementPolicy: {policy}
  updateStrategy: {{type: RollingUpdate, rollingUpdate: {{partition: {partition}}}}}
  selector: {{matchLabels: {{app: nginx}}}}
  template:
    metadata: {{labels: {{app: nginx}}}}
    spec:
      containers:
      - name: nginx
        image: {image}
        readinessProbe: {{httpGet: {{path: /, port: 80}}, periodSeconds: 1, failureThreshold: 1}}
"""
    if claims:
        text += """  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      storageClassName: standard
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
"""
    return text


@pytest.fixture
def cluster(tmp_path: Path) -> Any:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0, data_dir=tmp_path) as c:
        yield c


def pods(c: Cluster) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p for p in c.client.list(PODS, "default")["items"]}


def ready(pod: dict[str, Any]) -> bool:
    return sts_mod.is_running_and_ready(pod)


def script(c: Cluster, pod: str, **behaviour: Any) -> None:
    """Script the simulated container of ``pod`` on whichever node runs it."""
    for kubelet in c.kubelets:
        kubelet.runtime.script("default", pod, "nginx", **behaviour)  # type: ignore[attr-defined]


def sts_events(c: Cluster) -> list[tuple[str, str]]:
    return [(e["reason"], e["message"]) for e in c.client.list(EVENTS, "default")["items"]
            if e["involvedObject"]["kind"] == "StatefulSet"]


# --- identity and storage ---------------------------------------------------------------------


def test_pods_have_stable_identity_claims_and_events(cluster: Cluster) -> None:
    cluster.apply(manifest())
    cluster.advance(20)
    ps = pods(cluster)
    assert sorted(ps) == ["web-0", "web-1", "web-2"] and all(map(ready, ps.values()))
    web1 = ps["web-1"]
    assert web1["spec"]["hostname"] == "web-1" and web1["spec"]["subdomain"] == "nginx"
    labels = web1["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1" and labels["apps.kubernetes.io/pod-index"] == "1"
    sts = cluster.client.get(STS, "web", "default")
    assert labels["controller-revision-hash"] == sts["status"]["updateRevision"]
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in web1["spec"]["volumes"]
    claim = cluster.client.get(PVCS, "www-web-1", "default")
    assert claim["metadata"]["labels"] == {"app": "nginx"} and claim["status"]["phase"] == "Bound"
    events = sts_events(cluster)
    assert ("SuccessfulCreate", "create Claim www-web-0 Pod web-0 in StatefulSet web success") in events
    assert ("SuccessfulCreate", "create Pod web-0 in StatefulSet web successful") in events
    status = sts["status"]
    assert (status["replicas"], status["readyReplicas"], status["currentReplicas"], status["updatedReplicas"],
            status["availableReplicas"]) == (3, 3, 3, 3, 3)
    assert status["currentRevision"] == status["updateRevision"] and status["observedGeneration"] == 1
    assert "3/3" in cluster.kubectl("get sts web")


def test_deleted_pod_returns_with_same_claim_and_data(cluster: Cluster) -> None:
    cluster.apply(manifest())
    cluster.advance(20)
    old_uid = pods(cluster)["web-1"]["metadata"]["uid"]
    pv = cluster.client.get(PVS, cluster.client.get(PVCS, "www-web-1", "default")["spec"]["volumeName"])
    data = Path(pv["spec"]["hostPath"]["path"])
    (data / "index.html").write_text("web-1 was here")
    cluster.kubectl("delete pod web-1")
    cluster.advance(20)
    web1 = pods(cluster)["web-1"]
    assert web1["metadata"]["uid"] != old_uid and ready(web1)
    assert {"name": "www", "persistentVolumeClaim": {"claimName": "www-web-1"}} in web1["spec"]["volumes"]
    assert cluster.client.get(PVCS, "www-web-1", "default")["spec"]["volumeName"] == pv["metadata"]["name"]
    assert (data / "index.html").read_text() == "web-1 was here"
    # Scaling down keeps the claims (whenScaled: Retain).
    cluster.client.patch(STS, "web", {"spec": {"replicas": 1}}, "default")
    cluster.advance(30)
    assert sorted(pods(cluster)) == ["web-0"]
    assert {c["metadata"]["name"] for c in cluster.client.list(PVCS, "default")["items"]} == {
        "www-web-0", "www-web-1", "www-web-2"}


def test_service_name_without_service_still_works(cluster: Cluster) -> None:
    cluster.apply(manifest(replicas=1, claims=False))
    cluster.advance(10)
    assert ready(pods(cluster)["web-0"])


# --- ordering (upstream conformance: predictable order, halt when unhealthy) ---------------------


def test_ordered_scale_up_halts_on_unready_pod(cluster: Cluster) -> None:
    script(cluster, "web-1", readyAfterSeconds=1000)
    cluster.apply(manifest(claims=False))
    cluster.advance(60)
    ps = pods(cluster)
    assert sorted(ps) == ["web-0", "web-1"]  # web-2 waits for web-1 to be Running and Ready
    assert ready(ps["web-0"]) and not ready(ps["web-1"])
    cluster.advance(1000)
    assert sorted(pods(cluster)) == ["web-0", "web-1", "web-2"]
    created = [m for r, m in sts_events(cluster) if r == "SuccessfulCreate"]
    assert created == [f"create Pod web-{i} in StatefulSet web successful" for i in range(3)]


def test_ordered_scale_down_is_reverse(cluster: Cluster) -> None:
    cluster.apply(manifest(claims=False))
    cluster.advance(30)
    cluster.client.patch(STS, "web", {"spec": {"replicas": 0}}, "default")
    cluster.advance(60)
    assert pods(cluster) == {}
    deleted = [m for r, m in sts_events(cluster) if r == "SuccessfulDelete"]
    assert deleted == [f"delete Pod web-{i} in StatefulSet web successful" for i in (2, 1, 0)]


def test_ordered_scale_down_halts_while_pods_are_unhealthy(cluster: Cluster) -> None:
    # As the conformance test: break every pod's readiness, then ask for 0 replicas.
    for i in range(3):
        script(cluster, f"web-{i}", readinessFailsAfterSeconds=20)
    cluster.apply(manifest(claims=False))
    cluster.advance(40)
    ps = pods(cluster)
    assert sorted(ps) == ["web-0", "web-1", "web-2"] and not any(map(ready, ps.values()))
    assert "readyReplicas" not in cluster.client.get(STS, "web", "default")["status"]  # 0 is omitempty
    cluster.client.patch(STS, "web", {"spec": {"replicas": 0}}, "default")
    cluster.advance(30)
    assert sorted(pods(cluster)) == ["web-0", "web-1", "web-2"]
    assert not [r for r, _ in sts_events(cluster) if r == "SuccessfulDelete"]


def test_burst_scaling_runs_to_completion_with_unhealthy_pods(cluster: Cluster) -> None:
    for i in range(3):
        script(cluster, f"web-{i}", readyAfterSeconds=1000)
    cluster.apply(manifest(policy="Parallel", claims=False))
    cluster.advance(10)
    ps = pods(cluster)
    assert sorted(ps) == ["web-0", "web-1", "web-2"] and not any(map(ready, ps.values()))
    cluster.client.patch(STS, "web", {"spec": {"replicas": 0}}, "default")
    cluster.advance(30)
    assert pods(cluster) == {}


# --- rolling update ---------------------------------------------------------------------------


def test_rolling_update_reverse_order_with_partition(cluster: Cluster) -> None:
    cluster.apply(manifest(claims=False))
    cluster.advance(30)
    first = cluster.client.get(STS, "web", "default")["status"]["currentRevision"]
    cluster.apply(manifest(image="nginx:1.26", partition=1, claims=False))
    cluster.advance(60)
    ps = pods(cluster)
    images = {n: p["spec"]["containers"][0]["image"] for n, p in ps.items()}
    assert images == {"web-0": "nginx:1.25", "web-1": "nginx:1.26", "web-2": "nginx:1.26"}
    status = cluster.client.get(STS, "web", "default")["status"]
    assert status["currentRevision"] == first and status["updateRevision"] != first
    assert status["updatedReplicas"] == 2 and status["currentReplicas"] == 1
    deleted = [m for r, m in sts_events(cluster) if r == "SuccessfulDelete"]
    assert deleted == [f"delete Pod web-{i} in StatefulSet web successful" for i in (2, 1)]
    # Lowering the partition finishes the rollout; the current revision catches up.
    cluster.client.patch(STS, "web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}}, "default")
    cluster.advance(30)
    status = cluster.client.get(STS, "web", "default")["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["updatedReplicas"] == 3
    revisions = cluster.kubectl("get controllerrevisions").splitlines()[1:]
    assert len(revisions) == 2


def test_rollback_reuses_the_old_revision(cluster: Cluster) -> None:
    cluster.apply(manifest(replicas=1, claims=False))
    cluster.advance(10)
    first = cluster.client.get(STS, "web", "default")["status"]["updateRevision"]
    cluster.apply(manifest(replicas=1, image="nginx:1.26", claims=False))
    cluster.advance(20)
    revisions = {r["metadata"]["name"]: r for r in cluster.client.list(sts_mod.REVISIONS, "default")["items"]}
    # kubectl rollout undo sends the old revision's data as a strategic merge patch.
    cluster.client.patch(STS, "web", revisions[first]["data"], "default", patch_type="strategic")
    cluster.advance(20)
    status = cluster.client.get(STS, "web", "default")["status"]
    assert status["updateRevision"] == first
    assert cluster.client.get(sts_mod.REVISIONS, first, "default")["revision"] == 3
    assert pods(cluster)["web-0"]["spec"]["containers"][0]["image"] == "nginx:1.25"


# --- the pure decision ------------------------------------------------------------------------


def _pod(ordinal: int, ready_: bool = True, revision: str = "r1") -> dict[str, Any]:
    return {"metadata": {"name": f"web-{ordinal}", "labels": {"controller-revision-hash": revision}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True" if ready_ else "False"}]}}


def _set(replicas: int, policy: str = "OrderedReady", strategy: str = "RollingUpdate") -> dict[str, Any]:
    return {"metadata": {"name": "web"}, "spec": {"replicas": replicas, "podManagementPolicy": policy,
                                                  "updateStrategy": {"type": strategy}}}


def test_decide_creates_one_at_a_time_or_all_at_once() -> None:
    assert [(a.verb, a.ordinal) for a in sts_mod.decide(_set(3), [_pod(0)], "r1", 0)] == [("create", 1)]
    assert [(a.verb, a.ordinal) for a in sts_mod.decide(_set(3, "Parallel"), [], "r1", 0)] == [
        ("create", 0), ("create", 1), ("create", 2)]
    assert sts_mod.decide(_set(3), [_pod(0, ready_=False)], "r1", 0) == []


def test_decide_update_and_on_delete() -> None:
    pods_ = [_pod(0), _pod(1), _pod(2)]
    actions = sts_mod.decide(_set(3), pods_, "r2", 0)
    assert [(a.verb, a.ordinal, a.reason) for a in actions] == [("delete", 2, "update")]
    assert sts_mod.decide(_set(3, strategy="OnDelete"), pods_, "r2", 0) == []

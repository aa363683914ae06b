"""minik8s.lab.scheduling: the explanation of one pod agrees with what the scheduler really did.

Each setup runs on a virtual-clock cluster with three zoned nodes; the scheduler decides, then
``explain`` is asked about the same pod and must name the node the pod was bound to (or, for a
pending pod, print exactly the message of its FailedScheduling event).
"""

from __future__ import annotations

import json

import pytest

from minik8s import Cluster
from minik8s.lab.scheduling import OK, explain
from minik8s.lab.session import ClusterView, InProcess, LabError

ZONES = {"node-1": "zone-a", "node-2": "zone-b", "node-3": "zone-c"}


@pytest.fixture
def cluster():
    with Cluster(nodes=3, runtime="simulated", clock="virtual") as c:
        for node, zone in ZONES.items():
            c.kubectl(f"label node {node} topology.kubernetes.io/zone={zone}")
        yield c


def _pod(name: str, spec: str = "", labels: str = "{}", cpu: str = "100m") -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {labels}}}
spec:
  containers: [{{name: c, image: nginx, resources: {{requests: {{cpu: "{cpu}"}}}}}}]
{spec}"""


def _events(cluster: Cluster, pod: str, reason: str) -> list[str]:
    events = json.loads(cluster.kubectl("get events -o json"))["items"]
    return [e["message"] for e in events if e["involvedObject"]["name"] == pod and e["reason"] == reason]


def _explained(cluster: Cluster, pod: str):
    """Explain ``pod`` and check the explanation against the scheduler's real decision."""
    explanation = explain(pod, source=ClusterView(InProcess(cluster)), show=False)
    node = json.loads(cluster.kubectl(f"get pod {pod} -o json"))["spec"].get("nodeName")
    if node:
        assert node in explanation.winners and explanation.message == ""
        assert explanation.row(node).feasible
    else:
        assert explanation.winners == []
        assert _events(cluster, pod, "FailedScheduling")[-1] == explanation.message
        assert not any(row.feasible for row in explanation.rows)
    return explanation


def test_taints_name_the_untolerated_taint_per_node_and_a_toleration_lets_the_pod_in(cluster):
    cluster.kubectl("taint node node-1 gpu=true:NoSchedule")
    cluster.kubectl("taint node node-2 team=blue:NoExecute")
    cluster.kubectl("taint node node-3 dedicated:NoSchedule")
    cluster.apply(_pod("plain"))
    cluster.advance(5)
    plain = _explained(cluster, "plain")
    assert [r.filters["TaintToleration"] for r in plain.rows] == [
        "node(s) had untolerated taint {gpu: true}", "node(s) had untolerated taint {team: blue}",
        "node(s) had untolerated taint {dedicated: }"]
    assert plain.message.startswith("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: }, ")
    cluster.apply(_pod("gpu", "  tolerations: [{key: gpu, operator: Equal, value: \"true\", effect: NoSchedule}]"))
    cluster.advance(5)
    gpu = _explained(cluster, "gpu")
    assert gpu.winners == ["node-1"] and "the only feasible node" in gpu.table()


def test_node_affinity_required_filters_and_preferred_weights_score(cluster):
    spec = """\
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: topology.kubernetes.io/zone, operator: NotIn, values: [zone-b]}]
      preferredDuringSchedulingIgnoredDuringExecution:
      - {weight: 20, preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-a]}]}}
      - {weight: 80, preference: {matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-c]}]}}
"""
    cluster.apply(_pod("picky", spec))
    cluster.advance(5)
    picky = _explained(cluster, "picky")
    assert picky.row("node-2").filters["NodeAffinity"] == "node(s) didn't match Pod's node affinity/selector"
    # Normalised so the best node gets 100, then times the plugin's weight 2.
    assert picky.row("node-3").scores["NodeAffinity"] == 200
    assert picky.row("node-1").scores["NodeAffinity"] == 2 * (100 * 20 // 80)
    assert picky.winners == ["node-3"]
    assert "NodeAffinity" in picky.table().split("Score")[1]


def test_required_anti_affinity_leaves_the_fourth_replica_pending_with_the_schedulers_message(cluster):
    anti = """\
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {labelSelector: {matchLabels: {app: cache}}, topologyKey: kubernetes.io/hostname}
"""
    for i in range(1, 5):
        cluster.apply(_pod(f"cache-{i}", anti, "{app: cache}"))
        cluster.advance(5)
    for i in range(1, 4):
        _explained(cluster, f"cache-{i}")
    pending = _explained(cluster, "cache-4")
    assert {r.filters["InterPodAffinity"] for r in pending.rows} == {"node(s) didn't match pod anti-affinity rules"}
    assert pending.message == ("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: "
                               "0/3 nodes are available: 3 No preemption victims found for incoming pod.")
    assert pending.table().endswith(f"No node fits: {pending.message}")


def test_topology_spread_rejects_the_zone_that_would_exceed_max_skew(cluster):
    cluster.kubectl("taint node node-2 maintenance=yes:NoSchedule")
    cluster.kubectl("taint node node-3 maintenance=yes:NoSchedule")
    spread = """\
  topologySpreadConstraints:
  - {maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule,
     labelSelector: {matchLabels: {app: spread}}}
"""
    cluster.apply(_pod("spread-1", spread, "{app: spread}"))
    cluster.advance(5)
    assert _explained(cluster, "spread-1").winners == ["node-1"]
    cluster.apply(_pod("spread-2", spread, "{app: spread}"))
    cluster.advance(5)
    second = _explained(cluster, "spread-2")
    assert second.row("node-1").filters["PodTopologySpread"] == "node(s) didn't match pod topology spread constraints"
    assert second.row("node-2").filters["PodTopologySpread"] == OK


def test_resources_every_failing_resource_is_reported_and_ties_are_said_as_such(cluster):
    cluster.apply(_pod("huge", cpu="64"))
    cluster.advance(5)
    huge = _explained(cluster, "huge")
    assert {r.filters["NodeResourcesFit"] for r in huge.rows} == {"Insufficient cpu"}
    cluster.apply(_pod("small"))
    cluster.advance(5)
    small = _explained(cluster, "small")
    assert len(small.winners) == 3 and small.table().splitlines()[-1].startswith("Tie: node-1, node-2, node-3")


def test_an_unknown_pod_is_a_lab_error(cluster):
    with pytest.raises(LabError, match='pods "nope" not found'):
        explain("nope", source=ClusterView(InProcess(cluster)))


def test_a_pod_with_a_claim_is_explained_with_the_volumes_it_can_use(cluster):
    cluster.apply("""\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: disk-2}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local
  local: {path: /mnt/disk}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-2]}]
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: local
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
""")
    cluster.apply(_pod("db", "  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]"))
    cluster.advance(10)
    db = _explained(cluster, "db")
    assert db.winners == ["node-2"]
    assert [r.filters["VolumeBinding"] for r in db.rows] == [
        "node(s) had volume node affinity conflict", OK, "node(s) had volume node affinity conflict"]

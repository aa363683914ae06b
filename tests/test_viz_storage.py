"""minik8s.viz.storage_svg: claims → volumes → nodes, coloured by phase, drawn from a live cluster
(and from canned objects for the phases a short run does not reach)."""

from __future__ import annotations

import json

from minik8s import viz
from minik8s.cluster import Cluster
from minik8s.lab.exercises import storage
from minik8s.lab.session import ClusterView, KubectlResult
from tests import svg_support

SVG_NS = svg_support.SVG_NS
FILL = dict(viz.VOLUME_PHASES)


_elements, _texts, _box_behind = svg_support.elements, svg_support.texts, svg_support.box_behind


def _paths(svg: viz.SVG) -> int:
    return sum(1 for e in _elements(svg) if e.tag == f"{SVG_NS}path")


def test_a_live_cluster_claim_volume_and_node() -> None:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(storage.WAIT_CLASS + "---\n" + storage.CACHE_CLAIM + "---\n" + storage.CACHE_USER_POD)
        c.apply(storage.ARCHIVE_VOLUME)
        c.apply(storage.claim_manifest("lonely").replace('storageClassName: ""', "storageClassName: gold"))
        c.advance(10)
        svg = viz.storage_svg(c)
        assert str(svg) == str(viz.storage_svg(c))   # deterministic
        volume = c.kubectl("get pvc cache -o jsonpath={.spec.volumeName}").strip()
    texts = _texts(svg)
    # rows: the claims in name order, then the volume no claim holds
    assert [t for t in texts if t in ("cache", "lonely", "archive")] == ["cache", "lonely", "archive"]
    assert "Bound · 1Gi · class local-wait" in texts and "used by cache-user" in texts
    assert volume in texts and "provisioned by minik8s.io/hostpath" in texts
    assert "Pending · 1Gi · class gold" in texts and "used by no pod" in texts and "no volume yet" in texts
    assert "Available · 1Gi · Retain" in texts and "path /mnt/archive" in texts
    # the provisioned volume is on the pod's node, and only that node is drawn
    assert [t for t in texts if t.startswith("node-")] == ["node-2"]
    assert _box_behind(svg, "cache").get("fill") == FILL["Bound"]
    assert _box_behind(svg, volume).get("fill") == FILL["Bound"]
    assert _box_behind(svg, "lonely").get("fill") == FILL["Pending"]
    assert _box_behind(svg, "archive").get("fill") == FILL["Available"]
    assert _paths(svg) == 2   # cache → its volume → node-2; the rest are unconnected


class FakeKubectl:
    """Answers `get KIND -o json` from canned objects."""

    def __init__(self, objects: dict[str, list[dict]]):
        self.objects = objects

    def kubectl(self, args, stdin=None):
        return KubectlResult(0, json.dumps({"kind": "List", "items": self.objects.get(args[1], [])}), "")


def test_released_lost_and_node_affinity() -> None:
    released = {"metadata": {"name": "archive"}, "status": {"phase": "Released"},
                "spec": {"capacity": {"storage": "1Gi"}, "persistentVolumeReclaimPolicy": "Retain",
                         "claimRef": {"namespace": "default", "name": "notes"}, "hostPath": {"path": "/mnt/archive"}}}
    pinned = {"metadata": {"name": "local-1"}, "status": {"phase": "Bound"},
              "spec": {"capacity": {"storage": "5Gi"}, "local": {"path": "/disks/1"},
                       "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                           {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-3"]}]}]}}}}
    shared = {"metadata": {"name": "shared"}, "status": {"phase": "Available"},
              "spec": {"capacity": {"storage": "10Gi"}, "nfs": {"server": "nfs.example.com", "path": "/exports"}}}
    claims = [{"metadata": {"name": "db", "namespace": "shop"}, "status": {"phase": "Bound"},
               "spec": {"volumeName": "local-1", "resources": {"requests": {"storage": "5Gi"}}}},
              {"metadata": {"name": "gone", "namespace": "default"}, "status": {"phase": "Lost"},
               "spec": {"volumeName": "pvc-x", "storageClassName": "standard"}}]
    svg = viz.storage_svg(ClusterView(FakeKubectl({"persistentvolumeclaims": claims,
                                                   "persistentvolumes": [released, pinned, shared]})), title="a <b>")
    texts = _texts(svg)
    assert texts[0] == "a <b>"
    assert "shop/db" in texts and "Bound · 5Gi · class <none>" in texts and "path /disks/1" in texts
    assert "pvc-x is gone" in texts and _box_behind(svg, "gone").get("fill") == FILL["Lost / Failed"]
    assert "claimRef default/notes (deleted)" in texts and _box_behind(svg, "archive").get("fill") == FILL["Released"]
    assert "nfs nfs.example.com:/exports" in texts and "Available · 10Gi · Retain" in texts
    assert [t for t in texts if t.startswith("node-")] == ["node-3"]   # from local-1's node affinity


def test_an_empty_cluster_says_so() -> None:
    texts = _texts(viz.storage_svg(ClusterView(FakeKubectl({}))))
    assert "no PersistentVolumeClaims and no PersistentVolumes" in texts

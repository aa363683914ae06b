"""minik8s.viz.control_plane_svg: the processes of a cluster from live state: every Node with its Ready
status and last Lease renewal, the holders of the leader-election Leases, one arrow per connection,
all pointing at the API server (or from it to the store)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from minik8s import viz
from minik8s.cluster import Cluster
from tests.test_viz import SVG_NS, _rect_fill_behind, _texts

SCHEDULER_LEASE = """\
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  holderIdentity: cp-2_8a6e1b1c-0000-4000-8000-000000000001
  leaseDurationSeconds: 15
"""


def test_nodes_leaders_and_arrows_come_from_the_cluster() -> None:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        c.advance(10)
        c.stop_kubelet("node-2")
        c.advance(60)
        c.apply(SCHEDULER_LEASE)
        root = ET.fromstring(str(viz.control_plane_svg(c, store="etcd", title="three nodes")))
    texts = _texts(root)
    assert ["node-1  Ready", "node-2  NotReady", "node-3  Ready"] == [t for t in texts if t.startswith("node-")]
    # node-2's kubelet renewed its Lease last at 10 s; the others every 10 s since, up to 70 s
    assert [t for t in texts if t.startswith("Lease renewed")] == ["Lease renewed 00:01:10", "Lease renewed 00:00:10",
                                                                   "Lease renewed 00:01:10"]
    assert "leader: cp-2" in texts and "no leader election" in texts   # the controller manager has no Lease
    assert "etcd" in texts and "three nodes" in texts
    assert _rect_fill_behind(root, "node-2  NotReady") == viz.LOST_FILL
    assert _rect_fill_behind(root, "node-1  Ready") == viz.READY_NODE_FILL
    # clients → API server → store, two elected components and three nodes → API server
    assert len(list(root.iter(f"{SVG_NS}line"))) == 2 + 2 + 3


def test_a_cluster_without_nodes_says_so_and_the_picture_is_deterministic() -> None:
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        first, second = str(viz.control_plane_svg(c)), str(viz.control_plane_svg(c))
    assert first == second
    assert "no nodes have registered" in _texts(ET.fromstring(first))

"""minik8s.viz: the cluster picture, the ownership tree and the rollout timeline are valid, escaped,
deterministic SVG that show what the cluster holds; RolloutRecorder samples pods per revision."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from minik8s import viz
from minik8s.api import resources
from minik8s.clock import VirtualClock
from minik8s.cluster import Cluster
from minik8s.lab.session import ClusterView, KubectlResult

SVG_NS = "{http://www.w3.org/2000/svg}"

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: NAME, labels: {app: demo}}
spec:
  containers: [{name: c, image: nginx:alpine}]
"""


def _parse(svg: viz.SVG) -> ET.Element:
    return ET.fromstring(str(svg))


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG_NS}text")]


def _rect_fill_behind(root: ET.Element, label: str) -> str:
    """The fill of the rectangle drawn just before the text ``label``."""
    last_fill = ""
    for element in root:
        if element.tag == f"{SVG_NS}rect":
            last_fill = element.get("fill", "")
        if element.tag == f"{SVG_NS}text" and element.text == label:
            return last_fill
    raise AssertionError(f"no text {label!r}")


# --- cluster_svg -------------------------------------------------------------------------

@pytest.fixture
def cluster():
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(POD.replace("NAME", "web"))
        c.advance(30)
        yield c


def test_cluster_svg_puts_running_pods_in_their_node_boxes(cluster):
    root = _parse(viz.cluster_svg(cluster))
    texts = _texts(root)
    assert texts[:2] == ["node-1", "Ready"]
    assert "web" in texts and "Running 1/1" in texts
    pod = cluster.client.list(resources.lookup("pods"))["items"][0]
    node_name = pod["spec"]["nodeName"]
    # the pod is drawn after its node's title and before the next node's
    order = [t for t in texts if t in ("node-1", "node-2", "web")]
    assert order.index("web") == order.index(node_name) + 1
    assert _rect_fill_behind(root, "web") == "#4caf50"
    assert [t for t in texts if t in ("Running, Ready", "Pending", "Terminating")] == \
        ["Running, Ready", "Pending", "Terminating"]


def test_unscheduled_pods_wait_in_their_own_box():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(POD.replace("NAME", "lonely"))
        root = _parse(viz.cluster_svg(c))
    texts = _texts(root)
    assert texts[0] == "unscheduled" and "lonely" in texts and "Pending 0/1" in texts
    assert _rect_fill_behind(root, "lonely") == "#ffb300"


def test_cluster_svg_is_deterministic_and_has_the_display_protocol(tmp_path):
    pictures = []
    for _ in range(2):
        with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
            for name in ("a", "b", "c", "d"):
                c.apply(POD.replace("NAME", name))
            c.advance(10)
            pictures.append(viz.cluster_svg(c))
    assert str(pictures[0]) == str(pictures[1])
    assert pictures[0]._repr_svg_() == str(pictures[0])
    saved = pictures[0].save(tmp_path / "cluster.svg")
    assert saved.read_text(encoding="utf-8") == str(pictures[0])
    assert not re.search(r'id="', str(pictures[0]))  # no generated ids to differ between runs


def test_text_is_escaped(cluster):
    svg = viz.cluster_svg(cluster, title='pods <&> "quoted"')
    root = _parse(svg)  # would raise on unescaped markup
    assert root.find(f"{SVG_NS}title").text == 'pods <&> "quoted"'
    assert _texts(root)[0] == 'pods <&> "quoted"'


def _pod(name, phase="Running", ready=True, waiting=None, deleting=False, node="node-1", **meta):
    status = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
              "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0,
                                     "state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}]}
    metadata = {"name": name, "namespace": "default", "uid": f"uid-{name}", **meta}
    if deleting:
        metadata["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {"metadata": metadata, "spec": {"nodeName": node, "containers": [{"name": "c"}]}, "status": status}


@pytest.mark.parametrize("pod,state,text", [
    (_pod("a"), "ready", "Running 1/1"),
    (_pod("b", ready=False), "running", "Running 0/1"),
    (_pod("c", ready=False, waiting="CrashLoopBackOff"), "failed", "CrashLoopBackOff 0/1"),
    (_pod("d", phase="Pending", ready=False, waiting="ImagePullBackOff"), "failed", "ImagePullBackOff 0/1"),
    (_pod("e", phase="Pending", ready=False, waiting="ContainerCreating"), "pending", "ContainerCreating 0/1"),
    (_pod("f", deleting=True), "terminating", "Terminating 1/1"),
    (_pod("g", phase="Failed", ready=False), "failed", "Failed 0/1"),
])
def test_pod_state(pod, state, text):
    if pod["metadata"]["name"] == "g":
        pod["status"]["containerStatuses"] = []
    assert viz.pod_state(pod) == (state, text)


# --- a fake real cluster: objects served as `kubectl get -o json` ------------------------------

class FakeKubectl:
    """Answers `get KIND -o json -n NS` from canned objects, as the real kubectl would print them."""

    def __init__(self, objects: dict[str, list[dict]]):
        self.objects = objects
        self.calls: list[list[str]] = []

    def kubectl(self, args, stdin=None):
        self.calls.append(args)
        kind = args[1]
        if kind not in self.objects:
            return KubectlResult(1, "", f'error: the server doesn\'t have a resource type "{kind}"\n')
        return KubectlResult(0, json.dumps({"kind": "List", "items": self.objects[kind]}), "")


def _owned(kind, name, owner=None, **extra):
    meta = {"name": name, "namespace": "default", "uid": f"uid-{kind}-{name}"}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True}]
    return {"kind": kind, "metadata": meta, **extra}


def _workloads():
    rs_old = _owned("ReplicaSet", "web-111", "uid-Deployment-web")
    rs_new = _owned("ReplicaSet", "web-222", "uid-Deployment-web")
    pods = [_pod("web-222-a", ownerReferences=[{"uid": "uid-ReplicaSet-web-222"}]),
            _pod("web-222-b", ownerReferences=[{"uid": "uid-ReplicaSet-web-222"}]),
            _pod("db-0", ownerReferences=[{"uid": "uid-StatefulSet-db"}])]
    pods[2]["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}]
    return {"deployments": [_owned("Deployment", "web")], "replicasets": [rs_new, rs_old],
            "statefulsets": [_owned("StatefulSet", "db")], "pods": pods,
            "persistentvolumeclaims": [_owned("PersistentVolumeClaim", "data-db-0")]}


def _boxes(root):
    """label -> (x, y) of the box drawn before it."""
    out, last = {}, None
    for element in root:
        if element.tag == f"{SVG_NS}rect":
            last = (float(element.get("x", 0)), float(element.get("y", 0)))
        if element.tag == f"{SVG_NS}text":
            out[element.text] = last
    return out


def test_ownership_tree_left_to_right():
    view = ClusterView(FakeKubectl(_workloads()))  # type: ignore[arg-type]
    root = _parse(viz.ownership_svg(view))
    boxes = _boxes(root)
    assert boxes["Deployment/web"][0] < boxes["ReplicaSet/web-222"][0] < boxes["Pod/web-222-a"][0]
    assert boxes["StatefulSet/db"][0] < boxes["Pod/db-0"][0] < boxes["PersistentVolumeClaim/data-db-0"][0]
    assert boxes["ReplicaSet/web-111"][0] == boxes["ReplicaSet/web-222"][0]
    # siblings in name order, the parent centred on its children
    assert boxes["ReplicaSet/web-111"][1] < boxes["ReplicaSet/web-222"][1]
    assert boxes["Pod/web-222-a"][1] < boxes["ReplicaSet/web-222"][1] < boxes["Pod/web-222-b"][1]
    assert len(list(root.iter(f"{SVG_NS}path"))) == 6  # 2 deploy→rs, 2 rs→pod, sts→pod, pod→pvc


def test_ownership_skips_kinds_the_cluster_does_not_serve():
    objects = _workloads()
    del objects["statefulsets"]
    root = _parse(viz.ownership_svg(ClusterView(FakeKubectl(objects))))  # type: ignore[arg-type]
    assert "Pod/db-0" in _texts(root) and "StatefulSet/db" not in _texts(root)


def test_ownership_of_an_empty_namespace():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        assert "no workloads in namespace default" in _texts(_parse(viz.ownership_svg(c)))


# --- rollouts ----------------------------------------------------------------------------

def test_rollout_timeline_stacks_revisions():
    samples = [(0, {"rev 1": 3}), (1, {"rev 1": 3, "rev 2": 1}), (2, {"rev 1": 2, "rev 2": 2}), (3, {"rev 2": 3})]
    root = _parse(viz.rollout_timeline_svg(samples, title="web"))
    polygons = list(root.iter(f"{SVG_NS}polygon"))
    assert [p.find(f"{SVG_NS}title").text for p in polygons] == ["rev 1", "rev 2"]
    texts = _texts(root)
    assert {"0s", "3s", "0", "3", "rev 1", "rev 2"} <= set(texts)
    # rev 2 sits on top of rev 1: its lowest edge at t=1 is rev 1's top (3 pods)
    points = [tuple(map(float, p.split(","))) for p in polygons[1].get("points").split()]
    rev1_top = [tuple(map(float, p.split(","))) for p in polygons[0].get("points").split()][1]
    assert rev1_top in points


def test_rollout_timeline_with_no_samples():
    assert "no samples yet" in _texts(_parse(viz.rollout_timeline_svg([])))


class ScriptedCluster:
    """A stand-in cluster whose Deployment rolls from hash aaa to bbb by one pod per second of virtual time."""

    virtual = True

    def __init__(self):
        self.clock = VirtualClock()
        self.step = 0
        self.client = self

    def advance(self, seconds):
        self.clock.advance(seconds)
        self.step += 1

    def list(self, resource, namespace=None, **kw):
        deployment = {"metadata": {"name": "web", "namespace": "default", "uid": "d1", "generation": 2},
                      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}},
                      "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": min(3, self.step),
                                 "availableReplicas": 3}}
        rs = [{"metadata": {"name": f"web-{h}", "labels": {"pod-template-hash": h}, "ownerReferences": [{"uid": "d1"}],
                            "annotations": {"deployment.kubernetes.io/revision": str(r)}}}
              for r, h in ((1, "aaa"), (2, "bbb"))]
        new = min(3, self.step)
        pods = [{"metadata": {"name": f"web-bbb-{i}", "labels": {"app": "web", "pod-template-hash": "bbb"}}}
                for i in range(new)]
        pods += [{"metadata": {"name": f"web-aaa-{i}", "labels": {"app": "web", "pod-template-hash": "aaa"}}}
                 for i in range(3 - new)]
        pods.append({"metadata": {"name": "other", "labels": {"app": "other", "pod-template-hash": "zzz"}}})
        pods.append({"metadata": {"name": "web-aaa-x", "deletionTimestamp": "2025-01-01T00:00:00Z",
                                  "labels": {"app": "web", "pod-template-hash": "aaa"}}})
        return {"items": {"deployments": [deployment], "replicasets": rs, "pods": pods}.get(resource.plural, [])}


def test_rollout_recorder_samples_pods_per_revision(capsys):
    recorder = viz.RolloutRecorder(ScriptedCluster(), "web")
    assert recorder.wait(timeout=10) is True
    assert [(s.time - recorder.samples[0].time, s.counts) for s in recorder.samples] == [
        (0, {"rev 1 (aaa)": 3}),
        (1, {"rev 1 (aaa)": 2, "rev 2 (bbb)": 1}),
        (2, {"rev 1 (aaa)": 1, "rev 2 (bbb)": 2}),
        (3, {"rev 2 (bbb)": 3}),
    ]
    err = capsys.readouterr().err
    assert err.endswith("\rrollout web: t=3s rev 2 (bbb): 3\n")
    svg = recorder.svg()
    assert "Rollout of deployment web" in str(svg) and recorder._repr_svg_() == str(svg)


def test_rollout_recorder_advance_and_timeout():
    cluster = ScriptedCluster()
    recorder = viz.RolloutRecorder(cluster, "web", progress=False)
    assert len(recorder.advance(2)) == 2 and len(recorder.samples) == 3
    stuck = viz.RolloutRecorder(cluster, "missing", progress=False)
    assert stuck.wait(timeout=2) is False
    assert all(s.counts == {} for s in stuck.samples)


def test_rollout_recorder_on_a_real_deployment_rollout():
    """With minik8s's own controllers: a rolling update from rev 1 to rev 2 never exceeds replicas + maxSurge."""
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 3\n"
                "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
                "    spec: {containers: [{name: c, image: nginx:1.0}]}\n")
        recorder = viz.RolloutRecorder(c, "web", progress=False)
        assert recorder.wait(timeout=120)
        c.kubectl("set image deployment/web c=nginx:1.1")
        assert recorder.wait(timeout=120)
    final = recorder.samples[-1].counts
    assert list(final.values()) == [3] and next(iter(final)).startswith("rev 2 (")
    assert any(len(s.counts) == 2 for s in recorder.samples)  # both revisions ran side by side
    assert max(sum(s.counts.values()) for s in recorder.samples) <= 3 + 1  # maxSurge 25% of 3 rounds up to 1
    polygons = list(_parse(recorder.svg()).iter(f"{SVG_NS}polygon"))
    assert [p.find(f"{SVG_NS}title").text[:5] for p in polygons] == ["rev 1", "rev 2"]

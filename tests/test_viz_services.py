"""minik8s.viz.service_svg: a Service, its EndpointSlices and their endpoints' Pods, drawn from
whatever the cluster holds (canned objects here, as `kubectl get -o json` prints them)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from minik8s import viz
from minik8s.lab.session import ClusterView, KubectlResult
from tests import svg_support

SVG_NS = svg_support.SVG_NS


class FakeKubectl:
    """Answers `get KIND -o json -n NS` from canned objects; an unknown kind fails as kubectl does."""

    def __init__(self, objects: dict[str, list[dict]]):
        self.objects = objects

    def kubectl(self, args, stdin=None):
        kind = args[1]
        if kind not in self.objects:
            return KubectlResult(1, "", f'error: the server doesn\'t have a resource type "{kind}"\n')
        return KubectlResult(0, json.dumps({"kind": "List", "items": self.objects[kind]}), "")


def _service(name="web", **spec):
    base = {"type": "ClusterIP", "clusterIP": "10.96.0.20", "selector": {"app": name},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}
    return {"kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": {**base, **spec}}


def _endpoint(pod, ip, node, ready=True, terminating=False):
    return {"addresses": [ip], "nodeName": node, "targetRef": {"kind": "Pod", "name": pod},
            "conditions": {"ready": ready, "serving": ready or terminating, "terminating": terminating}}


def _slice(name, service, endpoints):
    return {"kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": service}},
            "ports": [{"name": "http", "port": 9376, "protocol": "TCP"}], "endpoints": endpoints}


def _pod(name, ready=True):
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "conditions": conditions,
                       "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0,
                                              "state": {"running": {}}}]}}


def _view(**objects) -> ClusterView:
    return ClusterView(FakeKubectl(objects))


_elements, _texts, _box_behind = svg_support.elements, svg_support.texts, svg_support.box_behind


def _web_cluster():
    endpoints = [_endpoint("web-b", "10.244.2.2", "node-2", ready=False),
                 _endpoint("web-a", "10.244.1.2", "node-1"),
                 _endpoint("web-c", "10.244.3.2", "node-3", ready=False, terminating=True)]
    return _view(services=[_service(), _service("other")],
                 endpointslices=[_slice("web-x7k2p", "web", endpoints), _slice("other-abcde", "other", [])],
                 pods=[_pod("web-a"), _pod("web-b", ready=False)])


def test_service_slice_and_endpoints_are_drawn_with_their_states():
    svg = viz.service_svg(_web_cluster(), "web")
    texts = _texts(svg)
    assert texts[:5] == ["Service/web", "ClusterIP 10.96.0.20", "80 → http/TCP", "selector app=web",
                         "EndpointSlice/web-x7k2p"]
    assert "http 9376/TCP" in texts
    # endpoints sorted by Pod name, each with its address, readiness and node
    assert [t for t in texts if t.startswith("web-")] == ["web-a", "web-b", "web-c"]
    assert "10.244.1.2 ready on node-1" in texts and "10.244.2.2 not ready on node-2" in texts
    assert "10.244.3.2 terminating on node-3" in texts
    assert "other-abcde" not in " ".join(texts)  # another Service's slice is not drawn
    # a Pod that exists is coloured as cluster_svg colours it; a gone one by its conditions
    assert _box_behind(svg, "web-a").get("fill") == "#4caf50"
    assert _box_behind(svg, "web-b").get("fill") == "#c0ca33"
    assert _box_behind(svg, "web-c").get("fill") == "#9e9e9e"
    # not-ready endpoints are dashed: they get no traffic
    assert _box_behind(svg, "web-a").get("stroke-dasharray") is None
    assert _box_behind(svg, "web-b").get("stroke-dasharray") == "6 4"
    # one line from the Service to its slice, one from the slice to each endpoint
    assert sum(1 for e in _elements(svg) if e.tag == f"{SVG_NS}path") == 4


def test_the_picture_is_deterministic():
    assert str(viz.service_svg(_web_cluster(), "web")) == str(viz.service_svg(_web_cluster(), "web"))


def test_a_selector_that_matches_nothing_leaves_an_empty_slice():
    view = _view(services=[_service("shop", selector={"app": "shopp"})],
                 endpointslices=[_slice("shop-q2w4r", "shop", [])], pods=[])
    texts = _texts(viz.service_svg(view, "shop"))
    assert "selector app=shopp" in texts and "EndpointSlice/shop-q2w4r" in texts
    assert "no endpoints: the selector matches no Pod" in texts


def test_node_port_headless_and_external_name_services():
    node_port = _service(type="NodePort", ports=[{"port": 80, "targetPort": 9376, "nodePort": 30080}])
    assert "80:30080 → 9376/TCP" in _texts(viz.service_svg(_view(services=[node_port]), "web"))
    headless = _service(clusterIP="None")
    assert "ClusterIP None" in _texts(viz.service_svg(_view(services=[headless]), "web"))
    alias = {"kind": "Service", "metadata": {"name": "database", "namespace": "default"},
             "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    texts = _texts(viz.service_svg(_view(services=[alias]), "database"))
    assert texts[:3] == ["Service/database", "ExternalName db.example.com", "selector <none>"]
    assert "no EndpointSlices" in texts


def test_a_cluster_without_endpointslices_or_the_service():
    # an older cluster that does not serve EndpointSlices still gets the Service drawn
    texts = _texts(viz.service_svg(_view(services=[_service()], pods=[]), "web"))
    assert "Service/web" in texts and "no EndpointSlices: no Pod matches the selector" in texts
    texts = _texts(viz.service_svg(_view(services=[], pods=[]), "nope"))
    assert texts == ["no Service nope in namespace default"]


def test_names_are_escaped():
    view = _view(services=[_service(selector={"app": "<b>&"})])
    root = ET.fromstring(str(viz.service_svg(view, "web", title="a <title> & more")))
    assert root.get("aria-label") == "a <title> & more"
    assert "selector app=<b>&" in [e.text for e in root.iter(f"{SVG_NS}text")]

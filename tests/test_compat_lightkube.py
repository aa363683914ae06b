"""Compatibility: ``lightkube`` (typed resources and models, on httpx) against ``minik8s server``.

One test per common operation; see ``tests/compat_support.py`` for how the suite is read and marked.
lightkube offers no port-forward.
"""

from __future__ import annotations

import pytest

from compat_support import (GROUP, NAMESPACE, WIDGETS, cluster_fixture, configmap,
                            deployment, event, wait_for, widget, widget_crd)

lightkube = pytest.importorskip("lightkube")
from lightkube import ALL_NS, ApiError, Client, KubeConfig, codecs  # noqa: E402
from lightkube.generic_resource import create_namespaced_resource  # noqa: E402
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition  # noqa: E402
from lightkube.resources.apps_v1 import DaemonSet, Deployment, ReplicaSet, StatefulSet  # noqa: E402
from lightkube.resources.batch_v1 import Job  # noqa: E402
from lightkube.resources.core_v1 import ConfigMap, Event, Node, Pod, ReplicationController  # noqa: E402
from lightkube.types import PatchType  # noqa: E402

CLIENT = "lightkube"
PACKAGE = "lightkube"


cluster = cluster_fixture("compat-lightkube")


@pytest.fixture(scope="module")
def kube(cluster):
    with Client(config=KubeConfig.from_file(str(cluster.kubeconfig))) as made:
        yield made


def test_create_get_configmap(kube):
    """create and get a ConfigMap (typed models)"""
    made = kube.create(codecs.from_dict(configmap("cm-get", color="red")))
    got = kube.get(ConfigMap, "cm-get", namespace=NAMESPACE)
    assert got.data == {"color": "red"} and got.metadata.uid == made.metadata.uid


def test_list_with_label_selector(kube):
    """list ConfigMaps with a label selector"""
    for name, tier in (("cm-sel-1", "x"), ("cm-sel-2", "y")):
        kube.create(codecs.from_dict(configmap(name, {"tier": tier})))
    assert [cm.metadata.name for cm in kube.list(ConfigMap, namespace=NAMESPACE, labels={"tier": "x"})] == ["cm-sel-1"]


def test_list_all_namespaces_field_selector(kube):
    """list pods of all namespaces with a field selector"""
    pods = list(kube.list(Pod, namespace=ALL_NS, fields={"metadata.name": "web"}))
    assert [(pod.metadata.namespace, pod.metadata.name) for pod in pods] == [(NAMESPACE, "web")]


def test_list_in_chunks(kube):
    """list in chunks (limit and continue)"""
    for index in range(5):
        kube.create(codecs.from_dict(configmap(f"cm-chunk-{index}", {"chunked": "yes"})))
    names = [cm.metadata.name for cm in kube.list(ConfigMap, namespace=NAMESPACE, labels={"chunked": "yes"},
                                                  chunk_size=2)]
    assert names == [f"cm-chunk-{index}" for index in range(5)]


def test_replace(kube):
    """replace (PUT) a ConfigMap"""
    kube.create(codecs.from_dict(configmap("cm-put", color="red")))
    current = kube.get(ConfigMap, "cm-put", namespace=NAMESPACE)
    current.data = {"color": "green"}
    assert kube.replace(current).data == {"color": "green"}


def test_merge_patch(kube):
    """merge patch"""
    kube.create(codecs.from_dict(configmap("cm-merge", color="red", size="s")))
    patched = kube.patch(ConfigMap, "cm-merge", {"data": {"color": "blue", "size": None}}, namespace=NAMESPACE,
                         patch_type=PatchType.MERGE)
    assert patched.data == {"color": "blue"}


def test_json_patch(kube):
    """JSON patch"""
    kube.create(codecs.from_dict(configmap("cm-json", color="red")))
    patched = kube.patch(ConfigMap, "cm-json", [{"op": "replace", "path": "/data/color", "value": "blue"}],
                         namespace=NAMESPACE, patch_type=PatchType.JSON)
    assert patched.data == {"color": "blue"}


def test_strategic_merge_patch(kube):
    """strategic merge patch (the default) of a Deployment's containers"""
    kube.create(codecs.from_dict(deployment("smp")))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    patched = kube.patch(Deployment, "smp", patch, namespace=NAMESPACE)
    assert [c.name for c in patched.spec.template.spec.containers] == ["sidecar", "main"]


def test_server_side_apply(kube):
    """server-side apply (Client.apply) with a field manager"""
    applied = kube.apply(codecs.from_dict(deployment("ssa")), field_manager="compat")
    assert ("compat", "Apply") in {(f.manager, f.operation) for f in applied.metadata.managedFields}


def test_scale_subresource(kube):
    """scale a Deployment through its scale subresource (Deployment.Scale)"""
    kube.create(codecs.from_dict(deployment("scaled")))
    patched = kube.patch(Deployment.Scale, "scaled", {"spec": {"replicas": 2}}, namespace=NAMESPACE,
                         patch_type=PatchType.MERGE)
    assert (patched.kind, patched.spec.replicas) == ("Scale", 2)
    assert kube.get(Deployment.Scale, "scaled", namespace=NAMESPACE).spec.replicas == 2


def test_wait_for_condition(kube):
    """create a Deployment, wait for its condition Available, read its status subresource"""
    kube.create(codecs.from_dict(deployment("roll")))
    kube.wait(Deployment, "roll", for_conditions=["Available"], namespace=NAMESPACE)
    assert kube.get(Deployment.Status, "roll", namespace=NAMESPACE).status.availableReplicas == 1


def test_watch(kube):
    """watch ConfigMaps from a resourceVersion: ADDED, MODIFIED, DELETED"""
    start = kube.create(codecs.from_dict(configmap("cm-start"))).metadata.resourceVersion
    kube.create(codecs.from_dict(configmap("cm-watch", color="red")))
    kube.patch(ConfigMap, "cm-watch", {"data": {"color": "blue"}}, namespace=NAMESPACE, patch_type=PatchType.MERGE)
    kube.delete(ConfigMap, "cm-watch", namespace=NAMESPACE)
    seen = []
    for kind, obj in kube.watch(ConfigMap, namespace=NAMESPACE, resource_version=start, server_timeout=10):
        if obj.metadata.name == "cm-watch":
            seen.append((kind, (obj.data or {}).get("color")))
            if kind == "DELETED":
                break
    assert seen == [("ADDED", "red"), ("MODIFIED", "blue"), ("DELETED", "blue")]


def test_delete_then_not_found(kube):
    """delete, then get: ApiError 404"""
    kube.create(codecs.from_dict(configmap("cm-del")))
    kube.delete(ConfigMap, "cm-del", namespace=NAMESPACE)
    with pytest.raises(ApiError) as caught:
        kube.get(ConfigMap, "cm-del", namespace=NAMESPACE)
    assert (caught.value.status.code, caught.value.status.reason) == (404, "NotFound")


def test_create_existing_is_already_exists(kube):
    """create an existing object: ApiError 409 AlreadyExists"""
    kube.create(codecs.from_dict(configmap("cm-twice")))
    with pytest.raises(ApiError) as caught:
        kube.create(codecs.from_dict(configmap("cm-twice")))
    assert (caught.value.status.code, caught.value.status.reason) == (409, "AlreadyExists")


def test_deletecollection(kube):
    """delete every ConfigMap of a namespace (deletecollection)"""
    kube.create(codecs.from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "compat-bulk"}}))
    for index in range(3):
        kube.create(codecs.from_dict({**configmap(f"cm-bulk-{index}"), "metadata": {"name": f"cm-bulk-{index}"}}),
                    namespace="compat-bulk")
    kube.deletecollection(ConfigMap, namespace="compat-bulk")
    wait_for(lambda: not [cm for cm in kube.list(ConfigMap, namespace="compat-bulk")
                          if cm.metadata.name.startswith("cm-bulk-")], "the collection to be deleted")
    assert [cm.metadata.name for cm in kube.list(ConfigMap, namespace=NAMESPACE) if "bulk" in cm.metadata.name] == []


def test_read_every_workload_kind(kube):
    """list nodes, DaemonSets, StatefulSets, ReplicaSets, Jobs, ReplicationControllers into typed models"""
    nodes = list(kube.list(Node))
    assert nodes and nodes[0].status.nodeInfo.kubeletVersion.startswith("v1.32")
    for kind in (DaemonSet, StatefulSet, ReplicaSet, Job, ReplicationController):
        assert all(item.metadata.name for item in kube.list(kind, namespace=ALL_NS))


def test_logs(kube):
    """read a pod's logs"""
    assert any("nginx" in line for line in kube.log("web", namespace=NAMESPACE))


def test_exec(kube):
    """exec a command in a pod"""
    result = kube.exec("web", namespace=NAMESPACE, command=["echo", "hello"], stdout=True, stderr=True, timeout=20)
    assert (result.stdout, result.exit_code) == ("hello\n", 0)


def test_exec_with_stdin(kube):
    """exec with standard input"""
    result = kube.exec("web", namespace=NAMESPACE, command=["cat"], stdin="from stdin\n", stdout=True, timeout=5)
    assert result.stdout == "from stdin\n"


def test_events(kube):
    """create an Event and list a pod's events"""
    kube.create(codecs.from_dict(event("web.compat", "web", "Checked")))
    listed = kube.list(Event, namespace=NAMESPACE, fields={"involvedObject.name": "web"})
    assert "Checked" in {item.reason for item in listed}


def ensure_widgets(kube) -> None:
    try:
        kube.create(codecs.from_dict(widget_crd()))
    except ApiError as err:
        if err.status.code != 409:
            raise
    wait_for(lambda: any(c.type == "Established" and c.status == "True"
                         for c in kube.get(CustomResourceDefinition, WIDGETS).status.conditions or ()),
             "the CRD to be established")


def test_custom_objects(kube):
    """a CRD and its custom objects (generic resource): create, list, patch status, delete"""
    ensure_widgets(kube)
    Widget = create_namespaced_resource(GROUP, "v1", "Widget", "widgets")
    kube.create(Widget(widget("w1", 2)))
    assert [w.metadata.name for w in kube.list(Widget, namespace=NAMESPACE)] == ["w1"]
    kube.patch(Widget.Status, "w1", {"status": {"size": 2}}, namespace=NAMESPACE, patch_type=PatchType.MERGE)
    assert kube.get(Widget, "w1", namespace=NAMESPACE).status == {"size": 2}
    kube.delete(Widget, "w1", namespace=NAMESPACE)

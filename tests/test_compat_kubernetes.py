"""Compatibility: the official ``kubernetes`` Python client (sync) against ``minik8s server``.

One test per common operation; see ``tests/compat_support.py`` for how the suite is read and marked.
"""

from __future__ import annotations

import pytest
import yaml

from compat_support import (GROUP, NAMESPACE, EVENTS_V1_NULL_EVENT_TIME, WIDGETS, cluster_fixture,
                            configmap, deployment, event, wait_for, widget, widget_crd)

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client, utils, watch  # noqa: E402
from kubernetes.dynamic import DynamicClient  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402
from kubernetes.stream import portforward, stream  # noqa: E402

CLIENT = "kubernetes (official, sync)"
PACKAGE = "kubernetes"

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


cluster = cluster_fixture("compat-kubernetes")


@pytest.fixture(scope="module")
def api(cluster):
    with kubernetes.config.new_client_from_config(str(cluster.kubeconfig)) as api_client:
        yield api_client


@pytest.fixture
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api):
    return client.AppsV1Api(api)


def test_version(api):
    """GET /version"""
    assert client.VersionApi(api).get_code().git_version.startswith("v1.32")


def test_discovery(api):
    """discovery: API groups and the core resources"""
    groups = {group.name for group in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "batch", "rbac.authorization.k8s.io"} <= groups
    names = {resource.name for resource in client.CoreV1Api(api).get_api_resources().resources}
    assert {"pods", "pods/log", "pods/exec", "configmaps", "namespaces"} <= names


def test_create_get_configmap(core):
    """create and get a ConfigMap"""
    made = core.create_namespaced_config_map(NAMESPACE, configmap("cm-get", {"tier": "a"}, color="red"))
    got = core.read_namespaced_config_map("cm-get", NAMESPACE)
    assert got.data == {"color": "red"} and got.metadata.uid == made.metadata.uid


def test_list_with_label_selector(core):
    """list ConfigMaps with a label selector"""
    for name, tier in (("cm-sel-1", "x"), ("cm-sel-2", "y")):
        core.create_namespaced_config_map(NAMESPACE, configmap(name, {"tier": tier}))
    names = [cm.metadata.name for cm in core.list_namespaced_config_map(NAMESPACE, label_selector="tier=x").items]
    assert names == ["cm-sel-1"]


def test_list_with_field_selector_all_namespaces(core):
    """list pods of all namespaces with a field selector"""
    pods = core.list_pod_for_all_namespaces(field_selector="metadata.name=web").items
    assert [(pod.metadata.namespace, pod.metadata.name) for pod in pods] == [(NAMESPACE, "web")]


def test_list_in_chunks(core):
    """list pods in chunks (limit and _continue), the same as in one list"""
    for i in range(5):
        core.create_namespaced_pod(NAMESPACE, {"apiVersion": "v1", "kind": "Pod",
                                               "metadata": {"name": f"chunk-{i}", "labels": {"chunked": "yes"}},
                                               "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    whole = core.list_namespaced_pod(NAMESPACE, label_selector="chunked=yes")
    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_pod(NAMESPACE, label_selector="chunked=yes", limit=2, _continue=token)
        pages += 1
        names += [pod.metadata.name for pod in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == [pod.metadata.name for pod in whole.items] == [f"chunk-{i}" for i in range(5)]
    assert pages == 3
    for i in range(5):
        core.delete_namespaced_pod(f"chunk-{i}", NAMESPACE, grace_period_seconds=0)


def test_replace(core):
    """replace (PUT) a ConfigMap"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-put", color="red"))
    current = core.read_namespaced_config_map("cm-put", NAMESPACE)
    current.data = {"color": "green"}
    replaced = core.replace_namespaced_config_map("cm-put", NAMESPACE, current)
    assert replaced.data == {"color": "green"}
    assert replaced.metadata.resource_version != current.metadata.resource_version


def test_replace_conflict(core):
    """replace with a stale resourceVersion: 409 Conflict"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-stale", color="red"))
    stale = core.read_namespaced_config_map("cm-stale", NAMESPACE)
    core.patch_namespaced_config_map("cm-stale", NAMESPACE, {"data": {"color": "blue"}}, _content_type=MERGE)
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("cm-stale", NAMESPACE, stale)
    assert caught.value.status == 409 and '"reason":"Conflict"' in caught.value.body.replace(" ", "")


def test_merge_patch(core):
    """merge patch (application/merge-patch+json)"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-merge", color="red", size="s"))
    patched = core.patch_namespaced_config_map("cm-merge", NAMESPACE, {"data": {"color": "blue", "size": None}},
                                               _content_type=MERGE)
    assert patched.data == {"color": "blue"}


def test_json_patch(core):
    """JSON patch (application/json-patch+json)"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-json", color="red"))
    patched = core.patch_namespaced_config_map("cm-json", NAMESPACE, [
        {"op": "test", "path": "/data/color", "value": "red"},
        {"op": "add", "path": "/data/size", "value": "m"}], _content_type=JSON_PATCH)
    assert patched.data == {"color": "red", "size": "m"}


def test_strategic_merge_patch(apps):
    """strategic merge patch of a Deployment's containers (merged by name)"""
    apps.create_namespaced_deployment(NAMESPACE, deployment("smp"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
    patched = apps.patch_namespaced_deployment("smp", NAMESPACE, patch, _content_type=STRATEGIC)
    assert [c.name for c in patched.spec.template.spec.containers] == ["sidecar", "main"]


def test_server_side_apply(apps):
    """server-side apply (application/apply-patch+yaml) with a field manager"""
    body = deployment("ssa")
    applied = apps.patch_namespaced_deployment("ssa", NAMESPACE, body, field_manager="compat", _content_type=APPLY)
    assert applied.spec.replicas == 1
    assert ("compat", "Apply") in {(f.manager, f.operation) for f in applied.metadata.managed_fields}


def test_deployment_rolls_out(apps):
    """create a Deployment and read its status subresource until it is available"""
    apps.create_namespaced_deployment(NAMESPACE, deployment("roll"))
    status = wait_for(lambda: (apps.read_namespaced_deployment_status("roll", NAMESPACE).status.available_replicas
                               or 0) == 1, "deployment roll to be available")
    assert status


def test_scale_subresource(apps):
    """scale a Deployment through its scale subresource (autoscaling/v1 Scale)"""
    apps.create_namespaced_deployment(NAMESPACE, deployment("scaled"))
    scale = apps.read_namespaced_deployment_scale("scaled", NAMESPACE)
    assert (scale.kind, scale.api_version, scale.spec.replicas) == ("Scale", "autoscaling/v1", 1)
    patched = apps.patch_namespaced_deployment_scale("scaled", NAMESPACE, {"spec": {"replicas": 3}},
                                                     _content_type=MERGE)
    assert (patched.kind, patched.spec.replicas) == ("Scale", 3)
    assert apps.read_namespaced_deployment("scaled", NAMESPACE).spec.replicas == 3


def test_watch_from_resource_version(core):
    """watch ConfigMaps from a resourceVersion: ADDED, MODIFIED, DELETED"""
    start = core.list_namespaced_config_map(NAMESPACE).metadata.resource_version
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-watch", color="red"))
    core.patch_namespaced_config_map("cm-watch", NAMESPACE, {"data": {"color": "blue"}}, _content_type=MERGE)
    core.delete_namespaced_config_map("cm-watch", NAMESPACE)
    seen = []
    for item in watch.Watch().stream(core.list_namespaced_config_map, NAMESPACE, resource_version=start,
                                     timeout_seconds=10):
        if item["object"].metadata.name == "cm-watch":
            seen.append((item["type"], (item["object"].data or {}).get("color")))
            if item["type"] == "DELETED":
                break
    assert seen == [("ADDED", "red"), ("MODIFIED", "blue"), ("DELETED", "blue")]


def test_watch_initial_events(core):
    """watch with sendInitialEvents: the initial list, then a BOOKMARK marking its end"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-initial", {"initial": "yes"}))
    seen = []
    for item in watch.Watch().stream(core.list_namespaced_config_map, NAMESPACE, label_selector="initial=yes",
                                     send_initial_events=True, resource_version_match="NotOlderThan",
                                     allow_watch_bookmarks=True, timeout_seconds=10):
        annotations = item["raw_object"]["metadata"].get("annotations") or {}
        seen.append((item["type"], item["raw_object"]["metadata"].get("name"),
                     annotations.get("k8s.io/initial-events-end")))
        if item["type"] == "BOOKMARK":
            break
    assert seen == [("ADDED", "cm-initial", None), ("BOOKMARK", None, "true")]


def test_create_from_yaml(api, tmp_path):
    """kubernetes.utils.create_from_yaml (a file with several kinds)"""
    (tmp_path / "objects.yaml").write_text(yaml.safe_dump_all([configmap("cm-yaml", color="red"),
                                                              deployment("from-yaml", replicas=0)]))
    created = utils.create_from_yaml(api, str(tmp_path / "objects.yaml"), namespace=NAMESPACE)
    assert sorted(obj.metadata.name for group in created for obj in group) == ["cm-yaml", "from-yaml"]


def test_dynamic_client(api):
    """the dynamic client: discovery, then create, get, patch and list by apiVersion and kind"""
    dynamic = DynamicClient(api)
    configmaps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    deployments = dynamic.resources.get(api_version="apps/v1", kind="Deployment")
    assert (configmaps.namespaced, deployments.name) == (True, "deployments")
    configmaps.create(body=configmap("cm-dynamic", {"via": "dynamic"}, color="red"), namespace=NAMESPACE)
    configmaps.patch(name="cm-dynamic", namespace=NAMESPACE, body={"data": {"color": "blue"}},
                     content_type=MERGE)
    assert configmaps.get(name="cm-dynamic", namespace=NAMESPACE).data.color == "blue"
    listed = configmaps.get(namespace=NAMESPACE, label_selector="via=dynamic")
    assert [item.metadata.name for item in listed.items] == ["cm-dynamic"]


def test_namespace_lifecycle(core):
    """create and delete a Namespace"""
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "compat-ns"}})
    assert core.read_namespace("compat-ns").status.phase == "Active"
    core.delete_namespace("compat-ns")

    def gone() -> bool:
        try:
            core.read_namespace("compat-ns")
        except ApiException as err:
            return err.status == 404
        return False
    wait_for(gone, "the namespace to be deleted")


def test_status_subresource_patch(core):
    """patch a Service's status subresource (its spec stays as it was)"""
    core.create_namespaced_service(NAMESPACE, {"apiVersion": "v1", "kind": "Service",
                                               "metadata": {"name": "svc-status"},
                                               "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    condition = {"type": "Checked", "status": "True", "reason": "Compat", "message": "by the suite",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}
    patched = core.patch_namespaced_service_status("svc-status", NAMESPACE, {
        "spec": {"ports": [{"port": 81}]}, "status": {"conditions": [condition]}}, _content_type=MERGE)
    assert [c.type for c in patched.status.conditions] == ["Checked"]
    assert [p.port for p in core.read_namespaced_service("svc-status", NAMESPACE).spec.ports] == [80]


def test_delete_then_not_found(core):
    """delete, then get: 404 NotFound"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-del"))
    core.delete_namespaced_config_map("cm-del", NAMESPACE)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("cm-del", NAMESPACE)
    assert caught.value.status == 404


def test_create_existing_is_already_exists(core):
    """create an existing object: 409 AlreadyExists"""
    core.create_namespaced_config_map(NAMESPACE, configmap("cm-twice"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(NAMESPACE, configmap("cm-twice"))
    assert caught.value.status == 409 and "AlreadyExists" in caught.value.body


def test_delete_with_foreground_propagation(apps):
    """delete a Deployment with foreground propagation: its ReplicaSets go too"""
    apps.create_namespaced_deployment(NAMESPACE, deployment("gone", replicas=0))   # no pod to wait for
    wait_for(lambda: apps.list_namespaced_replica_set(NAMESPACE, label_selector="app=gone").items,
             "the deployment's replicaset")
    apps.delete_namespaced_deployment("gone", NAMESPACE, propagation_policy="Foreground")
    wait_for(lambda: not apps.list_namespaced_replica_set(NAMESPACE, label_selector="app=gone").items,
             "the replicaset to be deleted")


def test_read_every_workload_kind(api):
    """list nodes, DaemonSets, StatefulSets, Jobs, ReplicationControllers into the client's models"""
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    nodes = core.list_node().items
    assert nodes and nodes[0].status.node_info.kubelet_version.startswith("v1.32")
    for lister in (apps.list_daemon_set_for_all_namespaces, apps.list_stateful_set_for_all_namespaces,
                   batch.list_job_for_all_namespaces, core.list_replication_controller_for_all_namespaces):
        assert lister().items is not None


def test_logs(core):
    """read a pod's logs"""
    assert "nginx" in core.read_namespaced_pod_log("web", NAMESPACE)


def test_exec(core):
    """exec a command in a pod (websocket)"""
    out = stream(core.connect_get_namespaced_pod_exec, "web", NAMESPACE, command=["echo", "hello"],
                 stdout=True, stderr=True, stdin=False, tty=False)
    assert out == "hello\n"


def test_exec_with_stdin(core):
    """exec with standard input"""
    response = stream(core.connect_get_namespaced_pod_exec, "web", NAMESPACE, command=["cat"],
                      stdout=True, stderr=True, stdin=True, tty=False, _preload_content=False)
    try:
        response.write_stdin("from stdin\n")
        got = wait_for(lambda: (response.update(timeout=1), response.peek_stdout())[1], "cat to echo stdin", 5)
        assert got == "from stdin\n"
    finally:
        response.close()


def test_port_forward(core):
    """port-forward to a pod (websocket)"""
    forward = portforward(core.connect_get_namespaced_pod_portforward, "web", NAMESPACE, ports="80")
    sock = forward.socket(80)
    try:
        sock.settimeout(10)
        sock.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        answer = b""
        while b"</html>" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b"Welcome to nginx!" in answer
    finally:
        sock.close()


def test_events(core):
    """create an Event and list a pod's events (core/v1)"""
    core.create_namespaced_event(NAMESPACE, event("web.compat", "web", "Checked"))
    listed = core.list_namespaced_event(NAMESPACE, field_selector="involvedObject.name=web").items
    assert "Checked" in {item.reason for item in listed}


@pytest.mark.xfail(strict=True, reason=EVENTS_V1_NULL_EVENT_TIME)
def test_events_v1(core, api):
    """create and list events.k8s.io/v1 Events"""
    body = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "web.v1", "namespace": NAMESPACE},
            "eventTime": "2026-01-01T00:00:00.000000Z", "reportingController": "compat.minik8s.io/suite",
            "reportingInstance": "suite-1", "action": "Check", "reason": "CheckedV1", "type": "Normal",
            "regarding": {"apiVersion": "v1", "kind": "Pod", "name": "web", "namespace": NAMESPACE}}
    client.EventsV1Api(api).create_namespaced_event(NAMESPACE, body)
    assert "CheckedV1" in {item.reason for item in client.EventsV1Api(api).list_namespaced_event(NAMESPACE).items}
    # both APIs serve the same events: the new one is visible as a core/v1 Event too
    assert "CheckedV1" in {item.reason for item in core.list_namespaced_event(NAMESPACE).items}


def ensure_widgets(api) -> None:
    """The suite's CustomResourceDefinition, created once and Established."""
    extensions = client.ApiextensionsV1Api(api)
    try:
        extensions.create_custom_resource_definition(widget_crd())
    except ApiException as err:
        if err.status != 409:
            raise
    wait_for(lambda: any(c.type == "Established" and c.status == "True"
                         for c in extensions.read_custom_resource_definition(WIDGETS).status.conditions or ()),
             "the CRD to be established")


def test_custom_resource_definition(api):
    """create a CustomResourceDefinition and wait until it is Established"""
    ensure_widgets(api)


def test_custom_objects(api):
    """create, get, list, patch status of and delete custom objects"""
    ensure_widgets(api)
    objects = client.CustomObjectsApi(api)
    objects.create_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", widget("w1", 2))
    assert objects.get_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "w1")["spec"]["size"] == 2
    names = [o["metadata"]["name"] for o in objects.list_namespaced_custom_object(GROUP, "v1", NAMESPACE,
                                                                                  "widgets")["items"]]
    assert names == ["w1"]
    objects.patch_namespaced_custom_object_status(GROUP, "v1", NAMESPACE, "widgets", "w1", {"status": {"size": 2}})
    assert objects.get_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "w1")["status"] == {"size": 2}
    objects.delete_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "w1")
    with pytest.raises(ApiException) as caught:
        objects.get_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "w1")
    assert caught.value.status == 404

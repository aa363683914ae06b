"""Compatibility: ``kubernetes-asyncio`` (the official client's asyncio port, on aiohttp) against ``minik8s server``.

One test per common operation; see ``tests/compat_support.py`` for how the suite is read and marked.
Each test runs its coroutine in its own event loop with its own ``ApiClient`` (an aiohttp session belongs
to one loop).
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest

from compat_support import (GROUP, NAMESPACE, WIDGETS, cluster_fixture, configmap,
                            deployment, event, widget, widget_crd)

kubernetes_asyncio = pytest.importorskip("kubernetes_asyncio")
from kubernetes_asyncio import client, config, watch  # noqa: E402
from kubernetes_asyncio.client.rest import ApiException  # noqa: E402
from kubernetes_asyncio.stream import WsApiClient  # noqa: E402

CLIENT = "kubernetes-asyncio"
PACKAGE = "kubernetes_asyncio"

MERGE = "application/merge-patch+json"
APPLY = "application/apply-patch+yaml"


cluster = cluster_fixture("compat-asyncio")


@pytest.fixture
def run(cluster) -> Callable[..., Any]:
    """``run(body)`` awaits ``body(api)`` with an ApiClient (``run(body, ws=True)``: a websocket one)."""
    def runner(body: Callable[[Any], Awaitable[Any]], ws: bool = False) -> Any:
        async def main() -> Any:
            configuration = client.Configuration()
            await config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=configuration)
            async with (WsApiClient if ws else client.ApiClient)(configuration) as api:
                return await body(api)
        return asyncio.run(main())
    return runner


async def wait_for(condition: Callable[[], Awaitable[Any]], what: str, timeout: float = 30) -> Any:
    async def poll() -> Any:
        while not (value := await condition()):
            await asyncio.sleep(0.1)
        return value
    try:
        return await asyncio.wait_for(poll(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"timed out after {timeout:g} s waiting for {what}") from None


def test_version(run):
    """GET /version"""
    async def body(api):
        return (await client.VersionApi(api).get_code()).git_version
    assert run(body).startswith("v1.32")


def test_create_get_configmap(run):
    """create and get a ConfigMap"""
    async def body(api):
        core = client.CoreV1Api(api)
        made = await core.create_namespaced_config_map(NAMESPACE, configmap("cm-get", color="red"))
        got = await core.read_namespaced_config_map("cm-get", NAMESPACE)
        assert got.data == {"color": "red"} and got.metadata.uid == made.metadata.uid
    run(body)


def test_list_with_label_selector(run):
    """list ConfigMaps with a label selector"""
    async def body(api):
        core = client.CoreV1Api(api)
        for name, tier in (("cm-sel-1", "x"), ("cm-sel-2", "y")):
            await core.create_namespaced_config_map(NAMESPACE, configmap(name, {"tier": tier}))
        listed = await core.list_namespaced_config_map(NAMESPACE, label_selector="tier=x")
        assert [cm.metadata.name for cm in listed.items] == ["cm-sel-1"]
    run(body)


def test_list_all_namespaces_field_selector(run):
    """list pods of all namespaces with a field selector"""
    async def body(api):
        pods = (await client.CoreV1Api(api).list_pod_for_all_namespaces(field_selector="metadata.name=web")).items
        assert [(pod.metadata.namespace, pod.metadata.name) for pod in pods] == [(NAMESPACE, "web")]
    run(body)


def test_replace(run):
    """replace (PUT) a ConfigMap"""
    async def body(api):
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map(NAMESPACE, configmap("cm-put", color="red"))
        current = await core.read_namespaced_config_map("cm-put", NAMESPACE)
        current.data = {"color": "green"}
        replaced = await core.replace_namespaced_config_map("cm-put", NAMESPACE, current)
        assert replaced.data == {"color": "green"}
    run(body)


def test_merge_patch(run):
    """merge patch (application/merge-patch+json)"""
    async def body(api):
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map(NAMESPACE, configmap("cm-merge", color="red", size="s"))
        patched = await core.patch_namespaced_config_map(
            "cm-merge", NAMESPACE, {"data": {"color": "blue", "size": None}}, _content_type=MERGE)
        assert patched.data == {"color": "blue"}
    run(body)


def test_json_patch(run):
    """JSON patch (a list body: application/json-patch+json)"""
    async def body(api):
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map(NAMESPACE, configmap("cm-json", color="red"))
        patched = await core.patch_namespaced_config_map(
            "cm-json", NAMESPACE, [{"op": "replace", "path": "/data/color", "value": "blue"}])
        assert patched.data == {"color": "blue"}
    run(body)


def test_strategic_merge_patch(run):
    """strategic merge patch (a dict body, the client's default) of a Deployment's containers"""
    async def body(api):
        apps = client.AppsV1Api(api)
        await apps.create_namespaced_deployment(NAMESPACE, deployment("smp"))
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "busybox"}]}}}}
        patched = await apps.patch_namespaced_deployment("smp", NAMESPACE, patch)
        assert [c.name for c in patched.spec.template.spec.containers] == ["sidecar", "main"]
    run(body)


def test_server_side_apply(run):
    """server-side apply (application/apply-patch+yaml) with a field manager"""
    async def body(api):
        applied = await client.AppsV1Api(api).patch_namespaced_deployment(
            "ssa", NAMESPACE, deployment("ssa"), field_manager="compat", _content_type=APPLY)
        assert ("compat", "Apply") in {(f.manager, f.operation) for f in applied.metadata.managed_fields}
    run(body)


def test_scale_subresource(run):
    """scale a Deployment through its scale subresource (autoscaling/v1 Scale)"""
    async def body(api):
        apps = client.AppsV1Api(api)
        await apps.create_namespaced_deployment(NAMESPACE, deployment("scaled"))
        patched = await apps.patch_namespaced_deployment_scale("scaled", NAMESPACE, {"spec": {"replicas": 2}},
                                                               _content_type=MERGE)
        assert (patched.kind, patched.spec.replicas) == ("Scale", 2)
        assert (await apps.read_namespaced_deployment("scaled", NAMESPACE)).spec.replicas == 2
    run(body)


def test_deployment_rolls_out(run):
    """create a Deployment and wait until it is available"""
    async def body(api):
        apps = client.AppsV1Api(api)
        await apps.create_namespaced_deployment(NAMESPACE, deployment("roll"))

        async def available():
            return (await apps.read_namespaced_deployment_status("roll", NAMESPACE)).status.available_replicas == 1
        await wait_for(available, "deployment roll to be available")
    run(body)


def test_watch(run):
    """watch ConfigMaps from a resourceVersion: ADDED, MODIFIED, DELETED"""
    async def body(api):
        core = client.CoreV1Api(api)
        start = (await core.list_namespaced_config_map(NAMESPACE)).metadata.resource_version
        await core.create_namespaced_config_map(NAMESPACE, configmap("cm-watch", color="red"))
        await core.patch_namespaced_config_map("cm-watch", NAMESPACE, {"data": {"color": "blue"}},
                                               _content_type=MERGE)
        await core.delete_namespaced_config_map("cm-watch", NAMESPACE)
        seen = []
        async with watch.Watch().stream(core.list_namespaced_config_map, NAMESPACE, resource_version=start,
                                        timeout_seconds=10) as stream:
            async for item in stream:
                if item["object"].metadata.name == "cm-watch":
                    seen.append((item["type"], (item["object"].data or {}).get("color")))
                    if item["type"] == "DELETED":
                        break
        assert seen == [("ADDED", "red"), ("MODIFIED", "blue"), ("DELETED", "blue")]
    run(body)


def test_delete_then_not_found(run):
    """delete, then get: 404 NotFound"""
    async def body(api):
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map(NAMESPACE, configmap("cm-del"))
        await core.delete_namespaced_config_map("cm-del", NAMESPACE)
        with pytest.raises(ApiException) as caught:
            await core.read_namespaced_config_map("cm-del", NAMESPACE)
        assert caught.value.status == 404
    run(body)


def test_create_existing_is_already_exists(run):
    """create an existing object: 409 AlreadyExists"""
    async def body(api):
        core = client.CoreV1Api(api)
        await core.create_namespaced_config_map(NAMESPACE, configmap("cm-twice"))
        with pytest.raises(ApiException) as caught:
            await core.create_namespaced_config_map(NAMESPACE, configmap("cm-twice"))
        assert caught.value.status == 409 and "AlreadyExists" in caught.value.body
    run(body)


def test_read_every_workload_kind(run):
    """list nodes, DaemonSets, StatefulSets, Jobs, ReplicationControllers into the client's models"""
    async def body(api):
        core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
        nodes = (await core.list_node()).items
        assert nodes and nodes[0].status.node_info.kubelet_version.startswith("v1.32")
        for lister in (apps.list_daemon_set_for_all_namespaces, apps.list_stateful_set_for_all_namespaces,
                       batch.list_job_for_all_namespaces, core.list_replication_controller_for_all_namespaces):
            assert (await lister()).items is not None
    run(body)


def test_logs(run):
    """read a pod's logs"""
    async def body(api):
        return await client.CoreV1Api(api).read_namespaced_pod_log("web", NAMESPACE)
    assert "nginx" in run(body)


def test_exec(run):
    """exec a command in a pod (WsApiClient, v4.channel.k8s.io)"""
    async def body(api):
        return await client.CoreV1Api(api).connect_get_namespaced_pod_exec(
            "web", NAMESPACE, command=["echo", "hello"], stdout=True, stderr=True, stdin=False, tty=False)
    assert run(body, ws=True) == "hello\n"


def test_exec_with_stdin(run):
    """exec with standard input"""
    async def body(api):
        connecting = await client.CoreV1Api(api).connect_get_namespaced_pod_exec(
            "web", NAMESPACE, command=["head", "-n1"], stdout=True, stderr=True, stdin=True, tty=False,
            _preload_content=False)
        async with connecting as ws:
            await ws.send_bytes(b"\x00from stdin\n")
            out = b""
            async with asyncio.timeout(5):
                async for message in ws:
                    if message.data[:1] == b"\x01":
                        out += message.data[1:]
                    if out.endswith(b"\n"):
                        break
        return out
    assert run(body, ws=True) == b"from stdin\n"


def test_events(run):
    """create an Event and list a pod's events"""
    async def body(api):
        core = client.CoreV1Api(api)
        await core.create_namespaced_event(NAMESPACE, event("web.compat", "web", "Checked"))
        listed = await core.list_namespaced_event(NAMESPACE, field_selector="involvedObject.name=web")
        assert "Checked" in {item.reason for item in listed.items}
    run(body)


async def ensure_widgets(api) -> None:
    extensions = client.ApiextensionsV1Api(api)
    try:
        await extensions.create_custom_resource_definition(widget_crd())
    except ApiException as err:
        if err.status != 409:
            raise

    async def established():
        crd = await extensions.read_custom_resource_definition(WIDGETS)
        return any(c.type == "Established" and c.status == "True" for c in crd.status.conditions or ())
    await wait_for(established, "the CRD to be established")


def test_custom_objects(run):
    """create a CRD; create, list, patch status of and delete custom objects"""
    async def body(api):
        await ensure_widgets(api)
        objects = client.CustomObjectsApi(api)
        await objects.create_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", widget("w1", 2))
        listed = await objects.list_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets")
        assert [o["metadata"]["name"] for o in listed["items"]] == ["w1"]
        await objects.patch_namespaced_custom_object_status(GROUP, "v1", NAMESPACE, "widgets", "w1",
                                                            {"status": {"size": 2}}, _content_type=MERGE)
        got = await objects.get_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "w1")
        assert got["status"] == {"size": 2}
        await objects.delete_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "w1")
    run(body)

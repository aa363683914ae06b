"""Compatibility: a small ``kopf`` operator (``tests/compat_kopf_operator.py``) against ``minik8s server``.

The operator runs as ``kopf run`` in a subprocess with the server's kubeconfig; the tests change objects
with the official client and wait for the operator's effects. Operations on the custom resource, and
peering (whose KopfPeering objects are custom resources too), need CustomResourceDefinitions.
See ``tests/compat_support.py`` for how the suite is read and marked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from compat_support import GROUP, NAMESPACE, configmap, start_cluster, wait_for, widget, widget_crd

kopf = pytest.importorskip("kopf")
kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

CLIENT = "kopf (an operator)"
PACKAGE = "kopf"

OPERATOR = Path(__file__).with_name("compat_kopf_operator.py")
LABELS = {"compat-kopf": "yes"}
FINALIZER = "kopf.zalando.org/KopfFinalizerMarker"
LAST_HANDLED = "kopf.zalando.org/last-handled-configuration"

# kopf's peering resources, as its documentation publishes them (peering.yaml).
PEERING_CRDS = [{
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{plural}.kopf.dev"},
    "spec": {"scope": scope, "group": "kopf.dev",
             "names": {"kind": kind, "plural": plural, "singular": plural[:-1]},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {
                     "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
    for kind, plural, scope in (("KopfPeering", "kopfpeerings", "Namespaced"),
                                ("ClusterKopfPeering", "clusterkopfpeerings", "Cluster"))]


def kopf_run(cluster, log: Path, *flags: str) -> subprocess.Popen:
    """``kopf run`` of the suite's operator against ``cluster``, its output into ``log``."""
    return subprocess.Popen([sys.executable, "-m", "kopf", "run", "--namespace", NAMESPACE, *flags, str(OPERATOR)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=cluster.env())


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def operator_log(tmp_path_factory):
    return tmp_path_factory.mktemp("compat-kopf-operator") / "kopf.log"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    server = start_cluster(tmp_path_factory.mktemp("compat-kopf"))
    # The CRDs go first, so that the operator finds them at start.
    server.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([widget_crd(), *PEERING_CRDS]))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def operator(cluster, operator_log):
    """The suite's operator, running standalone (no peering) in the suite's namespace."""
    process = kopf_run(cluster, operator_log, "--standalone")
    yield process
    stop(process)


@pytest.fixture(scope="module")
def core(cluster):
    with kubernetes.config.new_client_from_config(str(cluster.kubeconfig)) as api:
        yield client.CoreV1Api(api)


def read(core, name):
    try:
        return core.read_namespaced_config_map(name, NAMESPACE)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def reasons(core, name: str) -> set[str]:
    return {e.reason for e in core.list_namespaced_event(NAMESPACE, field_selector=f"involvedObject.name={name}").items}


@pytest.fixture(scope="module")
def handled(core, operator):
    """A ConfigMap the operator has handled (its on-create handler patched it)."""
    core.create_namespaced_config_map(NAMESPACE, configmap("kopf-cm", LABELS, color="red"))
    return wait_for(lambda: (read(core, "kopf-cm").data or {}).get("seen") == "yes" and read(core, "kopf-cm"),
                    "the operator's create handler to patch the ConfigMap", 60)


def test_create_handler_patches(handled):
    """login, watch, and an on-create handler that patches the object"""
    assert (handled.data["color"], handled.data["seen"]) == ("red", "yes")


def test_progress_annotation(handled):
    """kopf's last-handled-configuration annotation is stored"""
    assert LAST_HANDLED in (handled.metadata.annotations or {})


def test_finalizer_added(handled):
    """a finalizer is added for the on-delete handler"""
    assert FINALIZER in (handled.metadata.finalizers or [])


def test_event_posted(core, handled):
    """an Event posted by a handler (kopf.info)"""
    wait_for(lambda: "Seen" in reasons(core, "kopf-cm"), "the operator's event")


def test_field_update_handler(core, handled):
    """an on-update handler for one field"""
    core.patch_namespaced_config_map("kopf-cm", NAMESPACE, {"data": {"color": "blue"}},
                                     _content_type="application/merge-patch+json")
    wait_for(lambda: (read(core, "kopf-cm").metadata.annotations or {}).get("compat.minik8s.io/color") == "blue",
             "the operator's update handler", 30)


def test_timer(core, handled):
    """a timer that patches the object periodically"""
    wait_for(lambda: int((read(core, "kopf-cm").data or {}).get("ticks", "0")) >= 2, "two ticks of the timer", 30)


def test_raw_event_handler(core, operator):
    """a raw watch-event handler on another built-in kind (pods)"""
    wait_for(lambda: "Watched" in reasons(core, "web"), "the operator's event about pod web", 30)


def test_delete_handler_and_finalizer_removal(core, handled):
    """delete: the on-delete handler runs, the finalizer is removed, the object goes"""
    core.delete_namespaced_config_map("kopf-cm", NAMESPACE)
    wait_for(lambda: read(core, "kopf-cm") is None, "the ConfigMap to be released and deleted", 30)
    assert "Farewell" in reasons(core, "kopf-cm")


def custom(cluster):
    return client.CustomObjectsApi(kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))


def read_widget(objects, name):
    try:
        return objects.get_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", name)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def test_custom_resource_create_handler_patches_status(cluster, operator):
    """custom resource: the on-create handler's result is stored in its status"""
    objects = custom(cluster)
    objects.create_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", widget("kopf-w", 3))
    done = wait_for(lambda: ((read_widget(objects, "kopf-w") or {}).get("status") or {}).get("create_widget"),
                    "the handler's result in the widget's status", 30)
    assert done == {"size": 3}


def test_custom_resource_finalizer_and_event(cluster, core, operator):
    """custom resource: finalizer, Event, and on-delete handler"""
    objects = custom(cluster)
    objects.create_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", widget("kopf-w2", 1))
    wait_for(lambda: FINALIZER in ((read_widget(objects, "kopf-w2") or {}).get("metadata", {}).get("finalizers") or []),
             "the operator's finalizer on the widget", 30)
    wait_for(lambda: "Built" in reasons(core, "kopf-w2"), "the operator's event about the widget")
    objects.delete_namespaced_custom_object(GROUP, "v1", NAMESPACE, "widgets", "kopf-w2")
    wait_for(lambda: read_widget(objects, "kopf-w2") is None, "the widget to be released and deleted", 30)
    assert "Scrapped" in reasons(core, "kopf-w2")


def test_peering(cluster, tmp_path):
    """peering: an operator with --peering records itself in its KopfPeering object"""
    objects = custom(cluster)
    objects.create_namespaced_custom_object("kopf.dev", "v1", NAMESPACE, "kopfpeerings", {
        "apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "compat", "namespace": NAMESPACE}})
    operator = kopf_run(cluster, tmp_path / "peering.log", "--peering", "compat")
    try:
        peers = wait_for(lambda: objects.get_namespaced_custom_object("kopf.dev", "v1", NAMESPACE, "kopfpeerings",
                                                                      "compat").get("status"),
                         "the operator to record itself as a peer", 30)
        assert any(peer.get("priority") == 10 for peer in peers.values())
    finally:
        stop(operator)


def test_operator_still_running(operator, operator_log):
    """the operator keeps running (no crash on any answer of the server)"""
    log = operator_log.read_text()
    assert operator.poll() is None, log[-3000:]
    assert "Traceback" not in log, log[-3000:]

"""What the client compatibility suite (``tests/test_compat_*.py``) shares.

Each module of the suite drives one client that people use — the official ``kubernetes`` client,
``kubernetes-asyncio``, ``kr8s``, ``lightkube``, a ``kopf`` operator, the real ``kubectl`` — against one
real ``minik8s server --runtime process`` (module-scoped: started once per client), and each test is one
common operation of that client. ``tools/compat_table.py`` runs the suite and writes the table in
``docs/reference/compatibility.md``: one row per test, named by the test's docstring.

An operation that fails today because a server feature is still missing is marked
``xfail(strict=True, reason=...)`` with what is missing; once the feature lands, the test passes, the strict
mark turns that into a failure, and the mark is removed. Nothing here weakens an assertion to pass.

Each module names its client in ``CLIENT`` and the package whose version the table shows in ``PACKAGE``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import conftest
import pytest
from conftest import Server, start_server

NAMESPACE = "compat"                  # every namespaced object of the suite lives here
GROUP = "compat.minik8s.io"           # the suite's CustomResourceDefinition: widgets.compat.minik8s.io
WIDGETS = f"widgets.{GROUP}"

# Why an operation fails: what is missing, and where.
EVENTS_V1_NULL_EVENT_TIME = ("events.k8s.io/v1 is served, but the namespace holds the kubelet's Events, whose eventTime "
                             "is null (upstream's too), and the client's EventsV1Event model refuses a null eventTime "
                             "(kubernetes-client/python#1616)")


def start_cluster(tmp: Any) -> Server:
    """A server with one process-runtime node, the suite's namespace, and an nginx pod ``web`` Ready in it
    (for logs, exec and port-forward)."""
    server = start_server(tmp, "--runtime", "process", "--nodes", "1")
    try:
        for args in (("create", "namespace", NAMESPACE), ("run", "web", "-n", NAMESPACE, "--image=nginx",
                                                          "--labels=app=web", "--port=80"),
                     ("wait", "--for=condition=Ready", "pod/web", "-n", NAMESPACE, "--timeout=60s")):
            done = server.kubectl(*args)
            assert done.returncode == 0, done.stderr
    except BaseException:
        server.stop()
        raise
    return server


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll ``condition`` until it returns something true (returned), or fail saying ``what`` never happened."""
    return conftest.wait_for(condition, timeout, what)


def cluster_fixture(name: str) -> Any:
    """A module-scoped ``cluster`` fixture: :func:`start_cluster` in a fresh folder named after ``name``."""
    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory: Any) -> Iterator[Server]:
        server = start_cluster(tmp_path_factory.mktemp(name))
        yield server
        server.stop()
    return cluster


def configmap(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels or {}}, "data": data}


def deployment(name: str, replicas: int = 1, image: str = "nginx") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "main", "image": image}]}}}}


def event(name: str, pod: str, reason: str) -> dict[str, Any]:
    """A core/v1 Event about a pod of the suite's namespace, as an operator reports one."""
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": NAMESPACE},
            "reason": reason, "message": f"{reason} by the compatibility suite", "type": "Normal",
            "source": {"component": "compat"}}


def widget_crd() -> dict[str, Any]:
    """A namespaced CustomResourceDefinition with a structural schema and the status and scale subresources."""
    schema = {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}, "color": {"type": "string"}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": WIDGETS},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": {"openAPIV3Schema": schema},
                                   "subresources": {"status": {}, "scale": {
                                       "specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"}}}]}}


def widget(name: str, size: int = 1) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"size": size, "color": "blue"}}


def http_get(port: int, host: str = "127.0.0.1") -> bytes:
    """One plain HTTP/1.0 GET / through a forwarded port: the whole answer."""
    import socket

    with socket.create_connection((host, port), timeout=3) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\nHost: web\r\n\r\n")
        return read_all(conn.recv)


def read_all(recv: Callable[[int], bytes]) -> bytes:
    chunks = []
    while chunk := recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)

"""The ``docker`` runtime: the same pod as real containers behind a pause container.

Skipped, with the reason, when the Docker SDK or a Docker engine is missing. CI starts one with
``apt-get install -y docker.io busybox-static`` and ``dockerd &``. No image comes from a registry:
``busybox:latest`` is made here by ``docker import`` of the host's static busybox.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import wait_for


def _engine() -> Any:
    try:
        import docker  # type: ignore[import-not-found]
    except ImportError:
        pytest.skip("the docker SDK is not installed (pip install docker)")
    try:
        engine = docker.from_env(timeout=10)
        engine.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine reachable: {exc}")
    return engine


def _engine_with_busybox() -> Any:
    """The engine, with ``busybox:latest`` imported from the host's static busybox."""
    engine = _engine()
    from minik8s.kubelet.runtimes.docker import busybox_rootfs_tar, ensure_busybox_image

    try:
        busybox_rootfs_tar()
    except RuntimeError as exc:
        pytest.skip(str(exc))
    ensure_busybox_image(engine, "busybox:latest")
    return engine


@pytest.fixture
def rt(tmp_path: Path):
    from minik8s.kubelet.runtimes.docker import DockerRuntime

    runtime = DockerRuntime(node_name="docker-test", data_dir=tmp_path, engine=_engine_with_busybox())
    yield runtime
    runtime.close()


def test_a_pod_is_a_pause_container_plus_app_containers(rt: Any) -> None:
    script = "echo hello from $(hostname); echo oops >&2; echo stored > /data/x; mkdir -p /www; " \
             "echo page > /www/index.html; httpd -f -p 8080 -h /www"
    pod = {"metadata": {"name": "web", "namespace": "default", "uid": f"u-{time.monotonic_ns()}"},
           "spec": {"containers": [
               {"name": "app", "image": "busybox:latest", "command": ["sh", "-c", script],
                "ports": [{"containerPort": 8080}], "env": [{"name": "GREETING", "value": "hi"}],
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}}}],
               "volumes": [{"name": "data", "emptyDir": {}}]}}
    sandbox = rt.run_pod_sandbox(pod)
    assert rt.pull_image("busybox:latest", "IfNotPresent", pod).pulled is False
    cid = rt.create_container(sandbox.id, pod, pod["spec"]["containers"][0], 0)
    before = time.time_ns()
    rt.start_container(cid)
    assert wait_for(lambda: rt.container_status(cid).state == "running")
    engine = rt.engine
    app = engine.containers.get(cid)
    assert app.attrs["HostConfig"]["NetworkMode"] == f"container:{sandbox.id}"
    assert app.attrs["HostConfig"]["Memory"] == 64 * 2**20 and app.attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert "hello from web" in wait_for(lambda: rt.logs(cid))
    # Docker stamps each line (docker logs --timestamps) and keeps the streams apart.
    entries = wait_for(lambda: len(rt.log_entries(cid)) == 2 and rt.log_entries(cid))
    # The engine stamps each stream as its own reader gets the line: across streams, the order of two
    # lines written a microsecond apart is not kept, so only the streams and texts are compared.
    assert sorted((e.stream, e.text) for e in entries) == [("stderr", "oops\n"), ("stdout", "hello from web\n")]
    assert all(before - 1_000_000_000 < e.time_ns <= time.time_ns() for e in entries)  # the engine's clock is ours
    assert rt.exec_sync(cid, ["cat", "/data/x"], 5).stdout == "stored\n"
    assert rt.exec_sync(cid, ["sh", "-c", "echo $GREETING"], 5).stdout == "hi\n"
    assert wait_for(lambda: _probe(rt, sandbox.ip, 8080)) == 200
    assert rt.probe_tcp(sandbox.ip, 8080, 1)
    rt.stop_container(cid, 1)
    status = wait_for(lambda: rt.container_status(cid).state == "exited" and rt.container_status(cid))
    assert status.exit_code in (0, 137, 143)
    rt.remove_container(cid)
    rt.stop_pod_sandbox(sandbox.id)
    rt.remove_pod_sandbox(sandbox.id)
    assert not engine.containers.list(all=True, filters={"label": "io.minik8s.node=docker-test"})


def _probe(rt: Any, ip: str, port: int) -> int | None:
    from minik8s.kubelet.cri import ProbeError

    try:
        return int(rt.probe_http(ip, port, "/", "HTTP", {}, 1))
    except ProbeError:
        return None


def test_a_cluster_on_docker_runs_probes_logs_exec_and_restarts(tmp_path: Path) -> None:
    """The whole path, kubelet included: ``Cluster(runtime="docker")`` runs a Pod as a pause container and
    an app container, kubectl logs and exec reach it, a failing liveness probe restarts the real container,
    and stopping the cluster removes every container it made."""
    engine = _engine_with_busybox()
    from minik8s import Cluster
    from minik8s.kubelet.runtimes.docker import NODE_LABEL

    script = "echo serving from $(hostname); touch /tmp/healthy; mkdir -p /www; echo page > /www/index.html; " \
             "httpd -p 8080 -h /www; sleep 4; rm /tmp/healthy; sleep 3600"
    with Cluster(nodes=1, runtime="docker", data_dir=tmp_path / "cluster") as c:
        node = json.loads(c.kubectl("get nodes -o json"))["items"][0]["metadata"]["name"]
        c.apply(json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
            # sh as PID 1 ignores SIGTERM: the kubelet kills it when the grace period ends.
            "spec": {"terminationGracePeriodSeconds": 2, "containers": [{
                "name": "app", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", script], "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                "livenessProbe": {"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 1,
                                  "periodSeconds": 1, "failureThreshold": 1}}]}}))
        assert "condition met" in c.kubectl("wait --for=condition=Ready pod/web --timeout=60s")
        kinds = sorted(ct.labels["io.kubernetes.container.name"] for ct in
                       engine.containers.list(filters={"label": f"{NODE_LABEL}={node}"}))
        assert kinds == ["POD", "app"]
        assert "serving from web" in c.kubectl("logs web")
        assert c.kubectl(["exec", "web", "--", "cat", "/www/index.html"]) == "page\n"

        def restarted() -> Any:
            pod = json.loads(c.kubectl("get pod web -o json"))
            status = (pod["status"].get("containerStatuses") or [{}])[0]
            return status.get("restartCount", 0) >= 1 and status

        status = wait_for(restarted, timeout=60)
        assert status["lastState"]["terminated"]["exitCode"] in (137, 143)
        events = c.kubectl("get events --field-selector involvedObject.name=web -o custom-columns=R:.reason")
        assert "Unhealthy" in events and "Killing" in events
    assert not engine.containers.list(all=True, filters={"label": f"{NODE_LABEL}={node}"})


def test_port_forward_reaches_a_declared_port_through_its_published_address(rt: Any) -> None:
    import socket

    script = "mkdir -p /www; echo forwarded > /www/index.html; httpd -f -p 8080 -h /www"
    pod = {"metadata": {"name": "pf", "namespace": "default", "uid": f"u-{time.monotonic_ns()}"},
           "spec": {"containers": [{"name": "app", "image": "busybox:latest", "command": ["sh", "-c", script],
                                    "ports": [{"containerPort": 8080}]}]}}
    sandbox = rt.run_pod_sandbox(pod)
    cid = rt.create_container(sandbox.id, pod, pod["spec"]["containers"][0], 0)
    rt.start_container(cid)
    host, port = rt.port_forward(sandbox.id, 8080)
    assert host == "127.0.0.1"       # the pause container publishes the pod's declared ports on loopback

    def get() -> bytes:
        try:
            with socket.create_connection((host, port), timeout=5) as conn:
                conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return conn.recv(4096)
        except OSError:
            return b""

    assert wait_for(lambda: b"forwarded" in get())
    rt.stop_container(cid, 1)

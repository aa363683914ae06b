"""`minik8s server` driven by the real kubectl and the official kubernetes client, over HTTP."""

from __future__ import annotations

import json
import re
import signal

import pytest
import yaml

from conftest import WEB_STATEFULSET, needs_kubectl, start_server

NGINX_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: nginx
  labels:
    app: nginx
    env: prod
spec:
  containers:
  - image: nginx:alpine
    name: container-0
    resources:
      limits:
        cpu: 100m
        memory: 200Mi
      requests:
        cpu: 100m
        memory: 200Mi
  imagePullSecrets:
  - name: default-secret
"""


@needs_kubectl
def test_seed_pod_walkthrough_with_real_kubectl(server):
    created = server.kubectl("create", "-f", "-", stdin=NGINX_POD)
    assert (created.returncode, created.stdout) == (0, "pod/nginx created\n")

    shown = server.kubectl("get", "pod", "--show-labels")
    header, row = shown.stdout.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
    assert row.split()[:4] == ["nginx", "0/1", "Pending", "0"]  # no nodes yet: the pod waits
    assert row.split()[-1] == "app=nginx,env=prod"

    namespaces = server.kubectl("get", "ns").stdout.splitlines()
    assert [line.split()[:2] for line in namespaces[1:]] == [
        ["default", "Active"], ["kube-node-lease", "Active"], ["kube-public", "Active"], ["kube-system", "Active"]]

    assert server.kubectl("get", "pods", "-l", "env=prod").stdout.splitlines()[1].startswith("nginx ")
    none = server.kubectl("get", "pods", "-l", "env=dev")
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "No resources found in default namespace.\n")

    again = server.kubectl("create", "-f", "-", stdin=NGINX_POD)
    assert again.returncode == 1
    assert again.stderr == ('Error from server (AlreadyExists): error when creating "STDIN": '
                            'pods "nginx" already exists\n')

    deleted = server.kubectl("delete", "pod", "nginx")
    assert (deleted.returncode, deleted.stdout) == (0, 'pod "nginx" deleted\n')
    missing = server.kubectl("get", "pod", "nginx")
    assert (missing.returncode, missing.stderr) == (1, 'Error from server (NotFound): pods "nginx" not found\n')


@needs_kubectl
def test_real_kubectl_sees_bad_input_refused(server):
    unknown = server.kubectl("create", "-f", "-", stdin=NGINX_POD.replace("name: container-0",
                                                                          "name: container-0\n    imagePullPolic: x"))
    assert unknown.returncode == 1
    assert 'strict decoding error: unknown field "spec.containers[0].imagePullPolic"' in unknown.stderr
    bad_name = server.kubectl("create", "-f", "-", stdin=NGINX_POD.replace("name: nginx", "name: Nginx_1"))
    assert bad_name.returncode == 1
    assert bad_name.stderr.startswith('The Pod "Nginx_1" is invalid: metadata.name: Invalid value: "Nginx_1": '
                                      "a lowercase RFC 1123 subdomain")
    bad_selector = server.kubectl("get", "pods", "-l", "env in (prod")
    assert bad_selector.returncode == 1 and "Error from server (BadRequest)" in bad_selector.stderr
    no_namespace = server.kubectl("create", "-n", "nope", "-f", "-", stdin=NGINX_POD)
    assert no_namespace.returncode == 1
    assert no_namespace.stderr == ('Error from server (NotFound): error when creating "STDIN": '
                                   'namespaces "nope" not found\n')
    assert server.kubectl("get", "pods", "-A").stderr == "No resources found\n"  # nothing half-written


WEB_DEPLOYMENT_WITH_UNKNOWN_FIELD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  foo: bar
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


@needs_kubectl
def test_real_kubectl_field_validation_strict_warn_and_ignore(server):
    """kubectl 1.32 defaults to --validate=strict (fieldValidation=Strict): an unknown field fails, as
    against a real cluster. --validate=warn asks for Warn, whose Warning header kubectl prints;
    --validate=false asks for Ignore."""
    strict = server.kubectl("apply", "-f", "-", stdin=WEB_DEPLOYMENT_WITH_UNKNOWN_FIELD)
    assert (strict.returncode, strict.stdout) == (1, "")
    assert strict.stderr == ('Error from server (BadRequest): error when creating "STDIN": Deployment in version '
                             '"v1" cannot be handled as a Deployment: strict decoding error: unknown field '
                             '"spec.foo"\n')
    warn = server.kubectl("apply", "--validate=warn", "-f", "-", stdin=WEB_DEPLOYMENT_WITH_UNKNOWN_FIELD)
    assert (warn.returncode, warn.stdout) == (0, "deployment.apps/web created\n")
    assert warn.stderr == 'Warning: unknown field "spec.foo"\n'
    stored = json.loads(server.kubectl("get", "deployment", "web", "-o", "json").stdout)
    assert "foo" not in stored["spec"]  # dropped, as decoding into a Go struct drops it
    ignore = server.kubectl("create", "--validate=false", "-f", "-",
                            stdin=WEB_DEPLOYMENT_WITH_UNKNOWN_FIELD.replace("name: web}", "name: web2}", 1))
    assert (ignore.returncode, ignore.stdout, ignore.stderr) == (0, "deployment.apps/web2 created\n", "")


@needs_kubectl
def test_apply_label_annotate_and_namespace_deletion(server):
    assert server.kubectl("apply", "-f", "-", stdin=NGINX_POD).stdout == "pod/nginx created\n"
    assert server.kubectl("apply", "-f", "-", stdin=NGINX_POD).stdout == "pod/nginx unchanged\n"
    changed = server.kubectl("apply", "-f", "-", stdin=NGINX_POD.replace("env: prod", "env: qa"))
    assert changed.stdout == "pod/nginx configured\n"
    assert server.kubectl("label", "pod", "nginx", "tier=web").stdout == "pod/nginx labeled\n"
    clash = server.kubectl("label", "pod", "nginx", "env=x")
    assert clash.stderr == "error: 'env' already has a value (qa), and --overwrite is false\n"
    assert server.kubectl("label", "pod", "nginx", "tier-").stdout == "pod/nginx unlabeled\n"
    labels = json.loads(server.kubectl("get", "pod", "nginx", "-o", "json").stdout)["metadata"]["labels"]
    assert labels == {"app": "nginx", "env": "qa"}

    ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dev\n"
    assert server.kubectl("create", "-f", "-", stdin=ns).stdout == "namespace/dev created\n"
    assert server.kubectl("create", "-n", "dev", "-f", "-", stdin=NGINX_POD).returncode == 0
    # The same name in another namespace is another object.
    assert len(server.kubectl("get", "pods", "-A").stdout.splitlines()) == 3
    assert server.kubectl("delete", "ns", "dev").stdout == 'namespace "dev" deleted\n'
    assert server.kubectl("get", "ns", "dev").returncode == 1  # kubectl waited until it was gone
    assert server.kubectl("get", "pods", "-n", "dev").stderr == "No resources found in dev namespace.\n"


def test_official_client_crud_watch_and_errors(server):
    pytest.importorskip("kubernetes")
    from kubernetes import client, config, watch

    config.load_kube_config(config_file=str(server.kubeconfig))
    core = client.CoreV1Api()
    names = [ns.metadata.name for ns in core.list_namespace().items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]

    body = yaml.safe_load(NGINX_POD)
    pod = core.create_namespaced_pod("default", body)
    assert pod.metadata.uid and pod.status.phase == "Pending"
    assert pod.spec.restart_policy == "Always" and pod.spec.termination_grace_period_seconds == 30

    patched = core.patch_namespaced_pod("nginx", "default", {"metadata": {"labels": {"tier": "web"}}})
    assert patched.metadata.labels["tier"] == "web"
    assert int(patched.metadata.resource_version) > int(pod.metadata.resource_version)

    stream = watch.Watch().stream(core.list_namespaced_pod, "default", resource_version=pod.metadata.resource_version,
                                  timeout_seconds=5)
    core.delete_namespaced_pod("nginx", "default")
    events = [(e["type"], e["object"].metadata.labels.get("tier")) for e in stream]
    # The scheduler may also have written the pod's PodScheduled condition (there are no nodes).
    assert events[-2:] == [("MODIFIED", "web"), ("DELETED", "web")]
    assert all(kind == "MODIFIED" for kind, _ in events[:-2])

    with pytest.raises(client.exceptions.ApiException) as missing:
        core.read_namespaced_pod("nginx", "default")
    assert missing.value.status == 404

    stale = dict(body, metadata={**body["metadata"], "resourceVersion": "1"})
    core.create_namespaced_pod("default", body)
    with pytest.raises(client.exceptions.ApiException) as conflict:
        core.replace_namespaced_pod("nginx", "default", stale)
    assert conflict.value.status == 409
    assert "the object has been modified" in json.loads(conflict.value.body)["message"]


def _post(server, path: str, data: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    code, _, body = server.request("POST", path, data, {"Content-Type": content_type})
    return code, json.loads(body)


def test_a_watch_left_after_its_first_event_stops_cleanly(server):
    # `rollout status` returns from inside its watch loop, then stops the watch (it used to crash).
    import threading

    from minik8s.api import resources

    client = server.http_client()
    cms = resources.lookup("configmaps")
    cm = client.create(cms, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "default")
    watch = client.watch(cms, "default", resource_version=cm["metadata"]["resourceVersion"],
                         field_selector="metadata.name=c", timeout_seconds=30)
    threading.Timer(0.2, lambda: client.patch(cms, "c", {"data": {"k": "v"}}, "default")).start()

    def first() -> str:
        try:
            for event in watch:
                return str(event["type"])
        finally:
            watch.stop()
        return ""

    assert first() == "MODIFIED"
    assert client.get(cms, "c", "default")["data"] == {"k": "v"}  # the pool still works


def test_bad_bodies_get_status_errors(server):
    pods = "/api/v1/namespaces/default/pods"
    code, status = _post(server, pods, b"{not json")
    assert (code, status["kind"], status["reason"]) == (400, "Status", "BadRequest")
    code, status = _post(server, pods, b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, '
                               b'"spec": {"containers": "oops"}}')
    assert code == 400 and "cannot unmarshal string" in status["message"]
    big = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                      "data": {"k": "x" * (3 * 1024 * 1024)}}).encode()
    code, status = _post(server, "/api/v1/namespaces/default/configmaps", big)
    assert (code, status["reason"]) == (413, "RequestEntityTooLarge")
    code, _, body = server.request("GET", pods)
    assert code == 200 and json.loads(body)["items"] == []  # nothing was stored


@needs_kubectl
def test_server_killed_with_sigkill_comes_back_with_every_object(tmp_path):
    first = start_server(tmp_path, "--nodes", "0")
    try:
        for i in range(20):
            assert first.kubectl("create", "-f", "-", stdin=NGINX_POD.replace("name: nginx", f"name: nginx-{i}"))\
                .returncode == 0
        first.kubectl("label", "pod", "nginx-7", "tier=web")
    finally:
        first.stop(signal.SIGKILL)
    second = start_server(tmp_path, "--nodes", "0", data_dir=first.data_dir)
    try:
        listed = second.kubectl("get", "pods", "-o", "name").stdout.split()
        assert sorted(listed) == sorted(f"pod/nginx-{i}" for i in range(20))
        assert second.kubectl("get", "pods", "-l", "tier=web", "-o", "name").stdout == "pod/nginx-7\n"
    finally:
        assert second.stop() == 0  # SIGTERM: a clean shutdown


def test_kubeconfig_keeps_other_contexts(tmp_path):
    other = {"apiVersion": "v1", "kind": "Config", "current-context": "work",
             "clusters": [{"name": "work", "cluster": {"server": "https://10.0.0.1:6443"}}],
             "users": [{"name": "work", "user": {"token": "secret"}}],
             "contexts": [{"name": "work", "context": {"cluster": "work", "user": "work"}}]}
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(other))
    srv = start_server(tmp_path, "--nodes", "0")
    try:
        config = yaml.safe_load((tmp_path / "kubeconfig").read_text())
        assert {c["name"] for c in config["contexts"]} == {"work", "minik8s"}
        assert config["current-context"] == "minik8s"
        assert next(u for u in config["users"] if u["name"] == "work")["user"] == {"token": "secret"}
    finally:
        srv.stop()


HELLO_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo hello from the pod; sleep 3600"]
"""


def _wait(predicate, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not reached in time")


@needs_kubectl
def test_nodes_run_pods_for_the_real_kubectl(tmp_path):
    srv = start_server(tmp_path, "--nodes", "3", "--runtime", "simulated")
    try:
        nodes = srv.kubectl("get", "nodes").stdout.splitlines()
        assert [line.split()[:2] for line in nodes[1:]] == [["node-1", "Ready"], ["node-2", "Ready"],
                                                            ["node-3", "Ready"]]
        assert srv.kubectl("apply", "-f", "-", stdin=HELLO_POD).returncode == 0
        _wait(lambda: "Running" in srv.kubectl("get", "pod", "hello").stdout)
        assert srv.kubectl("logs", "hello").stdout == "hello from the pod\n"
        assert srv.kubectl("exec", "hello", "--", "echo", "hi").stdout == "hi\n"
        failed = srv.kubectl("exec", "hello", "--", "sh", "-c", "exit 3")
        assert (failed.returncode, failed.stderr) == (3, "command terminated with exit code 3\n")
        # No such executable: the runtime cannot start the exec at all (containerd's words).
        missing = srv.kubectl("exec", "hello", "--", "nosuchcmd")
        assert missing.returncode == 1
        assert missing.stderr.startswith('error: Internal error occurred: error executing command in container: '
                                         'failed to exec in container: failed to start exec "')
        assert missing.stderr.endswith('": OCI runtime exec failed: exec failed: unable to start container process: '
                                       'exec: "nosuchcmd": executable file not found in $PATH: unknown\n')
        node = json.loads(srv.kubectl("get", "pod", "hello", "-o", "json").stdout)["spec"]["nodeName"]
        described = srv.kubectl("describe", "node", node).stdout
        assert "Allocated resources:" in described
        assert any(line.split()[:2] == ["default", "hello"] for line in described.splitlines())

        big = NGINX_POD.replace("cpu: 100m", "cpu: 64")
        assert srv.kubectl("apply", "-f", "-", stdin=big).returncode == 0
        _wait(lambda: "FailedScheduling" in srv.kubectl("get", "events").stdout)
        events = srv.kubectl("describe", "pod", "nginx").stdout
        assert ("0/3 nodes are available: 3 Insufficient cpu. "
                "preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.") in events
        assert srv.kubectl("get", "pod", "nginx").stdout.split()[-3] == "Pending"
    finally:
        srv.stop()


def test_minik8s_kubectl_get_watch_prints_header_once_then_a_row_per_change(tmp_path):
    import subprocess
    import sys

    srv = start_server(tmp_path, "--nodes", "1", "--runtime", "simulated")
    try:
        watcher = subprocess.Popen([sys.executable, "-m", "minik8s", "kubectl", "get", "pods", "-w"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=srv.env())
        try:
            assert watcher.stderr.readline() == "No resources found in default namespace.\n"
            assert srv.kubectl("apply", "-f", "-", stdin=HELLO_POD, real=False).returncode == 0
            rows = [watcher.stdout.readline()]
            while "Running" not in rows[-1]:  # the pod goes Pending -> ContainerCreating -> Running
                rows.append(watcher.stdout.readline())
        finally:
            watcher.kill()
            watcher.communicate()
        assert rows[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        assert all(row.startswith("hello ") for row in rows[1:])
        assert any(row.split()[2] == "Running" for row in rows[1:])
    finally:
        srv.stop()


def test_a_runtime_that_cannot_start_is_a_clear_error(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "HOME": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    base = [sys.executable, "-m", "minik8s", "server", "--port", "0", "--data-dir", str(tmp_path / "data"),
            "--kubeconfig", str(tmp_path / "kubeconfig")]
    docker = subprocess.run([*base, "--runtime", "docker"], env=env, capture_output=True, text=True, timeout=60)
    assert docker.returncode == 1 and "Traceback" not in docker.stderr
    assert docker.stderr.startswith("error: cannot reach a Docker engine: ")
    negative = subprocess.run([*base, "--nodes", "-1"], env=env, capture_output=True, text=True, timeout=60)
    assert negative.returncode == 2
    assert "argument --nodes: must be 0 or more, not -1" in negative.stderr


TICKS_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: ticks
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo first; sleep 1; echo second; sleep 2"]
"""

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ")  # RFC3339Nano, fixed width


@needs_kubectl
def test_real_kubectl_logs_timestamps_since_and_follow(tmp_path):
    from minik8s.clock import parse_rfc3339

    srv = start_server(tmp_path, "--nodes", "1", "--runtime", "simulated")
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=TICKS_POD).returncode == 0
        _wait(lambda: "Running" in srv.kubectl("get", "pod", "ticks").stdout)
        # Follow with timestamps: the lines as they come, each with the time it came, until the container ends.
        followed = srv.kubectl("logs", "-f", "--timestamps", "ticks").stdout
        lines = followed.splitlines()
        assert [bool(STAMP.match(line)) for line in lines] == [True, True]
        assert [line[31:] for line in lines] == ["first", "second"]
        first, second = (parse_rfc3339(line[:30]) for line in lines)
        assert abs(second - first - 1) < 0.001  # the simulated shell slept one second
        assert srv.kubectl("logs", "ticks", "--timestamps").stdout == followed
        assert srv.kubectl("logs", "ticks", "--timestamps", real=False).stdout == followed
        assert srv.kubectl("logs", "ticks", "--tail=1", "--timestamps").stdout == lines[1] + "\n"
        # sinceTime travels with a precision of seconds: the second of the second line leaves the first out.
        for real in (True, False):
            assert srv.kubectl("logs", "ticks", "--since=1h", real=real).stdout == "first\nsecond\n"
            assert srv.kubectl("logs", "ticks", f"--since-time={lines[1][:19]}Z", real=real).stdout == "second\n"
            both = srv.kubectl("logs", "ticks", "--since=1h", f"--since-time={lines[1][:19]}Z", real=real)
            assert (both.returncode, both.stderr) == (
                1, "error: at most one of `sinceTime` or `sinceSeconds` may be specified\n")
        bad = srv.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/ticks/log?sinceSeconds=0")
        assert bad.returncode == 1 and "must be greater than 0" in bad.stderr
        # Follow after a tail: the last line so far, then every new one (none lost to the cut).
        later = TICKS_POD.replace("name: ticks", "name: later").replace(
            "echo first; sleep 1; echo second; sleep 2", "echo a; echo b; sleep 3; echo c; sleep 1")
        assert srv.kubectl("apply", "-f", "-", stdin=later).returncode == 0
        _wait(lambda: srv.kubectl("logs", "later").stdout == "a\nb\n")
        assert srv.kubectl("logs", "-f", "--tail=1", "later").stdout == "b\nc\n"
    finally:
        srv.stop()


@needs_kubectl
def test_real_kubectl_delete_of_a_statefulset_pod_returns(tmp_path):
    """kubectl delete waits for the deleted pod to go, by name. The StatefulSet recreates ``web-1`` under
    the same name at once: if the old one went before kubectl began to watch, kubectl would see only
    the new one and wait for ever. Pods take a moment to stop, as on a real node, so it never does."""
    srv = start_server(tmp_path, "--nodes", "1", "--runtime", "simulated")
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=WEB_STATEFULSET).returncode == 0
        assert srv.kubectl("rollout", "status", "sts/web", "--timeout=30s").returncode == 0
        for _ in range(5):
            uid = srv.kubectl("get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}").stdout
            deleted = srv.kubectl("delete", "pod", "web-1", "--timeout=20s")
            assert (deleted.returncode, deleted.stdout) == (0, 'pod "web-1" deleted\n'), deleted.stderr
            _wait(lambda: srv.kubectl("get", "pod", "web-1", "-o", "jsonpath={.metadata.uid}").stdout not in ("", uid))
    finally:
        srv.stop()

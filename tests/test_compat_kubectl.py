"""Compatibility: the real ``kubectl`` (v1.32) and its common verbs against ``minik8s server``.

One test per common operation; see ``tests/compat_support.py`` for how the suite is read and marked.
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import sys

import pytest
import yaml

from compat_support import (NAMESPACE, cluster_fixture, configmap, deployment, http_get,
                            wait_for, widget, widget_crd)

CLIENT = "kubectl"
PACKAGE = "kubectl"

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="the real kubectl is not on PATH")

NO_CP = "kubectl cp needs exec with standard input (tar over exec: slice D)"
NO_DEBUG = "no ephemeral containers: kubectl debug crashes on the answer to its pods/ephemeralcontainers patch (slice D)"


cluster = cluster_fixture("compat-kubectl")


def kubectl(cluster, *args: str, stdin: str | None = None, env: dict[str, str] | None = None,
            ok: bool = True) -> subprocess.CompletedProcess:
    """The real kubectl in the suite's namespace; with ``ok``, it must succeed."""
    done = subprocess.run(["kubectl", "-n", NAMESPACE, *args], input=stdin, capture_output=True, text=True,
                          env={**cluster.env(), **(env or {})}, timeout=60)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def as_yaml(*objects: dict) -> str:
    return yaml.safe_dump_all(objects)


def test_version(cluster):
    """version"""
    server = json.loads(kubectl(cluster, "version", "-o", "json").stdout)["serverVersion"]
    assert server["gitVersion"].startswith("v1.32")


def test_api_resources(cluster):
    """api-resources"""
    out = kubectl(cluster, "api-resources").stdout
    assert "deployments" in out and "configmaps" in out


def test_explain(cluster):
    """explain (from the OpenAPI schema)"""
    assert "containers\t<[]Container> -required-" in kubectl(cluster, "explain", "pod.spec").stdout


def test_explain_recursive(cluster):
    """explain --recursive"""
    out = kubectl(cluster, "explain", "pod.spec.containers", "--recursive").stdout
    assert "FIELD: containers <[]Container>" in out and "readinessProbe\t<Probe>" in out


def test_apply_validate_strict(cluster):
    """apply --validate=strict refuses an unknown field"""
    body = {**configmap("cm-strict"), "foo": "bar"}
    done = kubectl(cluster, "apply", "--validate=strict", "-f", "-", stdin=as_yaml(body), ok=False)
    assert done.returncode == 1
    assert done.stderr == ('Error from server (BadRequest): error when creating "STDIN": ConfigMap in version "v1" '
                           'cannot be handled as a ConfigMap: strict decoding error: unknown field "foo"\n')


def test_auth_whoami(cluster):
    """auth whoami"""
    assert "kubernetes-admin" in kubectl(cluster, "auth", "whoami").stdout


def test_create_get_describe(cluster):
    """create -f, get (table, -o json, jsonpath), describe"""
    kubectl(cluster, "create", "-f", "-", stdin=as_yaml(configmap("cm-get", {"tier": "a"}, color="red")))
    table = kubectl(cluster, "get", "configmap", "cm-get").stdout
    assert table.split("\n")[0].split() == ["NAME", "DATA", "AGE"]
    assert json.loads(kubectl(cluster, "get", "cm", "cm-get", "-o", "json").stdout)["data"] == {"color": "red"}
    assert kubectl(cluster, "get", "cm", "-l", "tier=a", "-o", "jsonpath={.items[*].metadata.name}").stdout == "cm-get"
    assert "color:\n----\nred" in kubectl(cluster, "describe", "cm", "cm-get").stdout


def test_apply_client_side(cluster):
    """apply (client-side, last-applied-configuration) twice"""
    body = deployment("applied")
    assert kubectl(cluster, "apply", "-f", "-", stdin=as_yaml(body)).stdout == "deployment.apps/applied created\n"
    body["spec"]["replicas"] = 2
    assert kubectl(cluster, "apply", "-f", "-", stdin=as_yaml(body)).stdout == "deployment.apps/applied configured\n"
    assert kubectl(cluster, "get", "deploy", "applied", "-o", "jsonpath={.spec.replicas}").stdout == "2"


def test_apply_server_side(cluster):
    """apply --server-side"""
    out = kubectl(cluster, "apply", "--server-side", "-f", "-", stdin=as_yaml(deployment("ssa"))).stdout
    assert out == "deployment.apps/ssa serverside-applied\n"


def test_diff(cluster):
    """diff"""
    body = deployment("diffed")
    kubectl(cluster, "apply", "-f", "-", stdin=as_yaml(body))
    body["spec"]["replicas"] = 3
    done = kubectl(cluster, "diff", "-f", "-", stdin=as_yaml(body), ok=False)
    assert done.returncode == 1 and "+  replicas: 3" in done.stdout, done.stderr


def test_patch_types(cluster):
    """patch: strategic, merge and json"""
    kubectl(cluster, "create", "-f", "-", stdin=as_yaml(deployment("patched")))
    kubectl(cluster, "patch", "deploy", "patched", "-p",
            '{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"}]}}}}')
    kubectl(cluster, "patch", "deploy", "patched", "--type=merge", "-p", '{"metadata":{"labels":{"merged":"yes"}}}')
    kubectl(cluster, "patch", "deploy", "patched", "--type=json", "-p",
            '[{"op":"replace","path":"/spec/replicas","value":0}]')
    got = json.loads(kubectl(cluster, "get", "deploy", "patched", "-o", "json").stdout)
    assert [c["name"] for c in got["spec"]["template"]["spec"]["containers"]] == ["side", "main"]
    assert (got["metadata"]["labels"]["merged"], got["spec"]["replicas"]) == ("yes", 0)


def test_label_annotate(cluster):
    """label and annotate"""
    kubectl(cluster, "create", "configmap", "cm-label")
    kubectl(cluster, "label", "cm", "cm-label", "team=blue")
    kubectl(cluster, "annotate", "cm", "cm-label", "note=hi")
    got = json.loads(kubectl(cluster, "get", "cm", "cm-label", "-o", "json").stdout)["metadata"]
    assert (got["labels"], got["annotations"]) == ({"team": "blue"}, {"note": "hi"})


def test_edit(cluster):
    """edit (with KUBE_EDITOR)"""
    kubectl(cluster, "create", "configmap", "cm-edit", "--from-literal=color=red")
    editor = f"{sys.executable} -c \"import sys,pathlib;p=pathlib.Path(sys.argv[1]);" \
             "p.write_text(p.read_text().replace('color: red','color: blue'))\""
    kubectl(cluster, "edit", "cm", "cm-edit", env={"KUBE_EDITOR": editor})
    assert kubectl(cluster, "get", "cm", "cm-edit", "-o", "jsonpath={.data.color}").stdout == "blue"


def test_scale_and_rollout_status(cluster):
    """create deployment, scale, rollout status"""
    kubectl(cluster, "create", "deployment", "scaled", "--image=nginx")
    assert kubectl(cluster, "scale", "deploy", "scaled", "--replicas=2").stdout == "deployment.apps/scaled scaled\n"
    out = kubectl(cluster, "rollout", "status", "deploy/scaled", "--timeout=60s").stdout
    assert out.endswith('deployment "scaled" successfully rolled out\n')


def test_set_image_and_rollout_undo(cluster):
    """set image, rollout history and undo"""
    kubectl(cluster, "create", "deployment", "undone", "--image=nginx", "--replicas=0")
    kubectl(cluster, "set", "image", "deploy/undone", "nginx=busybox")
    wait_for(lambda: "2" in kubectl(cluster, "rollout", "history", "deploy/undone").stdout.split(), "revision 2")
    kubectl(cluster, "rollout", "undo", "deploy/undone")
    image = "{.spec.template.spec.containers[0].image}"
    wait_for(lambda: kubectl(cluster, "get", "deploy", "undone", "-o", f"jsonpath={image}").stdout == "nginx",
             "the rollback to nginx")


def test_expose_service(cluster):
    """expose a pod as a Service; get endpoints"""
    kubectl(cluster, "expose", "pod", "web", "--port=80", "--name=web-svc")
    wait_for(lambda: kubectl(cluster, "get", "endpoints", "web-svc", "-o",
                             "jsonpath={.subsets[0].addresses[0].ip}").stdout, "the service's endpoints")


def test_logs(cluster):
    """logs"""
    assert "nginx" in kubectl(cluster, "logs", "web").stdout


def test_exec(cluster):
    """exec"""
    assert kubectl(cluster, "exec", "web", "--", "echo", "hello").stdout == "hello\n"


def test_exec_with_stdin(cluster):
    """exec -i with standard input"""
    assert kubectl(cluster, "exec", "-i", "web", "--", "cat", stdin="from stdin\n").stdout == "from stdin\n"


def test_cp(cluster, tmp_path):
    """cp to and from a pod"""
    (tmp_path / "up.txt").write_text("copied\n")
    kubectl(cluster, "cp", str(tmp_path / "up.txt"), f"{NAMESPACE}/web:/tmp/up.txt")
    kubectl(cluster, "cp", f"{NAMESPACE}/web:/tmp/up.txt", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_text() == "copied\n"


def test_port_forward(cluster):
    """port-forward"""
    forward = subprocess.Popen(["kubectl", "-n", NAMESPACE, "port-forward", "pod/web", ":80"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env())
    try:
        line = read_line(forward)     # Forwarding from 127.0.0.1:PORT -> 80
        assert line.startswith("Forwarding from 127.0.0.1:"), line
        answer = http_get(int(line.split(":")[1].split()[0]))
        assert answer.startswith(b"HTTP/1.1 200") and b"Welcome to nginx!" in answer
    finally:
        forward.terminate()
        forward.wait(timeout=10)


def test_run_i_rm(cluster):
    """run -i --rm"""
    done = kubectl(cluster, "run", "once", "-i", "--rm", "--image=busybox", "--restart=Never", "--",
                   "echo", "from a pod")
    assert done.stdout == 'from a pod\npod "once" deleted\n'


def test_debug(cluster):
    """debug with an ephemeral container"""
    kubectl(cluster, "debug", "web", "--image=busybox", "-c", "dbg", "--profile=general", "--", "echo", "debugging")
    wait_for(lambda: "dbg" in kubectl(cluster, "get", "pod", "web", "-o",
                                      "jsonpath={.spec.ephemeralContainers[*].name}").stdout,
             "the ephemeral container")


def test_top(cluster):
    """top pods"""
    # metrics-server has the pod's usage once it has scraped its node since the pod started.
    wait_for(lambda: "web" in kubectl(cluster, "top", "pods", ok=False).stdout, "the pod's metrics", timeout=45)


def test_get_watch(cluster):
    """get --watch"""
    kubectl(cluster, "create", "-f", "-", stdin=as_yaml(configmap("cm-watched-0", {"watched": "yes"})))
    watching = subprocess.Popen(["kubectl", "-n", NAMESPACE, "get", "cm", "-l", "watched=yes", "--watch", "-o", "name"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cluster.env())
    try:
        assert read_line(watching) == "configmap/cm-watched-0\n"     # the list; the watch goes on from it
        kubectl(cluster, "create", "-f", "-", stdin=as_yaml(configmap("cm-watched-1", {"watched": "yes"})))
        assert read_line(watching) == "configmap/cm-watched-1\n"
    finally:
        watching.terminate()
        watching.wait(timeout=10)


def test_get_chunk_size(cluster):
    """get --chunk-size: the list in pages (limit and continue), the same as in one piece"""
    stdin = as_yaml(*(configmap(f"cm-chunk-{i:02d}", {"chunked": "yes"}) for i in range(17)))
    kubectl(cluster, "create", "-f", "-", stdin=stdin)
    for output in ("name", "wide"):
        whole = kubectl(cluster, "get", "cm", "-l", "chunked=yes", "--chunk-size=0", "-o", output).stdout
        paged = kubectl(cluster, "get", "cm", "-l", "chunked=yes", "--chunk-size=7", "-o", output, "-v=6")
        assert paged.stdout.split("\n")[0] == whole.split("\n")[0]
        assert [line.split()[0] for line in paged.stdout.splitlines()] == \
            [line.split()[0] for line in whole.splitlines()]
        assert len(whole.splitlines()) == 17 + (output == "wide")
        pages = [line for line in paged.stderr.splitlines() if "limit=7" in line and " 200 OK" in line]
        assert len(pages) == 3 and sum("continue=" in line for line in pages) == 2, paged.stderr


def read_line(process: subprocess.Popen, timeout: float = 15) -> str:
    """The next line the process prints, or '' if none comes within ``timeout`` seconds."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


def test_wait_and_delete(cluster):
    """delete and wait --for=delete"""
    kubectl(cluster, "create", "configmap", "cm-del")
    assert kubectl(cluster, "delete", "cm", "cm-del").stdout == 'configmap "cm-del" deleted\n'
    kubectl(cluster, "wait", "--for=delete", "cm/cm-del", "--timeout=10s")
    missing = kubectl(cluster, "get", "cm", "cm-del", ok=False)
    assert (missing.returncode, missing.stderr) == (1, 'Error from server (NotFound): configmaps "cm-del" not found\n')


def test_auth_can_i(cluster):
    """auth can-i"""
    assert kubectl(cluster, "auth", "can-i", "create", "deployments").stdout == "yes\n"


def test_custom_resources(cluster):
    """apply a CRD, then create and get its custom objects"""
    kubectl(cluster, "apply", "-f", "-", stdin=as_yaml(widget_crd()))
    kubectl(cluster, "wait", "--for=condition=Established", "crd/widgets.compat.minik8s.io", "--timeout=30s")
    kubectl(cluster, "apply", "-f", "-", stdin=as_yaml(widget("w1", 2)))
    assert kubectl(cluster, "get", "widgets", "-o", "name").stdout == "widget.compat.minik8s.io/w1\n"


"""Volumes in the simulated runtime (minik8s.kubelet.runtimes.simfs): an emptyDir is shared by the
containers of a pod that mount it and goes with the pod; a hostPath stays on its node. Checked
through the real interfaces (kubectl exec on an in-process cluster), and the mount table alone."""

from __future__ import annotations

import json

from minik8s.cluster import Cluster
from minik8s.kubelet.runtimes.simfs import MountedFiles


def _pod(name: str, volume: dict, writer: str, node: str = "node-1") -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {
        "nodeName": node, "volumes": [{"name": "shared", **volume}],
        "containers": [
            {"name": "writer", "image": "busybox", "command": ["sh", "-c", f"{writer}; sleep 3600"],
             "volumeMounts": [{"name": "shared", "mountPath": "/out"}]},
            {"name": "reader", "image": "busybox", "command": ["sleep", "3600"],
             "volumeMounts": [{"name": "shared", "mountPath": "/in"}]},
            {"name": "loner", "image": "busybox", "command": ["sleep", "3600"]}]}})


def _cat(c: Cluster, pod: str, container: str, path: str) -> str:
    try:
        return c.kubectl(f"exec {pod} -c {container} -- cat {path}")
    except Exception as err:  # noqa: BLE001 - kubectl's error is the answer here
        return f"error: {err}"


def test_an_emptydir_is_shared_by_the_containers_that_mount_it_and_goes_with_the_pod() -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(_pod("pair", {"emptyDir": {}}, "echo hello > /out/page"))
        c.advance(5)
        assert _cat(c, "pair", "writer", "/out/page") == "hello\n"
        assert _cat(c, "pair", "reader", "/in/page") == "hello\n"
        assert "No such file" in _cat(c, "pair", "loner", "/in/page")
        assert "No such file" in _cat(c, "pair", "loner", "/out/page")
        c.kubectl("delete pod pair")
        c.apply(_pod("pair", {"emptyDir": {}}, "true"))
        c.advance(5)
        assert "No such file" in _cat(c, "pair", "reader", "/in/page")


def test_a_hostpath_stays_on_its_node_for_the_next_pod() -> None:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(_pod("first", {"hostPath": {"path": "/var/local/x/"}}, "echo kept > /out/file"))
        c.advance(5)
        c.kubectl("delete pod first")
        c.apply(_pod("second", {"hostPath": {"path": "/var/local/x"}}, "true"))
        c.apply(_pod("elsewhere", {"hostPath": {"path": "/var/local/x"}}, "true", node="node-2"))
        c.advance(5)
        assert _cat(c, "second", "reader", "/in/file") == "kept\n"
        assert "No such file" in _cat(c, "elsewhere", "reader", "/in/file")


def test_the_mount_table_routes_paths_and_lists_every_file_once() -> None:
    volume = {"/page": "a"}
    deeper = {}
    files = MountedFiles({"/etc/hosts": "h", "/data/hidden": "x"},
                         [("/data", volume, ""), ("/data/sub", deeper, ""), ("/logs", volume, "app")])
    files["/data/new"] = "b"
    files["/data/sub/c"] = "c"
    files["/logs/today"] = "t"
    assert volume == {"/page": "a", "/new": "b", "/app/today": "t"} and deeper == {"/c": "c"}
    assert files["/data/page"] == "a" and "/data/hidden" not in files   # the mount hides the image's file
    assert sorted(files) == ["/data/app/today", "/data/new", "/data/page", "/data/sub/c", "/etc/hosts",
                             "/logs/today"]
    del files["/data/page"]
    assert "/page" not in volume and files.get("/data/page") is None


def _checked(path: str, kind: str, command: str = "true") -> str:
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "checked"}, "spec": {
        "nodeName": "node-1", "volumes": [{"name": "host", "hostPath": {"path": path, "type": kind}}],
        "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", f"{command}; sleep 3600"],
                        "volumeMounts": [{"name": "host", "mountPath": "/host"}]}]}})


def test_a_hostpath_type_is_checked_against_the_nodes_disk() -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        verdicts = {}
        for path, kind in [("/etc/not-there", "Directory"), ("/var/log", "Directory"), ("/etc/hosts", "Directory"),
                           ("/etc/hosts", "File"), ("/etc/nope", "File"), ("/run/containerd/containerd.sock", "Socket"),
                           ("/var/log", "Socket"), ("/dev/null", "CharDevice"), ("/dev/sda", "BlockDevice"),
                           ("/srv/new", "DirectoryOrCreate"), ("/etc/hosts", "DirectoryOrCreate")]:
            c.apply(_checked(path, kind))
            c.advance(2)
            status = json.loads(c.kubectl("get pod checked -o json"))["status"]["phase"]
            events = c.kubectl("get events --field-selector involvedObject.name=checked,reason=FailedMount")
            verdicts[(path, kind)] = (status, events.strip().splitlines()[-1].split(" : ")[-1] if "Failed" in events
                                      else "")
            c.kubectl("delete pod checked")
            c.kubectl("delete events --all")
    assert verdicts == {
        ("/etc/not-there", "Directory"): ("Pending", "hostPath type check failed: /etc/not-there is not a directory"),
        ("/var/log", "Directory"): ("Running", ""),
        ("/etc/hosts", "Directory"): ("Pending", "hostPath type check failed: /etc/hosts is not a directory"),
        ("/etc/hosts", "File"): ("Running", ""),
        ("/etc/nope", "File"): ("Pending", "hostPath type check failed: /etc/nope is not a file"),
        ("/run/containerd/containerd.sock", "Socket"): ("Running", ""),
        ("/var/log", "Socket"): ("Pending", "hostPath type check failed: /var/log is not a socket file"),
        ("/dev/null", "CharDevice"): ("Running", ""),
        ("/dev/sda", "BlockDevice"): ("Pending", "hostPath type check failed: /dev/sda is not a block device"),
        ("/srv/new", "DirectoryOrCreate"): ("Running", ""),
        ("/etc/hosts", "DirectoryOrCreate"): ("Pending", "hostPath type check failed: /etc/hosts is not a directory"),
    }


def test_what_a_pod_wrote_into_a_hostpath_is_on_the_node_for_a_later_type_check() -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(_checked("/srv/app", "DirectoryOrCreate", "mkdir -p /host/conf; echo x > /host/conf/app.ini"))
        c.advance(2)
        c.kubectl("delete pod checked")
        c.apply(_checked("/srv/app/conf/app.ini", "File", "cat /host"))
        c.advance(2)
        assert json.loads(c.kubectl("get pod checked -o json"))["status"]["phase"] == "Running"
        assert c.kubectl("logs checked") == "x\n"

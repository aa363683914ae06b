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

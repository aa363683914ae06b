"""Node faults on demand: the ``%minik8s node`` magic, and ``minik8s node`` reaching a running
``minik8s server`` through its control socket (driven as real processes, with the real kubectl)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from minik8s import nodecontrol
from minik8s.lab import magics
from minik8s.lab import session as lab_session
from conftest import needs_kubectl, start_server, wait_for


@pytest.fixture
def lab(monkeypatch: Any, capsys: Any) -> Any:
    monkeypatch.delenv(magics.KUBECONFIG_ENV, raising=False)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "minik8s")
    capsys.readouterr()
    yield shell
    magics.stop(quiet=True)
    shell.extension_manager.loaded.discard("minik8s")


def test_node_magic_stops_starts_adds_and_removes(lab: Any, capsys: Any) -> None:
    lab.run_line_magic("minik8s", "node stop node-2")
    assert capsys.readouterr().out == ("minik8s: node/node-2 kubelet stopped (no heartbeats: the node goes "
                                       "NotReady after 50s)\n")
    lab.run_line_magic("minik8s", "advance 60s")
    lab.run_line_magic("kubectl", "get node node-2")
    assert "node-2   NotReady" in capsys.readouterr().out
    lab.run_line_magic("minik8s", "node start node-2")
    lab.run_line_magic("minik8s", "advance 1s")
    lab.run_line_magic("kubectl", "get node node-2")
    assert "node-2   Ready" in capsys.readouterr().out
    lab.run_line_magic("minik8s", "node add --label disk=ssd")
    assert capsys.readouterr().out == "minik8s: node/node-4 added (a new kubelet registered it and heartbeats)\n"
    lab.run_line_magic("kubectl", "get nodes -l disk=ssd -o name")
    assert capsys.readouterr().out == "node/node-4\n"
    lab.run_line_magic("minik8s", "node remove node-4")
    assert capsys.readouterr().out == "minik8s: node/node-4 removed (its kubelet stopped and the Node was deleted)\n"
    lab.run_line_magic("kubectl", "get nodes -o name")
    assert capsys.readouterr().out == "node/node-1\nnode/node-2\nnode/node-3\n"


def test_node_magic_refuses_bad_input_without_a_traceback(lab: Any, capsys: Any) -> None:
    lab.run_line_magic("minik8s", "node stop node-9")
    assert capsys.readouterr().err == 'minik8s: no node "node-9" in this cluster (nodes: node-1, node-2, node-3)\n'
    lab.run_line_magic("minik8s", "node stop")
    assert capsys.readouterr().err == "minik8s: node stop needs a node name\n"
    lab.run_line_magic("minik8s", "node reboot node-1")
    assert "usage: %minik8s start" in capsys.readouterr().err
    lab.run_line_magic("minik8s", "node add x --label disk")
    assert capsys.readouterr().err == 'minik8s: invalid label "disk": use KEY=VALUE\n'
    lab.run_line_magic("kubectl", "get nodes -o name")
    assert capsys.readouterr().out == "node/node-1\nnode/node-2\nnode/node-3\n"  # nothing half-done


def test_node_magic_on_a_real_cluster_says_it_cannot(lab: Any, capsys: Any, tmp_path: Path, monkeypatch: Any) -> None:
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    monkeypatch.setattr(lab_session, "real_kubectl", lambda: "kubectl")
    lab.run_line_magic("minik8s", f"use-kubeconfig {kubeconfig}")
    capsys.readouterr()
    lab.run_line_magic("minik8s", "node stop node-1")
    assert capsys.readouterr().err.startswith("minik8s: node stop is not possible on a real cluster: its nodes "
                                              "are machines")


# --- minik8s node, through the server's control socket --------------------------------------


def node_command(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minik8s", "node", *args, "--data-dir", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def short_tmp() -> Any:
    """A short directory: a Unix socket's path must fit in 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="m8n-") as directory:
        yield Path(directory)


@needs_kubectl
def test_minik8s_node_reaches_the_running_server(short_tmp: Path) -> None:
    server = start_server(short_tmp, "--nodes", "2", "--runtime", "simulated")
    control = server.data_dir / "control.sock"
    try:
        mode = os.stat(control).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600

        done = node_command(server.data_dir, "stop", "node-2")
        assert (done.returncode, done.stdout) == (0, "node/node-2 kubelet stopped (no heartbeats: the node goes "
                                                     "NotReady after 50s)\n")
        # The kubelet is silent: node-2's Lease is no longer renewed while node-1's is (every 10 s).
        def renew_time(node: str) -> str:
            out = server.kubectl("get", "lease", node, "-n", "kube-node-lease", "-o", "jsonpath={.spec.renewTime}")
            return out.stdout
        frozen, moving = renew_time("node-2"), renew_time("node-1")
        wait_for(lambda: renew_time("node-1") != moving, timeout=25, what="node-1's lease renewed")
        assert renew_time("node-2") == frozen
        assert node_command(server.data_dir, "start", "node-2").returncode == 0
        wait_for(lambda: renew_time("node-2") != frozen, timeout=10, what="node-2's lease renewed again")

        added = node_command(server.data_dir, "add", "edge-1", "--label", "disk=ssd")
        assert (added.returncode, added.stdout) == (0, "node/edge-1 added (a new kubelet registered it and "
                                                       "heartbeats)\n")
        nodes = wait_for(lambda: "edge-1" in (out := server.kubectl("get", "nodes", "-l", "disk=ssd").stdout) and out,
                         what="edge-1 registered")
        assert nodes.splitlines()[1].split()[:2] == ["edge-1", "Ready"]
        removed = node_command(server.data_dir, "remove", "edge-1")
        assert removed.returncode == 0
        assert server.kubectl("get", "nodes", "-o", "name").stdout == "node/node-1\nnode/node-2\n"

        unknown = node_command(server.data_dir, "stop", "node-9")
        assert (unknown.returncode, unknown.stderr) == (1, 'error: no node "node-9" in this cluster (nodes: '
                                                           'node-1, node-2)\n')
    finally:
        server.stop()
    assert not control.exists()   # removed on shutdown
    gone = node_command(server.data_dir, "stop", "node-2")
    assert gone.returncode == 1
    assert gone.stderr == (f"error: no minik8s server is running with data directory {server.data_dir} "
                           f"(nothing listens on {control})\n")


@needs_kubectl
def test_the_control_socket_refuses_oversized_and_malformed_requests(short_tmp: Path) -> None:
    server = start_server(short_tmp, "--nodes", "1", "--runtime", "simulated")
    control = server.data_dir / "control.sock"

    def ask(body: bytes) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(control))
            sock.sendall(body)
            return dict(json.loads(sock.makefile("rb").readline()))

    try:
        assert ask(b"x" * (nodecontrol.MAX_REQUEST_BYTES + 10) + b"\n") == {
            "ok": False, "error": f"request too large (at most {nodecontrol.MAX_REQUEST_BYTES} bytes)"}
        assert ask(b"[1, 2]\n") == {"ok": False, "error": "a request is a JSON object"}
        assert ask(b'{"action": "reboot", "name": "node-1"}\n') == {
            "ok": False, "error": 'unknown action "reboot": use one of stop, start, add, remove'}
        assert ask(b'{"action": "add", "name": "n", "labels": {"a": 1}}\n') == {
            "ok": False, "error": "labels must map strings to strings"}
        assert server.kubectl("get", "nodes", "-o", "name").stdout == "node/node-1\n"   # nothing added
        assert ask(b'{"action": "stop", "name": "node-1"}\n')["ok"] is True   # still serving
    finally:
        server.stop()


def test_minik8s_node_usage_errors(short_tmp: Path) -> None:
    missing = node_command(short_tmp, "stop")
    assert missing.returncode == 2 and "error: node stop needs a node name" in missing.stderr
    unknown = node_command(short_tmp, "reboot", "node-1")
    assert unknown.returncode == 2 and "invalid choice: 'reboot'" in unknown.stderr
    label = node_command(short_tmp, "add", "--label", "disk")
    assert (label.returncode, label.stderr) == (1, 'error: invalid label "disk": use KEY=VALUE\n')

"""minik8s.lab.processes: a lab starts real minik8s processes, waits for them to be ready, reads their
logs and ends them all; a process that cannot start is reported with its own words."""

from __future__ import annotations

import subprocess

import pytest

from minik8s.lab.processes import Processes, free_port, run
from minik8s.lab.session import LabError


def test_a_server_starts_answers_and_is_stopped(tmp_path) -> None:
    procs = Processes(tmp_path)
    port = free_port()
    procs.start("server", "server", "--port", str(port), "--data-dir", str(procs.path("data")),
                "--kubeconfig", str(procs.path("admin.conf")), "--nodes", "1", "--runtime", "simulated",
                "--no-ingress", ready="serving the Kubernetes API at")
    process = procs.running["server"]
    try:
        assert f"https://127.0.0.1:{port}" in procs.log("server")
        got = subprocess.run(["kubectl", "--kubeconfig", str(procs.path("admin.conf")), "get", "--raw", "/healthz"],
                             capture_output=True, text=True, timeout=60)
        assert got.stdout == "ok"
        added = run("node", "add", "--label", "disk=ssd", "--data-dir", str(procs.path("data")))
        assert "node-2" in added
    finally:
        procs.stop()
    assert process.poll() is not None and procs.running == {}
    procs.stop()   # nothing left: a no-op


def test_a_process_that_exits_before_it_is_ready_raises_its_log(tmp_path) -> None:
    procs = Processes(tmp_path / "made" / "for" / "it")   # the directory is made
    with pytest.raises(LabError) as caught:
        procs.start("bad", "server", "--runtime", "nonsense", ready="serving")
    assert str(caught.value).startswith("bad did not start: ") and "nonsense" in str(caught.value)
    assert procs.running == {}


def test_a_name_is_free_again_once_its_process_has_exited(tmp_path) -> None:
    procs = Processes(tmp_path)
    procs.start("sleeper", "server", "--help")   # prints its usage and exits at once
    procs.running["sleeper"].wait(timeout=60)
    procs.start("sleeper", "server", "--help")   # the first one has exited: the name is free again
    procs.running["sleeper"].wait(timeout=60)
    assert "usage: minik8s server" in procs.log("sleeper")

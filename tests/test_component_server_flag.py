"""`--server` on the component commands: the kubeconfig's credential, another API server's address (a
component pointed at one of several API servers, as kubectl's --server does)."""

from __future__ import annotations

import argparse
from pathlib import Path

from minik8s import kubeconfig
from minik8s.daemons import kubelet, proxy, scheduler
from minik8s.daemons.component import connect


def _kubeconfig(tmp_path: Path) -> Path:
    file = tmp_path / "kubelet.conf"
    kubeconfig.save(kubeconfig.add_context(kubeconfig.empty(), "minik8s", "https://127.0.0.1:6443", token="abc"), file)
    return file


def test_connect_uses_the_kubeconfig_server_unless_told_another(tmp_path: Path) -> None:
    file = _kubeconfig(tmp_path)
    client, config = connect(str(file))
    assert client.server == config.server == "https://127.0.0.1:6443"
    client, config = connect(str(file), "https://127.0.0.2:7443/")
    assert client.server == config.server == "https://127.0.0.2:7443"
    assert config.token == "abc"   # the credential still comes from the kubeconfig


def test_every_component_command_takes_server(tmp_path: Path) -> None:
    file = str(_kubeconfig(tmp_path))
    for module, extra in ((kubelet, ["--node-name", "n1"]), (proxy, ["--node-name", "n1"]), (scheduler, [])):
        parser = argparse.ArgumentParser()
        module.add_arguments(parser)
        args = parser.parse_args(["--kubeconfig", file, "--server", "https://127.0.0.3:6443", *extra])
        assert args.server == "https://127.0.0.3:6443"
        assert parser.parse_args(["--kubeconfig", file, *extra]).server is None

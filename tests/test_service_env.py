"""Service environment variables, as upstream's kubelet gives them (``pkg/kubelet/envvars``): the pure
function, then what containers of the simulated and process runtimes really see."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from minik8s.kubelet.dns import service_env
from minik8s.kubelet.runtimes.process.env import container_env


def svc(name: str, namespace: str, ip: str, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"clusterIP": ip, "ports": list(ports)}}


KUBERNETES = svc("kubernetes", "default", "10.96.0.1", {"name": "https", "port": 443, "protocol": "TCP"})
WEB = svc("my-web", "shop", "10.96.0.20", {"name": "http", "port": 80, "protocol": "TCP"},
          {"name": "metrics", "port": 9100, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"})
OTHER = svc("db", "elsewhere", "10.96.0.30", {"port": 5432})
HEADLESS = svc("hl", "shop", "None", {"port": 80})
EXTERNAL = {"metadata": {"name": "ext", "namespace": "shop"}, "spec": {"type": "ExternalName", "externalName": "x.io"}}
ALL = [KUBERNETES, WEB, OTHER, HEADLESS, EXTERNAL]


def test_a_services_variables_are_upstreams() -> None:
    env = service_env(ALL, "shop")
    assert {k: v for k, v in env.items() if k.startswith("MY_WEB")} == {
        "MY_WEB_SERVICE_HOST": "10.96.0.20",
        "MY_WEB_SERVICE_PORT": "80",
        "MY_WEB_SERVICE_PORT_HTTP": "80",
        "MY_WEB_SERVICE_PORT_METRICS": "9100",
        "MY_WEB_SERVICE_PORT_DNS": "53",
        "MY_WEB_PORT": "tcp://10.96.0.20:80",
        "MY_WEB_PORT_80_TCP": "tcp://10.96.0.20:80",
        "MY_WEB_PORT_80_TCP_PROTO": "tcp",
        "MY_WEB_PORT_80_TCP_PORT": "80",
        "MY_WEB_PORT_80_TCP_ADDR": "10.96.0.20",
        "MY_WEB_PORT_9100_TCP": "tcp://10.96.0.20:9100",
        "MY_WEB_PORT_9100_TCP_PROTO": "tcp",
        "MY_WEB_PORT_9100_TCP_PORT": "9100",
        "MY_WEB_PORT_9100_TCP_ADDR": "10.96.0.20",
        "MY_WEB_PORT_53_UDP": "udp://10.96.0.20:53",
        "MY_WEB_PORT_53_UDP_PROTO": "udp",
        "MY_WEB_PORT_53_UDP_PORT": "53",
        "MY_WEB_PORT_53_UDP_ADDR": "10.96.0.20",
    }


def test_only_the_pods_namespace_and_the_kubernetes_service_without_cluster_ip_ones() -> None:
    env = service_env(ALL, "shop")
    prefixes = sorted({k.split("_")[0] for k in env})
    assert prefixes == ["KUBERNETES", "MY"]   # not db (another namespace), not headless, not ExternalName
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1" and env["KUBERNETES_PORT"] == "tcp://10.96.0.1:443"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"


def test_enable_service_links_false_keeps_only_kubernetes() -> None:
    env = service_env(ALL, "shop", enable_service_links=False)
    assert env and all(k.startswith("KUBERNETES_") for k in env)
    assert service_env([WEB], "shop", enable_service_links=False) == {}


def test_explicit_env_wins_and_may_refer_to_service_variables() -> None:
    container = {"name": "c", "env": [{"name": "MY_WEB_SERVICE_HOST", "value": "mine"},
                                      {"name": "URL", "value": "http://$(MY_WEB_SERVICE_HOST):$(MY_WEB_SERVICE_PORT)"}]}
    env = container_env({"metadata": {"namespace": "shop"}, "spec": {}}, container, ["MY_WEB_PORT=from-image"],
                        lambda *a: None, pod_ip="", host_ip="", services=service_env(ALL, "shop"))
    assert env["MY_WEB_SERVICE_HOST"] == "mine" and env["URL"] == "http://mine:80"
    assert env["MY_WEB_PORT"] == "tcp://10.96.0.20:80"   # the kubelet's variables over the image's


def test_simulated_containers_get_the_variables_of_services_existing_when_they_start() -> None:
    from minik8s import Cluster

    with Cluster(runtime="simulated", clock="virtual", seed=0) as c:
        c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                "spec: {clusterIP: 10.96.0.50, ports: [{name: http, port: 80}]}\n")
        shell = ("apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\n"
                 "spec: {enableServiceLinks: %s, containers: [{name: c, image: busybox, command: [sleep, '3600']}]}\n")
        c.apply(shell % ("linked", "true"))
        c.apply(shell % ("unlinked", "false"))
        c.advance(5)
        c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: later}\n"
                "spec: {clusterIP: 10.96.0.51, ports: [{port: 8080}]}\n")
        env = c.kubectl("exec linked -- env")
        assert "WEB_SERVICE_HOST=10.96.0.50\n" in env and "WEB_PORT_80_TCP=tcp://10.96.0.50:80\n" in env
        assert "LATER_" not in env   # created after the container started
        assert "WEB_" not in c.kubectl("exec unlinked -- env")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process runtime needs Linux")
def test_process_containers_get_the_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s import Cluster

    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as c:
        # In this cluster's loopback block (127.96.0.0/12 unless another cluster here holds it).
        ip = c.service_cidr.split("/")[0].rsplit(".", 1)[0] + ".70"
        c.apply("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                f"spec: {{clusterIP: {ip}, ports: [{{name: http, port: 80}}]}}\n")
        c.apply("apiVersion: v1\nkind: Pod\nmetadata: {name: envy}\nspec:\n  restartPolicy: Never\n"
                "  containers: [{name: c, image: busybox, command: [sh, -c, 'env; sleep 30']}]\n")
        deadline = time.monotonic() + 30
        out = ""
        while "WEB_SERVICE_HOST" not in out and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                out = c.kubelets[0].logs("default", "envy")
            except Exception:  # noqa: BLE001 - not started yet
                out = ""
        lines = out.splitlines()
        assert f"WEB_SERVICE_HOST={ip}" in lines and "WEB_SERVICE_PORT_HTTP=80" in lines
        assert f"WEB_PORT=tcp://{ip}:80" in lines

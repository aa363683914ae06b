"""The Endpoints controller (minik8s.controllers.endpoints)."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.cluster import Cluster
from minik8s.controllers.endpoints import (OVER_CAPACITY, desired_endpoints, needs_update, repack_subsets,
                                           service_subsets, truncate)
from minik8s.controllers.endpointutil import LAST_CHANGE_TRIGGER_TIME
from tests.test_endpointslice import DEPLOYMENT, LONELY, SELECTORLESS, many_pods, pod, svc

PODS = resources.lookup("pods")
ENDPOINTS = resources.lookup("ep")


def ref(name: str) -> dict[str, str]:
    return {"kind": "Pod", "namespace": "default", "name": name, "uid": f"uid-{name}"}


# --- pure -----------------------------------------------------------------------------------------


def test_ready_and_not_ready_pods_share_a_subset_per_port_set() -> None:
    pods = [pod("a", "10.244.1.3"), pod("b", "10.244.1.2", ready=False), pod("c", None),
            pod("d", "10.244.1.9", deleting=True), pod("e", "10.244.1.8", phase="Succeeded")]
    assert service_subsets(svc(), pods) == [{
        "addresses": [{"ip": "10.244.1.3", "nodeName": "node-1", "targetRef": ref("a")}],
        "notReadyAddresses": [{"ip": "10.244.1.2", "nodeName": "node-1", "targetRef": ref("b")}],
        "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}]


def test_publish_not_ready_addresses_lists_every_pod_as_ready_even_terminating() -> None:
    pods = [pod("a", "10.244.1.3", ready=False), pod("d", "10.244.1.9", deleting=True)]
    (subset,) = service_subsets(svc(publishNotReadyAddresses=True), pods)
    assert [a["ip"] for a in subset["addresses"]] == ["10.244.1.3", "10.244.1.9"]
    assert "notReadyAddresses" not in subset


def test_addresses_are_grouped_by_the_ports_they_offer() -> None:
    service = svc(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
                         {"name": "metrics", "port": 9100, "targetPort": 9100, "protocol": "TCP"}])
    pods = [pod("a", "10.244.1.2", ports={"web": 8080}), pod("b", "10.244.1.3", ports={"web": 9090}),
            pod("c", "10.244.1.4", ports={"web": 8080})]
    subsets = service_subsets(service, pods)
    summary = [([a["ip"] for a in s["addresses"]], [(p["name"], p["port"]) for p in s["ports"]]) for s in subsets]
    # metrics is 9100 everywhere; http is 8080 on a and c, 9090 on b: three address sets.
    assert summary == [(["10.244.1.2", "10.244.1.4"], [("http", 8080)]),
                       (["10.244.1.2", "10.244.1.3", "10.244.1.4"], [("metrics", 9100)]),
                       (["10.244.1.3"], [("http", 9090)])]
    same = svc(ports=[{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                      {"name": "metrics", "port": 9100, "targetPort": 9100, "protocol": "TCP"}])
    (subset,) = service_subsets(same, pods)  # the same ports everywhere: one subset, both ports
    assert [p["name"] for p in subset["ports"]] == ["http", "metrics"] and len(subset["addresses"]) == 3


def test_repack_not_ready_on_one_port_wins() -> None:
    port = {"name": "", "port": 80, "protocol": "TCP"}
    a = {"ip": "10.0.0.1", "targetRef": ref("a")}
    repacked = repack_subsets([{"addresses": [a], "ports": [port]}, {"notReadyAddresses": [a], "ports": [port]}])
    assert repacked == [{"notReadyAddresses": [a], "ports": [port]}]


def test_headless_service_without_ports_lists_addresses_and_hostnames() -> None:
    service = svc(ports=[], clusterIP="None")
    member = pod("db-0", "10.244.1.2", hostname="db-0", subdomain="web")
    assert service_subsets(service, [member]) == [
        {"addresses": [{"ip": "10.244.1.2", "hostname": "db-0", "nodeName": "node-1", "targetRef": ref("db-0")}]}]
    assert desired_endpoints(None, service, [], None)["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}


def test_over_1000_addresses_are_truncated_ready_first() -> None:
    subsets = service_subsets(svc(), many_pods(900) + [pod(f"nr-{i:03d}", f"10.250.0.{i}", ready=False)
                                                       for i in range(200)])
    kept, truncated = truncate(subsets)
    assert truncated
    assert sum(len(s.get("addresses") or []) for s in kept) == 900
    assert sum(len(s.get("notReadyAddresses") or []) for s in kept) == 100
    endpoints = desired_endpoints(None, svc(), subsets, None)
    assert endpoints["metadata"]["annotations"] == {OVER_CAPACITY: "truncated"}
    assert needs_update(endpoints, svc(), subsets)  # over capacity: always rewritten, as upstream
    kept_ready, _ = truncate(service_subsets(svc(), many_pods(1100)))
    assert sum(len(s.get("addresses") or []) for s in kept_ready) == 1000


def test_an_unchanged_endpoints_is_not_rewritten_for_a_new_trigger_time_alone() -> None:
    subsets = service_subsets(svc(), many_pods(2))
    current = desired_endpoints(None, svc(), subsets, 1.0)
    assert current["metadata"]["annotations"][LAST_CHANGE_TRIGGER_TIME] == "1970-01-01T00:00:01Z"
    assert not needs_update(current, svc(), subsets)
    relabelled = svc()
    relabelled["metadata"]["labels"] = {"tier": "front"}
    assert needs_update(current, relabelled, subsets)


# --- in a cluster ---------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def test_a_deployment_behind_a_service_gets_endpoints_and_kubectl_shows_them(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    ep = cluster.client.get(ENDPOINTS, "web", "default")
    pods = cluster.client.list(PODS, "default")["items"]
    (subset,) = ep["subsets"]
    assert sorted(a["ip"] for a in subset["addresses"]) == sorted(p["status"]["podIP"] for p in pods)
    assert subset["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert ep["metadata"]["labels"].get("tier") == "front"
    assert "ownerReferences" not in ep["metadata"]
    lines = cluster.kubectl("get endpoints web").splitlines()
    assert lines[0].split() == ["NAME", "ENDPOINTS", "AGE"]
    assert lines[1].split()[1] == ",".join(f"{a['ip']}:80" for a in subset["addresses"])


def test_a_pod_that_stops_being_ready_moves_to_not_ready_addresses(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT.replace(
        "metadata: {labels: {app: web}}",
        """metadata: {labels: {app: web}, annotations: {sim.minik8s.io/web: '{"readinessFailsAfterSeconds": 20}'}}""")
        .replace("ports: [{name: http, containerPort: 80}]",
                 "ports: [{name: http, containerPort: 80}], readinessProbe: {httpGet: {port: 80}, periodSeconds: 5,"
                 " failureThreshold: 1}"))
    cluster.advance(10)
    (subset,) = cluster.client.get(ENDPOINTS, "web", "default")["subsets"]
    assert len(subset["addresses"]) == 3 and "notReadyAddresses" not in subset
    cluster.advance(20)
    (subset,) = cluster.client.get(ENDPOINTS, "web", "default")["subsets"]
    assert len(subset["notReadyAddresses"]) == 3 and "addresses" not in subset
    # kubectl prints ready addresses only: with subsets but none ready the cell is empty (not <none>).
    assert cluster.kubectl("get ep web").splitlines()[1].split() == ["web", "30s"]


def test_endpoints_are_deleted_with_the_service_and_recreated_if_deleted_by_hand(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    cluster.client.delete(ENDPOINTS, "web", "default")
    cluster.run_until_stable()
    assert len(cluster.client.get(ENDPOINTS, "web", "default")["subsets"][0]["addresses"]) == 3
    cluster.kubectl("delete service web")
    cluster.run_until_stable()
    with pytest.raises(StatusError) as err:
        cluster.client.get(ENDPOINTS, "web", "default")
    assert err.value.code == 404


def test_services_without_selector_keep_the_endpoints_their_user_writes(cluster: Cluster) -> None:
    # The Endpoints first: written by hand, it waits for its Service rather than being cleaned away.
    cluster.apply("""
apiVersion: v1
kind: Endpoints
metadata: {name: external}
subsets: [{addresses: [{ip: 192.0.2.10}], ports: [{port: 80}]}]
""")
    cluster.advance(5)
    cluster.apply(SELECTORLESS)
    cluster.advance(5)
    ep = cluster.client.get(ENDPOINTS, "external", "default")
    assert ep["subsets"] == [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80, "protocol": "TCP"}]}]
    assert "labels" not in ep["metadata"]


def test_a_selector_that_matches_nothing_gives_endpoints_without_subsets(cluster: Cluster) -> None:
    cluster.apply(LONELY)
    cluster.advance(1)
    assert "subsets" not in cluster.client.get(ENDPOINTS, "lonely", "default")
    assert cluster.kubectl("get ep lonely").splitlines()[1].split()[:2] == ["lonely", "<none>"]


def test_the_trigger_time_annotation_records_the_readiness_change(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT.replace(
        "ports: [{name: http, containerPort: 80}]",
        "ports: [{name: http, containerPort: 80}], readinessProbe: {exec: {command: [cat, /tmp/ready]},"
        " periodSeconds: 5, failureThreshold: 1}"))
    cluster.advance(10)  # never ready: no /tmp/ready
    (victim, *_) = sorted(p["metadata"]["name"] for p in cluster.client.list(PODS, "default")["items"])
    cluster.kubectl(f"exec {victim} -- touch /tmp/ready")
    cluster.advance(6)
    pod_ready = next(c for c in cluster.client.get(PODS, victim, "default")["status"]["conditions"]
                     if c["type"] == "Ready")
    assert pod_ready["status"] == "True"
    ep = cluster.client.get(ENDPOINTS, "web", "default")
    assert [a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]] == [victim]
    assert ep["metadata"]["annotations"][LAST_CHANGE_TRIGGER_TIME] == pod_ready["lastTransitionTime"]

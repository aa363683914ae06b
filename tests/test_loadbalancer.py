"""The load-balancer controller (minik8s.controllers.loadbalancer)."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.addresses import load_balancer_pool
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.cluster import Cluster
from minik8s.controllers.loadbalancer import (CLEANUP_FINALIZER, LoadBalancerController, choose_address,
                                              wants_load_balancer)

SERVICES = resources.lookup("svc")
EVENTS = resources.lookup("events")


def lb(name: str = "web", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ports": [{"port": 80}], **spec}}


# --- pure -----------------------------------------------------------------------------------------


def test_lowest_free_address_first_and_never_the_network_address() -> None:
    assert choose_address(lb(), "127.240.0.0/16", set()) == ("127.240.0.1", "")
    assert choose_address(lb(), "127.240.0.0/16", {"127.240.0.1", "127.240.0.3"}) == ("127.240.0.2", "")
    assert choose_address(lb(), load_balancer_pool("simulated"), set()) == ("172.18.255.1", "")


def test_a_service_keeps_its_address_and_a_requested_one_is_honoured_if_free() -> None:
    has = lb()
    has["status"] = {"loadBalancer": {"ingress": [{"ip": "127.240.0.7", "ipMode": "VIP"}]}}
    assert choose_address(has, "127.240.0.0/16", {"127.240.0.1"}) == ("127.240.0.7", "")
    assert choose_address(lb(loadBalancerIP="127.240.1.9"), "127.240.0.0/16", set()) == ("127.240.1.9", "")
    assert choose_address(lb(loadBalancerIP="127.240.1.9"), "127.240.0.0/16", {"127.240.1.9"}) == \
        (None, 'requested loadBalancerIP "127.240.1.9" is already in use')
    assert choose_address(lb(loadBalancerIP="10.0.0.1"), "127.240.0.0/16", set()) == \
        (None, 'requested loadBalancerIP "10.0.0.1" is not in the pool 127.240.0.0/16')


def test_an_exhausted_pool_gives_nothing() -> None:
    assert choose_address(lb(), "127.240.0.0/30", {"127.240.0.1", "127.240.0.2"}) == \
        (None, "no free address left in the pool 127.240.0.0/30")


def test_only_load_balancer_services_without_a_class_are_ours() -> None:
    assert wants_load_balancer(lb())
    assert not wants_load_balancer(lb(loadBalancerClass="example.com/other"))
    assert not wants_load_balancer(lb(type="NodePort"))


# --- in a cluster ---------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def ingress(cluster: Cluster, name: str) -> list[dict[str, Any]]:
    svc = cluster.client.get(SERVICES, name, "default")
    return list(((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [])


def reasons(cluster: Cluster, name: str) -> list[str]:
    items = cluster.client.list(EVENTS, "default")["items"]
    mine = [e for e in items if e["involvedObject"]["name"] == name and e["source"]["component"] == "service-controller"]
    return [e["reason"] for e in sorted(mine, key=lambda e: e["metadata"]["name"])]


def test_load_balancer_services_get_addresses_from_the_pool_and_give_them_back(cluster: Cluster) -> None:
    cluster.client.create(SERVICES, lb("one"), "default")
    cluster.client.create(SERVICES, lb("two"), "default")
    cluster.run_until_stable()
    assert ingress(cluster, "one") == [{"ip": "172.18.255.1", "ipMode": "VIP"}]
    assert ingress(cluster, "two") == [{"ip": "172.18.255.2", "ipMode": "VIP"}]
    assert cluster.client.get(SERVICES, "one", "default")["metadata"]["finalizers"] == [CLEANUP_FINALIZER]
    assert reasons(cluster, "one") == ["EnsuringLoadBalancer", "EnsuredLoadBalancer"]
    assert "172.18.255.1" in cluster.kubectl("get svc one")
    cluster.kubectl("delete svc one")
    cluster.run_until_stable()
    with pytest.raises(StatusError):
        cluster.client.get(SERVICES, "one", "default")
    cluster.client.create(SERVICES, lb("three"), "default")
    cluster.run_until_stable()
    assert ingress(cluster, "three") == [{"ip": "172.18.255.1", "ipMode": "VIP"}]  # the released one, lowest


def test_changing_the_type_releases_the_address_and_clears_the_status(cluster: Cluster) -> None:
    cluster.client.create(SERVICES, lb("web"), "default")
    cluster.run_until_stable()
    cluster.client.patch(SERVICES, "web", {"spec": {"type": "ClusterIP"}}, "default")
    cluster.run_until_stable()
    svc = cluster.client.get(SERVICES, "web", "default")
    assert svc["status"]["loadBalancer"] == {} and "finalizers" not in svc["metadata"]
    assert reasons(cluster, "web") == ["EnsuringLoadBalancer", "EnsuredLoadBalancer", "DeletingLoadBalancer",
                                       "DeletedLoadBalancer"]


def test_a_requested_address_is_honoured_and_a_bad_one_is_reported(cluster: Cluster) -> None:
    cluster.client.create(SERVICES, lb("pinned", loadBalancerIP="172.18.255.77"), "default")
    cluster.client.create(SERVICES, lb("bad", loadBalancerIP="192.0.2.1"), "default")
    cluster.run_until_stable()
    assert ingress(cluster, "pinned") == [{"ip": "172.18.255.77", "ipMode": "VIP"}]
    assert ingress(cluster, "bad") == []
    warning = next(e for e in cluster.client.list(EVENTS, "default")["items"]
                   if e["involvedObject"]["name"] == "bad" and e["type"] == "Warning")
    assert warning["reason"] == "SyncLoadBalancerFailed"
    assert warning["message"] == ('Error syncing load balancer: failed to ensure load balancer: '
                                  'requested loadBalancerIP "192.0.2.1" is not in the pool 172.18.255.0/24')


def test_a_service_of_another_load_balancer_class_is_left_alone(cluster: Cluster) -> None:
    cluster.client.create(SERVICES, lb("theirs", loadBalancerClass="example.com/lb"), "default")
    cluster.run_until_stable()
    assert ingress(cluster, "theirs") == [] and reasons(cluster, "theirs") == []


def test_a_restarted_controller_learns_the_addresses_in_use_from_the_services(cluster: Cluster) -> None:
    cluster.client.create(SERVICES, lb("one"), "default")
    cluster.run_until_stable()
    fresh = LoadBalancerController(cluster.context)  # remembers nothing
    cluster.client.create(SERVICES, lb("two"), "default")
    cluster.informers.pump()
    fresh.reconcile(("default", "two"))
    assert ingress(cluster, "two") == [{"ip": "172.18.255.2", "ipMode": "VIP"}]


def test_the_process_runtime_hands_out_loopback_addresses() -> None:
    with Cluster(nodes=0, runtime="process", clock="virtual", seed=0) as c:
        c.client.create(SERVICES, lb("web"), "default")
        c.run_until_stable()
        assert ingress(c, "web") == [{"ip": "127.240.0.1", "ipMode": "VIP"}]

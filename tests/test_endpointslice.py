"""The EndpointSlice controller (minik8s.controllers.endpointslice) and the rules it shares (endpointutil)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.clock import VIRTUAL_EPOCH, parse_rfc3339, rfc3339
from minik8s.cluster import Cluster
from minik8s.controllers.endpointslice import (CONTROLLER_NAME, MANAGED_BY_LABEL, SERVICE_NAME_LABEL,
                                               EndpointSliceController, desired_endpoints, plan_slices,
                                               pod_to_endpoint)
from minik8s.controllers.endpointutil import (TriggerTimeTracker, find_port, pod_endpoints_changed, rfc3339_nano,
                                              services_for_pod)
from tests.conftest import needs_kubectl, start_server
from tests.test_server import _wait

PODS = resources.lookup("pods")
SERVICES = resources.lookup("svc")
SLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")

NODES = {"node-1": {"metadata": {"name": "node-1", "labels": {"topology.kubernetes.io/zone": "zone-a"}}}}


def svc(name: str = "web", *, ports: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}",
                         "creationTimestamp": rfc3339(VIRTUAL_EPOCH)},
            "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.20",
                     "ports": ports if ports is not None else [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                     **spec}}


def pod(name: str, ip: str | None = "10.244.1.2", *, ready: bool = True, ports: dict[str, int] | None = None,
        deleting: bool = False, phase: str = "Running", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "default", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = rfc3339(VIRTUAL_EPOCH + 5)
    status: dict[str, Any] = {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": rfc3339(VIRTUAL_EPOCH + 1)}]}
    if ip:
        status["podIP"] = ip
    container = {"name": "c", "image": "nginx",
                 "ports": [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in (ports or {}).items()]}
    return {"metadata": meta, "spec": {"nodeName": "node-1", "containers": [container], **spec}, "status": status}


def addresses(plan_slice: dict[str, Any]) -> list[str]:
    return [e["addresses"][0] for e in plan_slice.get("endpoints") or []]


# --- pure: endpoints and their conditions ---------------------------------------------------------


def test_an_endpoint_carries_upstreams_fields_and_conditions() -> None:
    endpoint = pod_to_endpoint(pod("web-a"), svc(), NODES["node-1"])
    assert endpoint == {"addresses": ["10.244.1.2"], "conditions": {"ready": True, "serving": True,
                                                                     "terminating": False},
                        "nodeName": "node-1", "zone": "zone-a",
                        "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-a", "uid": "uid-web-a"}}


@pytest.mark.parametrize("ready,deleting,publish,expected", [
    (False, False, False, {"ready": False, "serving": False, "terminating": False}),
    (True, True, False, {"ready": False, "serving": True, "terminating": True}),   # draining: serving, not ready
    (False, True, False, {"ready": False, "serving": False, "terminating": True}),
    (False, False, True, {"ready": True, "serving": False, "terminating": False}),  # publishNotReadyAddresses
    (True, True, True, {"ready": True, "serving": True, "terminating": True}),
])
def test_conditions_are_computed_as_upstream(ready: bool, deleting: bool, publish: bool,
                                             expected: dict[str, bool]) -> None:
    service = svc(publishNotReadyAddresses=publish)
    assert pod_to_endpoint(pod("p", ready=ready, deleting=deleting), service, None)["conditions"] == expected


def test_pods_without_ip_and_terminal_pods_are_left_out_terminating_ones_stay() -> None:
    pods = [pod("a", "10.244.1.2"), pod("b", None), pod("c", "10.244.1.4", phase="Succeeded"),
            pod("d", "10.244.1.5", phase="Failed"), pod("e", "10.244.1.6", deleting=True)]
    (ports, endpoints), = desired_endpoints(svc(), pods, NODES).values()
    assert [e["targetRef"]["name"] for e in endpoints] == ["a", "e"]
    assert ports == [{"name": "", "port": 8080, "protocol": "TCP"}]


def test_a_pod_on_a_missing_node_is_left_out_unless_every_address_is_published() -> None:
    stray = pod("stray", "10.244.9.9")
    stray["spec"]["nodeName"] = "gone"
    assert not desired_endpoints(svc(), [stray], NODES)
    assert desired_endpoints(svc(publishNotReadyAddresses=True), [stray], NODES)


def test_named_target_port_is_resolved_per_pod_and_splits_slices() -> None:
    service = svc(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    pods = [pod("a", "10.244.1.2", ports={"web": 8080}), pod("b", "10.244.1.3", ports={"web": 9090}),
            pod("c", "10.244.1.4", ports={"web": 8080}), pod("d", "10.244.1.5", ports={"other": 7070})]
    desired = desired_endpoints(service, pods, NODES)
    by_ports = {tuple(p["port"] for p in ports): [e["targetRef"]["name"] for e in eps]
                for ports, eps in desired.values()}
    # Upstream keeps a pod none of whose ports resolve, in a slice without ports.
    assert by_ports == {(8080,): ["a", "c"], (9090,): ["b"], (): ["d"]}
    plan = plan_slices(service, [], desired)
    assert sorted(tuple(p["port"] for p in s["ports"]) for s in plan.create) == [(), (8080,), (9090,)]
    assert all(s["ports"] is not None for s in plan.create)


def test_find_port_matches_name_and_protocol_and_sidecars() -> None:
    p = pod("a", ports={"dns": 53})
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "TCP"}) == 53
    assert find_port(p, {"port": 53, "targetPort": "dns", "protocol": "UDP"}) is None
    assert find_port(p, {"port": 80}) == 80  # targetPort defaults to port
    p["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always",
                                    "ports": [{"name": "metrics", "containerPort": 9100}]}]
    assert find_port(p, {"port": 9100, "targetPort": "metrics", "protocol": "TCP"}) == 9100


def test_hostname_is_set_for_pods_whose_subdomain_is_the_service() -> None:
    member = pod("db-0", hostname="db-0", subdomain="web")
    other = pod("db-1", hostname="db-1", subdomain="elsewhere")
    assert pod_to_endpoint(member, svc(), None)["hostname"] == "db-0"
    assert "hostname" not in pod_to_endpoint(other, svc(), None)


# --- pure: packing into slices ---------------------------------------------------------------------


def many_pods(count: int) -> list[dict[str, Any]]:
    return [pod(f"web-{i:03d}", f"10.244.{1 + i // 250}.{2 + i % 250}") for i in range(count)]


def test_250_pods_make_3_slices_of_at_most_100() -> None:
    plan = plan_slices(svc(), [], desired_endpoints(svc(), many_pods(250), NODES))
    assert [len(s["endpoints"]) for s in plan.create] == [100, 100, 50]
    assert not plan.update and not plan.delete
    first = plan.create[0]
    assert first["metadata"]["generateName"] == "web-" and first["addressType"] == "IPv4"
    assert first["metadata"]["labels"] == {SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER_NAME}
    assert first["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                     "uid": "uid-web", "controller": True,
                                                     "blockOwnerDeletion": True}]
    assert addresses(first)[:2] == ["10.244.1.2", "10.244.1.3"]  # pod-name order, deterministic


def named(plan_slices_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Slices as the API server would return them: named."""
    out = copy.deepcopy(plan_slices_)
    for i, s in enumerate(out):
        s["metadata"]["name"] = f"web-{i}"
    return out


def test_slices_are_updated_in_place_not_churned() -> None:
    pods = many_pods(150)
    existing = named(plan_slices(svc(), [], desired_endpoints(svc(), pods, NODES)).create)
    assert plan_slices(svc(), existing, desired_endpoints(svc(), pods, NODES)).__dict__ == \
        {"create": [], "update": [], "delete": []}
    # One pod goes, two come: the slice that lost one is rewritten and takes the newcomers first.
    pods = pods[1:] + [pod("web-new1", "10.244.9.1"), pod("web-new2", "10.244.9.2")]
    plan = plan_slices(svc(), existing, desired_endpoints(svc(), pods, NODES))
    assert not plan.create and not plan.delete
    assert sorted(s["metadata"]["name"] for s in plan.update) == ["web-0", "web-1"]
    by_name = {s["metadata"]["name"]: s for s in plan.update}
    assert len(by_name["web-0"]["endpoints"]) == 100 and addresses(by_name["web-0"])[-1] == "10.244.9.1"
    assert addresses(by_name["web-1"])[-1] == "10.244.9.2"


def test_a_readiness_change_rewrites_only_that_endpoint() -> None:
    pods = many_pods(3)
    existing = named(plan_slices(svc(), [], desired_endpoints(svc(), pods, NODES)).create)
    pods[1] = pod("web-001", "10.244.1.3", ready=False)
    plan = plan_slices(svc(), existing, desired_endpoints(svc(), pods, NODES))
    (updated,) = plan.update
    assert updated["metadata"]["name"] == "web-0" and addresses(updated) == addresses(existing[0])
    assert [e["conditions"]["ready"] for e in updated["endpoints"]] == [True, False, True]


def test_no_pods_means_one_placeholder_slice_kept_as_is() -> None:
    plan = plan_slices(svc(), [], desired_endpoints(svc(), [], NODES))
    (placeholder,) = plan.create
    assert placeholder["endpoints"] is None and placeholder["ports"] is None
    existing = named([placeholder])
    assert plan_slices(svc(), existing, {}).__dict__ == {"create": [], "update": [], "delete": []}
    relabelled = svc()
    relabelled["metadata"]["labels"] = {"tier": "front"}
    plan = plan_slices(relabelled, existing, {})  # a stale placeholder is replaced, as upstream
    assert [s["metadata"]["name"] for s in plan.delete] == ["web-0"]
    assert plan.create[0]["metadata"]["labels"]["tier"] == "front"
    # Pods arrive: the placeholder goes, a real slice comes.
    plan = plan_slices(svc(), existing, desired_endpoints(svc(), many_pods(2), NODES))
    assert [s["metadata"]["name"] for s in plan.delete] == ["web-0"] and len(plan.create) == 1


def test_slices_of_another_owner_are_deleted() -> None:
    existing = named(plan_slices(svc(), [], desired_endpoints(svc(), many_pods(2), NODES)).create)
    recreated = svc()
    recreated["metadata"]["uid"] = "uid-web-2"
    plan = plan_slices(recreated, existing, desired_endpoints(recreated, many_pods(2), NODES))
    assert [s["metadata"]["name"] for s in plan.delete] == ["web-0"]
    assert plan.create[0]["metadata"]["ownerReferences"][0]["uid"] == "uid-web-2"


def test_headless_services_get_the_headless_label_and_may_have_no_ports() -> None:
    service = svc(ports=[], clusterIP="None")
    plan = plan_slices(service, [], desired_endpoints(service, many_pods(1), NODES))
    (created,) = plan.create
    assert created["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert created["ports"] == [] and addresses(created) == ["10.244.1.2"]


def test_trigger_time_is_the_earliest_change_since_the_last_sync() -> None:
    tracker = TriggerTimeTracker()
    pods = many_pods(2)
    assert tracker.compute(svc(), pods) is None  # first sync: nothing to report
    assert tracker.compute(svc(), pods) is None  # nothing changed
    pods[1]["status"]["conditions"][0]["lastTransitionTime"] = rfc3339(VIRTUAL_EPOCH + 30)
    assert tracker.compute(svc(), pods) == VIRTUAL_EPOCH + 30
    assert rfc3339_nano(VIRTUAL_EPOCH + 30) == "2025-01-01T00:00:30Z"
    assert rfc3339_nano(VIRTUAL_EPOCH + 30.25) == "2025-01-01T00:00:30.25Z"
    assert rfc3339_nano(VIRTUAL_EPOCH + 30.1) == "2025-01-01T00:00:30.1Z"
    assert rfc3339_nano(VIRTUAL_EPOCH + 59.9999999) == "2025-01-01T00:01:00Z"


# --- in a cluster ------------------------------------------------------------------------------------

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template: {metadata: {labels: {app: web}},
             spec: {containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 80}]}]}}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


# A Service without selector: its endpoints are whatever its user writes.
SELECTORLESS = """
apiVersion: v1
kind: Service
metadata: {name: external}
spec:
  ports: [{port: 80}]
"""

# A Service whose selector matches no pod.
LONELY = """
apiVersion: v1
kind: Service
metadata: {name: lonely}
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
"""


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def slices(cluster: Cluster, service: str = "web") -> list[dict[str, Any]]:
    items = cluster.client.list(SLICES, "default", label_selector=f"{SERVICE_NAME_LABEL}={service}")["items"]
    return sorted(items, key=lambda s: s["metadata"]["name"])


def endpoint_states(cluster: Cluster, service: str = "web") -> dict[str, dict[str, bool]]:
    return {e["targetRef"]["name"]: e["conditions"] for s in slices(cluster, service) for e in s["endpoints"] or []}


def test_a_deployment_of_3_behind_a_service_gets_one_slice(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    (only,) = slices(cluster)
    pods = cluster.client.list(PODS, "default")["items"]
    assert only["metadata"]["name"].startswith("web-") and len(only["metadata"]["name"]) == len("web-") + 5
    labels = dict(only["metadata"]["labels"])
    service = cluster.client.get(SERVICES, "web", "default")
    # The headless label follows the Service's ClusterIP (none until the API server allocates one).
    assert ("service.kubernetes.io/headless" in labels) == (service["spec"].get("clusterIP") in (None, "None"))
    labels.pop("service.kubernetes.io/headless", None)
    assert labels == {"tier": "front", SERVICE_NAME_LABEL: "web", MANAGED_BY_LABEL: CONTROLLER_NAME}
    assert only["metadata"]["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
    assert only["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert sorted(e["addresses"][0] for e in only["endpoints"]) == sorted(p["status"]["podIP"] for p in pods)
    assert {e["targetRef"]["uid"] for e in only["endpoints"]} == {p["metadata"]["uid"] for p in pods}
    assert all(e["conditions"] == {"ready": True, "serving": True, "terminating": False} for e in only["endpoints"])
    assert {e["nodeName"] for e in only["endpoints"]} <= {"node-1", "node-2"}
    # Scaling changes the same slice, never a new one.
    cluster.kubectl("scale deployment web --replicas=5")
    cluster.advance(10)
    (after,) = slices(cluster)
    assert after["metadata"]["name"] == only["metadata"]["name"] and len(after["endpoints"]) == 5


def test_readiness_failing_then_passing_moves_the_endpoint_within_one_period(cluster: Cluster) -> None:
    period = 5
    cluster.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: flaky, labels: {{app: web}}}}
spec:
  containers:
  - name: app
    image: busybox
    args: [/bin/sh, -c, "touch /tmp/ready; sleep 30; rm -f /tmp/ready; sleep 30; touch /tmp/ready; sleep 600"]
    readinessProbe: {{exec: {{command: [cat, /tmp/ready]}}, periodSeconds: {period}, failureThreshold: 1}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80}}]
""")
    cluster.advance(1)
    started = parse_rfc3339(cluster.client.get(PODS, "flaky", "default")["status"]["containerStatuses"][0]
                            ["state"]["running"]["startedAt"])
    timeline: list[tuple[float, bool]] = []
    while cluster.clock.now() < started + 75:
        cluster.advance(1)
        timeline.append((cluster.clock.now() - started, endpoint_states(cluster)["flaky"]["ready"]))
    # The file goes at 30 s and comes back at 60 s; probes run every 5 s from the start.
    became_unready = next(t for t, ok in timeline if t >= 30 and not ok)
    became_ready_again = next(t for t, ok in timeline if t >= 60 and ok)
    assert all(ok for t, ok in timeline if 5 <= t < 30)           # ready while the file is there
    assert 30 <= became_unready <= 30 + period                    # out within one probe period
    assert all(not ok for t, ok in timeline if became_unready <= t < 60)
    assert 60 <= became_ready_again <= 60 + period                # and back within one period
    # Back in: ready and serving again.
    assert endpoint_states(cluster)["flaky"] == {"ready": True, "serving": True, "terminating": False}


def test_selector_matching_nothing_gives_an_empty_placeholder(cluster: Cluster) -> None:
    cluster.apply(LONELY)
    cluster.advance(1)
    (placeholder,) = slices(cluster, "lonely")
    assert placeholder["endpoints"] is None and placeholder["ports"] is None


def test_service_without_selector_gets_no_managed_slices(cluster: Cluster) -> None:
    cluster.apply(SELECTORLESS)
    cluster.advance(1)
    assert slices(cluster, "external") == []


def test_deleting_pods_shows_them_terminating_then_drops_them(cluster: Cluster) -> None:
    # The app takes 10 s to stop after SIGTERM: meanwhile its endpoint is terminating, serving, not ready.
    cluster.apply(DEPLOYMENT.replace("metadata: {labels: {app: web}}",
                                     """metadata: {labels: {app: web}, annotations: {sim.minik8s.io/web: '{"stopSeconds": 10}'}}"""))
    cluster.advance(10)
    victim = sorted(endpoint_states(cluster))[0]
    cluster.client.delete(PODS, victim, "default")
    cluster.advance(1)
    states = endpoint_states(cluster)
    assert states[victim] == {"ready": False, "serving": True, "terminating": True}
    assert len(states) == 4  # the ReplicaSet's replacement is already listed
    cluster.advance(30)
    states = endpoint_states(cluster)
    assert victim not in states and len(states) == 3


def test_deleting_the_service_removes_its_slices(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    assert slices(cluster)
    cluster.kubectl("delete service web")
    cluster.run_until_stable()
    assert slices(cluster) == []


def test_a_slice_deleted_by_hand_is_recreated(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    (first,) = slices(cluster)
    cluster.client.delete(SLICES, first["metadata"]["name"], "default")
    cluster.run_until_stable()
    (second,) = slices(cluster)
    assert second["metadata"]["name"] != first["metadata"]["name"] and len(second["endpoints"]) == 3


def test_statefulset_pods_behind_a_headless_service_publish_hostnames(cluster: Cluster) -> None:
    cluster.apply("""
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 6379}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  {serviceName: db, replicas: 2, selector: {matchLabels: {app: db}},
   template: {metadata: {labels: {app: db}}, spec: {containers: [{name: db, image: redis}]}}}
""")
    cluster.advance(30)
    (only,) = slices(cluster, "db")
    assert sorted(e.get("hostname") for e in only["endpoints"]) == ["db-0", "db-1"]
    assert only["metadata"]["labels"]["service.kubernetes.io/headless"] == ""


# --- the real kubectl against `minik8s server` -----------------------------------------------------


@needs_kubectl
def test_real_kubectl_gets_endpointslices_and_endpoints(tmp_path: Any) -> None:
    srv = start_server(tmp_path, "--nodes", "2", "--runtime", "simulated")
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=DEPLOYMENT).returncode == 0

        def ready_addresses() -> list[str]:
            out = srv.kubectl("get", "endpointslices", "-l", f"{SERVICE_NAME_LABEL}=web", "-o", "json").stdout
            items = json.loads(out)["items"] if out else []
            return sorted(e["addresses"][0] for s in items for e in s.get("endpoints") or []
                          if e["conditions"]["ready"])

        _wait(lambda: len(ready_addresses()) == 3)
        pod_ips = sorted(srv.kubectl("get", "pods", "-o", "jsonpath={.items[*].status.podIP}").stdout.split())
        assert ready_addresses() == pod_ips
        both = srv.kubectl("get", "endpointslices,endpoints", "-o", "name").stdout.split()
        assert "endpoints/web" in both
        assert [n for n in both if n.startswith("endpointslice.discovery.k8s.io/web-")]
        table = srv.kubectl("get", "endpoints", "web").stdout.splitlines()
        assert table[0].split() == ["NAME", "ENDPOINTS", "AGE"]
        assert sorted(table[1].split()[1].split(",")) == sorted(f"{ip}:80" for ip in pod_ips)
        assert srv.kubectl("delete", "service", "web").returncode == 0
        # (the API server's own ``kubernetes`` endpoints, when it writes them, stay)
        _wait(lambda: "web" not in srv.kubectl("get", "endpointslices,endpoints", "-o", "name").stdout)
    finally:
        srv.stop()


def test_a_stale_cache_never_makes_a_second_slice(cluster: Cluster) -> None:
    controller = next(c for c in cluster.components if isinstance(c, EndpointSliceController))
    cluster.client.create(SERVICES, svc("solo"), "default")
    cluster.informers.pump()
    controller.reconcile(("default", "solo"))  # creates the placeholder slice
    controller.reconcile(("default", "solo"))  # the cache has not seen it yet: must wait, not create again
    assert len(slices(cluster, "solo")) == 1
    cluster.run_until_stable()
    cluster.advance(1)
    assert len(slices(cluster, "solo")) == 1


def test_only_pod_changes_that_can_move_endpoints_wake_the_controllers() -> None:
    before = pod("a")
    restarted = copy.deepcopy(before)
    restarted["status"]["containerStatuses"] = [{"name": "c", "restartCount": 1}]
    assert not pod_endpoints_changed(before, restarted)
    assert services_for_pod([svc()], restarted, before) == []
    for change in (lambda p: p["status"]["conditions"][0].update(status="False"),
                   lambda p: p["status"].update(podIP="10.244.1.99"),
                   lambda p: p["metadata"]["labels"].update(app="other"),
                   lambda p: p["metadata"].update(deletionTimestamp=rfc3339(VIRTUAL_EPOCH)),
                   lambda p: p["status"].update(phase="Succeeded")):
        after = copy.deepcopy(before)
        change(after)
        assert pod_endpoints_changed(before, after)
    relabelled = copy.deepcopy(before)
    relabelled["metadata"]["labels"] = {"app": "other"}
    assert services_for_pod([svc()], relabelled, before) == [("default", "web")]  # it matched before
    assert services_for_pod([svc()], before, None) == [("default", "web")]        # added or deleted
    assert services_for_pod([svc()], pod("pending", None), None) == []             # no IP: no endpoint


def test_foreground_deletion_of_a_service_waits_for_its_slices(cluster: Cluster) -> None:
    cluster.apply(DEPLOYMENT)
    cluster.advance(10)
    cluster.kubectl("delete service web --cascade=foreground --wait=false")
    cluster.run_until_stable()
    assert slices(cluster) == [] and cluster.client.list(SERVICES, "default",
                                                          field_selector="metadata.name=web")["items"] == []


def test_its_own_writes_do_not_wake_the_controller_but_others_do(cluster: Cluster) -> None:
    controller = next(c for c in cluster.components if isinstance(c, EndpointSliceController))
    cluster.client.create(SERVICES, svc("solo"), "default")
    cluster.informers.pump()
    controller.reconcile(("default", "solo"))  # writes the placeholder
    while controller.queue.pop() is not None:
        pass
    cluster.informers.pump()                   # ...whose event comes back: ours, nothing to do
    assert len(controller.queue) == 0
    (placeholder,) = slices(cluster, "solo")
    placeholder["metadata"].setdefault("labels", {})["tampered"] = "yes"
    cluster.client.update(SLICES, placeholder, "default")
    cluster.informers.pump()                   # someone else's write: look again
    assert len(controller.queue) == 1
    cluster.run_until_stable()
    assert "tampered" not in slices(cluster, "solo")[0]["metadata"]["labels"]


def test_pods_serving_a_named_port_on_different_numbers_get_a_slice_each(cluster: Cluster) -> None:
    for name, number in (("v1", 8080), ("v2", 9090)):
        cluster.apply(f"""
apiVersion: v1
kind: Pod
metadata: {{name: {name}, labels: {{app: web}}}}
spec: {{containers: [{{name: web, image: nginx, ports: [{{name: http, containerPort: {number}}}]}}]}}
""")
    cluster.apply(DEPLOYMENT.split("---")[1])  # the Service: targetPort http
    cluster.advance(5)
    by_port = {s["ports"][0]["port"]: [e["targetRef"]["name"] for e in s["endpoints"]] for s in slices(cluster)}
    assert by_port == {8080: ["v1"], 9090: ["v2"]}

"""Service allocation in the API server (minik8s.apiserver.serviceallocator, kubernetesservice)."""

from __future__ import annotations

import ipaddress
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from conftest import needs_kubectl, start_server
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.serviceallocator import AllocationMap, IPAllocator, PortAllocator, range_offset
from minik8s.clock import VirtualClock
from minik8s.store import Store

SERVICES = resources.get("", "v1", "services")
ENDPOINTS = resources.get("", "v1", "endpoints")
SLICES = resources.get("discovery.k8s.io", "v1", "endpointslices")
CIDR = "10.96.0.0/12"


def make_api(store: Store | None = None, seed: int = 0) -> APIServer:
    return APIServer(store or Store(), VirtualClock(), random.Random(seed), service_cidr=CIDR)


def svc(name: str, kind: str = "ClusterIP", cluster_ip: str | None = None, ports: list | None = None, **spec) -> dict:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": kind, "selector": {"app": name}, "ports": ports or [{"port": 80}], **spec}}
    if cluster_ip is not None:
        body["spec"]["clusterIP"] = cluster_ip
    return body


def spec_of(api: APIServer, name: str) -> dict:
    return api.get(SERVICES, "default", name)["spec"]


# --- the allocation map -----------------------------------------------------------------------------------


def test_range_offsets_are_upstreams():
    # a /12 keeps 256 addresses for static requests, a /24 16, a /28 none; 2768 node ports keep 86
    assert range_offset(2**20, 16, 256, 16) == 256
    assert range_offset(256, 16, 256, 16) == 16
    assert range_offset(16, 16, 256, 16) == 0
    assert range_offset(2768, 16, 128, 32) == 86


def test_random_picks_prefer_the_upper_band_then_fill_the_lower_one():
    allocations = AllocationMap(size=20, offset=4, rng=random.Random(1))
    picked = [allocations.allocate_next() for _ in range(20)]
    assert sorted(picked[:16]) == list(range(4, 20))
    assert sorted(picked[16:]) == [0, 1, 2, 3]
    assert allocations.allocate_next() is None


def test_ip_allocator_never_hands_out_network_or_broadcast():
    ips = IPAllocator("10.0.0.0/29", random.Random(0))
    got = {ips.allocate_next() for _ in range(6)}
    assert got == {f"10.0.0.{i}" for i in range(1, 7)}
    with pytest.raises(Exception, match="range is full"):
        ips.allocate_next()
    for bad in ("10.0.0.0", "10.0.0.7", "10.0.1.1"):
        with pytest.raises(Exception, match=r"the provided IP \(.*\) is not in the valid range"):
            IPAllocator("10.0.0.0/29", random.Random(0)).allocate(bad)


def test_port_allocator_range_and_duplicates():
    ports = PortAllocator(30000, 32767, random.Random(0))
    ports.allocate(30080)
    with pytest.raises(Exception, match="^provided port is already allocated$"):
        ports.allocate(30080)
    with pytest.raises(Exception, match="^provided port is not in the valid range. The range of valid ports is "
                                        "30000-32767$"):
        ports.allocate(80)
    assert all(30000 + 86 <= ports.allocate_next() <= 32767 for _ in range(50))


# --- ClusterIPs ---------------------------------------------------------------------------------------------


def test_the_kubernetes_service_and_its_endpoints_exist_from_the_start():
    api = make_api()
    spec = spec_of(api, "kubernetes")
    assert (spec["clusterIP"], spec["clusterIPs"]) == ("10.96.0.1", ["10.96.0.1"])
    assert spec["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    ep = api.get(ENDPOINTS, "default", "kubernetes")
    assert ep["subsets"] == [{"addresses": [{"ip": "127.0.0.1"}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    es = api.get(SLICES, "default", "kubernetes")
    assert es["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert (es["addressType"], es["endpoints"][0]["addresses"], es["ports"][0]["port"]) == ("IPv4", ["127.0.0.1"],
                                                                                            6443)


def test_allocated_ips_are_in_range_distinct_upper_band_and_deterministic():
    def run(seed: int) -> list[str]:
        api = make_api(seed=seed)
        return [api.create(SERVICES, "default", svc(f"s{i}"))["spec"]["clusterIP"] for i in range(20)]

    first = run(7)
    assert first == run(7)
    assert len(set(first)) == 20
    network = ipaddress.ip_network(CIDR)
    for ip in first:
        assert ipaddress.ip_address(ip) in network
        assert int(ipaddress.ip_address(ip)) - int(network.network_address) > 256  # not the static band


def test_requested_ip_is_honoured_and_a_taken_one_refused_with_upstreams_error():
    api = make_api()
    assert api.create(SERVICES, "default", svc("dns", cluster_ip="10.96.0.10"))["spec"]["clusterIPs"] == \
        ["10.96.0.10"]
    with pytest.raises(StatusError) as taken:
        api.create(SERVICES, "default", svc("other", cluster_ip="10.96.0.10"))
    assert taken.value.code == 422
    assert taken.value.message == ('Service "other" is invalid: spec.clusterIPs: Invalid value: '
                                   '[]string{"10.96.0.10"}: failed to allocate IP 10.96.0.10: provided IP is '
                                   'already allocated')
    with pytest.raises(StatusError) as outside:
        api.create(SERVICES, "default", svc("far", cluster_ip="192.168.0.5"))
    assert outside.value.message == ('Service "far" is invalid: spec.clusterIPs: Invalid value: '
                                     '[]string{"192.168.0.5"}: failed to allocate IP 192.168.0.5: the provided IP '
                                     '(192.168.0.5) is not in the valid range. The range of valid IPs is '
                                     '10.96.0.0/12')
    assert outside.value.details["causes"][0]["field"] == "spec.clusterIPs"


def test_headless_and_external_name_get_no_ip():
    api = make_api()
    headless = api.create(SERVICES, "default", svc("h", cluster_ip="None"))["spec"]
    assert (headless["clusterIP"], headless["clusterIPs"]) == ("None", ["None"])
    ext = api.create(SERVICES, "default", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "e"},
                                           "spec": {"type": "ExternalName", "externalName": "example.com"}})
    assert "clusterIP" not in ext["spec"] and "clusterIPs" not in ext["spec"]


def test_delete_frees_the_ip_and_node_ports():
    api = make_api()
    api.create(SERVICES, "default", svc("a", "NodePort", cluster_ip="10.96.0.20", ports=[{"port": 80,
                                                                                          "nodePort": 30080}]))
    api.delete(SERVICES, "default", "a")
    again = api.create(SERVICES, "default", svc("b", "NodePort", cluster_ip="10.96.0.20",
                                                ports=[{"port": 80, "nodePort": 30080}]))
    assert (again["spec"]["clusterIP"], again["spec"]["ports"][0]["nodePort"]) == ("10.96.0.20", 30080)


def test_refused_create_allocates_nothing():
    api = make_api()
    api.create(SERVICES, "default", svc("taken", "NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    # the IP is free but the node port is taken: the create fails and the IP goes back
    with pytest.raises(StatusError) as refused:
        api.create(SERVICES, "default", svc("x", "NodePort", cluster_ip="10.96.0.30",
                                            ports=[{"port": 80, "nodePort": 30080}]))
    assert refused.value.message.endswith("spec.ports[0].nodePort: Invalid value: 30080: provided port is already "
                                          "allocated")
    assert api.create(SERVICES, "default", svc("y", cluster_ip="10.96.0.30"))["spec"]["clusterIP"] == "10.96.0.30"
    # a name that exists already: the store refuses, the requested IP and port are given back
    with pytest.raises(StatusError) as exists:
        api.create(SERVICES, "default", svc("y", "NodePort", cluster_ip="10.96.0.31",
                                            ports=[{"port": 80, "nodePort": 30081}]))
    assert exists.value.code == 409
    api.create(SERVICES, "default", svc("z", "NodePort", cluster_ip="10.96.0.31",
                                        ports=[{"port": 80, "nodePort": 30081}]))
    # a dry run allocates nothing either
    api.create(SERVICES, "default", svc("d", cluster_ip="10.96.0.32"), dry_run=True)
    api.create(SERVICES, "default", svc("d", cluster_ip="10.96.0.32"))


# --- node ports -------------------------------------------------------------------------------------------


def test_node_ports_allocated_requested_and_out_of_range():
    api = make_api()
    ports = api.create(SERVICES, "default", svc("np", "NodePort", ports=[{"name": "a", "port": 80},
                                                                      {"name": "b", "port": 81}]))["spec"]["ports"]
    assert all(30000 <= p["nodePort"] <= 32767 for p in ports) and ports[0]["nodePort"] != ports[1]["nodePort"]
    with pytest.raises(StatusError) as outside:
        api.create(SERVICES, "default", svc("low", "NodePort", ports=[{"port": 80, "nodePort": 8080}]))
    assert outside.value.message == ('Service "low" is invalid: spec.ports[0].nodePort: Invalid value: 8080: '
                                     'provided port is not in the valid range. The range of valid ports is '
                                     '30000-32767')


def test_tcp_and_udp_of_one_port_share_a_node_port():
    api = make_api()
    ports = api.create(SERVICES, "default", svc("dns", "NodePort", ports=[
        {"name": "dns", "port": 53, "protocol": "UDP"},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]))["spec"]["ports"]
    assert ports[0]["nodePort"] == ports[1]["nodePort"]


def test_load_balancers_get_node_ports_unless_told_not_to():
    api = make_api()
    lb = api.create(SERVICES, "default", svc("lb", "LoadBalancer"))["spec"]
    assert lb["ports"][0]["nodePort"] >= 30000
    bare = api.create(SERVICES, "default", svc("bare", "LoadBalancer", allocateLoadBalancerNodePorts=False))["spec"]
    assert "nodePort" not in bare["ports"][0]
    local = api.create(SERVICES, "default", svc("local", "LoadBalancer", externalTrafficPolicy="Local"))["spec"]
    assert 30000 <= local["healthCheckNodePort"] <= 32767


# --- updates --------------------------------------------------------------------------------------------


def test_update_keeps_the_ip_when_omitted_and_refuses_a_change():
    api = make_api()
    created = api.create(SERVICES, "default", svc("web"))
    body = svc("web")
    body["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    kept = api.update(SERVICES, "default", "web", body)
    assert kept["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    with pytest.raises(StatusError) as changed:
        api.patch(SERVICES, "default", "web", "merge", {"spec": {"clusterIP": "10.96.0.99",
                                                                 "clusterIPs": ["10.96.0.99"]}})
    assert changed.value.code == 422
    assert "spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.99\"}: may not change once set" in \
        changed.value.message


def test_type_changes_allocate_and_free_as_upstream():
    api = make_api()
    ip = api.create(SERVICES, "default", svc("web", cluster_ip="10.96.0.40"))["spec"]["clusterIP"]
    node_port = api.patch(SERVICES, "default", "web", "merge",
                          {"spec": {"type": "NodePort"}})["spec"]["ports"][0]["nodePort"]
    assert spec_of(api, "web")["clusterIP"] == ip and node_port >= 30000
    back = api.patch(SERVICES, "default", "web", "merge", {"spec": {"type": "ClusterIP"}})["spec"]
    assert "nodePort" not in back["ports"][0]
    # the node port is free again
    api.create(SERVICES, "default", svc("np", "NodePort", ports=[{"port": 80, "nodePort": node_port}]))
    external = api.patch(SERVICES, "default", "web", "merge",
                         {"spec": {"type": "ExternalName", "externalName": "example.com"}})["spec"]
    assert "clusterIP" not in external and "ipFamilies" not in external
    assert api.create(SERVICES, "default", svc("again", cluster_ip=ip))["spec"]["clusterIP"] == ip  # freed
    back = api.patch(SERVICES, "default", "web", "merge", {"spec": {"type": "ClusterIP", "externalName": None}})
    assert back["spec"]["clusterIP"] not in ("", ip, None)


def test_refused_update_gives_back_what_it_took():
    api = make_api()
    api.create(SERVICES, "default", svc("holder", "NodePort", ports=[{"port": 80, "nodePort": 30090}]))
    api.create(SERVICES, "default", svc("web"))
    with pytest.raises(StatusError):
        api.patch(SERVICES, "default", "web", "strategic", {"spec": {"type": "NodePort", "ports": [
            {"port": 80, "nodePort": 30091}, {"port": 81, "name": "b", "nodePort": 30090}]}})
    api.create(SERVICES, "default", svc("later", "NodePort", ports=[{"port": 80, "nodePort": 30091}]))


# --- restart ------------------------------------------------------------------------------------------------


def test_restart_with_sqlite_keeps_allocations(tmp_path):
    from minik8s.store.sqlite import SQLiteBackend

    store = Store(SQLiteBackend(tmp_path / "state.db"))
    api = make_api(store)
    kept = api.create(SERVICES, "default", svc("web", "NodePort"))["spec"]
    store.close()
    store = Store(SQLiteBackend(tmp_path / "state.db"))
    api = make_api(store)
    assert spec_of(api, "kubernetes")["clusterIP"] == "10.96.0.1"  # not created twice
    with pytest.raises(StatusError, match="provided IP is already allocated"):
        api.create(SERVICES, "default", svc("copy", cluster_ip=kept["clusterIP"]))
    with pytest.raises(StatusError, match="provided port is already allocated"):
        api.create(SERVICES, "default", svc("copy", "NodePort", ports=[{"port": 80,
                                                                        "nodePort": kept["ports"][0]["nodePort"]}]))
    with pytest.raises(StatusError, match="provided IP is already allocated"):
        api.create(SERVICES, "default", svc("k", cluster_ip="10.96.0.1"))
    store.close()


# --- over HTTP, with the real kubectl -----------------------------------------------------------------------


@needs_kubectl
def test_real_kubectl_sees_allocation_errors_and_the_kubernetes_endpoints(tmp_path):
    srv = start_server(tmp_path, "--nodes", "0", "--runtime", "simulated", "--service-node-port-range",
                       "30000-30100", "--service-cluster-ip-range", "10.100.0.0/16")
    try:
        port = int(srv.url.rsplit(":", 1)[1])
        ep = json.loads(srv.kubectl("get", "endpoints", "kubernetes", "-o", "json").stdout)
        assert ep["subsets"][0]["ports"][0]["port"] == port
        made = srv.kubectl("create", "service", "nodeport", "web", "--tcp=80:8080", "--node-port=30080")
        assert (made.returncode, made.stdout) == (0, "service/web created\n")
        clash = srv.kubectl("create", "service", "nodeport", "web2", "--tcp=80:8080", "--node-port=30080")
        assert clash.returncode == 1
        assert clash.stderr == ('error: failed to create NodePort service: Service "web2" is invalid: '
                                'spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated\n')
        far = srv.kubectl("create", "service", "nodeport", "web3", "--tcp=80:8080", "--node-port=30500")
        assert far.stderr.endswith("provided port is not in the valid range. The range of valid ports is "
                                   "30000-30100\n")
        taken = srv.kubectl("create", "service", "clusterip", "dns", "--tcp=53:53", "--clusterip=10.100.0.1")
        assert taken.stderr == ('error: failed to create ClusterIP service: Service "dns" is invalid: '
                                'spec.clusterIPs: Invalid value: []string{"10.100.0.1"}: failed to allocate IP '
                                '10.100.0.1: provided IP is already allocated\n')
        outside = srv.kubectl("create", "service", "clusterip", "dns", "--tcp=53:53", "--clusterip=10.96.0.10")
        assert outside.stderr.endswith("failed to allocate IP 10.96.0.10: the provided IP (10.96.0.10) is not in the "
                                       "valid range. The range of valid IPs is 10.100.0.0/16\n")
        table = srv.kubectl("get", "svc").stdout.splitlines()
        assert table[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
        assert table[1].split()[:5] == ["kubernetes", "ClusterIP", "10.100.0.1", "<none>", "443/TCP"]
        name, kind, ip, external, ports = table[2].split()[:5]
        assert (name, kind, external, ports) == ("web", "NodePort", "<none>", "80:30080/TCP")
        assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.100.0.0/16")
    finally:
        srv.stop()


def test_external_name_services_may_not_carry_a_cluster_ip():
    api = make_api()
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "e"},
            "spec": {"type": "ExternalName", "externalName": "example.com", "clusterIP": "10.96.0.50"}}
    with pytest.raises(StatusError) as refused:
        api.create(SERVICES, "default", body)
    assert refused.value.message == ('Service "e" is invalid: spec.clusterIPs: Forbidden: may not be set for '
                                     'ExternalName services')
    api.create(SERVICES, "default", svc("web", cluster_ip="10.96.0.50"))  # nothing was allocated by the refusal
    switched = api.patch(SERVICES, "default", "web", "merge",
                         {"spec": {"type": "ExternalName", "externalName": "example.com"}})["spec"]
    assert not {"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"} & set(switched)


SERVICE_MANIFEST = """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: %s
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


@needs_kubectl
def test_real_kubectl_apply_replace_and_restart_keep_allocations(tmp_path):
    data_dir = tmp_path / "data"
    srv = start_server(tmp_path, "--nodes", "0", "--runtime", "simulated", data_dir=data_dir)
    try:
        assert srv.kubectl("apply", "-f", "-", stdin=SERVICE_MANIFEST % "ClusterIP").stdout == "service/web created\n"
        ip = srv.kubectl("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}").stdout
        assert srv.kubectl("apply", "-f", "-", stdin=SERVICE_MANIFEST % "ClusterIP").stdout == \
            "service/web unchanged\n"
        assert srv.kubectl("apply", "-f", "-", stdin=SERVICE_MANIFEST % "NodePort").stdout == \
            "service/web configured\n"
        spec = json.loads(srv.kubectl("get", "svc", "web", "-o", "json").stdout)["spec"]
        assert spec["clusterIP"] == ip and 30000 <= spec["ports"][0]["nodePort"] <= 32767
        replaced = srv.kubectl("replace", "-f", "-", stdin=SERVICE_MANIFEST % "NodePort")  # a PUT without them
        assert replaced.stdout == "service/web replaced\n", replaced.stderr
        kept = json.loads(srv.kubectl("get", "svc", "web", "-o", "json").stdout)["spec"]
        assert (kept["clusterIP"], kept["ports"][0]["nodePort"]) == (ip, spec["ports"][0]["nodePort"])
    finally:
        srv.stop()
    srv = start_server(tmp_path, "--nodes", "0", "--runtime", "simulated", data_dir=data_dir)
    try:
        clash = srv.kubectl("create", "service", "clusterip", "copy", "--tcp=80", f"--clusterip={ip}")
        assert clash.stderr.endswith(f"failed to allocate IP {ip}: provided IP is already allocated\n")
        services = srv.kubectl("get", "svc", "-o", "name").stdout.split()
        assert services == ["service/kubernetes", "service/web"]
    finally:
        srv.stop()


def test_a_full_range_is_a_500_as_upstream():
    api = APIServer(Store(), VirtualClock(), random.Random(0), service_cidr="10.0.0.0/29")  # .1 to .6
    assert spec_of(api, "kubernetes")["clusterIP"] == "10.0.0.1"
    got = {api.create(SERVICES, "default", svc(f"s{i}"))["spec"]["clusterIP"] for i in range(5)}
    assert got == {f"10.0.0.{i}" for i in range(2, 7)}
    with pytest.raises(StatusError) as full:
        api.create(SERVICES, "default", svc("one-more"))
    assert (full.value.code, full.value.message) == (500, "Internal error occurred: failed to allocate a serviceIP: "
                                                          "range is full")
    api.create(SERVICES, "default", svc("headless", cluster_ip="None"))  # needs no address


def test_a_dry_run_update_holds_nothing():
    api = make_api()
    api.create(SERVICES, "default", svc("web"))
    preview = api.patch(SERVICES, "default", "web", "merge",
                        {"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30100}]}}, dry_run=True)
    assert preview["spec"]["ports"][0]["nodePort"] == 30100
    assert "nodePort" not in spec_of(api, "web")["ports"][0]
    api.create(SERVICES, "default", svc("other", "NodePort", ports=[{"port": 80, "nodePort": 30100}]))


# --- EndpointSlices --------------------------------------------------------------------------------------------


def slice_(name: str, address_type: str = "IPv4", addresses: list | None = None, ports: list | None = None) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "labels": {"kubernetes.io/service-name": "web"}}, "addressType": address_type,
            "endpoints": [{"addresses": addresses if addresses is not None else ["10.244.1.2"]}],
            "ports": ports if ports is not None else [{"port": 8080}]}


def test_endpoint_slices_are_defaulted_and_validated_as_upstream():
    api = make_api()
    made = api.create(SLICES, "default", slice_("web-1"))
    assert made["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]
    with pytest.raises(StatusError) as bad:
        api.create(SLICES, "default", slice_("web-2", addresses=["10.0.0.1", "::1"],
                                             ports=[{"name": "a", "port": 1}, {"name": "a", "port": 2,
                                                                                "protocol": "ICMP"}]))
    assert bad.value.message == (
        'EndpointSlice.discovery.k8s.io "web-2" is invalid: [endpoints[0].addresses[1]: Invalid value: "::1": must '
        'be a valid IPv4 address, ports[1].name: Duplicate value: "a", ports[1].protocol: Unsupported value: '
        '"ICMP": supported values: "SCTP", "TCP", "UDP"]')
    with pytest.raises(StatusError, match=r'addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", '
                                          r'"IPv6"'):
        api.create(SLICES, "default", slice_("web-3", "IP"))
    with pytest.raises(StatusError, match="endpoints\\[0\\].addresses: Required value: must contain at least 1 "
                                          "address"):
        api.create(SLICES, "default", slice_("web-4", addresses=[]))
    with pytest.raises(StatusError, match='addressType: Invalid value: "IPv6": field is immutable'):
        api.patch(SLICES, "default", "web-1", "merge", {"addressType": "IPv6", "endpoints": [{"addresses": ["::1"]}]})
    too_many = slice_("web-5")
    too_many["endpoints"] = [{"addresses": [f"10.0.{i // 250}.{i % 250}"]} for i in range(1001)]
    with pytest.raises(StatusError, match="endpoints: Too many: 1001: must have at most 1000 items"):
        api.create(SLICES, "default", too_many)


# --- the invariant: what the allocators hold is exactly what the stored Services use ----------------------------

_ACTIONS = st.lists(st.tuples(st.sampled_from(["create", "delete", "retype"]), st.integers(0, 5),
                              st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]),
                              st.sampled_from([None, 30000, 30001, 30002])), max_size=25)


@settings(max_examples=40, deadline=None)
@given(_ACTIONS)
def test_allocators_hold_exactly_what_stored_services_use(actions):
    api = APIServer(Store(), VirtualClock(), random.Random(0), service_cidr="10.0.0.0/28",
                    node_port_range="30000-30004")
    for verb, n, kind, node_port in actions:
        name = f"s{n}"
        port: dict = {"port": 80} if node_port is None or kind in ("ClusterIP", "ExternalName") else \
            {"port": 80, "nodePort": node_port}
        body = svc(name, kind, ports=[port])
        if kind == "ExternalName":
            body["spec"]["externalName"] = "example.com"
        try:
            if verb == "create":
                api.create(SERVICES, "default", body)
            elif verb == "delete":
                api.delete(SERVICES, "default", name)
            else:
                api.patch(SERVICES, "default", name, "merge", {"spec": {
                    "type": kind, "externalName": "example.com" if kind == "ExternalName" else None}})
        except StatusError:
            pass  # refused writes must leave no trace: checked below
        stored = api.list(SERVICES, None)["items"]
        ips = [s["spec"]["clusterIP"] for s in stored if s["spec"].get("clusterIP") not in (None, "None")]
        ports = [p["nodePort"] for s in stored for p in s["spec"].get("ports") or [] if p.get("nodePort")]
        assert len(ips) == len(set(ips)) and len(ports) == len(set(ports))
        taken_ips = {str(ipaddress.ip_address(api.services.ips.base + i)) for i in api.services.ips.map.taken}
        taken_ports = {api.services.ports.low + i for i in api.services.ports.map.taken}
        assert (taken_ips, taken_ports) == (set(ips), set(ports))

"""Service allocation: the ClusterIPs and node ports the API server hands out.

A Service is a stable address in front of changing pods. The address is not chosen by a
controller after the fact: the API server's Service storage picks it while it writes the
object, so a created Service already carries its ``spec.clusterIP`` (and, for NodePort and
LoadBalancer Services, a ``nodePort`` per port). Two allocators keep track of what is taken:

* the **ClusterIP** allocator, over ``--service-cluster-ip-range`` without its network and
  broadcast addresses;
* the **node port** allocator, over ``--service-node-port-range`` (default 30000-32767).

Both are upstream's bitmap with an offset: the lower band of a range (``min(max(16, size/16),
256)`` addresses, ``min(max(16, size/32), 128)`` ports) is left for static requests such as
the ``kubernetes`` Service's first address or kube-dns' tenth; a random pick looks in the upper
band first and falls back to the lower band only when the upper one is full. The random source
is the API server's seeded generator, so a simulated cluster hands out the same addresses on
every run.

A write either keeps everything it allocated or nothing: :class:`Transaction` records what a
create or update took, ``revert()`` gives it back when the write is refused, and ``commit()``
then releases what the update stopped using (the old node ports, the ClusterIP of a Service
that became ExternalName). Deleting a Service releases its addresses; at start the allocators
are rebuilt from the stored Services (upstream's repair loop, run once).

Interface:
    ServiceAllocator(cidr, node_ports="30000-32767", rng)
        .allocate_create(service) -> Transaction      # fills spec in place; 422 or 500 on failure
        .allocate_update(service, old) -> Transaction
        .release(service);  .restore(services)
    carry_over(service, old)   # what an update keeps from the stored Service (upstream's
                               # patchAllocatedValues and dropTypeDependentFields)
    parse_port_range(text) -> (low, high)

How minik8s differs: one IPv4 range only (no dual stack, no ServiceCIDR or IPAddress objects);
allocation runs after validation rather than before it, so an object that is both invalid and
asks for a taken address reports the validation errors; the allocators are rebuilt once at start
instead of being checked by a repair loop every few minutes.

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any, Callable

from minik8s.api import errors
from minik8s.api.objects import deep_copy
from minik8s.api.validation.printing import go_value

Obj = dict[str, Any]

DEFAULT_NODE_PORT_RANGE = "30000-32767"
_HEADLESS = "None"


class AllocationError(Exception):
    """A requested value cannot be had; the message is upstream's."""


# --- the allocation map ----------------------------------------------------------------------------------


def range_offset(size: int, low: int, high: int, step: int) -> int:
    """How many values at the start of a range are kept for static requests:
    ``min(max(low, size/step), high)``, none for ranges of ``low`` values or fewer."""
    if size <= low:
        return 0
    return min(max(low, size // step), high)


class AllocationMap:
    """Which of ``size`` slots are taken; random picks prefer the slots from ``offset`` on."""

    def __init__(self, size: int, offset: int, rng: random.Random):
        self.size, self.offset, self.rng = size, offset, rng
        self.taken: set[int] = set()

    def allocate(self, index: int) -> bool:
        if index in self.taken:
            return False
        self.taken.add(index)
        return True

    def allocate_next(self) -> int | None:
        if len(self.taken) >= self.size:
            return None
        for first, count in ((self.offset, self.size - self.offset), (0, self.offset)):
            if count <= 0:
                continue
            start = self.rng.randrange(count)
            for step in range(count):
                index = first + (start + step) % count
                if index not in self.taken:
                    self.taken.add(index)
                    return index
        return None

    def release(self, index: int) -> None:
        self.taken.discard(index)


class IPAllocator:
    """ClusterIPs from one CIDR (the network and broadcast addresses are never handed out)."""

    def __init__(self, cidr: str, rng: random.Random):
        self.network = ipaddress.ip_network(cidr, strict=False)
        self.cidr = str(self.network)
        self.base = int(self.network.network_address) + 1
        size = max(self.network.num_addresses - 2, 0)
        self.map = AllocationMap(size, range_offset(self.network.num_addresses, 16, 256, 16), rng)

    def _index(self, ip: str) -> int:
        address = ipaddress.ip_address(ip)
        index = int(address) - self.base
        if address not in self.network or not 0 <= index < self.map.size:
            raise AllocationError(f"the provided IP ({ip}) is not in the valid range. "
                                  f"The range of valid IPs is {self.cidr}")
        return index

    def allocate(self, ip: str) -> None:
        if not self.map.allocate(self._index(ip)):
            raise AllocationError("provided IP is already allocated")

    def allocate_next(self) -> str:
        index = self.map.allocate_next()
        if index is None:
            raise AllocationError("range is full")
        return str(ipaddress.ip_address(self.base + index))

    def release(self, ip: str) -> None:
        try:
            self.map.release(self._index(ip))
        except (AllocationError, ValueError):
            pass  # never ours to give back


class PortAllocator:
    """Node ports from ``low``-``high`` inclusive."""

    def __init__(self, low: int, high: int, rng: random.Random):
        self.low, self.high = low, high
        size = high - low + 1
        self.map = AllocationMap(size, range_offset(size, 16, 128, 32), rng)

    def allocate(self, port: int) -> None:
        if not self.low <= port <= self.high:
            raise AllocationError(f"provided port is not in the valid range. "
                                  f"The range of valid ports is {self.low}-{self.high}")
        if not self.map.allocate(port - self.low):
            raise AllocationError("provided port is already allocated")

    def allocate_next(self) -> int:
        index = self.map.allocate_next()
        if index is None:
            raise AllocationError("range is full")
        return self.low + index

    def release(self, port: int) -> None:
        if self.low <= port <= self.high:
            self.map.release(port - self.low)


def parse_port_range(text: str) -> tuple[int, int]:
    """``30000-32767`` (or a single port) as (low, high); ValueError if it is not a range."""
    low_text, _, high_text = text.strip().partition("-")
    low = int(low_text)
    high = int(high_text) if high_text else low
    if not 0 < low <= high <= 65535:
        raise ValueError(f"invalid port range {text!r}")
    return low, high


# --- what a Service needs ---------------------------------------------------------------------------------


def _spec(service: Obj) -> Obj:
    spec = service.get("spec")
    return spec if isinstance(spec, dict) else {}


def _ports(service: Obj) -> list[Obj]:
    return [p for p in _spec(service).get("ports") or [] if isinstance(p, dict)]


def needs_cluster_ip(service: Obj) -> bool:
    return _spec(service).get("type", "ClusterIP") != "ExternalName"


def needs_node_ports(service: Obj) -> bool:
    return _spec(service).get("type") in ("NodePort", "LoadBalancer")


def _allocates_node_ports(service: Obj) -> bool:
    """Whether ports without a requested nodePort get one (LoadBalancers may opt out)."""
    spec = _spec(service)
    if spec.get("type") == "NodePort":
        return True
    return spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def _needs_health_check_port(service: Obj) -> bool:
    spec = _spec(service)
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def cluster_ip_of(service: Obj) -> str:
    spec = _spec(service)
    ips = spec.get("clusterIPs") or []
    ip = spec.get("clusterIP") or (ips[0] if ips and isinstance(ips[0], str) else "")
    return ip if isinstance(ip, str) else ""


def node_ports_of(service: Obj) -> set[int]:
    found = {p["nodePort"] for p in _ports(service) if isinstance(p.get("nodePort"), int) and p["nodePort"]}
    health = _spec(service).get("healthCheckNodePort")
    if isinstance(health, int) and health:
        found.add(health)
    return found


def carry_over(service: Obj, old: Obj) -> None:
    """Before an update is validated: keep the allocated values a client left out, and drop the
    ones the new type has no use for when the client did not change them (as upstream does, so
    that ``kubectl apply`` of a manifest without clusterIP, or a type change by patch, works)."""
    spec, old_spec = service.get("spec"), _spec(old)
    if not isinstance(spec, dict):
        return
    if needs_cluster_ip(old) and needs_cluster_ip(service):
        if not spec.get("clusterIP") and old_spec.get("clusterIP"):
            spec["clusterIP"] = old_spec["clusterIP"]
        if not spec.get("clusterIPs") and old_spec.get("clusterIPs") and spec["clusterIP"] == cluster_ip_of(old):
            spec["clusterIPs"] = deep_copy(old_spec["clusterIPs"])
    if needs_node_ports(old) and needs_node_ports(service):
        used = {p.get("nodePort") for p in _ports(old)}
        for port in _ports(service):
            if port.get("nodePort"):
                continue
            for old_port in _ports(old):
                if old_port.get("name", "") == port.get("name", "") and old_port.get("nodePort") in used:
                    port["nodePort"] = old_port["nodePort"]
                    used.discard(old_port["nodePort"])
                    break
        if _needs_health_check_port(old) and _needs_health_check_port(service) \
                and not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
    _drop_type_dependent_fields(spec, old_spec, service, old)


def _drop_type_dependent_fields(spec: Obj, old_spec: Obj, service: Obj, old: Obj) -> None:
    if needs_cluster_ip(old) and not needs_cluster_ip(service):
        if cluster_ip_of(service) == cluster_ip_of(old):
            for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(field, None)
        if spec.get("internalTrafficPolicy") == old_spec.get("internalTrafficPolicy"):
            spec.pop("internalTrafficPolicy", None)
    if needs_node_ports(old) and not needs_node_ports(service):
        old_ports = {p.get("nodePort") for p in _ports(old)}
        if all(p.get("nodePort") in old_ports for p in _ports(service)):
            for port in _ports(service):
                port.pop("nodePort", None)
    if _needs_health_check_port(old) and not _needs_health_check_port(service) \
            and spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
        spec.pop("healthCheckNodePort", None)
    if spec.get("type") != "LoadBalancer" and old_spec.get("type") == "LoadBalancer" \
            and spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
        spec.pop("allocateLoadBalancerNodePorts", None)
    if not needs_node_ports(service) and needs_node_ports(old) \
            and spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
        spec.pop("externalTrafficPolicy", None)


# --- transactions -----------------------------------------------------------------------------------------


class Transaction:
    """What one write took (given back by ``revert``) and will free once it is stored (``commit``)."""

    def __init__(self) -> None:
        self.undo: list[Callable[[], None]] = []
        self.on_commit: list[Callable[[], None]] = []

    def revert(self) -> None:
        for step in reversed(self.undo):
            step()
        self.undo, self.on_commit = [], []

    def commit(self) -> None:
        for step in self.on_commit:
            step()
        self.undo, self.on_commit = [], []


def _invalid(service: Obj, path: str, value: Any, message: str) -> errors.StatusError:
    name = (service.get("metadata") or {}).get("name", "")
    cause = errors.FieldError(path, "FieldValueInvalid", f"Invalid value: {go_value(value)}: {message}")
    return errors.invalid("Service", "", name, [cause])


class ServiceAllocator:
    """The ClusterIP and node-port allocators of one API server."""

    def __init__(self, cidr: str, node_ports: str = DEFAULT_NODE_PORT_RANGE, rng: random.Random | None = None):
        rng = rng or random.Random()
        self.ips = IPAllocator(cidr, rng)
        self.ports = PortAllocator(*parse_port_range(node_ports), rng)

    @property
    def cidr(self) -> str:
        return self.ips.cidr

    # --- create and update ---

    def allocate_create(self, service: Obj) -> Transaction:
        txn = Transaction()
        try:
            if needs_cluster_ip(service):
                self._cluster_ip(service, txn)
            if needs_node_ports(service):
                self._node_ports(service, set(), txn)
        except BaseException:
            txn.revert()
            raise
        return txn

    def allocate_update(self, service: Obj, old: Obj) -> Transaction:
        txn = Transaction()
        try:
            old_ip = cluster_ip_of(old) if needs_cluster_ip(old) else ""
            if needs_cluster_ip(service) and not old_ip:
                self._cluster_ip(service, txn)  # e.g. ExternalName -> ClusterIP
            elif old_ip and not needs_cluster_ip(service):
                txn.on_commit.append(lambda: self._release_ip(old_ip))
            old_ports = node_ports_of(old)
            if needs_node_ports(service):
                self._node_ports(service, old_ports, txn)
            kept = node_ports_of(service)
            for port in old_ports - kept:
                txn.on_commit.append(lambda port=port: self.ports.release(port))  # type: ignore[misc]
        except BaseException:
            txn.revert()
            raise
        return txn

    def _release_ip(self, ip: str) -> None:
        if ip and ip != _HEADLESS:
            self.ips.release(ip)

    def _cluster_ip(self, service: Obj, txn: Transaction) -> None:
        spec = service["spec"]
        requested = cluster_ip_of(service)
        if requested == _HEADLESS:
            spec["clusterIP"], spec["clusterIPs"] = _HEADLESS, [_HEADLESS]
            return
        if requested:
            try:
                self.ips.allocate(requested)
            except AllocationError as exc:
                raise _invalid(service, "spec.clusterIPs", [requested],
                               f"failed to allocate IP {requested}: {exc}") from None
        else:
            try:
                requested = self.ips.allocate_next()
            except AllocationError as exc:
                raise errors.internal(f"failed to allocate a serviceIP: {exc}") from None
        txn.undo.append(lambda: self.ips.release(requested))
        spec["clusterIP"], spec["clusterIPs"] = requested, [requested]

    def _take_port(self, service: Obj, port: int, path: str, held: set[int], txn: Transaction) -> None:
        """Allocate a requested node port, unless this Service already held it before the write."""
        if port in held:
            held.discard(port)  # held once; a second user in this write must allocate it anew
            return
        try:
            self.ports.allocate(port)
        except AllocationError as exc:
            raise _invalid(service, path, port, str(exc)) from None
        txn.undo.append(lambda: self.ports.release(port))

    def _next_port(self, txn: Transaction) -> int:
        try:
            port = self.ports.allocate_next()
        except AllocationError as exc:
            raise errors.internal(f"failed to allocate a nodePort: {exc}") from None
        txn.undo.append(lambda: self.ports.release(port))
        return port

    def _node_ports(self, service: Obj, held: set[int], txn: Transaction) -> None:
        """One node port per service port number: a TCP and a UDP port 53 share theirs, as upstream."""
        held = set(held)
        by_number: dict[int, int] = {}
        ports = _ports(service)
        allocate_new = _allocates_node_ports(service)
        for i, port in enumerate(ports):
            number, requested = int(port.get("port") or 0), port.get("nodePort") or 0  # both validated
            path = f"spec.ports[{i}].nodePort"
            if not requested and not allocate_new:
                continue
            shared = by_number.get(number)
            if shared is None:
                requested = requested or next((p["nodePort"] for p in ports[i:] if p.get("port") == number
                                               and p.get("nodePort")), 0)
                if requested:
                    self._take_port(service, requested, path, held, txn)
                else:
                    requested = self._next_port(txn)
                port["nodePort"] = by_number[number] = requested
            elif not requested:
                port["nodePort"] = shared
            elif requested != shared:
                self._take_port(service, requested, path, held, txn)
        spec = service["spec"]
        if _needs_health_check_port(service):
            health = spec.get("healthCheckNodePort") or 0
            if health:
                self._take_port(service, health, "spec.healthCheckNodePort", held, txn)
            else:
                spec["healthCheckNodePort"] = self._next_port(txn)

    # --- delete and restart ---

    def release(self, service: Obj) -> None:
        """A Service is gone: its ClusterIP and node ports are free again."""
        if needs_cluster_ip(service):
            self._release_ip(cluster_ip_of(service))
        for port in node_ports_of(service):
            self.ports.release(port)

    def restore(self, services: list[Obj]) -> None:
        """Mark what the stored Services hold (after a restart); values out of range are ignored."""
        for service in services:
            ip = cluster_ip_of(service) if needs_cluster_ip(service) else ""
            if ip and ip != _HEADLESS:
                try:
                    self.ips.allocate(ip)
                except (AllocationError, ValueError):
                    pass
            for port in node_ports_of(service):
                try:
                    self.ports.allocate(port)
                except AllocationError:
                    pass

"""The network-policy agent: NetworkPolicy made real in the pod network, or a warning where it can't be.

Kubernetes itself enforces no NetworkPolicy: the API server only stores them, and the network plugin
(Calico's Felix, Cilium's agent, kube-router) watches policies, pods and namespaces and programs each
node's packet filter. minik8s does the same with one small component per cluster, next to kube-proxy:

* :class:`NetworkPolicyAgent` for the ``simulated`` runtime: watches NetworkPolicies, Pods and
  Namespaces through the informers and, on any change, rebuilds one snapshot (pods by IP, namespace
  labels, policies) that the simulated pod network consults as its packet filter
  (``SimulatedNetwork.filter``, :mod:`minik8s.kubelet.runtimes.simnet`). The decision itself is the
  pure :func:`minik8s.api.networkpolicy.allowed`; a dropped connection times out in the client.
  Level-triggered, like kube-proxy: one key, one rebuild of everything.
* :class:`NotEnforcedReporter` for the runtimes whose pods share a network minik8s cannot filter (the
  ``process`` runtime's rootless loopback network, Docker's bridge): one Warning event
  ``NetworkPolicyNotEnforced`` on each NetworkPolicy, so that ``kubectl describe networkpolicy`` and
  ``kubectl events`` say so instead of silently letting everything through (one event per policy,
  also across restarts of the server: it looks for its earlier event first).

Cluster DNS runs inside minik8s, not in pods; the agent shows its address to the policies as CoreDNS's
pods look on a real cluster (namespace ``kube-system``, label ``k8s-app=kube-dns``, ports named ``dns``
and ``dns-tcp``), so the usual "allow DNS" egress rules work unchanged. The kubelet's probes do not
cross the filter, as most plugins let a node reach its own pods. Pods that use the host's network
(``hostNetwork``) are no policy's business, as upstream says: they are left out of the snapshot, so
their address counts as one outside the pod network.

Interface:
    agent = NetworkPolicyAgent(ctx, dns_ip)  # network.filter = agent
    agent.admits(client_ip, ip, port, protocol) -> bool
    agent.explain(client_ip, ip, port, protocol) -> Verdict   # which policy allowed or denied (labs)
    NotEnforcedReporter(ctx, runtime)
    NOT_ENFORCED_REASON, not_enforced_message(runtime)
    snapshot(pods, namespaces, policies, dns_ip=None) -> Snapshot   # .peer(ip) -> Peer, for rule writers

Taught in the chapter "Ingress and NetworkPolicy" (issue 18).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.networkpolicy import Peer, Verdict, explain
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Context, Controller

POLICIES = resources.get("networking.k8s.io", "v1", "networkpolicies")
PODS = resources.get("", "v1", "pods")
NAMESPACES = resources.get("", "v1", "namespaces")
EVENTS = resources.get("", "v1", "events")
SYNC = "sync"
AGENT = "network-policy-agent"   # the component named as the source of its events
NOT_ENFORCED_REASON = "NetworkPolicyNotEnforced"
_WHY = {
    "process": "its pods share the machine's loopback network, which minik8s runs without privileges and "
               "without a packet filter",
    "docker": "its pods sit on Docker's bridge network, where minik8s programs no packet filter",
}


def not_enforced_message(runtime: str) -> str:
    why = _WHY.get(runtime, "minik8s programs no packet filter for it")
    return (f"NetworkPolicy is not enforced by the {runtime} runtime: {why}; every pod still reaches every "
            "other pod (the simulated runtime enforces it)")


@dataclass(frozen=True)
class Snapshot:
    """What the packet filter knows: the pods by IP, the namespaces' labels, the policies."""
    pods: Mapping[str, Peer] = field(default_factory=dict)
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    policies: tuple[dict[str, Any], ...] = ()

    def peer(self, ip: str) -> Peer:
        return self.pods.get(ip) or Peer.external(ip)


def _on_pod_network(pod: dict[str, Any]) -> bool:
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    return bool(status.get("podIP")) and not spec.get("hostNetwork") and status.get("phase") not in (
        "Succeeded", "Failed")


def dns_peer(ip: str) -> Peer:
    """Cluster DNS's address, as a CoreDNS pod of a real cluster would be seen."""
    return Peer(ip, "kube-system", {"k8s-app": "kube-dns"}, {"dns": (53, "UDP"), "dns-tcp": (53, "TCP")})


def snapshot(pods: list[dict[str, Any]], namespaces: list[dict[str, Any]], policies: list[dict[str, Any]],
             dns_ip: str | None = None) -> Snapshot:
    peers = {pod["status"]["podIP"]: Peer.pod(pod) for pod in pods if _on_pod_network(pod)}
    if dns_ip:
        peers[dns_ip] = dns_peer(dns_ip)
    return Snapshot(peers,
                    {(ns.get("metadata") or {}).get("name", ""): dict((ns.get("metadata") or {}).get("labels") or {})
                     for ns in namespaces},
                    tuple(policies))


class NetworkPolicyAgent(Controller):
    name = AGENT
    watches = (POLICIES, PODS, NAMESPACES)

    def __init__(self, ctx: Context, dns_ip: str | None = None):
        self.dns_ip = dns_ip
        self.current = Snapshot()
        super().__init__(ctx)
        self.queue.add(SYNC)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        return [SYNC]

    def reconcile(self, key: Any) -> None:
        # One new snapshot swapped in whole: a connection decided meanwhile sees the old rules or the new.
        policies = self.informer(POLICIES).list()
        if not policies:   # nothing isolates anything: skip indexing the pods (big clusters churn them)
            self.current = Snapshot()
            return
        self.current = snapshot(self.informer(PODS).list(), self.informer(NAMESPACES).list(), policies,
                                self.dns_ip)

    def explain(self, client_ip: str, ip: str, port: int, protocol: str = "TCP") -> Verdict:
        now = self.current
        return explain(now.peer(client_ip), now.peer(ip), port, protocol, now.policies, now.namespaces)

    def admits(self, client_ip: str, ip: str, port: int, protocol: str) -> bool:
        return self.explain(client_ip, ip, port, protocol).allowed


class NotEnforcedReporter(Controller):
    """One Warning event on every NetworkPolicy, where the runtime's network cannot enforce it."""
    name = AGENT
    watches = (POLICIES,)

    def __init__(self, ctx: Context, runtime: str):
        self.runtime = runtime
        self._told: set[str] = set()   # uids already warned about
        super().__init__(ctx)

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        policy = self.informer(POLICIES).get(namespace, name)
        uid = (policy or {}).get("metadata", {}).get("uid")
        if policy is None or uid in self._told:
            return
        if not self._already_warned(namespace, uid):   # (by this agent, before the server restarted)
            try:
                self.ctx.recorder.event(policy, "Warning", NOT_ENFORCED_REASON, not_enforced_message(self.runtime),
                                        component=self.name)
            except StatusError as err:
                if err.code != 404:   # 404: the policy's namespace is going away; nothing to tell
                    raise
        self._told.add(uid)

    def _already_warned(self, namespace: str, uid: str) -> bool:
        selector = f"involvedObject.uid={uid},reason={NOT_ENFORCED_REASON}"
        return bool(self.client.list(EVENTS, namespace, field_selector=selector).get("items"))

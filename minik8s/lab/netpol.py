"""Who may talk to whom? NetworkPolicy verdicts and connectivity matrices, for the labs.

``explain("y/a", "x/a", 80)`` reads the pods, namespaces and NetworkPolicies through the lab's
:class:`~minik8s.lab.session.ClusterView` (``kubectl get -o json``) and decides the connection with
:func:`minik8s.api.networkpolicy.explain`, printing which policy allowed it or why it was denied.
``matrix(["x/a", "x/b", ...], 80)`` prints the whole table as upstream's netpol e2e prints it (rows
are sources, columns destinations, ``.`` allowed, ``X`` denied). Against a real cluster the answer is
what the policies say (upstream's semantics); whether its network plugin enforces them is another
matter, which probing with ``kubectl exec ... wget -T 1`` settles.

Interface:
    explain(src, dst, port, protocol="TCP", source=None, show=True) -> Verdict    # src/dst: "ns/pod" or an IP
    matrix(pods, port, protocol="TCP", source=None, show=True) -> dict[(src, dst), bool]
    render(pods, table) -> str

Taught in the chapter "Ingress and NetworkPolicy" (issue 18).
"""

from __future__ import annotations

from minik8s.api.networkpolicy import Peer, Verdict
from minik8s.api.networkpolicy import explain as decide
from minik8s.lab import session as lab_session
from minik8s.lab.session import ClusterView, LabError


class _World:
    """The pods, namespace labels and policies, read once."""

    def __init__(self, source: ClusterView):
        self.pods = source.list("pods", namespace=None)
        self.namespaces = {(ns.get("metadata") or {}).get("name", ""): (ns.get("metadata") or {}).get("labels") or {}
                           for ns in source.list("namespaces", namespace=None)}
        self.policies = source.list("networkpolicies", namespace=None)

    def peer(self, name: str) -> Peer:
        if "/" not in name:
            return Peer.external(name)
        namespace, pod = name.split("/", 1)
        for obj in self.pods:
            meta = obj.get("metadata") or {}
            if meta.get("namespace") == namespace and meta.get("name") == pod:
                return Peer.pod(obj)
        raise LabError(f'pods "{pod}" not found in namespace {namespace}')

    def decide(self, src: str, dst: str, port: int, protocol: str) -> Verdict:
        return decide(self.peer(src), self.peer(dst), port, protocol, self.policies, self.namespaces)


def _source(source: ClusterView | None) -> ClusterView:
    return source if source is not None else lab_session.require().view


def explain(src: str, dst: str, port: int, protocol: str = "TCP", source: ClusterView | None = None,
            show: bool = True) -> Verdict:
    """May ``src`` ("namespace/pod" or an IP) open a connection to ``dst`` on ``port``? And why."""
    verdict = _World(_source(source)).decide(src, dst, port, protocol)
    if show:
        print(f"{src} -> {dst}:{port}/{protocol.upper()}: {verdict}")
    return verdict


def render(pods: list[str], table: dict[tuple[str, str], bool]) -> str:
    lines = ["-\t" + "\t".join(pods)]
    lines += [src + "\t" + "\t".join("." if table[(src, dst)] else "X" for dst in pods) for src in pods]
    return "\n".join(lines)


def matrix(pods: list[str], port: int, protocol: str = "TCP", source: ClusterView | None = None,
           show: bool = True) -> dict[tuple[str, str], bool]:
    """What the policies allow between every pair of ``pods`` ("namespace/pod") on ``port``."""
    world = _World(_source(source))
    table = {(src, dst): world.decide(src, dst, port, protocol).allowed for src in pods for dst in pods}
    if show:
        print(render(pods, table))
    return table


__all__ = ["explain", "matrix", "render"]

"""kube-proxy's kernel back-end (netns mode): the iptables rules of :mod:`.iptables`, programmed for real.

On every sync the service map is rendered as ``iptables-save`` text (upstream's chains: KUBE-SERVICES,
KUBE-SVC-…, KUBE-SEP-…, KUBE-NODEPORTS, KUBE-MARK-MASQ, KUBE-POSTROUTING, the ``statistic``
probabilities), translated by ``iptables-restore-translate`` into nftables commands, and loaded with
one ``nft -f`` in one transaction, so a packet never sees half a ruleset.

Why nftables tables of our own rather than ``iptables-restore --noflush`` into the host's ``nat``
table: chain names are upstream's, so two clusters on one machine (or a real kube-proxy) would write
the same ``KUBE-SERVICES``. Each cluster gets two tables, ``mk8s-<id>-nat`` and ``mk8s-<id>-filter``,
with base chains hooked where iptables' built-in chains are (PREROUTING, OUTPUT, POSTROUTING, INPUT,
FORWARD); ``nft list table ip mk8s-<id>-nat`` shows the same chains and rules ``iptables-save`` would.
Deleting the two tables removes every rule.

One addition: DNATed pod-to-Service traffic that comes back out of a node's bridge is masqueraded,
so that a reply from a pod on the same bridge returns through the host and is un-NATed.

Interface:
    KernelProxier(plan, cluster_cidr)      # plan: minik8s.hostnet.NetworkPlan
    proxier.sync(service_map); proxier.ruleset() -> the nft script last loaded; proxier.stop()

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import logging
from typing import Any, Iterable

from minik8s import hostnet
from minik8s.proxy import iptables
from minik8s.proxy.servicemap import ServicePort

log = logging.getLogger(__name__)

# iptables' built-in chains as nftables base chains: (type, hook, priority).
HOOKS = {
    "nat": {"PREROUTING": ("nat", "prerouting", "dstnat"), "INPUT": ("nat", "input", "100"),
            "OUTPUT": ("nat", "output", "-100"), "POSTROUTING": ("nat", "postrouting", "srcnat")},
    "filter": {"INPUT": ("filter", "input", "filter"), "FORWARD": ("filter", "forward", "filter"),
               "OUTPUT": ("filter", "output", "filter")},
}


def translate(save_text: str, tables: dict[str, str]) -> list[str]:
    """``iptables-save`` text as nft commands, each table renamed (``nat`` -> ``mk8s-<id>-nat``)."""
    out = hostnet.run("iptables-restore-translate", "-f", "/dev/stdin", stdin=save_text)
    # The translator drops ``-p tcp`` from a DNAT rule that matches no port, and nft then refuses
    # the port in ``dnat to ip:port``: put the protocol back (each KUBE-SEP chain has one DNAT rule).
    dnat_proto = {}
    for rule in save_text.splitlines():
        words = rule.split()
        if rule.startswith("-A ") and "DNAT" in words and "-p" in words:
            dnat_proto[words[1]] = words[words.index("-p") + 1]
    lines = []
    for line in out.splitlines():
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if line.startswith("add rule") and " dnat to " in line and "l4proto" not in line and words[4] in dnat_proto:
            line = line.replace(" dnat to ", f" meta l4proto {dnat_proto[words[4]]} dnat to ", 1)
        for old, new in tables.items():
            line = line.replace(f" ip {old} ", f" ip {new} ").replace(f"add table ip {old}", f"add table ip {new}")
            if line == f"add table ip {old}":
                line = f"add table ip {new}"
        lines.append(line)
    return lines


class KernelProxier:
    """The data plane of netns mode: see the module docstring. One per cluster (rules are the host's)."""

    def __init__(self, plan: Any, cluster_cidr: str):
        self.plan = plan
        self.cluster_cidr = cluster_cidr
        self.tables = {t: f"{hostnet.PREFIX}{plan.cluster_id}-{t}" for t in ("nat", "filter")}
        self._tables = hostnet.Tables(*self.tables.values())

    def script(self, service_map: Iterable[ServicePort]) -> str:
        """The nft script that replaces this cluster's tables with the rules for ``service_map``."""
        text = iptables.render(service_map, self.cluster_cidr)
        lines = []
        for table, name in self.tables.items():
            # add-then-delete: removes the table whether or not it exists, in the same transaction
            lines += [f"add table ip {name}", f"delete table ip {name}", f"add table ip {name}"]
            for chain, (kind, hook, priority) in HOOKS[table].items():
                lines.append(f"add chain ip {name} {chain} {{ type {kind} hook {hook} priority {priority}; }}")
        bridges = f'"{hostnet.PREFIX}{self.plan.cluster_id}b*"'
        lines.append(f"add rule ip {self.tables['nat']} POSTROUTING iifname {bridges} oifname {bridges} "
                     "ct status dnat masquerade")
        body = [line for line in translate(text, self.tables) if not line.startswith("add table")]
        builtin = {f"add chain ip {self.tables[t]} {c}" for t in HOOKS for c in HOOKS[t]}
        return "\n".join(lines + [line for line in body if line not in builtin]) + "\n"

    def sync(self, service_map: Iterable[ServicePort]) -> None:
        self._tables.load(self.script(list(service_map)))

    def ruleset(self) -> str:
        return self._tables.script

    def stop(self) -> None:
        self._tables.delete()

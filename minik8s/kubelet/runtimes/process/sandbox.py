"""Pod sandboxes in the process runtime: a pod IP and a pod folder.

A CRI sandbox is what a pod's containers share. Here it is a loopback IP taken from
the node's range (:mod:`.network`) and a folder on disk for the pod's volumes and
containers; there is no pause process. A node that may not bind ports below 1024
moves them up (:func:`.network.port_on_host`); the sandbox keeps a message about it
for the kubelet to record as a pod event, once.

Interface:
    Sandbox(id, uid, ip, pod, folder)            # ready until stop_pod_sandbox
    remapped_ports_messages(pod, ip, offset) -> [(type, reason, message)]

Taught in chapter 2 (the CRI) and chapter 8 (the pod network).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik8s.kubelet.runtimes.process.cgroups import Cgroup


@dataclass
class Sandbox:
    id: str
    uid: str
    ip: str
    pod: dict[str, Any]
    folder: Path
    ready: bool = True
    messages: list[tuple[str, str, str]] = field(default_factory=list)
    cgroup: Cgroup | None = None        # the pod's cgroup (:mod:`.cgroups`); None without cgroups
    netns: str | None = None            # the pod's network namespace (netns mode, :mod:`minik8s.hostnet`)


def remapped_ports_messages(pod: dict[str, Any], ip: str, offset: int) -> list[tuple[str, str, str]]:
    """The event that tells a pod its privileged container ports moved up by ``offset`` (none if none did)."""
    low = sorted({int(p.get("containerPort", 0)) for c in (pod.get("spec") or {}).get("containers") or []
                  for p in c.get("ports") or [] if 0 < int(p.get("containerPort", 0) or 0) < 1024})
    if not low:
        return []
    moved = ", ".join(f"{p} -> {p + offset}" for p in low)
    return [("Normal", "PortsRemapped", (
        f"this node cannot bind ports below 1024 without privileges: on the pod IP {ip}, "
        f"ports {moved} (probes and Services follow)"))]

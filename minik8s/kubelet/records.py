"""What the kubelet remembers about each pod between sync passes, and its back-off constants.

The pod worker (:mod:`minik8s.kubelet.podworker`) and the image puller
(:mod:`minik8s.kubelet.images`) both read and update these records; keeping them here lets
each of the two import the records without importing the other.

Interface:
    PodRecord(uid, start_time, containers)    # .by_name(name), .ids(), .wakes, .sandbox
    ContainerRecord(name, spec, init)          # restart count, back-offs, probe states
    EventFn                                    # event(pod, type, reason, message, container)
    BACKOFF_INITIAL_SECONDS, BACKOFF_MAX_SECONDS, BACKOFF_RESET_SECONDS, SYNC_ERROR_RETRY_SECONDS

Taught in chapter 4 (nodes and the kubelet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from minik8s.kubelet import cri, probes

# Crash-loop and image-pull back-off: upstream's kubelet constants.
BACKOFF_INITIAL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
BACKOFF_RESET_SECONDS = 2 * BACKOFF_MAX_SECONDS   # running fine this long forgets the back-off
# A pod whose sync failed (a bad spec, a runtime error) is retried this much later.
SYNC_ERROR_RETRY_SECONDS = 10.0


# How the worker records an event about a pod: (pod, type, reason, message, container or None).
EventFn = Callable[..., None]


@dataclass
class ContainerRecord:
    """What the kubelet remembers about one container of a pod, across restarts."""
    name: str
    spec: dict[str, Any]
    init: bool
    id: str | None = None            # the current runtime container
    previous_id: str | None = None   # the one before (lastState, logs --previous)
    restart_count: int = 0
    backoff: float = 0.0             # the current crash back-off; 0 until the first restart
    backoff_updated: float = 0.0
    backoff_event_for: str | None = None  # the exited container whose BackOff event was sent
    killed_by_probe: bool = False
    waiting: tuple[str, str] | None = None  # (reason, message) reported while not running
    pulling: bool = False
    pull_backoff: float = 0.0
    pull_backoff_until: float = 0.0
    pull_backoff_event_until: float = -1.0
    pull_wake: float | None = None
    probes: dict[str, probes.ProbeState] = field(default_factory=dict)
    ephemeral: bool = False          # added by ``kubectl debug``: runs once, never restarted, never ready

    @property
    def field_path(self) -> str:
        kind = "initContainers" if self.init else "ephemeralContainers" if self.ephemeral else "containers"
        return f"spec.{kind}{{{self.name}}}"


@dataclass
class PodRecord:
    """What the kubelet remembers about one pod: its containers, sandbox, and when to look again."""
    uid: str
    start_time: float
    containers: list[ContainerRecord]
    sandbox: cri.SandboxInfo | None = None
    initialized: bool = False
    terminal: bool = False          # reached Succeeded/Failed: nothing is restarted any more
    terminating: bool = False       # being deleted: containers were asked to stop
    wakes: list[float] = field(default_factory=list)
    volumes_synced_at: float | None = None   # when the volume sync last wrote the pod's volumes
    evicted: str | None = None      # the eviction manager failed the pod: its message
    disruption: bool = False        # ... with a DisruptionTarget condition (a threshold, not a sizeLimit)

    def by_name(self, name: str) -> ContainerRecord | None:
        return next((c for c in self.containers if c.name == name and not c.init), None) or \
            next((c for c in self.containers if c.name == name), None)

    def ids(self) -> list[str]:
        return [c.id for c in self.containers if c.id]





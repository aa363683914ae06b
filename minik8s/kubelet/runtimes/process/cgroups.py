"""Control groups: the kernel enforces a container's ``resources.limits`` and counts what it uses.

A kubelet gives every pod a cgroup and its container runtime gives every container a child
of it; the kernel then caps memory (the OOM killer acts on a cgroup over its limit), shares
and caps CPU, and keeps the usage figures the metrics pipeline reads. The process runtime
does the same where the machine lets it (root, a writable cgroup filesystem):

=============================== =====================================================
``minik8s/<node>-<cluster>/``   one folder per node of one cluster: ``<cluster>`` is a
                                hash of the node's state folder, so two clusters on one
                                host (or two test runs) never share or reap each other's
``  pod<uid>/``                 the pod: limits are the sum of its containers' (when
                                every container has one), as upstream's pod cgroup
``    <container id>/``         the container: its process joins before it execs its command
=============================== =====================================================

The ``minik8s`` folder is at the root of each hierarchy, as upstream's ``/kubepods``: one
place, whichever cgroup the server is started from, so a restarted server finds what it left.

How upstream's kubelet maps a container's resources (``pkg/kubelet/cm``), and what is written:

============================ ========================== ===================================
resource                     cgroup v1                  cgroup v2
============================ ========================== ===================================
``limits.memory``            ``memory.limit_in_bytes``  ``memory.max`` (+ ``memory.oom.group``)
``limits.cpu`` (milliCPU)    ``cpu.cfs_quota_us`` =     ``cpu.max`` = ``"<quota> 100000"``
                             milliCPU × 100000 / 1000 (at least 1000), ``cpu.cfs_period_us`` = 100000
``requests.cpu`` (milliCPU)  ``cpu.shares`` =           ``cpu.weight`` =
                             milliCPU × 1024 / 1000     1 + (shares - 2) × 9999 / 262142
                             (at least 2)
============================ ========================== ===================================

An OOM kill is read from the cgroup, never guessed from a SIGKILL: v2 ``memory.events``
``oom_kill``, v1 ``memory.oom_control`` ``oom_kill`` (kernels since 4.13), else a SIGKILL
of a cgroup whose usage reached its limit (``memory.failcnt``).

Where cgroups cannot be made (not root, a read-only ``/sys/fs/cgroup``, no memory
controller) or with ``MINIK8S_CGROUPS=none``, :class:`Cgroups` says why
(``reason``) and the runtime falls back: memory limits by polling the container's RSS
(approximate: a fast allocation overshoots before the kill), CPU limits and requests
not applied; each pod with limits gets one ``ResourceLimitsNotEnforced`` warning event.
``RLIMIT_AS`` is not used as a stand-in: it caps address space, not memory, and Python,
Go or Java reserve far more than they touch, so they would fail at start under a limit
their real use never reaches.

Interface:
    Cgroups(node_name, state_dir, owners=None)   .enabled, .version, .reason
        .create_pod(uid, pod) -> Cgroup | None; .create_container(pod_cgroup, id, container) -> Cgroup | None
        .remove(cgroup)   # kills what is left in it, then removes it
        .reap() -> [paths removed]   # this node's pods left by a crashed server; nodes whose server died
        .close()                     # the node stops: its cgroups go
        .not_enforced(pod) -> [str]  # the pod's limits this node cannot enforce; asked_limits(pod) -> [str]
    Cgroup(version, dirs)           .procs_files() ; enter(cgroup, argv) -> argv that joins, then execs
    limits_of(resources) -> Limits ; pod_limits(pod) -> Limits ; cpu_shares / cpu_quota / cpu_weight
    oom_killed(cgroup, exit_code) -> bool
    container_usage(cgroup, pids) -> (cpu_ns, memory_working_set_bytes)

Linux only. Taught in chapter 1 (containers: cgroups) and chapter 4 (Pods: requests and limits).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from minik8s.api import quantity
from minik8s.kubelet.runtimes.process import supervisor

PARENT = "minik8s"             # the folder every minik8s node's cgroups live under
CPU_PERIOD_US = 100_000        # upstream's CFS period (quotaPeriod)
MIN_QUOTA_US = 1_000           # upstream's MinQuotaPeriod
MIN_SHARES, MAX_SHARES = 2, 262_144
SHARES_PER_CPU = 1024
REMOVE_TRIES = 50              # remove(): attempts (20 ms apart) while the kernel finishes killing
CONTROLLERS_V1 = ("memory", "cpu", "cpuacct")


# --- what upstream writes: pure functions -----------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What a container's (or pod's) cgroup is given; None: not limited."""
    memory_bytes: int | None = None
    cpu_quota_us: int | None = None    # per CPU_PERIOD_US
    cpu_shares: int = MIN_SHARES


def cpu_shares(milli_cpu: int) -> int:
    """Upstream's MilliCPUToShares: a CPU request as relative weight (1 CPU = 1024), at least 2."""
    if milli_cpu == 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli_cpu * SHARES_PER_CPU // 1000))


def cpu_quota(milli_cpu: int, period_us: int = CPU_PERIOD_US) -> int | None:
    """Upstream's MilliCPUToQuota: a CPU limit as run time per period (None: no limit)."""
    if milli_cpu == 0:
        return None
    return max(MIN_QUOTA_US, milli_cpu * period_us // 1000)


def cpu_weight(shares: int) -> int:
    """cgroup v2's cpu.weight for v1 shares, as upstream converts them (CpuSharesToCpuWeight)."""
    return 1 + ((shares - 2) * 9999) // 262142


def _amount(values: dict[str, Any], name: str, scale: str) -> int:
    text = values.get(name)
    if text is None or not quantity.is_valid(text):
        return 0
    return quantity.milli(text) if scale == "milli" else quantity.value(text)


def limits_of(resources: dict[str, Any]) -> Limits:
    """A container's cgroup settings from its ``resources`` (requests default to limits, as the API does)."""
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    memory = _amount(limits, "memory", "value")
    request = _amount(requests, "cpu", "milli") if "cpu" in requests else _amount(limits, "cpu", "milli")
    return Limits(memory or None, cpu_quota(_amount(limits, "cpu", "milli")), cpu_shares(request))


def pod_limits(pod: dict[str, Any]) -> Limits:
    """The pod cgroup's settings (upstream's ResourceConfigForPod): each resource is the larger of the
    app containers' sum and the largest init container's; a limit only when every container has one."""
    spec = pod.get("spec") or {}
    apps = [c.get("resources") or {} for c in spec.get("containers") or []]
    inits = [c.get("resources") or {} for c in spec.get("initContainers") or []]

    def total(kind: str, name: str, scale: str) -> int:
        def one(r: dict[str, Any]) -> int:
            values = r.get(kind) or {}
            if kind == "requests" and name not in values:
                values = r.get("limits") or {}
            return _amount(values, name, scale)
        return max(sum(one(r) for r in apps), max((one(r) for r in inits), default=0))

    every = apps + inits

    def limited(name: str) -> bool:
        return bool(every) and all(name in (r.get("limits") or {}) for r in every)

    memory = total("limits", "memory", "value") if limited("memory") else 0
    cpu = total("limits", "cpu", "milli") if limited("cpu") else 0
    return Limits(memory or None, cpu_quota(cpu), cpu_shares(total("requests", "cpu", "milli")))


def asked_limits(pod: dict[str, Any]) -> list[str]:
    """What a pod's containers ask the kernel to enforce: ``limits.cpu``, ``limits.memory``, ``requests.cpu``
    (a memory request only weighs in scheduling and eviction)."""
    spec = pod.get("spec") or {}
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return sorted({f"{kind}.{name}" for c in containers for kind in ("limits", "requests")
                   for name in ((c.get("resources") or {}).get(kind) or {})
                   if name == "cpu" or (name, kind) == ("memory", "limits")})


# --- the cgroup filesystem --------------------------------------------------------------------


@dataclass(frozen=True)
class Cgroup:
    """One cgroup: its folder per controller (v1: one hierarchy each; v2: the same folder for all)."""
    version: int
    dirs: dict[str, Path] = field(default_factory=dict)

    def procs_files(self) -> list[Path]:
        """Where a process writes its pid to join (one ``cgroup.procs`` per distinct folder)."""
        return [d / "cgroup.procs" for d in sorted(set(self.dirs.values()))]

    def child(self, name: str) -> Cgroup:
        return Cgroup(self.version, {c: d / name for c, d in self.dirs.items()})


def _read(path: Path, limit: int = 65536) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(limit)
    except OSError:
        return ""


def _keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file (``memory.stat``, ``memory.events``, ``cpu.stat``) as numbers."""
    values = {}
    for line in _read(path).splitlines():
        key, _, number = line.partition(" ")
        if number.strip().lstrip("-").isdigit():
            values[key] = int(number)
    return values


def _number(path: Path) -> int | None:
    text = _read(path).strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _write(path: Path, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


def _mounts() -> tuple[dict[str, Path], Path | None]:
    """(v1 controller -> mount point, v2 mount point) from /proc/self/mounts."""
    v1: dict[str, Path] = {}
    v2 = None
    for line in _read(Path("/proc/self/mounts"), 1 << 20).splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        where, kind, options = Path(fields[1].replace("\\040", " ")), fields[2], fields[3].split(",")
        if kind == "cgroup":
            for option in options:
                if option in CONTROLLERS_V1:
                    v1.setdefault(option, where)
        elif kind == "cgroup2" and v2 is None:
            v2 = where
    return v1, v2


def _discover() -> tuple[Cgroup | None, str]:
    """The parent cgroup (``.../minik8s``) to make nodes under, or why there is none."""
    if os.environ.get("MINIK8S_CGROUPS", "auto").lower() == "none":
        return None, "MINIK8S_CGROUPS=none"
    v1, v2 = _mounts()
    if "memory" in v1:
        return Cgroup(1, {c: v1[c] / PARENT for c in CONTROLLERS_V1 if c in v1}), ""
    if v2 is not None and "memory" in _read(v2 / "cgroup.controllers").split():
        return Cgroup(2, {c: v2 / PARENT for c in CONTROLLERS_V1}), ""
    return None, "no cgroup memory controller is mounted"


def _enable_v2(folder: Path) -> None:
    """Let a v2 cgroup's children use the memory and cpu controllers."""
    wanted = [c for c in ("memory", "cpu") if c in _read(folder / "cgroup.controllers").split()]
    if wanted:
        _write(folder / "cgroup.subtree_control", " ".join(f"+{c}" for c in wanted))


def _apply(cgroup: Cgroup, limits: Limits) -> None:
    if cgroup.version == 1:
        if limits.memory_bytes is not None and "memory" in cgroup.dirs:
            _write(cgroup.dirs["memory"] / "memory.limit_in_bytes", str(limits.memory_bytes))
        if "cpu" in cgroup.dirs:
            _write(cgroup.dirs["cpu"] / "cpu.shares", str(limits.cpu_shares))
            if limits.cpu_quota_us is not None:
                _write(cgroup.dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                _write(cgroup.dirs["cpu"] / "cpu.cfs_quota_us", str(limits.cpu_quota_us))
        return
    folder = cgroup.dirs["memory"]
    if limits.memory_bytes is not None:
        _write(folder / "memory.max", str(limits.memory_bytes))
    if (folder / "memory.oom.group").exists():
        _write(folder / "memory.oom.group", "1")   # upstream: the OOM killer takes the whole container
    if (folder / "cpu.max").exists():
        quota = "max" if limits.cpu_quota_us is None else str(limits.cpu_quota_us)
        _write(folder / "cpu.max", f"{quota} {CPU_PERIOD_US}")
        _write(folder / "cpu.weight", str(cpu_weight(limits.cpu_shares)))


def _procs(cgroup: Cgroup) -> set[int]:
    found: set[int] = set()
    for path in cgroup.procs_files():
        found |= {int(p) for p in _read(path, 1 << 20).split() if p.isdigit()}
    return found


def _children(cgroup: Cgroup) -> list[str]:
    """The names of a cgroup's child cgroups (in any of its hierarchies)."""
    names = set()
    for folder in cgroup.dirs.values():
        try:
            names |= {p.name for p in folder.iterdir() if p.is_dir()}
        except OSError:
            pass   # gone meanwhile, or never made in this hierarchy
    return sorted(names)


def _kill_and_remove(cgroup: Cgroup) -> None:
    """SIGKILL every process left in the cgroup (and its children), then remove the folders, leaves first."""
    for name in _children(cgroup):
        _kill_and_remove(cgroup.child(name))
    kill_file = cgroup.dirs.get("memory", Path("/nonexistent")) / "cgroup.kill"
    for attempt in range(REMOVE_TRIES):
        if cgroup.version == 2 and kill_file.exists():
            try:
                _write(kill_file, "1")
            except OSError:
                pass
        for pid in _procs(cgroup):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        busy = False
        for folder in sorted(set(cgroup.dirs.values())):
            try:
                folder.rmdir()
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    return   # not ours to remove (a read-only or foreign hierarchy): leave it
                busy = True
        if not busy:
            return
        time.sleep(0.02)   # the kernel is still tearing down the killed processes


class Cgroups:
    """One node's cgroups: ``minik8s/<node>-<cluster>/pod<uid>/<container id>``; see the module docstring."""

    def __init__(self, node_name: str, state_dir: Path, owners: Path | None = None):
        cluster = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:10]
        self.name = f"{node_name}-{cluster}"
        self.node: Cgroup | None = None
        self._owners = owners
        parent, self.reason = _discover()
        if parent is None:
            return
        self._parent = parent
        node = parent.child(self.name)
        try:
            for folder in sorted(set(parent.dirs.values())):
                folder.mkdir(exist_ok=True)
            if parent.version == 2:
                _enable_v2(parent.dirs["memory"].parent)
                _enable_v2(parent.dirs["memory"])
            for folder in sorted(set(node.dirs.values())):
                folder.mkdir(parents=True, exist_ok=True)   # again, if the last node left just now
            if parent.version == 2:
                _enable_v2(node.dirs["memory"])
            if owners is not None:
                owners.mkdir(parents=True, exist_ok=True)
                record = {"owner": os.getpid(), "owner_start": supervisor.start_ticks(os.getpid())}
                (owners / f"{self.name}.json").write_text(json.dumps(record))
        except OSError as exc:
            self.reason = f"cannot create cgroups under {parent.dirs['memory']}: {exc.strerror or exc}"
            return
        self.node = node

    @property
    def enabled(self) -> bool:
        return self.node is not None

    @property
    def version(self) -> int:
        return self.node.version if self.node is not None else 0

    def not_enforced(self, pod: dict[str, Any]) -> list[str]:
        """The limits a pod asks for that this node does not enforce, e.g. ``["limits.cpu"]``."""
        have = set(self.node.dirs) if self.node is not None else set()
        return [a for a in asked_limits(pod) if a.split(".")[1] not in have]

    def create_pod(self, uid: str, pod: dict[str, Any]) -> Cgroup | None:
        if self.node is None:
            return None
        cgroup = self.node.child(f"pod{uid}")
        self._make(cgroup, pod_limits(pod))
        if cgroup.version == 2:
            _enable_v2(cgroup.dirs["memory"])
        return cgroup

    def create_container(self, pod_cgroup: Cgroup | None, container_id: str,
                         container: dict[str, Any]) -> Cgroup | None:
        if pod_cgroup is None:
            return None
        cgroup = pod_cgroup.child(container_id)
        self._make(cgroup, limits_of(container.get("resources") or {}))
        return cgroup

    @staticmethod
    def _make(cgroup: Cgroup, limits: Limits) -> None:
        for folder in sorted(set(cgroup.dirs.values())):
            folder.mkdir(exist_ok=True)
        _apply(cgroup, limits)

    @staticmethod
    def remove(cgroup: Cgroup | None) -> None:
        """Kill whatever is left in the cgroup, then remove it (it may already be gone)."""
        if cgroup is not None:
            _kill_and_remove(cgroup)

    def close(self) -> None:
        """The node stops: remove its cgroups (their processes killed first)."""
        if self.node is not None:
            _kill_and_remove(self.node)
            for folder in set(self._parent.dirs.values()):
                try:
                    folder.rmdir()   # the last node of the machine leaves no trace
                except OSError:
                    pass             # other nodes still use it
            if self._owners is not None:
                (self._owners / f"{self.name}.json").unlink(missing_ok=True)

    def reap(self) -> list[Path]:
        """Remove what crashed servers left: this node's pod cgroups, and the whole node cgroup of any
        node whose owner record (``owners``: one per node, naming the process that made it) names a
        process that is gone (a temporary cluster is never started again). Processes are killed first."""
        if self.node is None:
            return []
        removed = []
        for name in [n for n in _children(self.node) if n.startswith("pod")]:
            _kill_and_remove(self.node.child(name))
            removed.append(self.node.dirs["memory"] / name)
        for path in sorted(self._owners.glob("*.json")) if self._owners is not None else []:
            try:
                record = json.loads(path.read_text())
                owner, started = int(record["owner"]), record.get("owner_start")
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if path.stem == self.name or supervisor.start_ticks(owner) == started:
                continue   # ours, or a live server's
            _kill_and_remove(self._parent.child(path.stem))
            path.unlink(missing_ok=True)
            removed.append(self._parent.dirs["memory"] / path.stem)
        return removed


def enter(cgroup: Cgroup | None, argv: list[str]) -> list[str]:
    """``argv`` run by a shell that first moves itself into the cgroup, so the command (and all it
    forks) starts inside: nothing it does escapes, not even in its first microseconds."""
    if cgroup is None:
        return argv
    files = [str(p) for p in cgroup.procs_files()]
    script = ('n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || { echo "cannot join cgroup $1" >&2; '
              'exit 128; }; shift; n=$((n - 1)); done; exec "$@"')
    return ["/bin/sh", "-c", script, "sh", str(len(files)), *files, *argv]


def oom_killed(cgroup: Cgroup | None, exit_code: int | None) -> bool:
    """Did the kernel's OOM killer act in this container's cgroup (read once its process exited)?"""
    if cgroup is None or "memory" not in cgroup.dirs:
        return False
    folder = cgroup.dirs["memory"]
    if cgroup.version == 2:
        return _keyed(folder / "memory.events").get("oom_kill", 0) > 0
    control = _keyed(folder / "memory.oom_control")
    if "oom_kill" in control:
        return control["oom_kill"] > 0
    # Kernels before 4.13 do not count OOM kills: a SIGKILL of a cgroup that hit its limit is one.
    return exit_code == 128 + signal.SIGKILL and (_number(folder / "memory.failcnt") or 0) > 0


def container_usage(cgroup: Cgroup | None, pids: Iterable[int] = ()) -> tuple[int, int]:
    """(CPU used since the container started, in nanoseconds; its memory working set, in bytes).

    The working set is what the kubelet reports and evicts on: usage minus inactive file pages
    (page cache the kernel can drop). From the cgroup: v1 ``cpuacct.usage`` and
    ``memory.usage_in_bytes`` - ``total_inactive_file``; v2 ``cpu.stat`` ``usage_usec`` and
    ``memory.current`` - ``inactive_file``. Without a cgroup, from ``/proc`` for ``pids`` (the
    container's processes): utime + stime and RSS, summed; the CPU of processes that already
    exited is then lost, so that figure can drop.
    """
    if cgroup is not None and "memory" in cgroup.dirs:
        memory_dir, cpu_dir = cgroup.dirs["memory"], cgroup.dirs.get("cpuacct", cgroup.dirs["memory"])
        if cgroup.version == 2:
            cpu_ns = _keyed(cpu_dir / "cpu.stat").get("usage_usec", 0) * 1000
            used = _number(memory_dir / "memory.current") or 0
            inactive = _keyed(memory_dir / "memory.stat").get("inactive_file", 0)
        else:
            cpu_ns = (_number(cpu_dir / "cpuacct.usage") or 0) if "cpuacct" in cgroup.dirs else 0
            used = _number(memory_dir / "memory.usage_in_bytes") or 0
            inactive = _keyed(memory_dir / "memory.stat").get("total_inactive_file", 0)
        return cpu_ns, max(used - inactive, 0)
    pids = list(pids)
    return int(supervisor.cpu_seconds(pids) * 1_000_000_000), supervisor.rss_bytes(pids)

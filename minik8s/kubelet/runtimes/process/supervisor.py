"""Processes as containers: start, signal, measure and clean up a container's process tree.

Each container's main process starts in a new session (``start_new_session=True``),
so it and everything it forks share one session and process group whose id is the
main process's pid. That group is how the runtime signals and measures the container
(its cgroup, :mod:`.cgroups`, is what limits it where the machine allows one):

* **stop**: SIGTERM to the group; SIGKILL to the group when the grace period ends;
* **exit**: when the main process exits, whatever it left behind in its session is
  killed, as a container's processes die with its PID 1;
* **memory**: the RSS of every process of the session, summed; without a cgroup, over
  the limit the runtime kills the group (``OOMKilled``, exit code 137), as the kernel's
  OOM killer does to a cgroup over ``memory.max``;
* **CPU**: utime + stime of the session's processes from ``/proc/<pid>/stat``.

A pid file per running container (``<run dir>/<container id>.json``) names the
process *and* the runtime that owns it, each with its start time (so a reused pid is
never mistaken for ours). ``reap_orphans`` kills the containers of runtimes that died
without cleaning up (a crashed notebook kernel), and leaves live runtimes alone.

Interface:
    session_pids(sid) -> [pid]; rss_bytes(pids); cpu_seconds(pids)
    sessions() -> {sid: [(pid, stat fields)]}; usage(processes) -> (cpu ns, rss bytes)   # the Summary API's
    kill_session(sid, signal, spare=, table=); start_ticks(pid); process_uid(pid); process_table() -> {pid: (ppid, start ticks)}
    exited(pid) -> bool                       # a child has exited: looked at without reaping it
    PidFiles(run_dir).write(cid, pid) / .remove(cid) / .reap_orphans() -> killed pids

Linux only (``/proc``). Taught in chapter 5 (Pods: container life cycle) and chapter 11 (resources).
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:   # os.open and os.read: a scrape reads every process's stat, and pathlib's overhead adds up
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        try:
            text = os.read(fd, 4096).decode(errors="replace")
        finally:
            os.close(fd)
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): with the pid, a unique name for a process."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def _live() -> list[tuple[int, list[str]]]:
    """(pid, stat fields) of every live process (zombies excluded)."""
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return []  # no /proc: not Linux
    found = []
    for entry in entries:
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields and fields[0] != "Z":
                found.append((int(entry.name), fields))
    return found


def sessions() -> dict[int, list[tuple[int, list[str]]]]:
    """Every live process, (pid, stat fields), by session id: one pass over /proc for many containers."""
    found: dict[int, list[tuple[int, list[str]]]] = {}
    for pid, fields in _live():
        found.setdefault(int(fields[3]), []).append((pid, fields))
    return found


def usage(processes: list[tuple[int, list[str]]]) -> tuple[int, int]:
    """(CPU nanoseconds, resident bytes) of processes read by :func:`sessions`: utime + stime and what
    they waited for of their children (cutime + cstime), and the resident set."""
    ticks = sum(int(f[11]) + int(f[12]) + int(f[13]) + int(f[14]) for _, f in processes)
    return ticks * 1_000_000_000 // CLOCK_TICKS, sum(int(f[21]) for _, f in processes) * PAGE_SIZE


def session_pids(sid: int) -> list[int]:
    """Every live process of the session ``sid`` (zombies excluded)."""
    return [pid for pid, fields in _live() if int(fields[3]) == sid]


def process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, start ticks) of every live process."""
    return {pid: (int(fields[1]), int(fields[19])) for pid, fields in _live()}


def rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[21]) * PAGE_SIZE
    return total


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def process_uid(pid: int) -> int | None:
    """The real uid a process runs as, on the host."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def exited(pid: int) -> bool:
    """Whether our child ``pid`` has exited, without reaping it. Until it is reaped its pid, which names
    its process group and session, cannot be given to another process: signal the group first, then
    reap (``Popen.poll``), never the other way round. False for a child already reaped."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return False


def kill_session(sid: int, sig: int, spare: frozenset[int] = frozenset(),
                 table: dict[int, list[tuple[int, list[str]]]] | None = None) -> None:
    """Signal the container's process group, and any process of its session that left the group.
    ``sid`` must be a process not yet reaped (:func:`exited`): a reaped one's number may be another's.

    ``spare``: processes not to signal (a contained container's bwrap processes, which would
    otherwise die of a SIGTERM meant for the container and take it with them at once).
    ``table``: what :func:`sessions` read, for a caller that signals many sessions at once (one pass
    over ``/proc`` for all of them rather than one per container)."""
    if not spare:
        try:
            os.killpg(sid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for pid in (session_pids(sid) if table is None else [pid for pid, _ in table.get(sid, ())]):
        if pid in spare:
            continue
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class PidFiles:
    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.owner = os.getpid()
        self.owner_start = start_ticks(self.owner)

    def write(self, container_id: str, pid: int) -> None:
        record = {"pid": pid, "start": start_ticks(pid), "owner": self.owner, "owner_start": self.owner_start}
        path = self.run_dir / f"{container_id}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        os.replace(temporary, path)

    def remove(self, container_id: str) -> None:
        (self.run_dir / f"{container_id}.json").unlink(missing_ok=True)

    def reap_orphans(self) -> list[int]:
        """Kill the process groups of containers whose runtime is gone; returns their pids."""
        killed = []
        for path in self.run_dir.glob("*.json"):
            try:
                record = json.loads(path.read_text())
                pid, owner = int(record["pid"]), int(record["owner"])
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if start_ticks(owner) == record.get("owner_start") and owner != self.owner:
                continue  # a live runtime (another cluster) owns it
            if owner == self.owner and start_ticks(owner) == record.get("owner_start"):
                continue  # ours, still running
            if start_ticks(pid) == record.get("start"):
                kill_session(pid, signal.SIGKILL)
                killed.append(pid)
            path.unlink(missing_ok=True)
        return killed

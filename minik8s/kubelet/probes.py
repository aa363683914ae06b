"""Probes: how the kubelet decides a container is started, alive and ready.

Each container may declare three probes, each an ``exec`` command, an
``httpGet``, a ``tcpSocket`` or a ``grpc`` check:

* **startup** runs first; until it succeeds the other two do not run. If it fails
  ``failureThreshold`` times in a row the container is killed and restarted.
* **liveness** starts as success; ``failureThreshold`` consecutive failures kill
  the container (``Killing``: ``Container c failed liveness probe, will be
  restarted``) and the restart policy brings it back, with ``restartCount`` + 1.
* **readiness** starts as failure (not ready until the first success); it flips
  after ``successThreshold`` consecutive successes or ``failureThreshold``
  consecutive failures, and never restarts anything: it only takes the pod out of
  Service endpoints.

Every failed probe run records a ``Warning Unhealthy`` event such as
``Liveness probe failed: HTTP probe failed with statuscode: 500``.

Timing is exact: a probe first runs ``initialDelaySeconds`` after the container
started, then every ``periodSeconds``. The kubelet asks :meth:`ProbeState.due` and
requeues the pod for that instant (no timers, no sleeps).

Interface:
    states = new_probes(container_spec, started_at)        # {"startup"|"liveness"|"readiness": ProbeState}
    outcome = run(runtime, ip, container_spec, container_id, probe)  # -> Outcome(ok, message)
    changed = state.record(outcome)                         # applies thresholds; True when the result flipped

Taught in chapter 5 (Pods: health checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minik8s.kubelet import cri
from minik8s.kubelet.runtimes.simulated import resolve_port

KINDS = {"startup": "startupProbe", "liveness": "livenessProbe", "readiness": "readinessProbe"}
# Where each probe's result starts, before its first run (upstream's initial values).
INITIAL_RESULT = {"startup": False, "liveness": True, "readiness": False}


@dataclass(frozen=True)
class Outcome:
    """One probe run: ``ok`` is None when the probe could not run at all (unknown)."""
    ok: bool | None
    message: str = ""


@dataclass
class ProbeState:
    kind: str                 # startup, liveness or readiness
    probe: dict[str, Any]
    next_due: float
    result: bool
    last: bool | None = None  # the last run's outcome, to count runs in a row
    run: int = 0              # consecutive runs with the same outcome
    on_hold: bool = False     # a liveness/startup failure killed the container: stop probing it

    @property
    def period(self) -> float:
        return float(self.probe.get("periodSeconds") or 10)

    def due(self) -> float | None:
        return None if self.on_hold or (self.kind == "startup" and self.result) else self.next_due

    def advance(self, now: float) -> None:
        """Move to the next period boundary after ``now`` (a late run does not shift the grid)."""
        while self.next_due <= now:
            self.next_due += self.period

    def record(self, outcome: Outcome) -> bool:
        """Apply thresholds to a run; returns True when the probe's result changed."""
        if outcome.ok is None:
            return False
        if outcome.ok == self.last:
            self.run += 1
        else:
            self.last, self.run = outcome.ok, 1
        threshold = int(self.probe.get("successThreshold") or 1) if outcome.ok \
            else int(self.probe.get("failureThreshold") or 3)
        if self.run < threshold:
            return False
        changed = self.result != outcome.ok
        self.result = outcome.ok
        if not outcome.ok and self.kind in ("liveness", "startup"):
            self.on_hold, self.run = True, 0
        return changed


def new_probes(container: dict[str, Any], started_at: float) -> dict[str, ProbeState]:
    states: dict[str, ProbeState] = {}
    for kind, field in KINDS.items():
        probe = container.get(field)
        if isinstance(probe, dict):
            first = started_at + float(probe.get("initialDelaySeconds") or 0)
            states[kind] = ProbeState(kind, probe, first, INITIAL_RESULT[kind])
    return states


def run(runtime: cri.ContainerRuntime, ip: str, container: dict[str, Any], container_id: str,
        probe: dict[str, Any]) -> Outcome:
    """Run one probe against a container through the runtime."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    if isinstance(probe.get("exec"), dict):
        return _exec(runtime, container_id, list(probe["exec"].get("command") or []), timeout)
    if isinstance(probe.get("httpGet"), dict):
        return _http(runtime, ip, container, probe["httpGet"], timeout)
    if isinstance(probe.get("tcpSocket"), dict):
        target = probe["tcpSocket"]
        port = resolve_port(container, target.get("port"))
        host = target.get("host") or ip
        if port is None:
            return Outcome(False, f"unable to resolve port {target.get('port')!r}")
        if runtime.probe_tcp(host, port, timeout):
            return Outcome(True)
        return Outcome(False, f"dial tcp {host}:{port}: connect: connection refused")
    if isinstance(probe.get("grpc"), dict):
        target = probe["grpc"]
        try:
            ok = runtime.probe_grpc(ip, int(target.get("port") or 0), str(target.get("service") or ""), timeout)
        except NotImplementedError as exc:
            return Outcome(None, str(exc))
        port = target.get("port")
        return Outcome(True) if ok else Outcome(False, f'timeout: failed to connect service "{ip}:{port}" within '
                                                       f'{go_seconds(timeout)}: context deadline exceeded')
    return Outcome(None, "probe has no handler")


def _exec(runtime: cri.ContainerRuntime, container_id: str, command: list[str], timeout: float) -> Outcome:
    try:
        result = runtime.exec_sync(container_id, command, timeout)
    except TimeoutError:
        return Outcome(False, f'command "{" ".join(command)}" timed out')
    except cri.ExecStartError as exc:
        # Upstream: the CRI call fails, the probe "errored" and its result is thrown away.
        return Outcome(None, f"rpc error: code = Unknown desc = {exc}")
    except cri.RuntimeCallError as exc:
        return Outcome(None, str(exc))
    if result.exit_code == 0:
        return Outcome(True)
    output = (result.stdout + result.stderr).strip()
    return Outcome(False, output or f'command "{" ".join(command)}" exited with {result.exit_code}')


def _http(runtime: cri.ContainerRuntime, ip: str, container: dict[str, Any], target: dict[str, Any],
          timeout: float) -> Outcome:
    port = resolve_port(container, target.get("port"))
    if port is None:
        return Outcome(False, f"unable to resolve port {target.get('port')!r}")
    host = target.get("host") or ip
    headers = {str(h.get("name")): str(h.get("value")) for h in target.get("httpHeaders") or []
               if isinstance(h, dict)}
    try:
        code = runtime.probe_http(host, port, str(target.get("path") or "/"), str(target.get("scheme") or "HTTP"),
                                  headers, timeout)
    except cri.ProbeError as exc:
        return Outcome(False, str(exc))
    # Upstream counts any 2xx and 3xx answer as success.
    if 200 <= code < 400:
        return Outcome(True)
    return Outcome(False, f"HTTP probe failed with statuscode: {code}")


def go_seconds(seconds: float) -> str:
    return f"{seconds:g}s"

"""The pod worker: how the kubelet turns one pod's spec into running containers.

Upstream's kubelet gives every pod a worker that runs ``SyncPod`` again and again; each
pass compares the pod's spec with what the container runtime reports and takes one step
towards it. This module is that pass, for one pod at a time:

1. ``deletionTimestamp`` set: stop every container with the grace period (SIGTERM,
   SIGKILL when it runs out), then delete the pod for good (grace 0);
2. otherwise create the sandbox (the pod IP), run the init containers one at a time,
   each to completion, then have the image puller (:mod:`minik8s.kubelet.images`) pull
   images and start every app container; restart exited containers per
   ``restartPolicy`` with the CrashLoopBackOff back-off (10 s doubling to 5 min, reset
   after 10 min of running); run due probes (:mod:`minik8s.kubelet.probes`), killing a
   container whose liveness or startup probe failed; start the ephemeral containers
   ``kubectl debug`` added (once each, never restarted, reported apart);
3. build the pod's status from what it observed (the rules are in
   :mod:`minik8s.kubelet.status`) and write it if it changed.

Invariants: a pass never blocks and never sleeps: every wait (a back-off, a pull, a
probe, a container still stopping) is an instant appended to ``record.wakes``, and the
kubelet requeues the pod for the earliest one. The worker remembers across passes only
what the API cannot tell it (restart counts, back-offs, probe results) in a
:class:`PodRecord`.

Interface (driven by :class:`minik8s.kubelet.kubelet.Kubelet`):
    worker = PodWorker(runtime, clock, client, event, images, node_index)
    deleted = worker.sync(pod, record)     # one pass; True once the pod was deleted for good
    worker.teardown(record)                # the pod is gone from the API: kill everything now
    worker.container_status(pod, record, c, default) -> a containerStatuses entry

Taught in chapter 4 (nodes and the kubelet) and chapter 5 (Pods: restarts, back-off, probes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.objects import deep_copy
from minik8s.clock import Clock, rfc3339
from minik8s.kubelet import cri, node as nodes, probes
from minik8s.kubelet.records import (BACKOFF_INITIAL_SECONDS, BACKOFF_MAX_SECONDS, BACKOFF_RESET_SECONDS,
                                     SYNC_ERROR_RETRY_SECONDS, ContainerRecord, EventFn, PodRecord)
from minik8s.kubelet.status import go_duration, pod_conditions, pod_phase, running, terminated, waiting

if TYPE_CHECKING:
    from minik8s.kubelet.images import ImagePuller

PODS = resources.get("", "v1", "pods")
assert PODS is not None

CONFIG_ERROR = "CreateContainerConfigError"
# How often the kubelet writes a running pod's ConfigMap, Secret and projected volumes again, so that an
# edited ConfigMap reaches its files. Upstream: the sync period (1 min) plus the object cache's TTL; shorter
# here so that a lab sees it happen. Environment variables are never updated: they are read at start.
VOLUME_RESYNC_SECONDS = 10.0
_UPDATED_VOLUMES = ("configMap", "secret", "downwardAPI", "projected")

def _add_ephemeral_containers(pod: dict[str, Any], record: PodRecord) -> None:
    """Containers ``kubectl debug`` added to the running pod (``spec.ephemeralContainers`` only grows)."""
    known = {c.name for c in record.containers if c.ephemeral}
    for spec in (pod.get("spec") or {}).get("ephemeralContainers") or []:
        if isinstance(spec, dict) and str(spec.get("name")) not in known:
            record.containers.append(ContainerRecord(str(spec.get("name")), spec, False, ephemeral=True))


def _has_updated_volumes(pod: dict[str, Any]) -> bool:
    return any(kind in volume for volume in (pod.get("spec") or {}).get("volumes") or [] if isinstance(volume, dict)
               for kind in _UPDATED_VOLUMES)


def _with_disruption_target(conditions: list[dict[str, Any]], message: str, now: float) -> list[dict[str, Any]]:
    """Upstream 1.32's kubelet marks a pod it evicts: DisruptionTarget, reason TerminationByKubelet."""
    old = next((c for c in conditions if c.get("type") == "DisruptionTarget"), None)
    if old is not None and old.get("reason") == "TerminationByKubelet":
        return conditions
    condition = {"type": "DisruptionTarget", "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": rfc3339(now), "reason": "TerminationByKubelet", "message": message}
    return [c for c in conditions if c.get("type") != "DisruptionTarget"] + [condition]


class PodWorker:
    """Runs one pass of SyncPod for a pod: see the module docstring."""

    def __init__(self, runtime: cri.ContainerRuntime, clock: Clock, client: Any, event: EventFn,
                 images: ImagePuller, node_index: int):
        self.runtime = runtime
        self.clock = clock
        self.client = client
        self.event = event
        self.images = images
        self.node_index = node_index

    def sync(self, pod: dict[str, Any], record: PodRecord) -> bool:
        """One pass of upstream's SyncPod; True when the pod was deleted for good (forget its record)."""
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return self._terminate(pod, record)
        if not record.terminal:
            if record.sandbox is None:
                record.sandbox = self.runtime.run_pod_sandbox(pod)
                # What the runtime had to adapt (e.g. a privileged port it could not bind) is told as events.
                messages = getattr(self.runtime, "sandbox_messages", None)
                for type_, reason, message in (messages(record.sandbox.id) if messages else []):
                    self.event(pod, type_, reason, message)
            if self._volumes_mounted(pod, record):
                self._sync_containers(pod, record)
                if self._run_probes(pod, record):
                    self._sync_containers(pod, record)  # restart what a probe just killed
                self._sync_volumes(pod, record)
                self._refresh_volumes(pod, record)
        elif self._evicted_and_stopped(record):
            assert record.sandbox is not None
            self.runtime.stop_pod_sandbox(record.sandbox.id)   # the pod's network goes with it, as upstream
        self._write_status(pod, record)
        return False

    def _evicted_and_stopped(self, record: PodRecord) -> bool:
        """An evicted pod whose containers have all exited: its sandbox is stopped too."""
        return record.evicted is not None and record.sandbox is not None and \
            all(self.runtime.container_status(cid).state == "exited" for cid in record.ids())

    def _refresh_volumes(self, pod: dict[str, Any], record: PodRecord) -> None:
        """Projected ServiceAccount tokens are asked again before they expire: wake up when one is due."""
        refresh = getattr(self.runtime, "refresh_volumes", None)
        if refresh is None or record.sandbox is None:
            return
        due = refresh(pod, record.sandbox.id)
        if due is not None:
            record.wakes.append(due)

    def _sync_containers(self, pod: dict[str, Any], record: PodRecord) -> None:
        _add_ephemeral_containers(pod, record)
        if not record.initialized:
            record.initialized = self._sync_init_containers(pod, record)
            if not record.initialized:
                return
        for c in record.containers:
            if not c.init:
                self._ensure_running(pod, record, c)

    def _volumes_mounted(self, pod: dict[str, Any], record: PodRecord) -> bool:
        """Upstream's WaitForAttachAndMount: a pod's volumes are set up before any image is pulled or
        container made; one that cannot be (its ConfigMap is missing) holds the pod in ContainerCreating,
        with a FailedMount event, and the kubelet tries again later."""
        update = getattr(self.runtime, "update_volumes", None)
        if update is None or record.sandbox is None or record.volumes_synced_at is not None or \
                not _has_updated_volumes(pod):
            return True
        try:
            update(record.sandbox.id, pod)
        except cri.RuntimeCallError as exc:
            if getattr(exc, "reason", None) != "FailedMount":
                raise
            self.event(pod, "Warning", "FailedMount", str(exc))
            for c in record.containers:
                if c.id is None:
                    c.waiting = ("ContainerCreating", "")
            record.wakes.append(self.clock.now() + SYNC_ERROR_RETRY_SECONDS)
            return False
        record.volumes_synced_at = self.clock.now()
        return True

    def _sync_volumes(self, pod: dict[str, Any], record: PodRecord) -> None:
        """Every VOLUME_RESYNC_SECONDS, have the runtime write the pod's ConfigMap/Secret volumes again.
        A failure (the ConfigMap was deleted) keeps the old files and is told as a FailedMount event."""
        update = getattr(self.runtime, "update_volumes", None)
        if update is None or record.sandbox is None or not record.ids() or not _has_updated_volumes(pod):
            return
        now = self.clock.now()
        if record.volumes_synced_at is None:
            record.volumes_synced_at = now  # the containers' start just wrote them
        elif now >= record.volumes_synced_at + VOLUME_RESYNC_SECONDS:
            record.volumes_synced_at = now
            try:
                update(record.sandbox.id, pod)
            except cri.RuntimeCallError as exc:
                self.event(pod, "Warning", "FailedMount", str(exc))
        record.wakes.append(record.volumes_synced_at + VOLUME_RESYNC_SECONDS)

    def _sync_init_containers(self, pod: dict[str, Any], record: PodRecord) -> bool:
        """Run init containers one at a time; True once all have exited 0."""
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        for c in (c for c in record.containers if c.init):
            status = self.runtime.container_status(c.id) if c.id else None
            if status is not None and status.state == "exited" and status.exit_code == 0:
                continue
            if status is not None and status.state == "exited" and policy == "Never":
                return False  # the pod has failed
            self._ensure_running(pod, record, c)
            status = self.runtime.container_status(c.id) if c.id else None
            if status is not None and status.state == "exited" and status.exit_code == 0:
                continue
            return False
        return True

    def _should_restart(self, pod: dict[str, Any], c: ContainerRecord, exit_code: int | None) -> bool:
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Never" or c.ephemeral:
            return False
        if c.killed_by_probe:
            return True
        if c.init or policy == "OnFailure":
            return exit_code != 0
        return True

    def _ensure_running(self, pod: dict[str, Any], record: PodRecord, c: ContainerRecord) -> None:
        """Bring one container to running: restart it (after back-off), pull its image, create and start it."""
        now = self.clock.now()
        if c.id is not None:
            status = self.runtime.container_status(c.id)
            if status.state != "exited":
                return
            if not self._should_restart(pod, c, status.exit_code):
                return
            if self._in_crash_backoff(pod, record, c, status):
                return
        if not self.images.ready(pod, record, c, now):
            return
        if c.id is not None:
            # A restart happens now: the next one, if it crashes again, waits longer. (Counting it here,
            # not when the back-off was checked, keeps a re-pull of a :latest image from costing a turn.)
            c.backoff = BACKOFF_INITIAL_SECONDS if not c.backoff else min(c.backoff * 2, BACKOFF_MAX_SECONDS)
            c.backoff_updated = now
        self._start(pod, record, c)

    def _in_crash_backoff(self, pod: dict[str, Any], record: PodRecord, c: ContainerRecord,
                          status: cri.ContainerStatus) -> bool:
        """Upstream's doBackOff: the first restart is immediate, then 10 s, 20 s, 40 s ... 5 min."""
        now = self.clock.now()
        finished = status.finished_at if status.finished_at is not None else now
        if c.backoff and finished - c.backoff_updated > BACKOFF_RESET_SECONDS:
            c.backoff = 0.0  # it ran fine long enough: forget past crashes
        if c.backoff and now < finished + c.backoff:
            meta = pod["metadata"]
            pod_ref = f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})"
            c.waiting = ("CrashLoopBackOff",
                         f"back-off {go_duration(c.backoff)} restarting failed container={c.name} pod={pod_ref}")
            if c.backoff_event_for != c.id:
                c.backoff_event_for = c.id
                self.event(pod, "Warning", "BackOff",
                            f"Back-off restarting failed container {c.name} in pod {pod_ref}", c)
            record.wakes.append(finished + c.backoff)
            return True
        return False

    def _start(self, pod: dict[str, Any], record: PodRecord, c: ContainerRecord) -> None:
        assert record.sandbox is not None
        attempt = c.restart_count + (1 if c.id is not None else 0)
        if c.id is not None:
            # The exited container becomes "previous"; the one before it is gone for good.
            if c.previous_id:
                self.runtime.remove_container(c.previous_id)
            c.previous_id, c.id = c.id, None
            c.restart_count = attempt
        try:
            container_id = self.runtime.create_container(record.sandbox.id, pod, c.spec, attempt)
        except cri.RuntimeCallError as exc:
            reason = getattr(exc, "reason", None)
            if reason not in (CONFIG_ERROR, "FailedMount"):
                raise
            # A missing ConfigMap key or a volume that cannot be set up: the container waits, and the
            # kubelet tries again later (upstream keeps retrying with back-off).
            if reason == CONFIG_ERROR:
                c.waiting = (CONFIG_ERROR, str(exc))
                self.event(pod, "Warning", "Failed", f"Error: {exc}", c)
            else:
                c.waiting = ("ContainerCreating", "")
                self.event(pod, "Warning", "FailedMount", str(exc))
            record.wakes.append(self.clock.now() + SYNC_ERROR_RETRY_SECONDS)
            return
        self.event(pod, "Normal", "Created", f"Created container: {c.name}", c)
        self.runtime.start_container(container_id)
        c.id, c.waiting, c.killed_by_probe = container_id, None, False
        status = self.runtime.container_status(container_id)
        if status.reason == "StartError":
            # The runtime could not start it (no such executable...): upstream's StartContainer error.
            self.event(pod, "Warning", "Failed", f"Error: {status.message}", c)
        else:
            self.event(pod, "Normal", "Started", f"Started container {c.name}", c)
        if status.state == "exited":
            record.wakes.append(self.clock.now())  # it exited at once: decide about restarting now
        c.probes = probes.new_probes(c.spec, status.started_at if status.started_at is not None else self.clock.now())

    # --- probes -------------------------------------------------------------------------

    def _run_probes(self, pod: dict[str, Any], record: PodRecord) -> bool:
        """Run every probe that is due; returns True if a container was killed."""
        now = self.clock.now()
        killed = False
        ip = record.sandbox.ip if record.sandbox else ""
        for c in record.containers:
            if c.id is None or self.runtime.container_status(c.id).state != "running":
                continue
            startup = c.probes.get("startup")
            for kind in ("startup", "liveness", "readiness"):
                state = c.probes.get(kind)
                if state is None or state.due() is None or state.next_due > now:
                    continue
                state.advance(now)
                if kind != "startup" and startup is not None and not startup.result:
                    continue  # the startup probe gates the others
                outcome = probes.run(self.runtime, ip, c.spec, c.id, state.probe)
                if outcome.ok is False:
                    self.event(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {outcome.message}", c)
                elif outcome.ok is None and outcome.message:
                    self.event(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe errored: {outcome.message}", c)
                state.record(outcome)
                if kind in ("liveness", "startup") and state.on_hold:
                    self._kill_for_probe(pod, c, kind, state.probe)
                    killed = True
                    break
        return killed

    def _kill_for_probe(self, pod: dict[str, Any], c: ContainerRecord, kind: str, probe: dict[str, Any]) -> None:
        assert c.id is not None
        self.event(pod, "Normal", "Killing", f"Container {c.name} failed {kind} probe, will be restarted", c)
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        c.killed_by_probe = True
        self.runtime.stop_container(c.id, float(grace))

    # --- termination --------------------------------------------------------------------

    def _terminate(self, pod: dict[str, Any], record: PodRecord) -> bool:
        """Stop every container with the grace period; True once the pod is deleted for good."""
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        if not record.terminating:
            record.terminating = True
            for c in record.containers:
                if c.id and self.runtime.container_status(c.id).state != "exited":
                    self.event(pod, "Normal", "Killing", f"Stopping container {c.name}", c)
                    self.runtime.stop_container(c.id, float(grace))
        if any(self.runtime.container_status(cid).state != "exited" for cid in record.ids()):
            self._write_status(pod, record)
            return False  # next_event_time brings us back when they exit
        if record.sandbox is not None:
            self.runtime.stop_pod_sandbox(record.sandbox.id)
        self._write_status(pod, record, final=True)
        self._remove(record)
        try:
            self.client.delete(PODS, meta["name"], meta.get("namespace"), grace_period_seconds=0)
        except StatusError as err:
            if err.code != 404:
                raise
        return True

    def evict(self, pod: dict[str, Any], record: PodRecord, message: str, disruption: bool, grace: float) -> None:
        """The eviction manager's killPod: stop the pod's containers with ``grace`` and fail the pod
        (``Evicted``); nothing of it is restarted again."""
        record.evicted, record.disruption, record.terminal = message, disruption, True
        for c in record.containers:
            if c.id and self.runtime.container_status(c.id).state != "exited":
                self.event(pod, "Normal", "Killing", f"Stopping container {c.name}", c)
                self.runtime.stop_container(c.id, grace)

    def teardown(self, record: PodRecord) -> None:
        """The pod is gone from the API (or moved): kill everything at once."""
        for cid in record.ids():
            if self.runtime.container_status(cid).state != "exited":
                self.runtime.stop_container(cid, 0)
        self._remove(record)

    def _remove(self, record: PodRecord) -> None:
        for c in record.containers:
            for cid in (c.id, c.previous_id):
                if cid:
                    self.runtime.remove_container(cid)
        if record.sandbox is not None:
            self.runtime.stop_pod_sandbox(record.sandbox.id)
            self.runtime.remove_pod_sandbox(record.sandbox.id)

    # --- status -------------------------------------------------------------------------

    def container_status(self, pod: dict[str, Any], record: PodRecord, c: ContainerRecord,
                         default: str) -> dict[str, Any]:
        status: dict[str, Any] = {"name": c.name, "image": c.spec.get("image", ""), "imageID": "",
                                  "ready": False, "restartCount": c.restart_count, "started": False,
                                  "lastState": {}, "state": waiting(default)}
        last_id = c.previous_id
        if c.id is not None:
            current = self.runtime.container_status(c.id)
            status.update(image=current.image, imageID=current.image_id, containerID=f"{self._scheme()}{c.id}")
            if current.state == "running":
                status["state"] = running(current.started_at or 0.0)
                started = "startup" not in c.probes or c.probes["startup"].result
                readiness = c.probes.get("readiness")
                status["started"] = bool(started)
                # No readiness probe: ready as soon as it runs (and, with a startup probe, has started).
                status["ready"] = bool(started and (readiness.result if readiness else True))
            elif current.state == "exited" and c.waiting is not None:
                last_id = c.id  # waiting to restart: the exited container is the last state
                status["state"] = waiting(*c.waiting)
            elif current.state == "exited":
                status["state"] = self._terminated(c.id)
            else:
                status["state"] = waiting("ContainerCreating")
        elif c.waiting is not None:
            status["state"] = waiting(*c.waiting)
        if last_id is not None:
            status["lastState"] = self._terminated(last_id)
        return status

    def _terminated(self, container_id: str) -> dict[str, Any]:
        s = self.runtime.container_status(container_id)
        return terminated(f"{self._scheme()}{container_id}", s.exit_code if s.exit_code is not None else 0,
                          s.reason or "Error", s.started_at, s.finished_at, s.message)

    def _scheme(self) -> str:
        return self.runtime.version.split("://", 1)[0] + "://"

    def _build_status(self, pod: dict[str, Any], record: PodRecord, final: bool = False) -> dict[str, Any]:
        spec = pod.get("spec") or {}
        old = pod.get("status") or {}
        has_init = any(c.init for c in record.containers)
        default = "PodInitializing" if has_init else "ContainerCreating"
        init_statuses = [self.container_status(pod, record, c, default) for c in record.containers if c.init]
        statuses = [self.container_status(pod, record, c, default) for c in record.containers
                    if not c.init and not c.ephemeral]
        ephemeral = [self.container_status(pod, record, c, "ContainerCreating") for c in record.containers
                     if c.ephemeral]
        phase = pod_phase(spec.get("restartPolicy", "Always"), init_statuses, statuses, terminal=final)
        if record.evicted is not None:
            phase = "Failed"   # the eviction manager's verdict, whatever the containers did
        if phase in ("Succeeded", "Failed"):
            record.terminal = True
            for s in statuses + init_statuses:
                s["ready"] = False
        for s in ephemeral:   # upstream reports them, never ready and never restarted
            s["ready"] = False
            del s["started"]
        new = {k: v for k, v in old.items() if k not in ("phase", "conditions", "containerStatuses",
                                                           "initContainerStatuses", "hostIP", "hostIPs", "ephemeralContainerStatuses",
                                                           "podIP", "podIPs", "startTime", "message", "reason")}
        new["phase"] = phase
        sandbox_ready = record.sandbox is not None and not final and not self._evicted_and_stopped(record)
        new["conditions"] = pod_conditions(sandbox_ready=sandbox_ready, phase=phase,
                                           init_statuses=init_statuses, statuses=statuses,
                                           readiness_gates=list(spec.get("readinessGates") or []),
                                           old_conditions=list(old.get("conditions") or []), now=self.clock.now())
        if record.evicted is not None:
            new["reason"], new["message"] = "Evicted", record.evicted
            if record.disruption:
                new["conditions"] = _with_disruption_target(new["conditions"], record.evicted, self.clock.now())
        host_ip = self.runtime.node_address or nodes.node_ip(self.node_index)
        new["hostIP"], new["hostIPs"] = host_ip, [{"ip": host_ip}]
        if record.sandbox is not None:
            new["podIP"], new["podIPs"] = record.sandbox.ip, [{"ip": record.sandbox.ip}]
        new["startTime"] = old.get("startTime") or rfc3339(record.start_time)
        if init_statuses:
            new["initContainerStatuses"] = init_statuses
        new["containerStatuses"] = statuses
        if ephemeral:
            new["ephemeralContainerStatuses"] = ephemeral
        return new

    def _write_status(self, pod: dict[str, Any], record: PodRecord, final: bool = False) -> None:
        new = self._build_status(pod, record, final)
        if new == pod.get("status"):
            return
        updated = deep_copy(pod)
        updated["status"] = new
        namespace = pod["metadata"].get("namespace")
        self.client.update(PODS, updated, namespace, subresource="status")

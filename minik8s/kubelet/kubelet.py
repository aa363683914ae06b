"""The kubelet: the node agent that turns pods bound to its node into running containers.

One kubelet runs on every node. It registers the node, keeps its lease and status
fresh (:mod:`minik8s.kubelet.node`), and for every pod whose ``spec.nodeName`` is its
node it converges the containers towards the spec through the container runtime
(:mod:`minik8s.kubelet.cri`), then reports what it observed as the pod's status
(:mod:`minik8s.kubelet.status`).

One pass of ``reconcile((namespace, name))`` (upstream's ``SyncPod``):

1. pod gone or moved away: stop and remove its containers and sandbox;
2. ``deletionTimestamp`` set: stop every container with the grace period (SIGTERM,
   SIGKILL when it runs out), then delete the pod for good (grace 0);
3. otherwise create the sandbox (the pod IP), run the init containers one at a time,
   each to completion, then pull images and start every app container; restart
   exited containers per ``restartPolicy`` with the CrashLoopBackOff back-off
   (10 s doubling to 5 min, reset after 10 min of running); run due probes
   (:mod:`minik8s.kubelet.probes`);
4. write the status if it changed, and come back exactly when something is next
   due: a probe, a back-off ending, an image pull finishing, a container exiting.

A pod worker never blocks: every wait is a ``requeue_after``. Invalid pods become
Warning events, never a crashed kubelet.

Interface:
    Kubelet(ctx, node_name="node-1", node_index=0, runtime=rt, cpu="4", memory="8Gi", pods=110)
    kubelet.logs(namespace, pod, container=None, previous=False, tail_lines=None) -> str
    kubelet.exec(namespace, pod, container, command) -> ExecResult
    kubelet.stats() -> {"ns/name": {"cpu": millicores, "memory": bytes, "containers": {...}}}
    kubelet.stop_heartbeats(); kubelet.resume_heartbeats()

Taught in chapter 4 (nodes and the kubelet) and chapter 5 (Pods).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Hashable, Iterator

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError, bad_request
from minik8s.clock import rfc3339
from minik8s.controllers.controller import Context, Controller
from minik8s.kubelet import cri, node as nodes, probes
from minik8s.kubelet.status import go_duration, pod_conditions, pod_phase, running, terminated, waiting

log = logging.getLogger(__name__)

PODS = resources.by_plural("", "v1", "pods")
NODES = resources.by_plural("", "v1", "nodes")
LEASES = resources.by_plural("coordination.k8s.io", "v1", "leases")
assert PODS is not None and NODES is not None and LEASES is not None

COMPONENT = "kubelet"
NODE_KEY = "node"  # the work-queue key of the node's own heartbeat (pod keys are tuples)

# Crash-loop and image-pull back-off: upstream's kubelet constants.
BACKOFF_INITIAL_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
BACKOFF_RESET_SECONDS = 2 * BACKOFF_MAX_SECONDS   # running fine this long forgets the back-off
# After ErrImagePull the pod worker syncs again this soon, and then reports ImagePullBackOff.
IMAGE_PULL_RESYNC_SECONDS = 5.0
# A pod whose sync failed (a bad spec, a runtime error) is retried this much later.
SYNC_ERROR_RETRY_SECONDS = 10.0


CONFIG_ERROR = "CreateContainerConfigError"


@dataclass
class _Container:
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

    @property
    def field_path(self) -> str:
        return f"spec.{'initContainers' if self.init else 'containers'}{{{self.name}}}"


@dataclass
class _Pod:
    uid: str
    start_time: float
    containers: list[_Container]
    sandbox: cri.SandboxInfo | None = None
    initialized: bool = False
    terminal: bool = False          # reached Succeeded/Failed: nothing is restarted any more
    terminating: bool = False       # being deleted: containers were asked to stop
    wakes: list[float] = field(default_factory=list)

    def by_name(self, name: str) -> _Container | None:
        return next((c for c in self.containers if c.name == name and not c.init), None) or \
            next((c for c in self.containers if c.name == name), None)

    def ids(self) -> list[str]:
        return [c.id for c in self.containers if c.id]


class Kubelet(Controller):
    name = COMPONENT
    watches = (PODS,)

    def __init__(self, ctx: Context, *, node_name: str = "node-1", node_index: int = 0,
                 runtime: cri.ContainerRuntime, cpu: str = "4", memory: str = "8Gi", pods: int = 110,
                 ephemeral_storage: str = "100Gi"):
        self.node_name = node_name
        self.node_index = node_index
        self.runtime = runtime
        # Runtimes that materialise volumes and env (process, docker) read ConfigMaps, Secrets and
        # claims through the kubelet's own API connection, as the kubelet does for them upstream.
        if hasattr(runtime, "client") and getattr(runtime, "client", None) is None:
            runtime.client = ctx.client  # type: ignore[attr-defined]
        self.capacity, self.allocatable = nodes.capacity(cpu, memory, pods, ephemeral_storage)
        self.paused = False
        self._registered = False
        self._node_uid = ""
        self._last_report = 0.0
        self._pods: dict[tuple[str, str], _Pod] = {}
        super().__init__(ctx)
        self.recorder = ctx.recorder
        self.queue.add(NODE_KEY)

    # --- which events concern this kubelet ----------------------------------------------

    def keys_for(self, resource: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        mine = ((obj.get("spec") or {}).get("nodeName") == self.node_name
                or (old is not None and (old.get("spec") or {}).get("nodeName") == self.node_name))
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if not (mine or key in self._pods):
            return []  # another node's pod (every kubelet in the process shares one pod informer)
        if old is not None and _without_status(old) == _without_status(obj):
            # Our own status write coming back: as upstream's pod config, only spec and metadata wake a pod.
            return []
        return [key]

    def reconcile(self, key: Any) -> None:
        if key == NODE_KEY:
            self._heartbeat()
            return
        pod = self.informer(PODS).get(*key)
        record = self._pods.get(key)
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            if record is not None:
                self._teardown(key, record)
            return
        uid = pod["metadata"].get("uid", "")
        if record is not None and record.uid != uid:
            self._teardown(key, record)  # the same name, a new pod
            record = None
        if record is None:
            record = self._admit(key, pod)
        record.wakes = []
        try:
            self._sync(pod, record)
        except (cri.RuntimeCallError, KeyError, TypeError, ValueError, AttributeError) as exc:
            # A bad spec or a runtime failure: report it and try again later, never crash.
            log.info("kubelet %s: syncing %s/%s failed: %s", self.node_name, *key, exc)
            self._event(pod, "Warning", "FailedSync", f"error syncing pod, skipping: {exc}")
            record.wakes.append(self.clock.now() + SYNC_ERROR_RETRY_SECONDS)
        self._requeue(key, record)

    def _admit(self, key: tuple[str, str], pod: dict[str, Any]) -> _Pod:
        spec = pod.get("spec") or {}
        containers = [_Container(str(c.get("name")), c, True) for c in spec.get("initContainers") or []
                      if isinstance(c, dict)]
        containers += [_Container(str(c.get("name")), c, False) for c in spec.get("containers") or []
                       if isinstance(c, dict)]
        record = _Pod(pod["metadata"].get("uid", ""), self.clock.now(), containers)
        record.initialized = not any(c.init for c in containers)
        self._pods[key] = record
        return record

    def _requeue(self, key: tuple[str, str], record: _Pod) -> None:
        now = self.clock.now()
        wakes = [w for w in record.wakes if w is not None]
        runtime_next = self.runtime.next_event_time(record.ids()) if record.ids() else None
        if runtime_next is not None:
            wakes.append(runtime_next)
        if not record.terminal and not record.terminating:
            for c in record.containers:
                wakes += [d for d in (p.due() for p in c.probes.values()) if d is not None]
        future = [w for w in wakes if w > now]
        if any(w <= now for w in wakes):
            self.requeue_after(key, 0)
        elif future:
            self.requeue_after(key, min(future) - now)

    # --- one pod ------------------------------------------------------------------------

    def _sync(self, pod: dict[str, Any], record: _Pod) -> None:
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            self._terminate(pod, record)
            return
        if not record.terminal:
            if record.sandbox is None:
                record.sandbox = self.runtime.run_pod_sandbox(pod)
                # What the runtime had to adapt (e.g. a privileged port it could not bind) is told as events.
                messages = getattr(self.runtime, "sandbox_messages", None)
                for type_, reason, message in (messages(record.sandbox.id) if messages else []):
                    self._event(pod, type_, reason, message)
            self._sync_containers(pod, record)
            if self._run_probes(pod, record):
                self._sync_containers(pod, record)  # restart what a probe just killed
        self._write_status(pod, record)

    def _sync_containers(self, pod: dict[str, Any], record: _Pod) -> None:
        if not record.initialized:
            record.initialized = self._sync_init_containers(pod, record)
            if not record.initialized:
                return
        for c in record.containers:
            if not c.init:
                self._ensure_running(pod, record, c)

    def _sync_init_containers(self, pod: dict[str, Any], record: _Pod) -> bool:
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

    def _should_restart(self, pod: dict[str, Any], c: _Container, exit_code: int | None) -> bool:
        policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
        if policy == "Never":
            return False
        if c.killed_by_probe:
            return True
        if c.init or policy == "OnFailure":
            return exit_code != 0
        return True

    def _ensure_running(self, pod: dict[str, Any], record: _Pod, c: _Container) -> None:
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
        if not self._image_ready(pod, record, c, now):
            return
        if c.id is not None:
            # A restart happens now: the next one, if it crashes again, waits longer. (Counting it here,
            # not when the back-off was checked, keeps a re-pull of a :latest image from costing a turn.)
            c.backoff = BACKOFF_INITIAL_SECONDS if not c.backoff else min(c.backoff * 2, BACKOFF_MAX_SECONDS)
            c.backoff_updated = now
        self._start(pod, record, c)

    def _in_crash_backoff(self, pod: dict[str, Any], record: _Pod, c: _Container,
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
                self._event(pod, "Warning", "BackOff",
                            f"Back-off restarting failed container {c.name} in pod {pod_ref}", c)
            record.wakes.append(finished + c.backoff)
            return True
        return False

    def _image_ready(self, pod: dict[str, Any], record: _Pod, c: _Container, now: float) -> bool:
        image = str(c.spec.get("image", ""))
        if c.pull_backoff_until > now:
            c.waiting = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            if c.pull_backoff_event_until != c.pull_backoff_until:
                c.pull_backoff_event_until = c.pull_backoff_until
                self._event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', c)
                self._event(pod, "Warning", "Failed", "Error: ImagePullBackOff", c)
            record.wakes.append(c.pull_backoff_until)
            return False
        policy = str(c.spec.get("imagePullPolicy") or "IfNotPresent")
        try:
            result = self.runtime.pull_image(image, policy, pod)
        except cri.ImagePullError as exc:
            self._pull_failed(pod, record, c, image, exc, now)
            return False
        if not result.done:
            if not c.pulling:
                c.pulling = True
                self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"', c)
            record.wakes.append(result.ready_at if result.ready_at is not None else now)
            return False
        if result.pulled:
            if not c.pulling:
                self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"', c)
            took = go_duration(result.seconds)
            self._event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including '
                                                 f'waiting). Image size: {result.size_bytes} bytes.', c)
        else:
            self._event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine', c)
        c.pulling = False
        return True

    def _pull_failed(self, pod: dict[str, Any], record: _Pod, c: _Container, image: str,
                     exc: cri.ImagePullError, now: float) -> None:
        c.pulling = False
        c.waiting = (exc.reason, exc.message)
        if exc.reason == "ErrImageNeverPull":
            self._event(pod, "Warning", "ErrImageNeverPull", exc.message, c)
            self._event(pod, "Warning", "Failed", "Error: ErrImageNeverPull", c)
            record.wakes.append(now + SYNC_ERROR_RETRY_SECONDS)
            return
        self._event(pod, "Normal", "Pulling", f'Pulling image "{image}"', c)
        self._event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {exc.message}', c)
        self._event(pod, "Warning", "Failed", f"Error: {exc.reason}", c)
        c.pull_backoff = BACKOFF_INITIAL_SECONDS if not c.pull_backoff else min(c.pull_backoff * 2,
                                                                                 BACKOFF_MAX_SECONDS)
        c.pull_backoff_until = now + c.pull_backoff
        record.wakes.append(now + min(IMAGE_PULL_RESYNC_SECONDS, c.pull_backoff))

    def _start(self, pod: dict[str, Any], record: _Pod, c: _Container) -> None:
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
                self._event(pod, "Warning", "Failed", f"Error: {exc}", c)
            else:
                c.waiting = ("ContainerCreating", "")
                self._event(pod, "Warning", "FailedMount", str(exc))
            record.wakes.append(self.clock.now() + SYNC_ERROR_RETRY_SECONDS)
            return
        self._event(pod, "Normal", "Created", f"Created container: {c.name}", c)
        self.runtime.start_container(container_id)
        self._event(pod, "Normal", "Started", f"Started container {c.name}", c)
        c.id, c.waiting, c.killed_by_probe = container_id, None, False
        status = self.runtime.container_status(container_id)
        if status.state == "exited":
            record.wakes.append(self.clock.now())  # it exited at once: decide about restarting now
        c.probes = probes.new_probes(c.spec, status.started_at if status.started_at is not None else self.clock.now())

    # --- probes -------------------------------------------------------------------------

    def _run_probes(self, pod: dict[str, Any], record: _Pod) -> bool:
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
                    self._event(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe failed: {outcome.message}", c)
                elif outcome.ok is None and outcome.message:
                    self._event(pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe errored: {outcome.message}", c)
                state.record(outcome)
                if kind in ("liveness", "startup") and state.on_hold:
                    self._kill_for_probe(pod, c, kind, state.probe)
                    killed = True
                    break
        return killed

    def _kill_for_probe(self, pod: dict[str, Any], c: _Container, kind: str, probe: dict[str, Any]) -> None:
        assert c.id is not None
        self._event(pod, "Normal", "Killing", f"Container {c.name} failed {kind} probe, will be restarted", c)
        grace = probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        c.killed_by_probe = True
        self.runtime.stop_container(c.id, float(grace))

    # --- termination --------------------------------------------------------------------

    def _terminate(self, pod: dict[str, Any], record: _Pod) -> None:
        meta = pod["metadata"]
        grace = meta.get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        if not record.terminating:
            record.terminating = True
            for c in record.containers:
                if c.id and self.runtime.container_status(c.id).state != "exited":
                    self._event(pod, "Normal", "Killing", f"Stopping container {c.name}", c)
                    self.runtime.stop_container(c.id, float(grace))
        if any(self.runtime.container_status(cid).state != "exited" for cid in record.ids()):
            self._write_status(pod, record)
            return  # next_event_time brings us back when they exit
        if record.sandbox is not None:
            self.runtime.stop_pod_sandbox(record.sandbox.id)
        self._write_status(pod, record, final=True)
        self._remove(record)
        try:
            self.client.delete(PODS, meta["name"], meta.get("namespace"), grace_period_seconds=0)
        except StatusError as err:
            if err.code != 404:
                raise
        self._pods.pop((meta.get("namespace", ""), meta["name"]), None)

    def _teardown(self, key: tuple[str, str], record: _Pod) -> None:
        """The pod is gone from the API (or moved): kill everything at once."""
        for cid in record.ids():
            if self.runtime.container_status(cid).state != "exited":
                self.runtime.stop_container(cid, 0)
        self._remove(record)
        self._pods.pop(key, None)

    def _remove(self, record: _Pod) -> None:
        for c in record.containers:
            for cid in (c.id, c.previous_id):
                if cid:
                    self.runtime.remove_container(cid)
        if record.sandbox is not None:
            self.runtime.stop_pod_sandbox(record.sandbox.id)
            self.runtime.remove_pod_sandbox(record.sandbox.id)

    # --- status -------------------------------------------------------------------------

    def _container_status(self, pod: dict[str, Any], record: _Pod, c: _Container, default: str) -> dict[str, Any]:
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

    def _build_status(self, pod: dict[str, Any], record: _Pod, final: bool = False) -> dict[str, Any]:
        spec = pod.get("spec") or {}
        old = pod.get("status") or {}
        has_init = any(c.init for c in record.containers)
        default = "PodInitializing" if has_init else "ContainerCreating"
        init_statuses = [self._container_status(pod, record, c, default) for c in record.containers if c.init]
        statuses = [self._container_status(pod, record, c, default) for c in record.containers if not c.init]
        phase = pod_phase(spec.get("restartPolicy", "Always"), init_statuses, statuses, terminal=final)
        if phase in ("Succeeded", "Failed"):
            record.terminal = True
            for s in statuses + init_statuses:
                s["ready"] = False
        new = {k: v for k, v in old.items() if k not in ("phase", "conditions", "containerStatuses",
                                                           "initContainerStatuses", "hostIP", "hostIPs",
                                                           "podIP", "podIPs", "startTime", "message", "reason")}
        new["phase"] = phase
        new["conditions"] = pod_conditions(sandbox_ready=record.sandbox is not None and not final, phase=phase,
                                           init_statuses=init_statuses, statuses=statuses,
                                           readiness_gates=list(spec.get("readinessGates") or []),
                                           old_conditions=list(old.get("conditions") or []), now=self.clock.now())
        host_ip = nodes.node_ip(self.node_index)
        new["hostIP"], new["hostIPs"] = host_ip, [{"ip": host_ip}]
        if record.sandbox is not None:
            new["podIP"], new["podIPs"] = record.sandbox.ip, [{"ip": record.sandbox.ip}]
        new["startTime"] = old.get("startTime") or rfc3339(record.start_time)
        if init_statuses:
            new["initContainerStatuses"] = init_statuses
        new["containerStatuses"] = statuses
        return new

    def _write_status(self, pod: dict[str, Any], record: _Pod, final: bool = False) -> None:
        new = self._build_status(pod, record, final)
        if new == pod.get("status"):
            return
        updated = deep_copy(pod)
        updated["status"] = new
        namespace = pod["metadata"].get("namespace")
        self.client.update(PODS, updated, namespace, subresource="status")

    # --- events -------------------------------------------------------------------------

    def _event(self, pod: dict[str, Any], type_: str, reason: str, message: str, c: _Container | None = None) -> None:
        ref = {"apiVersion": "v1", "kind": "Pod", "metadata": pod.get("metadata") or {}}
        self.recorder.event(ref, type_, reason, message, component=COMPONENT, host=self.node_name,
                            field_path=c.field_path if c else None)

    def _node_event(self, type_: str, reason: str, message: str) -> None:
        # Upstream's kubelet refers to its node with the node name as uid.
        ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "uid": self.node_name}}
        self.recorder.event(ref, type_, reason, message, component=COMPONENT, host=self.node_name)

    # --- the node: registration, status, lease ------------------------------------------

    def stop_heartbeats(self) -> None:
        """Simulate a node that stops talking: no lease renewals, no status updates."""
        self.paused = True

    def resume_heartbeats(self) -> None:
        self.paused = False
        self.queue.add(NODE_KEY)

    def _images(self) -> list[dict[str, Any]]:
        return [{"names": list(i.names), "sizeBytes": i.size_bytes} for i in self.runtime.list_images()]

    def _heartbeat(self) -> None:
        if self.paused:
            return
        now = self.clock.now()
        if not self._registered:
            self._register(now)
        else:
            self._update_node_status(now)
        self._renew_lease(now)
        self.requeue_after(NODE_KEY, nodes.NODE_STATUS_UPDATE_SECONDS)

    def _register(self, now: float) -> None:
        self._node_event("Normal", "Starting", "Starting kubelet.")
        obj = nodes.node_object(self.node_name, self.node_index, self.capacity, self.allocatable,
                                self.runtime.version, self._images(), now)
        try:
            created = self.client.create(NODES, obj)
        except StatusError as err:
            if err.code != 409:
                raise
            # Registered before (a restarted kubelet): take the node over and refresh its status.
            created = self.client.get(NODES, self.node_name)
            self._write_node_status(created, now)
        self._node_uid = created["metadata"].get("uid", "")
        self._registered = True
        self._last_report = now
        for _, _, _, event in nodes.CONDITIONS[:3]:
            self._node_event("Normal", event, f"Node {self.node_name} status is now: {event}")
        self._node_event("Normal", "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods")
        self._node_event("Normal", "NodeReady", f"Node {self.node_name} status is now: NodeReady")

    def _desired_status(self, node: dict[str, Any], now: float) -> dict[str, Any]:
        old = node.get("status") or {}
        return nodes.node_status(self.node_name, self.node_index, self.capacity, self.allocatable,
                                 self.runtime.version, self._images(), list(old.get("conditions") or []), now)

    def _update_node_status(self, now: float) -> None:
        try:
            current = self.client.get(NODES, self.node_name)
        except StatusError as err:
            if err.code == 404:
                self._registered = False  # deleted: register again, as upstream does
                self._register(now)
                return
            raise
        desired = self._desired_status(current, now)
        changed = nodes.without_heartbeats(desired) != nodes.without_heartbeats(current.get("status") or {})
        if changed or now - self._last_report >= nodes.NODE_STATUS_REPORT_SECONDS:
            self._write_node_status(current, now)

    def _write_node_status(self, current: dict[str, Any], now: float) -> None:
        old_ready = next((c.get("status") for c in (current.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Ready"), None)
        updated = deep_copy(current)
        updated["status"] = {**(current.get("status") or {}), **self._desired_status(current, now)}
        self.client.update(NODES, updated, subresource="status")
        self._last_report = now
        if old_ready is not None and old_ready != "True":
            self._node_event("Normal", "NodeReady", f"Node {self.node_name} status is now: NodeReady")

    def _renew_lease(self, now: float) -> None:
        try:
            lease = self.client.get(LEASES, self.node_name, nodes.LEASE_NAMESPACE)
        except StatusError as err:
            if err.code != 404:
                raise
            self.client.create(LEASES, nodes.lease_object(self.node_name, self._node_uid, now), nodes.LEASE_NAMESPACE)
            return
        renewed = deep_copy(lease)
        fresh = nodes.lease_object(self.node_name, self._node_uid, now)
        renewed["spec"] = {**(lease.get("spec") or {}), **fresh["spec"]}
        self.client.update(LEASES, renewed, nodes.LEASE_NAMESPACE)

    # --- what the API server's pods/log, pods/exec and the metrics API ask --------------

    def _find(self, namespace: str, pod_name: str) -> tuple[dict[str, Any], _Pod]:
        pod = self.informer(PODS).get(namespace, pod_name)
        record = self._pods.get((namespace, pod_name))
        if pod is None or record is None:
            raise StatusError(404, "NotFound", f'pods "{pod_name}" not found')
        return pod, record

    def _pick(self, pod: dict[str, Any], record: _Pod, container: str | None) -> _Container:
        name = pod["metadata"]["name"]
        apps = [c.name for c in record.containers if not c.init]
        inits = [c.name for c in record.containers if c.init]
        if container is None:
            if len(apps) == 1:
                container = apps[0]
            else:
                message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(apps)}]"
                if inits:
                    message += f" or one of the init containers: [{' '.join(inits)}]"
                raise bad_request(message)
        found = record.by_name(container)
        if found is None:
            raise bad_request(f"container {container} is not valid for pod {name}")
        return found

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None) -> str:
        """``kubectl logs``: a container's output, or its previous instance's with ``previous``."""
        obj, record = self._find(namespace, pod)
        c = self._pick(obj, record, container)
        status = self._container_status(obj, record, c, "ContainerCreating")
        container_id = _log_container(status, c.name, pod, previous)
        text = self.runtime.logs(container_id.split("://", 1)[-1])
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
        return text

    def exec(self, namespace: str, pod: str, container: str | None, command: list[str]) -> cri.ExecResult:
        """``kubectl exec``: run a command in a running container."""
        obj, record = self._find(namespace, pod)
        c = self._pick(obj, record, container)
        if c.id is None or self.runtime.container_status(c.id).state != "running":
            raise bad_request(f'unable to upgrade connection: container not found ("{c.name}")')
        try:
            return self.runtime.exec_sync(c.id, list(command), 0)
        except TimeoutError as exc:
            raise StatusError(500, "InternalError", str(exc)) from None

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per pod: cpu (millicores) and memory (bytes), summed over its running containers."""
        result: dict[str, dict[str, Any]] = {}
        for (namespace, name), record in sorted(self._pods.items()):
            containers: dict[str, dict[str, int]] = {}
            for c in record.containers:
                if c.id and self.runtime.container_status(c.id).state == "running":
                    cpu, memory = self.runtime.stats(c.id)
                    containers[c.name] = {"cpu": cpu, "memory": memory}
            if containers:
                result[f"{namespace}/{name}"] = {"cpu": sum(v["cpu"] for v in containers.values()),
                                                 "memory": sum(v["memory"] for v in containers.values()),
                                                 "containers": containers}
        return result

    def pods(self) -> Iterator[tuple[str, str]]:
        """The keys of the pods this kubelet runs."""
        return iter(sorted(self._pods))

    def stop(self) -> None:
        self.runtime.close()


def _without_status(pod: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in (pod.get("metadata") or {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": meta}


def _log_container(status: dict[str, Any], container: str, pod: str, previous: bool) -> str:
    """Which container's logs to read: upstream's validateContainerLogStatus."""
    state, last = status.get("state") or {}, status.get("lastState") or {}
    if previous:
        if "terminated" not in last or not last["terminated"].get("containerID"):
            raise bad_request(f'previous terminated container "{container}" in pod "{pod}" not found')
        return str(last["terminated"]["containerID"])
    if "running" in state or "terminated" in state:
        return str(status.get("containerID") or "")
    if "terminated" in last and last["terminated"].get("containerID"):
        return str(last["terminated"]["containerID"])
    reason = (state.get("waiting") or {}).get("reason", "")
    if reason == "ErrImagePull":
        reason = "image can't be pulled"
    elif reason == "ImagePullBackOff":
        reason = "trying and failing to pull image"
    raise bad_request(f'container "{container}" in pod "{pod}" is waiting to start: {reason}')

"""The kubelet: the node agent that turns pods bound to its node into running containers.

One kubelet runs on every node. It registers the node, keeps its lease and status
fresh (:mod:`minik8s.kubelet.node`), and for every pod whose ``spec.nodeName`` is its
node it converges the containers towards the spec through the container runtime
(:mod:`minik8s.kubelet.cri`), then reports what it observed as the pod's status
(:mod:`minik8s.kubelet.status`).

The kubelet is a controller (the shared loop of :mod:`minik8s.controllers.controller`)
with two kinds of keys: ``(namespace, name)`` for a pod, and ``"node"`` for the node's
own heartbeat. ``reconcile((namespace, name))`` is upstream's pod worker loop:

1. pod gone or moved away: stop and remove its containers and sandbox;
2. a pod new to this kubelet is *admitted* first: if the node already runs ``maxPods``
   (its ``allocatable.pods``), the pod is rejected as upstream's kubelet rejects it,
   ``Failed`` with reason ``OutOfpods`` (the scheduler never binds such a pod; one that
   names its node itself can get here);
3. otherwise one pass of SyncPod by the pod worker (:mod:`minik8s.kubelet.podworker`):
   termination with the grace period, or sandbox, init containers, image pulls
   (:mod:`minik8s.kubelet.images`), starts, restarts with CrashLoopBackOff, probes
   (:mod:`minik8s.kubelet.probes`), and the status write;
4. come back exactly when something is next due: a probe, a back-off ending, an image
   pull finishing, a container exiting.

What pods learn of the cluster's network (their resolv.conf, the Service environment variables)
comes from the Services the kubelet watches, handed to the runtime as a
:class:`minik8s.kubelet.dns.ClusterNetwork` (``runtime.cluster_network``).

Every heartbeat (10 s) the eviction manager (:mod:`minik8s.kubelet.eviction`) also looks at the
node's memory and the pods' emptyDir sizes: under ``--eviction-hard`` (default
``memory.available<100Mi``) the node reports ``MemoryPressure`` and one pod per pass is evicted.

A pod worker never blocks: every wait is a ``requeue_after``. Invalid pods become
Warning events, never a crashed kubelet.

Interface:
    Kubelet(ctx, node_name="node-1", node_index=0, runtime=rt, cpu="4", memory="8Gi", pods=110,
            labels=None, taints=None,   # --node-labels, --register-with-taints
            eviction_hard=None, eviction_pressure_transition_period=300)   # None: memory.available<100Mi
    kubelet.logs(namespace, pod, container=None, previous=False, tail_lines=None,
                 timestamps=False, since_seconds=None, since_time=None) -> str
    kubelet.exec(namespace, pod, container, command) -> ExecResult
    kubelet.exec_stream(namespace, pod, container, command, stdin=, tty=) -> ExecStream   # exec -i -t
    kubelet.attach(namespace, pod, container) -> (stdin fd | None, resize)
    await kubelet.port_forward(namespace, pod, port) -> (reader, writer)   # a connection into the pod
    kubelet.stats() -> {"ns/name": {"cpu": millicores, "memory": bytes, "containers": {...}}}
    kubelet.stats_summary() -> the Summary API's object (GET /stats/summary, :mod:`minik8s.kubelet.stats`)
    kubelet.stop_heartbeats(); kubelet.resume_heartbeats()

Taught in chapter 4 (nodes and the kubelet) and chapter 5 (Pods).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from typing import Any, Callable, Hashable, Iterator

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError, bad_request
from minik8s.controllers.controller import Context, Controller, object_key
from minik8s.api import quantity
from minik8s.kubelet import cri, eviction, node as nodes, stats
from minik8s.kubelet import logs as container_logs
from minik8s.kubelet.dns import ClusterNetwork
from minik8s.kubelet.images import ImagePuller
from minik8s.kubelet.podworker import PodWorker
from minik8s.kubelet.records import SYNC_ERROR_RETRY_SECONDS, ContainerRecord, PodRecord

log = logging.getLogger(__name__)

PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")
LEASES = resources.get("coordination.k8s.io", "v1", "leases")
SERVICES = resources.get("", "v1", "services")
assert PODS is not None and NODES is not None and LEASES is not None and SERVICES is not None

COMPONENT = "kubelet"
PORT_FORWARD_DIAL_SECONDS = 10.0   # how long port-forward waits to connect inside the pod
NODE_KEY = "node"  # the work-queue key of the node's own heartbeat (pod keys are tuples)


class Kubelet(Controller):
    name = COMPONENT
    watches = (PODS,)

    def __init__(self, ctx: Context, *, node_name: str = "node-1", node_index: int = 0,
                 runtime: cri.ContainerRuntime, cpu: str = "4", memory: str = "8Gi", pods: int = 110,
                 ephemeral_storage: str = "100Gi", labels: dict[str, str] | None = None,
                 taints: list[dict[str, Any]] | None = None, eviction_hard: dict[str, str] | None = None,
                 eviction_pressure_transition_period: float = eviction.PRESSURE_TRANSITION_SECONDS):
        self.node_name = node_name
        self.node_labels = dict(labels or {})   # --node-labels
        self.register_taints = list(taints or [])   # --register-with-taints
        self.node_index = node_index
        self.runtime = runtime
        # Runtimes that materialise volumes and env (process, docker) read ConfigMaps, Secrets and
        # claims through the kubelet's own API connection, as the kubelet does for them upstream.
        if hasattr(runtime, "client") and getattr(runtime, "client", None) is None:
            runtime.client = ctx.client  # type: ignore[attr-defined]
        # Service links and resolv.conf come from the Services the kubelet watches (upstream: its
        # service lister and --cluster-dns); a runtime that keeps Service names in /etc/hosts hears of changes.
        services = ctx.informers.get(SERVICES)
        runtime.cluster_network = ClusterNetwork(services.list)
        if hasattr(runtime, "services_changed"):
            services.add_handler(lambda kind, obj, old: runtime.services_changed())  # type: ignore[attr-defined]
        self.capacity, self.allocatable = nodes.capacity(cpu, memory, pods, ephemeral_storage)
        self.eviction = eviction.Manager(quantity.value(memory), eviction_hard, eviction_pressure_transition_period)
        self.memory_pressure = False
        self.paused = False
        # Where this kubelet's HTTPS API listens (minik8s.kubelet.server): published in the Node's
        # addresses and daemonEndpoints; None: the runtime's node address.
        self.serving_address: str | None = None
        self.serving_port = nodes.KUBELET_PORT
        self._registered = False
        self._node_uid = ""
        self._last_report = 0.0
        self._pods: dict[tuple[str, str], PodRecord] = {}
        self._rates = stats.Rates()   # the previous readings behind the Summary API's CPU rates
        self._stats_lock = threading.Lock()
        super().__init__(ctx)
        self.started_at = self.clock.now()
        self.recorder = ctx.recorder
        self.worker = PodWorker(runtime, self.clock, self.client, self._event, ImagePuller(runtime, self._event),
                                node_index)
        self.queue.add(NODE_KEY)

    # --- which events concern this kubelet ----------------------------------------------

    def keys_for(self, resource: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        mine = ((obj.get("spec") or {}).get("nodeName") == self.node_name
                or (old is not None and (old.get("spec") or {}).get("nodeName") == self.node_name))
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if not (mine or key in self._pods):
            return []  # another node's pod (every kubelet in the process shares one pod informer)
        deleted = self.informer(PODS).get(*key) is None   # the informer applied the event first
        if old is not None and not deleted and _without_status(old) == _without_status(obj):
            # Our own status write coming back: as upstream's pod config, only spec and metadata wake a pod.
            # (A pod deleted at once, ``--grace-period=0 --force``, comes as such an event too: that one counts.)
            return []
        return [key]

    def reconcile(self, key: Any) -> None:
        if key == NODE_KEY:
            self._heartbeat()
            return
        if self.paused:
            return  # a silent node hears nothing either: resume_heartbeats() syncs every pod again
        pod = self.informer(PODS).get(*key)
        record = self._pods.get(key)
        if pod is None or (pod.get("spec") or {}).get("nodeName") != self.node_name:
            if record is not None:
                self.worker.teardown(record)
                self._pods.pop(key, None)
            return
        uid = pod["metadata"].get("uid", "")
        if record is not None and record.uid != uid:
            self.worker.teardown(record)  # the same name, a new pod
            self._pods.pop(key, None)
            record = None
        if record is None:
            if self._rejected(pod):
                return
            record = self._admit(key, pod)
        else:
            self.runtime.pod_updated(pod)   # its annotations may declare a new load (simulated runtime)
        record.wakes = []
        before = self._states(record)
        try:
            if self.worker.sync(pod, record):
                self._pods.pop(key, None)  # deleted for good
                return
        except (cri.RuntimeCallError, OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
            # A bad spec or a runtime failure: report it and try again later, never crash.
            log.info("kubelet %s: syncing %s/%s failed: %s", self.node_name, *key, exc)
            self._event(pod, "Warning", "FailedSync", f"error syncing pod, skipping: {exc}")
            record.wakes.append(self.clock.now() + SYNC_ERROR_RETRY_SECONDS)
        self._requeue(key, record, before)

    def _rejected(self, pod: dict[str, Any]) -> bool:
        """Upstream's pod admission, for the pod count: True if the pod must not run here."""
        status = pod.get("status") or {}
        if status.get("phase") in ("Succeeded", "Failed"):
            # Rejected or evicted before: stays so (a restarted kubelet must not start it again).
            reason = str(status.get("reason", ""))
            return reason.startswith("OutOf") or reason == eviction.REASON
        capacity = int(self.allocatable.get("pods", "0"))
        used = sum(1 for record in self._pods.values() if not record.terminal)
        refusal = eviction.admission_refusal(pod, self.memory_pressure)
        if used + 1 <= capacity and refusal is None:
            return False
        # Upstream's InsufficientResourceError (or the eviction manager's refusal) and kubelet.rejectPod.
        reason = "OutOfpods"
        message = f"Node didn't have enough resource: pods, requested: 1, used: {used}, capacity: {capacity}"
        if refusal is not None:
            reason, message = eviction.REASON, refusal
        self._event(pod, "Warning", reason, message)
        updated = deep_copy(pod)
        updated["status"] = {**status, "phase": "Failed", "reason": reason, "message": f"Pod was rejected: {message}"}
        self.client.update(PODS, updated, pod["metadata"].get("namespace"), subresource="status")
        return True

    def _admit(self, key: tuple[str, str], pod: dict[str, Any]) -> PodRecord:
        spec = pod.get("spec") or {}
        containers = [ContainerRecord(str(c.get("name")), c, True) for c in spec.get("initContainers") or []
                      if isinstance(c, dict)]
        containers += [ContainerRecord(str(c.get("name")), c, False) for c in spec.get("containers") or []
                       if isinstance(c, dict)]
        record = PodRecord(pod["metadata"].get("uid", ""), self.clock.now(), containers)
        record.initialized = not any(c.init for c in containers)
        self._pods[key] = record
        return record

    def _states(self, record: PodRecord) -> dict[str, str]:
        """What the runtime reports of each of the pod's containers now."""
        return {cid: self._state(cid) for cid in record.ids()}

    def _state(self, container_id: str) -> str:
        try:
            return self.runtime.container_status(container_id).state
        except cri.RuntimeCallError:
            return "unknown"

    def _requeue(self, key: tuple[str, str], record: PodRecord, before: dict[str, str]) -> None:
        """Come back when something is next due. ``before`` is what the runtime reported when the pass
        began: a container that exited since then (perhaps after the pass looked at it, perhaps one the
        pass started) is an event now, as upstream's PLEG relist turns a container that died into a
        pod sync."""
        now = self.clock.now()
        wakes = [w for w in record.wakes if w is not None]
        runtime_next = self.runtime.next_event_time(record.ids()) if record.ids() else None
        if runtime_next is not None:
            wakes.append(runtime_next)
        if any(before.get(cid) != "exited" and self._state(cid) == "exited" for cid in record.ids()):
            wakes.append(now)
        if not record.terminal and not record.terminating:
            for c in record.containers:
                wakes += [d for d in (p.due() for p in c.probes.values()) if d is not None]
        future = [w for w in wakes if w > now]
        if any(w <= now for w in wakes):
            self.requeue_after(key, 0)
        elif future:
            self.requeue_after(key, min(future) - now)

    # --- events -------------------------------------------------------------------------

    def _event(self, pod: dict[str, Any], type_: str, reason: str, message: str,
               c: ContainerRecord | None = None) -> None:
        ref = {"apiVersion": "v1", "kind": "Pod", "metadata": pod.get("metadata") or {}}
        self.recorder.event(ref, type_, reason, message, component=COMPONENT, host=self.node_name,
                            field_path=c.field_path if c else None)

    def _node_event(self, type_: str, reason: str, message: str) -> None:
        # Upstream's kubelet refers to its node with the node name as uid.
        ref = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node_name, "uid": self.node_name}}
        self.recorder.event(ref, type_, reason, message, component=COMPONENT, host=self.node_name)

    # --- the node: registration, status, lease ------------------------------------------

    def stop_heartbeats(self) -> None:
        """Simulate a node cut off from the API server: no lease renewals, no node or pod status
        updates, and no pod changes reach it. Its containers keep running; a pod deleted meanwhile
        (evicted from the unreachable node) stays Terminating until the node is back."""
        self.paused = True

    def resume_heartbeats(self) -> None:
        """The node is back: heartbeat at once, and sync every pod bound to it (what it missed)."""
        self.paused = False
        self.queue.add(NODE_KEY)
        mine = {object_key(p) for p in self.informer(PODS).list()
                if (p.get("spec") or {}).get("nodeName") == self.node_name}
        for key in sorted(mine | set(self._pods)):
            self.queue.add(key)

    def _images(self) -> list[dict[str, Any]]:
        return [{"names": list(i.names), "sizeBytes": i.size_bytes} for i in self.runtime.list_images()]

    def _heartbeat(self) -> None:
        if self.paused:
            return
        now = self.clock.now()
        if not self._registered:
            self._register(now)
        else:
            try:
                self._synchronize_eviction(now)   # the monitoring interval is the heartbeat's, 10 s
            except (cri.RuntimeCallError, OSError, KeyError, TypeError, ValueError) as exc:
                # Stats that cannot be read (a bad declared usage...) must never stop the node's heartbeat.
                log.info("kubelet %s: eviction manager: %s", self.node_name, exc)
            self._update_node_status(now)
        self._renew_lease(now)
        self.requeue_after(NODE_KEY, nodes.NODE_STATUS_UPDATE_SECONDS)

    def _register(self, now: float) -> None:
        self._node_event("Normal", "Starting", "Starting kubelet.")
        obj = nodes.node_object(self.node_name, self.node_index, self.capacity, self.allocatable,
                                self.runtime.version, self._images(), now,
                                self.serving_address or self.runtime.node_address, self.node_labels,
                                self.register_taints, kubelet_port=self.serving_port)
        cidr = getattr(self.runtime, "pod_cidr", None)   # netns mode: the node's bridge's pod CIDR
        if cidr:
            obj["spec"].update(podCIDR=cidr, podCIDRs=[cidr])
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
                                 self.runtime.version, self._images(), list(old.get("conditions") or []), now,
                                 self.serving_address or self.runtime.node_address,
                                 memory_pressure=self.memory_pressure, kubelet_port=self.serving_port)

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

    # --- the eviction manager (:mod:`minik8s.kubelet.eviction`) ------------------------

    def _active_usage(self) -> list[eviction.PodUsage]:
        """Every pod still running here, with its containers' working sets and its emptyDirs' sizes."""
        active = [(key, record) for key, record in sorted(self._pods.items())
                  if not record.terminal and not record.terminating]
        ids = [c.id for _, record in active for c in record.containers if c.id and not c.init]
        # A runtime whose stats are slow (docker's engine) is not watched: no memory signal, no pressure.
        slow = getattr(self.runtime, "slow_stats", False)
        readings = self.runtime.containers_stats(ids) if ids and not slow else {}
        volume_usage = getattr(self.runtime, "volume_usage", None)
        usages = []
        for key, record in active:
            pod = self.informer(PODS).get(*key)
            if pod is None:
                continue
            containers = {c.name: reading[1] for c in record.containers
                          if c.id and not c.init and (reading := readings.get(c.id)) is not None}
            volumes = volume_usage(record.sandbox.id) if volume_usage and record.sandbox else {}
            usages.append(eviction.PodUsage(pod, containers, volumes))
        return usages

    def _synchronize_eviction(self, now: float) -> None:
        """Upstream's eviction manager synchronize: observe, set the pressure, evict at most one pod."""
        decision = self.eviction.observe(self._active_usage(), now)
        if decision.pressure != self.memory_pressure:
            self.memory_pressure = decision.pressure
            event = "NodeHasInsufficientMemory" if decision.pressure else "NodeHasSufficientMemory"
            self._node_event("Normal", event, f"Node {self.node_name} status is now: {event}")
        if decision.threshold_met:
            self._node_event("Warning", "EvictionThresholdMet", "Attempting to reclaim memory")
        if decision.victim is None:
            return
        pod = decision.victim.pod
        key = object_key(pod)
        record = self._pods.get(key)
        if record is None:
            return
        log.info("kubelet %s: evicting pod %s/%s: %s", self.node_name, *key, decision.message)
        self._event(pod, "Warning", eviction.REASON, decision.message)
        self.worker.evict(pod, record, decision.message, decision.disruption, decision.grace)
        self.queue.add(key)   # write the Failed status, and come back when the containers have stopped

    # --- what the API server's pods/log, pods/exec and the metrics API ask --------------

    def _find(self, namespace: str, pod_name: str) -> tuple[dict[str, Any], PodRecord]:
        pod = self.informer(PODS).get(namespace, pod_name)
        record = self._pods.get((namespace, pod_name))
        if pod is None or record is None:
            raise StatusError(404, "NotFound", f'pods "{pod_name}" not found')
        return pod, record

    def _pick(self, pod: dict[str, Any], record: PodRecord, container: str | None) -> ContainerRecord:
        name = pod["metadata"]["name"]
        apps = [c.name for c in record.containers if not c.init and not c.ephemeral]
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
             tail_lines: int | None = None, *, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None, stream: str | None = None) -> str:
        """``kubectl logs``: a container's output, or its previous instance's with ``previous``;
        ``stream`` keeps only stdout or stderr (attach sends them apart).

        The options are upstream's PodLogOptions (:func:`minik8s.kubelet.logs.read`); as upstream's
        kubelet, ``since_seconds`` counts back from this kubelet's now and the later of the two wins."""
        obj, record = self._find(namespace, pod)
        c = self._pick(obj, record, container)
        status = self.worker.container_status(obj, record, c, "ContainerCreating")
        container_id = _log_container(status, c.name, pod, previous)
        since = None if since_seconds is None else self.clock.now() - since_seconds
        if since_time is not None:
            since = since_time if since is None else max(since, since_time)
        entries = self.runtime.log_entries(container_id.split("://", 1)[-1])
        since_ns = None if since is None else container_logs.nanoseconds(since)
        return container_logs.read(entries, timestamps=timestamps, since_ns=since_ns, tail_lines=tail_lines,
                                   stream=stream)

    def _running_container(self, namespace: str, pod: str, container: str | None) -> str:
        """The runtime id of a running container of the pod: what exec and attach reach."""
        obj, record = self._find(namespace, pod)
        c = self._pick(obj, record, container)
        if c.id is None or self.runtime.container_status(c.id).state != "running":
            raise bad_request(f'unable to upgrade connection: container not found ("{c.name}")')
        return c.id

    def exec(self, namespace: str, pod: str, container: str | None, command: list[str]) -> cri.ExecResult:
        """``kubectl exec``: run a command in a running container."""
        container_id = self._running_container(namespace, pod, container)
        with _exec_errors():
            return self.runtime.exec_sync(container_id, list(command), 0)

    def exec_stream(self, namespace: str, pod: str, container: str | None, command: list[str], *,
                    stdin: bool, tty: bool) -> cri.ExecStream:
        """``kubectl exec -i -t``: start a command in a running container, its streams open."""
        container_id = self._running_container(namespace, pod, container)
        with _exec_errors():
            return self.runtime.exec_stream(container_id, list(command), stdin=stdin, tty=tty)

    def attach(self, namespace: str, pod: str,
               container: str | None) -> tuple[int | None, Callable[[int, int], None]]:
        """``kubectl attach``: the running container's stdin (None without ``stdin: true``) and resize."""
        return self.runtime.attach(self._running_container(namespace, pod, container))

    async def port_forward(self, namespace: str, pod: str,
                           port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """``kubectl port-forward``: a TCP connection to ``port`` inside the pod's network namespace.

        The runtime says where to dial; the kubelet dials. Every failure is a StatusError whose
        message is upstream's text for kubectl's error stream."""
        _, record = self._find(namespace, pod)
        sandbox = record.sandbox
        if sandbox is None:
            raise StatusError(500, "InternalError", f'pod "{pod}" has no sandbox yet')
        try:
            host, host_port = self.runtime.port_forward(sandbox.id, port)
            return await asyncio.wait_for(asyncio.open_connection(host, host_port), PORT_FORWARD_DIAL_SECONDS)
        except cri.PortForwardError as exc:
            reason = str(exc)
        except (OSError, asyncio.TimeoutError):
            reason = cri.port_forward_refused(sandbox.id, port)
        # The CRI streaming server names the pod by its sandbox and leaves the uid empty.
        raise StatusError(500, "InternalError", f"error forwarding port {port} to pod {sandbox.id}, uid : {reason}")

    def serving(self, address: str | None, port: int) -> None:
        """This kubelet's HTTPS API listens at ``address:port`` (:mod:`minik8s.kubelet.server`): publish it
        in the Node's ``InternalIP`` (None: keep the runtime's address) and ``daemonEndpoints`` at the
        next status update, which this asks for now."""
        self.serving_address = address
        self.serving_port = port
        self.queue.add(NODE_KEY)

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

    def stats_summary(self) -> dict[str, Any]:
        """``GET /stats/summary``: the node's, its pods' and their running containers' CPU and memory
        (:mod:`minik8s.kubelet.stats`), read from the runtime now."""
        now = self.clock.now()
        records = sorted(list(self._pods.items()))
        usages = self.runtime.containers_stats([c.id for _, record in records for c in record.containers
                                                if c.id and not c.init])   # one pass over them all
        pods = []
        for (namespace, name), record in records:
            containers = []
            for c in record.containers:
                usage = usages.get(c.id) if c.id and not c.init else None
                if usage is None:
                    continue
                try:
                    started = self.runtime.container_status(c.id).started_at   # type: ignore[arg-type]
                except cri.RuntimeCallError:   # removed meanwhile
                    continue
                if started is not None:
                    containers.append((str(c.id), stats.Usage(c.name, started, *usage)))
            if containers:
                ref = {"name": name, "namespace": namespace, "uid": record.uid}
                pods.append((ref, record.start_time, containers))
        memory = quantity.value(self.capacity.get("memory", "0"))
        with self._stats_lock:   # metrics-server and a user's `kubectl get --raw` may ask at once
            return stats.summary(self.node_name, self.started_at, memory, pods, now, self._rates)

    def pods(self) -> Iterator[tuple[str, str]]:
        """The keys of the pods this kubelet runs."""
        return iter(sorted(self._pods))

    def stop(self) -> None:
        self.runtime.close()


@contextlib.contextmanager
def _exec_errors() -> Iterator[None]:
    """As upstream's streaming server answers an exec that cannot start (kubectl prints
    "error: Internal error occurred: ...")."""
    try:
        yield
    except (TimeoutError, cri.ExecStartError) as exc:
        raise StatusError(500, "InternalError",
                          f"Internal error occurred: error executing command in container: {exc}") from None


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

"""The scheduler as a component: watch pods and nodes, decide, bind.

kube-scheduler's outer loop: every pod that has no ``spec.nodeName`` and names
this scheduler (``spec.schedulerName: default-scheduler``, the default) is queued.
For each one the algorithm (:mod:`minik8s.scheduler.algorithm`) picks a node
from the scheduler's cache, the pod is *assumed* there at once (so the next
decision already counts it) and bound through the ``pods/binding`` subresource.
The outcome is recorded as an event: ``Scheduled`` (``Successfully assigned
default/nginx to node-1``) or ``FailedScheduling`` with the reasons per node.

A pod whose volumes must be bound first (a ``WaitForFirstConsumer`` claim: see
:mod:`minik8s.scheduler.plugins.volume_binding`) goes through PreBind: the claim is
annotated with the chosen node (or a matching volume pre-bound to it), the pod stays
assumed on that node, and it is bound once the PV controller has bound every claim
(``VOLUME_BINDING_TIMEOUT_SECONDS`` at the most; then it is scheduled afresh). Claims,
volumes and classes are watched, as they decide where such a pod may go.

A pod that fits nowhere waits, marked ``PodScheduled=False`` with reason
``Unschedulable``. It is tried again whenever the cluster changes in a way that
could help (a node is added or updated, a pod goes away), and at the latest
after five minutes, as upstream's scheduling queue does.

Taught in chapter 2 (architecture) and the scheduling chapter.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.storage import pod_claim_names
from minik8s.clock import rfc3339
from minik8s.controllers.controller import Context, Controller, object_key
from minik8s.scheduler.algorithm import Scheduler
from minik8s.scheduler.cache import Cache, PodInfo, StorageListers
from minik8s.scheduler.victims import disruption_budgets, evict_victims

PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")
PVCS = resources.get("", "v1", "persistentvolumeclaims")
PVS = resources.get("", "v1", "persistentvolumes")
CLASSES = resources.get("storage.k8s.io", "v1", "storageclasses")
assert PODS is not None and NODES is not None and PVCS is not None and PVS is not None and CLASSES is not None
STORAGE = (PVCS, PVS, CLASSES)

SCHEDULER_NAME = "default-scheduler"

# Upstream retries an unschedulable pod at least this often, even if nothing changed.
UNSCHEDULABLE_RETRY_SECONDS = 300.0
# How long a pod waits, assumed on its node, for PreBind's volume bindings (upstream's bindTimeoutSeconds).
VOLUME_BINDING_TIMEOUT_SECONDS = 600.0
VOLUME_BINDING_TIMEOUT_MESSAGE = 'running PreBind plugin "VolumeBinding": binding volumes: context deadline exceeded'


def _assigned(pod: dict[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _priority(pod: dict[str, Any] | None) -> int:
    return int(((pod or {}).get("spec") or {}).get("priority") or 0)


def _terminal(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _same_but_status(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def strip(pod: dict[str, Any]) -> dict[str, Any]:
        meta = {k: v for k, v in pod["metadata"].items() if k not in ("resourceVersion", "managedFields")}
        return {**pod, "metadata": meta, "status": None}

    return strip(old) == strip(new)


class SchedulerComponent(Controller):
    name = SCHEDULER_NAME
    watches = (NODES, PODS, *STORAGE)

    def __init__(self, ctx: Context):
        self.cache = Cache()
        self.cache.storage = StorageListers(claim=lambda namespace, name: self.informer(PVCS).get(namespace, name),
                                            volumes=lambda: self.informer(PVS).list(),
                                            storage_class=lambda name: self.informer(CLASSES).get("", name))
        # Pods assumed on a node whose PreBind (volume binding) is not done yet: key -> (node, deadline).
        self._awaiting: dict[Hashable, tuple[str, float]] = {}
        self.algorithm = Scheduler(rng=ctx.rng)
        self.algorithm.pdbs = disruption_budgets(ctx.client)
        self._nominated: dict[Hashable, dict[str, Any]] = {}   # unbound pods that preemption nominated
        self.algorithm.nominated = lambda: list(self._nominated.values())
        self._unschedulable: set[Hashable] = set()
        super().__init__(ctx)

    def _wants(self, pod: dict[str, Any]) -> bool:
        spec = pod.get("spec") or {}
        return (not _assigned(pod) and not pod["metadata"].get("deletionTimestamp")
                and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        # The scheduler's cache is fed by the same events that wake it.
        deleted = obj is not None and self.informer(resource).get(*object_key(obj)) is None
        if resource in STORAGE:
            # A claim bound, a volume made or freed, a class added: waiting pods may go on, and pods
            # with claims may fit now (upstream's queueing hints: only they can be helped).
            return [*self._awaiting, *self._retry_unschedulable(lambda pod: bool(pod_claim_names(pod)))]
        if resource is NODES:
            if deleted:
                self.cache.remove_node(obj)
            elif old is None:
                self.cache.add_node(obj)
            else:
                self.cache.update_node(obj)
            return self._retry_unschedulable()
        key = object_key(obj)
        if not deleted and not _assigned(obj) and (obj.get("status") or {}).get("nominatedNodeName"):
            self._nominated[key] = obj
        else:
            self._nominated.pop(key, None)
        if deleted or _terminal(obj):
            self._awaiting.pop(key, None)
            was_counted = self.cache.is_assumed(obj) or _assigned(obj)
            self.cache.remove_pod(obj)
            self._unschedulable.discard(key)
            if deleted:
                self.queue.discard(key)  # upstream's SchedulingQueue.Delete: no retry for a pod that is gone
            return self._retry_unschedulable() if was_counted else []
        if _assigned(obj):
            self.cache.add_pod(obj)  # seen bound: confirms an assumption, or a pod placed by its nodeName
            return []
        if key in self._unschedulable and old is not None and _same_but_status(old, obj):
            return []  # our own condition write, or another status change: nothing that could help it fit
        return [key] if self._wants(obj) else []

    def _retry_unschedulable(self, could_help: Callable[[dict[str, Any]], bool] | None = None) -> list[Hashable]:
        """The unschedulable pods to try again (those ``could_help``, if given), highest priority first,
        as upstream's PrioritySort orders its active queue."""
        pods = self.informer(PODS)
        chosen = {k for k in self._unschedulable
                  if could_help is None or (pod := pods.get(*k)) is None or could_help(pod)}
        self._unschedulable -= chosen
        return sorted(chosen, key=lambda k: (-_priority(pods.get(*k)), k))

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        pod = self.informer(PODS).get(namespace, name)
        if key in self._awaiting:
            self._finish_pre_bind(key, pod)
            return
        if pod is None or not self._wants(pod) or self.cache.is_assumed(pod):
            return
        result = self.algorithm.schedule(pod, self.cache)
        if result.node is None:
            self._unschedulable.add(key)
            nominated = result.diagnosis.nominated_node
            if nominated is not None:
                evict_victims(self, pod, nominated, [v.pod for v in result.diagnosis.victims])
            self._record_unschedulable(pod, result.message, nominated)
            self.requeue_after(key, UNSCHEDULABLE_RETRY_SECONDS)
            return
        self.cache.assume(pod, result.node)
        if not self._pre_bind(pod, result.node, result.state):
            self._awaiting[key] = (result.node, self.clock.now() + VOLUME_BINDING_TIMEOUT_SECONDS)
            self.requeue_after(key, VOLUME_BINDING_TIMEOUT_SECONDS)
            return
        self._bind(pod, result.node)

    def _pre_bind(self, pod: dict[str, Any], node: str, state: Any) -> bool:
        """Run the PreBind plugins; False if one must wait (its writes have not taken effect yet)."""
        ready = True
        try:
            for plugin in self.algorithm.profile.pre_bind_plugins:
                ready = plugin.pre_bind(state, PodInfo(pod), node, self.client) and ready
        except StatusError:
            self.cache.forget(pod)
            raise
        return ready

    def _finish_pre_bind(self, key: Hashable, pod: dict[str, Any] | None) -> None:
        """A pod waits on its node for its volumes: bind it once they are, give up at the deadline."""
        node, deadline = self._awaiting[key]
        if pod is None or not self._wants(pod):
            del self._awaiting[key]
            return
        if all(plugin.ready(pod, self.cache) for plugin in self.algorithm.profile.pre_bind_plugins):
            del self._awaiting[key]
            self._bind(pod, node)
        elif self.clock.now() >= deadline:
            del self._awaiting[key]
            self.cache.forget(pod)
            self._unschedulable.add(key)
            self._record_unschedulable(pod, VOLUME_BINDING_TIMEOUT_MESSAGE)
            self.requeue_after(key, UNSCHEDULABLE_RETRY_SECONDS)

    def _bind(self, pod: dict[str, Any], node: str) -> None:
        namespace, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": namespace},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        try:
            self.client.create(PODS, binding, namespace, subresource="binding")
        except StatusError:
            self.cache.forget(pod)
            raise
        self.ctx.recorder.event(pod, "Normal", "Scheduled",
                                f"Successfully assigned {namespace}/{name} to {node}", component=self.name,
                                action="Binding")  # the scheduler records through events.k8s.io/v1, as upstream

    def _record_unschedulable(self, pod: dict[str, Any], message: str, nominated: str | None = None) -> None:
        self.ctx.recorder.event(pod, "Warning", "FailedScheduling", message, component=self.name, action="Scheduling")
        status = pod.get("status") or {}
        conditions = status.get("conditions") or []
        current = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        nominate = nominated is not None and status.get("nominatedNodeName") != nominated
        if current and current.get("status") == "False" and current.get("message") == message and not nominate:
            return
        condition = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
                     "lastProbeTime": None,
                     "lastTransitionTime": (current or {}).get("lastTransitionTime")
                     if current and current.get("status") == "False" else rfc3339(self.clock.now())}
        meta = pod["metadata"]
        try:
            patch: dict[str, Any] = {"conditions": [condition]}
            if nominate:
                patch["nominatedNodeName"] = nominated
            self.client.patch(PODS, meta["name"], {"status": patch}, meta["namespace"],
                              patch_type="strategic", subresource="status")
        except StatusError as err:
            if err.code != 404:
                raise

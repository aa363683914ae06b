"""The taint-eviction controller: pods leave a node whose ``NoExecute`` taints they do not tolerate.

Upstream's ``TaintEvictionController`` (``taint-eviction-controller`` in
kube-controller-manager, split out of the node lifecycle controller in v1.29,
KEP-3902). A ``NoExecute`` taint, put there by ``kubectl taint`` or by the node
lifecycle controller (``node.kubernetes.io/unreachable``, ``.../not-ready``),
concerns the pods already running on the node, not only new ones:

* a pod that does not tolerate every ``NoExecute`` taint is deleted at once;
* a pod whose matching tolerations carry ``tolerationSeconds`` is deleted that
  many seconds after the controller first saw it tainted (the smallest of them;
  0 or less: at once); a matching toleration without seconds tolerates forever;
* if the taints go away (or the pod comes to tolerate them forever) before the
  time runs out, the deletion is cancelled (event ``Cancelling deletion of Pod ns/name``).

Deleting a pod is done as upstream does: an event ``TaintManagerEviction``
``Marking for deletion Pod ns/name``, then the pod's ``DisruptionTarget``
condition (reason ``DeletionByTaintManager``, message ``Taint manager: deleting
due to NoExecute taint``), then the delete (with the pod's grace period).

Interface:
    matching_toleration_seconds(tolerations, taints) -> (tolerated, seconds | None)
    TaintEvictionController(ctx)           # watches Nodes and Pods, one key per node

Invariants: per-pod timers live in this controller only (a restarted
controller starts them again, as upstream's in-memory queue does); the pod's
timer starts when the controller first sees it under a tolerated-for-a-while
taint, and never moves later while the taints stay (upstream keeps the older
timer when a new one would fire later).

How minik8s differs: upstream runs timed workers; here a node's key is requeued
for exactly the earliest deadline, which gives exact times on a virtual clock.

Taught in chapter 11 (Scheduling: taints and tolerations), chapter 10 (DaemonSets: a node that stops) and
chapter 2 (self-healing).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.tolerations import tolerates
from minik8s.clock import rfc3339
from minik8s.controllers.controller import Controller

NODES = resources.get("", "v1", "nodes")
PODS = resources.get("", "v1", "pods")
assert NODES is not None and PODS is not None

COMPONENT = "taint-eviction-controller"
REASON = "DeletionByTaintManager"
MESSAGE = "Taint manager: deleting due to NoExecute taint"


def matching_toleration_seconds(tolerations: list[dict[str, Any]],
                                taints: list[dict[str, Any]]) -> tuple[bool, float | None]:
    """Whether every taint is tolerated, and for how long (None: forever; 0: not at all).

    As upstream: for each taint the first toleration that tolerates it is used; the
    time is the smallest ``tolerationSeconds`` among them (one at or below 0 means 0)."""
    used: list[dict[str, Any]] = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return False, 0.0
        used.append(match)
    seconds = [float(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None]
    if not seconds:
        return True, None
    return True, max(min(seconds), 0.0)


def _no_execute(node: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]


class TaintEvictionController(Controller):
    name = COMPONENT
    watches = (NODES, PODS)

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        # (namespace, name) -> (node, when the pod's eviction is due): the scheduled evictions.
        self._scheduled: dict[tuple[str, str], tuple[str, float]] = {}

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        if resource is NODES:
            if old is not None and _no_execute(old) == _no_execute(obj):
                return []  # heartbeats and status: nothing for this controller
            return [("", obj["metadata"]["name"])]
        node = (obj.get("spec") or {}).get("nodeName")
        old_spec = (old or {}).get("spec") or {}
        if node and (old is None or old_spec.get("nodeName") != node
                     or old_spec.get("tolerations") != obj["spec"].get("tolerations")):
            return [("", node)]
        return []

    def reconcile(self, key: Any) -> None:
        _, name = key
        node = self.informer(NODES).get("", name)
        if node is None:  # gone: its pods are PodGC's (the node lifecycle controller's here), nothing to cancel
            for pod_key in [k for k, (n, _) in self._scheduled.items() if n == name]:
                del self._scheduled[pod_key]
            return
        taints = _no_execute(node)
        now = self.clock.now()
        next_due: float | None = None
        seen: set[tuple[str, str]] = set()
        for pod in self.informer(PODS).list():
            if (pod.get("spec") or {}).get("nodeName") != name or pod["metadata"].get("deletionTimestamp"):
                continue
            meta = pod["metadata"]
            pod_key = (meta["namespace"], meta["name"])
            seen.add(pod_key)
            tolerated, seconds = matching_toleration_seconds((pod.get("spec") or {}).get("tolerations") or [],
                                                             taints) if taints else (True, None)
            if tolerated and seconds is None:
                self._cancel(pod, pod_key)
                continue
            due = now if not tolerated else now + (seconds or 0.0)
            scheduled = self._scheduled.get(pod_key)
            if scheduled is not None and scheduled[0] == name and scheduled[1] <= due:
                due = scheduled[1]  # the older timer stands
            if due <= now:
                self._scheduled.pop(pod_key, None)
                self._evict(pod, now)
            else:
                self._scheduled[pod_key] = (name, due)
                next_due = due if next_due is None else min(next_due, due)
        for pod_key in [k for k, (n, _) in self._scheduled.items() if n == name and k not in seen]:
            del self._scheduled[pod_key]  # deleted, or moved: nothing to cancel
        if next_due is not None:
            self.requeue_after(key, next_due - now)

    def _cancel(self, pod: dict[str, Any], pod_key: tuple[str, str]) -> None:
        if self._scheduled.pop(pod_key, None) is not None:
            self.ctx.recorder.event(pod, "Normal", "TaintManagerEviction",
                                    f"Cancelling deletion of Pod {pod_key[0]}/{pod_key[1]}", component=COMPONENT)

    def _evict(self, pod: dict[str, Any], now: float) -> None:
        meta = pod["metadata"]
        self.ctx.recorder.event(pod, "Normal", "TaintManagerEviction",
                                f"Marking for deletion Pod {meta['namespace']}/{meta['name']}", component=COMPONENT)
        condition = {"type": "DisruptionTarget", "status": "True", "reason": REASON, "message": MESSAGE,
                     "lastProbeTime": None, "lastTransitionTime": rfc3339(now)}
        try:
            self.client.patch(PODS, meta["name"], {"status": {"conditions": [condition]}}, meta["namespace"],
                              patch_type="strategic", subresource="status")
            self.client.delete(PODS, meta["name"], meta["namespace"])
        except StatusError as err:
            if err.code != 404:
                raise

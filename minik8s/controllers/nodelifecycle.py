"""The node lifecycle controller: notices nodes that stop talking, and moves their pods away.

Every kubelet renews a Lease in ``kube-node-lease`` every 10 seconds. When a
node's lease has not been renewed for the grace period (50 s, v1.32's default), this controller
sets the node's conditions to ``Unknown`` (``Kubelet stopped posting node
status.``), marks its pods not ready, and taints the node
``node.kubernetes.io/unreachable`` (``NoSchedule`` so nothing new lands there,
``NoExecute`` so running pods are evicted); a node whose kubelet reports
``Ready=False`` gets ``node.kubernetes.io/not-ready`` the same way. The eviction
itself is the taint-eviction controller's (:mod:`minik8s.controllers.tainteviction`),
and honours tolerations: every pod gets a 300 s toleration for those taints by
default (DefaultTolerationSeconds admission), so its pods are deleted five
minutes later, and their controllers create replacements on healthy nodes. A
node that comes back loses the taints again. A node whose kubelet reports
``MemoryPressure=True`` (:mod:`minik8s.kubelet.eviction`) is tainted
``node.kubernetes.io/memory-pressure:NoSchedule`` while it lasts (TaintNodesByCondition).

Pods bound to a node that no longer exists are deleted at once (upstream's pod
garbage collector, which first waits 40 s and marks them ``Failed`` with a
``DisruptionTarget`` condition, reason ``DeletionByPodGC``).

How minik8s differs: upstream checks every node every 5 s
(``--node-monitor-period``); here each node is looked at exactly when its
grace period runs out, which gives the same outcome with exact
times under a virtual clock.

Taught in chapter 2 (architecture: self-healing), chapter 4 (Pods) and chapter 10 (DaemonSets: nodes that
stop or leave).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.clock import parse_rfc3339, rfc3339
from minik8s.controllers.controller import Controller

NODES = resources.get("", "v1", "nodes")
PODS = resources.get("", "v1", "pods")
LEASES = resources.get("coordination.k8s.io", "v1", "leases")
assert NODES is not None and PODS is not None and LEASES is not None

NODE_LEASE_NAMESPACE = "kube-node-lease"
# --node-monitor-grace-period: how long a node may be silent before it is NotReady/Unknown
# (50 s since v1.32, the version minik8s reports; 40 s before).
GRACE_PERIOD_SECONDS = 50.0
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
# TaintNodesByCondition: a node the kubelet reports short of memory takes no new pods that do not tolerate it.
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
_OURS = (UNREACHABLE, NOT_READY, MEMORY_PRESSURE)
CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


def _time(text: str | None) -> float | None:
    return parse_rfc3339(text) if text else None


def _condition(node: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


class NodeLifecycleController(Controller):
    name = "node-controller"
    watches = (NODES, LEASES, PODS)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        if resource is NODES:
            return [("", obj["metadata"]["name"])]
        if resource is LEASES:
            meta = obj["metadata"]
            return [("", meta["name"])] if meta.get("namespace") == NODE_LEASE_NAMESPACE else []
        node = (obj.get("spec") or {}).get("nodeName")
        # A pod bound to a node: its node's taints may concern it.
        return [("", node)] if node and (old is None or (old.get("spec") or {}).get("nodeName") != node) else []

    def _pods_on(self, node: str) -> list[dict[str, Any]]:
        return [p for p in self.informer(PODS).list() if (p.get("spec") or {}).get("nodeName") == node]

    def reconcile(self, key: Any) -> None:
        _, name = key
        node = self.informer(NODES).get("", name)
        if node is None:
            self._delete_orphans(name)
            return
        now = self.clock.now()
        heartbeat = self._last_heartbeat(node, name)
        if heartbeat is not None and now - heartbeat >= GRACE_PERIOD_SECONDS:
            self._mark_unknown(node, now)
        else:
            if heartbeat is not None:
                self.requeue_after(key, heartbeat + GRACE_PERIOD_SECONDS - now)
            self._sync_taints(node, now)

    def _last_heartbeat(self, node: dict[str, Any], name: str) -> float | None:
        lease = self.informer(LEASES).get(NODE_LEASE_NAMESPACE, name)
        times = [_time(((lease or {}).get("spec") or {}).get("renewTime")),
                 _time((_condition(node, "Ready") or {}).get("lastHeartbeatTime"))]
        known = [t for t in times if t is not None]
        return max(known) if known else None

    def _mark_unknown(self, node: dict[str, Any], now: float) -> dict[str, Any]:
        ready = _condition(node, "Ready")
        if ready is not None and ready.get("status") != "Unknown":
            new = deep_copy(node)
            for condition in new["status"].get("conditions") or []:
                if condition.get("type") in CONDITIONS:
                    condition.update(status="Unknown", reason="NodeStatusUnknown",
                                     message="Kubelet stopped posting node status.",
                                     lastTransitionTime=rfc3339(now))
            node = self.client.update(NODES, new, subresource="status")
            self.ctx.recorder.event(node, "Normal", "NodeNotReady",
                                    f"Node {node['metadata']['name']} status is now: NodeNotReady",
                                    component=self.name)
            self._mark_pods_not_ready(node["metadata"]["name"], now)
        return self._sync_taints(node, now)

    def _mark_pods_not_ready(self, node_name: str, now: float) -> None:
        for pod in self._pods_on(node_name):
            ready = next((c for c in (pod.get("status") or {}).get("conditions") or []
                          if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "False":
                continue
            condition = {"type": "Ready", "status": "False", "lastProbeTime": None,
                         "lastTransitionTime": rfc3339(now)}
            self.ctx.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready", component=self.name)
            try:
                self.client.patch(PODS, pod["metadata"]["name"], {"status": {"conditions": [condition]}},
                                  pod["metadata"]["namespace"], patch_type="strategic", subresource="status")
            except StatusError as err:
                if err.code != 404:
                    raise

    def _wanted_taints(self, node: dict[str, Any], now: float) -> list[dict[str, Any]]:
        ready = (_condition(node, "Ready") or {}).get("status")
        key = UNREACHABLE if ready == "Unknown" else NOT_READY if ready == "False" else None
        wanted = [] if key is None else [{"key": key, "effect": effect, "timeAdded": rfc3339(now)}
                                         for effect in ("NoSchedule", "NoExecute")]
        if (_condition(node, "MemoryPressure") or {}).get("status") == "True":
            wanted.append({"key": MEMORY_PRESSURE, "effect": "NoSchedule"})
        return wanted

    def _sync_taints(self, node: dict[str, Any], now: float) -> dict[str, Any]:
        spec = node.get("spec") or {}
        taints = spec.get("taints") or []
        ours = [t for t in taints if t.get("key") in _OURS]
        others = [t for t in taints if t.get("key") not in _OURS]
        wanted = self._wanted_taints(node, now)
        if [(t["key"], t["effect"]) for t in ours] == [(t["key"], t["effect"]) for t in wanted]:
            return node
        new = deep_copy(node)
        new["spec"]["taints"] = others + wanted
        if not new["spec"]["taints"]:
            del new["spec"]["taints"]
        return self.client.update(NODES, new)

    def _delete_orphans(self, node_name: str) -> None:
        """Pods bound to a node that is gone can never stop gracefully: remove them (PodGC)."""
        for pod in self._pods_on(node_name):
            meta = pod["metadata"]
            try:
                self.client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=0)
            except StatusError as err:
                if err.code != 404:
                    raise

"""The disruption controller: keep each PodDisruptionBudget's status true to its pods.

For every budget it lists the pods its selector picks in its namespace, works out how
many are expected (the replicas of their controllers, or the pods themselves for an
integer ``minAvailable``) and how many must stay healthy, counts the healthy ones, and
writes ``currentHealthy``, ``desiredHealthy``, ``expectedPods``, ``disruptionsAllowed``,
``observedGeneration`` and the ``DisruptionAllowed`` condition (the arithmetic is in
:mod:`minik8s.api.disruption`). The Eviction API spends what it allows.

Interface:
    DisruptionController        # watches budgets and pods; a pod event wakes the budgets selecting it
    expected_scale(pods, get)   # sum of the replicas of the pods' controllers (a Deployment counts once)

Events (as upstream): ``NoPods`` when the selector matches nothing, ``CalculateExpectedPodCountFailed``
when a pod has no known controller.

Invariant: status is written only when it changed, so an idle cluster stays idle;
a budget with entries in ``disruptedPods`` is looked at again when the earliest times out.

How minik8s differs: see :mod:`minik8s.api.disruption` (``spec.replicas`` instead of
the scale subresource).

Taught in chapter 11 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable

from minik8s.api import disruption, resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Controller

Obj = dict[str, Any]
PDBS = resources.get("policy", "v1", "poddisruptionbudgets")
PODS = resources.get("", "v1", "pods")
REPLICASETS = resources.get("apps", "v1", "replicasets")
DEPLOYMENTS = resources.get("apps", "v1", "deployments")
STATEFULSETS = resources.get("apps", "v1", "statefulsets")
RCS = resources.get("", "v1", "replicationcontrollers")
assert None not in (PDBS, PODS, REPLICASETS, DEPLOYMENTS, STATEFULSETS, RCS)
COMPONENT = "controllermanager"   # the event source upstream's disruption controller names
_FINDERS = {("apps", "ReplicaSet"): REPLICASETS, ("apps", "StatefulSet"): STATEFULSETS,
            ("", "ReplicationController"): RCS}


def _controller_ref(obj: Obj) -> Obj | None:
    return next((r for r in (obj.get("metadata") or {}).get("ownerReferences") or [] if r.get("controller")), None)


def expected_scale(pods: list[Obj], get: Callable[[Resource, str, str], Obj | None]) -> int:
    """Upstream ``getExpectedScale``: each controller's replicas, once; ValueError names a pod without one."""
    seen: dict[str, int] = {}
    for pod in pods:
        meta = pod["metadata"]
        ref = _controller_ref(pod)
        if ref is None:
            raise ValueError(f'found no controller ref for pod "{meta["name"]}"')
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        resource = _FINDERS.get((group, str(ref.get("kind"))))
        owner = get(resource, meta.get("namespace", ""), ref.get("name", "")) if resource else None
        if owner is None or owner["metadata"].get("uid") != ref.get("uid"):
            raise ValueError(f'found no controllers for pod "{meta["name"]}"')
        parent = _controller_ref(owner)
        if resource is REPLICASETS and parent is not None and parent.get("kind") == "Deployment":
            deployment = get(DEPLOYMENTS, meta.get("namespace", ""), parent.get("name", ""))
            if deployment is not None and deployment["metadata"].get("uid") == parent.get("uid"):
                owner = deployment
        replicas = (owner.get("spec") or {}).get("replicas")
        seen[owner["metadata"]["uid"]] = 1 if replicas is None else int(replicas)
    return sum(seen.values())


class DisruptionController(Controller):
    name = "disruption-controller"
    watches = (PDBS, PODS)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource is PDBS:
            return [(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])]
        namespace = obj["metadata"].get("namespace", "")
        return [(namespace, b["metadata"]["name"]) for b in self.informer(PDBS).list(namespace)
                if disruption.selects(b, obj) or (old is not None and disruption.selects(b, old))]

    def _get(self, resource: Resource, namespace: str, name: str) -> Obj | None:
        return self.informer(resource).get(namespace, name)

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        pdb = self.informer(PDBS).get(namespace, name)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return
        pods = [p for p in self.informer(PODS).list(namespace) if disruption.selects(pdb, p)]
        if not pods:
            self.ctx.recorder.event(pdb, "Normal", "NoPods", "No matching pods found", component=COMPONENT)
        now = self.clock.now()
        status = disruption.compute_status(pdb, pods, lambda: expected_scale(pods, self._get), now,
                                           pdb.get("status"))
        failed = next((c for c in status["conditions"] if c.get("reason") == disruption.SYNC_FAILED), None)
        if failed is not None:
            self.ctx.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                    f"Failed to calculate the number of expected pods: {failed['message']}",
                                    component=COMPONENT)
        expiry = disruption.next_expiry(status)
        if expiry is not None:
            self.requeue_after(key, expiry - now + 0.001)
        if status == (pdb.get("status") or {}):
            return
        new = dict(pdb)
        new["status"] = status
        try:
            self.client.update(PDBS, new, namespace, subresource="status")
        except StatusError as err:
            if err.code != 404:
                raise

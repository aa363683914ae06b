"""VolumeBinding: a pod goes only where its PersistentVolumeClaims can be used.

A claim that is already bound brings its volume's ``spec.nodeAffinity`` with it: a
local disk on ``node-2`` pulls every pod that uses it to ``node-2``. A claim whose
StorageClass says ``volumeBindingMode: WaitForFirstConsumer`` is still unbound when
its first pod is scheduled, and the scheduler decides for it, node by node:

* a matching Available volume usable from the node (the same rules the PV controller
  binds by, :func:`minik8s.api.storage.find_best_match`, plus node affinity), or else
* a class that can provision there (a provisioner, and ``allowedTopologies`` that admit
  the node).

Once a node is chosen, PreBind makes it so through the API: a static volume is
pre-bound to the claim (``spec.claimRef``), a claim to provision is annotated
``volume.kubernetes.io/selected-node: <node>``. The PV controller then binds or
provisions (on that node), and the pod is bound once all its claims are.

Extension points and upstream's wording:

    PreFilter  Skip without claims (``persistentVolumeClaim`` or ``ephemeral`` volumes);
               ``persistentvolumeclaim "x" not found`` (for an ephemeral volume:
               ``waiting for ephemeral volume controller to create the persistentvolumeclaim "x"``,
               or, if the pod does not own it, ``PVC ns/x was not created for pod ns/p (pod is not owner)``);
               ``pod has unbound immediate PersistentVolumeClaims`` (an Immediate claim
               is the PV controller's business: wait for it)
    Filter     ``node(s) had volume node affinity conflict`` (a bound volume),
               ``node(s) didn't find available persistent volumes to bind`` (an unbound claim),
               ``node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)``
    PreBind    the API writes above; wait until every claim is bound (``ready``)

Every reason is UnschedulableAndUnresolvable: evicting pods does not move a disk.

How minik8s differs: no storage capacity tracking (CSIStorageCapacity) and no scoring
by capacity; upstream's PreBind blocks (up to ten minutes), minik8s's scheduler keeps the
pod assumed on its node and binds it when the claims' updates arrive.

Taught in chapter 15 (storage) and chapter 11 (scheduling).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minik8s.api import resources
from minik8s.api.objects import deep_copy
from minik8s.api.storage import (ANN_SELECTED_NODE, can_provision, claim_class, claim_is_for_pod, class_allows_node,
                                 find_best_match, pod_claim_names, volume_fits_node, waits_for_first_consumer)
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo, StorageListers
from minik8s.scheduler.framework import SKIP, CycleState, Plugin, Reason, Status, register

PVCS = resources.get("", "v1", "persistentvolumeclaims")
PVS = resources.get("", "v1", "persistentvolumes")
assert PVCS is not None and PVS is not None

REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"

Obj = dict[str, Any]


@dataclass
class PodVolumes:
    """What binding the pod's claims on one node takes: volumes to pre-bind, claims to provision."""

    static: list[tuple[Obj, Obj]] = field(default_factory=list)  # (claim, volume)
    provision: list[Obj] = field(default_factory=list)


@dataclass
class _State:
    bound: list[Obj]            # claims with spec.volumeName
    delayed: list[Obj]          # unbound WaitForFirstConsumer claims
    volumes: dict[str, Obj]     # every PV by name
    storage: StorageListers
    decisions: dict[str, PodVolumes] = field(default_factory=dict)  # node -> what Filter found there


def claims_of(pod: Obj, storage: StorageListers) -> list[Obj] | Status:
    """The pod's claims, or why the pod cannot be scheduled at all (missing, deleted, not its own)."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    claims = []
    for name, ephemeral in dict(pod_claim_names(pod)).items():  # a claim mounted twice is bound once
        claim = storage.claim(namespace, name)
        if claim is None:
            # Normal for a moment after an ephemeral volume's pod is created: say so.
            why = (f'waiting for ephemeral volume controller to create the persistentvolumeclaim "{name}"'
                   if ephemeral else f'persistentvolumeclaim "{name}" not found')
            return Status("UnschedulableAndUnresolvable", (why,))
        if (claim.get("status") or {}).get("phase") == "Lost":
            return Status("UnschedulableAndUnresolvable", (f'persistentvolumeclaim "{name}" bound to non-existent '
                                                           f'persistentvolume "{claim["spec"].get("volumeName")}"',))
        if (claim.get("metadata") or {}).get("deletionTimestamp"):
            return Status("UnschedulableAndUnresolvable", (f'persistentvolumeclaim "{name}" is being deleted',))
        if ephemeral and (problem := claim_is_for_pod(pod, claim)) is not None:
            return Status("UnschedulableAndUnresolvable", (problem,))
        claims.append(claim)
    return claims


def unbound(claims: list[Obj]) -> list[Obj]:
    return [c for c in claims if not (c.get("spec") or {}).get("volumeName")]


class VolumeBinding(Plugin):
    name = "VolumeBinding"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        if not pod_claim_names(pod.pod):
            return SKIP
        storage = cache.storage
        claims = claims_of(pod.pod, storage)
        if isinstance(claims, Status):
            return claims
        delayed = []
        for claim in unbound(claims):
            if not waits_for_first_consumer(storage.storage_class(claim_class(claim))):
                return Status("UnschedulableAndUnresolvable", (REASON_UNBOUND_IMMEDIATE,))
            delayed.append(claim)
        bound = [c for c in claims if c not in delayed]
        volumes = {pv["metadata"]["name"]: pv for pv in storage.volumes()}
        state[self.name] = _State(bound, delayed, volumes, storage)
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        s: _State = state[self.name]
        labels = node.labels
        reasons = []
        pv_missing = False
        for claim in s.bound:
            pv = s.volumes.get(claim["spec"]["volumeName"])
            if pv is None:
                pv_missing = True
            elif not volume_fits_node(pv, labels, node.name):
                reasons.append(REASON_NODE_CONFLICT)
                break
        decision = self._find_volumes(s, labels, node.name)
        if decision is None:
            reasons.append(REASON_BIND_CONFLICT)
        if pv_missing:
            reasons.append(REASON_PV_NOT_EXIST)
        if reasons:
            return reasons[0] if len(reasons) == 1 else tuple(reasons)
        assert decision is not None
        s.decisions[node.name] = decision
        return None

    def _find_volumes(self, s: _State, labels: dict[str, str], node_name: str) -> PodVolumes | None:
        """Upstream's FindPodVolumes for one node: how each unbound claim would be bound there."""
        decision = PodVolumes()
        chosen: set[str] = set()
        for claim in s.delayed:
            selected = (claim["metadata"].get("annotations") or {}).get(ANN_SELECTED_NODE)
            if not selected:
                pv = find_best_match(claim, list(s.volumes.values()), (labels, node_name), delay_binding=True,
                                     excluded=frozenset(chosen))
                if pv is not None:
                    chosen.add(pv["metadata"]["name"])
                    decision.static.append((claim, pv))
                    continue
            elif selected != node_name:
                return None  # provisioning was already asked for on another node
            sc = s.storage.storage_class(claim_class(claim))
            if sc is None or not can_provision(sc) or not class_allows_node(sc, labels):
                return None
            decision.provision.append(claim)
        return decision

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str, client: Any) -> bool:
        s: _State | None = state.get(self.name)
        if s is None or not s.delayed:
            return True
        decision = s.decisions[node_name]
        for claim, pv in decision.static:
            # Pre-bind the volume to the claim; the PV controller completes the binding.
            new = deep_copy(pv)
            meta = claim["metadata"]
            new["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": meta.get("namespace"),
                                       "name": meta["name"], "uid": meta.get("uid"), "apiVersion": "v1",
                                       "resourceVersion": meta.get("resourceVersion")}
            new["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
            client.update(PVS, new)
        for claim in decision.provision:
            meta = claim["metadata"]
            if (meta.get("annotations") or {}).get(ANN_SELECTED_NODE) != node_name:
                client.patch(PVCS, meta["name"], {"metadata": {"annotations": {ANN_SELECTED_NODE: node_name}}},
                             meta.get("namespace"))
        return False

    def ready(self, pod: Obj, cache: Cache) -> bool:
        claims = claims_of(pod, cache.storage)
        return not isinstance(claims, Status) and not unbound(claims)


register(VolumeBinding.name, VolumeBinding)

"""The StatefulSet controller: pods with a stable identity and their own storage.

A ReplicaSet's pods are interchangeable cattle with random names. A
StatefulSet's pods are pets: ``web-0``, ``web-1``, ``web-2``, each with a stable
name, a stable DNS name (``spec.hostname`` = the pod's name, ``spec.subdomain`` =
the set's ``serviceName``, so ``web-0.nginx.default.svc.cluster.local`` once the
headless Service ``nginx`` exists) and its own PersistentVolumeClaims, one per
``volumeClaimTemplates`` entry, named ``<claim>-<set>-<ordinal>`` (``www-web-0``).
Claims outlive their pods: when ``web-1`` is deleted, the controller makes a new
``web-1`` that mounts the very same ``www-web-1``, data and all.

Ordering (``podManagementPolicy``):
    * ``OrderedReady`` (default): create ``web-0``, wait until it is Running and
      Ready, then ``web-1``...; scale down from the highest ordinal, one at a
      time; and stop altogether while any pod is unhealthy;
    * ``Parallel``: create and delete all at once, unhealthy pods or not.

Updates (``updateStrategy``):
    * ``RollingUpdate`` (default): delete one pod at a time, from the highest
      ordinal down, waiting for each replacement to be Running and Ready; pods
      with an ordinal below ``partition`` keep the old template;
    * ``OnDelete``: new pods get the new template, old ones stay until you delete them.

History lives in ControllerRevisions (:mod:`minik8s.controllers.history`); each
pod is labelled ``controller-revision-hash: <revision name>``, and the status
reports ``currentRevision`` (the template most pods run) and ``updateRevision``
(the template being rolled out).

Interface:
    decide(sts, pods, update_revision, now) -> list[Action]   # the pure decision, upstream's updateStatefulSet
    compute_status(sts, pods, current, update, collision_count, now) -> status
    new_pod(sts, template, ordinal, revision) / claims_for(sts, pod) -> the objects to create
    StatefulSetController(ctx)                                    # name "statefulset-controller"

Events (as upstream): ``SuccessfulCreate`` ``create Pod web-0 in StatefulSet web successful``,
``SuccessfulCreate`` ``create Claim www-web-0 Pod web-0 in StatefulSet web success``,
``SuccessfulDelete`` ``delete Pod web-1 in StatefulSet web successful``, and
``RecreatingFailedPod`` when a failed pod is replaced.

How minik8s differs: the alpha ``maxUnavailable`` rolling update field is ignored
(upstream ignores it too unless a feature gate is on); a pod whose identity or
volumes were edited by hand is not repaired; revisions are not adopted from a
deleted-and-recreated set. Upstream does not check that ``serviceName`` names an
existing Service, and neither does minik8s: the pods run, but their DNS names
only resolve once the headless Service exists.

Taught in chapter 8 (StatefulSets).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import from_label_selector
from minik8s.clock import parse_rfc3339
from minik8s.controllers import history
from minik8s.controllers.controller import Context, Controller, object_key
from minik8s.controllers.podcontrol import PodControl, controller_of, is_pod_ready, pod_from_template

STATEFULSETS = resources.get("apps", "v1", "statefulsets")
PODS = resources.get("", "v1", "pods")
PVCS = resources.get("", "v1", "persistentvolumeclaims")
assert STATEFULSETS is not None and PODS is not None and PVCS is not None
REVISIONS = history.REVISIONS

Obj = dict[str, Any]

REVISION_LABEL = "controller-revision-hash"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# --- identity -----------------------------------------------------------------------------


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """``web-2`` → ("web", 2); ("", -1) for a name that is not ``<parent>-<ordinal>``."""
    match = _ORDINAL.match((pod.get("metadata") or {}).get("name", ""))
    return (match.group(1), int(match.group(2))) if match else ("", -1)


def is_member(sts: Obj, pod: Obj) -> bool:
    return parent_and_ordinal(pod)[0] == sts["metadata"]["name"]


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{sts['metadata']['name']}-{ordinal}"


def claim_name(template: Obj, sts: Obj, ordinal: int) -> str:
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{ordinal}"


def start_ordinal(sts: Obj) -> int:
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def revision_of(pod: Obj) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, ""))


def new_pod(sts: Obj, template: Obj, ordinal: int, revision: str) -> Obj:
    """The pod for ``ordinal`` made from ``template`` (``newStatefulSetPod`` + identity + storage)."""
    meta = sts["metadata"]
    name = pod_name(sts, ordinal)
    pod = pod_from_template(template, sts, meta.get("namespace", "default"), name=name)
    labels = pod["metadata"].setdefault("labels", {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_LABEL] = revision
    pod["spec"]["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    _attach_claims(sts, pod, ordinal)
    return pod


def _attach_claims(sts: Obj, pod: Obj, ordinal: int) -> None:
    """Each claim template becomes a volume of the same name pointing at this ordinal's claim,
    replacing a template volume of that name (``updateStorage``)."""
    templates = (sts.get("spec") or {}).get("volumeClaimTemplates") or []
    names = {t["metadata"]["name"] for t in templates}
    volumes = [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in names]
    for t in templates:
        volumes.append({"name": t["metadata"]["name"],
                        "persistentVolumeClaim": {"claimName": claim_name(t, sts, ordinal)}})
    if volumes:
        pod["spec"]["volumes"] = volumes


def claims_for(sts: Obj, ordinal: int) -> list[Obj]:
    """The PVCs ``ordinal`` needs: each template, renamed, labelled with the set's selector."""
    claims = []
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    retention = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        claim = deep_copy(template)
        claim.pop("status", None)
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        meta = claim["metadata"] = {k: v for k, v in (claim.get("metadata") or {}).items()
                                    if k in ("labels", "annotations")}
        meta["name"] = claim_name(template, sts, ordinal)
        meta["namespace"] = sts["metadata"].get("namespace", "default")
        meta["labels"] = {**(meta.get("labels") or {}), **selector_labels}
        if retention.get("whenDeleted") == "Delete":
            # The garbage collector deletes the claim with the set.
            meta["ownerReferences"] = [_owner_ref(sts)]
        claims.append(claim)
    return claims


def _owner_ref(owner: Obj) -> Obj:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"]}


# --- health -------------------------------------------------------------------------------


def _phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_running_and_ready(pod: Obj) -> bool:
    return _phase(pod) == "Running" and is_pod_ready(pod)


def ready_wait(pod: Obj, min_ready: float, now: float) -> float:
    """Seconds until a ready pod counts as available (0 when it already does)."""
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") == "True":
            since = parse_rfc3339(cond["lastTransitionTime"]) if cond.get("lastTransitionTime") else 0.0
            return max(since + min_ready - now, 0.0)
    return float("inf")


def is_available(pod: Obj, min_ready: float, now: float) -> bool:
    return is_running_and_ready(pod) and (min_ready <= 0 or ready_wait(pod, min_ready, now) == 0)


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


# --- the decision -------------------------------------------------------------------------


@dataclass
class Action:
    """One step: ``create`` an ordinal (from the current or the update template) or ``delete`` a pod."""
    verb: str                   # "create" | "delete"
    ordinal: int
    pod: Obj | None = None      # for delete
    current: bool = False       # for create: use the current revision (ordinal below the partition)
    reason: str = ""            # for delete: "failed", "terminated", "scale", "update"


def _uses_current(sts: Obj, ordinal: int) -> bool:
    """Pods below the partition are (re)created from the current revision (``newVersionedStatefulSetPod``)."""
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return False
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    return ordinal < start_ordinal(sts) + partition


def decide(sts: Obj, pods: list[Obj], update_revision: str, now: float) -> list[Action]:
    """What to do next, given the set's pods (upstream's ``updateStatefulSet``, one pass).

    OrderedReady returns at the first step that must be waited for; Parallel does every
    create and delete it can at once. The rolling update step runs only once every
    replica exists and nothing earlier blocked."""
    spec = sts.get("spec") or {}
    start, count = start_ordinal(sts), int(spec.get("replicas", 1))
    monotonic = spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
    min_ready = float(spec.get("minReadySeconds") or 0)
    slots: dict[int, Obj | None] = {o: None for o in range(start, start + count)}
    condemned: list[Obj] = []
    for pod in pods:
        ordinal = parent_and_ordinal(pod)[1]
        (slots.__setitem__(ordinal, pod) if ordinal in slots else condemned.append(pod))
    condemned.sort(key=lambda p: parent_and_ordinal(p)[1])
    unhealthy = [p for p in [*filter(None, slots.values()), *condemned] if not is_healthy(p)]
    first_unhealthy = min(unhealthy, key=lambda p: parent_and_ordinal(p)[1]) if unhealthy else None
    if (sts.get("metadata") or {}).get("deletionTimestamp"):
        return []
    actions: list[Action] = []
    if not _replicas(sts, slots, monotonic, min_ready, now, actions):
        return actions
    if not _condemned(condemned, monotonic, first_unhealthy, actions):
        return actions
    _rolling_update(sts, slots, update_revision, actions)
    return actions


def _replicas(sts: Obj, slots: dict[int, Obj | None], monotonic: bool, min_ready: float, now: float,
              actions: list[Action]) -> bool:
    """Create missing replicas and replace finished ones; False when OrderedReady must wait."""
    for ordinal, pod in slots.items():
        if pod is not None and _phase(pod) in ("Failed", "Succeeded"):
            if not is_terminating(pod):
                reason = "failed" if _phase(pod) == "Failed" else "terminated"
                actions.append(Action("delete", ordinal, pod=pod, reason=reason))
            if monotonic:
                return False
            continue
        if pod is None:
            actions.append(Action("create", ordinal, current=_uses_current(sts, ordinal)))
            if monotonic:
                return False
            continue
        if monotonic and (is_terminating(pod) or not is_available(pod, min_ready, now)):
            return False
    return True


def _condemned(condemned: list[Obj], monotonic: bool, first_unhealthy: Obj | None, actions: list[Action]) -> bool:
    """Delete pods beyond the replica count, highest ordinal first; False when OrderedReady must wait."""
    for pod in reversed(condemned):
        if is_terminating(pod):
            if monotonic:
                return False
            continue
        if monotonic and not is_running_and_ready(pod) and pod is not first_unhealthy:
            return False
        actions.append(Action("delete", parent_and_ordinal(pod)[1], pod=pod, reason="scale"))
        if monotonic:
            return False
    return True


def _rolling_update(sts: Obj, slots: dict[int, Obj | None], update_revision: str, actions: list[Action]) -> None:
    strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return  # OnDelete: pods change template only when someone deletes them
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    ordinals = sorted(slots)
    for index in range(len(ordinals) - 1, partition - 1, -1):
        pod = slots[ordinals[index]]
        if pod is None or any(a.ordinal == ordinals[index] for a in actions):
            return  # just created or replaced: wait for it
        if revision_of(pod) != update_revision and not is_terminating(pod):
            actions.append(Action("delete", ordinals[index], pod=pod, reason="update"))
            return
        if not is_healthy(pod):
            return


def compute_status(sts: Obj, pods: list[Obj], current: str, update: str, collision_count: int,
                   now: float) -> Obj:
    """The status upstream reports (``computeReplicaStatus`` + ``completeRollingUpdate``)."""
    min_ready = float((sts.get("spec") or {}).get("minReadySeconds") or 0)
    status: Obj = {"observedGeneration": sts["metadata"].get("generation", 0), "replicas": 0,
                   "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0, "availableReplicas": 0,
                   "currentRevision": current, "updateRevision": update, "collisionCount": collision_count}
    for pod in pods:
        status["replicas"] += 1
        if is_running_and_ready(pod):
            status["readyReplicas"] += 1
            status["availableReplicas"] += is_available(pod, min_ready, now)
        if not is_terminating(pod):
            status["currentReplicas"] += revision_of(pod) == current
            status["updatedReplicas"] += revision_of(pod) == update
    strategy = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    if strategy == "RollingUpdate" and status["updatedReplicas"] == status["replicas"] == status["readyReplicas"]:
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update
    return status


# --- the controller -----------------------------------------------------------------------


class StatefulSetController(Controller):
    name = "statefulset-controller"
    watches = (STATEFULSETS, PODS, REVISIONS, PVCS)

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.pods = PodControl(ctx.client, ctx.recorder, component=self.name)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource is STATEFULSETS:
            return [object_key(obj)]
        ref = controller_of(obj)
        namespace = obj["metadata"].get("namespace", "")
        if ref is not None:
            return [(namespace, ref["name"])] if ref.get("kind") == "StatefulSet" else []
        if resource is PODS:
            # An orphan may be adopted by the set whose name it carries.
            parent = parent_and_ordinal(obj)[0]
            return [(namespace, parent)] if parent and self.informer(STATEFULSETS).get(namespace, parent) else []
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        sts = self.informer(STATEFULSETS).get(namespace, name)
        if sts is None:
            return
        pods = self._claim_pods(sts)
        revisions = history.owned_revisions(self.informer(REVISIONS).list(namespace), sts)
        status = sts.get("status") or {}
        template_labels = ((sts["spec"].get("template") or {}).get("metadata") or {}).get("labels")
        update_rev, collisions = history.sync_revisions(self.client, sts, revisions, labels=template_labels,
                                                        collision_count=int(status.get("collisionCount") or 0))
        if all(r["metadata"]["name"] != update_rev["metadata"]["name"] for r in revisions):
            revisions.append(update_rev)
        current_rev = next((r for r in revisions if r["metadata"]["name"] == status.get("currentRevision")),
                           update_rev)
        now = self.clock.now()
        actions = decide(sts, pods, update_rev["metadata"]["name"], now)
        self._execute(sts, actions, pods, current_rev, update_rev)
        self._ensure_claims_of_pending(sts, pods)
        self._write_status(sts, pods, current_rev, update_rev, collisions, now)
        live = {current_rev["metadata"]["name"], update_rev["metadata"]["name"], *map(revision_of, pods)}
        history.truncate_history(self.client, history.sort_revisions(revisions), live,
                                 int(sts["spec"].get("revisionHistoryLimit", 10)))
        self._requeue_for_availability(key, sts, pods, now)

    def _claim_pods(self, sts: Obj) -> list[Obj]:
        selector = from_label_selector(sts["spec"].get("selector"))
        candidates = [p for p in self.informer(PODS).list(sts["metadata"].get("namespace")) if is_member(sts, p)]
        return sorted(self.pods.claim_pods(sts, selector, candidates), key=lambda p: parent_and_ordinal(p)[1])

    # --- executing ------------------------------------------------------------------------

    def _execute(self, sts: Obj, actions: list[Action], pods: list[Obj], current: Obj, update: Obj) -> None:
        for action in actions:
            if action.verb == "create":
                revision = current if action.current else update
                self._create(sts, action.ordinal, history.template_of(revision), revision["metadata"]["name"])
            else:
                assert action.pod is not None
                self._delete(sts, action.pod, action.reason)

    def _create(self, sts: Obj, ordinal: int, template: Obj, revision: str) -> None:
        pod = new_pod(sts, template, ordinal, revision)
        self._create_claims(sts, pod, ordinal)
        namespace = pod["metadata"]["namespace"]
        try:
            self.client.create(PODS, pod, namespace)
        except StatusError as err:
            if err.code == 409:
                return  # our cache is behind: it exists already
            self._event(sts, "Warning", "FailedCreate",
                        f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} failed "
                        f"error: {err.message}")
            raise
        self._event(sts, "Normal", "SuccessfulCreate",
                    f"create Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful")

    def _create_claims(self, sts: Obj, pod: Obj, ordinal: int) -> None:
        for claim in claims_for(sts, ordinal):
            meta = claim["metadata"]
            if self.informer(PVCS).get(meta["namespace"], meta["name"]) is not None:
                continue  # claims outlive pods: a returning pod gets its old claim back
            where = f"Claim {meta['name']} Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']}"
            try:
                self.client.create(PVCS, claim, meta["namespace"])
            except StatusError as err:
                if err.code == 409:
                    continue
                self._event(sts, "Warning", "FailedCreate",
                            f"create Claim {meta['name']} for Pod {pod['metadata']['name']} in StatefulSet "
                            f"{sts['metadata']['name']} failed error: {err.message}")
                raise
            self._event(sts, "Normal", "SuccessfulCreate", f"create {where} success")

    def _ensure_claims_of_pending(self, sts: Obj, pods: list[Obj]) -> None:
        """A pending pod whose claim was deleted gets it back (upstream, since 1.27)."""
        for pod in pods:
            if _phase(pod) == "Pending" and not is_terminating(pod):
                self._create_claims(sts, pod, parent_and_ordinal(pod)[1])

    def _delete(self, sts: Obj, pod: Obj, reason: str) -> None:
        meta, set_name = pod["metadata"], sts["metadata"]["name"]
        if reason in ("failed", "terminated"):
            word = "failed" if reason == "failed" else "terminated"
            event_reason = "RecreatingFailedPod" if reason == "failed" else "RecreatingTerminatedPod"
            self._event(sts, "Warning", event_reason,
                        f"StatefulSet {meta.get('namespace')}/{set_name} is recreating {word} Pod {meta['name']}")
        if reason == "scale" and ((sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {})
                                  .get("whenScaled") == "Delete"):
            self._hand_claims_to_pod(sts, pod)
        try:
            self.client.delete(PODS, meta["name"], meta.get("namespace"))
        except StatusError as err:
            if err.code == 404:
                return
            self._event(sts, "Warning", "FailedDelete",
                        f"delete Pod {meta['name']} in StatefulSet {set_name} failed error: {err.message}")
            raise
        self._event(sts, "Normal", "SuccessfulDelete",
                    f"delete Pod {meta['name']} in StatefulSet {set_name} successful")

    def _hand_claims_to_pod(self, sts: Obj, pod: Obj) -> None:
        """whenScaled: Delete — the claims of a condemned pod become owned by it, so the garbage
        collector removes them once the pod is gone (as upstream)."""
        for claim in claims_for(sts, parent_and_ordinal(pod)[1]):
            meta = claim["metadata"]
            current = self.informer(PVCS).get(meta["namespace"], meta["name"])
            if current is None:
                continue
            refs = current["metadata"].get("ownerReferences") or []
            if any(r.get("uid") == pod["metadata"].get("uid") for r in refs):
                continue
            new = deep_copy(current)
            new["metadata"]["ownerReferences"] = [*refs, _owner_ref(pod)]
            self.client.update(PVCS, new, meta["namespace"])

    def _event(self, sts: Obj, type_: str, reason: str, message: str) -> None:
        self.ctx.recorder.event(sts, type_, reason, message, component=self.name)

    # --- status ---------------------------------------------------------------------------

    def _write_status(self, sts: Obj, pods: list[Obj], current: Obj, update: Obj, collisions: int,
                      now: float) -> None:
        status = compute_status(sts, pods, current["metadata"]["name"], update["metadata"]["name"], collisions, now)
        old = sts.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()):
            return
        new = deep_copy(sts)
        new["status"] = {**old, **status}
        self.client.update(STATEFULSETS, new, sts["metadata"].get("namespace"), subresource="status")

    def _requeue_for_availability(self, key: Hashable, sts: Obj, pods: list[Obj], now: float) -> None:
        min_ready = float(sts["spec"].get("minReadySeconds") or 0)
        if min_ready <= 0:
            return
        waits = [ready_wait(p, min_ready, now) for p in pods if is_running_and_ready(p)]
        pending = [w for w in waits if 0 < w < float("inf")]
        if pending:
            self.requeue_after(key, min(pending))

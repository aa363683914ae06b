"""The ReplicaSet controller: keeps exactly ``spec.replicas`` pods matching a selector alive.

A ReplicaSet says "there should be N pods like this template, recognised by this
selector". The controller counts the active pods it controls; if there are too
few it creates pods from the template (named ``<rs-name>-<5 random chars>``,
with a controller ``ownerReference`` to the ReplicaSet), if there are too many it
deletes the ones that matter least. It also adopts orphan pods that match its
selector and releases pods it owns that stopped matching (relabel a pod to take
it out of service for debugging: the ReplicaSet lets go of it and makes a new one).

Interface:
    ReplicaSetController(ctx)                  # registered in minik8s.controllers.manager
    replicas_diff(rs, pods) -> int              # > 0: create that many; < 0: delete that many
    pods_to_delete(pods, related, count, now) -> pods     # upstream's getPodsToDelete ranking
    calculate_status(rs, pods, now, manage_error) -> status

Invariants:
    * at most ``burstReplicas`` (500) pods are created or deleted per sync;
    * a ReplicaSet never acts twice on the same decision: it records what it expects to
      see (:class:`~minik8s.controllers.podcontrol.Expectations`) and waits for the watch to
      show it, so a stale cache cannot create duplicates;
    * pods are created in batches of 1, 2, 4, ... ("slow start"): if the first one fails
      (a quota, a bad template), the rest are not even tried;
    * ``availableReplicas`` counts pods Ready for ``minReadySeconds``; the controller requeues
      itself for the instant the next pod becomes available.

Events (on the ReplicaSet, from ``replicaset-controller``): ``SuccessfulCreate`` ``Created pod: <name>``,
``SuccessfulDelete`` ``Deleted pod: <name>``, ``FailedCreate`` ``Error creating: <error>``.

How minik8s differs: creations and deletions run one after another, not in parallel
goroutines; the ranking's tie-breaks are made deterministic (by name) where upstream's sort
is unstable.

Taught in chapter 7 (ReplicaSets and Deployments).
"""

from __future__ import annotations

import math
from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import from_label_selector, LabelSelector
from minik8s.clock import parse_rfc3339, rfc3339
from minik8s.controllers.controller import Context, Controller
from minik8s.controllers.podcontrol import (Expectations, PodControl, controller_of, is_pod_active,
                                            is_pod_available, is_pod_ready, pod_key, pod_ready_since)

PODS = resources.get("", "v1", "pods")
REPLICASETS = resources.get("apps", "v1", "replicasets")
assert PODS is not None and REPLICASETS is not None

# Upstream's BurstReplicas: the most pods one sync creates or deletes.
BURST_REPLICAS = 500
# Upstream's SlowStartInitialBatchSize.
SLOW_START_INITIAL_BATCH = 1
# Annotation that lets a user say which pods to remove first on scale-down.
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"

Obj = dict[str, Any]


# --- the decision (pure) ---------------------------------------------------------------------


def replicas_diff(rs: Obj, pods: list[Obj]) -> int:
    """How many pods to create (positive) or delete (negative), capped at ``BURST_REPLICAS``."""
    wanted = (rs.get("spec") or {}).get("replicas", 1)
    diff = int(wanted) - len(pods)
    return max(min(diff, BURST_REPLICAS), -BURST_REPLICAS)


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _log2_rank(stamp: float | None, now: float) -> int:
    """Upstream compares ages on a log2 scale (LogarithmicScaleDown), so pods of similar age tie."""
    if stamp is None:
        return -1
    age_ns = (now - stamp) * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _restarts(pod: Obj) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _deletion_cost(pod: Obj) -> int:
    try:
        return int(((pod.get("metadata") or {}).get("annotations") or {}).get(DELETION_COST, 0))
    except ValueError:
        return 0


def _deletion_rank(pod: Obj, colocated: int, now: float) -> tuple[Any, ...]:
    """Sort key: pods that sort first are deleted first (upstream's ``ActivePodsWithRanks.Less``)."""
    meta = pod.get("metadata") or {}
    assigned = bool((pod.get("spec") or {}).get("nodeName"))
    phase = _PHASE_RANK.get((pod.get("status") or {}).get("phase", ""), 0)
    ready = is_pod_ready(pod)
    ready_since = pod_ready_since(pod) if ready else None
    created = parse_rfc3339(meta["creationTimestamp"]) if meta.get("creationTimestamp") else None
    return (
        assigned,                                   # 1. unassigned < assigned
        phase,                                      # 2. pending < unknown < running
        ready,                                      # 3. not ready < ready
        _deletion_cost(pod),                        # 4. lower pod-deletion-cost first
        -colocated,                                 # 5. more siblings on the same node first
        _log2_rank(ready_since, now) if ready else 0,  # 6. ready for less time first
        -_restarts(pod),                            # 7. more restarts first
        _log2_rank(created, now),                   # 8. newer first (log scale)
        meta.get("uid", ""),                        # 9. then by uid, as upstream
        meta.get("name", ""),
    )


def pods_to_delete(pods: list[Obj], related: list[Obj], count: int, now: float) -> list[Obj]:
    """The ``count`` pods that matter least (upstream's ``getPodsToDelete``). ``related`` are the pods
    of every ReplicaSet of the same owner, used to prefer nodes running several of them."""
    if count >= len(pods):
        return list(pods)
    per_node: dict[str, int] = {}
    for pod in related:
        node = (pod.get("spec") or {}).get("nodeName")
        if node and is_pod_active(pod):
            per_node[node] = per_node.get(node, 0) + 1
    ranked = sorted(pods, key=lambda p: _deletion_rank(p, per_node.get((p.get("spec") or {}).get("nodeName") or "",
                                                                         0), now))
    return ranked[:count]


def calculate_status(rs: Obj, pods: list[Obj], now: float, manage_error: StatusError | None) -> Obj:
    """The ReplicaSet's new status from the pods it controls (upstream's ``calculateStatus``)."""
    status = deep_copy(rs.get("status") or {})
    spec = rs.get("spec") or {}
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = float(spec.get("minReadySeconds") or 0)
    fully_labeled = ready = available = 0
    for pod in pods:
        labels = pod["metadata"].get("labels") or {}
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully_labeled += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    failure = next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - int(spec.get("replicas", 1))
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        status.setdefault("conditions", []).append({"type": "ReplicaFailure", "status": "True",
                                                    "lastTransitionTime": rfc3339(now), "reason": reason,
                                                    "message": manage_error.message})
    elif manage_error is None and failure is not None:
        status["conditions"] = [c for c in status["conditions"] if c.get("type") != "ReplicaFailure"]
        if not status["conditions"]:
            del status["conditions"]
    status["replicas"] = len(pods)
    status["fullyLabeledReplicas"] = fully_labeled
    status["readyReplicas"] = ready
    status["availableReplicas"] = available
    return status


def next_available_in(rs: Obj, pods: list[Obj], now: float) -> float | None:
    """Seconds until the next Ready pod has been ready for ``minReadySeconds`` (None: no such pod)."""
    min_ready = float((rs.get("spec") or {}).get("minReadySeconds") or 0)
    if min_ready <= 0:
        return None
    waits = [since + min_ready - now for since in (pod_ready_since(p) for p in pods)
             if since is not None and since + min_ready > now]
    return min(waits) if waits else None


# --- the controller ----------------------------------------------------------------------------


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    watches = (REPLICASETS, PODS)

    def __init__(self, ctx: Context):
        self.expectations = Expectations(ctx.clock)
        self.pod_control = PodControl(ctx.client, ctx.recorder, self.name)
        super().__init__(ctx)

    # Which ReplicaSets a pod event concerns; also where expectations are lowered.
    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource is REPLICASETS:
            return [(obj["metadata"].get("namespace", ""), obj["metadata"]["name"])]
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "")
        gone = self.informer(PODS).get(ns, meta.get("name", "")) is None
        keys: list[Hashable] = []
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("kind") != "ReplicaSet":
                return []
            key = (ns, ref["name"])
            if old is None and not gone:
                self.expectations.creation_observed(key)
            elif gone or (meta.get("deletionTimestamp")
                          and not ((old or {}).get("metadata") or {}).get("deletionTimestamp")):
                self.expectations.deletion_observed(key, pod_key(obj))
            keys.append(key)
        old_ref = controller_of(old) if old else None
        if old_ref is not None and old_ref.get("kind") == "ReplicaSet" and (ref is None or old_ref != ref):
            keys.append((ns, old_ref["name"]))
        if ref is None and not gone and is_pod_active(obj):
            # An orphan: any ReplicaSet whose selector matches may adopt it.
            labels = meta.get("labels") or {}
            for rs in self.informer(REPLICASETS).list(ns):
                if _selector(rs).matches(labels):
                    keys.append((ns, rs["metadata"]["name"]))
        return keys

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        rs = self.informer(REPLICASETS).get(namespace, name)
        if rs is None:
            self.expectations.forget(key)
            return
        now = self.clock.now()
        needs_sync = self.expectations.satisfied(key)
        selector = _selector(rs)
        # Its own pods and the orphans it may adopt: the informer's controller index spares a scan of
        # every pod in the namespace (pods controlled by others are never claimed anyway).
        pods_informer = self.informer(PODS)
        candidates = [p for p in pods_informer.by_controller(rs["metadata"]["uid"], namespace)
                      + pods_informer.by_controller("", namespace) if is_pod_active(p)]
        pods = self.pod_control.claim_pods(rs, selector, candidates, owner_alive=lambda: self._alive(rs))
        manage_error: StatusError | None = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            try:
                self._manage_replicas(key, rs, pods)
            except StatusError as err:
                manage_error = err
        status = calculate_status(rs, pods, now, manage_error)
        self._write_status(rs, status)
        if manage_error is not None:
            raise manage_error  # retried with back-off by the framework
        wait = next_available_in(rs, pods, now)
        if wait is not None:
            self.requeue_after(key, wait)

    def _alive(self, rs: Obj) -> bool:
        """Re-read the ReplicaSet from the server before adopting (upstream's RecheckDeletionTimestamp)."""
        try:
            fresh = self.client.get(REPLICASETS, rs["metadata"]["name"], rs["metadata"].get("namespace"))
        except StatusError:
            return False
        return bool(fresh["metadata"].get("uid") == rs["metadata"]["uid"]
                    and not fresh["metadata"].get("deletionTimestamp"))

    def _manage_replicas(self, key: Hashable, rs: Obj, pods: list[Obj]) -> None:
        diff = replicas_diff(rs, pods)
        if diff > 0:
            self._create(key, rs, diff)
        elif diff < 0:
            victims = pods_to_delete(pods, self._related_pods(rs), -diff, self.clock.now())
            self.expectations.expect_deletions(key, [pod_key(p) for p in victims])
            first_error: StatusError | None = None
            for pod in victims:
                try:
                    self.pod_control.delete_pod(rs, pod)
                except StatusError as err:
                    self.expectations.deletion_observed(key, pod_key(pod))
                    first_error = first_error or err
            if first_error is not None:
                raise first_error

    def _create(self, key: Hashable, rs: Obj, count: int) -> None:
        """Create ``count`` pods in batches of 1, 2, 4, ...; stop at the first batch with a failure."""
        self.expectations.expect_creations(key, count)
        template = (rs.get("spec") or {}).get("template") or {}
        created = 0
        batch = min(count, SLOW_START_INITIAL_BATCH)
        while created < count:
            error: StatusError | None = None
            for _ in range(batch):
                try:
                    self.pod_control.create_pod(rs, template, generate_name=f"{rs['metadata']['name']}-")
                except StatusError as err:
                    self.expectations.lower_creations(key)
                    error = error or err
            created += batch
            if error is not None:
                # The pods never attempted will never be observed either.
                self.expectations.lower_creations(key, count - created)
                raise error
            batch = min(2 * batch, count - created)

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet controlled by the same owner (a Deployment's old and new ReplicaSets)."""
        owner = controller_of(rs)
        ns = rs["metadata"].get("namespace", "")
        pods = self.informer(PODS)
        if owner is None:
            return pods.by_controller(rs["metadata"]["uid"], ns)
        siblings = self.informer(REPLICASETS).by_controller(str(owner.get("uid", "")), ns)
        return [p for sibling in siblings for p in pods.by_controller(sibling["metadata"]["uid"], ns)]

    def _write_status(self, rs: Obj, status: Obj) -> None:
        generation = rs["metadata"].get("generation", 1)
        old = rs.get("status") or {}
        if status == old and old.get("observedGeneration") == generation:
            return
        status["observedGeneration"] = generation
        new = deep_copy(rs)
        new["status"] = status
        self.client.update(REPLICASETS, new, rs["metadata"].get("namespace"), subresource="status")


def _selector(rs: Obj) -> LabelSelector:
    return from_label_selector((rs.get("spec") or {}).get("selector"))

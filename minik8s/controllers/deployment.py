"""The Deployment controller: rolls a pod template out through ReplicaSets.

A Deployment never creates pods. For each version of its pod template it owns a
ReplicaSet named ``<deployment>-<pod-template-hash>`` whose selector, template and
pods carry the ``pod-template-hash`` label, so the versions never fight over pods.
A rollout is the controller moving replicas from the old ReplicaSets to the new
one, within two limits:

* ``maxSurge``: at most ``replicas + maxSurge`` pods exist at any time;
* ``maxUnavailable``: at least ``replicas - maxUnavailable`` pods stay available.

``Recreate`` instead scales every old ReplicaSet to 0, waits until their pods are
gone, then scales the new one up. Resizing a Deployment mid-rollout spreads the
change over its ReplicaSets in proportion to their sizes. Every ReplicaSet carries a
``deployment.kubernetes.io/revision``; ``kubectl rollout undo`` copies an old
ReplicaSet's template back, and this controller finds that ReplicaSet again and
gives it the next revision. ``revisionHistoryLimit`` old ReplicaSets scaled to 0 are
kept for that purpose; older ones are deleted.

Interface: ``DeploymentController(ctx)``; the arithmetic is in :mod:`minik8s.controllers.rollout`.

Status and conditions, as upstream: ``Available`` (``MinimumReplicasAvailable`` /
``MinimumReplicasUnavailable``) and ``Progressing`` (``NewReplicaSetCreated``,
``FoundNewReplicaSet``, ``ReplicaSetUpdated``, ``NewReplicaSetAvailable``,
``ProgressDeadlineExceeded``, ``DeploymentPaused``, ``DeploymentResumed``), plus
``ReplicaFailure`` copied from a ReplicaSet. Events: ``ScalingReplicaSet``
``Scaled up replica set nginx-7f98958cdf to 2`` when a ReplicaSet is created at a size, and
``Scaled down replica set nginx-7f98958cdf to 1 from 2`` when one is resized (upstream's order: to, then from).

How minik8s differs: upstream writes the deployment's revision annotation together with
its status (its status strategy keeps metadata changes); minik8s' status subresource keeps
only status, so the annotation is written with a separate merge patch. The pod-template-hash
is computed differently (see :mod:`minik8s.controllers.rollout`). The long-deprecated
``rollbackTo`` field is not supported (kubectl has not used it for years).

Taught in chapter 7 (Deployments and rolling updates).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import LabelSelector, from_label_selector
from minik8s.clock import parse_rfc3339, rfc3339
from minik8s.controllers import rollout as ro
from minik8s.controllers.controller import Controller
from minik8s.controllers.podcontrol import claim, controller_of, controller_ref

DEPLOYMENTS = resources.get("apps", "v1", "deployments")
REPLICASETS = resources.get("apps", "v1", "replicasets")
PODS = resources.get("", "v1", "pods")
assert DEPLOYMENTS is not None and REPLICASETS is not None and PODS is not None

Obj = dict[str, Any]


class DeploymentController(Controller):
    name = "deployment-controller"
    watches = (DEPLOYMENTS, REPLICASETS, PODS)

    # --- which deployments an event concerns ----------------------------------------------

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "")
        if resource is DEPLOYMENTS:
            return [(ns, meta["name"])]
        if resource is REPLICASETS:
            return self._owners(ns, obj, old)
        # Pods matter only when they are gone: Recreate waits for the old ones to disappear.
        if self.informer(PODS).get(ns, meta.get("name", "")) is not None:
            return []
        ref = controller_of(obj)
        rs = self.informer(REPLICASETS).get(ns, ref["name"]) if ref and ref.get("kind") == "ReplicaSet" else None
        owner = controller_of(rs) if rs else None
        return [(ns, owner["name"])] if owner and owner.get("kind") == "Deployment" else []

    def _owners(self, ns: str, rs: Obj, old: Obj | None) -> list[Hashable]:
        keys: list[Hashable] = []
        for obj in (rs, old):
            ref = controller_of(obj) if obj else None
            if ref is not None and ref.get("kind") == "Deployment" and (ns, ref["name"]) not in keys:
                keys.append((ns, ref["name"]))
        if controller_of(rs) is None:
            labels = rs["metadata"].get("labels") or {}
            for d in self.informer(DEPLOYMENTS).list(ns):
                if _selector(d).matches(labels):
                    keys.append((ns, d["metadata"]["name"]))
        return keys

    # --- syncDeployment ------------------------------------------------------------------------

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        cached = self.informer(DEPLOYMENTS).get(namespace, name)
        if cached is None:
            return
        d = deep_copy(cached)
        if _selector(d).empty:
            self.ctx.recorder.event(d, "Warning", "SelectingAll",
                                    "This deployment is selecting all pods. A non-empty selector is required.",
                                    component=self.name)
            if int(_status(d).get("observedGeneration") or 0) < int(d["metadata"].get("generation") or 0):
                status = dict(_status(d), observedGeneration=d["metadata"].get("generation"))
                self._update_status(d, status)
            return
        rss = self._replica_sets_for(d)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = self._all_replica_sets(d, rss, create=False)
            self._sync_status(d, new_rs, old_rss)
            return
        d = self._check_paused_conditions(d)
        if (d.get("spec") or {}).get("paused"):
            self._sync(d, rss)
            return
        if self._is_scaling_event(d, rss):
            self._sync(d, rss)
            return
        if ((d["spec"].get("strategy") or {}).get("type") or "RollingUpdate") == "Recreate":
            self._rollout_recreate(d, rss)
        else:
            self._rollout_rolling(d, rss)

    def _replica_sets_for(self, d: Obj) -> list[Obj]:
        """The deployment's ReplicaSets, adopting orphans that match and releasing those that stopped matching."""
        ns = d["metadata"].get("namespace", "")
        candidates = self.informer(REPLICASETS).list(ns)
        return claim(self.client, REPLICASETS, d, _selector(d), candidates, owner_alive=lambda: self._alive(d))

    def _alive(self, d: Obj) -> bool:
        try:
            fresh = self.client.get(DEPLOYMENTS, d["metadata"]["name"], d["metadata"].get("namespace"))
        except StatusError:
            return False
        return bool(fresh["metadata"]["uid"] == d["metadata"]["uid"] and not fresh["metadata"].get("deletionTimestamp"))

    # --- paused, scaling -------------------------------------------------------------------------

    def _check_paused_conditions(self, d: Obj) -> Obj:
        if not ro.has_progress_deadline(d):
            return d
        cond = ro.get_condition(_status(d), "Progressing")
        if cond is not None and cond.get("reason") == ro.TIMED_OUT_REASON:
            return d  # a reported lack of progress is not overwritten by a paused condition
        paused_cond = cond is not None and cond.get("reason") == ro.PAUSED_REASON
        paused = bool(d["spec"].get("paused"))
        now = rfc3339(self.clock.now())
        status = deep_copy(_status(d))
        if paused and not paused_cond:
            ro.set_condition(status, ro.new_condition("Progressing", "Unknown", ro.PAUSED_REASON,
                                                      "Deployment is paused", now))
        elif not paused and paused_cond:
            ro.set_condition(status, ro.new_condition("Progressing", "Unknown", ro.RESUMED_REASON,
                                                      "Deployment is resumed", now))
        else:
            return d
        return self._update_status(d, status)

    def _is_scaling_event(self, d: Obj, rss: list[Obj]) -> bool:
        """A ReplicaSet was sized for a different number of replicas than the deployment now wants."""
        new_rs, old_rss = self._all_replica_sets(d, rss, create=False)
        for rs in ro.active(old_rss + [new_rs]):
            desired = ro.annotations_of(rs).get(ro.DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != ro.spec_replicas(d):
                return True
        return False

    def _sync(self, d: Obj, rss: list[Obj]) -> None:
        """Scaling or paused: resize proportionally, no rollout (upstream's ``sync``)."""
        new_rs, old_rss = self._all_replica_sets(d, rss, create=False)
        new_rs, old_rss = self._scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self._cleanup(d, old_rss)
        self._sync_status(d, new_rs, old_rss)

    def _scale(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> tuple[Obj | None, list[Obj]]:
        replicas = ro.spec_replicas(d)
        target = ro.find_active_or_latest(new_rs, old_rss)
        updated: dict[str, Obj] = {}
        if target is not None:
            if ro.spec_replicas(target) != replicas:
                _, updated[target["metadata"]["name"]] = self._scale_rs(d, target, replicas)
        elif ro.is_saturated(d, new_rs):
            for rs in ro.active(old_rss):
                _, updated[rs["metadata"]["name"]] = self._scale_rs(d, rs, 0)
        elif _is_rolling(d):
            sizes, operation = ro.proportional_sizes(d, new_rs, old_rss)
            for rs in ro.active(old_rss + ([new_rs] if new_rs else [])):
                _, updated[rs["metadata"]["name"]] = self._scale_rs(d, rs, sizes[rs["metadata"]["name"]],
                                                                    operation or None, annotate=True)
        swap = (lambda rs: updated.get(rs["metadata"]["name"], rs))
        return (swap(new_rs) if new_rs else None), [swap(rs) for rs in old_rss]

    # --- finding and creating the new ReplicaSet -------------------------------------------------------

    def _all_replica_sets(self, d: Obj, rss: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """(the new ReplicaSet or None, every old one), syncing revisions (``getAllReplicaSetsAndSyncRevision``)."""
        old_rss = ro.find_old_rss(d, rss)
        return self._new_replica_set(d, rss, old_rss, create), old_rss

    def _new_replica_set(self, d: Obj, rss: list[Obj], old_rss: list[Obj], create: bool) -> Obj | None:
        existing = ro.find_new_rs(d, rss)
        new_revision = ro.max_revision(old_rss) + 1
        now = rfc3339(self.clock.now())
        if existing is not None:
            rs = deep_copy(existing)
            changed = ro.set_new_rs_annotations(d, rs, new_revision, exists=True)
            min_ready = d["spec"].get("minReadySeconds", 0)
            if changed or (rs["spec"].get("minReadySeconds") or 0) != min_ready:
                rs["spec"]["minReadySeconds"] = min_ready
                return self.client.update(REPLICASETS, rs, rs["metadata"]["namespace"])
            self._set_revision(d, ro.annotations_of(rs).get(ro.REVISION, ""))
            if ro.has_progress_deadline(d) and ro.get_condition(_status(d), "Progressing") is None:
                status = deep_copy(_status(d))
                ro.set_condition(status, ro.new_condition("Progressing", "True", ro.FOUND_NEW_RS_REASON,
                                                          f'Found new replica set "{rs["metadata"]["name"]}"', now))
                self._update_status(d, status)
            return rs
        if not create:
            return None
        return self._create_new_rs(d, old_rss, new_revision, now)

    def _create_new_rs(self, d: Obj, old_rss: list[Obj], new_revision: int, now: str) -> Obj | None:
        spec = d["spec"]
        template = deep_copy(spec["template"])
        collisions = _status(d).get("collisionCount")
        hash_ = ro.pod_template_hash(template, collisions)
        template.setdefault("metadata", {})
        template["metadata"]["labels"] = {**(template["metadata"].get("labels") or {}), ro.HASH_LABEL: hash_}
        selector = deep_copy(spec["selector"])
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), ro.HASH_LABEL: hash_}
        ns = d["metadata"].get("namespace", "default")
        rs: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{d['metadata']['name']}-{hash_}", "namespace": ns,
                         "labels": dict(template["metadata"]["labels"]), "ownerReferences": [controller_ref(d)]},
            "spec": {"replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0), "selector": selector,
                     "template": template},
        }
        rs["spec"]["replicas"] = ro.new_rs_new_replicas(d, old_rss + [rs], rs)
        ro.set_new_rs_annotations(d, rs, new_revision, exists=False)
        already_exists = False
        try:
            created = self.client.create(REPLICASETS, rs, ns)
        except StatusError as err:
            if err.code == 409 and err.reason == "AlreadyExists":
                created = self._existing_or_collision(d, rs, err)
                already_exists = True
            elif err.code == 403:
                raise  # e.g. the namespace is terminating
            else:
                msg = f'Failed to create new replica set "{rs["metadata"]["name"]}": {err.message}'
                if ro.has_progress_deadline(d):
                    status = deep_copy(_status(d))
                    ro.set_condition(status, ro.new_condition("Progressing", "False", ro.FAILED_RS_CREATE_REASON,
                                                              msg, now))
                    self._update_status(d, status)
                self.ctx.recorder.event(d, "Warning", ro.FAILED_RS_CREATE_REASON, msg, component=self.name)
                raise
        replicas = ro.spec_replicas(rs)
        if not already_exists and replicas > 0:
            self.ctx.recorder.event(d, "Normal", "ScalingReplicaSet",
                                    f"Scaled up replica set {created['metadata']['name']} to {replicas}",
                                    component=self.name)
        self._set_revision(d, str(new_revision))
        if not already_exists and ro.has_progress_deadline(d):
            status = deep_copy(_status(d))
            ro.set_condition(status, ro.new_condition("Progressing", "True", ro.NEW_RS_REASON,
                                                      f'Created new replica set "{created["metadata"]["name"]}"',
                                                      now))
            self._update_status(d, status)
        return created

    def _existing_or_collision(self, d: Obj, rs: Obj, err: StatusError) -> Obj:
        """The name is taken: ours from an earlier sync (fine), or a hash collision (bump collisionCount)."""
        current = self.client.get(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
        ref = controller_of(current)
        if ref is not None and ref.get("uid") == d["metadata"]["uid"] and ro.equal_ignore_hash(
                d["spec"]["template"], current["spec"].get("template")):
            return current
        status = deep_copy(_status(d))
        status["collisionCount"] = int(status.get("collisionCount") or 0) + 1
        self._update_status(d, status)
        raise err

    def _set_revision(self, d: Obj, revision: str) -> None:
        """Copy the new ReplicaSet's revision onto the deployment (see "How minik8s differs")."""
        if not revision or ro.annotations_of(d).get(ro.REVISION) == revision:
            return
        patched = self.client.patch(DEPLOYMENTS, d["metadata"]["name"],
                                    {"metadata": {"annotations": {ro.REVISION: revision},
                                                  "resourceVersion": d["metadata"]["resourceVersion"]}},
                                    d["metadata"].get("namespace"))
        d["metadata"] = patched["metadata"]

    # --- scaling one ReplicaSet -------------------------------------------------------------------------

    def _scale_rs(self, d: Obj, rs: Obj, size: int, operation: str | None = None,
                  annotate: bool = False) -> tuple[bool, Obj]:
        """Resize a ReplicaSet (and refresh its desired/max-replicas annotations), recording ScalingReplicaSet.
        With ``annotate`` the annotations are refreshed even when the size stays (proportional scaling)."""
        old = ro.spec_replicas(rs)
        desired, max_replicas = ro.spec_replicas(d), ro.spec_replicas(d) + ro.max_surge(d)
        if old == size and not (annotate and ro.replicas_annotations_need_update(rs, desired, max_replicas)):
            return False, rs
        new = deep_copy(rs)
        new["spec"]["replicas"] = size
        ro.set_replicas_annotations(new, desired, max_replicas)
        updated = self.client.update(REPLICASETS, new, rs["metadata"]["namespace"])
        if old != size:
            verb = operation or ("up" if size > old else "down")
            self.ctx.recorder.event(d, "Normal", "ScalingReplicaSet",
                                    f"Scaled {verb} replica set {rs['metadata']['name']} to {size} from {old}",
                                    component=self.name)
        return old != size, updated

    # --- the two strategies ----------------------------------------------------------------------------

    def _rollout_rolling(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old_rss = self._all_replica_sets(d, rss, create=True)
        if new_rs is None:
            return
        # Scale up, if we can.
        target = ro.spec_replicas(d)
        if ro.spec_replicas(new_rs) != target:
            size = target if ro.spec_replicas(new_rs) > target else ro.new_rs_new_replicas(d, old_rss + [new_rs],
                                                                                           new_rs)
            scaled, new_rs = self._scale_rs(d, new_rs, size)
            if scaled:
                self._sync_rollout_status(d, new_rs, old_rss)
                return
        # Scale down, if we can.
        sizes = ro.old_rs_scale_down(d, [*old_rss, new_rs], ro.active(old_rss), new_rs)
        if sizes:
            old_rss = [self._scale_rs(d, rs, sizes[rs["metadata"]["name"]])[1]
                       if rs["metadata"]["name"] in sizes else rs for rs in old_rss]
            self._sync_rollout_status(d, new_rs, old_rss)
            return
        if ro.deployment_complete(d, _status(d)):
            self._cleanup(d, old_rss)
        self._sync_rollout_status(d, new_rs, old_rss)

    def _rollout_recreate(self, d: Obj, rss: list[Obj]) -> None:
        new_rs, old_rss = self._all_replica_sets(d, rss, create=False)
        scaled_down = False
        for rs in ro.active(old_rss):
            scaled, updated = self._scale_rs(d, rs, 0)
            scaled_down = scaled_down or scaled
            old_rss = [updated if r["metadata"]["name"] == rs["metadata"]["name"] else r for r in old_rss]
        if scaled_down or self._old_pods_running(d, new_rs, old_rss):
            self._sync_rollout_status(d, new_rs, old_rss)
            return
        if new_rs is None:
            new_rs, old_rss = self._all_replica_sets(d, rss, create=True)
            if new_rs is None:
                return
        _, new_rs = self._scale_rs(d, new_rs, ro.spec_replicas(d))
        if ro.deployment_complete(d, _status(d)):
            self._cleanup(d, old_rss)
        self._sync_rollout_status(d, new_rs, old_rss)

    def _old_pods_running(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        if ro.actual_replica_count(old_rss) > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old_rss}
        for pod in self.informer(PODS).list(d["metadata"].get("namespace", "")):
            ref = controller_of(pod)
            if ref is None or ref.get("uid") not in old_uids:
                continue
            if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                return True
        return False

    # --- clean-up ----------------------------------------------------------------------------------------

    def _cleanup(self, d: Obj, old_rss: list[Obj]) -> None:
        """Delete the oldest old ReplicaSets beyond ``revisionHistoryLimit`` (only those scaled to 0)."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        diff = len(alive) - int(limit)
        if diff <= 0:
            return
        alive.sort(key=lambda rs: (ro.revision(rs), *ro.by_creation(rs)))
        for rs in alive[:diff]:
            if (ro.status_of(rs, "replicas") != 0 or ro.spec_replicas(rs) != 0
                    or int(rs["metadata"].get("generation") or 0) > ro.status_of(rs, "observedGeneration")):
                continue
            try:
                self.client.delete(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
            except StatusError as err:
                if err.code != 404:
                    raise

    # --- status ------------------------------------------------------------------------------------------

    def _calculate_status(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> Obj:
        all_rss = [*old_rss, new_rs]
        available = ro.available_replica_count(all_rss)
        status = deep_copy(_status(d))
        status.update({
            "observedGeneration": d["metadata"].get("generation", 1),
            "replicas": ro.actual_replica_count(all_rss),
            "updatedReplicas": ro.actual_replica_count([new_rs]),
            "readyReplicas": ro.ready_replica_count(all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(ro.replica_count(all_rss) - available, 0),
        })
        now = rfc3339(self.clock.now())
        if available >= ro.spec_replicas(d) - ro.max_unavailable(d):
            ro.set_condition(status, ro.new_condition("Available", "True", ro.MIN_AVAILABLE_REASON,
                                                      "Deployment has minimum availability.", now))
        else:
            ro.set_condition(status, ro.new_condition("Available", "False", ro.MIN_UNAVAILABLE_REASON,
                                                      "Deployment does not have minimum availability.", now))
        return status

    def _sync_status(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        """Status only (scaling, paused, deleting): no Progressing bookkeeping."""
        status = self._calculate_status(d, new_rs, old_rss)
        if status != _status(d):
            self._update_status(d, status)

    def _sync_rollout_status(self, d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> None:
        status = self._calculate_status(d, new_rs, old_rss)
        now_t = self.clock.now()
        now = rfc3339(now_t)
        if not ro.has_progress_deadline(d):
            ro.remove_condition(status, "Progressing")
        current = ro.get_condition(_status(d), "Progressing")
        complete = (status.get("replicas") == status.get("updatedReplicas") and current is not None
                    and current.get("reason") == ro.NEW_RS_AVAILABLE_REASON)
        rs_name = new_rs["metadata"]["name"] if new_rs else None
        if ro.has_progress_deadline(d) and not complete:
            if ro.deployment_complete(d, status):
                msg = (f'ReplicaSet "{rs_name}" has successfully progressed.' if rs_name
                       else f'Deployment "{d["metadata"]["name"]}" has successfully progressed.')
                ro.set_condition(status, ro.new_condition("Progressing", "True", ro.NEW_RS_AVAILABLE_REASON, msg, now))
            elif ro.deployment_progressing(d, status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if rs_name
                       else f'Deployment "{d["metadata"]["name"]}" is progressing.')
                cond = ro.new_condition("Progressing", "True", ro.RS_UPDATED_REASON, msg, now)
                if current is not None:
                    # Progress refreshes lastUpdateTime even when the reason stays the same.
                    if current.get("status") == "True":
                        cond["lastTransitionTime"] = current.get("lastTransitionTime")
                    ro.remove_condition(status, "Progressing")
                ro.set_condition(status, cond)
            elif ro.deployment_timed_out(d, status, now_t, parse_rfc3339):
                msg = (f'ReplicaSet "{rs_name}" has timed out progressing.' if rs_name
                       else f'Deployment "{d["metadata"]["name"]}" has timed out progressing.')
                ro.set_condition(status, ro.new_condition("Progressing", "False", ro.TIMED_OUT_REASON, msg, now))
        failure = _replica_failure(new_rs, old_rss)
        if failure is not None:
            ro.set_condition(status, failure)
        else:
            ro.remove_condition(status, "ReplicaFailure")
        if status == _status(d):
            self._requeue_stuck(d, status, now_t)
            return
        self._update_status(d, status)
        self._requeue_stuck(d, status, now_t)

    def _requeue_stuck(self, d: Obj, status: Obj, now: float) -> None:
        """Come back when the progress deadline would pass, to report ProgressDeadlineExceeded on time."""
        current = ro.get_condition(status, "Progressing")
        if not ro.has_progress_deadline(d) or current is None:
            return
        if ro.deployment_complete(d, status) or current.get("reason") == ro.TIMED_OUT_REASON:
            return
        deadline = parse_rfc3339(current["lastUpdateTime"]) + float(d["spec"]["progressDeadlineSeconds"])
        key = (d["metadata"].get("namespace", ""), d["metadata"]["name"])
        if deadline - now < 1.0:
            # Less than a second left (or long past, as when a Deployment complete for a while is scaled up):
            # upstream looks again rate-limited, not at once; at once would spin without the clock moving.
            _, delay = self._back_off(key)
            self.requeue_after(key, delay)
            return
        # Upstream adds a second so that "deadline < now" holds when it looks again.
        self.requeue_after(key, deadline - now + 1.0)

    def _update_status(self, d: Obj, status: Obj) -> Obj:
        new = deep_copy(d)
        new["status"] = status
        written = self.client.update(DEPLOYMENTS, new, d["metadata"].get("namespace"), subresource="status")
        d["metadata"], d["status"] = written["metadata"], written.get("status") or {}
        return d


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def _is_rolling(d: Obj) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"


def _selector(obj: Obj) -> LabelSelector:
    return from_label_selector((obj.get("spec") or {}).get("selector"))


def _replica_failure(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """A ReplicaSet's ReplicaFailure condition, the new ReplicaSet's first, as a deployment condition."""
    for rs in ([new_rs] if new_rs else []) + old_rss:
        for cond in _status(rs).get("conditions") or []:
            if cond.get("type") == "ReplicaFailure":
                return {"type": "ReplicaFailure", "status": cond.get("status"),
                        "lastUpdateTime": cond.get("lastTransitionTime"),
                        "lastTransitionTime": cond.get("lastTransitionTime"),
                        "reason": cond.get("reason"), "message": cond.get("message")}
    return None

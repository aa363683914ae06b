"""Rollout math: the pure functions behind a Deployment's rolling update.

Everything here is arithmetic on plain ReplicaSet and Deployment dicts; nothing
talks to the API. The Deployment controller (:mod:`minik8s.controllers.deployment`)
calls these to decide *how many* replicas each ReplicaSet should have, then writes
the answer. Tests call them directly, as upstream's unit tests call
``deploymentutil`` (``k8s.io/kubernetes/pkg/controller/deployment/util``).

Interface:
    scaled_value(int_or_percent, total, round_up) -> int
    resolve_fenceposts(max_surge, max_unavailable, desired) -> (surge, unavailable)
    max_surge(d), max_unavailable(d)
    new_rs_new_replicas(d, all_rss, new_rs) -> int          # how far the new RS may grow now
    old_rs_scale_down(d, all_rss, old_rss, new_rs) -> {name: replicas}   # reconcileOldReplicaSets
    proportional_sizes(d, new_rs, old_rss) -> {name: replicas}           # scaling mid-rollout
    pod_template_hash(template, collision_count) -> "7f98958cdf"
    equal_ignore_hash(t1, t2), find_new_rs(d, rss), find_old_rss(d, rss)
    revision(rs), max_revision(rss), set_new_rs_annotations(d, rs, revision, exists) -> changed
    deployment_complete(d, status), deployment_progressing(d, status), deployment_timed_out(d, status, now)
    set_condition(status, cond), get_condition(status, type), new_condition(type, status, reason, msg, now)

Invariants (upstream's, checked by tests/test_deployment.py):
    * during a rolling update the sum of ReplicaSet sizes never exceeds
      ``replicas + maxSurge``;
    * old ReplicaSets are scaled down only while the available pods stay at least
      ``replicas - maxUnavailable``;
    * ``maxSurge`` rounds up, ``maxUnavailable`` rounds down, and if both come out 0
      ``maxUnavailable`` is 1 (otherwise nothing could ever move).

How minik8s differs: upstream's pod-template-hash is FNV-32a over Go's in-memory
dump of the PodTemplateSpec struct, which only Go can reproduce. minik8s hashes a
canonical JSON of the template (sorted keys, no spaces) with the same FNV-32a, mixes
in ``collisionCount`` the same way, and encodes the number with the same
"safe" alphabet, so names look alike (``nginx-7f98958cdf``) but are not the same
strings a real cluster would produce for the same template.

Taught in chapter 7 (Deployments and rolling updates).
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from minik8s.controllers.hashing import fnv32a, prune_nulls, safe_encode, template_hash  # noqa: F401

Obj = dict[str, Any]

HASH_LABEL = "pod-template-hash"  # apps/v1 DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
CHANGE_CAUSE = "kubernetes.io/change-cause"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
# Deployment annotations never copied to its ReplicaSets (upstream's annotationsToSkip).
SKIP_ANNOTATIONS = {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
# Upstream caps the revision-history annotation at this many characters.
MAX_REVISION_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Condition reasons (k8s.io/kubernetes/pkg/controller/deployment/util).
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"



# --- small accessors ---------------------------------------------------------------------


def spec_replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_of(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def annotations_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _int_annotation(obj: Obj, key: str) -> int | None:
    try:
        return int(annotations_of(obj)[key])
    except (KeyError, ValueError):
        return None


# --- maxSurge and maxUnavailable -----------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An IntOrString as a count: ``3`` is 3, ``"25%"`` of 10 is 3 rounded up or 2 rounded down
    (upstream's ``intstr.GetScaledValueFromIntOrPercent``)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value)
    if not text.endswith("%"):
        return int(text)
    percent = int(text[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def _rolling(d: Obj) -> Obj | None:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return None
    return strategy.get("rollingUpdate") or {"maxSurge": "25%", "maxUnavailable": "25%"}


def resolve_fenceposts(surge: int | str | None, unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as counts; both 0 would deadlock, so unavailable becomes 1."""
    max_surge_count = scaled_value(surge, desired, round_up=True)
    max_unavailable_count = scaled_value(unavailable, desired, round_up=False)
    if max_surge_count == 0 and max_unavailable_count == 0:
        # Validation forbids both being 0, but 0% of a small number is 0: let one pod go at a time.
        max_unavailable_count = 1
    return max_surge_count, max_unavailable_count


def max_surge(d: Obj) -> int:
    rolling = _rolling(d)
    if rolling is None:
        return 0
    surge, _ = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), spec_replicas(d))
    return surge


def max_unavailable(d: Obj) -> int:
    rolling = _rolling(d)
    replicas = spec_replicas(d)
    if rolling is None or replicas == 0:
        return 0
    _, unavailable = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas)
    return min(unavailable, replicas)


# --- counting over replica sets --------------------------------------------------------------


def _present(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None]


def replica_count(rss: Iterable[Obj | None]) -> int:
    """Sum of ``spec.replicas``: the pods the ReplicaSets are asked to have."""
    return sum(spec_replicas(rs) for rs in _present(rss))


def actual_replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(status_of(rs, "replicas") for rs in _present(rss))


def ready_replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(status_of(rs, "readyReplicas") for rs in _present(rss))


def available_replica_count(rss: Iterable[Obj | None]) -> int:
    return sum(status_of(rs, "availableReplicas") for rs in _present(rss))


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """ReplicaSets with at least one replica wanted (upstream's FilterActiveReplicaSets)."""
    return [rs for rs in _present(rss) if spec_replicas(rs) > 0]


def by_creation(rs: Obj) -> tuple[str, str]:
    """Sort key: oldest first, then by name (ReplicaSetsByCreationTimestamp)."""
    meta = rs.get("metadata") or {}
    return (meta.get("creationTimestamp") or "", meta.get("name") or "")


# --- the rolling update ------------------------------------------------------------------------


def new_rs_new_replicas(d: Obj, all_rss: Iterable[Obj | None], new_rs: Obj) -> int:
    """The size the new ReplicaSet may have now (upstream's ``NewRSNewReplicas``)."""
    replicas = spec_replicas(d)
    if _rolling(d) is None:
        return replicas  # Recreate: all at once (old ones are already gone)
    current = replica_count(all_rss)
    max_total = replicas + max_surge(d)
    if current >= max_total:
        return spec_replicas(new_rs)  # no room to surge
    scale_up = min(max_total - current, replicas - spec_replicas(new_rs))
    return spec_replicas(new_rs) + scale_up


def old_rs_scale_down(d: Obj, all_rss: list[Obj | None], old_rss: list[Obj], new_rs: Obj | None) -> dict[str, int]:
    """New sizes for old ReplicaSets (upstream's ``reconcileOldReplicaSets``): first remove
    their unhealthy replicas (``cleanupUnhealthyReplicas``), then scale down available ones while
    at least ``replicas - maxUnavailable`` stay available. Returns {name: new size} for those that change."""
    if replica_count(old_rss) == 0:
        return {}
    all_pods = replica_count(all_rss)
    min_available = spec_replicas(d) - max_unavailable(d)
    new_unavailable = (spec_replicas(new_rs) - status_of(new_rs, "availableReplicas")) if new_rs else 0
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    sizes = {rs["metadata"]["name"]: spec_replicas(rs) for rs in old_rss}
    olds = sorted(old_rss, key=by_creation)
    # 1. Unhealthy replicas first: removing them cannot lower availability.
    cleaned = 0
    for rs in olds:
        if cleaned >= max_scaled_down:
            break
        name, size = rs["metadata"]["name"], sizes[rs["metadata"]["name"]]
        unhealthy = size - status_of(rs, "availableReplicas")
        if size == 0 or unhealthy <= 0:
            continue
        down = min(max_scaled_down - cleaned, unhealthy)
        sizes[name] = size - down
        cleaned += down
    # 2. Then available ones, as far as maxUnavailable allows.
    available = available_replica_count(all_rss)
    if available > min_available:
        budget = available - min_available
        scaled = 0
        for rs in olds:
            if scaled >= budget:
                break
            name = rs["metadata"]["name"]
            if sizes[name] == 0:
                continue
            down = min(sizes[name], budget - scaled)
            sizes[name] -= down
            scaled += down
    return {name: size for name, size in sizes.items() if size != spec_replicas(_by_name(old_rss, name))}


def _by_name(rss: list[Obj], name: str) -> Obj:
    return next(rs for rs in rss if rs["metadata"]["name"] == name)


# --- proportional scaling ----------------------------------------------------------------------


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    """The only active ReplicaSet, or the newest one if none is active; None if several are active."""
    if new_rs is None and not old_rss:
        return None
    olds = sorted(old_rss, key=by_creation, reverse=True)
    live = active(olds + [new_rs] if new_rs is not None else olds)
    if not live:
        return new_rs if new_rs is not None else olds[0]
    return live[0] if len(live) == 1 else None


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The ReplicaSet has all the deployment's replicas, all available."""
    if rs is None:
        return False
    desired = _int_annotation(rs, DESIRED_REPLICAS)
    return (desired is not None and spec_replicas(rs) == spec_replicas(d) and desired == spec_replicas(d)
            and status_of(rs, "availableReplicas") == spec_replicas(d))


def _round_half_away(x: float) -> int:
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _fraction(rs: Obj, d: Obj) -> int:
    if spec_replicas(d) == 0:
        return -spec_replicas(rs)
    deployment_replicas = spec_replicas(d) + max_surge(d)
    annotated = _int_annotation(rs, MAX_REPLICAS)
    if annotated is None:
        annotated = status_of(d, "replicas")
    if not annotated:
        return 0
    return _round_half_away(spec_replicas(rs) * deployment_replicas / annotated) - spec_replicas(rs)


def _proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    if spec_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> tuple[dict[str, int], str]:
    """When a Deployment is resized mid-rollout, spread the change over its active ReplicaSets
    in proportion to their sizes, biggest first (upstream's ``scale``). Returns ({name: size}, "up"|"down"|"")."""
    rss = active(old_rss + ([new_rs] if new_rs is not None else []))
    allowed = spec_replicas(d) + max_surge(d) if spec_replicas(d) > 0 else 0
    to_add = allowed - replica_count(rss)
    if to_add > 0:
        # Equal sizes: grow the newer first.
        rss.sort(key=by_creation, reverse=True)
        rss.sort(key=spec_replicas, reverse=True)
        operation = "up"
    elif to_add < 0:
        # Equal sizes: shrink the older first.
        rss.sort(key=by_creation)
        rss.sort(key=spec_replicas, reverse=True)
        operation = "down"
    else:
        operation = ""
    sizes: dict[str, int] = {}
    added = 0
    for rs in rss:
        if to_add != 0:
            share = _proportion(rs, d, to_add, added)
            sizes[rs["metadata"]["name"]] = spec_replicas(rs) + share
            added += share
        else:
            sizes[rs["metadata"]["name"]] = spec_replicas(rs)
    if rss and to_add != 0:
        first = rss[0]["metadata"]["name"]
        sizes[first] = max(sizes[first] + to_add - added, 0)  # leftovers go to the largest
    return sizes, operation


# --- the pod template hash (minik8s.controllers.hashing) --------------------------------------

pod_template_hash = template_hash


def template_without_hash(template: Obj) -> Obj:
    template = prune_nulls(template or {})
    meta = template.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    if labels:
        meta["labels"] = labels
    else:
        meta.pop("labels", None)
    if not meta:
        template.pop("metadata")
    return template


def equal_ignore_hash(t1: Obj | None, t2: Obj | None) -> bool:
    """Templates are the same but for the pod-template-hash label (``EqualIgnoreHash``)."""
    return template_without_hash(t1 or {}) == template_without_hash(t2 or {})


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the deployment's (upstream's ``FindNewReplicaSet``)."""
    template = (d.get("spec") or {}).get("template")
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), template):
            return rs
    return None


def find_old_rss(d: Obj, rss: list[Obj]) -> list[Obj]:
    """Every ReplicaSet but the new one (upstream's ``allOldRSs``)."""
    new = find_new_rs(d, rss)
    new_uid = new["metadata"]["uid"] if new else None
    return [rs for rs in rss if rs["metadata"].get("uid") != new_uid]


# --- revisions and annotations ------------------------------------------------------------------


def revision(rs: Obj) -> int:
    return _int_annotation(rs, REVISION) or 0


def max_revision(rss: Iterable[Obj | None]) -> int:
    return max((revision(rs) for rs in _present(rss)), default=0)


def replicas_annotations_need_update(rs: Obj, desired: int, max_replicas: int) -> bool:
    ann = annotations_of(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    if not replicas_annotations_need_update(rs, desired, max_replicas):
        return False
    ann = rs["metadata"].setdefault("annotations", {})
    ann[DESIRED_REPLICAS] = str(desired)
    ann[MAX_REPLICAS] = str(max_replicas)
    return True


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the deployment's annotations (change-cause included) to its new ReplicaSet and raise its
    revision; a ReplicaSet that gets a newer revision (a rollback) remembers its old ones in
    ``revision-history``. Mutates ``rs``; returns whether anything changed."""
    ann = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in annotations_of(d).items():
        if key in SKIP_ANNOTATIONS or ann.get(key) == value:
            continue
        ann[key] = value
        changed = True
    old_text = ann.get(REVISION)
    old = revision(rs)
    if old < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
            history.append(old_text)
            while len(",".join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            ann[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, spec_replicas(d), spec_replicas(d) + max_surge(d)):
        changed = True
    return changed


# --- conditions ----------------------------------------------------------------------------------


def new_condition(kind: str, status: str, reason: str, message: str, now: str) -> Obj:
    return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def get_condition(status: Obj, kind: str) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), None)


def set_condition(status: Obj, cond: Obj) -> None:
    """Upstream's ``SetDeploymentCondition``: same status and reason is a no-op; same status keeps
    the old lastTransitionTime; the condition moves to the end of the list."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] and current.get("reason") == cond["reason"]:
        return
    cond = dict(cond)
    if current is not None and current.get("status") == cond["status"]:
        cond["lastTransitionTime"] = current.get("lastTransitionTime")
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]


def remove_condition(status: Obj, kind: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


def has_progress_deadline(d: Obj) -> bool:
    seconds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return seconds is not None and seconds != MAX_INT32


def deployment_complete(d: Obj, status: Obj) -> bool:
    replicas = spec_replicas(d)
    return (int(status.get("updatedReplicas") or 0) == replicas and int(status.get("replicas") or 0) == replicas
            and int(status.get("availableReplicas") or 0) == replicas
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    old = d.get("status") or {}

    def get(s: Obj, field: str) -> int:
        return int(s.get(field) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(status, "replicas") - get(status, "updatedReplicas")
    return (get(status, "updatedReplicas") > get(old, "updatedReplicas") or new_old < old_old
            or get(status, "readyReplicas") > get(old, "readyReplicas")
            or get(status, "availableReplicas") > get(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: float, parse: Any) -> bool:
    """No progress for ``progressDeadlineSeconds`` since the Progressing condition last changed."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if cond.get("reason") == TIMED_OUT_REASON:
        return True
    since = parse(cond["lastUpdateTime"])
    return bool(since + float(d["spec"]["progressDeadlineSeconds"]) < now)

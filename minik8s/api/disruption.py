"""PodDisruptionBudgets: the arithmetic shared by the disruption controller and the Eviction API.

A PodDisruptionBudget (``policy/v1``) says how many of the pods its selector picks
may be down *voluntarily* (evicted, e.g. by ``kubectl drain``) at once. The
disruption controller counts the healthy pods and writes the budget's status; the
Eviction subresource (``pods/<name>/eviction``) reads that status and refuses with
429 when no disruption is allowed, otherwise spends one (``disruptionsAllowed`` goes
down by one and the pod is remembered in ``disruptedPods`` until the controller sees
it gone) and deletes the pod.

Interface:
    selects(pdb, pod) -> bool                       # nil selector: nothing; empty selector: every pod
    budget(pdb, pod_count, expected_scale) -> (expected, desired)
    compute_status(pdb, pods, expected_scale, now, old_status) -> status
    evict_decision(pdb, pod, now) -> new status | None   # None: delete without spending budget; raises 429

Invariants (upstream ``pkg/controller/disruption`` and ``pkg/registry/core/pod/storage/eviction.go``):
``currentHealthy`` counts Ready pods that are not being deleted and not in ``disruptedPods``;
``disruptionsAllowed = max(currentHealthy - desiredHealthy, 0)`` (0 when no pods are expected);
``maxUnavailable`` and percentage ``minAvailable`` are scaled against the replicas of the
pods' controllers (rounding up), an integer ``minAvailable`` against the matching pods.
An eviction is refused while ``observedGeneration`` lags the budget's ``generation``.

How minik8s differs: upstream reads the controllers' ``scale`` subresource (so custom
resources count too); minik8s's controller reads ``spec.replicas`` of ReplicaSets,
Deployments, StatefulSets and ReplicationControllers only, and a pod owned by anything
else makes the sync fail as upstream's does for an unknown controller.

Taught in chapter 11 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from minik8s.api.errors import StatusError
from minik8s.api.selectors import from_label_selector
from minik8s.clock import parse_rfc3339, rfc3339

Obj = dict[str, Any]

CONDITION = "DisruptionAllowed"
SUFFICIENT, INSUFFICIENT, SYNC_FAILED = "SufficientPods", "InsufficientPods", "SyncFailed"
# A pod in disruptedPods that is still not being deleted after this long is counted again.
DELETION_TIMEOUT_SECONDS = 120.0
MAX_DISRUPTED_PODS = 2000
REFUSED = "Cannot evict pod as it would violate the pod's disruption budget."


def selects(pdb: Obj, pod: Obj) -> bool:
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return False
    meta = pod.get("metadata") or {}
    if meta.get("namespace") != (pdb.get("metadata") or {}).get("namespace"):
        return False
    return from_label_selector(selector).matches(meta.get("labels") or {})


def _scaled(value: Any, total: int) -> int:
    """Upstream ``GetScaledValueFromIntOrPercent`` rounding up."""
    if isinstance(value, str) and value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)


def budget(pdb: Obj, pod_count: int, expected_scale: Callable[[], int]) -> tuple[int, int]:
    """(expectedPods, desiredHealthy). ``expected_scale`` sums the pods' controllers' replicas and may
    raise ValueError (the sync then fails)."""
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected = expected_scale()
        return expected, max(expected - _scaled(spec["maxUnavailable"], expected), 0)
    minimum = spec.get("minAvailable")
    if isinstance(minimum, str):
        expected = expected_scale()
        return expected, _scaled(minimum, expected)
    if minimum is not None:
        return pod_count, int(minimum)
    return 0, 0


def is_ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def _set_condition(status: Obj, value: str, reason: str, message: str, generation: int, now: float) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != CONDITION]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
    since = old["lastTransitionTime"] if old and old.get("status") == value else rfc3339(now)
    conditions.append({"type": CONDITION, "status": value, "reason": reason, "message": message,
                       "observedGeneration": generation, "lastTransitionTime": since})
    status["conditions"] = conditions


def compute_status(pdb: Obj, pods: list[Obj], expected_scale: Callable[[], int], now: float,
                   old_status: Obj | None = None) -> Obj:
    """The status the disruption controller writes, from the pods the budget selects."""
    generation = int((pdb.get("metadata") or {}).get("generation") or 0)
    old_status = old_status or {}
    status: Obj = {"observedGeneration": generation, "conditions": list(old_status.get("conditions") or [])}
    try:
        expected, desired = budget(pdb, len(pods), expected_scale)
    except ValueError as err:
        status.update(disruptionsAllowed=0, currentHealthy=0, desiredHealthy=0, expectedPods=0)
        _set_condition(status, "False", SYNC_FAILED, str(err), generation, now)
        return status
    disrupted: dict[str, str] = {}
    names = {p["metadata"]["name"]: p for p in pods}
    for name, when in (old_status.get("disruptedPods") or {}).items():
        pod = names.get(name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            continue
        if parse_rfc3339(when) + DELETION_TIMEOUT_SECONDS < now:
            continue
        disrupted[name] = when
    healthy = sum(1 for p in pods if is_ready(p) and not p["metadata"].get("deletionTimestamp")
                  and p["metadata"]["name"] not in disrupted)
    allowed = max(healthy - desired, 0) if expected > 0 else 0
    status.update(currentHealthy=healthy, desiredHealthy=desired, expectedPods=expected, disruptionsAllowed=allowed)
    if disrupted:
        status["disruptedPods"] = disrupted
    _set_condition(status, "True" if allowed > 0 else "False", SUFFICIENT if allowed > 0 else INSUFFICIENT, "",
                   generation, now)
    return status


def next_expiry(status: Obj) -> float | None:
    """When the earliest entry of ``disruptedPods`` times out (the controller looks again then)."""
    times = [parse_rfc3339(t) + DELETION_TIMEOUT_SECONDS for t in (status.get("disruptedPods") or {}).values()]
    return min(times) if times else None


def _too_many_requests(cause: str) -> StatusError:
    return StatusError(429, "TooManyRequests", REFUSED, {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


def _forbidden(name: str, why: str) -> StatusError:
    return StatusError(403, "Forbidden", f'poddisruptionbudgets.policy "{name}" is forbidden: {why}',
                       {"name": name, "group": "policy", "kind": "poddisruptionbudgets"})


def can_ignore(pod: Obj) -> bool:
    """Pods a budget never protects: finished, not yet running, or already going."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def evict_decision(pdb: Obj, pod: Obj, now: float) -> Obj | None:
    """The budget's new status when evicting ``pod`` spends one disruption; None when the pod may go
    without spending any (an unready pod while the budget is met); raises the Eviction API's errors."""
    spec, status, name = pdb.get("spec") or {}, pdb.get("status") or {}, pdb["metadata"]["name"]
    if not is_ready(pod):
        policy = spec.get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        healthy, desired = int(status.get("currentHealthy") or 0), int(status.get("desiredHealthy") or 0)
        if policy == "AlwaysAllow" or healthy >= desired:
            return None
    if int(status.get("observedGeneration") or 0) < int(pdb["metadata"].get("generation") or 0):
        raise _too_many_requests(f"The disruption budget {name} is still being processed by the server.")
    allowed = int(status.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise _forbidden(name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise _forbidden(name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
    if allowed == 0:
        raise _too_many_requests(f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} "
                                 f"healthy pods and has {status.get('currentHealthy', 0)} currently")
    new = dict(status)
    new["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        new["conditions"] = [dict(c) for c in status.get("conditions") or []]
        _set_condition(new, "False", INSUFFICIENT, "", int(pdb["metadata"].get("generation") or 0), now)
    new["disruptedPods"] = {**(status.get("disruptedPods") or {}), pod["metadata"]["name"]: rfc3339(now)}
    return new

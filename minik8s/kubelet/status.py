"""Pod status, as the kubelet reports it: phase, conditions, container statuses.

The kubelet is the only writer of a running pod's ``status`` (besides the
scheduler's ``PodScheduled`` condition). Everything here is a pure function of
what the kubelet observed, so the rules can be read and tested on their own:

* :func:`pod_phase` is upstream's ``getPhase``: Pending until every container has
  started (or while one waits), Running while one runs or will be restarted,
  Succeeded when all exited 0 and none will restart, Failed otherwise.
* :func:`pod_conditions` builds ``PodReadyToStartContainers``, ``Initialized``,
  ``Ready``, ``ContainersReady`` and ``PodScheduled``, in that order, keeping each
  condition's ``lastTransitionTime`` unless its status changed.
* Container states are ``waiting`` (with a reason such as ``ContainerCreating``,
  ``PodInitializing``, ``CrashLoopBackOff``, ``ErrImagePull``, ``ImagePullBackOff``),
  ``running`` or ``terminated`` (``Completed``, ``Error``, ``OOMKilled``).

Taught in chapter 5 (Pods: phases, conditions and container states).
"""

from __future__ import annotations

from typing import Any

from minik8s.api.duration import go_duration
from minik8s.clock import rfc3339

__all__ = ["go_duration"]   # kept here for the kubelet's modules, which format durations as Go does

Obj = dict[str, Any]


def waiting(reason: str, message: str = "") -> Obj:
    state: Obj = {"reason": reason}
    if message:
        state["message"] = message
    return {"waiting": state}


def running(started_at: float) -> Obj:
    return {"running": {"startedAt": rfc3339(started_at)}}


def terminated(container_id: str, exit_code: int, reason: str, started_at: float | None,
               finished_at: float | None, message: str = "") -> Obj:
    state: Obj = {"containerID": container_id, "exitCode": exit_code, "reason": reason,
                  "startedAt": rfc3339(started_at) if started_at is not None else None,
                  "finishedAt": rfc3339(finished_at) if finished_at is not None else None}
    if message:
        state["message"] = message
    return {"terminated": state}


# --- phase ------------------------------------------------------------------------------------


def pod_phase(restart_policy: str, init_statuses: list[Obj], statuses: list[Obj], terminal: bool = False) -> str:
    """Upstream ``getPhase``. ``terminal`` is True once the kubelet has stopped the pod for good
    (it was deleted): then it is Succeeded if every container exited 0, Failed otherwise."""
    pending_init = failed_init = 0
    for status in init_statuses:
        state, last = status.get("state") or {}, status.get("lastState") or {}
        if "terminated" in state and state["terminated"].get("exitCode") == 0:
            continue
        if "terminated" in state or ("waiting" in state and "terminated" in last
                                     and last["terminated"].get("exitCode") != 0):
            failed_init += 1
        else:
            pending_init += 1
    if failed_init and restart_policy == "Never":
        return "Failed"
    running_n = waiting_n = stopped = succeeded = 0
    for status in statuses:
        state, last = status.get("state") or {}, status.get("lastState") or {}
        if "running" in state:
            running_n += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "waiting" in state and "terminated" in last:
            stopped += 1  # restarting after an exit
        else:
            waiting_n += 1
    if pending_init or failed_init or waiting_n:
        return "Pending"
    if running_n:
        return "Running"
    if stopped and terminal:
        # A pod being deleted is not restarted whatever its policy: its phase becomes final.
        return "Succeeded" if stopped == succeeded else "Failed"
    if stopped:
        if restart_policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"  # OnFailure: a failed container will be restarted
    return "Pending"


# --- conditions -------------------------------------------------------------------------------


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    condition: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def pod_conditions(*, sandbox_ready: bool, phase: str, init_statuses: list[Obj], statuses: list[Obj],
                   readiness_gates: list[Obj], old_conditions: list[Obj], now: float) -> list[Obj]:
    """The kubelet's conditions, keeping ``lastTransitionTime`` where the status did not change."""
    completed = phase == "Succeeded"
    incomplete = [s["name"] for s in init_statuses
                  if (s.get("state") or {}).get("terminated", {}).get("exitCode") != 0]
    if not incomplete or completed:
        initialized = _condition("Initialized", True, "PodCompleted" if completed and init_statuses else "")
    else:
        initialized = _condition("Initialized", False, "ContainersNotInitialized",
                                 f"containers with incomplete status: [{' '.join(incomplete)}]")
    unready = [s["name"] for s in statuses if not s.get("ready")]
    if completed:
        containers_ready = _condition("ContainersReady", False, "PodCompleted")
        ready = _condition("Ready", False, "PodCompleted")
    elif unready:
        message = f"containers with unready status: [{' '.join(unready)}]"
        containers_ready = _condition("ContainersReady", False, "ContainersNotReady", message)
        ready = _condition("Ready", False, "ContainersNotReady", message)
    else:
        containers_ready = _condition("ContainersReady", True)
        ready = _gated_ready(readiness_gates, old_conditions)
    scheduled = next((dict(c) for c in old_conditions if c.get("type") == "PodScheduled"),
                     _condition("PodScheduled", True))
    conditions = [_condition("PodReadyToStartContainers", sandbox_ready), initialized, ready, containers_ready,
                  scheduled]
    # Conditions other components own (readiness gates, DisruptionTarget...) are kept.
    ours = {c["type"] for c in conditions}
    conditions += [dict(c) for c in old_conditions if c.get("type") not in ours]
    return _keep_transition_times(conditions, old_conditions, now)


def _gated_ready(gates: list[Obj], old: list[Obj]) -> Obj:
    """Ready also needs every readiness gate's condition to be True."""
    by_type = {c.get("type"): c.get("status") for c in old}
    missing = [g.get("conditionType") for g in gates if isinstance(g, dict)
               and by_type.get(g.get("conditionType")) != "True"]
    if not missing:
        return _condition("Ready", True)
    not_found = [m for m in missing if m not in by_type]
    if not_found:
        return _condition("Ready", False, "ReadinessGatesNotReady",
                          f"corresponding condition of pod readiness gate \"{not_found[0]}\" does not exist.")
    return _condition("Ready", False, "ReadinessGatesNotReady",
                      f"the status of pod readiness gate \"{missing[0]}\" is not \"True\", but False")


def _keep_transition_times(conditions: list[Obj], old_conditions: list[Obj], now: float) -> list[Obj]:
    old = {c.get("type"): c for c in old_conditions}
    for condition in conditions:
        previous = old.get(condition["type"])
        if previous is not None and previous.get("status") == condition["status"] \
                and previous.get("lastTransitionTime"):
            condition["lastTransitionTime"] = previous["lastTransitionTime"]
        elif "lastTransitionTime" not in condition or previous is None or \
                previous.get("status") != condition["status"]:
            condition["lastTransitionTime"] = rfc3339(now)
    return conditions

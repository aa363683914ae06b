"""``kubectl describe`` for the workload controllers: Deployment, ReplicaSet, StatefulSet,
DaemonSet, Job and CronJob.

Each prints its own counts (replicas desired, updated, available; pods succeeded and
failed; nodes scheduled), its strategy, then its pod template (see :mod:`.pods`)
and its events. Where upstream does, a describer looks up what the object owns: a
Deployment its old and new ReplicaSets, the others the pods they control, found by
label selector and kept only if their controller ownerReference has the object's UID.

Interface:
    describe_deployment(client, d, now) -> str
    describe_replicaset(client, rs, now) -> str
    describe_statefulset(client, sts, now) -> str
    describe_daemonset(client, ds, now) -> str
    describe_job(client, job, now) -> str
    describe_cronjob(client, cj, now) -> str

Taught in chapter 7 (Deployments) and chapter 8 (StatefulSets).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api.duration import human_duration, parse_time
from minik8s.apiserver.tables import format_labels, format_selector, selector_string
from minik8s.kubectl.describe.pods import _pod_template
from minik8s.kubectl.describe.writer import (PODS, REPLICASETS, Obj, _annotations, _bool, _controller,
                                             _controller_uid, _go_bool, _go_list, _header, _int_or_string,
                                             _labels, _meta, _spec, _status, _Writer, describe_events,
                                             rfc1123z, search_events)


def _owned_pods(client: Any, obj: Obj) -> list[Obj]:
    selector = selector_string(_spec(obj).get("selector"))
    pods = client.list(PODS, _meta(obj).get("namespace"), label_selector=selector or None).get("items") or []
    return [p for p in pods if _controller_uid(p) == _meta(obj).get("uid")]


def _pods_status(client: Any, obj: Obj) -> str:
    phases = [_status(p).get("phase") for p in _owned_pods(client, obj)]
    return (f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed")


def _conditions_type_status_reason(w: _Writer, obj: Obj) -> None:
    conds = _status(obj).get("conditions") or []
    if conds:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for cond in conds:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')}\t{cond.get('reason', '')}\n")


def _template_without_hash(template: Obj) -> Obj:
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    meta["labels"] = labels
    return {**template, "metadata": meta}


def _replicasets_text(replicasets: list[Obj]) -> str:
    texts = [f"{_meta(rs).get('name')} ({_status(rs).get('replicas', 0)}/{_spec(rs).get('replicas', 0)} "
             "replicas created)" for rs in replicasets]
    return ", ".join(texts) or "<none>"


def describe_deployment(client: Any, d: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(d), _status(d)
    _header(w, d)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(_meta(d).get('creationTimestamp'))}\n")
    _labels(w, "Labels", _meta(d).get("labels"))
    _annotations(w, "Annotations", _meta(d).get("annotations"))
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{spec.get('replicas', 0)} desired | {status.get('updatedReplicas', 0)} updated | "
               f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
               f"{status.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    if strategy.get("rollingUpdate") is not None:
        ru = strategy["rollingUpdate"]
        w.write(0, f"RollingUpdateStrategy:\t{_int_or_string(ru.get('maxUnavailable'))} max unavailable, "
                   f"{_int_or_string(ru.get('maxSurge'))} max surge\n")
    _pod_template(w, spec.get("template") or {})
    _conditions_type_status_reason(w, d)
    selector = selector_string(spec.get("selector"))
    listed = client.list(REPLICASETS, _meta(d).get("namespace"), label_selector=selector or None).get("items") or []
    owned = sorted((rs for rs in listed if _controller_uid(rs) == _meta(d).get("uid")),
                   key=lambda rs: _meta(rs).get("creationTimestamp", ""))
    wanted = _template_without_hash(spec.get("template") or {})
    new = [rs for rs in owned if _template_without_hash(_spec(rs).get("template") or {}) == wanted][:1]
    old = [rs for rs in owned if rs not in new]
    if old or new:
        w.write(0, f"OldReplicaSets:\t{_replicasets_text(old)}\n")
        w.write(0, f"NewReplicaSet:\t{_replicasets_text(new)}\n")
    describe_events(w, search_events(client, d), now)
    return w.text()


def describe_replicaset(client: Any, rs: Obj, now: datetime) -> str:
    w, spec = _Writer(), _spec(rs)
    _header(w, rs)
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    _labels(w, "Labels", _meta(rs).get("labels"))
    _annotations(w, "Annotations", _meta(rs).get("annotations"))
    if _controller(rs):
        w.write(0, f"Controlled By:\t{_controller(rs)}\n")
    w.write(0, f"Replicas:\t{_status(rs).get('replicas', 0)} current / {spec.get('replicas', 0)} desired\n")
    w.write(0, f"Pods Status:\t{_pods_status(client, rs)}\n")
    _pod_template(w, spec.get("template") or {})
    _conditions_type_status_reason(w, rs)
    describe_events(w, search_events(client, rs), now)
    return w.text()


def describe_statefulset(client: Any, sts: Obj, now: datetime) -> str:
    w, spec = _Writer(), _spec(sts)
    _header(w, sts)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(_meta(sts).get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    _labels(w, "Labels", _meta(sts).get("labels"))
    _annotations(w, "Annotations", _meta(sts).get("annotations"))
    w.write(0, f"Replicas:\t{spec.get('replicas', 0)} desired | {_status(sts).get('replicas', 0)} total\n")
    strategy = spec.get("updateStrategy") or {}
    w.write(0, f"Update Strategy:\t{strategy.get('type', '')}\n")
    rolling = strategy.get("rollingUpdate") or {}
    if rolling.get("partition") is not None:
        w.write(1, f"Partition:\t{rolling['partition']}\n")
    w.write(0, f"Pods Status:\t{_pods_status(client, sts)}\n")
    _pod_template(w, spec.get("template") or {})
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        w.write(0, "Volume Claims:\t<none>\n")
    else:
        w.write(0, "Volume Claims:\n")
        for pvc in claims:
            w.write(1, f"Name:\t{_meta(pvc).get('name', '')}\n")
            w.write(1, f"StorageClass:\t{_spec(pvc).get('storageClassName', '')}\n")
            _labels(w, "Labels", _meta(pvc).get("labels"), "  ")
            _labels(w, "Annotations", _meta(pvc).get("annotations"), "  ")
            storage = ((_spec(pvc).get("resources") or {}).get("requests") or {}).get("storage")
            w.write(1, f"Capacity:\t{storage or '<default>'}\n")
            w.write(1, f"Access Modes:\t{_go_list(_spec(pvc).get('accessModes'))}\n")
    describe_events(w, search_events(client, sts), now)
    return w.text()


def describe_daemonset(client: Any, ds: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(ds), _status(ds)
    _header(w, ds, namespace=False)  # upstream's describeDaemonSet prints no Namespace line
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    w.write(0, f"Node-Selector:\t{format_labels(node_selector)}\n")
    _labels(w, "Labels", _meta(ds).get("labels"))
    _annotations(w, "Annotations", _meta(ds).get("annotations"))
    w.write(0, f"Desired Number of Nodes Scheduled: {status.get('desiredNumberScheduled', 0)}\n")
    w.write(0, f"Current Number of Nodes Scheduled: {status.get('currentNumberScheduled', 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Up-to-date Pods: {status.get('updatedNumberScheduled', 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Available Pods: {status.get('numberAvailable', 0)}\n")
    w.write(0, f"Number of Nodes Misscheduled: {status.get('numberMisscheduled', 0)}\n")
    w.write(0, f"Pods Status:\t{_pods_status(client, ds)}\n")
    _pod_template(w, spec.get("template") or {})
    describe_events(w, search_events(client, ds), now)
    return w.text()


def describe_job(client: Any, job: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(job), _status(job)
    _header(w, job)
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    _labels(w, "Labels", _meta(job).get("labels"))
    _annotations(w, "Annotations", _meta(job).get("annotations"))
    if _controller(job):
        w.write(0, f"Controlled By:\t{_controller(job)}\n")
    if spec.get("parallelism") is not None:
        w.write(0, f"Parallelism:\t{spec['parallelism']}\n")
    w.write(0, f"Completions:\t{spec.get('completions', '<unset>')}\n")
    if spec.get("completionMode"):
        w.write(0, f"Completion Mode:\t{spec['completionMode']}\n")
    if spec.get("suspend") is not None:
        w.write(0, f"Suspend:\t{_go_bool(spec['suspend'])}\n")
    if spec.get("backoffLimit") is not None:
        w.write(0, f"Backoff Limit:\t{spec['backoffLimit']}\n")
    if spec.get("ttlSecondsAfterFinished") is not None:
        w.write(0, f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    if status.get("completionTime"):
        w.write(0, f"Completed At:\t{rfc1123z(status['completionTime'])}\n")
    if status.get("startTime") and status.get("completionTime"):
        seconds = (parse_time(status["completionTime"]) - parse_time(status["startTime"])).total_seconds()
        w.write(0, f"Duration:\t{human_duration(seconds)}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    counts = f"{status.get('active', 0)} Active"
    if status.get("ready") is not None:
        counts += f" ({status['ready']} Ready)"
    w.write(0, f"Pods Statuses:\t{counts} / {status.get('succeeded', 0)} Succeeded / "
               f"{status.get('failed', 0)} Failed\n")
    _pod_template(w, spec.get("template") or {})
    describe_events(w, search_events(client, job), now)
    return w.text()


def describe_cronjob(client: Any, cj: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(cj), _status(cj)
    _header(w, cj)
    _labels(w, "Labels", _meta(cj).get("labels"))
    _annotations(w, "Annotations", _meta(cj).get("annotations"))
    w.write(0, f"Schedule:\t{spec.get('schedule', '')}\n")
    w.write(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}\n")
    w.write(0, f"Suspend:\t{'<unset>' if spec.get('suspend') is None else _bool(spec['suspend'])}\n")
    for title, key in (("Successful Job History Limit", "successfulJobsHistoryLimit"),
                       ("Failed Job History Limit", "failedJobsHistoryLimit")):
        w.write(0, f"{title}:\t{spec.get(key, '<unset>')}\n")
    deadline = spec.get("startingDeadlineSeconds")
    w.write(0, f"Starting Deadline Seconds:\t{'<unset>' if deadline is None else f'{deadline}s'}\n")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    w.write(0, f"Selector:\t{selector_string(job_spec['selector']) if job_spec.get('selector') else '<unset>'}\n")
    w.write(0, f"Parallelism:\t{job_spec.get('parallelism', '<unset>')}\n")
    w.write(0, f"Completions:\t{job_spec.get('completions', '<unset>')}\n")
    if job_spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{job_spec['activeDeadlineSeconds']}s\n")
    _pod_template(w, job_spec.get("template") or {})
    w.write(0, f"Last Schedule Time:\t{rfc1123z(status.get('lastScheduleTime'))}\n")
    active = [ref.get("name", "") for ref in status.get("active") or []]
    w.write(0, f"Active Jobs:\t{', '.join(active) or '<none>'}\n")
    describe_events(w, search_events(client, cj), now)
    return w.text()

"""Tests for the Job controller (minik8s/controllers/job.py) and the TTL-after-finished controller."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minik8s.cluster import Cluster
from minik8s.clock import VIRTUAL_EPOCH, parse_rfc3339, rfc3339
from minik8s.controllers.events import EVENTS
from minik8s.controllers.job import (JOBS, PODS, TRACKING_FINALIZER, backoff_remaining, format_indexes,
                                     parse_indexes, plan_job)
from minik8s.controllers.ttlafterfinished import expires_at


def job_yaml(name: str, command: str, **spec: Any) -> str:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox", "command": ["sh", "-c", command]}]}}}}
    return json.dumps(body)


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def job(c: Cluster, name: str) -> dict[str, Any]:
    return c.client.get(JOBS, name, "default")


def pods_of(c: Cluster, name: str) -> list[dict[str, Any]]:
    items = c.client.list(PODS, "default", label_selector=f"job-name={name}")["items"]
    return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"] + p["metadata"]["name"])


def conditions(j: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in j["status"].get("conditions") or []]


def events(c: Cluster, name: str) -> list[tuple[str, str]]:
    """(reason, message) of every event about ``name``, repeats unfolded (the recorder counts them)."""
    items = c.client.list(EVENTS, "default")["items"]
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name
            for _ in range(e.get("count", 1))]


def elapsed(c: Cluster) -> float:
    return c.clock.now() - VIRTUAL_EPOCH


# --- whole cluster ----------------------------------------------------------------------------


def test_completions_and_parallelism(cluster: Cluster) -> None:
    cluster.apply(job_yaml("pi", "sleep 5", completions=3, parallelism=2))
    pods = pods_of(cluster, "pi")
    assert len(pods) == 2  # parallelism caps the first wave
    for pod in pods:
        meta = pod["metadata"]
        assert meta["generateName"] == "pi-"
        assert TRACKING_FINALIZER in meta["finalizers"]
        uid = job(cluster, "pi")["metadata"]["uid"]
        assert meta["labels"]["batch.kubernetes.io/controller-uid"] == uid
        assert meta["labels"]["job-name"] == "pi"
        assert meta["ownerReferences"][0]["kind"] == "Job"
    cluster.advance(7)  # image pull (1 s) + sleep 5: the first two succeeded, the third runs
    j = job(cluster, "pi")
    assert (j["status"]["succeeded"], j["status"]["active"]) == (2, 1)
    assert len(pods_of(cluster, "pi")) == 3
    cluster.advance(10)
    j = job(cluster, "pi")
    assert len(pods_of(cluster, "pi")) == 3  # exactly three pods, never a fourth
    assert j["status"]["succeeded"] == 3 and "active" not in j["status"]  # omitempty, as upstream
    assert conditions(j) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                             ("Complete", "True", "CompletionsReached")]
    assert j["status"]["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert j["status"]["completionTime"] == rfc3339(VIRTUAL_EPOCH + 11)
    assert j["status"]["uncountedTerminatedPods"] == {}
    # Counted pods no longer hold the finalizer.
    assert all(TRACKING_FINALIZER not in (p["metadata"].get("finalizers") or []) for p in pods_of(cluster, "pi"))
    out = cluster.kubectl("get jobs")
    assert out.split("\n")[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert out.split("\n")[1].split()[:4] == ["pi", "Complete", "3/3", "11s"]
    evs = events(cluster, "pi")
    assert [r for r, _ in evs].count("SuccessfulCreate") == 3
    assert ("Completed", "Job completed") in evs
    assert all(m.startswith("Created pod: pi-") for r, m in evs if r == "SuccessfulCreate")


def test_backoff_limit_with_exponential_delays(cluster: Cluster) -> None:
    cluster.apply(job_yaml("fail", "exit 1", backoffLimit=2))
    cluster.advance(600)
    j = job(cluster, "fail")
    pods = pods_of(cluster, "fail")
    assert len(pods) == 3  # backoffLimit 2: the third failure is one too many
    assert j["status"]["failed"] == 3
    assert conditions(j) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                             ("Failed", "True", "BackoffLimitExceeded")]
    assert j["status"]["conditions"][1]["message"] == "Job has reached the specified backoff limit"
    assert "completionTime" not in j["status"]
    # Each replacement waits 10 s, then 20 s, after the previous failure.
    created = [p["metadata"]["creationTimestamp"] for p in pods]
    finished = [p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"] for p in pods]
    assert parse_rfc3339(created[1]) - parse_rfc3339(finished[0]) == 10
    assert parse_rfc3339(created[2]) - parse_rfc3339(finished[1]) == 20
    assert ("BackoffLimitExceeded", "Job has reached the specified backoff limit") in events(cluster, "fail")
    assert cluster.kubectl("get jobs").split("\n")[1].split()[:3] == ["fail", "Failed", "0/1"]


def test_active_deadline_deletes_running_pods(cluster: Cluster) -> None:
    cluster.apply(job_yaml("slow", "sleep 1000", activeDeadlineSeconds=30, parallelism=2, completions=4))
    cluster.advance(29)
    assert job(cluster, "slow")["status"]["active"] == 2
    cluster.advance(5)
    j = job(cluster, "slow")
    assert conditions(j)[-1] == ("Failed", "True", "DeadlineExceeded")
    assert j["status"]["conditions"][-1]["message"] == "Job was active longer than specified deadline"
    assert j["status"]["conditions"][-1]["lastTransitionTime"] == rfc3339(VIRTUAL_EPOCH + 30)
    assert "active" not in j["status"] and j["status"]["failed"] == 2
    assert pods_of(cluster, "slow") == []  # deleted, and released by the finalizer
    assert ("DeadlineExceeded", "Job was active longer than specified deadline") in events(cluster, "slow")


def test_ttl_after_finished_deletes_job(cluster: Cluster) -> None:
    cluster.apply(job_yaml("short", "sleep 1", ttlSecondsAfterFinished=100))
    cluster.advance(10)
    j = job(cluster, "short")
    done = expires_at(j)
    assert done is not None and conditions(j)[-1][0] == "Complete"
    cluster.advance(done - cluster.clock.now() - 1)
    assert job(cluster, "short")  # not yet
    cluster.advance(1)
    assert not cluster.client.list(JOBS, "default")["items"]
    # Background propagation: the pods are the garbage collector's to delete. The Job controller
    # already released them (no tracking finalizer), so nothing holds them back.
    cluster.advance(60)
    assert pods_of(cluster, "short") == []


def test_indexed_job(cluster: Cluster) -> None:
    cluster.apply(job_yaml("idx", "sleep 2", completions=3, parallelism=3, completionMode="Indexed"))
    pods = pods_of(cluster, "idx")
    by_index = {p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]: p for p in pods}
    assert sorted(by_index) == ["0", "1", "2"]
    for index, pod in by_index.items():
        assert pod["metadata"]["name"].startswith(f"idx-{index}-")
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == index
        assert pod["spec"]["hostname"] == f"idx-{index}"
        env = pod["spec"]["containers"][0]["env"]
        assert env[0]["name"] == "JOB_COMPLETION_INDEX"
        assert "job-completion-index" in env[0]["valueFrom"]["fieldRef"]["fieldPath"]
    cluster.advance(10)
    j = job(cluster, "idx")
    assert j["status"]["completedIndexes"] == "0-2"
    assert j["status"]["succeeded"] == 3
    assert conditions(j)[-1][0] == "Complete"


def suspend(c: Cluster, name: str, value: bool) -> None:
    c.client.patch(JOBS, name, {"spec": {"suspend": value}}, "default")
    c.run_until_stable()


def test_suspend_and_resume(cluster: Cluster) -> None:
    cluster.apply(job_yaml("sus", "sleep 100", suspend=True))
    j = job(cluster, "sus")
    assert pods_of(cluster, "sus") == []
    assert "startTime" not in j["status"]
    assert conditions(j) == [("Suspended", "True", "JobSuspended")]
    assert cluster.kubectl("get jobs").split("\n")[1].split()[1] == "Suspended"
    suspend(cluster, "sus", False)
    j = job(cluster, "sus")
    assert conditions(j) == [("Suspended", "False", "JobResumed")]
    assert j["status"]["active"] == 1 and len(pods_of(cluster, "sus")) == 1
    cluster.advance(10)
    suspend(cluster, "sus", True)
    cluster.advance(5)
    j = job(cluster, "sus")
    assert conditions(j) == [("Suspended", "True", "JobSuspended")]
    assert "active" not in j["status"] and pods_of(cluster, "sus") == []
    reasons = [r for r, _ in events(cluster, "sus")]
    assert reasons.count("Suspended") == 2 and reasons.count("Resumed") == 1


# --- the pure parts -------------------------------------------------------------------------------


def test_format_and_parse_indexes() -> None:
    assert format_indexes({0, 1, 2, 4, 6, 7}) == "0-2,4,6-7"
    assert format_indexes(set()) == ""
    assert parse_indexes("0-2,4,6-7") == {0, 1, 2, 4, 6, 7}


def _pod(phase: str, finished: float, uid: str = "u") -> dict[str, Any]:
    stamp = rfc3339(finished)
    return {"metadata": {"uid": uid, "name": uid, "finalizers": [TRACKING_FINALIZER], "creationTimestamp": stamp},
            "status": {"phase": phase, "containerStatuses": [{"state": {"terminated": {"finishedAt": stamp}}}]}}


def test_backoff_doubles_and_caps() -> None:
    j: dict[str, Any] = {"spec": {}}
    assert backoff_remaining(j, [_pod("Failed", 100)], 100) == 10
    assert backoff_remaining(j, [_pod("Failed", 90), _pod("Failed", 100)], 105) == 15
    many = [_pod("Failed", float(i)) for i in range(12)]
    assert backoff_remaining(j, many, 11) == 600  # capped at ten minutes
    # A success resets the count.
    assert backoff_remaining(j, [_pod("Failed", 50), _pod("Succeeded", 60), _pod("Failed", 70)], 70) == 10


def test_plan_respects_parallelism_and_completions() -> None:
    j = {"metadata": {"name": "p"}, "spec": {"completions": 5, "parallelism": 2, "backoffLimit": 6},
         "status": {"succeeded": 4}}
    plan = plan_job(j, [], VIRTUAL_EPOCH)
    assert plan.create == [None]  # only one completion left
    j["status"]["succeeded"] = 5
    plan = plan_job(j, [], VIRTUAL_EPOCH)
    assert plan.create == [] and plan.interim is not None and plan.interim["type"] == "SuccessCriteriaMet"


def test_pi_example_from_the_docs(cluster: Cluster) -> None:
    """kubernetes.io's job.yaml: perl computes 2000 digits of pi; `kubectl get jobs` as upstream 1.32."""
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
            "spec": {"backoffLimit": 4, "template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "pi", "image": "perl:5.34.0", "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}]}}}}
    cluster.apply(json.dumps(body))
    cluster.advance(120)
    j = job(cluster, "pi")
    assert conditions(j)[-1] == ("Complete", "True", "CompletionsReached")
    (pod,) = pods_of(cluster, "pi")
    assert cluster.kubectl(f"logs {pod['metadata']['name']}").startswith("3.14159265358979323846")
    out = cluster.kubectl("get jobs").split("\n")
    assert out[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert out[1].split()[:3] == ["pi", "Complete", "1/1"]

"""Tests for a Job's podFailurePolicy (minik8s/controllers/podfailurepolicy.py and its hook in job.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import needs_kubectl
from minik8s.cluster import Cluster
from minik8s.controllers import podfailurepolicy
from minik8s.controllers.job import JOBS, PODS


def policy_job(name: str, command: str, rules: list[dict[str, Any]], **spec: Any) -> str:
    """The example of the upstream docs ("Handling Pod and container failures"), with busybox's sh."""
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"completions": 12, "parallelism": 3, "backoffLimit": 6, **spec,
                     "podFailurePolicy": {"rules": rules},
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "main", "image": "busybox", "command": ["sh", "-c", command]}]}}}}
    return json.dumps(body)


DOCS_RULES = [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
              {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def test_exit_code_42_fails_the_job_at_once(cluster: Cluster) -> None:
    cluster.apply(policy_job("job-pod-failure-policy-example", 'echo "Hello world!" && sleep 5 && exit 42',
                             DOCS_RULES))
    cluster.advance(30)
    j = cluster.client.get(JOBS, "job-pod-failure-policy-example", "default")
    conds = {c["type"]: c for c in j["status"]["conditions"]}
    assert conds["FailureTarget"]["reason"] == "PodFailurePolicy"
    failed = conds["Failed"]
    assert failed["reason"] == "PodFailurePolicy"
    pods = cluster.client.list(PODS, "default", label_selector="job-name=job-pod-failure-policy-example")["items"]
    names = {p["metadata"]["name"] for p in pods}
    prefix = "Container main for pod default/"
    assert failed["message"].startswith(prefix)
    assert failed["message"][len(prefix):].split()[0] in names
    assert failed["message"].endswith("failed with exit code 42 matching FailJob rule at index 0")
    # No replacement pods: the Job stopped at the first exit 42 (backoffLimit 6 unused); a pod still
    # running then was deleted and counts as failed too.
    assert len(pods) <= 3 and j["status"]["failed"] == 3 and "active" not in j["status"]
    row = cluster.kubectl("get job job-pod-failure-policy-example").split("\n")[1].split()
    assert row[1:3] == ["Failed", "0/12"]


def test_other_exit_codes_count_against_backoff_limit(cluster: Cluster) -> None:
    cluster.apply(policy_job("count", "exit 1", DOCS_RULES, completions=1, parallelism=1, backoffLimit=1))
    cluster.advance(120)
    j = cluster.client.get(JOBS, "count", "default")
    assert j["status"]["conditions"][-1]["reason"] == "BackoffLimitExceeded"
    assert j["status"]["failed"] == 2


def test_ignore_rule_does_not_count(cluster: Cluster) -> None:
    rules = [{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [3]}}]
    cluster.apply(policy_job("ign", "exit 3", rules, completions=1, parallelism=1, backoffLimit=0))
    cluster.advance(120)
    j = cluster.client.get(JOBS, "ign", "default")
    assert not j["status"].get("conditions")  # backoffLimit 0, yet still running: the failures are ignored
    assert j["status"].get("failed", 0) == 0
    assert len(cluster.client.list(PODS, "default", label_selector="job-name=ign")["items"]) > 2


def _failed_pod(code: int, conditions: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"},
            "status": {"phase": "Failed", "conditions": conditions or [], "containerStatuses": [
                {"name": "main", "state": {"terminated": {"exitCode": code}}}]}}


def test_match_rules_in_order() -> None:
    job = {"spec": {"podFailurePolicy": {"rules": [
        {"action": "Ignore", "onExitCodes": {"containerName": "other", "operator": "In", "values": [1]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}},
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]}}}
    assert podfailurepolicy.match(job, _failed_pod(1)) == podfailurepolicy.Verdict(
        "Container main for pod ns/p failed with exit code 1 matching FailJob rule at index 2", True, "FailJob")
    assert podfailurepolicy.match(job, _failed_pod(5)) == podfailurepolicy.Verdict(None, True, "Count")
    assert podfailurepolicy.match(job, _failed_pod(2)) == podfailurepolicy.NO_MATCH
    evicted = _failed_pod(0, [{"type": "DisruptionTarget", "status": "True"}])
    assert podfailurepolicy.match(job, evicted) == podfailurepolicy.Verdict(None, False, "Ignore")


# --- backoffLimitPerIndex (minik8s/controllers/backofflimitperindex.py) ----------------------------


def per_index_job(name: str, command: str, **spec: Any) -> str:
    body = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"completionMode": "Indexed", **spec,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "main", "image": "busybox", "command": ["sh", "-c", command]}]}}}}
    return json.dumps(body)


# Odd indexes fail, even ones succeed (as the upstream docs' job-backoff-limit-per-index-example; with the simulated sh).
ODD_FAIL = "sleep 1; exit $((JOB_COMPLETION_INDEX%2))"


def test_backoff_limit_per_index_fails_only_the_failing_indexes(cluster: Cluster) -> None:
    cluster.apply(per_index_job("job-backoff-limit-per-index-example", ODD_FAIL, completions=10, parallelism=3,
                                backoffLimitPerIndex=1, maxFailedIndexes=5))
    cluster.advance(300)
    j = cluster.client.get(JOBS, "job-backoff-limit-per-index-example", "default")
    assert j["spec"]["backoffLimit"] == 2147483647
    assert j["status"]["completedIndexes"] == "0,2,4,6,8"
    assert j["status"]["failedIndexes"] == "1,3,5,7,9"
    assert j["status"]["succeeded"] == 5 and j["status"]["failed"] == 10  # each odd index: tried twice
    failed = j["status"]["conditions"][-1]
    assert (failed["type"], failed["reason"], failed["message"]) == ("Failed", "FailedIndexes", "Job has failed indexes")
    pods = cluster.client.list(PODS, "default", label_selector="job-name=job-backoff-limit-per-index-example")["items"]
    counts = sorted((p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"],
                     p["metadata"]["annotations"]["batch.kubernetes.io/job-index-failure-count"])
                    for p in pods if p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "1")
    assert counts == [("1", "0"), ("1", "1")]


def test_max_failed_indexes_exceeded(cluster: Cluster) -> None:
    cluster.apply(per_index_job("few", ODD_FAIL, completions=10, parallelism=10, backoffLimitPerIndex=0,
                                maxFailedIndexes=2))
    cluster.advance(60)
    j = cluster.client.get(JOBS, "few", "default")
    failed = j["status"]["conditions"][-1]
    assert (failed["type"], failed["reason"], failed["message"]) == (
        "Failed", "MaxFailedIndexesExceeded", "Job has exceeded the specified maximal number of failed indexes")
    assert len(backoff_indexes(j["status"]["failedIndexes"])) > 2


def test_fail_index_rule(cluster: Cluster) -> None:
    rules = [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]
    cluster.apply(per_index_job("fi", ODD_FAIL, completions=4, parallelism=4, backoffLimitPerIndex=5,
                                podFailurePolicy={"rules": rules}))
    cluster.advance(60)
    j = cluster.client.get(JOBS, "fi", "default")
    assert j["status"]["failedIndexes"] == "1,3" and j["status"]["failed"] == 2  # no retries despite the limit 5
    assert j["status"]["conditions"][-1]["reason"] == "FailedIndexes"


def backoff_indexes(text: str) -> set[int]:
    from minik8s.controllers.job import parse_indexes
    return parse_indexes(text)


# --- bad input, through the real kubectl ---------------------------------------------------------------


@needs_kubectl
def test_bad_policies_are_refused_with_upstreams_messages(server: Any) -> None:
    cases = [
        (policy_job("a", "exit 1", [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 42]}}]),
         'spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator'),
        (policy_job("b", "exit 1", [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 2]}}]),
         'spec.podFailurePolicy.rules[0].onExitCodes.values: Invalid value: []int32{3, 2}: must be ordered'),
        (policy_job("c", "exit 1", [{"action": "FailJob"}]),
         'spec.podFailurePolicy.rules[0]: Invalid value: specifying one of OnExitCodes and OnPodConditions is '
         'required'),
        (policy_job("d", "exit 1", [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]),
         'spec.podFailurePolicy.rules[0].action: Invalid value: "FailIndex": requires the backoffLimitPerIndex '
         'to be set'),
        (policy_job("e", "exit 1", [{"action": "FailJob", "onExitCodes": {"containerName": "nope", "operator": "In",
                                                                         "values": [1]}}]),
         'spec.podFailurePolicy.rules[0].onExitCodes.containerName: Invalid value: "nope": must be one of the '
         'container or initContainer names in the pod template'),
        (per_index_job("f", "exit 1", completions=2, backoffLimitPerIndex=1, completionMode="NonIndexed"),
         'spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode'),
        (per_index_job("g", "exit 1", completions=2, maxFailedIndexes=1),
         'spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified'),
    ]
    for manifest, message in cases:
        out = server.kubectl("apply", "-f", "-", stdin=manifest)
        assert out.returncode == 1 and message in out.stderr, (message, out.stderr)
    assert server.kubectl("get", "jobs", "-o", "name").stdout == ""

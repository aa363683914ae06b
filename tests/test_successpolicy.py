"""A Job's successPolicy (minik8s/controllers/successpolicy.py, its hook in job.py, its validation in
api/validation/batch.py): the pure rule matching, then a served virtual-clock cluster and the real kubectl."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minik8s.controllers import successpolicy
from tests.conftest import needs_kubectl
from tests import test_job_examples
from tests.test_job_examples import Served, condition

served = test_job_examples.served  # the fixture: a served virtual-clock cluster and the real kubectl


def _job(*rules: dict[str, Any], completions: int = 5) -> dict[str, Any]:
    return {"spec": {"completions": completions, "completionMode": "Indexed", "successPolicy": {"rules": list(rules)}}}


def test_indexes_alone_need_every_listed_index() -> None:
    job = _job({"succeededIndexes": "0,2-3"})
    assert successpolicy.match(job, {0, 2}) is None
    assert successpolicy.match(job, {0, 2, 3}) == "Matched rules at index 0"


def test_count_alone_needs_that_many_of_any_index() -> None:
    job = _job({"succeededCount": 2})
    assert successpolicy.match(job, {4}) is None
    assert successpolicy.match(job, {1, 4}) == "Matched rules at index 0"


def test_both_count_only_the_listed_indexes_and_the_first_rule_that_holds_wins() -> None:
    job = _job({"succeededIndexes": "0-1", "succeededCount": 2}, {"succeededIndexes": "3,4", "succeededCount": 1})
    assert successpolicy.match(job, {1, 2}) is None   # 2 is not listed by rule 0; rule 1 lists neither
    assert successpolicy.match(job, {1, 4}) == "Matched rules at index 1"
    assert successpolicy.match(job, {0, 1, 4}) == "Matched rules at index 0"


def test_no_policy_no_success_and_unparsable_rules_never_match() -> None:
    assert successpolicy.match({"spec": {"completions": 3}}, {0, 1, 2}) is None
    assert successpolicy.match(_job({"succeededCount": 1}), set()) is None
    assert successpolicy.match(_job({"succeededIndexes": "9"}, completions=3), {0, 1, 2}) is None


def _indexed(name: str, command: str, rules: list[dict[str, Any]], **spec: Any) -> str:
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {
        "completions": 5, "parallelism": 5, "completionMode": "Indexed", "successPolicy": {"rules": rules}, **spec,
        "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "busybox", "command": ["sh", "-c", command]}]}}}})


# Adapted from the Job docs' success policy example: index 2 is the one that matters.
LEADER = '[ "$JOB_COMPLETION_INDEX" = 2 ] && sleep 5 && exit 0; sleep 600'


@needs_kubectl
def test_success_criteria_met_then_complete_and_the_rest_terminated(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=_indexed("leader", LEADER, [{"succeededIndexes": "0,2-3", "succeededCount": 1}]))
    served.cluster.advance(60)
    job = served.json("job", "leader")
    met, complete = condition(job, "SuccessCriteriaMet"), condition(job, "Complete")
    assert (met["reason"], met["message"]) == ("SuccessPolicy", "Matched rules at index 0")
    assert (complete["reason"], complete["message"]) == ("SuccessPolicy", "Matched rules at index 0")
    status = job["status"]
    assert (status["succeeded"], status["completedIndexes"], status["failed"]) == (1, "2", 4)
    assert "active" not in status or status["active"] == 0
    # The other four were deleted (their finalizers released); the pod that succeeded is kept, as always.
    pods = served.json("pods")["items"]
    assert [(p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"], p["status"]["phase"])
            for p in pods] == [("2", "Succeeded")]
    assert served.rows("job", "leader")[1][1:3] == ["Complete", "1/5"]
    events = served.ok("describe", "job", "leader")
    assert events.count("SuccessfulDelete") == 4 and "Job completed" in events


@needs_kubectl
def test_without_a_match_the_job_runs_on(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=_indexed("pair", LEADER, [{"succeededCount": 2}]))
    served.cluster.advance(60)
    status = served.json("job", "pair")["status"]
    assert not status.get("conditions") and status["active"] == 4 and status["succeeded"] == 1
    assert served.rows("job", "pair")[1][1:3] == ["Running", "1/5"]


BAD = [
    ({"completionMode": "NonIndexed"}, [{"succeededCount": 1}],
     'The Job "bad" is invalid: spec.successPolicy: Invalid value: batch.SuccessPolicy{...}: requires indexed '
     'completion mode'),
    ({}, [], 'The Job "bad" is invalid: spec.successPolicy.rules: Required value: at least one rules must be '
             'specified when the successPolicy is specified'),
    ({}, [{}], 'The Job "bad" is invalid: spec.successPolicy.rules[0]: Required value: at least one of '
               'succeededCount or succeededIndexes must be specified'),
    ({}, [{"succeededIndexes": "0,5"}], 'The Job "bad" is invalid: spec.successPolicy.rules[0].succeededIndexes: '
                                        'Invalid value: "0,5": error parsing succeededIndexes: too large index: "5"'),
    ({}, [{"succeededIndexes": "3,1"}], 'The Job "bad" is invalid: spec.successPolicy.rules[0].succeededIndexes: '
                                        'Invalid value: "3,1": error parsing succeededIndexes: non-increasing order, '
                                        'previous: 3, current: 1'),
    ({}, [{"succeededIndexes": "0-x"}], 'The Job "bad" is invalid: spec.successPolicy.rules[0].succeededIndexes: '
                                        'Invalid value: "0-x": error parsing succeededIndexes: cannot convert string '
                                        'to integer for index: "x"'),
    ({}, [{"succeededIndexes": "0-1", "succeededCount": 3}],
     'The Job "bad" is invalid: spec.successPolicy.rules[0].succeededCount: Invalid value: 3: must be less than or '
     'equal to 2 (the number of indexes in the specified succeededIndexes field)'),
    ({}, [{"succeededCount": 6}],
     'The Job "bad" is invalid: spec.successPolicy.rules[0].succeededCount: Invalid value: 6: must be less than or '
     'equal to 5 (the number of specified completions)'),
]


@needs_kubectl
@pytest.mark.parametrize("spec,rules,message", BAD)
def test_bad_policies_are_refused_as_upstream(served: Served, spec: dict[str, Any], rules: list[dict[str, Any]],
                                              message: str) -> None:
    done = served.run("create", "-f", "-", stdin=_indexed("bad", "true", rules, **spec))
    assert (done.returncode, done.stderr) == (1, message + "\n")
    assert served.ok("get", "jobs", "-o", "name") == ""

"""The hints of the Jobs lab's checks (chapter 9) on the wrong answers a student may plausibly give, on an
in-process virtual-clock cluster. (tests/test_checks.py proves each check fails on its start state and
passes on its solution.)"""

from __future__ import annotations

from minik8s.cluster import Cluster
from minik8s.lab.checks import REGISTRY, load_all
from minik8s.lab.exercises import jobs
from minik8s.lab.session import ClusterView, InProcess

load_all()


def _verdict(cluster: Cluster, name: str) -> tuple[bool, str]:
    return REGISTRY[name].evaluate(ClusterView(InProcess(cluster)))


def _cluster() -> Cluster:
    return Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0)


def test_a_deployment_without_a_service_is_not_enough_for_fetch() -> None:
    with _cluster() as c:
        c.apply(jobs.FETCH_JOB)
        c.kubectl("create deployment web --image=nginx")
        c.advance(60)
        passed, message = _verdict(c, "jobs-retry")
    assert not passed and "no Service named web" in message


def test_replace_is_not_forbid_and_the_history_limit_is_checked() -> None:
    with _cluster() as c:
        c.apply(jobs.BACKUP_CRONJOB.replace("Forbid", "Replace"))
        passed, message = _verdict(c, "jobs-cron")
        assert not passed and "killing the running" in message and "Forbid" in message
        c.kubectl("delete cronjob backup")
        c.apply(jobs.BACKUP_CRONJOB.replace("  successfulJobsHistoryLimit: 2\n", ""))
        passed, message = _verdict(c, "jobs-cron")
    assert not passed and "keeps 3 successful Job(s)" in message


def test_a_non_indexed_job_and_an_unfinished_one_get_their_own_hints() -> None:
    with _cluster() as c:
        c.apply(jobs.SHARDS_JOB.replace("  completionMode: Indexed\n", ""))
        passed, message = _verdict(c, "jobs-indexed")
        assert not passed and "NonIndexed" in message and "JOB_COMPLETION_INDEX" in message
        c.kubectl("delete job shards")
        c.apply(jobs.SHARDS_JOB)
        passed, message = _verdict(c, "jobs-indexed")
    assert not passed and "is not complete yet" in message and "2 active" in message

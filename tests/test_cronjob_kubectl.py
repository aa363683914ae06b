"""CronJobs and Jobs through the real kubectl and a real minik8s server: time zones, bad input,
``create job --from=cronjob/...``; plus every-minute schedules and time zones on the virtual clock."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import needs_kubectl
from test_cronjob import cronjob_yaml
from minik8s.cluster import Cluster
from minik8s.clock import VIRTUAL_EPOCH, rfc3339
from minik8s.controllers.cronjob import CRONJOBS, SCHEDULED_TIMESTAMP
from minik8s.controllers.events import EVENTS
from minik8s.controllers.job import JOBS


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def created(c: Cluster, name: str) -> int:
    items = c.client.list(EVENTS, "default")["items"]
    return sum(e.get("count", 1) for e in items
               if e["involvedObject"]["name"] == name and e["reason"] == "SuccessfulCreate")


def test_every_minute_for_an_hour_keeps_the_history_limit(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("tick", "*/1 * * * *", "sleep 5", successfulJobsHistoryLimit=2))
    cluster.advance(3600 + 30)
    assert created(cluster, "tick") == 60
    names = sorted(j["metadata"]["name"] for j in cluster.client.list(JOBS, "default")["items"])
    assert len(names) == 2  # 60 ran and completed; only the newest two are kept
    assert cluster.client.get(CRONJOBS, "tick", "default")["status"]["lastScheduleTime"] == \
        rfc3339(VIRTUAL_EPOCH + 3600)


def test_time_zone_schedules_in_that_zone(cluster: Cluster) -> None:
    # 19:30 in New York (UTC-5 in January) is 00:30 UTC: the virtual clock starts at 2025-01-01T00:00:00Z.
    cluster.apply(cronjob_yaml("ny", "30 19 * * *", "sleep 5", timeZone="America/New_York"))
    cluster.advance(29 * 60)
    assert cluster.client.list(JOBS, "default")["items"] == []
    cluster.advance(2 * 60)
    (job,) = cluster.client.list(JOBS, "default")["items"]
    # The annotation is the schedule time in the CronJob's zone, as upstream formats it (RFC 3339, offset).
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2024-12-31T19:30:00-05:00"
    row = cluster.kubectl("get cronjobs").split("\n")[1].split()
    assert row[:8] == ["ny", "30", "19", "*", "*", "*", "America/New_York", "False"]


@needs_kubectl
def test_bad_time_zone_and_schedule_are_refused(server: Any) -> None:
    out = server.kubectl("apply", "-f", "-", stdin=cronjob_yaml("mars", "* * * * *", "sleep 5", timeZone="Mars/Base"))
    assert out.returncode == 1
    assert 'The CronJob "mars" is invalid: spec.timeZone: Invalid value: "Mars/Base": unknown time zone ' \
        'Mars/Base' in out.stderr
    out = server.kubectl("apply", "-f", "-", stdin=cronjob_yaml("local", "* * * * *", "sleep 5", timeZone="Local"))
    assert out.returncode == 1
    assert 'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in ' \
        'https://www.iana.org/time-zones' in out.stderr
    out = server.kubectl("apply", "-f", "-", stdin=cronjob_yaml("bad", "61 * * * *", "sleep 5"))
    assert out.returncode == 1
    assert 'The CronJob "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above ' \
        'maximum (59): 61' in out.stderr
    out = server.kubectl("apply", "-f", "-", stdin=cronjob_yaml("bogus", "bogus", "sleep 5"))
    assert 'spec.schedule: Invalid value: "bogus": expected exactly 5 fields, found 1: [bogus]' in out.stderr
    assert server.kubectl("get", "cronjobs", "-o", "name").stdout == ""  # nothing half-written


@needs_kubectl
def test_create_job_from_cronjob_with_real_kubectl(server: Any) -> None:
    assert server.kubectl("apply", "-f", "-", stdin=cronjob_yaml("nightly", "0 3 * * *", "sleep 5")).returncode == 0
    out = server.kubectl("create", "job", "manual-run", "--from=cronjob/nightly")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "job.batch/manual-run created\n"
    job = json.loads(server.kubectl("get", "job", "manual-run", "-o", "json").stdout)
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    owner = job["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner.get("controller")) == ("CronJob", "nightly", True)
    header = server.kubectl("get", "jobs").stdout.split("\n")[0].split()
    assert header == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]


def test_too_many_missed_times_warns_and_starts_the_latest(cluster: Cluster) -> None:
    # Suspended for two hours: 120 missed minutes. As upstream since 1.27 (manyMissed), the controller
    # warns and still starts the most recent schedule, not the 120 missed ones.
    cluster.apply(cronjob_yaml("late", "* * * * *", "sleep 5", suspend=True))
    cluster.advance(2 * 3600 + 30)
    assert cluster.client.list(JOBS, "default")["items"] == []
    cluster.client.patch(CRONJOBS, "late", {"spec": {"suspend": False}}, "default")
    cluster.run_until_stable()
    items = cluster.client.list(EVENTS, "default")["items"]
    warnings = [(e["type"], e["message"]) for e in items if e["reason"] == "TooManyMissedTimes"]
    assert warnings == [("Warning", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds "
                                    "or check clock skew")]
    (job,) = cluster.client.list(JOBS, "default")["items"]
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2025-01-01T02:00:00Z"

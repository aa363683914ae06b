"""Tests for the CronJob controller (minik8s/controllers/cronjob.py) and cron schedules (cron.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minik8s.cluster import Cluster
from minik8s.clock import VIRTUAL_EPOCH, rfc3339
from minik8s.controllers import cron
from minik8s.controllers.cronjob import (CRONJOBS, SCHEDULED_TIMESTAMP, job_from_template, job_name,
                                         jobs_to_delete, most_recent_schedule_time)
from minik8s.controllers.events import EVENTS
from minik8s.controllers.job import JOBS


def cronjob_yaml(name: str, schedule: str, command: str, **spec: Any) -> str:
    body = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox", "command": ["sh", "-c", command]}]}}}}}}
    return json.dumps(body)


@pytest.fixture
def cluster() -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def jobs(c: Cluster) -> list[str]:
    return sorted(j["metadata"]["name"] for j in c.client.list(JOBS, "default")["items"])


def cronjob(c: Cluster, name: str) -> dict[str, Any]:
    return c.client.get(CRONJOBS, name, "default")


def events(c: Cluster, name: str) -> list[tuple[str, str]]:
    items = c.client.list(EVENTS, "default")["items"]
    return [(e["reason"], e["message"]) for e in items if e["involvedObject"]["name"] == name
            for _ in range(e.get("count", 1))]


def minute(offset_minutes: int) -> int:
    return (int(VIRTUAL_EPOCH) + 60 * offset_minutes) // 60


# --- whole cluster ------------------------------------------------------------------------------


def test_every_five_minutes_for_an_hour(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("hello", "*/5 * * * *", "sleep 10"))
    assert jobs(cluster) == []
    cluster.advance(3600)
    evs = events(cluster, "hello")
    created = [m for r, m in evs if r == "SuccessfulCreate"]
    assert created == [f"Created job hello-{minute(5 * i)}" for i in range(1, 13)]  # exactly 12
    # History: 3 successful kept, the rest deleted oldest first; the last one still runs.
    assert jobs(cluster) == [f"hello-{minute(m)}" for m in (45, 50, 55, 60)]
    deleted = [m for r, m in evs if r == "SuccessfulDelete"]
    assert deleted[0] == f"Deleted job hello-{minute(5)}" and len(deleted) == 8
    assert ("SawCompletedJob", f"Saw completed job: hello-{minute(5)}, status: Complete") in evs
    cj = cronjob(cluster, "hello")
    assert cj["status"]["lastScheduleTime"] == rfc3339(VIRTUAL_EPOCH + 3600)
    assert [a["name"] for a in cj["status"]["active"]] == [f"hello-{minute(60)}"]
    # The last successful Job: pulling the cached image takes 0.5 s, then sleep 10.
    assert cj["status"]["lastSuccessfulTime"] == rfc3339(VIRTUAL_EPOCH + 55 * 60 + 10)
    job = cluster.client.get(JOBS, f"hello-{minute(60)}", "default")
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP] == "2025-01-01T01:00:00Z"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    out = cluster.kubectl("get cronjobs").split("\n")
    assert out[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert out[1].split()[:6] == ["hello", "*/5", "*", "*", "*", "*"]


def test_failed_history_limit(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("bad", "* * * * *", "exit 1", failedJobsHistoryLimit=1))
    # backoffLimit 0 so each Job fails at its first pod.
    cluster.client.patch(CRONJOBS, "bad", {"spec": {"jobTemplate": {"spec": {"backoffLimit": 0}}}}, "default")
    cluster.advance(5 * 60 + 30)
    names = jobs(cluster)
    assert names == [f"bad-{minute(5)}"]  # one failed Job kept, the older ones deleted


def test_forbid_skips_while_running(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("lock", "*/5 * * * *", "sleep 420", concurrencyPolicy="Forbid"))
    cluster.advance(11 * 60)
    # 00:05 starts (runs until ~00:12); 00:10 is skipped.
    assert jobs(cluster) == [f"lock-{minute(5)}"]
    assert ("JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is Forbid") in \
        events(cluster, "lock")
    # The skipped 00:10 tick is still the most recent unmet one: with no startingDeadlineSeconds it
    # starts (late) as soon as the first Job finishes, as upstream does.
    cluster.advance(5 * 60)
    assert jobs(cluster) == [f"lock-{minute(5)}", f"lock-{minute(10)}"]
    second = cluster.client.get(JOBS, f"lock-{minute(10)}", "default")
    assert second["metadata"]["creationTimestamp"] > rfc3339(VIRTUAL_EPOCH + 12 * 60)


def test_replace_replaces_running_job(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("swap", "*/5 * * * *", "sleep 1000", concurrencyPolicy="Replace"))
    cluster.advance(10 * 60)
    assert jobs(cluster) == [f"swap-{minute(10)}"]
    assert ("SuccessfulDelete", f"Deleted job swap-{minute(5)}") in events(cluster, "swap")
    cj = cronjob(cluster, "swap")
    assert [a["name"] for a in cj["status"]["active"]] == [f"swap-{minute(10)}"]


def test_allow_runs_concurrently(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("many", "*/5 * * * *", "sleep 1000"))
    cluster.advance(15 * 60)
    assert len(cronjob(cluster, "many")["status"]["active"]) == 3


def test_suspend_stops_creation(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("paused", "*/5 * * * *", "sleep 1", suspend=True))
    cluster.advance(3600)
    assert jobs(cluster) == []
    row = cluster.kubectl("get cronjobs").split("\n")[1].split()
    assert row[:9] == ["paused", "*/5", "*", "*", "*", "*", "<none>", "True", "0"]
    cluster.client.patch(CRONJOBS, "paused", {"spec": {"suspend": False}}, "default")
    cluster.run_until_stable()
    # Missed ticks are not replayed: only the most recent one runs, late.
    assert jobs(cluster) == [f"paused-{minute(60)}"]


def test_starting_deadline_skips_late_tick(cluster: Cluster) -> None:
    cluster.apply(cronjob_yaml("late", "*/5 * * * *", "sleep 1", suspend=True, startingDeadlineSeconds=60))
    cluster.advance(7 * 60)
    cluster.client.patch(CRONJOBS, "late", {"spec": {"suspend": False}}, "default")
    cluster.run_until_stable()
    assert jobs(cluster) == []  # 00:05 is more than 60 s ago
    cluster.advance(3 * 60)
    assert jobs(cluster) == [f"late-{minute(10)}"]


# --- the pure parts ---------------------------------------------------------------------------------


def test_job_name_and_template() -> None:
    cj = {"apiVersion": "batch/v1", "kind": "CronJob",
          "metadata": {"name": "hello", "namespace": "default", "uid": "u1"},
          "spec": {"timeZone": "Europe/Paris", "jobTemplate": {"metadata": {"labels": {"a": "b"}},
                                                               "spec": {"backoffLimit": 1}}}}
    t = 28934560 * 60.0
    assert job_name(cj, t) == "hello-28934560"
    job = job_from_template(cj, t)
    assert job["metadata"]["name"] == "hello-28934560"
    assert job["metadata"]["labels"] == {"a": "b"}
    assert job["metadata"]["annotations"][SCHEDULED_TIMESTAMP].endswith("+01:00")
    assert job["spec"] == {"backoffLimit": 1}
    assert job["metadata"]["ownerReferences"][0]["uid"] == "u1"


def test_history_limits_pick_oldest() -> None:
    def j(name: str, start: int, kind: str) -> dict[str, Any]:
        return {"metadata": {"name": name}, "status": {"startTime": rfc3339(start),
                                                         "conditions": [{"type": kind, "status": "True"}]}}
    cj = {"spec": {"successfulJobsHistoryLimit": 1, "failedJobsHistoryLimit": 0}}
    doomed = jobs_to_delete(cj, [j("c", 3, "Complete"), j("a", 1, "Complete"), j("f", 2, "Failed")])
    assert [d["metadata"]["name"] for d in doomed] == ["a", "f"]


def test_too_many_missed() -> None:
    cj = {"metadata": {"creationTimestamp": rfc3339(VIRTUAL_EPOCH)}, "spec": {}, "status": {}}
    schedule = cron.parse("* * * * *")
    _, latest, missed = most_recent_schedule_time(cj, VIRTUAL_EPOCH + 200 * 60 + 30, schedule, True)
    assert latest == VIRTUAL_EPOCH + 200 * 60 and missed == 2
    _, latest, missed = most_recent_schedule_time(cj, VIRTUAL_EPOCH + 5 * 60, schedule, True)
    assert latest == VIRTUAL_EPOCH + 5 * 60 and missed == 1


def test_cron_descriptors_and_zones() -> None:
    assert cron.parse("@hourly").next(VIRTUAL_EPOCH) == VIRTUAL_EPOCH + 3600
    assert cron.parse("@daily").next(VIRTUAL_EPOCH) == VIRTUAL_EPOCH + 86400
    assert cron.parse("@every 90s").next(VIRTUAL_EPOCH) == VIRTUAL_EPOCH + 90
    # 09:00 in Paris is 08:00 UTC in winter.
    assert cron.parse("0 9 * * *", "Europe/Paris").next(VIRTUAL_EPOCH) == VIRTUAL_EPOCH + 8 * 3600
    assert cron.parse("0 0 30 2 *").next(VIRTUAL_EPOCH) is None
    with pytest.raises(ValueError, match="expected exactly 5 fields"):
        cron.parse("* * *")


@settings(max_examples=60, deadline=None)
@given(minute_=st.sampled_from(["*", "*/7", "0,30", "15-20"]), hour=st.sampled_from(["*", "3", "1-5/2"]),
       dom=st.sampled_from(["*", "1", "13,31"]), dow=st.sampled_from(["*", "1-5", "0"]),
       offset=st.integers(0, 400 * 86400))
def test_next_matches_and_is_minimal(minute_: str, hour: str, dom: str, dow: str, offset: int) -> None:
    """next(t) is after t, matches every field, and no earlier minute after t matches."""
    from datetime import datetime, timezone
    schedule = cron.parse(f"{minute_} {hour} {dom} * {dow}")
    t = VIRTUAL_EPOCH + offset
    nxt = schedule.next(t)
    assert nxt is not None and nxt > t
    fields = schedule.fields
    assert fields is not None

    def matches(x: float) -> bool:
        d = datetime.fromtimestamp(x, tz=timezone.utc)
        mi, ho, dm, _, dw = fields
        dom_ok, dow_ok = d.day in dm.values, d.isoweekday() % 7 in dw.values
        day = (dom_ok and dow_ok) if (dm.star or dw.star) else (dom_ok or dow_ok)
        return d.minute in mi.values and d.hour in ho.values and day
    assert matches(nxt)
    probe = (int(t) // 60 + 1) * 60
    steps = 0
    while probe < nxt and steps < 3000:  # spot-check the minutes just after t
        assert not matches(probe)
        probe += 60
        steps += 1

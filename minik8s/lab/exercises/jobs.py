"""Checks for the Jobs and CronJobs lab (labs/09-jobs.ipynb, chapter 9).

Three exercises, each about one thing the Job and CronJob controllers do for you:

* ``jobs-retry``: the Job ``fetch`` fails while the Service it calls does not exist; the
  Job controller retries with a growing back-off, so providing the Service is enough for
  a later pod to succeed (no new Job, no manual restart);
* ``jobs-cron``: a CronJob ``backup`` every five minutes that never runs two Jobs at once
  (``concurrencyPolicy: Forbid``) and keeps the two most recent successful Jobs;
* ``jobs-indexed``: an Indexed Job ``shards`` of 5 completions, 2 pods at a time, run to
  completion (every index 0-4 succeeded).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The Job of exercise 1: it fetches http://web, which nothing serves until the student provides it.
FETCH_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: fetch
spec:
  backoffLimit: 6
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: fetch
        image: busybox
        command: ["wget", "-q", "-O-", "http://web"]
"""

BACKUP_CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "*/5 * * * *"
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 2
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: backup
            image: busybox
            command: ["sh", "-c", "echo backing up; sleep 30"]
"""

SHARDS_JOB = """\
apiVersion: batch/v1
kind: Job
metadata:
  name: shards
spec:
  completions: 5
  parallelism: 2
  completionMode: Indexed
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: shard
        image: busybox
        command: ["sh", "-c", "echo shard $JOB_COMPLETION_INDEX; sleep 5"]
"""


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _condition(job: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return dict(cond)
    return None


def _not_finished(job: dict[str, Any]) -> str | None:
    """None when the Job is Complete; otherwise what is in the way."""
    name = job["metadata"]["name"]
    failed = _condition(job, "Failed")
    if failed is not None:
        return (f"Job {name} has failed ({failed.get('reason')}: {failed.get('message')}); "
                f"delete it and start again (kubectl delete job {name})")
    if _condition(job, "Complete") is None:
        status = job.get("status") or {}
        return (f"Job {name} is not complete yet ({status.get('succeeded', 0)} succeeded, "
                f"{status.get('failed', 0)} failed, {status.get('active', 0)} active); let time pass "
                "(%minik8s advance 60s) and look again")
    return None


# --- exercise 1: a Job that retries until it can succeed ---------------------------------------

@exercise("jobs-retry", hint="Give the Job fetch what it needs (something answering at http://web) and let it retry.",
          nodes=3)
def jobs_retry(view: ClusterView) -> str | None:
    job = view.get("jobs", "fetch")
    if job is None:
        return "there is no Job named fetch: run the cell that creates it first"
    if not any(c.get("command") == ["wget", "-q", "-O-", "http://web"]
               for c in _spec(_spec(job).get("template") or {}).get("containers") or []):
        return "Job fetch no longer fetches http://web; the exercise is to make the original command succeed"
    if view.get("services", "web") is None:
        return ("nothing answers at http://web: its pods print \"wget: bad address 'web'\" because there is "
                "no Service named web (a Deployment alone has no name in DNS)")
    problem = _not_finished(job)
    if problem:
        return problem
    if int((job.get("status") or {}).get("failed") or 0) == 0:
        return "Job fetch succeeded at its first try: recreate it before the Service, to see it retry"
    return None


@jobs_retry.start
def _retry_start(cluster: "Cluster") -> None:
    cluster.apply(FETCH_JOB)
    cluster.advance(20)


@jobs_retry.solution
def _retry_solution(cluster: "Cluster") -> None:
    cluster.kubectl("create deployment web --image=nginx")
    cluster.kubectl("expose deployment web --port=80")
    cluster.advance(120)


# --- exercise 2: a CronJob that never overlaps ----------------------------------------------------

@exercise("jobs-cron", hint="Create the CronJob backup: every 5 minutes, concurrencyPolicy Forbid, 2 successful "
                            "Jobs kept.", nodes=3)
def jobs_cron(view: ClusterView) -> str | None:
    cronjob = view.get("cronjobs", "backup")
    if cronjob is None:
        if view.get("jobs", "backup") is not None:
            return "backup is a Job: it runs once; a CronJob (kind: CronJob) creates a Job on a schedule"
        return "there is no CronJob named backup in namespace default"
    spec = _spec(cronjob)
    if spec.get("schedule") != "*/5 * * * *":
        return f"CronJob backup runs on {spec.get('schedule')!r}; every five minutes is '*/5 * * * *'"
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy == "Replace":
        return ("concurrencyPolicy Replace never lets two Jobs run at once, but it does so by killing the running "
                "backup half-way; Forbid skips the new run instead")
    if policy != "Forbid":
        return f"concurrencyPolicy {policy} lets a new Job start while the last one still runs; use Forbid"
    kept = spec.get("successfulJobsHistoryLimit", 3)
    if kept != 2:
        return f"CronJob backup keeps {kept} successful Job(s) (successfulJobsHistoryLimit); the exercise wants 2"
    if spec.get("suspend"):
        return "CronJob backup is suspended: it creates no Job until suspend is false"
    return None


@jobs_cron.start
def _cron_start(cluster: "Cluster") -> None:
    pass  # an empty cluster


@jobs_cron.solution
def _cron_solution(cluster: "Cluster") -> None:
    cluster.apply(BACKUP_CRONJOB)


# --- exercise 3: an Indexed Job, two at a time ------------------------------------------------------

@exercise("jobs-indexed", hint="Create the Indexed Job shards: 5 completions, parallelism 2, and let it finish.",
          nodes=3)
def jobs_indexed(view: ClusterView) -> str | None:
    job = view.get("jobs", "shards")
    if job is None:
        return "there is no Job named shards in namespace default"
    spec = _spec(job)
    if spec.get("completionMode", "NonIndexed") != "Indexed":
        return ("Job shards is NonIndexed: its pods are interchangeable and get no JOB_COMPLETION_INDEX; "
                "set completionMode: Indexed")
    if spec.get("completions") != 5:
        return f"Job shards wants {spec.get('completions')} completions, not 5"
    if spec.get("parallelism", 1) != 2:
        return f"Job shards runs {spec.get('parallelism', 1)} pod(s) at a time (parallelism), not 2"
    problem = _not_finished(job)
    if problem:
        return problem
    done = (job.get("status") or {}).get("completedIndexes")
    return None if done == "0-4" else f"completedIndexes is {done!r}; every index 0-4 must succeed"


@jobs_indexed.start
def _indexed_start(cluster: "Cluster") -> None:
    pass  # an empty cluster


@jobs_indexed.solution
def _indexed_solution(cluster: "Cluster") -> None:
    cluster.apply(SHARDS_JOB)
    cluster.advance(60)

"""Upstream's documented Job and CronJob examples, run with the real kubectl against a served
virtual-clock cluster: what kubectl prints, the conditions, their reasons and messages, the timings.

The cluster is in-process (``Cluster.serve()``) so that the test moves its virtual clock; after every
kubectl command the cluster settles, as a real one would while the user reads the output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minik8s import kubeconfig
from minik8s.cluster import Cluster
from minik8s.clock import VIRTUAL_EPOCH, parse_rfc3339
from minik8s.controllers.job import PODS
from tests.conftest import needs_kubectl

pytestmark = needs_kubectl


class Served:
    """A virtual-clock cluster served over HTTPS, and the real kubectl pointed at it."""

    def __init__(self, cluster: Cluster, home: Path):
        self.cluster, self.home = cluster, home
        config = kubeconfig.for_user(cluster.serve(), cluster.pki.ca_pem, "minik8s", token=cluster.pki.admin_token)
        kubeconfig.save(config, home / "kubeconfig")

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "KUBECONFIG": str(self.home / "kubeconfig"), "HOME": str(self.home)}
        done = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)
        self.cluster.run_until_stable()
        return done

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok("get", *args, "-o", "json"))

    def rows(self, *args: str) -> list[list[str]]:
        return [line.split() for line in self.ok("get", *args).splitlines()]


@pytest.fixture
def served(tmp_path: Path) -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield Served(c, tmp_path)


def job(name: str, containers: list[dict[str, Any]], restart: str = "Never", **spec: Any) -> str:
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
                       "spec": {**spec, "template": {"spec": {"restartPolicy": restart, "containers": containers}}}})


def sh(command: str, name: str = "main") -> list[dict[str, Any]]:
    return [{"name": name, "image": "busybox", "command": ["sh", "-c", command]}]


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    (found,) = [c for c in obj["status"].get("conditions") or [] if c["type"] == kind]
    return found  # type: ignore[no-any-return]


# --- the Job docs: "Running an example Job" ---------------------------------------------------------

PI = job("pi", [{"name": "pi", "image": "perl:5.34.0", "command": ["perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"]}],
         backoffLimit=4)


def test_pi_completes_and_kubectl_prints_it_as_v1_32(served: Served) -> None:
    assert served.ok("apply", "-f", "-", stdin=PI) == "job.batch/pi created\n"
    assert served.rows("job", "pi") == [["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
                                        ["pi", "Running", "0/1", "0s", "0s"]]
    served.cluster.advance(120)
    assert served.ok("wait", "--for=condition=complete", "job/pi", "--timeout=10s") == "job.batch/pi condition met\n"
    (row,) = served.rows("job", "pi")[1:]
    pod = served.json("pods", "-l", "batch.kubernetes.io/job-name=pi")["items"][0]
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    duration = int(parse_rfc3339(terminated["finishedAt"]) - parse_rfc3339(pod["metadata"]["creationTimestamp"]))
    assert row == ["pi", "Complete", "1/1", f"{duration}s", "2m"]
    assert served.ok("logs", "job/pi").startswith("3.141592653589793238462643383279502884197")
    complete = condition(served.json("job", "pi"), "Complete")
    assert (complete["reason"], complete["message"]) == ("CompletionsReached", "Reached expected number of succeeded pods")
    described = served.ok("describe", "job", "pi")
    assert "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed" in described
    assert "Completed         " in described and "job-controller  Job completed" in described


def test_wait_for_complete_times_out_on_a_running_job_with_exit_code_1(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=job("slow", sh("sleep 600")))
    done = served.run("wait", "--for=condition=complete", "job/slow", "--timeout=1s")
    assert done.returncode == 1
    assert done.stderr == "error: timed out waiting for the condition on jobs/slow\n"


# --- the CronJob docs: every minute, for an hour -----------------------------------------------------


def test_every_minute_for_an_hour_gives_60_jobs_and_keeps_the_default_3(served: Served) -> None:
    out = served.ok("create", "cronjob", "hello", "--image=busybox:1.28", "--schedule=*/1 * * * *",
                    "--", "sh", "-c", "date; echo Hello from the Kubernetes cluster")
    assert out == "cronjob.batch/hello created\n"
    cronjob = served.json("cronjob", "hello")
    assert (cronjob["spec"]["successfulJobsHistoryLimit"], cronjob["spec"]["failedJobsHistoryLimit"],
            cronjob["spec"]["concurrencyPolicy"]) == (3, 1, "Allow")
    served.cluster.advance(3600 + 30)
    events = served.json("events", "--field-selector", "involvedObject.name=hello")["items"]
    assert sum(e.get("count", 1) for e in events if e["reason"] == "SuccessfulCreate") == 60
    assert sum(e.get("count", 1) for e in events if e["reason"] == "SawCompletedJob") == 60
    jobs = served.rows("jobs")
    last = int(VIRTUAL_EPOCH) // 60 + 60  # a scheduled Job is named after its minute since the epoch
    assert [r[:3] for r in jobs[1:]] == [[f"hello-{last - m}", "Complete", "1/1"] for m in (2, 1, 0)]
    header, row = served.rows("cronjob", "hello")
    assert header == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert row == ["hello", "*/1", "*", "*", "*", "*", "<none>", "False", "0", "30s", "60m"]


# --- the Job docs: "Handling Pod and container failures" with a podFailurePolicy ---------------------

POLICY_RULES = [{"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]


def test_exit_code_42_fails_the_job_with_the_rule_that_matched(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=job("job-pod-failure-policy-example",
                                             [{"name": "main", "image": "docker.io/library/bash:5", "command": ["bash"],
                                               "args": ["-c", 'echo "Hello world!" && sleep 5 && exit 42']}],
                                             completions=12, parallelism=3, backoffLimit=6,
                                             podFailurePolicy={"rules": POLICY_RULES}))
    served.cluster.advance(30)
    failed = served.json("job", "job-pod-failure-policy-example")
    target, final = condition(failed, "FailureTarget"), condition(failed, "Failed")
    assert target["reason"] == final["reason"] == "PodFailurePolicy"
    pod_names = served.ok("get", "pods", "-o", "name").split()
    assert any(final["message"] == f"Container main for pod default/{name.split('/')[1]} failed with exit code 42 "
               "matching FailJob rule at index 0" for name in pod_names), final["message"]
    assert served.rows("job", "job-pod-failure-policy-example")[1][1:3] == ["Failed", "0/12"]


def test_an_evicted_pod_is_a_disruption_that_the_ignore_rule_does_not_count(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=job("evicted", sh("sleep 60"), backoffLimit=0,
                                             podFailurePolicy={"rules": POLICY_RULES}))
    served.cluster.advance(10)
    (first,) = served.json("pods")["items"]
    name = first["metadata"]["name"]
    # What `kubectl drain` asks for; the cluster is not given time to act before the pod is read back.
    served.cluster.client.create(PODS, {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}},
                                 "default", subresource="eviction")
    target = condition(served.cluster.client.get(PODS, name, "default"), "DisruptionTarget")
    assert (target["status"], target["reason"], target["message"]) == ("True", "EvictionByEvictionAPI",
                                                                        "Eviction API: evicting")
    served.cluster.advance(120)
    status = served.json("job", "evicted")["status"]
    # backoffLimit 0, yet the Job goes on and completes: an eviction is not the workload's fault.
    assert status.get("failed", 0) == 0 and status["succeeded"] == 1
    assert served.rows("job", "evicted")[1][1:3] == ["Complete", "1/1"]
    assert name not in served.ok("get", "pods", "-o", "name")


@pytest.mark.parametrize("policy,replaced_at_once", [("Failed", False), ("TerminatingOrFailed", True)])
def test_pod_replacement_policy_failed_waits_for_the_deleted_pod_to_fail(served: Served, policy: str,
                                                                        replaced_at_once: bool) -> None:
    body = json.loads(job("stopper", sh("sleep 600"), podReplacementPolicy=policy))
    # The simulated container takes 20 s to exit after SIGTERM, as a slow app would.
    body["spec"]["template"]["metadata"] = {"annotations": {"sim.minik8s.io/main": json.dumps({"stopSeconds": 20})}}
    served.ok("apply", "-f", "-", stdin=json.dumps(body))
    served.cluster.advance(10)
    (first,) = served.json("pods")["items"]
    served.ok("delete", "pod", first["metadata"]["name"], "--wait=false")
    served.cluster.advance(5)
    fresh = [p for p in served.json("pods")["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(fresh) == int(replaced_at_once)
    served.cluster.advance(30)
    status = served.json("job", "stopper")["status"]
    assert (status["active"], status["failed"], status.get("terminating", 0)) == (1, 1, 0)


# --- the Job docs: Indexed completion mode ----------------------------------------------------------


def test_indexed_pods_see_their_index_in_env_annotation_and_label(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=job("indexed", sh("echo index=$JOB_COMPLETION_INDEX && sleep 5"),
                                             completions=3, parallelism=3, completionMode="Indexed"))
    served.cluster.advance(30)
    index = "batch.kubernetes.io/job-completion-index"
    pods = served.json("pods", "-l", "batch.kubernetes.io/job-name=indexed")["items"]
    for pod in pods:
        mine = pod["metadata"]["annotations"][index]
        assert pod["metadata"]["labels"][index] == mine
        assert served.ok("logs", pod["metadata"]["name"]) == f"index={mine}\n"
    assert sorted(p["metadata"]["labels"][index] for p in pods) == ["0", "1", "2"]
    status = served.json("job", "indexed")["status"]
    assert (status["completedIndexes"], status["succeeded"]) == ("0-2", 3)
    assert "Completed Indexes:  0-2" in served.ok("describe", "job", "indexed")
    selected = served.ok("get", "pods", "-l", f"{index}=1", "-o", "name").split()
    assert len(selected) == 1 and selected[0].startswith("pod/indexed-1-")


# --- the Job docs: "Pod backoff failure policy" --------------------------------------------------------


def test_retries_back_off_10_20_40_seconds_then_backoff_limit_exceeded(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=job("flaky", sh("sleep 1 && exit 1"), backoffLimit=3))
    served.cluster.advance(300)
    pods = sorted(served.json("pods")["items"], key=lambda p: p["metadata"]["creationTimestamp"])
    assert len(pods) == 4  # the first try and three retries: backoffLimit 3
    created = [parse_rfc3339(p["metadata"]["creationTimestamp"]) for p in pods]
    finished = [parse_rfc3339(p["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]) for p in pods]
    assert [created[i + 1] - finished[i] for i in range(3)] == [10, 20, 40]
    failed = served.json("job", "flaky")
    final = condition(failed, "Failed")
    assert (final["reason"], final["message"]) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert failed["status"]["failed"] == 4 and "completionTime" not in failed["status"]
    assert served.rows("job", "flaky")[1][1:3] == ["Failed", "0/1"]
    described = served.ok("describe", "job", "flaky")
    assert "Warning  BackoffLimitExceeded" in described and "Job has reached the specified backoff limit" in described


# --- bad input: upstream's 422s, nothing stored ---------------------------------------------------------


def cronjob(name: str, schedule: str, **spec: Any) -> str:
    return json.dumps({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
                       "spec": {"schedule": schedule, **spec, "jobTemplate": {"spec": {"template": {"spec": {
                           "restartPolicy": "OnFailure", "containers": sh("date")}}}}}})


# Neither completions nor parallelism would default both to 1; parallelism alone leaves completions unset.
INDEXED_WITHOUT_COMPLETIONS = job("nocount", sh("true"), completionMode="Indexed", parallelism=2)
BAD_OPERATOR = job("badop", sh("true"), podFailurePolicy={"rules": [
    {"action": "FailJob", "onExitCodes": {"operator": "Equals", "values": [42]}}]})
HAND_SET_SELECTOR = json.dumps({
    "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "picky"},
    "spec": {"selector": {"matchLabels": {"app": "picky"}}, "template": {
        "metadata": {"labels": {"app": "picky"}},
        "spec": {"restartPolicy": "Never", "containers": sh("true")}}}})

BAD_INPUT = [
    ("cronjobs", cronjob("typo", "*/1 * * *"),
     'The CronJob "typo" is invalid: spec.schedule: Invalid value: "*/1 * * *": expected exactly 5 fields, '
     'found 4: [*/1 * * *]'),
    ("cronjobs", cronjob("hours", "0 24 * * *"),
     'The CronJob "hours" is invalid: spec.schedule: Invalid value: "0 24 * * *": end of range (24) above '
     'maximum (23): 24'),
    ("cronjobs", cronjob("atlantis", "0 3 * * *", timeZone="Atlantis/Capital"),
     'The CronJob "atlantis" is invalid: spec.timeZone: Invalid value: "Atlantis/Capital": unknown time zone '
     'Atlantis/Capital'),
    ("cronjobs", cronjob("tz", "TZ=Europe/Paris 0 3 * * *"),
     'The CronJob "tz" is invalid: spec.schedule: Invalid value: "TZ=Europe/Paris 0 3 * * *": cannot use TZ or '
     'CRON_TZ in schedule, use timeZone field instead'),
    ("cronjobs", cronjob("crontz", "CRON_TZ=UTC 0 3 * * *"),
     'The CronJob "crontz" is invalid: spec.schedule: Invalid value: "CRON_TZ=UTC 0 3 * * *": cannot use TZ or '
     'CRON_TZ in schedule, use timeZone field instead'),
    ("jobs", job("minus", sh("true"), completions=-1, parallelism=-2),
     'The Job "minus" is invalid: \n* spec.parallelism: Invalid value: -2: must be greater than or equal to 0\n'
     '* spec.completions: Invalid value: -1: must be greater than or equal to 0'),
    ("jobs", INDEXED_WITHOUT_COMPLETIONS,
     'The Job "nocount" is invalid: spec.completions: Required value: when completion mode is Indexed'),
    ("jobs", BAD_OPERATOR,
     'The Job "badop" is invalid: spec.podFailurePolicy.rules[0].onExitCodes.operator: Unsupported value: '
     '"Equals": supported values: "In", "NotIn"'),
]


@pytest.mark.parametrize("kind,body,message", BAD_INPUT, ids=[m.split('"')[1] for _, _, m in BAD_INPUT])
def test_bad_input_is_refused_as_upstream_and_nothing_is_stored(served: Served, kind: str, body: str,
                                                               message: str) -> None:
    done = served.run("create", "-f", "-", stdin=body)
    assert done.returncode == 1
    assert done.stderr == f"{message}\n"
    assert served.ok("get", kind, "-o", "name") == ""


def test_a_hand_set_selector_needs_manual_selector(served: Served) -> None:
    done = served.run("create", "-f", "-", stdin=HAND_SET_SELECTOR)
    assert done.returncode == 1
    assert done.stderr.startswith('The Job "picky" is invalid: spec.selector: Invalid value: '
                                  'v1.LabelSelector{MatchLabels:map[string]string{"app":"picky", '
                                  '"batch.kubernetes.io/controller-uid":"'), done.stderr
    assert done.stderr.endswith('"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not '
                                'auto-generated\n'), done.stderr
    assert served.ok("get", "jobs", "-o", "name") == ""
    manual = json.loads(HAND_SET_SELECTOR)
    manual["spec"]["manualSelector"] = True
    assert served.ok("create", "-f", "-", stdin=json.dumps(manual)) == "job.batch/picky created\n"
    served.cluster.advance(10)
    assert served.json("job", "picky")["spec"]["selector"] == {"matchLabels": {"app": "picky"}}
    assert served.rows("job", "picky")[1][1:3] == ["Complete", "1/1"]


# --- kubectl logs -l: minik8s's kubectl prints what the real one prints ---------------------------------


def test_logs_by_selector_with_prefix_and_default_tail_as_the_real_kubectl(served: Served) -> None:
    served.ok("apply", "-f", "-", stdin=job("count", sh(
        "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo $JOB_COMPLETION_INDEX-$i; done"),
        completions=2, parallelism=2, completionMode="Indexed"))
    served.cluster.advance(30)
    env = {**os.environ, "KUBECONFIG": str(served.home / "kubeconfig"), "HOME": str(served.home)}

    def ours(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "minik8s", "kubectl", *args], capture_output=True, text=True,
                              env=env, timeout=60)

    def by_pod(out: str) -> dict[str, list[str]]:
        # The real kubectl keeps its log requests in a Go map, so the pods come in any order; each pod's lines
        # stay together and in order. Compare pod by pod (a line "I-n" or "[pod/...] I-n" belongs to index I).
        blocks: dict[str, list[str]] = {}
        order: list[str] = []
        for line in out.splitlines():
            key = line.split("] ")[-1].split("-")[0]
            if not order or order[-1] != key:
                assert key not in blocks, f"the lines of {key} are not together: {out!r}"
                order.append(key)
            blocks.setdefault(key, []).append(line)
        return blocks

    selector = "batch.kubernetes.io/job-name=count"
    for args in (["-l", selector], ["-l", selector, "--prefix", "--tail=2"], ["-l", "app=none"]):
        real, mine = served.run("logs", *args), ours("logs", *args)
        assert (mine.returncode, by_pod(mine.stdout), mine.stderr) == (real.returncode, by_pod(real.stdout),
                                                                       real.stderr), args
    lines = served.ok("logs", "-l", selector).splitlines()   # a selector means the last 10 lines of each
    assert len(lines) == 20 and lines[0].endswith("-3") and lines[-1].endswith("-12")
    prefixed = ours("logs", "-l", selector, "--prefix", "--tail=1").stdout.splitlines()
    assert len(prefixed) == 2 and all(line.startswith("[pod/count-") and "/main] " in line for line in prefixed)
    both = ours("logs", "job/count", "-l", selector)
    assert both.returncode == 1 and "only a selector (-l) or a POD name is allowed" in both.stderr

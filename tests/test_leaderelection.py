"""Leader election through a Lease (minik8s.client.leaderelection): two electors over one cluster's API.

With a virtual clock the electors are components of the cluster's loop, so expiry, renewal and
takeover happen at exact instants and nothing sleeps. The last tests elect over HTTP against a
real ``minik8s server`` and read the Lease with the real kubectl."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s import Cluster
from minik8s.client.leaderelection import LEASES, LeaderElector
from minik8s.clock import VirtualClock, parse_rfc3339, rfc3339_micro
from tests.conftest import needs_kubectl

LOCK = "kube-controller-manager"


@pytest.fixture
def vc():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0, ingress=False,
                 metric_resolution=None) as cluster:
        yield cluster


class Partition:
    """The elector's client, cut off from the API server while ``cut`` (a network partition)."""

    def __init__(self, client: Any):
        self._client = client
        self.cut = False

    def __getattr__(self, name: str) -> Any:
        if self.cut:
            raise ConnectionError("The connection to the server 127.0.0.1:6443 was refused")
        return getattr(self._client, name)


def elector(c: Cluster, identity: str, client: Any = None, **options: Any) -> LeaderElector:
    """An elector driven by the cluster's loop; its callbacks append to ``elector.calls``."""
    calls: list[str] = []
    e = LeaderElector(client or c.client, LOCK, clock=c.clock, identity=identity, recorder=c.recorder,
                      component="kube-controller-manager",
                      on_started_leading=lambda: calls.append("started"),
                      on_stopped_leading=lambda: calls.append("stopped"),
                      on_new_leader=lambda who: calls.append(f"new:{who}"), **options)
    e.calls = calls  # type: ignore[attr-defined]
    c.components.append(e)
    return e


def lease(c: Cluster) -> dict[str, Any]:
    return c.client.get(LEASES, LOCK, "kube-system")["spec"]


def election_events(c: Cluster) -> list[str]:
    events = c.client.list(resources_events(), "kube-system")["items"]
    return [e["message"] for e in sorted(events, key=lambda e: e["metadata"]["resourceVersion"])
            if e["reason"] == "LeaderElection" and e["involvedObject"]["kind"] == "Lease"]


def resources_events() -> Any:
    from minik8s.api import resources
    return resources.get("", "v1", "events")


def advance_checking_one_leader(c: Cluster, seconds: int, *electors: LeaderElector) -> None:
    """Move time a second at a time; never may two electors lead at once."""
    for _ in range(seconds):
        c.advance(1)
        assert sum(e.is_leader for e in electors) <= 1, [e.identity for e in electors if e.is_leader]


def test_first_elector_creates_the_lease_and_leads(vc: Cluster) -> None:
    a = elector(vc, "cp-1_0f1e")
    b = elector(vc, "cp-2_9a8b")
    vc.run_until_stable()
    assert a.is_leader and not b.is_leader
    assert b.leader == "cp-1_0f1e"
    spec = lease(vc)
    now = rfc3339_micro(vc.clock.now())
    assert spec == {"holderIdentity": "cp-1_0f1e", "leaseDurationSeconds": 15, "acquireTime": now,
                    "renewTime": now, "leaseTransitions": 0}
    assert a.calls == ["new:cp-1_0f1e", "started"] and b.calls == ["new:cp-1_0f1e"]
    assert election_events(vc) == ["cp-1_0f1e became leader"]
    assert "cp-1_0f1e" in vc.kubectl("get lease -n kube-system kube-controller-manager")


def test_the_leader_renews_every_retry_period_and_keeps_its_acquire_time(vc: Cluster) -> None:
    a = elector(vc, "a")
    b = elector(vc, "b")
    vc.run_until_stable()
    acquired = lease(vc)["acquireTime"]
    advance_checking_one_leader(vc, 60, a, b)
    spec = lease(vc)
    assert a.is_leader and not b.is_leader
    assert spec["acquireTime"] == acquired and spec["leaseTransitions"] == 0
    # Renewed at the last multiple of the 2 s retry period.
    assert vc.clock.now() - parse_rfc3339(spec["renewTime"]) < 2
    assert election_events(vc) == ["a became leader"]


def test_a_crashed_leader_is_replaced_after_the_lease_duration_by_the_local_clock(vc: Cluster) -> None:
    a = elector(vc, "a")
    b = elector(vc, "b")
    advance_checking_one_leader(vc, 10, a, b)
    vc.components.remove(a)   # SIGKILL: it neither renews nor releases
    last_renewal = parse_rfc3339(lease(vc)["renewTime"])
    advance_checking_one_leader(vc, 14, b)
    assert not b.is_leader   # 15 s have not passed since b saw the record change
    advance_checking_one_leader(vc, 5, b)
    assert b.is_leader
    spec = lease(vc)
    taken = parse_rfc3339(spec["acquireTime"])
    assert last_renewal + 15 <= taken <= last_renewal + 15 + 2 + 2   # observed ≤ 2 s late, tried every 2 s
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    assert b.calls == ["new:a", "new:b", "started"]
    assert election_events(vc) == ["a became leader", "b became leader"]


def test_remote_timestamps_are_not_trusted(vc: Cluster) -> None:
    """A Lease whose renewTime is an hour old (another machine's clock) still waits out 15 s of our own."""
    hour_ago = rfc3339_micro(vc.clock.now() - 3600)
    vc.client.create(LEASES, {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                              "metadata": {"name": LOCK, "namespace": "kube-system"},
                              "spec": {"holderIdentity": "elsewhere", "leaseDurationSeconds": 15,
                                       "acquireTime": hour_ago, "renewTime": hour_ago, "leaseTransitions": 4}})
    b = elector(vc, "b")
    advance_checking_one_leader(vc, 14, b)
    assert not b.is_leader and b.leader == "elsewhere"
    vc.advance(2)
    assert b.is_leader and lease(vc)["leaseTransitions"] == 5


def test_a_leader_cut_off_stops_leading_within_the_renew_deadline_before_anyone_takes_over(vc: Cluster) -> None:
    partition = Partition(vc.client)
    a = elector(vc, "a", client=partition)
    b = elector(vc, "b")
    advance_checking_one_leader(vc, 7, a, b)
    last_renewal = parse_rfc3339(lease(vc)["renewTime"])
    partition.cut = True
    lost_at = None
    for _ in range(30):
        vc.advance(1)
        assert not (a.is_leader and b.is_leader)
        if lost_at is None and not a.is_leader:
            lost_at = vc.clock.now()
    assert lost_at is not None and lost_at <= last_renewal + 2 + 10   # one retry period, then the renew deadline
    assert a.calls[-1] == "stopped" and a.done
    assert b.is_leader and lease(vc)["holderIdentity"] == "b"
    assert parse_rfc3339(lease(vc)["acquireTime"]) >= last_renewal + 15
    # A lost term is over for good: back on the network, a does not compete again (the process exits).
    partition.cut = False
    vc.advance(30)
    assert not a.is_leader and lease(vc)["holderIdentity"] == "b"


def test_a_renewal_against_a_changed_lease_conflicts_and_the_leader_steps_down(vc: Cluster) -> None:
    """Optimistic concurrency: someone else wrote the Lease, so the leader's write of the version it read
    last gets 409; it re-reads, finds a valid holder that is not itself, and gives up at the renew deadline."""
    a = elector(vc, "a")
    vc.advance(3)
    stamp = rfc3339_micro(vc.clock.now())
    vc.kubectl(["patch", "lease", LOCK, "-n", "kube-system", "--type", "merge", "-p",
                '{"spec": {"holderIdentity": "intruder", "renewTime": "%s"}}' % stamp])
    vc.advance(9)
    assert a.is_leader   # still within its renew deadline
    vc.advance(4)
    assert not a.is_leader and a.calls[-1] == "stopped"
    assert lease(vc)["holderIdentity"] == "intruder"


def test_release_on_cancel_hands_over_at_the_next_retry(vc: Cluster) -> None:
    a = elector(vc, "a", release_on_cancel=True)
    b = elector(vc, "b")
    vc.advance(5)
    a.cancel()
    spec = lease(vc)
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1 and spec["leaseTransitions"] == 0
    assert a.calls[-1] == "stopped" and not a.is_leader
    vc.advance(2)
    assert b.is_leader
    assert lease(vc)["holderIdentity"] == "b" and lease(vc)["leaseTransitions"] == 1
    assert election_events(vc) == ["a became leader", "a stopped leading", "b became leader"]


def test_without_release_a_cancelled_leader_leaves_the_lease_to_expire(vc: Cluster) -> None:
    a = elector(vc, "a")
    b = elector(vc, "b")
    vc.advance(1)
    a.cancel()
    assert lease(vc)["holderIdentity"] == "a"
    vc.advance(10)
    assert not b.is_leader
    vc.advance(10)
    assert b.is_leader


def test_bad_timings_are_refused(vc: Cluster) -> None:
    with pytest.raises(ValueError, match="leaseDuration must be greater than renewDeadline"):
        LeaderElector(vc.client, LOCK, clock=vc.clock, identity="a", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="renewDeadline must be greater than retryPeriod"):
        LeaderElector(vc.client, LOCK, clock=vc.clock, identity="a", renew_deadline=2, retry_period=2)
    with pytest.raises(ValueError, match="identity is empty"):
        LeaderElector(vc.client, LOCK, clock=vc.clock, identity="")


# --- over HTTP, against a real server; each elector keeps its own (virtual) clock ---------------


def _tick(elector: LeaderElector, clock: VirtualClock, seconds: float) -> None:
    """Let ``seconds`` pass on the elector's own clock, running each try when it is due."""
    target = clock.now() + seconds
    while True:
        elector.promote(clock.now())
        while elector.process_one():
            pass
        due = elector.next_due()
        if due is None or due > target:
            break
        clock.set(due)
    clock.set(target)


@needs_kubectl
def test_election_over_http_with_the_real_kubectl(server) -> None:
    clock_a, clock_b = VirtualClock(), VirtualClock(start=VirtualClock().now() + 7200)   # clocks 2 h apart
    a = LeaderElector(server.http_client(), "kube-scheduler", clock=clock_a, identity="cp-1_aaaa",
                      release_on_cancel=True)
    b = LeaderElector(server.http_client(), "kube-scheduler", clock=clock_b, identity="cp-2_bbbb")
    _tick(a, clock_a, 0)
    _tick(b, clock_b, 0)
    assert a.is_leader and not b.is_leader
    for _ in range(10):   # a renews, b watches it renew: b's view of the lease never goes stale
        _tick(a, clock_a, 2)
        _tick(b, clock_b, 2)
    assert a.is_leader and not b.is_leader
    out = server.kubectl("get", "lease", "-n", "kube-system", "kube-scheduler")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0].split() == ["NAME", "HOLDER", "AGE"]
    assert out.stdout.split("\n")[1].split()[:2] == ["kube-scheduler", "cp-1_aaaa"]
    a.cancel()
    _tick(b, clock_b, 2)
    assert b.is_leader
    out = server.kubectl("get", "lease", "-n", "kube-system", "kube-scheduler",
                         "-o", "jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}")
    assert out.stdout == "cp-2_bbbb 1"


def test_health_check_fails_for_a_leader_stuck_past_its_lease(vc: Cluster) -> None:
    a = elector(vc, "a")
    b = elector(vc, "b")
    vc.advance(3)
    assert a.check() is None and b.check() is None
    vc.components.remove(a)   # its loop is stuck (a deadlock): it still believes it leads
    vc.advance(30)
    assert a.is_leader and a.check() is None   # within lease duration + 20 s of its last renewal
    vc.advance(6)
    assert a.check() == f"failed election to renew leadership on lease {LOCK}"
    assert b.is_leader and b.check() is None


def test_a_process_whose_term_ends_exits_with_status_1() -> None:
    import subprocess
    import sys

    code = "from minik8s.client.leaderelection import leaderelection_lost; leaderelection_lost(); print('still here')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "leaderelection lost" in done.stderr and "still here" not in done.stdout


# --- as processes: two controller-managers and two schedulers over one API server ------------------


def _health(log: str) -> str:
    """The /healthz?verbose answer of a component, from the address its log names (self-signed HTTPS)."""
    import ssl
    import urllib.request

    url = log.split("serving /healthz, /livez and /readyz at ", 1)[1].split()[0]
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with urllib.request.urlopen(f"{url}/healthz?verbose", context=context, timeout=10) as response:
        return response.read().decode()


@needs_kubectl
@pytest.mark.timeout(240)   # seven processes on a loaded 2-core machine
def test_two_controller_managers_and_schedulers_reconcile_once_hand_over_and_exit_when_the_lease_is_lost(tmp_path) -> None:
    from tests.processes import (Kubectl, Machines, lease, poll, ready_pods, scaling_events, start_elected,
                                 web_deployment)

    machines = Machines(tmp_path)
    data = tmp_path / "control-plane"
    try:
        machines.start("apiserver", "apiserver", "--data-dir", str(data), "--port", "0", "--node-name", "node-1")
        machines.wait_log("apiserver", "kubeconfigs written")
        kubectl = Kubectl(data / "admin.conf", tmp_path)
        start_elected(machines, "controller-manager", "cm-1", data / "controller-manager.conf")
        start_elected(machines, "scheduler", "sched-1", data / "scheduler.conf")
        machines.wait_log("cm-1", "became the leader")
        machines.wait_log("sched-1", "became the leader")
        first = lease(kubectl, "kube-controller-manager")["holderIdentity"]
        first_scheduler = lease(kubectl, "kube-scheduler")["holderIdentity"]
        start_elected(machines, "controller-manager", "cm-2", data / "controller-manager.conf")
        start_elected(machines, "scheduler", "sched-2", data / "scheduler.conf")
        machines.start("kubelet", "kubelet", "--kubeconfig", str(data / "kubelet-node-1.conf"), "--node-name",
                       "node-1", "--runtime", "simulated", "--healthz-port", "0")
        standby = machines.wait_log("cm-2", "running (leader-election)")
        assert "[+]leaderElection ok" in _health(machines.log("cm-1")).splitlines()
        assert "[+]leaderElection ok" in _health(standby).splitlines()   # a standby is healthy

        kubectl("apply", "-f", "-", stdin=web_deployment(3))
        poll(lambda: len(ready_pods(kubectl)) == 3, 90, "3 Ready replicas")
        assert "became the leader" not in machines.log("cm-2") and "became the leader" not in machines.log("sched-2")
        assert len(kubectl.json("get", "rs", "-l", "app=web")["items"]) == 1
        assert len(kubectl.json("get", "pods", "-l", "app=web")["items"]) == 3
        (step,) = scaling_events(kubectl)
        assert step["count"] == 1

        # A clean stop releases the Lease: the standby leads at its next try, not a lease duration later.
        assert machines.terminate("cm-1") == 0 and machines.terminate("sched-1") == 0
        machines.wait_log("cm-2", "became the leader", timeout=30)
        machines.wait_log("sched-2", "became the leader", timeout=30)
        spec = lease(kubectl, "kube-controller-manager")
        assert spec["holderIdentity"] not in ("", first) and spec["leaseTransitions"] == 1
        for lock, before in (("kube-controller-manager", first), ("kube-scheduler", first_scheduler)):
            holder = lease(kubectl, lock)["holderIdentity"]
            events = sorted(kubectl.json("get", "events", "-n", "kube-system")["items"],
                            key=lambda e: int(e["metadata"]["resourceVersion"]))
            assert [e["message"] for e in events if e["reason"] == "LeaderElection"
                    and e["involvedObject"]["name"] == lock] == [f"{before} became leader",
                                                                  f"{before} stopped leading", f"{holder} became leader"]

        kubectl("scale", "deployment", "web", "--replicas=5")
        poll(lambda: len(ready_pods(kubectl)) == 5, 90, "5 Ready replicas")
        assert len(kubectl.json("get", "pods", "-l", "app=web")["items"]) == 5
        steps = sorted(scaling_events(kubectl), key=lambda e: e["metadata"]["resourceVersion"])
        assert [e["message"].split(" to ", 1)[1] for e in steps] == ["3", "5 from 3"]   # v1.32's wording
        assert all(e["count"] == 1 for e in steps)

        # Someone else takes the Lease: the leader's renewals conflict, and after the renew deadline it
        # exits with status 1, as kube-controller-manager does ("leaderelection lost").
        kubectl("patch", "lease", "-n", "kube-system", "kube-controller-manager", "--type", "merge", "-p",
                '{"spec": {"holderIdentity": "intruder", "leaseDurationSeconds": 3600}}')
        assert machines.processes["cm-2"].wait(timeout=60) == 1
        assert "leaderelection lost" in machines.log("cm-2")
    except BaseException:
        print(machines.logs())
        raise
    finally:
        machines.stop()


"""A highly available cluster of separate processes on loopback, and what survives the loss of one of each.

As a production control plane runs (issue 19): a 3-member etcd, two API servers over it, two
controller-managers and two schedulers electing their leaders through Leases
(:mod:`minik8s.client.leaderelection`), three kubelets (simulated runtime). A Deployment of 6
replicas spreads over the nodes. Then one machine dies: its API server, the leading
controller-manager and scheduler, its kubelet and its etcd member are SIGKILLed, and the survivors, all talking
to the other API server, must take over: the Leases change hands (``leaseTransitions`` + 1,
not before the old term could have expired), the Deployment is back to 6 Ready replicas
without a pod or a scaling step too many, and the surviving API server's resourceVersions
continue those the dead one handed out. Every check is made with the real kubectl.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from minik8s.clock import parse_rfc3339
from tests.conftest import needs_kubectl
from tests.etcdcluster import EtcdCluster, needs_etcd
from tests.processes import (Kubectl, Machines, lease, poll, ready_pods, scaling_events, start_elected,
                             web_deployment)

# Some 90 s on a 2-core machine, most of it the node monitor's 50 s grace period for the lost kubelet.
pytestmark = [needs_kubectl, needs_etcd, pytest.mark.timeout(300)]

NODES = ("node-1", "node-2", "node-3")
SERVICE_CIDR = "10.96.0.0/16"   # both API servers must hand out ClusterIPs from the same range
LEASE_DURATION = 15


def start_apiserver(machines: Machines, name: str, etcd: EtcdCluster, data: Path, keep: Path) -> str:
    """One API server over ``etcd``, sharing the PKI in ``data``; its kubeconfigs copied to ``keep``."""
    nodes = [arg for node in NODES for arg in ("--node-name", node)]
    machines.start(name, "apiserver", "--data-dir", str(data), "--store", etcd.url, "--port", "0",
                   "--service-cluster-ip-range", SERVICE_CIDR, *nodes)
    log = machines.wait_log(name, "kubeconfigs written")
    keep.mkdir()
    for conf in data.glob("*.conf"):   # the next API server writes its own address into them
        shutil.copy(conf, keep / conf.name)
    return log.split("serving the Kubernetes API at ", 1)[1].split()[0]


def test_the_cluster_survives_losing_one_machine_of_each_kind(tmp_path: Path) -> None:
    etcd = EtcdCluster(members=3)
    machines = Machines(tmp_path)
    try:
        run_scenario(tmp_path, etcd, machines)
    except BaseException:
        print(machines.logs())
        raise
    finally:
        machines.stop()
        etcd.stop()


def run_scenario(tmp: Path, etcd: EtcdCluster, machines: Machines) -> None:
    data = tmp / "control-plane"
    start_apiserver(machines, "apiserver-a", etcd, data, tmp / "a")
    start_apiserver(machines, "apiserver-b", etcd, data, tmp / "b")
    via_a, via_b = Kubectl(tmp / "a" / "admin.conf", tmp), Kubectl(tmp / "b" / "admin.conf", tmp)

    # Machine a's controller-manager and scheduler lead (they start first); machine b's stand by.
    start_elected(machines, "controller-manager", "cm-a", tmp / "a" / "controller-manager.conf")
    start_elected(machines, "scheduler", "sched-a", tmp / "a" / "scheduler.conf")
    machines.wait_log("cm-a", "became the leader")
    machines.wait_log("sched-a", "became the leader")
    cm_leader = lease(via_b, "kube-controller-manager")["holderIdentity"]
    sched_leader = lease(via_b, "kube-scheduler")["holderIdentity"]
    start_elected(machines, "controller-manager", "cm-b", tmp / "b" / "controller-manager.conf")
    start_elected(machines, "scheduler", "sched-b", tmp / "b" / "scheduler.conf")
    for node in NODES:   # node-1 reaches the API through a, the others through b
        conf = tmp / ("a" if node == "node-1" else "b") / f"kubelet-{node}.conf"
        machines.start(f"kubelet-{node}", "kubelet", "--kubeconfig", str(conf), "--node-name", node,
                       "--runtime", "simulated", "--healthz-port", "0")
    machines.wait_log("cm-b", "serving /healthz")
    machines.wait_log("sched-b", "serving /healthz")
    poll(lambda: via_b("get", "nodes").count(" Ready ") == 3, 60, "three Ready nodes")

    # A Deployment written through a, read through b.
    via_a("apply", "-f", "-", stdin=web_deployment(6, leave_unreachable_nodes=True))
    poll(lambda: len(ready_pods(via_b)) == 6, 60, "6 Ready replicas")
    assert {p["spec"]["nodeName"] for p in ready_pods(via_b)} == set(NODES)   # spread over the three nodes
    # Two controller-managers, one reconciling: one ReplicaSet, 6 pods, one scaling step recorded once.
    assert len(via_b.json("get", "rs", "-l", "app=web")["items"]) == 1
    assert len(via_b.json("get", "pods", "-l", "app=web")["items"]) == 6
    (step,) = scaling_events(via_b)
    assert step["count"] == 1 and step["message"].endswith(" to 6"), step

    # resourceVersions: what a handed out, b serves the same, and b's list is at least as new.
    via_a("create", "configmap", "before", "--from-literal=k=v")
    rv_a = int(via_a("get", "cm", "before", "-o", "jsonpath={.metadata.resourceVersion}"))
    assert int(via_b("get", "cm", "before", "-o", "jsonpath={.metadata.resourceVersion}")) == rv_a
    listed = json.loads(via_b("get", "--raw", "/api/v1/namespaces/default/configmaps"))
    assert int(listed["metadata"]["resourceVersion"]) >= rv_a

    cm_before, sched_before = lease(via_b, "kube-controller-manager"), lease(via_b, "kube-scheduler")
    assert cm_before["holderIdentity"] == cm_leader and sched_before["holderIdentity"] == sched_leader

    # Machine a dies.
    for name in ("cm-a", "sched-a", "kubelet-node-1", "apiserver-a"):
        machines.kill(name)
    etcd.kill(0)   # and an etcd member: the first endpoint every API server was given (2 of 3 keep quorum)
    assert via_a.run("get", "nodes", "--request-timeout=5s").returncode != 0

    for lock, before in (("kube-controller-manager", cm_before), ("kube-scheduler", sched_before)):
        after = poll(lambda: (s := lease(via_b, lock)).get("holderIdentity") not in (None, before["holderIdentity"])
                     and s, 60, f"a new holder of {lock}")
        assert after["holderIdentity"] and after["leaseTransitions"] == before["leaseTransitions"] + 1
        # Safety: the new term began no earlier than a full lease after the old holder's last renewal
        # (both stamped by one machine's clock here).
        assert parse_rfc3339(after["acquireTime"]) >= parse_rfc3339(before["renewTime"]) + LEASE_DURATION - 0.5
        events = via_b.json("get", "events", "-n", "kube-system", "--field-selector",
                            f"involvedObject.kind=Lease,involvedObject.name={lock}")["items"]
        assert any(e["reason"] == "LeaderElection" and e["message"] == f"{after['holderIdentity']} became leader"
                   for e in events)

    # node-1's pods leave with it; their replacements run on node-2 and node-3.
    poll(lambda: len(ready_pods(via_b)) == 6 and "node-1" not in {p["spec"]["nodeName"] for p in ready_pods(via_b)},
         120, "6 Ready replicas on the surviving nodes")
    assert len(via_b.json("get", "rs", "-l", "app=web")["items"]) == 1
    pods = via_b.json("get", "pods", "-l", "app=web")["items"]
    assert len([p for p in pods if not p["metadata"].get("deletionTimestamp")]) == 6   # not one too many
    assert len(scaling_events(via_b)) == 1

    # The surviving API server goes on from where both were, every acknowledged write kept.
    assert int(via_b("get", "cm", "before", "-o", "jsonpath={.metadata.resourceVersion}")) == rv_a
    via_b("create", "configmap", "after", "--from-literal=k=v")
    rv_b = int(via_b("get", "cm", "after", "-o", "jsonpath={.metadata.resourceVersion}"))
    assert rv_b > rv_a
    watched = via_b("get", "--raw", f"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv_a}"
                                    "&timeoutSeconds=1")
    names = [json.loads(line)["object"]["metadata"]["name"] for line in watched.splitlines() if line.strip()]
    assert "after" in names and "before" not in names

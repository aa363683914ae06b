"""Scheduling as upstream documents it, with the real kubectl against a served three-zone cluster.

The examples are adapted from the Kubernetes documentation ("Assigning Pods to Nodes", "Pod Topology
Spread Constraints", "Taints and Tolerations"); the FailedScheduling messages are v1.32's, as built by
pkg/scheduler/schedule_one.go (FitError) and the default preemption plugin.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.conftest import needs_kubectl, start_server, wait_for

ZONE = "topology.kubernetes.io/zone"

REDIS_CACHE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis-cache}
spec:
  selector: {matchLabels: {app: store}}
  replicas: %d
  template:
    metadata: {labels: {app: store}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions: [{key: app, operator: In, values: [store]}]
            topologyKey: kubernetes.io/hostname
      containers: [{name: redis-server, image: redis:3.2-alpine}]
"""

WEB_SERVER = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-server}
spec:
  selector: {matchLabels: {app: web-store}}
  replicas: 3
  template:
    metadata: {labels: {app: web-store}}
    spec:
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions: [{key: app, operator: In, values: [web-store]}]
            topologyKey: kubernetes.io/hostname
        podAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector:
              matchExpressions: [{key: app, operator: In, values: [store]}]
            topologyKey: kubernetes.io/hostname
      containers: [{name: web-app, image: nginx:1.16-alpine}]
"""

SPREAD = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: %(name)s}
spec:
  selector: {matchLabels: {app: %(name)s}}
  replicas: 6
  template:
    metadata: {labels: {app: %(name)s}}
    spec:
      topologySpreadConstraints:
      - maxSkew: 1
        topologyKey: topology.kubernetes.io/zone
        whenUnsatisfiable: %(when)s
        labelSelector: {matchLabels: {app: %(name)s}}
      containers: [{name: web, image: nginx}]
"""

PREFERRED = """\
apiVersion: v1
kind: Pod
metadata: {name: with-node-affinity}
spec:
  affinity:
    nodeAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 1
        preference:
          matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-a]}]
      - weight: 50
        preference:
          matchExpressions: [{key: topology.kubernetes.io/zone, operator: In, values: [zone-c]}]
  containers: [{name: with-node-affinity, image: nginx}]
"""

GPU_ONLY = """\
apiVersion: v1
kind: Pod
metadata: {name: trainer}
spec:
  nodeSelector: {kubernetes.io/hostname: node-1}
  containers: [{name: trainer, image: nginx}]
"""


@pytest.fixture
def zoned(tmp_path):
    """A served cluster of three simulated nodes, node-N in zone-{a,b,c}, labelled with the real kubectl."""
    srv = start_server(tmp_path, "--nodes", "3", "--runtime", "simulated")
    try:
        for node, zone in (("node-1", "zone-a"), ("node-2", "zone-b"), ("node-3", "zone-c")):
            _ok(srv.kubectl("label", "node", node, f"{ZONE}={zone}"))
        yield srv
    finally:
        if srv.process.poll() is None:
            srv.stop()


def _ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def _pods(srv, selector: str) -> list[dict]:
    return json.loads(_ok(srv.kubectl("get", "pods", "-l", selector, "-o", "json")))["items"]


def _placed(srv, selector: str, count: int) -> list[dict]:
    """Wait until ``count`` pods match ``selector`` and every one is decided (bound, or refused by the scheduler)."""
    def decided():
        pods = _pods(srv, selector)
        done = [p for p in pods if p["spec"].get("nodeName") or _unschedulable(p)]
        return pods if len(pods) == count and len(done) == count else None
    return wait_for(decided, 30, f"{count} scheduling decisions for {selector}")


def _unschedulable(pod: dict) -> str | None:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition["type"] == "PodScheduled" and condition["status"] == "False":
            return condition["message"]
    return None


def _failed_scheduling(srv, pod: str) -> list[str]:
    events = json.loads(_ok(srv.kubectl("get", "events", "-o", "json")))["items"]
    return [e["message"] for e in events
            if e["involvedObject"]["name"] == pod and e["reason"] == "FailedScheduling"]


@needs_kubectl
def test_one_redis_cache_replica_per_node_and_the_fourth_stays_pending_with_upstreams_message(zoned):
    _ok(zoned.kubectl("apply", "-f", "-", stdin=REDIS_CACHE % 4))
    pods = _placed(zoned, "app=store", 4)
    nodes = Counter(p["spec"].get("nodeName") for p in pods)
    assert nodes == {"node-1": 1, "node-2": 1, "node-3": 1, None: 1}
    pending = next(p["metadata"]["name"] for p in pods if not p["spec"].get("nodeName"))
    message = ("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: "
               "0/3 nodes are available: 3 No preemption victims found for incoming pod.")
    assert _unschedulable(next(p for p in pods if p["metadata"]["name"] == pending)) == message
    assert wait_for(lambda: _failed_scheduling(zoned, pending), 10, "the FailedScheduling event")[-1] == message
    described = _ok(zoned.kubectl("describe", "pod", pending))
    assert "Warning  FailedScheduling" in described and message in described
    line = next(x for x in _ok(zoned.kubectl("get", "pods", pending)).splitlines() if x.startswith(pending))
    assert line.split()[1:3] == ["0/1", "Pending"]


@needs_kubectl
def test_web_servers_land_next_to_the_redis_caches_one_per_node(zoned):
    _ok(zoned.kubectl("apply", "-f", "-", stdin=REDIS_CACHE % 3))
    caches = _placed(zoned, "app=store", 3)
    _ok(zoned.kubectl("apply", "-f", "-", stdin=WEB_SERVER))
    webs = _placed(zoned, "app=web-store", 3)
    assert sorted(p["spec"]["nodeName"] for p in webs) == sorted(p["spec"]["nodeName"] for p in caches) == [
        "node-1", "node-2", "node-3"]
    out = _ok(zoned.kubectl("get", "pods", "-o", "wide", "-l", "app in (store, web-store)"))
    assert out.splitlines()[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]


@needs_kubectl
def test_topology_spread_six_replicas_over_three_zones_is_two_per_zone(zoned):
    _ok(zoned.kubectl("apply", "-f", "-", stdin=SPREAD % {"name": "spread", "when": "DoNotSchedule"}))
    pods = _placed(zoned, "app=spread", 6)
    assert Counter(p["spec"]["nodeName"] for p in pods) == {"node-1": 2, "node-2": 2, "node-3": 2}


@needs_kubectl
def test_do_not_schedule_waits_for_a_tainted_zone_where_schedule_anyway_goes_on(zoned):
    _ok(zoned.kubectl("taint", "nodes", "node-3", "maintenance=yes:NoSchedule"))
    _ok(zoned.kubectl("apply", "-f", "-", stdin=SPREAD % {"name": "strict", "when": "DoNotSchedule"}))
    strict = _placed(zoned, "app=strict", 6)
    # node-3's zone still counts (nodeTaintsPolicy defaults to Ignore) with 0 pods: at most 1 elsewhere.
    assert Counter(p["spec"].get("nodeName") for p in strict) == {"node-1": 1, "node-2": 1, None: 4}
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {maintenance: yes}, 2 node(s) didn't match "
               "pod topology spread constraints. preemption: 0/3 nodes are available: 1 Preemption is not helpful "
               "for scheduling, 2 No preemption victims found for incoming pod.")
    assert {_unschedulable(p) for p in strict if not p["spec"].get("nodeName")} == {message}
    _ok(zoned.kubectl("apply", "-f", "-", stdin=SPREAD % {"name": "lenient", "when": "ScheduleAnyway"}))
    lenient = _placed(zoned, "app=lenient", 6)
    assert Counter(p["spec"].get("nodeName") for p in lenient) == {"node-1": 3, "node-2": 3}


@needs_kubectl
def test_the_heavier_preferred_node_affinity_term_wins(zoned):
    _ok(zoned.kubectl("apply", "-f", "-", stdin=PREFERRED))
    wait_for(lambda: json.loads(_ok(zoned.kubectl("get", "pod", "with-node-affinity", "-o", "json")))["spec"]
             .get("nodeName") == "node-3", 30, "the pod to land in zone-c")


@needs_kubectl
def test_an_untolerated_taint_is_named_key_and_value_in_the_message(zoned):
    _ok(zoned.kubectl("taint", "nodes", "node-1", "dedicated=gpu:NoSchedule"))
    _ok(zoned.kubectl("apply", "-f", "-", stdin=GPU_ONLY))
    message = ("0/3 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 2 node(s) didn't match "
               "Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful "
               "for scheduling.")
    assert wait_for(lambda: _failed_scheduling(zoned, "trainer"), 30, "the FailedScheduling event")[-1] == message
    # A running pod's tolerations may only grow: append to the two that DefaultTolerationSeconds added.
    _ok(zoned.kubectl("patch", "pod", "trainer", "--type=json", "-p",
                      '[{"op": "add", "path": "/spec/tolerations/-", "value": '
                      '{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}}]'))
    wait_for(lambda: json.loads(_ok(zoned.kubectl("get", "pod", "trainer", "-o", "json")))["spec"]
             .get("nodeName") == "node-1", 30, "the tolerating pod to land on node-1")

"""Memory released after a mass deletion: every cache keyed by objects forgets the deleted ones.

After 150 pods of a Deployment come and go on a one-node cluster (110 running, 40 Pending as
"Too many pods"), nothing in the components may still hold an entry for them: not the
scheduler's queue or cache, not the kubelet's pod records or runtime, not the informers'
indexes, not the controllers' expectations or back-off counters. The event recorder's
correlation cache is bounded (upstream's LRU of 4,096) rather than emptied.
"""

from __future__ import annotations

from minik8s.api import resources
from minik8s.client.workqueue import WorkQueue
from minik8s.clock import VirtualClock
from minik8s.cluster import Cluster
from minik8s.controllers.events import MAX_LRU_CACHE_ENTRIES, EventRecorder
from minik8s.controllers.replicaset import ReplicaSetController
from minik8s.scheduler.component import SchedulerComponent

PODS = resources.lookup("pods")
EVENTS = resources.lookup("events")


def deployment(replicas: int) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: nginx}}]}}
"""


def test_after_a_mass_deletion_no_component_holds_an_entry_for_the_deleted_pods():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        scheduler = next(x for x in c.components if isinstance(x, SchedulerComponent))
        rsc = next(x for x in c.components if isinstance(x, ReplicaSetController))
        kubelet = c.kubelets[0]
        c.apply(deployment(150))
        c.advance(30)
        assert c.store.count("pods", "default") == 150
        assert scheduler.cache.pod_count() == 110
        assert scheduler.queue.next_due() is not None  # the 40 Pending pods wait for a retry
        c.kubectl("delete deployment web")
        c.advance(60)
        assert c.store.count("pods") == 0
        # The scheduler: no retry pending for a pod that is gone (upstream's SchedulingQueue.Delete).
        assert scheduler.queue.next_due() is None
        assert len(scheduler.queue) == 0 and scheduler.cache.pod_count() == 0
        # The kubelet and its runtime.
        assert kubelet._pods == {}
        runtime = kubelet.runtime
        assert (runtime._sandboxes, runtime._containers) == ({}, {})  # (its pulls are per image, not per pod)
        # The informers, and their index by controller (no empty bucket per deleted owner).
        pods = c.informers.get(PODS)
        assert pods.list() == [] and pods._by_controller == {}
        # The controllers: no expectations, no back-off counters, no keys waiting.
        assert rsc.expectations._stamp == {} and rsc.expectations._adds == {}
        for component in c.components:
            assert getattr(component, "_failures", {}) == {}, component.name
            assert len(component.queue) == 0, component.name


def test_the_event_correlation_cache_is_a_bounded_lru():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        recorder = EventRecorder(c.client, c.clock)
        first = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p0", "namespace": "default", "uid": "u0"}}
        recorder.event(first, "Normal", "Seen", "hello", component="test")
        for i in range(1, MAX_LRU_CACHE_ENTRIES + 10):
            obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default",
                                                                   "uid": f"u{i}"}}
            recorder.event(obj, "Normal", "Seen", "hello", component="test")
        assert len(recorder._seen) == MAX_LRU_CACHE_ENTRIES
        # The oldest entry fell out: its repeat is a new Event, not a count of 2 on the old one.
        recorder.event(first, "Normal", "Seen", "hello", component="test")
        about_p0 = [e for e in c.client.list(EVENTS, "default")["items"] if e["involvedObject"]["name"] == "p0"]
        assert sorted(e["count"] for e in about_p0) == [1, 1]


def test_a_repeat_of_an_expired_event_starts_a_new_one():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        recorder = EventRecorder(c.client, c.clock)
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "uid": "u"}}
        recorder.event(pod, "Warning", "BackOff", "again", component="test")
        [event] = c.client.list(EVENTS, "default")["items"]
        c.client.delete(EVENTS, event["metadata"]["name"], "default")  # as the event TTL does
        recorder.event(pod, "Warning", "BackOff", "again", component="test")
        [fresh] = c.client.list(EVENTS, "default")["items"]
        assert fresh["count"] == 1 and fresh["metadata"]["name"] != event["metadata"]["name"]


def test_a_discarded_key_leaves_the_work_queue_entirely():
    queue = WorkQueue()
    clock = VirtualClock()
    for i in range(200):
        queue.add_after(("default", f"p{i}"), clock.now() + 300)
    queue.add(("default", "ready"))
    for i in range(200):
        queue.discard(("default", f"p{i}"))
    queue.discard(("default", "ready"))
    assert (len(queue), queue.waiting(), queue.next_due()) == (0, 0, None)
    assert len(queue._delayed) <= 64  # the superseded heap entries were dropped, not kept until due

"""Events as each upstream component records them (minik8s.controllers.events)."""

from __future__ import annotations

import yaml

from minik8s import Cluster


def _events(cluster: Cluster) -> dict[str, dict]:
    items = yaml.safe_load(cluster.kubectl("get events -o yaml"))["items"]
    return {e["reason"]: e for e in items}


def test_the_scheduler_records_through_events_k8s_io_and_the_kubelet_through_the_legacy_recorder():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.kubectl("run nginx --image=nginx")
        cluster.advance(5)
        events = _events(cluster)
        scheduled, pulled = events["Scheduled"], events["Pulled"]
        # events.k8s.io/v1: no source, no first/last timestamps or count; an eventTime and an action.
        assert scheduled["source"] == {} and scheduled["action"] == "Binding"
        assert scheduled["firstTimestamp"] is None and scheduled["lastTimestamp"] is None
        assert "count" not in scheduled and scheduled["eventTime"].endswith(".000000Z")
        assert (scheduled["reportingComponent"], scheduled["reportingInstance"]) == (
            "default-scheduler", "default-scheduler-minik8s-control-plane")
        # The legacy recorder: source.component and host, counted.
        assert pulled["source"] == {"component": "kubelet", "host": "node-1"} and pulled["count"] == 1
        columns = cluster.kubectl("get events -o custom-columns=FROM:.source.component,BY:.reportingComponent,"
                                  "REASON:.reason --field-selector involvedObject.name=nginx")
        assert columns.splitlines()[1].split() == ["<none>", "default-scheduler", "Scheduled"]
        # kubectl describe falls back to reportingComponent for the From column.
        assert "Scheduled  5s    default-scheduler  Successfully assigned default/nginx to node-1" in \
            cluster.kubectl("describe pod nginx")


def test_a_repeated_scheduler_event_is_a_series():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply("""
apiVersion: v1
kind: Pod
metadata: {name: big}
spec:
  containers: [{name: c, image: nginx, resources: {requests: {cpu: "500"}}}]
""")
        cluster.advance(700)   # unschedulable pods are retried at least every 5 minutes
        failed = _events(cluster)["FailedScheduling"]
        assert failed["action"] == "Scheduling" and "count" not in failed
        assert failed["series"]["count"] >= 2 and failed["series"]["lastObservedTime"].endswith("Z")
        row = [line for line in cluster.kubectl("get events").splitlines() if "FailedScheduling" in line][0]
        assert row.split()[0] != "<unknown>"

"""The metrics pipeline: the kubelet's Summary API (minik8s.kubelet.stats), metrics.k8s.io/v1beta1
(minik8s.metrics.server) and `kubectl top`, in-process on the virtual clock and against a real
`minik8s server --runtime process` with the real kubectl."""

from __future__ import annotations

import orjson
import pytest

from minik8s import Cluster
from minik8s.api.errors import StatusError
from minik8s.kubelet import stats

BUSY = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
  annotations:
    sim.minik8s.io/app: '{"cpuMillicores": 250, "memoryBytes": 67108864}'
spec:
  containers:
  - {name: app, image: nginx}
  - {name: sidecar, image: busybox, command: [sleep, "3600"]}
"""


@pytest.fixture
def cluster():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=1) as c:
        yield c


def summary(cluster: Cluster, node: str = "node-1") -> dict:
    return orjson.loads(cluster.client.request("GET", f"/api/v1/nodes/{node}/proxy/stats/summary"))


def test_rates_turn_cumulative_cpu_into_nano_cores():
    rates = stats.Rates()
    # A container that started at t=10 and has used half a core since: 0.5 core over its first 20 s.
    assert rates.observe("c1", stats.Usage("app", 10.0, 10_000_000_000, 1), 30.0) == 500_000_000
    # Then one full core over the next 10 s.
    assert rates.observe("c1", stats.Usage("app", 10.0, 20_000_000_000, 1), 40.0) == 1_000_000_000
    # Read again at the same instant: the last rate holds.
    assert rates.observe("c1", stats.Usage("app", 10.0, 20_000_000_000, 1), 40.0) == 1_000_000_000
    assert rates.node_cpu_ns == 20_000_000_000
    rates.forget_others(set())
    # The node's counter never goes down when its containers go away.
    assert rates.node_cpu_ns == 20_000_000_000


def test_summary_reports_the_declared_usage_exactly(cluster):
    cluster.apply(BUSY)
    cluster.run_until_stable()
    cluster.advance(30)
    doc = summary(cluster)
    (pod,) = doc["pods"]
    assert pod["podRef"]["name"] == "web" and pod["podRef"]["namespace"] == "default"
    app = next(c for c in pod["containers"] if c["name"] == "app")
    started = app["startTime"]
    assert app["cpu"]["usageNanoCores"] == 250_000_000
    assert app["memory"]["workingSetBytes"] == 64 * 1024 * 1024
    sidecar = next(c for c in pod["containers"] if c["name"] == "sidecar")
    assert sidecar["cpu"]["usageNanoCores"] == 1_000_000   # an idle container: 1m
    assert pod["cpu"]["usageNanoCores"] == 251_000_000
    assert doc["node"]["cpu"]["usageNanoCores"] == 251_000_000
    assert doc["node"]["memory"]["workingSetBytes"] == pod["memory"]["workingSetBytes"]
    cluster.advance(10)
    later = summary(cluster)["pods"][0]
    app_later = next(c for c in later["containers"] if c["name"] == "app")
    # Cumulative CPU: exactly 0.25 core × 10 s more.
    assert app_later["cpu"]["usageCoreNanoSeconds"] - app["cpu"]["usageCoreNanoSeconds"] == 2_500_000_000
    assert app_later["startTime"] == started


def test_node_proxy_errors(cluster):
    with pytest.raises(StatusError) as err:
        summary(cluster, "node-9")
    assert err.value.code == 404 and err.value.message == 'nodes "node-9" not found'
    with pytest.raises(StatusError) as err:
        cluster.client.request("GET", "/api/v1/nodes/node-1/proxy/nothing")
    assert err.value.code == 404

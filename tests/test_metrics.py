"""The metrics pipeline: the kubelet's Summary API (minik8s.kubelet.stats), metrics.k8s.io/v1beta1
(minik8s.metrics.server) and `kubectl top`, in-process on the virtual clock and against a real
`minik8s server --runtime process` with the real kubectl."""

from __future__ import annotations

import orjson
import pytest

from minik8s import Cluster
from minik8s.cluster import KubectlError
from minik8s.api import metrics
from minik8s.api.errors import StatusError
from minik8s.kubelet import stats
from conftest import needs_kubectl, start_server, wait_for

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


def test_metrics_server_keeps_the_right_previous_point():
    from minik8s.metrics.server import Point, previous, usage
    last = Point(start=0.0, time=30.0, cpu_ns=3 * 10**9, memory=1)
    # A fresh container (read 12 s after it started, within one resolution): a zero point at its start.
    assert previous(Point(100.0, 112.0, 6 * 10**9, 1), None, None, 15.0) == Point(100.0, 100.0, 0, 1)
    # Too fresh (5 s): wait for a second reading.
    assert previous(Point(100.0, 105.0, 10**9, 1), None, None, 15.0) is None
    # The same container read again: the last point becomes the previous one.
    new = Point(0.0, 45.0, 6 * 10**9, 2)
    assert previous(new, last, None, 15.0) == last and usage(new, last) == (200_000_000, 2, 15.0)
    # Restarted since the last reading (it started after it): no rate until it has two points of its own.
    assert previous(Point(40.0, 45.0, 10**8, 2), last, None, 15.0) is None


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


# --- metrics.k8s.io ---------------------------------------------------------------------------


def test_pod_metrics_after_one_scrape_of_a_fresh_pod(cluster):
    cluster.apply(BUSY)
    cluster.run_until_stable()
    listed = cluster.client.list(metrics.POD_METRICS, "default")
    assert listed["items"] == []   # no scrape has seen the pod yet
    cluster.advance(15)   # metrics-server's resolution: one scrape, 14 s after the containers started
    (item,) = cluster.client.list(metrics.POD_METRICS, "default")["items"]
    assert item["kind"] == "PodMetrics" and item["apiVersion"] == "metrics.k8s.io/v1beta1"
    assert item["metadata"]["name"] == "web" and item["metadata"]["labels"] == {"app": "web"}
    assert item["timestamp"] == "2025-01-01T00:00:15Z" and item["window"] == "14s"
    assert item["containers"] == [{"name": "app", "usage": {"cpu": "250m", "memory": "64Mi"}},
                                  {"name": "sidecar", "usage": {"cpu": "1m", "memory": "2Mi"}}]
    cluster.advance(15)   # from now on the window is the resolution
    item = cluster.client.get(metrics.POD_METRICS, "web", "default")
    assert item["window"] == "15s" and item["timestamp"] == "2025-01-01T00:00:30Z"
    assert item["containers"][0]["usage"] == {"cpu": "250m", "memory": "64Mi"}


def test_pod_metrics_list_with_a_label_selector_in_process_and_as_a_raw_request(cluster):
    cluster.apply(BUSY)
    cluster.apply(BUSY.replace("name: web", "name: other").replace("app: web", "app: other"))
    cluster.run_until_stable()
    cluster.advance(15)
    raw = cluster.client.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
                                 query={"labelSelector": "app=web"})
    listed = orjson.loads(raw)
    assert listed["kind"] == "PodMetricsList" and [i["metadata"]["name"] for i in listed["items"]] == ["web"]
    # The query may come in the path too, as an HPA controller may write it.
    in_path = orjson.loads(cluster.client.request(
        "GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods?labelSelector=app%3Dother"))
    assert [i["metadata"]["name"] for i in in_path["items"]] == ["other"]
    every = cluster.client.list(metrics.POD_METRICS, None)["items"]
    assert [i["metadata"]["name"] for i in every] == ["other", "web"]


def test_node_metrics_need_two_scrapes(cluster):
    cluster.apply(BUSY)
    cluster.run_until_stable()
    cluster.advance(15)
    assert cluster.client.list(metrics.NODE_METRICS)["items"] == []
    with pytest.raises(StatusError) as err:
        cluster.client.get(metrics.NODE_METRICS, "node-1")
    assert err.value.code == 404 and err.value.message == 'nodemetrics.metrics.k8s.io "node-1" not found'
    cluster.advance(15)
    node = cluster.client.get(metrics.NODE_METRICS, "node-1")
    assert node["usage"] == {"cpu": "251m", "memory": "66Mi"} and node["window"] == "15s"
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-1"


def test_missing_pods_and_pods_without_metrics_are_404s_with_metrics_servers_words(cluster):
    with pytest.raises(StatusError) as err:
        cluster.client.get(metrics.POD_METRICS, "nope", "default")
    assert err.value.code == 404 and err.value.message == 'pods "nope" not found'
    cluster.apply(BUSY)
    cluster.run_until_stable()
    with pytest.raises(StatusError) as err:
        cluster.client.get(metrics.POD_METRICS, "web", "default")
    assert err.value.code == 404 and err.value.message == 'podmetrics.metrics.k8s.io "default/web" not found'


def test_metrics_are_read_only(cluster):
    with pytest.raises(StatusError) as err:
        cluster.client.create(metrics.POD_METRICS, {"metadata": {"name": "x"}}, "default")
    assert err.value.code == 405
    with pytest.raises(StatusError) as err:
        cluster.client.watch(metrics.POD_METRICS, "default")
    assert err.value.code == 405


def test_view_role_may_read_metrics(cluster):
    from minik8s.apiserver.auth.authentication import User

    cluster.apply(BUSY)
    cluster.run_until_stable()
    cluster.advance(15)
    cluster.kubectl("create rolebinding viewer --clusterrole=view --user=jane")
    jane = cluster.client.as_user(User("jane", groups=("system:authenticated",)))
    assert [i["metadata"]["name"] for i in jane.list(metrics.POD_METRICS, "default")["items"]] == ["web"]
    with pytest.raises(StatusError) as err:
        jane.list(metrics.NODE_METRICS)
    assert err.value.code == 403


def test_api_resources_and_discovery_list_metrics(cluster):
    out = cluster.kubectl("api-resources --api-group=metrics.k8s.io")
    assert out.split("\n")[1:3] == [
        "nodes                metrics.k8s.io/v1beta1   false        NodeMetrics",
        "pods                 metrics.k8s.io/v1beta1   true         PodMetrics"]
    doc = orjson.loads(cluster.client.request("GET", "/apis/metrics.k8s.io/v1beta1"))
    assert {(r["name"], tuple(r["verbs"])) for r in doc["resources"]} == {("nodes", ("get", "list")),
                                                                          ("pods", ("get", "list"))}


# --- kubectl top (ours, in-process) -------------------------------------------------------------

def kubectl_error(cluster: Cluster, command: str) -> str:
    """What a failing kubectl command printed."""
    with pytest.raises(KubectlError) as err:
        cluster.kubectl(command)
    return err.value.message


def test_our_kubectl_top_pods_and_nodes(cluster):
    cluster.apply(BUSY)
    cluster.run_until_stable()
    assert kubectl_error(cluster, "top pods") == "error: metrics not available yet"
    cluster.advance(15)
    assert cluster.kubectl("top pods") == ("NAME   CPU(cores)   MEMORY(bytes)   \n"
                                           "web    251m         66Mi            \n")
    assert cluster.kubectl("top pods --containers -A --sort-by=memory") == (
        "NAMESPACE   POD   NAME      CPU(cores)   MEMORY(bytes)   \n"
        "default     web   app       250m         64Mi            \n"
        "default     web   sidecar   1m           2Mi             \n")
    assert cluster.kubectl("top pods -l app=web --no-headers") == "web   251m   66Mi   \n"
    assert kubectl_error(cluster, "top nodes") == "error: metrics not available yet"
    cluster.advance(15)
    # 251m of the node's 4 CPUs; 66Mi of its allocatable 8Gi - 100Mi.
    assert cluster.kubectl("top nodes") == ("NAME     CPU(cores)   CPU(%)   MEMORY(bytes)   MEMORY(%)   \n"
                                            "node-1   251m         6%       66Mi            0%          \n")
    assert kubectl_error(cluster, "top pod nope") == 'Error from server (NotFound): pods "nope" not found'
    assert kubectl_error(cluster, "top pods --sort-by=name") == "error: --sort-by accepts only cpu or memory"


def test_kubectl_get_podmetrics_and_nodemetrics(cluster):
    cluster.apply(BUSY)
    cluster.run_until_stable()
    cluster.advance(30)
    assert cluster.kubectl("get podmetrics") == "NAME   CPU    MEMORY   WINDOW\nweb    251m   66Mi     15s\n"
    assert cluster.kubectl("get nodemetrics") == "NAME     CPU    MEMORY   WINDOW\nnode-1   251m   66Mi     15s\n"


def test_kubectl_top_without_a_metrics_server():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=1, metric_resolution=None) as c:
        assert kubectl_error(c, "top nodes") == "error: Metrics API not available"
        with pytest.raises(StatusError) as status:
            c.client.request("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
        assert status.value.code == 404


# --- the real kubectl against `minik8s server --runtime process` ---------------------------------

BUSY_PROCESSES = """\
apiVersion: v1
kind: Pod
metadata: {name: spin, labels: {app: spin}}
spec:
  restartPolicy: Never
  containers: [{name: spin, image: busybox, command: [sh, -c, "while :; do :; done"]}]
---
apiVersion: v1
kind: Pod
metadata: {name: idle}
spec:
  restartPolicy: Never
  containers: [{name: idle, image: busybox, command: [sleep, "3600"]}]
"""


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("metrics"), "--runtime", "process", "--nodes", "1",
                       "--metric-resolution", "5s")
    try:
        made = srv.kubectl("apply", "-f", "-", stdin=BUSY_PROCESSES)
        assert made.returncode == 0, made.stderr
        assert srv.kubectl("wait", "--for=condition=Ready", "pod/spin", "pod/idle", "--timeout=60s").returncode == 0
        yield srv
    finally:
        srv.stop()


def _table(text: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in text.splitlines()[1:]}


@needs_kubectl
def test_real_kubectl_top_pods_shows_a_busy_pods_real_cpu(busy_server):
    def measured():
        done = busy_server.kubectl("top", "pods")
        return done if done.returncode == 0 and "spin" in done.stdout and "idle" in done.stdout else None
    done = wait_for(measured, timeout=40, what="kubectl top pods to show both pods")
    assert done.stdout.splitlines()[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    rows = _table(done.stdout)
    # A shell spinning in a loop burns a good part of a core (the machine has two, shared).
    assert int(rows["spin"][0].rstrip("m")) >= 100
    assert int(rows["idle"][0].rstrip("m")) < int(rows["spin"][0].rstrip("m"))
    assert rows["spin"][1].endswith("Mi")
    selected = busy_server.kubectl("top", "pods", "-l", "app=spin", "--containers")
    assert selected.returncode == 0, selected.stderr
    assert [line.split()[:2] for line in selected.stdout.splitlines()] == [["POD", "NAME"], ["spin", "spin"]]


@needs_kubectl
def test_real_kubectl_top_nodes(busy_server):
    def measured():
        done = busy_server.kubectl("top", "nodes")
        return done if done.returncode == 0 else None
    done = wait_for(measured, timeout=40, what="kubectl top nodes to answer")
    assert done.stdout.splitlines()[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    cpu, cpu_percent, memory, _ = _table(done.stdout)["node-1"]
    assert int(cpu.rstrip("m")) >= 100 and cpu_percent.endswith("%") and memory.endswith("Mi")


@needs_kubectl
def test_real_kubectl_sees_the_api_and_its_errors(busy_server):
    versions = busy_server.kubectl("api-versions")
    assert "metrics.k8s.io/v1beta1" in versions.stdout.split()
    service = busy_server.kubectl("get", "apiservice", "v1beta1.metrics.k8s.io", "-o",
                                  "jsonpath={.status.conditions[?(@.type=='Available')].status}")
    assert service.stdout == "True", service.stderr
    missing = busy_server.kubectl("top", "pod", "nope")
    assert missing.returncode == 1 and missing.stderr.strip() == 'Error from server (NotFound): pods "nope" not found'
    raw = busy_server.kubectl("get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary")
    summary = orjson.loads(raw.stdout)
    assert {p["podRef"]["name"] for p in summary["pods"]} == {"spin", "idle"}
    spin = next(p for p in summary["pods"] if p["podRef"]["name"] == "spin")
    assert spin["containers"][0]["cpu"]["usageCoreNanoSeconds"] > 0
    assert spin["containers"][0]["memory"]["workingSetBytes"] > 0
    # What the HPA controller asks, over HTTP with minik8s's own client: a PodMetricsList by label selector.
    client = busy_server.http_client()
    listed = wait_for(lambda: orjson.loads(client.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods",
                                                          query={"labelSelector": "app=spin"}))["items"],
                      timeout=40, what="the busy pod's metrics")
    assert [i["metadata"]["name"] for i in listed] == ["spin"] and listed[0]["kind"] == "PodMetrics"
    table = busy_server.kubectl("get", "podmetrics", "spin")   # metrics-server's Table
    assert table.stdout.splitlines()[0].split() == ["NAME", "CPU", "MEMORY", "WINDOW"], table.stderr
    status, _, body = busy_server.request("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/nope")
    assert status == 404 and orjson.loads(body)["message"] == 'pods "nope" not found'


def test_our_kubectl_top_over_http(busy_server):
    def measured():
        done = busy_server.kubectl("top", "pods", "--sort-by=cpu", real=False)
        return done if done.returncode == 0 and "idle" in done.stdout else None
    done = wait_for(measured, timeout=40, what="minik8s kubectl top pods to show both pods")
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["NAME", "spin", "idle"]


def test_a_simulated_busy_loop_uses_one_core_from_when_it_starts_spinning(cluster):
    cluster.kubectl("run spin --image=busybox --restart=Never -- sh -c 'sleep 10; while true; do :; done'")
    cluster.run_until_stable()
    cluster.advance(30)
    (container,) = summary(cluster)["pods"][0]["containers"]
    started = stats_time(container["startTime"])
    # 1m while it slept for 10 s, then a whole core.
    assert container["cpu"]["usageCoreNanoSeconds"] == 10 * 1_000_000 + round((30 - started - 10) * 10**9)
    assert cluster.kubectl("top pods --no-headers") == "spin   1000m   2Mi   \n"   # over the last window: all busy


def stats_time(text: str) -> float:
    from minik8s.clock import parse_rfc3339
    return parse_rfc3339(text) - parse_rfc3339("2025-01-01T00:00:00Z")


def test_annotating_a_running_pod_changes_its_load(cluster):
    cluster.apply(BUSY)
    cluster.run_until_stable()
    cluster.advance(30)
    assert cluster.kubectl("top pod web --containers --no-headers").splitlines()[0].split() == [
        "web", "app", "250m", "64Mi"]
    cluster.kubectl("""annotate pod web --overwrite 'sim.minik8s.io/app={"cpuMillicores":800,"memoryBytes":134217728}'""")
    cluster.advance(15)   # one whole window at the new load
    assert cluster.kubectl("top pod web --containers --no-headers").splitlines()[0].split() == [
        "web", "app", "800m", "128Mi"]
    container = summary(cluster)["pods"][0]["containers"][0]
    started = stats_time(container["startTime"])
    # 250m until the annotation changed at t=30, 800m since: the counter never jumps.
    assert container["cpu"]["usageCoreNanoSeconds"] == round((30 - started) * 250_000_000) + 15 * 800_000_000


def test_docker_runtime_reads_the_engines_stats(monkeypatch):
    """The engine's GET /containers/{id}/stats?stream=false, as documented: cumulative CPU in ns, and the
    working set (usage less inactive file pages, cgroup v2's ``inactive_file``, v1's ``total_inactive_file``)."""
    from minik8s.kubelet.cri import ContainerStatus
    from minik8s.kubelet.runtimes.docker import DockerRuntime

    class Container:
        def __init__(self, stats: dict):
            self._stats = stats

        def stats(self, stream: bool) -> dict:
            assert stream is False
            return self._stats

    runtime = DockerRuntime.__new__(DockerRuntime)   # no engine: only the reading of its answer
    engine = {"v2": Container({"cpu_stats": {"cpu_usage": {"total_usage": 123_456_789}},
                               "memory_stats": {"usage": 50 << 20, "stats": {"inactive_file": 10 << 20}}}),
              "v1": Container({"cpu_stats": {"cpu_usage": {"total_usage": 5}},
                               "memory_stats": {"usage": 8 << 20, "stats": {"total_inactive_file": 1 << 20}}})}
    monkeypatch.setattr(runtime, "_get", engine.__getitem__, raising=False)
    monkeypatch.setattr(runtime, "container_status", lambda cid: ContainerStatus(cid, "c", "running"), raising=False)
    assert runtime.container_stats("v2") == (123_456_789, 40 << 20)
    assert runtime.container_stats("v1") == (5, 7 << 20)
    monkeypatch.setattr(runtime, "container_status", lambda cid: ContainerStatus(cid, "c", "exited"), raising=False)
    assert runtime.container_stats("v2") is None

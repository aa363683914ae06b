"""ResourceQuota: the admission plugin (minik8s.apiserver.admission.resourcequota), its controller
(minik8s.controllers.resourcequota) and the kubectl commands around it."""

from __future__ import annotations

import shutil
import threading
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.apiserver import APIServer
from minik8s.clock import VirtualClock
from minik8s.cluster import Cluster
from minik8s.store import Store

from conftest import needs_kubectl

PODS = resources.lookup("pods")
SERVICES = resources.lookup("services")
CONFIGMAPS = resources.lookup("configmaps")
DEPLOYMENTS = resources.lookup("deployments")
QUOTAS = resources.lookup("resourcequotas")
NAMESPACES = resources.lookup("namespaces")


def quota(name: str, hard: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name}, "spec": {"hard": hard, **spec}}


def api_with(*quotas: dict[str, Any]) -> APIServer:
    api = APIServer(Store(), VirtualClock())
    api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    for q in quotas:
        api.create(QUOTAS, "team", q)
    return api


def pod(name: str, cpu: str | None = None, **spec: Any) -> dict[str, Any]:
    res = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}} if cpu else {}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "web", "image": "nginx", "resources": res}], **spec}}


def refusal(api: APIServer, resource, obj: dict[str, Any]) -> str:
    with pytest.raises(StatusError) as err:
        api.create(resource, "team", obj)
    assert err.value.code == 403
    return err.value.message


def used(api: APIServer, name: str) -> dict[str, str]:
    return api.get(QUOTAS, "team", name)["status"]["used"]


def test_exceeding_a_compute_quota_is_refused_in_upstreams_words():
    api = api_with(quota("compute", {"requests.cpu": "2", "limits.cpu": "4"}))
    api.create(PODS, "team", pod("a", "1"))
    assert refusal(api, PODS, pod("b", "2")) == (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=1, '
        "limited: requests.cpu=2")
    assert api.store.count("pods", "team") == 1
    api.create(PODS, "team", pod("c", "1"))  # exactly to the limit is allowed
    assert used(api, "compute") == {"requests.cpu": "2", "limits.cpu": "2"}


def test_a_quota_on_compute_demands_that_every_container_says_how_much():
    api = api_with(quota("compute", {"requests.cpu": "2", "limits.cpu": "4", "pods": "5"}))
    assert refusal(api, PODS, pod("x")) == \
        'pods "x" is forbidden: failed quota: compute: must specify limits.cpu for: web; requests.cpu for: web'


def test_object_counts_and_service_kinds():
    api = api_with(quota("objects", {"configmaps": "1", "count/deployments.apps": "0", "services.nodeports": "1"}))
    api.create(CONFIGMAPS, "team", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}})
    assert refusal(api, CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}) == (
        'configmaps "two" is forbidden: exceeded quota: objects, requested: configmaps=1, used: configmaps=1, '
        "limited: configmaps=1")
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    assert "requested: count/deployments.apps=1, used: count/deployments.apps=0" in \
        refusal(api, DEPLOYMENTS, deployment)

    def service(name: str, kind: str, ports: int) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                "spec": {"type": kind, "selector": {"app": "web"},
                         "ports": [{"name": f"p{i}", "port": 80 + i} for i in range(ports)]}}

    api.create(SERVICES, "team", service("internal", "ClusterIP", 3))  # no node ports
    assert "requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1" in \
        refusal(api, SERVICES, service("outside", "NodePort", 2))


def test_scopes_count_only_the_matching_pods():
    api = api_with(quota("best-effort", {"pods": "1"}, scopes=["BestEffort"]))
    api.create(PODS, "team", pod("free"))
    api.create(PODS, "team", pod("paid", "100m"))  # NotBestEffort: not counted
    assert "exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1" in \
        refusal(api, PODS, pod("free2"))
    assert used(api, "best-effort") == {"pods": "1"}


def test_invalid_quotas_are_422():
    api = api_with()
    for hard, spec, message in (
            ({"pods": "-1"}, {}, 'spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0'),
            ({"pods": "1.5"}, {}, 'spec.hard[pods]: Invalid value: "1.5": must be an integer'),
            ({"pods": "1"}, {"scopes": ["Sometimes"]},
             'spec.scopes: Invalid value: []core.ResourceQuotaScope{"Sometimes"}: unsupported scope'),
            ({"requests.cpu": "1"}, {"scopes": ["BestEffort"]},
             'spec.scopes: Invalid value: []core.ResourceQuotaScope{"BestEffort"}: unsupported scope applied to '
             "resource"),
            ({"pods": "1"}, {"scopes": ["Terminating", "NotTerminating"]}, "conflicting scopes")):
        with pytest.raises(StatusError) as err:
            api.create(QUOTAS, "team", quota("bad", hard, **spec))
        assert err.value.code == 422 and message in err.value.message
    # A quantity that does not parse fails earlier, at decoding (400), as upstream's does.
    with pytest.raises(StatusError) as err:
        api.create(QUOTAS, "team", quota("bad", {"requests.cpu": "lots"}))
    assert err.value.code == 400
    assert api.store.count("resourcequotas", "team") == 0


def test_a_dry_run_charges_nothing():
    api = api_with(quota("pods", {"pods": "1"}))
    api.create(PODS, "team", pod("a"), dry_run=True)
    api.create(PODS, "team", pod("b"))
    assert used(api, "pods") == {"pods": "1"}


def test_concurrent_creates_cannot_both_take_the_last_slot():
    api = api_with(quota("pods", {"pods": "5"}))
    outcomes: list[str] = []

    def create(i: int) -> None:
        try:
            api.create(PODS, "team", pod(f"p{i}"))
            outcomes.append("ok")
        except StatusError:
            outcomes.append("refused")

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 5 and api.store.count("pods", "team") == 5


# --- the controller, in a whole cluster ---------------------------------------------------------------


def test_the_controller_keeps_status_used_true_as_pods_come_go_and_finish():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.client.create(QUOTAS, quota("compute", {"pods": "3", "requests.cpu": "1", "limits.cpu": "2"}), "default")
        c.run_until_stable()
        status = c.client.get(QUOTAS, "compute", "default")["status"]
        assert status == {"hard": {"pods": "3", "requests.cpu": "1", "limits.cpu": "2"},
                          "used": {"pods": "0", "requests.cpu": "0", "limits.cpu": "0"}}
        c.client.create(PODS, pod("a", "500m"), "default")
        done = pod("done", "500m", restartPolicy="Never")
        done["spec"]["containers"][0]["command"] = ["true"]
        c.client.create(PODS, done, "default")
        c.advance(30)  # "done" runs and succeeds: it no longer counts
        assert c.client.get(PODS, "done", "default")["status"]["phase"] == "Succeeded"
        assert c.client.get(QUOTAS, "compute", "default")["status"]["used"] == \
            {"pods": "1", "requests.cpu": "500m", "limits.cpu": "500m"}
        c.client.delete(PODS, "a", "default")
        c.advance(60)
        assert c.client.get(QUOTAS, "compute", "default")["status"]["used"]["pods"] == "0"


def test_a_deployment_past_its_quota_reports_the_refusal():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.client.create(QUOTAS, quota("pods", {"pods": "2"}), "default")
        c.kubectl("create deployment web --image=nginx --replicas=3")
        c.advance(30)
        assert len(c.client.list(PODS, "default")["items"]) == 2
        events = [e["message"] for e in c.client.list(resources.lookup("events"), "default")["items"]
                  if e["reason"] == "FailedCreate"]
        assert any("exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2" in m for m in events)


# --- kubectl ------------------------------------------------------------------------------------------


@needs_kubectl
def test_real_kubectl_create_get_describe_and_refusal(server):
    made = server.kubectl("create", "quota", "compute", "--hard=pods=2,requests.cpu=1,limits.cpu=2")
    assert (made.returncode, made.stdout) == (0, "resourcequota/compute created\n")
    refused = server.kubectl("run", "a", "--image=nginx")
    assert refused.returncode == 1
    assert refused.stderr == ('Error from server (Forbidden): pods "a" is forbidden: failed quota: compute: '
                              "must specify limits.cpu for: a; requests.cpu for: a\n")
    override = ('{"spec":{"containers":[{"name":"b","image":"nginx","resources":'
                '{"requests":{"cpu":"500m"},"limits":{"cpu":"1"}}}]}}')
    assert server.kubectl("run", "b", "--image=nginx", "--overrides", override).returncode == 0
    table = server.kubectl("get", "quota").stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert table[1].split()[0] == "compute"
    assert table[1].split()[2:] == ["pods:", "1/2,", "requests.cpu:", "500m/1", "limits.cpu:", "1/2"]
    described = server.kubectl("describe", "quota", "compute").stdout.splitlines()
    assert [line.split() for line in described[2:]] == [
        ["Resource", "Used", "Hard"], ["--------", "----", "----"], ["limits.cpu", "1", "2"], ["pods", "1", "2"],
        ["requests.cpu", "500m", "1"]]
    ours = server.kubectl("describe", "quota", "compute", real=False).stdout.splitlines()
    assert ours == described
    # Deleting the pod gives its share back (the quota controller recounts).
    assert server.kubectl("delete", "pod", "b", "--wait=false").returncode == 0
    waited = server.kubectl("wait", "--for=jsonpath={.status.used.pods}=0", "resourcequota/compute", "--timeout=30s")
    assert waited.returncode == 0, waited.stderr
    bad = server.kubectl("create", "quota", "bad", "--hard=pods=-1")
    assert bad.returncode == 1 and bad.stderr == (
        'error: failed to create quota: ResourceQuota "bad" is invalid: spec.hard[pods]: Invalid value: "-1": '
        "must be greater than or equal to 0\n")


def test_minik8s_kubectl_create_quota_matches_upstreams_object(server):
    out = server.kubectl("create", "quota", "q", "--hard=cpu=1,pods=2", "--scopes=BestEffort,NotTerminating",
                         "--dry-run=client", "-o", "yaml", real=False).stdout
    assert out == ("apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  creationTimestamp: null\n  name: q\n"
                   'spec:\n  hard:\n    cpu: "1"\n    pods: "2"\n  scopes:\n  - BestEffort\n  - NotTerminating\n'
                   "status: {}\n")
    made = server.kubectl("create", "quota", "q", "--hard=pods=2", real=False)
    assert (made.returncode, made.stdout) == (0, "resourcequota/q created\n")
    for hard in ("--hard=pods", "--hard=pods=x"):
        bad = server.kubectl("create", "quota", "bad", hard, real=False)
        assert bad.returncode == 1
        if shutil.which("kubectl"):
            assert bad.stderr == server.kubectl("create", "quota", "bad", hard).stderr
    described = server.kubectl("describe", "quota", "q", real=False).stdout
    assert described.splitlines()[-1].split() == ["pods", "0", "2"]


def test_a_charge_for_nothing_stored_is_given_back_after_a_second_look():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.client.create(QUOTAS, quota("pods", {"pods": "3"}), "default")
        c.client.create(PODS, pod("a"), "default")
        c.run_until_stable()
        stored = c.client.get(QUOTAS, "pods", "default")
        assert stored["status"]["used"] == {"pods": "1"}
        # As if admission had charged a create that then failed: used says 2, one pod exists.
        stored["status"]["used"] = {"pods": "2"}
        c.client.update(QUOTAS, stored, "default", subresource="status")
        c.run_until_stable()
        assert c.client.get(QUOTAS, "pods", "default")["status"]["used"] == {"pods": "2"}  # maybe still storing
        c.advance(2)
        assert c.client.get(QUOTAS, "pods", "default")["status"]["used"] == {"pods": "1"}


def test_a_scope_selector_on_priority_class_counts_only_those_pods():
    selector = {"matchExpressions": [{"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}
    api = api_with(quota("high", {"pods": "1"}, scopeSelector=selector))
    classes = resources.get("scheduling.k8s.io", "v1", "priorityclasses")   # the Priority plugin wants it to exist
    api.create(classes, None, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                               "metadata": {"name": "high"}, "value": 1000})
    api.create(PODS, "team", pod("low"))
    api.create(PODS, "team", pod("vip", priorityClassName="high"))
    assert "exceeded quota: high, requested: pods=1, used: pods=1, limited: pods=1" in \
        refusal(api, PODS, pod("vip2", priorityClassName="high"))
    api.create(PODS, "team", pod("low2"))
    with pytest.raises(StatusError) as err:
        api.create(QUOTAS, "team", quota("bad", {"pods": "1"}, scopeSelector={
            "matchExpressions": [{"scopeName": "BestEffort", "operator": "In", "values": ["x"]}]}))
    assert err.value.code == 422 and \
        'spec.scopeSelector.matchExpressions[0].operator: Invalid value: "In": must be \'Exist\' when scope' \
        in err.value.message


def test_get_quota_lists_spec_hard_before_the_controller_fills_the_status():
    from minik8s.apiserver.tables import resourcequota_cells
    from datetime import datetime, timezone

    fresh = {"metadata": {"name": "q", "creationTimestamp": "2025-01-01T00:00:00Z"},
             "spec": {"hard": {"pods": "2", "limits.cpu": "1"}}}
    cells = resourcequota_cells(fresh, datetime(2025, 1, 1, 0, 1, tzinfo=timezone.utc))
    assert cells[2:] == ["pods: 0/0", "limits.cpu: 0/0"]


@needs_kubectl
def test_describe_quota_with_scopes_matches_the_real_kubectl(server):
    assert server.kubectl("create", "quota", "free", "--hard=pods=3", "--scopes=NotTerminating,BestEffort"
                          ).returncode == 0
    server.kubectl("run", "a", "--image=nginx")
    assert server.kubectl("wait", "--for=jsonpath={.status.used.pods}=1", "resourcequota/free",
                          "--timeout=30s").returncode == 0
    real = server.kubectl("describe", "quota", "free").stdout
    ours = server.kubectl("describe", "quota", "free", real=False).stdout
    assert ours == real
    assert "Scopes:     BestEffort, NotTerminating\n * Matches all pods that do not have resource requirements" in ours


def test_storage_is_counted_in_all_and_per_class():
    api = api_with(quota("storage", {"requests.storage": "10Gi",
                                     "gold.storageclass.storage.k8s.io/requests.storage": "5Gi"}))
    claims = resources.lookup("persistentvolumeclaims")

    def claim(name: str, size: str, storage_class: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": storage_class,
                         "resources": {"requests": {"storage": size}}}}

    api.create(claims, "team", claim("a", "4Gi", "gold"))
    assert refusal(api, claims, claim("b", "2Gi", "gold")) == (
        'persistentvolumeclaims "b" is forbidden: exceeded quota: storage, requested: '
        "gold.storageclass.storage.k8s.io/requests.storage=2Gi, used: "
        "gold.storageclass.storage.k8s.io/requests.storage=4Gi, limited: "
        "gold.storageclass.storage.k8s.io/requests.storage=5Gi")
    api.create(claims, "team", claim("c", "6Gi", "bronze"))
    assert used(api, "storage") == {"requests.storage": "10Gi",
                                    "gold.storageclass.storage.k8s.io/requests.storage": "4Gi"}

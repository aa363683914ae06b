"""Admission webhooks (minik8s/apiserver/admission/webhook.py): a real server calling a real HTTPS
webhook written here, driven by the real kubectl."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time

import pytest
from aiohttp import web

from conftest import needs_kubectl, start_server
from minik8s.api import resources
from minik8s.apiserver.admission.chain import Attributes
from minik8s.apiserver.admission.webhook import admission_review, denied, rule_matches
from tlsbackend import TLSBackend

pytestmark = needs_kubectl


def _review(request: dict, **response: object) -> web.Response:
    return web.json_response({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                              "response": {"uid": request["uid"], **response}})


async def _allow(request: web.Request) -> web.Response:
    return _review((await request.json())["request"], allowed=True)


async def _deny(request: web.Request) -> web.Response:
    review = (await request.json())["request"]
    if review["name"].startswith("ok-"):
        return _review(review, allowed=True, warnings=["checked by the test webhook"])
    return _review(review, allowed=False, status={"code": 403, "message": "names must start with ok-"})


async def _label(request: web.Request) -> web.Response:
    review = (await request.json())["request"]
    patch = [{"op": "add", "path": "/metadata/labels", "value": {"stamped": "yes"}}]
    return _review(review, allowed=True, patchType="JSONPatch",
                   patch=base64.b64encode(json.dumps(patch).encode()).decode())


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return await _allow(request)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("webhooks"), "--nodes", "0")
    backend = TLSBackend(tmp_path_factory.mktemp("webhook-pki"), [
        web.post("/allow", _allow), web.post("/deny", _deny), web.post("/label", _label),
        web.post("/slow", _slow)], names=("hooks.default.svc",))
    yield srv, backend
    backend.close()
    srv.stop()


@pytest.fixture
def server(cluster):
    srv, backend = cluster
    yield srv
    srv.kubectl("delete", "validatingwebhookconfigurations,mutatingwebhookconfigurations", "--all")
    backend.requests.clear()


@pytest.fixture
def backend(cluster):
    return cluster[1]


def _configuration(kind: str, name: str, client_config: dict, **hook: object) -> str:
    webhook = {"name": f"{name}.test.minik8s.io", "clientConfig": client_config, "sideEffects": "None",
               "admissionReviewVersions": ["v1"],
               "rules": [{"operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"],
                          "resources": ["configmaps"]}], **hook}
    return json.dumps({"apiVersion": "admissionregistration.k8s.io/v1", "kind": kind,
                       "metadata": {"name": name}, "webhooks": [webhook]})


def _create(server, kind: str, name: str, client_config: dict, **hook: object) -> None:
    done = server.kubectl("create", "-f", "-", stdin=_configuration(kind, name, client_config, **hook))
    assert done.returncode == 0, done.stderr


def test_validating_webhook_denies_with_its_message_and_sees_the_request(server, backend):
    _create(server, "ValidatingWebhookConfiguration", "names", {"url": backend.url + "/deny",
                                                                 "caBundle": backend.ca_bundle})
    refused = server.kubectl("create", "configmap", "bad", "--from-literal=a=b")
    assert refused.returncode == 1
    assert refused.stderr.strip() == ('error: failed to create configmap: admission webhook '
                                      '"names.test.minik8s.io" denied the request: names must start with ok-')
    assert server.kubectl("get", "configmap", "bad").returncode == 1   # nothing was stored
    made = server.kubectl("create", "configmap", "ok-one", "--from-literal=a=b")
    assert made.returncode == 0, made.stderr
    assert "checked by the test webhook" in made.stderr   # the webhook's warning reaches kubectl
    path, review, _ = backend.requests[-1]
    assert path == "/deny?timeout=10s"
    request = review["request"]
    assert (review["kind"], review["apiVersion"]) == ("AdmissionReview", "admission.k8s.io/v1")
    assert request["kind"] == {"group": "", "version": "v1", "kind": "ConfigMap"}
    assert request["resource"] == {"group": "", "version": "v1", "resource": "configmaps"}
    assert (request["operation"], request["namespace"], request["name"]) == ("CREATE", "default", "ok-one")
    assert "system:masters" in request["userInfo"]["groups"]
    assert request["object"]["data"] == {"a": "b"} and request["oldObject"] is None
    assert request["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
    # The configuration lists as upstream prints it.
    listed = server.kubectl("get", "validatingwebhookconfigurations")
    assert listed.stdout.split("\n")[0].split() == ["NAME", "WEBHOOKS", "AGE"]
    assert listed.stdout.split("\n")[1].split()[:2] == ["names", "1"]


def test_update_sends_the_old_object_and_other_resources_are_not_sent(server, backend):
    assert server.kubectl("create", "configmap", "ok-two", "--from-literal=a=b").returncode == 0
    assert server.kubectl("create", "secret", "generic", "s", "--from-literal=a=b").returncode == 0
    _create(server, "ValidatingWebhookConfiguration", "names", {"url": backend.url + "/deny",
                                                                 "caBundle": backend.ca_bundle})
    patched = server.kubectl("label", "configmap", "ok-two", "x=y")
    assert patched.returncode == 0, patched.stderr
    request = backend.requests[-1][1]["request"]
    assert request["operation"] == "UPDATE" and request["options"]["kind"] == "UpdateOptions"
    assert request["oldObject"]["metadata"].get("labels") is None
    assert request["object"]["metadata"]["labels"] == {"x": "y"}
    calls = len(backend.requests)
    assert server.kubectl("label", "secret", "s", "x=y").returncode == 0   # not a configmap: not sent
    assert server.kubectl("delete", "configmap", "ok-two").returncode == 0  # DELETE is not in the rules
    assert len(backend.requests) == calls


def test_mutating_webhook_behind_a_service_patches_the_object(server, backend):
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hooks"},
               "spec": {"ports": [{"port": 443, "targetPort": backend.port}]}}
    endpoints = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "hooks"},
                 "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"port": backend.port}]}]}
    for obj in (service, endpoints):
        assert server.kubectl("create", "-f", "-", stdin=json.dumps(obj)).returncode == 0
    _create(server, "MutatingWebhookConfiguration", "stamp",
            {"service": {"namespace": "default", "name": "hooks", "path": "/label"}, "caBundle": backend.ca_bundle},
            objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]})
    hook = json.loads(server.kubectl("get", "mutatingwebhookconfiguration", "stamp", "-o", "json").stdout)
    assert hook["webhooks"][0]["clientConfig"]["service"]["port"] == 443     # defaults, as upstream's
    assert (hook["webhooks"][0]["failurePolicy"], hook["webhooks"][0]["reinvocationPolicy"]) == ("Fail", "Never")
    assert server.kubectl("create", "configmap", "stamped").returncode == 0
    made = json.loads(server.kubectl("get", "configmap", "stamped", "-o", "json").stdout)
    assert made["metadata"]["labels"] == {"stamped": "yes"}
    assert backend.requests[-1][0] == "/label?timeout=10s"
    # objectSelector: an object labelled skip is not sent.
    skipped = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "skipped", "labels": {"skip": "1"}}}
    assert server.kubectl("create", "-f", "-", stdin=json.dumps(skipped)).returncode == 0
    made = json.loads(server.kubectl("get", "configmap", "skipped", "-o", "json").stdout)
    assert made["metadata"]["labels"] == {"skip": "1"}


def test_failure_policy_fail_refuses_and_ignore_allows(server, backend):
    _create(server, "ValidatingWebhookConfiguration", "slow", {"url": backend.url + "/slow",
                                                                "caBundle": backend.ca_bundle}, timeoutSeconds=1)
    refused = server.kubectl("create", "configmap", "late")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'error: failed to create configmap: Internal error occurred: failed calling webhook "slow.test.minik8s.io": '
        f'failed to call webhook: Post "{backend.url}/slow?timeout=1s": context deadline exceeded')
    server.kubectl("delete", "validatingwebhookconfiguration", "slow")
    # A webhook nobody serves: refused (Fail) ...
    _create(server, "ValidatingWebhookConfiguration", "gone", {"url": "https://127.0.0.1:1/x",
                                                                "caBundle": backend.ca_bundle})
    refused = server.kubectl("create", "configmap", "nobody")
    assert refused.returncode == 1
    assert 'Internal error occurred: failed calling webhook "gone.test.minik8s.io": failed to call webhook: ' \
           'Post "https://127.0.0.1:1/x?timeout=10s"' in refused.stderr
    # ... or let through (Ignore); a certificate the caBundle does not trust is a failed call too.
    server.kubectl("delete", "validatingwebhookconfiguration", "gone")
    _create(server, "ValidatingWebhookConfiguration", "ignored", {"url": "https://127.0.0.1:1/x"},
            failurePolicy="Ignore")
    _create(server, "ValidatingWebhookConfiguration", "untrusted", {"url": backend.url + "/allow"})
    refused = server.kubectl("create", "configmap", "unverified")
    assert "certificate verify failed" in refused.stderr and refused.returncode == 1
    server.kubectl("delete", "validatingwebhookconfiguration", "untrusted")
    assert server.kubectl("create", "configmap", "ignored").returncode == 0


def test_the_server_keeps_serving_while_a_webhook_thinks(server, backend):
    _create(server, "ValidatingWebhookConfiguration", "slow", {"url": backend.url + "/slow",
                                                                "caBundle": backend.ca_bundle}, timeoutSeconds=4)
    result: list = []
    writer = threading.Thread(target=lambda: result.append(server.kubectl("create", "configmap", "pending")))
    writer.start()
    deadline = time.monotonic() + 10
    while not any(path.startswith("/slow") for path, _, _ in backend.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    status, _, _ = server.request("GET", "/api/v1/namespaces/default/configmaps")
    assert status == 200 and writer.is_alive()   # answered while the write still waits for its webhook
    writer.join(30)
    assert "context deadline exceeded" in result[0].stderr


def test_deletes_pass_validating_webhooks_too(server, backend):
    assert server.kubectl("create", "configmap", "keep").returncode == 0
    text = json.loads(_configuration("ValidatingWebhookConfiguration", "nodelete",
                                     {"url": backend.url + "/deny", "caBundle": backend.ca_bundle}))
    text["webhooks"][0]["rules"][0]["operations"] = ["DELETE"]
    assert server.kubectl("create", "-f", "-", stdin=json.dumps(text)).returncode == 0
    refused = server.kubectl("delete", "configmap", "keep")
    assert refused.returncode == 1
    assert 'admission webhook "nodelete.test.minik8s.io" denied the request: names must start with ok-' \
        in refused.stderr
    request = backend.requests[-1][1]["request"]
    assert (request["operation"], request["object"], request["oldObject"]["metadata"]["name"]) == \
        ("DELETE", None, "keep")
    assert server.kubectl("get", "configmap", "keep").returncode == 0


def test_match_conditions_narrow_what_is_sent(server, backend):
    _create(server, "ValidatingWebhookConfiguration", "cel", {"url": backend.url + "/deny",
                                                               "caBundle": backend.ca_bundle},
            matchConditions=[{"name": "x-only", "expression": 'object.metadata.name.startsWith("x-")'},
                             {"name": "not-admin", "expression": 'request.userInfo.username != "nobody"'}])
    assert server.kubectl("create", "configmap", "not-sent").returncode == 0   # a condition is false
    refused = server.kubectl("create", "configmap", "x-sent")
    assert refused.returncode == 1 and "denied the request: names must start with ok-" in refused.stderr
    server.kubectl("delete", "validatingwebhookconfiguration", "cel")
    # An expression that cannot be evaluated is a failed call: refused under failurePolicy Fail.
    _create(server, "ValidatingWebhookConfiguration", "broken", {"url": backend.url + "/allow",
                                                                  "caBundle": backend.ca_bundle},
            matchConditions=[{"name": "team", "expression": 'object.metadata.labels["team"] == "a"'}])
    refused = server.kubectl("create", "configmap", "unlabelled")
    assert refused.returncode == 1
    assert 'Internal error occurred: failed calling webhook "broken.test.minik8s.io": failed to evaluate ' \
           "matchCondition 'team'" in refused.stderr
    # A condition that does not compile is refused when the configuration is written.
    text = _configuration("ValidatingWebhookConfiguration", "typo", {"url": backend.url + "/allow"},
                          matchConditions=[{"name": "bad", "expression": "object.metadata.name =="}])
    invalid = server.kubectl("create", "-f", "-", stdin=text)
    assert invalid.returncode == 1
    assert 'webhooks[0].matchConditions[0].expression: Invalid value: "object.metadata.name ==": compilation ' \
           "failed" in invalid.stderr


def test_apply_merges_webhooks_by_name(server, backend):
    """kubectl apply sends a strategic merge patch; webhooks merge by name, as upstream's patchMergeKey."""
    text = _configuration("ValidatingWebhookConfiguration", "applied", {"url": backend.url + "/allow",
                                                                      "caBundle": backend.ca_bundle})
    assert server.kubectl("apply", "-f", "-", stdin=text).returncode == 0
    changed = json.loads(text)
    changed["webhooks"][0]["timeoutSeconds"] = 5
    again = server.kubectl("apply", "-f", "-", stdin=json.dumps(changed))
    assert again.returncode == 0, again.stderr
    stored = json.loads(server.kubectl("get", "validatingwebhookconfiguration", "applied", "-o", "json").stdout)
    assert stored["webhooks"][0]["timeoutSeconds"] == 5
    assert stored["webhooks"][0]["clientConfig"]["url"] == backend.url + "/allow"


def test_a_webhook_configuration_is_validated(server):
    bad = json.loads(_configuration("ValidatingWebhookConfiguration", "bad", {}))
    hook = bad["webhooks"][0]
    del hook["sideEffects"]
    hook["name"] = "short"
    hook["timeoutSeconds"] = 31
    refused = server.kubectl("create", "-f", "-", stdin=json.dumps(bad))
    assert refused.returncode == 1
    for line in ('webhooks[0].name: Invalid value: "short": should be a domain with at least three segments '
                 'separated by dots',
                 "webhooks[0].clientConfig: Required value: exactly one of url or service is required",
                 "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun",
                 "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 and 30 seconds"):
        assert line in refused.stderr


# --- the pure parts ------------------------------------------------------------------------------


PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")


@pytest.mark.parametrize("rule, attrs, expected", [
    ({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}, ("CREATE", PODS, ""), True),
    ({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}, ("UPDATE", PODS, "status"),
     False),
    ({"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*/status"]},
     ("UPDATE", PODS, "status"), True),
    ({"operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/*"]},
     ("UPDATE", PODS, "status"), True),
    ({"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]},
     ("UPDATE", PODS, ""), False),
    ({"operations": ["*"], "apiGroups": ["apps"], "apiVersions": ["*"], "resources": ["*"]}, ("CREATE", PODS, ""),
     False),
    ({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Namespaced"},
     ("CREATE", NODES, ""), False),
    ({"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"], "scope": "Cluster"},
     ("CREATE", NODES, ""), True),
])
def test_rule_matching(rule, attrs, expected):
    operation, resource, sub = attrs
    assert rule_matches(rule, Attributes(operation, resource, "default", "x", {}, subresource=sub)) is expected


def test_review_of_a_delete_and_denial_wording():
    old = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}}
    request = admission_review(Attributes("DELETE", PODS, "default", "p", None, old))["request"]
    assert (request["object"], request["oldObject"], request["options"]["kind"]) == (None, old, "DeleteOptions")
    assert denied("x.y.z", None).status()["message"] == 'admission webhook "x.y.z" denied the request without explanation'
    err = denied("x.y.z", {"code": 200, "reason": "NotAllowed"})
    assert (err.code, err.reason, err.message) == (403, "NotAllowed",
                                                   'admission webhook "x.y.z" denied the request: NotAllowed')


def test_mutating_webhooks_run_in_order_and_reinvoke_if_needed(monkeypatch):
    """Configurations by name, webhooks as listed; one with reinvocationPolicy IfNeeded runs again after a
    later webhook changed the object (the calls are faked here: the wire is tested above)."""
    from minik8s.apiserver.admission import webhook
    from minik8s.store import Store

    store = Store()
    calls: list[str] = []

    def fake_call(_store, client_config, review, _timeout):
        url = client_config["url"]
        calls.append(url)
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        ops = [] if "labels" in review["request"]["object"]["metadata"] else [
            {"op": "add", "path": "/metadata/labels", "value": {}}]
        key = url.rsplit("/", 1)[1]
        if key not in labels:
            ops.append({"op": "add", "path": f"/metadata/labels/{key}", "value": str(len(labels))})
        response = {"uid": review["request"]["uid"], "allowed": True}
        if ops:
            response.update(patchType="JSONPatch", patch=base64.b64encode(json.dumps(ops).encode()).decode())
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}

    monkeypatch.setattr(webhook, "call_webhook", fake_call)

    def configuration(name, *hooks):
        return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": name}, "webhooks": [
                    {"name": f"{key}.example.io", "clientConfig": {"url": f"https://hooks/{key}"},
                     "sideEffects": "None", "reinvocationPolicy": policy,
                     "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                                "resources": ["pods"]}]} for key, policy in hooks]}

    store.create((webhook.MUTATING.qualified, "", "b-second"), configuration("b-second", ("second", "Never")))
    store.create((webhook.MUTATING.qualified, "", "a-first"),
                 configuration("a-first", ("first", "IfNeeded"), ("also", "Never")))
    attrs = Attributes("CREATE", PODS, "default", "p", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                                                         "spec": {"containers": [{"name": "c", "image": "x"}]}})
    webhook.Webhooks(store).mutate(attrs)
    assert calls == ["https://hooks/first", "https://hooks/also", "https://hooks/second", "https://hooks/first"]
    assert attrs.obj["metadata"]["labels"] == {"first": "0", "also": "1", "second": "2"}
    assert attrs.obj["spec"]["containers"][0]["imagePullPolicy"] == "Always"   # defaulted again after patching


def test_namespace_selector_as_upstream_applies_it(monkeypatch):
    """A namespaced object is matched by its namespace's labels, a Namespace by its own, and any other
    cluster-scoped object is never skipped by a namespaceSelector."""
    from minik8s.apiserver.admission import webhook
    from minik8s.store import Store

    store = Store()
    namespaces = resources.get("", "v1", "namespaces")
    for name, labels in (("watched", {"policy": "on"}), ("quiet", {})):
        store.create((namespaces.qualified, "", name), {"metadata": {"name": name, "labels": labels}})
    store.create((webhook.VALIDATING.qualified, "", "ns"), {"metadata": {"name": "ns"}, "webhooks": [
        {"name": "ns.example.io", "clientConfig": {"url": "https://hooks/ns"}, "sideEffects": "None",
         "namespaceSelector": {"matchLabels": {"policy": "on"}},
         "rules": [{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}]}]})
    sent: list[str] = []

    def fake_call(_store, _config, review, _timeout):
        sent.append(review["request"]["name"])
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": review["request"]["uid"], "allowed": True}}

    monkeypatch.setattr(webhook, "call_webhook", fake_call)
    plugin = webhook.Webhooks(store)
    configmaps = resources.get("", "v1", "configmaps")
    for namespace, name in (("watched", "in-watched"), ("quiet", "in-quiet")):
        plugin.validate(Attributes("CREATE", configmaps, namespace, name, {"metadata": {"name": name}}))
    plugin.validate(Attributes("CREATE", NODES, None, "node-1", {"metadata": {"name": "node-1"}}))
    for name, labels in (("labelled", {"policy": "on"}), ("plain", {})):
        plugin.validate(Attributes("CREATE", namespaces, None, name, {"metadata": {"name": name, "labels": labels}}))
    assert sent == ["in-watched", "node-1", "labelled"]

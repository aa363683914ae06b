"""ServiceAccounts end to end: the controllers, the admission plugin, TokenRequest, legacy token
Secrets, the root CA publisher, Cluster.serve() and a Pod calling the API with the official client."""

from __future__ import annotations

import base64
import json
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from minik8s.cluster import Cluster, KubectlError

MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture
def vc():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=3) as c:
        yield c


def _get(c: Cluster, *args: str) -> dict[str, Any]:
    return dict(json.loads(c.kubectl(["get", *args, "-o", "json"])))


def _apply(c: Cluster, obj: dict[str, Any]) -> None:
    c.apply(json.dumps(obj))


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "nginx"}], **spec}}


class API:
    """Plain HTTPS calls to a served cluster, as a given bearer token (or none)."""

    def __init__(self, c: Cluster, url: str):
        self.url = url
        self.context = ssl.create_default_context(cadata=c.pki.ca_pem.decode())

    def call(self, method: str, path: str, token: str | None, body: Any = None) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def whoami(self, token: str) -> tuple[int, dict[str, Any]]:
        code, body = self.call("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", token,
                               {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        return code, body["status"]["userInfo"] if code == 201 else body

    def token_request(self, admin: str, sa: str, spec: dict[str, Any], namespace: str = "default"
                      ) -> tuple[int, dict[str, Any]]:
        return self.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token", admin,
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})


# --- the ServiceAccount controller -------------------------------------------------------------------


def test_every_namespace_gets_a_default_service_account_back_when_deleted(vc: Cluster) -> None:
    vc.kubectl("create namespace team")
    names = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in _get(vc, "sa", "-A")["items"]}
    assert names == {(ns, "default") for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "team")}
    uid = _get(vc, "sa", "default", "-n", "team")["metadata"]["uid"]
    vc.kubectl("delete sa default -n team")
    again = _get(vc, "sa", "default", "-n", "team")
    assert again["metadata"]["uid"] != uid
    out = vc.kubectl("get sa -n team")
    assert out.splitlines()[0].split() == ["NAME", "SECRETS", "AGE"]
    assert out.splitlines()[1].split()[:2] == ["default", "0"]


def test_system_objects_do_not_shift_seeded_pod_names_uids_and_cluster_ips() -> None:
    def pods(churn: bool) -> list[tuple[str, str]]:
        with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=11) as c:
            if churn:   # the controller re-creates it: its uid must come from the server's own generator
                c.kubectl("delete sa default")
                c.serve()   # kube-root-ca.crt ConfigMaps in every namespace
            c.kubectl("create deployment web --image=nginx --replicas=2")
            c.kubectl("run solo --image=nginx")
            c.kubectl("create service nodeport np --tcp=80:80")
            services = sorted((s["metadata"]["name"], s["spec"]["clusterIP"], s["spec"]["ports"][0].get("nodePort"))
                              for s in _get(c, "services")["items"])
            return sorted((p["metadata"]["name"], p["metadata"]["uid"]) for p in _get(c, "pods")["items"]) + services

    assert pods(churn=False) == pods(churn=True)


# --- the admission plugin -------------------------------------------------------------------------------


def test_a_pod_gets_the_kube_api_access_volume_as_upstream(vc: Cluster) -> None:
    _apply(vc, {**_pod("web"), "spec": {"initContainers": [{"name": "init", "image": "busybox"}],
                                        "containers": [{"name": "app", "image": "nginx"}]}})
    spec = _get(vc, "pod", "web")["spec"]
    assert spec["serviceAccountName"] == "default"
    (volume,) = spec["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == len("kube-api-access-") + 5
    assert volume["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}
    for container in spec["initContainers"] + spec["containers"]:
        assert container["volumeMounts"] == [{"mountPath": MOUNT, "name": volume["name"], "readOnly": True}]
    assert f"{MOUNT} from {volume['name']} (ro)" in vc.kubectl("describe pod web")


def test_automount_is_decided_by_the_pod_then_the_service_account(vc: Cluster) -> None:
    _apply(vc, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "quiet"},
                "automountServiceAccountToken": False})
    _apply(vc, _pod("off", automountServiceAccountToken=False))
    _apply(vc, _pod("sa-off", serviceAccountName="quiet"))
    _apply(vc, _pod("pod-wins", serviceAccountName="quiet", automountServiceAccountToken=True))
    assert "volumes" not in _get(vc, "pod", "off")["spec"]
    assert "volumes" not in _get(vc, "pod", "sa-off")["spec"]
    assert _get(vc, "pod", "pod-wins")["spec"]["volumes"][0]["name"].startswith("kube-api-access-")


def test_a_container_that_mounts_the_path_itself_is_left_alone(vc: Cluster) -> None:
    _apply(vc, _pod("own", volumes=[{"name": "mine", "emptyDir": {}}],
                    containers=[{"name": "app", "image": "nginx",
                                 "volumeMounts": [{"name": "mine", "mountPath": MOUNT}]}]))
    spec = _get(vc, "pod", "own")["spec"]
    assert [v["name"] for v in spec["volumes"]] == ["mine"]


def test_a_pod_naming_a_missing_service_account_is_refused(vc: Cluster) -> None:
    with pytest.raises(KubectlError) as err:
        _apply(vc, _pod("lost", serviceAccountName="ghost"))
    assert 'pods "lost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" ' \
           'not found' in err.value.message
    assert "lost" not in vc.kubectl("get pods")


# --- served: TokenRequest, legacy tokens, the root CA ------------------------------------------------


@pytest.fixture
def served(vc: Cluster):
    url = vc.serve()
    return vc, API(vc, url)


def test_serve_certifies_the_kubernetes_service_ip_and_points_its_endpoints_here(served) -> None:
    c, api = served
    cert = x509.load_pem_x509_certificate((c.pki.directory / "apiserver.crt").read_bytes())
    names = {str(ip) for ip in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
             .value.get_values_for_type(x509.IPAddress)}
    cluster_ip = _get(c, "svc", "kubernetes")["spec"]["clusterIP"]
    assert cluster_ip in names
    port = int(api.url.rsplit(":", 1)[1])
    assert _get(c, "endpoints", "kubernetes")["subsets"][0]["ports"][0]["port"] == port
    assert api.call("GET", "/api/v1/namespaces", None)[0] in (401, 403)   # anonymous gets nothing
    assert api.call("GET", "/api/v1/namespaces", c.pki.admin_token)[0] == 200


def test_root_ca_configmap_in_every_namespace_and_put_back(served) -> None:
    c, _ = served
    c.kubectl("create namespace late")
    for ns in ("default", "kube-system", "late"):
        cm = _get(c, "configmap", "kube-root-ca.crt", "-n", ns)
        assert cm["data"] == {"ca.crt": c.pki.ca_pem.decode()}
    c.kubectl("delete configmap kube-root-ca.crt -n late")
    assert _get(c, "configmap", "kube-root-ca.crt", "-n", "late")["data"]["ca.crt"] == c.pki.ca_pem.decode()


def test_token_request_gives_a_token_of_the_service_account(served) -> None:
    c, api = served
    code, answer = api.token_request(c.pki.admin_token, "default", {})
    assert code == 201 and answer["kind"] == "TokenRequest"
    assert answer["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert answer["spec"]["expirationSeconds"] == 3600
    code, user = api.whoami(answer["status"]["token"])
    assert code == 201
    assert user["username"] == "system:serviceaccount:default:default"
    assert user["uid"] == _get(c, "sa", "default")["metadata"]["uid"]
    assert user["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"]


def test_token_request_refuses_short_lives_and_unknown_accounts(served) -> None:
    c, api = served
    code, status = api.token_request(c.pki.admin_token, "default", {"expirationSeconds": 60})
    assert code == 422 and "may not specify a duration less than 10 minutes" in status["message"]
    code, status = api.token_request(c.pki.admin_token, "ghost", {})
    assert code == 404 and status["message"] == 'serviceaccounts "ghost" not found'


def test_a_token_bound_to_a_pod_dies_with_the_pod_and_expires(served) -> None:
    c, api = served
    _apply(c, _pod("holder"))
    uid = _get(c, "pod", "holder")["metadata"]["uid"]
    code, answer = api.token_request(c.pki.admin_token, "default", {
        "expirationSeconds": 600, "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "holder", "uid": uid}})
    assert code == 201
    token = answer["status"]["token"]
    assert api.whoami(token)[0] == 201
    c.kubectl("delete pod holder --grace-period=0 --force")
    assert api.whoami(token)[0] == 401
    code, answer = api.token_request(c.pki.admin_token, "default", {"expirationSeconds": 600})
    assert api.whoami(answer["status"]["token"])[0] == 201
    c.advance(601)   # the API server's clock decides expiry
    code, status = api.whoami(answer["status"]["token"])
    assert (code, status["message"]) == (401, "Unauthorized")


def test_deleting_and_recreating_the_service_account_revokes_its_tokens(served) -> None:
    c, api = served
    c.kubectl("create serviceaccount robot") if _has_create_sa(c) else _apply(
        c, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}})
    token = api.token_request(c.pki.admin_token, "robot", {})[1]["status"]["token"]
    assert api.whoami(token)[0] == 201
    c.kubectl("delete sa robot")
    _apply(c, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}})
    assert api.whoami(token)[0] == 401   # same name, another uid


def _has_create_sa(c: Cluster) -> bool:
    return c.run_kubectl("create serviceaccount --help")[0] == 0


def test_legacy_token_secret_is_filled_and_revoked_by_deleting_it(served) -> None:
    c, api = served
    _apply(c, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
               "metadata": {"name": "old-style", "annotations": {"kubernetes.io/service-account.name": "default"}}})
    secret = _get(c, "secret", "old-style")
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["namespace"] == "default" and data["ca.crt"] == c.pki.ca_pem.decode()
    assert secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"] == \
        _get(c, "sa", "default")["metadata"]["uid"]
    code, user = api.whoami(data["token"])
    assert code == 201 and user["username"] == "system:serviceaccount:default:default"
    c.kubectl("delete secret old-style")
    assert api.whoami(data["token"])[0] == 401


def test_wrongly_signed_and_malformed_service_account_tokens_are_401(served) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    c, api = served
    good = api.token_request(c.pki.admin_token, "default", {})[1]["status"]["token"]
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")
    for token in (forged, good[:-4] + "AAAA", "not.a.jwt", good + "x"):
        code, status = api.whoami(token)
        assert (code, status.get("message")) == (401, "Unauthorized"), token


# --- a Pod calling the API with the official client ------------------------------------------------------

IN_POD_SCRIPT = """
from kubernetes import client, config
config.load_incluster_config()
review = client.AuthenticationV1Api().create_self_subject_review(client.V1SelfSubjectReview())
print("user:", review.status.user_info.username)
try:
    pods = client.CoreV1Api().list_namespaced_pod("default")
    print("pods:", sorted(p.metadata.name for p in pods.items))
except client.ApiException as exc:
    print("status:", exc.status)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process runtime needs Linux")
def test_a_pod_calls_the_api_with_load_incluster_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("kubernetes")
    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as c:
        c.serve()

        def run(name: str) -> str:
            _apply(c, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                       "spec": {"restartPolicy": "Never", "containers": [
                           {"name": "c", "image": "python", "command": ["python", "-c", IN_POD_SCRIPT]}]}})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if _get(c, "pod", name).get("status", {}).get("phase") in ("Succeeded", "Failed"):
                    break
                time.sleep(0.2)
            logs = c.kubectl(f"logs {name}")
            assert _get(c, "pod", name)["status"]["phase"] == "Succeeded", logs
            assert "user: system:serviceaccount:default:default" in logs
            return logs

        # RBAC grants a ServiceAccount nothing of its own: listing pods is refused.
        assert "status: 403" in run("client")
        # Bound to the bootstrap `view` role in its namespace, the same program may list them.
        c.kubectl("create rolebinding default-view --clusterrole=view --serviceaccount=default:default")
        assert "pods: ['client', 'client2']" in run("client2")


def test_the_pods_token_file_is_a_pod_bound_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    with Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster") as c:
        url = c.serve()
        _apply(c, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
                   "spec": {"restartPolicy": "Never", "containers": [{
                       "name": "c", "image": "python",
                       "command": ["python", "-c", f"print(open('{MOUNT}/token').read()); "
                                                   f"print(open('{MOUNT}/namespace').read(), flush=True); "
                                                   "import time; time.sleep(120)"]}]}})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(c.run_kubectl("logs reader")[1].split()) < 2:
            time.sleep(0.2)
        token, namespace = c.kubectl("logs reader").split()[:2]
        assert namespace == "default"
        import jwt

        claims = jwt.decode(token, options={"verify_signature": False})
        pod = _get(c, "pod", "reader")
        assert claims["kubernetes.io"]["pod"] == {"name": "reader", "uid": pod["metadata"]["uid"]}
        # The kubelet asks 3607 s; the API server signs it for a year with a warnafter claim (upstream's
        # --service-account-extend-token-expiration), see test_authentication.py.
        assert claims["kubernetes.io"]["warnafter"] - claims["iat"] == 3607
        api = API(c, url)
        assert api.whoami(token)[1]["username"] == "system:serviceaccount:default:default"
        c.kubectl("delete pod reader --grace-period=0 --force")
        assert api.whoami(token)[0] == 401
        tokens = c.kubelets[0].runtime._tokens   # the kubelet's token manager forgets the pod's tokens
        deadline = time.monotonic() + 20
        while tokens.next_refresh(pod["metadata"]["uid"]) is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert tokens.next_refresh(pod["metadata"]["uid"]) is None


def test_cluster_serve_writes_no_yaml_and_kubeconfig_for_user_works(served, tmp_path: Path) -> None:
    from minik8s import kubeconfig, pki
    from minik8s.client.http import HTTPClient
    from minik8s.api import resources

    c, api = served
    cert, key = pki.issue_client_certificate(c.pki.directory, "alice", ["devs"])
    config = kubeconfig.for_user(api.url, c.pki.ca_pem, "alice", cert_pem=cert, key_pem=key)
    path = tmp_path / "alice.kubeconfig"
    kubeconfig.save(config, path)
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}
    ctx = kubeconfig.current(kubeconfig.load(path))
    client = HTTPClient(ctx.server, ca_pem=ctx.ca_pem, cert_pem=ctx.cert_pem, key_pem=ctx.key_pem)
    review = client.create(resources.get("authentication.k8s.io", "v1", "selfsubjectreviews"),
                           {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"] == {"username": "alice", "groups": ["devs", "system:authenticated"]}


def test_the_kubelets_token_manager_asks_again_at_80_percent_of_the_life() -> None:
    from minik8s.clock import VirtualClock, rfc3339
    from minik8s.kubelet.tokens import TokenManager

    clock = VirtualClock()
    asked: list[dict[str, Any]] = []

    class Client:
        def create(self, resource: Any, obj: dict[str, Any], namespace: str | None = None, *,
                   subresource: str | None = None) -> dict[str, Any]:
            assert (resource.plural, subresource, namespace) == ("serviceaccounts", "token", "team")
            asked.append(obj)
            return {"status": {"token": f"token-{len(asked)}",
                               "expirationTimestamp": rfc3339(clock.now() + obj["spec"]["expirationSeconds"])}}

    manager = TokenManager(Client(), clock)
    pod = {"metadata": {"name": "web", "namespace": "team", "uid": "u1"}, "spec": {"serviceAccountName": "robot"}}
    source = {"expirationSeconds": 1000, "path": "token"}
    assert manager.token(pod, source) == b"token-1"
    assert asked[0]["metadata"]["name"] == "robot"
    assert asked[0]["spec"] == {"expirationSeconds": 1000, "boundObjectRef": {
        "apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "u1"}}
    assert manager.next_refresh("u1") == clock.now() + 800
    clock.set(clock.now() + 799)
    assert manager.token(pod, source) == b"token-1"   # still fresh: not asked again
    clock.set(clock.now() + 1)
    assert manager.token(pod, source) == b"token-2"
    assert len(asked) == 2


def test_minik8s_server_keeps_its_service_account_key_across_restarts(tmp_path: Path) -> None:
    from conftest import start_server

    first = start_server(tmp_path, "--nodes", "0")
    try:
        status, _, body = first.request("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                                        json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                                    "spec": {}}).encode(), {"Content-Type": "application/json"})
        assert status == 201
        token = json.loads(body)["status"]["token"]
        ca = (first.data_dir / "pki" / "ca.crt").read_text()
        cm = json.loads(first.request("GET", "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt")[2])
        assert cm["data"] == {"ca.crt": ca}
        assert (first.data_dir / "pki" / "sa.key").stat().st_mode & 0o777 == 0o600
        assert (first.data_dir / "pki" / "sa.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    finally:
        first.stop()
    second = start_server(tmp_path, "--nodes", "0")
    try:
        review = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode()
        status, _, body = second.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review,
                                         {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        assert status == 201, body
        assert json.loads(body)["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"
    finally:
        second.stop()


def test_a_legacy_token_secret_goes_with_its_service_account(vc: Cluster) -> None:
    _apply(vc, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}})
    _apply(vc, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}}})
    assert set(_get(vc, "secret", "robot-token")["data"]) == {"token", "namespace"}   # no CA: not served
    vc.kubectl("delete sa robot")
    assert "robot-token" not in vc.kubectl("get secrets")


def test_describe_serviceaccount_lists_secrets_and_tokens_as_kubectl(vc: Cluster) -> None:
    assert vc.kubectl("describe sa default").splitlines()[4:] == [
        "Image pull secrets:  <none>", "Mountable secrets:   <none>", "Tokens:              <none>",
        "Events:              <none>"]
    _apply(vc, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"},
                "imagePullSecrets": [{"name": "registry"}], "secrets": [{"name": "x"}, {"name": "robot-token"}]})
    _apply(vc, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": {"name": "robot-token", "annotations": {"kubernetes.io/service-account.name": "robot"}}})
    assert vc.kubectl("describe sa robot").splitlines()[4:] == [
        "Image pull secrets:  registry (not found)",
        "Mountable secrets:   x (not found)",   # in the ServiceAccount's order, as kubectl
        "                     robot-token",
        "Tokens:              robot-token",
        "Events:              <none>"]


def test_a_pod_without_pull_secrets_gets_its_service_accounts(vc: Cluster) -> None:
    _apply(vc, {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "puller"},
                "imagePullSecrets": [{"name": "registry"}]})
    _apply(vc, _pod("inherits", serviceAccountName="puller"))
    _apply(vc, _pod("own", serviceAccountName="puller", imagePullSecrets=[{"name": "mine"}]))
    assert _get(vc, "pod", "inherits")["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    assert _get(vc, "pod", "own")["spec"]["imagePullSecrets"] == [{"name": "mine"}]

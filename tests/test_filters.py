"""The API server's front door (minik8s.apiserver.filters, .auth, minik8s.pki) tried as an attacker would.

Each test sends what a web page, a DNS-rebinding page or a stranger on the machine can send to
`minik8s server` on its defaults, and asserts it is refused with a Status and stores nothing.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import aiohttp
import pytest

from minik8s.apiserver.auth.authentication import ANONYMOUS, TokenAuthenticator, User
from minik8s.apiserver.auth.authorization import authorize, forbidden
from minik8s.apiserver.auth.requestinfo import request_info
from minik8s.apiserver.filters import hostname
from conftest import needs_kubectl, start_server

EVIL = "http://evil.example"
CONFIGMAP = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "planted"}}).encode()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("filters"), "--nodes", "1", "--runtime", "simulated")
    yield srv
    srv.stop()


def _configmap_names(cluster) -> list[str]:
    code, _, body = cluster.request("GET", "/api/v1/namespaces/default/configmaps")
    assert code == 200
    return [item["metadata"]["name"] for item in json.loads(body)["items"]]


def test_the_server_speaks_https_with_a_certificate_from_its_own_ca(cluster):
    assert cluster.url.startswith("https://127.0.0.1:")
    _, context = cluster.credentials()
    port = cluster.url.rsplit(":", 1)[1]
    for host in ("127.0.0.1", "localhost"):  # both names are certified
        code, _, _ = cluster.request("GET", "/version")
        with urllib.request.urlopen(f"https://{host}:{port}/version", context=context, timeout=10) as answer:
            assert answer.status == code == 200
    # A client that trusts only the system's CAs refuses the server, as it should for an unknown CA.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(cluster.url + "/version", context=ssl.create_default_context(), timeout=10)
    # Plain HTTP on the same port is not served.
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(cluster.url.replace("https://", "http://") + "/version", timeout=10).read()


def test_no_credential_is_the_anonymous_user_who_sees_only_version_and_health(cluster):
    for path in ("/version", "/healthz", "/livez", "/readyz"):
        code, _, _ = cluster.request("GET", path, authenticated=False)
        assert code == 200, path
    code, _, body = cluster.request("GET", "/api/v1/namespaces/kube-system/secrets", authenticated=False)
    status = json.loads(body)
    assert (code, status["kind"], status["reason"]) == (403, "Status", "Forbidden")
    assert status["message"] == ('secrets is forbidden: User "system:anonymous" cannot list resource "secrets" '
                                 'in API group "" in the namespace "kube-system"')
    code, _, body = cluster.request("GET", "/api", authenticated=False)
    assert code == 403 and json.loads(body)["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
    code, _, _ = cluster.request("POST", "/api/v1/namespaces/default/configmaps", CONFIGMAP,
                                 {"Content-Type": "application/json"}, authenticated=False)
    assert code == 403 and "planted" not in _configmap_names(cluster)


def test_a_wrong_credential_is_401_unauthorized(cluster):
    for header in ("Bearer garbage", "Bearer ", "Basic YWRtaW46YWRtaW4=", "garbage"):
        code, _, body = cluster.request("GET", "/api/v1/namespaces/kube-system/secrets",
                                        headers={"Authorization": header})
        assert code == 401, header
        assert json.loads(body) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                    "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    # Even /version: a credential that is presented must be right.
    code, _, _ = cluster.request("GET", "/version", headers={"Authorization": "Bearer garbage"})
    assert code == 401


@needs_kubectl
def test_kubectl_with_a_wrong_token_must_log_in(cluster):
    done = cluster.kubectl("get", "pods", "--token", "garbage")
    assert done.returncode == 1
    assert "You must be logged in to the server" in done.stderr
    done = subprocess.run([sys.executable, "-m", "minik8s", "kubectl", "get", "pods", "--token", "garbage"],
                          capture_output=True, text=True, env=cluster.env(), timeout=60)
    assert (done.returncode, done.stderr) == (1, "error: You must be logged in to the server (Unauthorized)\n")


def test_a_web_page_cannot_post_even_a_simple_text_plain_request(cluster):
    # The request any page can send without a CORS preflight, with a valid token and without one.
    for authenticated in (True, False):
        code, headers, body = cluster.request("POST", "/api/v1/namespaces/default/configmaps", CONFIGMAP,
                                              {"Content-Type": "text/plain", "Origin": EVIL},
                                              authenticated=authenticated)
        assert code == 403 and json.loads(body)["reason"] == "Forbidden"
        assert "Origin" in json.loads(body)["message"]
        assert not any(h.lower().startswith("access-control-") for h in headers)
    assert "planted" not in _configmap_names(cluster)
    # The `null` origin of sandboxed frames and file: pages is foreign too; so is a same-host page on another port.
    port = int(cluster.url.rsplit(":", 1)[1])
    for origin in ("null", f"http://127.0.0.1:{port + 1}", "https://localhost.evil.example"):
        code, _, _ = cluster.request("GET", "/api/v1/namespaces", headers={"Origin": origin})
        assert code == 403, origin
    # The server's own origin is not foreign: the check refuses pages, not the server itself.
    code, _, _ = cluster.request("GET", "/api/v1/namespaces", headers={"Origin": f"https://127.0.0.1:{port}"})
    assert code == 200


def test_a_preflight_gets_no_cors_permission(cluster):
    code, headers, _ = cluster.request("OPTIONS", "/api/v1/namespaces/default/configmaps",
                                       headers={"Origin": EVIL, "Access-Control-Request-Method": "POST"})
    assert code == 403
    assert not any(h.lower().startswith("access-control-") for h in headers)


def test_dns_rebinding_a_foreign_host_header_is_refused(cluster):
    code, _, body = cluster.request("POST", "/api/v1/namespaces/default/configmaps", CONFIGMAP,
                                    {"Content-Type": "application/json", "Host": "evil.example"})
    assert code == 403 and 'the host "evil.example"' in json.loads(body)["message"]
    code, _, _ = cluster.request("GET", "/api/v1/namespaces/kube-system/secrets", headers={"Host": "evil.example:80"})
    assert code == 403
    assert "planted" not in _configmap_names(cluster)
    for host in ("localhost", "127.0.0.1:1234", "LOCALHOST."):  # the server's own names, any port
        code, _, _ = cluster.request("GET", "/version", headers={"Host": host})
        assert code == 200, host


def _exec(cluster, origin: str | None) -> tuple[int, bytes]:
    """A WebSocket exec of `id -u` in pod `shell`, as a browser page would open it; (status, stdout)."""
    token, context = cluster.credentials()
    headers = {"Authorization": f"Bearer {token}", **({"Origin": origin} if origin else {})}
    url = (cluster.url + "/api/v1/namespaces/default/pods/shell/exec?command=echo&command=hello"
           "&stdout=true&stderr=true")

    async def run() -> tuple[int, bytes]:
        async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=context)) as session:
            try:
                async with session.ws_connect(url, protocols=("v4.channel.k8s.io",)) as ws:
                    out = b""
                    async for message in ws:
                        if message.type == aiohttp.WSMsgType.BINARY and message.data[:1] == b"\x01":
                            out += message.data[1:]
                    return 101, out
            except aiohttp.WSServerHandshakeError as err:
                return err.status, b""

    return asyncio.run(run())


def test_a_web_page_cannot_open_an_exec_websocket(cluster):
    done = cluster.kubectl("run", "shell", "--image=busybox", "--", "sleep", "3600", real=False)
    assert done.returncode == 0, done.stderr
    done = cluster.kubectl("wait", "--for=condition=Ready", "pod/shell", "--timeout=60s", real=False)
    assert done.returncode == 0, done.stderr
    assert _exec(cluster, None) == (101, b"hello\n")   # kubectl's own request works...
    assert _exec(cluster, EVIL) == (403, b"")          # ...the same from a page is refused before the upgrade


def test_the_kubeconfig_keeps_working_across_restarts_and_new_names(tmp_path):
    first = start_server(tmp_path, "--nodes", "0")
    try:
        token, _ = first.credentials()
        pki = first.data_dir / "pki"
        assert {p.name: p.stat().st_mode & 0o777 for p in pki.iterdir() if p.suffix in (".key", ".csv")} == {
            "ca.key": 0o600, "apiserver.key": 0o600, "tokens.csv": 0o600, "sa.key": 0o600,
            "front-proxy-client.key": 0o600, "apiserver-kubelet-client.key": 0o600}
        ca = (pki / "ca.crt").read_bytes()
    finally:
        first.stop()
    second = start_server(tmp_path, "--nodes", "0", "--tls-san", "minik8s.example")
    try:
        assert second.credentials()[0] == token and (pki / "ca.crt").read_bytes() == ca
        code, _, _ = second.request("GET", "/api/v1/namespaces", headers={"Host": "minik8s.example"})
        assert code == 200   # the new name is accepted (and certified: see the SAN check below)
        san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                              str(pki / "apiserver.crt")], capture_output=True, text=True)
        if san.returncode == 0:
            assert "DNS:minik8s.example" in san.stdout and "IP Address:127.0.0.1" in san.stdout
    finally:
        second.stop()


def test_insecure_serves_plain_http_and_says_so(tmp_path):
    srv = start_server(tmp_path, "--nodes", "0", "--insecure")
    try:
        assert srv.url.startswith("http://127.0.0.1:")
        code, _, _ = srv.request("GET", "/api/v1/namespaces/kube-system/secrets", authenticated=False)
        assert code == 200
        code, _, _ = srv.request("GET", "/version", headers={"Host": "evil.example"})
        assert code == 403   # still no DNS rebinding...
        code, _, _ = srv.request("GET", "/version", headers={"Origin": EVIL})
        assert code == 403   # ...and no web pages
    finally:
        srv.stop()
    assert srv.process.stdout is not None
    assert "WARNING: --insecure: plain HTTP and no authentication" in srv.process.stdout.read()


# --- the pieces, without a server ---------------------------------------------------------------

@pytest.mark.parametrize("method, path, query, expected", [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "default", "pods", "", "")),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/d/pods/p", {}, ("watch", "", "d", "pods", "", "p")),
    ("POST", "/api/v1/namespaces/d/pods/p/exec", {}, ("create", "", "d", "pods", "exec", "p")),
    ("DELETE", "/apis/apps/v1/namespaces/d/deployments", {}, ("deletecollection", "apps", "d", "deployments", "", "")),
    ("PATCH", "/apis/apps/v1/namespaces/d/deployments/web/scale", {}, ("patch", "apps", "d", "deployments",
                                                                        "scale", "web")),
    ("GET", "/api/v1/namespaces/kube-system", {}, ("get", "", "kube-system", "namespaces", "", "kube-system")),
    ("PUT", "/api/v1/namespaces/team/finalize", {}, ("update", "", "team", "namespaces", "finalize", "team")),
    ("GET", "/api/v1/namespaces", {}, ("list", "", "", "namespaces", "", "")),
])
def test_request_info_reads_the_attributes_from_the_path(method, path, query, expected):
    info = request_info(method, path, query)
    assert info.is_resource
    assert (info.verb, info.api_group, info.namespace, info.resource, info.subresource, info.name) == expected


def test_non_resource_requests_and_the_forbidden_wording():
    info = request_info("GET", "/apis/apps/v1", {})
    assert (info.is_resource, info.verb) == (False, "get")
    authorize(ANONYMOUS, request_info("GET", "/version", {}))   # allowed: no exception
    with pytest.raises(Exception) as denied:
        authorize(ANONYMOUS, request_info("GET", "/apis/apps/v1/namespaces/d/deployments/web", {}))
    assert str(denied.value) == ('deployments.apps "web" is forbidden: User "system:anonymous" cannot get resource '
                                 '"deployments" in API group "apps" in the namespace "d"')
    denied_exec = forbidden(ANONYMOUS, request_info("POST", "/api/v1/namespaces/d/pods/p/exec", {}))
    assert 'cannot create resource "pods/exec"' in denied_exec.message
    assert forbidden(ANONYMOUS, request_info("GET", "/api/v1/nodes", {})).message.endswith("at the cluster scope")


def test_token_authenticator():
    tokens = TokenAuthenticator([["s3cret", "alice", "u1", "devs,ops"]])
    assert tokens.authenticate(None) is ANONYMOUS
    assert tokens.authenticate("Bearer s3cret") == User("alice", "u1", ("devs", "ops", "system:authenticated"))
    for bad in ("Bearer s3cre", "Bearer s3cret2", "bearer", "Token s3cret"):
        with pytest.raises(Exception) as refused:
            tokens.authenticate(bad)
        assert getattr(refused.value, "code", None) == 401


@pytest.mark.parametrize("authority, expected", [
    ("127.0.0.1:6443", "127.0.0.1"), ("[::1]:6443", "::1"), ("LocalHost.", "localhost"), ("::1", "::1"),
    ("evil.example", "evil.example"),
])
def test_hostname(authority, expected):
    assert hostname(authority) == expected

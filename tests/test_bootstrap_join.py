"""Nodes joining with bootstrap tokens, against a real ``minik8s server``: tokens through the real kubectl
and HTTP, the cluster-info discovery and its CA hash check, CSRs approved and issued, and the kubeconfig
``minik8s join`` writes authenticating as the node."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from minik8s.api import bootstraptoken as bt
from minik8s.join import ca_cert_hash
from conftest import needs_kubectl, wait_for


def _minik8s(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minik8s", *args], capture_output=True, text=True, timeout=120,
                          env=server.env())


def _token(server, *args: str) -> str:
    result = _minik8s(server, "token", "create", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _as(server, token: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    status, _, raw = server.request(method, path, json.dumps(body).encode() if body else None,
                                    {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    return status, json.loads(raw or b"{}")


def _csr_body(cn: str, org: str = "system:nodes", signer: str = "kubernetes.io/kube-apiserver-client-kubelet",
              name: str = "") -> dict:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    pem = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name} if name else {"generateName": "csr-"},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                     "usages": ["digital signature", "client auth"]}}
    return body


def _ca_hash(server) -> str:
    return ca_cert_hash((server.data_dir / "pki" / "ca.crt").read_bytes())


def _join(server, tmp_path: Path, token: str, node: str, *extra: str) -> subprocess.CompletedProcess:
    return _minik8s(server, "join", server.url, "--token", token, "--node-name", node,
                    "--data-dir", str(tmp_path / node), "--no-start", "--timeout", "60s", *extra)


def _joined(server, tmp_path: Path, node: str, *kubelet_flags: str) -> tuple[str, list[str]]:
    """Join ``node`` (simulated runtime, --no-start): the token used and the kubelet command join printed.
    ``kubelet_flags`` follow ``--`` on join's command line."""
    token = _token(server)
    result = _join(server, tmp_path, token, node, "--discovery-token-ca-cert-hash", _ca_hash(server),
                   "--runtime", "simulated", *(("--", *kubelet_flags) if kubelet_flags else ()))
    assert result.returncode == 0, result.stderr
    return token, result.stdout.strip().splitlines()[-1].split()


# --- tokens ----------------------------------------------------------------------------------------------


@needs_kubectl
def test_a_created_token_authenticates_as_a_bootstrapper_with_the_real_kubectl(server) -> None:
    token = _token(server)
    assert bt.parse(token) is not None
    result = server.kubectl("--token", token, "auth", "whoami", "-o", "json")
    assert result.returncode == 0, result.stderr
    user = json.loads(result.stdout)["status"]["userInfo"]
    assert user["username"] == f"system:bootstrap:{token[:6]}"
    assert user["groups"] == ["system:bootstrappers", bt.DEFAULT_NODE_TOKEN_GROUP, "system:authenticated"]
    secret = json.loads(server.kubectl("get", "secret", "-n", "kube-system", f"bootstrap-token-{token[:6]}",
                                       "-o", "json").stdout)
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["token-id"] == token[:6] and data["token-secret"] == token[7:]
    assert data["usage-bootstrap-authentication"] == "true" and data["usage-bootstrap-signing"] == "true"


@needs_kubectl
def test_a_wrong_secret_or_an_unknown_token_is_401(server) -> None:
    token = _token(server)
    wrong = token[:7] + ("a" if token[7] != "a" else "b") + token[8:]
    assert _as(server, wrong, "GET", "/api/v1/namespaces/default/pods")[0] == 401
    assert _as(server, "zzzzzz.0123456789abcdef", "GET", "/api/v1/namespaces/default/pods")[0] == 401
    result = server.kubectl("--token", wrong, "get", "pods")
    assert result.returncode == 1 and "You must be logged in to the server" in result.stderr


def test_an_expired_token_is_401_and_the_token_cleaner_deletes_it(server) -> None:
    client = server.http_client()
    from minik8s.api import resources

    secrets = resources.get("", "v1", "secrets")
    token = "expird.0123456789abcdef"
    client.create(secrets, bt.make_secret(token, time.time() - 60), "kube-system")
    status, body = _as(server, token, "GET", "/api/v1/namespaces/default/pods")
    assert status == 401 and body["reason"] == "Unauthorized"

    def gone() -> bool:
        names = [s["metadata"]["name"] for s in client.list(secrets, "kube-system")["items"]]
        return "bootstrap-token-expird" not in names
    wait_for(gone, what="the token cleaner to delete the expired token")


def test_a_token_without_the_authentication_usage_is_refused(server) -> None:
    from minik8s.api import resources

    token = "signon.0123456789abcdef"
    server.http_client().create(resources.get("", "v1", "secrets"),
                                bt.make_secret(token, None, usages=("signing",)), "kube-system")
    assert _as(server, token, "GET", "/api/v1/namespaces/default/pods")[0] == 401


def test_a_bootstrapper_may_create_a_csr_but_not_list_pods(server) -> None:
    token = _token(server)
    status, body = _as(server, token, "GET", "/api/v1/namespaces/default/pods")
    assert status == 403
    assert body["message"] == (f'pods is forbidden: User "system:bootstrap:{token[:6]}" cannot list resource "pods" '
                               f'in API group "" in the namespace "default"')
    status, csr = _as(server, token, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                      _csr_body("system:node:from-http"))
    assert status == 201, csr
    # The requestor is who sent it, whatever the body claims.
    assert csr["spec"]["username"] == f"system:bootstrap:{token[:6]}"
    assert "system:bootstrappers" in csr["spec"]["groups"]


def test_token_list_and_delete(server) -> None:
    token = _token(server, "--ttl", "2h", "--description", "for worker-1")
    listed = _minik8s(server, "token", "list")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA", "GROUPS"]
    row = next(r for r in rows if r.startswith(token))
    assert row.split()[1] in ("1h", "2h") and "authentication,signing" in row and "for worker-1" in row
    deleted = _minik8s(server, "token", "delete", token[:6])
    assert deleted.stdout.strip() == f'bootstrap token "{token[:6]}" deleted'
    assert token not in _minik8s(server, "token", "list").stdout
    assert _as(server, token, "GET", "/version")[0] == 401


def test_print_join_command_names_the_server_and_the_ca_hash(server) -> None:
    line = _token(server, "--print-join-command")
    words = line.split()
    assert words[:3] == ["minik8s", "join", server.url]
    assert words[3] == "--token" and bt.parse(words[4]) is not None
    assert words[5:] == ["--discovery-token-ca-cert-hash", _ca_hash(server)]


def test_the_ca_hash_is_of_the_subject_public_key_info_as_openssl_computes_it(server) -> None:
    ca = server.data_dir / "pki" / "ca.crt"
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(ca)], capture_output=True, check=True)
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub.stdout, capture_output=True,
                         check=True)
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hex"], input=der.stdout, capture_output=True, check=True)
    assert _ca_hash(server) == "sha256:" + digest.stdout.decode().split()[-1]


# --- discovery -------------------------------------------------------------------------------------------


def test_cluster_info_is_readable_anonymously_and_names_the_server_and_ca(server) -> None:
    status, _, raw = server.request("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info",
                                    authenticated=False)
    assert status == 200
    config = yaml.safe_load(json.loads(raw)["data"]["kubeconfig"])
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == server.url
    assert base64.b64decode(cluster["certificate-authority-data"]) == (server.data_dir / "pki" / "ca.crt").read_bytes()
    # Anonymous reads stop there.
    status, _, _ = server.request("GET", "/api/v1/namespaces/kube-public/configmaps", authenticated=False)
    assert status == 403


def test_join_refuses_a_ca_hash_that_does_not_match(server, tmp_path: Path) -> None:
    token = _token(server)
    result = _join(server, tmp_path, token, "worker-x", "--discovery-token-ca-cert-hash", "sha256:" + "ab" * 32)
    assert result.returncode == 1
    assert (f'cluster CA found in cluster-info ConfigMap is invalid: none of the public keys "{_ca_hash(server)}" '
            f'are pinned') in result.stderr
    assert not (tmp_path / "worker-x" / "kubelet.conf").exists()
    assert json.loads(server.kubectl("get", "csr", "-o", "json").stdout)["items"] == []


def test_join_needs_a_ca_hash_or_the_unsafe_flag(server, tmp_path: Path) -> None:
    token = _token(server)
    result = _join(server, tmp_path, token, "worker-y")
    assert result.returncode == 1 and "using token-based discovery without caCertHashes can be unsafe" in result.stderr
    unsafe = _join(server, tmp_path, token, "worker-y", "--discovery-token-unsafe-skip-ca-verification")
    assert unsafe.returncode == 0, unsafe.stderr
    assert (tmp_path / "worker-y" / "kubelet.conf").exists()


def test_join_with_a_bad_token_registers_nothing(server, tmp_path: Path) -> None:
    malformed = _join(server, tmp_path, "not-a-token", "worker-z", "--discovery-token-ca-cert-hash", _ca_hash(server))
    assert malformed.returncode == 1 and "was not of the form" in malformed.stderr
    unknown = _join(server, tmp_path, "abcdef.0123456789abcdef", "worker-z",
                    "--discovery-token-ca-cert-hash", _ca_hash(server))
    assert unknown.returncode == 1 and "Unauthorized" in unknown.stderr
    assert json.loads(server.kubectl("get", "csr", "-o", "json").stdout)["items"] == []


# --- CSRs and the whole join -----------------------------------------------------------------------------


@needs_kubectl
def test_join_gets_a_node_certificate_approved_and_issued(server, tmp_path: Path) -> None:
    token, command = _joined(server, tmp_path, "worker-1")
    conf = tmp_path / "worker-1" / "kubelet.conf"
    assert command[1:] == ["-m", "minik8s", "kubelet", "--kubeconfig", str(conf), "--node-name", "worker-1",
                           "--runtime", "simulated", "--data-dir", str(tmp_path / "worker-1")]
    table = server.kubectl("get", "csr").stdout.splitlines()
    assert table[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION"]
    row = table[1].split()
    assert row[0].startswith("node-csr-")
    assert row[2:] == ["kubernetes.io/kube-apiserver-client-kubelet", f"system:bootstrap:{token[:6]}", "<none>",
                       "Approved,Issued"]
    csr = json.loads(server.kubectl("get", "csr", row[0], "-o", "json").stdout)
    approved = next(c for c in csr["status"]["conditions"] if c["type"] == "Approved")
    assert approved["reason"] == "AutoApproved"
    assert approved["message"] == "Auto approving kubelet client certificate after SubjectAccessReview."
    # The kubeconfig it wrote authenticates as the node.
    whoami = subprocess.run(["kubectl", "--kubeconfig", str(conf), "auth", "whoami", "-o", "json"],
                            capture_output=True, text=True, timeout=60, env=server.env())
    assert whoami.returncode == 0, whoami.stderr
    user = json.loads(whoami.stdout)["status"]["userInfo"]
    assert user["username"] == "system:node:worker-1"
    assert user["groups"] == ["system:nodes", "system:authenticated"]
    assert (conf.stat().st_mode & 0o777) == 0o600


def test_a_bootstrapper_csr_for_another_subject_is_not_approved(server) -> None:
    token = _token(server)
    status, csr = _as(server, token, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
                      _csr_body("mallory", org="system:masters", name="sneaky"))
    assert status == 201
    time.sleep(0)   # nothing to wait for: the approver looks at it and leaves it alone
    client = server.http_client()
    from minik8s.api import resources

    csrs = resources.get("certificates.k8s.io", "v1", "certificatesigningrequests")
    wait_for(lambda: client.get(csrs, "sneaky")["metadata"]["resourceVersion"], what="the CSR")
    assert server.kubectl("get", "csr", "sneaky", "--no-headers").stdout.split()[-1] == "Pending"


@needs_kubectl
def test_kubectl_certificate_approve_and_deny(server) -> None:
    for name in ("to-approve", "to-deny"):
        body = _csr_body("alice", org="devs", signer="kubernetes.io/kube-apiserver-client", name=name)
        created = server.kubectl("create", "-f", "-", stdin=json.dumps(body))
        assert created.returncode == 0, created.stderr
    assert server.kubectl("get", "csr", "to-approve", "--no-headers").stdout.split()[-1] == "Pending"
    approve = server.kubectl("certificate", "approve", "to-approve")
    assert approve.stdout.strip() == "certificatesigningrequest.certificates.k8s.io/to-approve approved"
    deny = server.kubectl("certificate", "deny", "to-deny")
    assert deny.stdout.strip() == "certificatesigningrequest.certificates.k8s.io/to-deny denied"
    wait_for(lambda: server.kubectl("get", "csr", "to-approve", "--no-headers").stdout.split()[-1]
             == "Approved,Issued", what="the signer to issue the approved certificate")
    assert server.kubectl("get", "csr", "to-deny", "--no-headers").stdout.split()[-1] == "Denied"
    csr = json.loads(server.kubectl("get", "csr", "to-approve", "-o", "json").stdout)
    cert = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert cert.issuer == x509.load_pem_x509_certificate((server.data_dir / "pki" / "ca.crt").read_bytes()).subject


@needs_kubectl
def test_an_invalid_csr_is_refused_with_upstream_field_errors(server) -> None:
    body = _csr_body("x", name="bad")
    body["spec"]["usages"] = ["flying"]
    body["spec"]["signerName"] = "nope"
    result = server.kubectl("create", "-f", "-", stdin=json.dumps(body))
    assert result.returncode == 1
    assert 'spec.signerName: Invalid value: "nope"' in result.stderr
    assert 'spec.usages[0]: Unsupported value: "flying"' in result.stderr


@pytest.mark.parametrize("seconds", [599])
def test_a_csr_asking_for_less_than_ten_minutes_is_invalid(server, seconds: int) -> None:
    body = _csr_body("x", name="short")
    body["spec"]["expirationSeconds"] = seconds
    status, answer = _as(server, server.credentials()[0] or "", "POST",
                         "/apis/certificates.k8s.io/v1/certificatesigningrequests", body)
    assert status == 422
    assert "may not specify a duration less than 600 seconds (10 minutes)" in answer["message"]


def test_minik8s_kubectl_certificate_approve_and_deny(server) -> None:
    for name in ("mine-ok", "mine-no"):
        body = _csr_body("bob", org="devs", signer="kubernetes.io/kube-apiserver-client", name=name)
        assert server.kubectl("create", "-f", "-", stdin=json.dumps(body), real=False).returncode == 0
    approve = server.kubectl("certificate", "approve", "mine-ok", real=False)
    assert approve.stdout == "certificatesigningrequest.certificates.k8s.io/mine-ok approved\n", approve.stderr
    deny = server.kubectl("certificate", "deny", "mine-no", real=False)
    assert deny.stdout == "certificatesigningrequest.certificates.k8s.io/mine-no denied\n"
    again = server.kubectl("certificate", "approve", "mine-no", real=False)
    assert again.returncode == 1 and 'certificate signing request "mine-no" is already Denied' in again.stderr
    wait_for(lambda: server.kubectl("get", "csr", "mine-ok", "--no-headers", real=False).stdout.split()[-1]
             == "Approved,Issued", what="the certificate of the approved CSR")
    condition = json.loads(server.kubectl("get", "csr", "mine-no", "-o", "json").stdout)["status"]["conditions"][0]
    assert (condition["reason"], condition["message"]) == ("KubectlDeny", "This CSR was denied by kubectl certificate deny.")


def test_join_replaces_itself_with_the_kubelet(server, tmp_path: Path, monkeypatch) -> None:
    """Without --no-start, join ends in os.execv of exactly the kubelet command (caught here)."""
    from minik8s import join

    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(join.os, "execv", lambda path, argv: calls.append((path, list(argv))))
    token = _token(server)
    code = join.main([server.url, "--token", token, "--discovery-token-ca-cert-hash", _ca_hash(server),
                      "--node-name", "worker-e", "--runtime", "simulated", "--data-dir", str(tmp_path / "e"),
                      "--", "--port", "10260", "--node-labels", "disk=ssd"])
    assert code == 0
    assert calls == [(sys.executable, [sys.executable, "-m", "minik8s", "kubelet", "--kubeconfig",
                                       str(tmp_path / "e" / "kubelet.conf"), "--node-name", "worker-e",
                                       "--runtime", "simulated", "--data-dir", str(tmp_path / "e"),
                                       "--port", "10260", "--node-labels", "disk=ssd"])]


JOINED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: on-joined}
spec:
  containers:
  - {name: app, image: busybox:1.36, command: ["sh", "-c", "echo hello from worker-9; sleep 3600"]}
"""


@needs_kubectl
def test_a_joined_node_is_ready_runs_a_pod_and_serves_its_logs(server, tmp_path: Path) -> None:
    # The kubelet join would exec, given free ports after -- (tests run side by side), its API where the
    # API server reaches it.
    token, command = _joined(server, tmp_path, "worker-9", "--address", "127.0.0.1", "--port", "0",
                             "--healthz-port", "0")
    assert command[-6:] == ["--address", "127.0.0.1", "--port", "0", "--healthz-port", "0"]
    kubelet = subprocess.Popen(command,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=server.env())
    try:
        def ready() -> bool:
            out = server.kubectl("get", "nodes", "worker-9", "--no-headers").stdout.split()
            return out[:2] == ["worker-9", "Ready"]
        wait_for(ready, timeout=60, what="the joined node to be Ready")
        # A second machine claiming the name of a Ready node is refused before it asks for a certificate.
        again = _join(server, tmp_path / "again", token, "worker-9", "--discovery-token-ca-cert-hash", _ca_hash(server))
        assert again.returncode == 1
        assert ('a Node with name "worker-9" and status "Ready" already exists in the cluster. You must delete the '
                'existing Node or change the name of this new joining Node') in again.stderr
        assert server.kubectl("apply", "-f", "-", stdin=JOINED_POD).returncode == 0
        wait_for(lambda: server.kubectl("get", "pod", "on-joined", "-o", "wide", "--no-headers").stdout.split()[2:3]
                 == ["Running"], timeout=60, what="the pod to run on the joined node")
        assert server.kubectl("get", "pod", "on-joined", "-o", "jsonpath={.spec.nodeName}").stdout == "worker-9"
        wait_for(lambda: server.kubectl("logs", "on-joined").stdout == "hello from worker-9\n", timeout=30,
                 what="kubectl logs through the joined kubelet's HTTPS API")
    finally:
        kubelet.terminate()
        output = kubelet.communicate(timeout=30)[0]
    assert "serving the kubelet API on https://127.0.0.1:" in output


@needs_kubectl
def test_join_works_the_same_against_the_apiserver_process(tmp_path: Path) -> None:
    """`minik8s apiserver` publishes cluster-info and kubeadm's RBAC; `minik8s controller-manager` with
    --cluster-signing-cert-file/--cluster-signing-key-file approves and signs the node's CSR."""
    from test_controlplane_processes import _start

    data = tmp_path / "data"
    daemons = []
    try:
        api = _start(tmp_path, "apiserver", "apiserver", "--data-dir", str(data), "--port", "0")
        daemons.append(api)
        url = api.wait_for_line(r"serving the Kubernetes API at (https://\S+)").group(1)
        daemons.append(_start(tmp_path, "controller-manager", "controller-manager", "--kubeconfig",
                              str(data / "controller-manager.conf"), "--secure-port", "0", "--leader-elect=false",
                              "--cluster-signing-cert-file", str(data / "pki" / "ca.crt"),
                              "--cluster-signing-key-file", str(data / "pki" / "ca.key")))
        admin = ["--kubeconfig", str(data / "admin.conf")]
        env = {**os.environ, "HOME": str(tmp_path)}
        created = subprocess.run([sys.executable, "-m", "minik8s", "token", *admin, "create", "--print-join-command"],
                                 capture_output=True, text=True, timeout=60, env=env)
        assert created.returncode == 0, created.stderr
        command = created.stdout.split()
        assert command[2] == url
        joined = subprocess.run([sys.executable, "-m", "minik8s", *command[1:], "--node-name", "worker-p", "--data-dir",
                                 str(tmp_path / "worker-p"), "--no-start", "--timeout", "90s"],
                                capture_output=True, text=True, timeout=120, env=env)
        assert joined.returncode == 0, joined.stderr + daemons[1].output()
        whoami = subprocess.run(["kubectl", "--kubeconfig", str(tmp_path / "worker-p" / "kubelet.conf"), "auth",
                                 "whoami", "-o", "jsonpath={.status.userInfo.username}"],
                                capture_output=True, text=True, timeout=60, env=env)
        assert whoami.stdout == "system:node:worker-p", whoami.stderr
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()

"""Authentication: ServiceAccount tokens (TokenRequest, TokenReview, revocation), SelfSubjectReview and
``kubectl auth whoami`` / ``create token`` / ``create serviceaccount``; over HTTP with the real kubectl."""

from __future__ import annotations

import base64
import json
import re

import jwt
import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.auth.serviceaccounts import API_AUDIENCES, ISSUER, TokenIssuer
from minik8s.clock import RealClock, VirtualClock

SA = resources.get("", "v1", "serviceaccounts")
PODS = resources.get("", "v1", "pods")
SECRETS = resources.get("", "v1", "secrets")
TOKEN_REVIEWS = resources.get("authentication.k8s.io", "v1", "tokenreviews")
SELF_SUBJECT_REVIEWS = resources.get("authentication.k8s.io", "v1", "selfsubjectreviews")


@pytest.fixture
def api():
    server = APIServer(clock=VirtualClock())
    server.create(SA, "default", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}})
    return server


def _request(api, name="bot", **spec):
    return api.create(SA, "default", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                      "metadata": {"name": name}, "spec": spec}, subresource="token")


def _status_error(call, *args, **kwargs) -> StatusError:
    with pytest.raises(StatusError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_token_request_defaults_and_upstream_claims(api):
    answer = _request(api)
    assert answer["kind"] == "TokenRequest" and answer["metadata"]["name"] == "bot"
    assert answer["spec"] == {"audiences": [ISSUER], "expirationSeconds": 3600, "boundObjectRef": None}
    claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
    sa = api.get(SA, "default", "bot")
    assert claims["iss"] == ISSUER and claims["aud"] == [ISSUER]
    assert claims["sub"] == "system:serviceaccount:default:bot"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"] and claims["jti"]
    assert claims["kubernetes.io"] == {"namespace": "default",
                                       "serviceaccount": {"name": "bot", "uid": sa["metadata"]["uid"]}}
    assert answer["status"]["expirationTimestamp"].endswith("Z")
    assert jwt.get_unverified_header(answer["status"]["token"])["alg"] == "RS256"


def test_a_token_authenticates_as_its_service_account(api):
    user = api.tokens.authenticate(_request(api)["status"]["token"])
    assert user.name == "system:serviceaccount:default:bot"
    assert user.uid == api.get(SA, "default", "bot")["metadata"]["uid"]
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated")


def test_token_request_refusals(api):
    short = _status_error(_request, api, expirationSeconds=599)
    assert short.code == 422 and "may not specify a duration less than 10 minutes" in short.message
    missing = _status_error(_request, api, "nobody")
    assert (missing.code, missing.message) == (404, 'serviceaccounts "nobody" not found')
    wrong_kind = _status_error(_request, api, boundObjectRef={"kind": "ConfigMap", "name": "x"})
    assert wrong_kind.code == 422
    no_pod = _status_error(_request, api, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "ghost"})
    assert (no_pod.code, no_pod.message) == (404, 'pods "ghost" not found')


def test_an_expired_token_is_refused_on_the_servers_clock(api):
    token = _request(api, expirationSeconds=600)["status"]["token"]
    api.clock.advance(599)
    assert api.tokens.authenticate(token).name.endswith(":bot")
    api.clock.advance(1)
    err = _status_error(api.tokens.authenticate, token)
    assert (err.code, err.reason, err.message) == (401, "Unauthorized", "Unauthorized")


def test_a_token_signed_with_another_key_or_tampered_with_is_refused(api):
    token = _request(api)["status"]["token"]
    other = TokenIssuer(api)   # same claims, another key: a forgery
    forged, _ = other.issue("default", api.get(SA, "default", "bot"), list(API_AUDIENCES), 3600)
    assert _status_error(api.tokens.authenticate, forged).code == 401
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "system:serviceaccount:kube-system:admin"
    evil = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _status_error(api.tokens.authenticate, f"{header}.{evil}.{signature}").code == 401
    assert _status_error(api.tokens.authenticate, "not-a-jwt").code == 401


def test_a_token_for_another_audience_is_not_for_the_api_server(api):
    token = _request(api, audiences=["vault"])["status"]["token"]
    assert _status_error(api.tokens.authenticate, token).code == 401
    review = api.create(TOKEN_REVIEWS, None, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                              "spec": {"token": token, "audiences": ["vault"]}})
    assert review["status"]["authenticated"] is True
    assert review["status"]["user"]["username"] == "system:serviceaccount:default:bot"
    assert review["status"]["audiences"] == ["vault"]


def test_deleting_and_recreating_the_service_account_revokes_its_tokens(api):
    token = _request(api)["status"]["token"]
    api.delete(SA, "default", "bot")
    api.create(SA, "default", {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}})
    assert _status_error(api.tokens.authenticate, token).code == 401   # same name, another uid


def test_a_pod_bound_token_dies_with_its_pod(api):
    pod = api.create(PODS, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                                       "spec": {"serviceAccountName": "bot",
                                                "containers": [{"name": "c", "image": "nginx"}]}})
    answer = _request(api, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web"})
    claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "web", "uid": pod["metadata"]["uid"]}
    user = api.tokens.authenticate(answer["status"]["token"])
    assert dict(user.extra)["authentication.kubernetes.io/pod-name"] == ("web",)
    api.delete(PODS, "default", "web", grace_period_seconds=0)
    assert _status_error(api.tokens.authenticate, answer["status"]["token"]).code == 401


def test_a_pod_running_as_another_service_account_cannot_be_bound(api):
    api.create(PODS, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    err = _status_error(_request, api, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web"})
    assert err.code == 400 and "different serviceaccount name" in err.message


def test_a_legacy_secret_token_works_until_its_secret_is_deleted(api):
    token = api.tokens.legacy_token("default", api.get(SA, "default", "bot"), "bot-token")
    api.create(SECRETS, "default", {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                                    "metadata": {"name": "bot-token",
                                                 "annotations": {"kubernetes.io/service-account.name": "bot"}},
                                    "data": {"token": base64.b64encode(token.encode()).decode()}})
    assert api.tokens.authenticate(token).name == "system:serviceaccount:default:bot"
    api.delete(SECRETS, "default", "bot-token")
    assert _status_error(api.tokens.authenticate, token).code == 401


def test_token_review_of_a_bad_token_is_not_authenticated(api):
    review = api.create(TOKEN_REVIEWS, None, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                              "spec": {"token": "garbage"}})
    assert not review["status"].get("authenticated") and review["status"]["error"]


def test_self_subject_review_in_process_is_the_trusted_loopback_user(api):
    review = api.create(SELF_SUBJECT_REVIEWS, None, {"apiVersion": "authentication.k8s.io/v1",
                                                      "kind": "SelfSubjectReview"})
    assert review["status"]["userInfo"]["username"] == "system:apiserver"
    assert "system:masters" in review["status"]["userInfo"]["groups"]


# --- minik8s kubectl, in process ------------------------------------------------------------------------------


@pytest.fixture
def cluster():
    from minik8s.cluster import Cluster

    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=1) as c:
        yield c


def test_kubectl_create_serviceaccount_and_token(cluster):
    assert cluster.kubectl("create serviceaccount bot") == "serviceaccount/bot created\n"
    assert cluster.kubectl("create sa bot2 --dry-run=client -o yaml") == (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  creationTimestamp: null\n  name: bot2\n")
    table = cluster.kubectl("get sa bot")
    assert table.splitlines()[0].split() == ["NAME", "SECRETS", "AGE"]
    token = cluster.kubectl("create token bot --duration 1h30m --audience a --audience b").strip()
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == ["a", "b"] and claims["exp"] - claims["iat"] == 5400


@pytest.mark.parametrize("flags, message", [
    ("--bound-object-name x", "--bound-object-name can only be set if --bound-object-kind is provided"),
    ("--bound-object-uid u", "--bound-object-uid can only be set if --bound-object-kind is provided"),
    ("--bound-object-kind Pod", "--bound-object-name is required if --bound-object-kind is provided"),
    ("--bound-object-kind Foo --bound-object-name x", "supported --bound-object-kind values are Node, Pod, Secret"),
    ("--duration 10.5s", "--duration cannot be expressed in units less than seconds"),
    ("--duration -1s", "--duration must be greater than or equal to 0"),
    ("--duration=-1m", "--duration must be greater than or equal to 0"),
])
def test_kubectl_create_token_flag_errors_as_the_real_kubectl(cluster, flags, message):
    cluster.kubectl("create sa bot")
    code, out, err = cluster.run_kubectl(f"create token bot {flags}")
    assert (code, out, err) == (1, "", f"error: {message}\n")


def test_kubectl_create_token_server_errors(cluster):
    code, _, err = cluster.run_kubectl("create token nobody")
    assert (code, err) == (1, 'error: failed to create token: serviceaccounts "nobody" not found\n')
    code, _, err = cluster.run_kubectl("create token")
    assert code == 1 and err.startswith("error: exactly one NAME is required, got 0")


def test_kubectl_auth_whoami_in_process(cluster):
    assert cluster.kubectl("auth whoami") == ("ATTRIBUTE   VALUE\n"
                                              "Username    system:apiserver\n"
                                              "Groups      [system:authenticated system:masters]\n")
    review = json.loads(cluster.kubectl("auth whoami -o json"))
    assert review["kind"] == "SelfSubjectReview" and review["status"]["userInfo"]["username"] == "system:apiserver"


# --- over HTTP: a served cluster, the real kubectl ------------------------------------------------------------

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "Unauthorized",
                "reason": "Unauthorized", "code": 401}


def _signing_issuer(server, clock) -> TokenIssuer:
    """A token issuer with the served cluster's own ServiceAccount key (to forge expired tokens)."""
    issuer = TokenIssuer(APIServer(clock=clock))
    issuer.use_key((server.data_dir / "pki" / "sa.key").read_bytes())
    return issuer


def _whoami(server, *flags: str, real: bool = True) -> str:
    done = server.kubectl("auth", "whoami", *flags, real=real)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_service_account_token_over_http_with_the_real_kubectl(server):
    assert server.kubectl("create", "serviceaccount", "bot").stdout == "serviceaccount/bot created\n"
    created = server.kubectl("create", "token", "bot", "--duration", "15m")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    real = _whoami(server, f"--token={token}")
    assert real.splitlines()[0].split() == ["ATTRIBUTE", "VALUE"]
    rows = {line.split(None, 1)[0]: line.split(None, 1)[1].strip() for line in real.splitlines()[1:3]}
    assert rows["Username"] == "system:serviceaccount:default:bot"
    assert rows["UID"] == json.loads(server.kubectl("get", "sa", "bot", "-o", "json").stdout)["metadata"]["uid"]
    groups = [line for line in real.splitlines() if line.startswith("Groups")][0]
    assert groups.split(None, 1)[1] == "[system:serviceaccounts system:serviceaccounts:default system:authenticated]"
    assert "Extra: authentication.kubernetes.io/credential-id" in real
    assert _whoami(server, f"--token={token}", real=False) == real   # minik8s kubectl prints the same table
    # Revoked: the ServiceAccount is gone, its tokens with it.
    server.kubectl("delete", "sa", "bot")
    refused = server.kubectl("get", "pods", f"--token={token}")
    assert (refused.returncode, refused.stderr.strip()) == (1, "error: You must be logged in to the server "
                                                               "(Unauthorized)")


def test_expired_wrongly_signed_and_malformed_tokens_get_a_bare_401(server):
    server.kubectl("create", "serviceaccount", "bot")
    sa = json.loads(server.kubectl("get", "sa", "bot", "-o", "json").stdout)
    good, _ = _signing_issuer(server, RealClock()).issue("default", sa, list(API_AUDIENCES), 3600)
    # Discovery (/api) is open to every authenticated user (system:discovery): the token alone decides.
    code, _, _ = server.request("GET", "/api", headers={"Authorization": f"Bearer {good}"})
    assert code == 200   # signed with the server's key: accepted (the forgeries below differ in one thing each)
    # A virtual clock starts on 2025-01-01: an hour's token from then has long expired.
    expired, _ = _signing_issuer(server, VirtualClock()).issue("default", sa, list(API_AUDIENCES), 3600)
    stranger, _ = TokenIssuer(APIServer()).issue("default", sa, list(API_AUDIENCES), 3600)   # another key
    for token in (expired, stranger, "garbage", good[:-4] + "AAAA"):
        code, _, body = server.request("GET", "/api", headers={"Authorization": f"Bearer {token}"})
        assert (code, json.loads(body)) == (401, UNAUTHORIZED)


def test_token_review_over_http_knows_static_and_service_account_tokens(server):
    admin_token, _ = server.credentials()
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                       "spec": {"token": admin_token}}).encode()
    code, _, answer = server.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", body,
                                     {"Content-Type": "application/json"})
    assert code == 201
    status = json.loads(answer)["status"]
    assert status["authenticated"] is True and status["user"]["username"] == "kubernetes-admin"
    assert "system:masters" in status["user"]["groups"]


def test_whoami_as_the_admin_matches_the_real_kubectl(server):
    real = _whoami(server)
    assert real.splitlines()[1].split() == ["Username", "kubernetes-admin"]
    assert _whoami(server, real=False) == real
    assert json.loads(_whoami(server, "-o", "json", real=False))["status"] == \
        json.loads(_whoami(server, "-o", "json"))["status"]



def test_a_review_with_an_unknown_field_is_refused_under_strict_validation(api):
    err = _status_error(api.create, TOKEN_REVIEWS, None, {"apiVersion": "authentication.k8s.io/v1",
                                                          "kind": "TokenReview", "spec": {"tokn": "x"}},
                        field_validation="Strict")
    assert err.code == 400 and 'unknown field "spec.tokn"' in err.message


def test_create_token_yaml_is_what_the_real_kubectl_prints(server):
    server.kubectl("create", "serviceaccount", "bot")
    words = ("create", "token", "bot", "-o", "yaml", "--duration", "20m", "--audience", "x")

    def shape(text: str) -> str:   # the token and the expiry time differ between two requests
        return re.sub(r"token: \S+", "token: T", re.sub(r'"20\d\d-[^"]+"', "TIME", text))

    real, ours = server.kubectl(*words), server.kubectl(*words, real=False)
    assert real.returncode == ours.returncode == 0
    assert shape(ours.stdout) == shape(real.stdout)
    assert "boundObjectRef: null" in real.stdout and "expirationSeconds: 1200" in real.stdout


def test_a_terminating_pods_token_stops_a_minute_after_its_deletion_time(api):
    api.create(PODS, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                                 "spec": {"serviceAccountName": "bot", "nodeName": "node-1",
                                          "containers": [{"name": "c", "image": "nginx"}]}})
    token = _request(api, boundObjectRef={"kind": "Pod", "apiVersion": "v1", "name": "web"})["status"]["token"]
    api.delete(PODS, "default", "web", grace_period_seconds=30)   # on a node: terminating, not gone
    assert api.get(PODS, "default", "web")["metadata"]["deletionTimestamp"]
    api.clock.advance(90)
    assert api.tokens.authenticate(token).name.endswith(":bot")   # deletion time + 60 s not passed yet
    api.clock.advance(1)
    assert _status_error(api.tokens.authenticate, token).code == 401


def test_a_pod_token_of_3607_seconds_is_signed_for_a_year_with_warnafter(api):
    """kube-api-access asks 3607 s: the token lasts a year, but the answer (and the kubelet) says 3607 s."""
    api.create(PODS, "default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
                                 "spec": {"serviceAccountName": "bot", "containers": [{"name": "c", "image": "nginx"}]}})
    pod_ref = {"kind": "Pod", "apiVersion": "v1", "name": "web"}
    answer = _request(api, expirationSeconds=3607, boundObjectRef=pod_ref)
    claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 365 * 24 * 3600
    assert claims["kubernetes.io"]["warnafter"] == claims["iat"] + 3607
    assert answer["spec"]["expirationSeconds"] == 3607
    api.clock.advance(3608)   # past warnafter: still accepted (upstream only logs stale tokens)
    assert api.tokens.authenticate(answer["status"]["token"]).name.endswith(":bot")
    # Not extended: another lifetime, no pod, or an audience other than the API server's.
    for spec in ({"expirationSeconds": 3608, "boundObjectRef": pod_ref}, {"expirationSeconds": 3607},
                 {"expirationSeconds": 3607, "boundObjectRef": pod_ref, "audiences": ["vault"]}):
        claims = jwt.decode(_request(api, **spec)["status"]["token"], options={"verify_signature": False})
        assert claims["exp"] - claims["iat"] == spec["expirationSeconds"] and "warnafter" not in claims["kubernetes.io"]


@pytest.mark.parametrize("kind", ["Secret", "Node"])
def test_a_secret_or_node_bound_token_dies_with_its_object(api, kind):
    resource, namespace = (SECRETS, "default") if kind == "Secret" else (resources.get("", "v1", "nodes"), None)
    obj = api.create(resource, namespace, {"apiVersion": "v1", "kind": kind, "metadata": {"name": "holder"}})
    answer = _request(api, boundObjectRef={"kind": kind, "apiVersion": "v1", "name": "holder"})
    claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
    assert claims["kubernetes.io"][kind.lower()] == {"name": "holder", "uid": obj["metadata"]["uid"]}
    assert api.tokens.authenticate(answer["status"]["token"]).name.endswith(":bot")
    stale = _status_error(_request, api, boundObjectRef={"kind": kind, "apiVersion": "v1", "name": "holder",
                                                          "uid": "not-its-uid"})
    assert stale.code == 409 and "does not match the UID in record" in stale.message
    api.delete(resource, namespace, "holder")
    assert _status_error(api.tokens.authenticate, answer["status"]["token"]).code == 401

"""ServiceAccount tokens: JSON Web Tokens the API server signs, and checks when they come back.

A Pod proves who it is with a token of its ServiceAccount. kube-apiserver signs
those tokens with the service-account key (``sa.key`` in kubeadm's PKI folder; it
verifies them with ``sa.pub``) and, since Kubernetes 1.22, hands them out through
the ``token`` subresource of a ServiceAccount (the *TokenRequest* API): a token is
for an **audience**, **expires**, and may be **bound** to a Pod, a Secret or a Node,
so that it stops working when that object is deleted. The claims of such a token:

============== ==========================================================================
``iss``        the issuer, ``https://kubernetes.default.svc.cluster.local``
``sub``        ``system:serviceaccount:<namespace>:<name>``
``aud``        the audiences asked for (default: the API server's own, the issuer)
``exp/iat/nbf`` when it expires, was issued, becomes valid (seconds since the epoch)
``jti``        a unique id of this token
``kubernetes.io`` namespace, serviceaccount{name,uid}, and pod/secret/node{name,uid} when bound
============== ==========================================================================

Older clusters stored a never-expiring token in a Secret of type
``kubernetes.io/service-account-token`` (filled by the token controller,
:mod:`minik8s.controllers.serviceaccount`); those still authenticate while the
Secret exists, and deleting the Secret revokes them.

Checking a token (:meth:`TokenIssuer.authenticate`): the signature, the time
window (on the API server's clock, so a virtual clock works), the audience, and
that the ServiceAccount (and the bound object) still exist *with the same uid*:
a token of a deleted and re-created ServiceAccount is refused.

Interface: ``TokenIssuer(api, private_pem=None)`` (``api.tokens``);
``issue(namespace, sa, audiences, seconds, bound=None) -> (token, expires)``;
``authenticate(token, audiences=None) -> User | None`` (None: not a token of ours;
raises a 401 for one of ours that no longer holds); ``token_request``,
``token_review``, ``self_subject_review`` serve the authentication.k8s.io API.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from minik8s.api import errors
from minik8s.api.errors import StatusError
from minik8s.apiserver.auth.authentication import User, unauthorized
from minik8s.clock import parse_rfc3339, rfc3339

ISSUER = "https://kubernetes.default.svc.cluster.local"
API_AUDIENCES = (ISSUER,)          # kube-apiserver's --api-audiences default to its issuer
LEGACY_ISSUER = "kubernetes/serviceaccount"
DEFAULT_SECONDS = 3600
MIN_SECONDS = 600                  # upstream refuses tokens shorter than ten minutes
MAX_SECONDS = 1 << 32
# kube-apiserver's --service-account-extend-token-expiration (on by default): a Pod-bound token asked for
# exactly 3607 seconds (what the kube-api-access volume asks) is signed to last a year, with a "warnafter"
# claim at 3607 s, so that clients which never re-read the token file keep working while they are spotted;
# TokenRequest still answers with the 3607-second expiry, and the kubelet refreshes on that.
WARN_ONLY_SECONDS = 3607
EXTENDED_SECONDS = 365 * 24 * 3600
DELETION_LEEWAY = 60              # seconds a bound object may have been deleted before its tokens stop
BINDABLE = {"Pod": ("", "pods"), "Secret": ("", "secrets"), "Node": ("", "nodes")}
SA_GROUP = "system:serviceaccounts"
# Who a trusted in-process caller is (kube-apiserver's loopback client).
IN_PROCESS_ADMIN = User("system:apiserver", groups=("system:authenticated", "system:masters"))


def generate_key_pem() -> bytes:
    """A new service-account signing key (RSA 2048, as kubeadm's ``sa.key``)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(private_pem: bytes) -> bytes:
    key = serialization.load_pem_private_key(private_pem, None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def sa_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def sa_user(namespace: str, name: str, uid: str, extra: dict[str, list[str]] | None = None) -> User:
    groups = (SA_GROUP, f"{SA_GROUP}:{namespace}", "system:authenticated")
    user = User(sa_username(namespace, name), uid, groups)
    if extra and "extra" in getattr(User, "__dataclass_fields__", {}):   # when User carries extra
        user = User(user.name, uid, groups, tuple((k, tuple(v)) for k, v in sorted(extra.items())))  # type: ignore
    return user


class TokenIssuer:
    """Signs and checks ServiceAccount tokens for one API server (``api.tokens``)."""

    def __init__(self, api: Any, private_pem: bytes | None = None):
        self.api = api
        self._private: Any = None
        self._public: Any = None
        self.key_id = ""
        if private_pem:
            self.use_key(private_pem)

    def use_key(self, private_pem: bytes) -> None:
        """Sign with this key from now on (``minik8s server`` loads ``<data-dir>/pki/sa.key``)."""
        self._private = serialization.load_pem_private_key(private_pem, None)
        self._public = self._private.public_key()
        der = self._public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        # The key id names the key, so verifiers could hold several (upstream hashes the public key too).
        self.key_id = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()

    def _key(self) -> Any:
        """The signing key, made on first use: an RSA key takes ~0.1 s and most clusters never sign."""
        if self._private is None:
            self.use_key(generate_key_pem())
        return self._private

    # --- issuing -------------------------------------------------------------------------

    def issue(self, namespace: str, sa: dict[str, Any], audiences: list[str], seconds: int,
              bound: dict[str, Any] | None = None) -> tuple[str, float]:
        """A token for ServiceAccount ``sa``; ``bound`` is the Pod/Secret/Node object it is bound to.
        Returns the token and its expiry as the API reports it (see ``WARN_ONLY_SECONDS``)."""
        now = int(self.api.clock.now())
        lifetime = seconds
        private: dict[str, Any] = {"namespace": namespace,
                                   "serviceaccount": {"name": sa["metadata"]["name"], "uid": sa["metadata"]["uid"]}}
        if bound is not None:
            ref = {"name": bound["metadata"]["name"], "uid": bound["metadata"]["uid"]}
            private[bound["kind"].lower()] = ref
            node_name = bound.get("spec", {}).get("nodeName") if bound["kind"] == "Pod" else None
            if node_name:   # a pod-bound token names the pod's node too (when it is scheduled)
                node = self._get(("", "nodes"), None, node_name)
                private["node"] = {"name": node_name, "uid": (node or {}).get("metadata", {}).get("uid", "")}
        if (seconds == WARN_ONLY_SECONDS and bound is not None and bound["kind"] == "Pod"
                and set(audiences) <= set(API_AUDIENCES)):
            private["warnafter"] = now + seconds
            lifetime = EXTENDED_SECONDS
        claims = {"aud": audiences, "exp": now + lifetime, "iat": now, "nbf": now, "iss": ISSUER,
                  "jti": str(uuid.uuid4()), "kubernetes.io": private,
                  "sub": sa_username(namespace, sa["metadata"]["name"])}
        token = jwt.encode(claims, self._key(), algorithm="RS256", headers={"kid": self.key_id})
        return token, float(now + seconds)

    def legacy_token(self, namespace: str, sa: dict[str, Any], secret_name: str) -> str:
        """The never-expiring token a ``kubernetes.io/service-account-token`` Secret holds."""
        claims = {"iss": LEGACY_ISSUER, "kubernetes.io/serviceaccount/namespace": namespace,
                  "kubernetes.io/serviceaccount/secret.name": secret_name,
                  "kubernetes.io/serviceaccount/service-account.name": sa["metadata"]["name"],
                  "kubernetes.io/serviceaccount/service-account.uid": sa["metadata"]["uid"],
                  "sub": sa_username(namespace, sa["metadata"]["name"])}
        return jwt.encode(claims, self._key(), algorithm="RS256", headers={"kid": self.key_id})

    # --- checking --------------------------------------------------------------------------

    def authenticate(self, token: str, audiences: list[str] | tuple[str, ...] | None = None) -> User:
        """The ServiceAccount user of ``token``; a 401 for anything else (not ours, or one that fails)."""
        user = self.user_for(token, audiences)
        if user is None:
            raise unauthorized()
        return user

    def user_for(self, token: str, audiences: list[str] | tuple[str, ...] | None = None) -> User | None:
        """The ServiceAccount user of ``token``; None if it is no token of ours; 401 if one that fails."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None   # not a JWT at all: another authenticator's (or nobody's)
        if claims.get("iss") not in (ISSUER, LEGACY_ISSUER):
            return None
        try:
            # The time window is checked below against the API server's clock (virtual in notebooks).
            claims = jwt.decode(token, self._key().public_key(), algorithms=["RS256"],
                                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                                         "verify_aud": False})
        except jwt.PyJWTError:
            raise unauthorized() from None   # wrongly signed or tampered with
        if claims["iss"] == LEGACY_ISSUER:
            return self._legacy_user(token, claims)
        return self._bound_user(claims, audiences or API_AUDIENCES)

    def _get(self, resource: tuple[str, str], namespace: str | None, name: str) -> dict[str, Any] | None:
        from minik8s.api import resources

        try:
            return self.api.get(resources.get(resource[0], "v1", resource[1]), namespace, name)
        except StatusError:
            return None

    def _live_sa(self, namespace: str, name: str, uid: str) -> dict[str, Any]:
        sa = self._get(("", "serviceaccounts"), namespace, name)
        if sa is None or sa["metadata"].get("uid") != uid:
            raise unauthorized()   # deleted (or deleted and re-created): its tokens are revoked
        return sa

    def _bound_user(self, claims: dict[str, Any], audiences: tuple[str, ...] | list[str]) -> User:
        now = self.api.clock.now()
        if not isinstance(claims.get("exp"), (int, float)) or now >= claims["exp"]:
            raise unauthorized()
        if now < claims.get("nbf", 0) - 60:   # a minute of leeway for clock skew, as upstream allows
            raise unauthorized()
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else list(aud or [])
        if not set(aud) & set(audiences):
            raise unauthorized()
        private = claims.get("kubernetes.io") or {}
        namespace = private.get("namespace", "")
        sa = private.get("serviceaccount") or {}
        self._live_sa(namespace, sa.get("name", ""), sa.get("uid", ""))
        extra: dict[str, list[str]] = {"authentication.kubernetes.io/credential-id": [f"JTI={claims.get('jti', '')}"]}
        for kind, (group, plural) in BINDABLE.items():
            ref = private.get(kind.lower())
            if not ref:
                continue
            # A token bound to a Node (through its pod) is not revoked with the node: only the object it was
            # issued for counts, as upstream; the node is extra information.
            if kind == "Node" and "pod" in private:
                extra["authentication.kubernetes.io/node-name"] = [ref.get("name", "")]
                extra["authentication.kubernetes.io/node-uid"] = [ref.get("uid", "")]
                continue
            obj = self._get((group, plural), namespace if kind != "Node" else None, ref.get("name", ""))
            if obj is None or obj["metadata"].get("uid") != ref.get("uid") or self._deleted_long_ago(obj):
                raise unauthorized()
            if kind == "Pod":
                extra["authentication.kubernetes.io/pod-name"] = [ref["name"]]
                extra["authentication.kubernetes.io/pod-uid"] = [ref["uid"]]
        return sa_user(namespace, sa["name"], sa["uid"], extra)

    def _deleted_long_ago(self, obj: dict[str, Any]) -> bool:
        """A terminating object's tokens keep working until a minute after its deletion time, as upstream
        (a pod's deletion time is the end of its grace period)."""
        when = obj["metadata"].get("deletionTimestamp")
        return bool(when) and parse_rfc3339(when) < self.api.clock.now() - DELETION_LEEWAY

    def _legacy_user(self, token: str, claims: dict[str, Any]) -> User:
        namespace = claims.get("kubernetes.io/serviceaccount/namespace", "")
        name = claims.get("kubernetes.io/serviceaccount/service-account.name", "")
        uid = claims.get("kubernetes.io/serviceaccount/service-account.uid", "")
        secret = self._get(("", "secrets"), namespace, claims.get("kubernetes.io/serviceaccount/secret.name", ""))
        stored = (secret or {}).get("data", {}).get("token", "")
        if not secret or base64.b64decode(stored or "").decode(errors="replace") != token:
            raise unauthorized()   # its Secret was deleted: revoked
        self._live_sa(namespace, name, uid)
        return sa_user(namespace, name, uid)

    # --- the authentication.k8s.io API ---------------------------------------------------

    def token_request(self, namespace: str, name: str, body: Any) -> dict[str, Any]:
        """``POST .../serviceaccounts/<name>/token``: a TokenRequest in, the same with ``status.token`` out."""
        body = body if isinstance(body, dict) else {}
        spec = dict(body.get("spec") or {})
        sa = self._get(("", "serviceaccounts"), namespace, name)
        if sa is None:
            raise errors.not_found("", "serviceaccounts", name)
        seconds = spec.get("expirationSeconds")
        seconds = DEFAULT_SECONDS if seconds is None else seconds
        if not isinstance(seconds, int) or seconds < MIN_SECONDS:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [errors.invalid_value(
                "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")])
        if seconds > MAX_SECONDS:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", name, [errors.invalid_value(
                "spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")])
        audiences = list(spec.get("audiences") or API_AUDIENCES)
        bound = self._bound_object(namespace, name, spec.get("boundObjectRef"))
        token, expires = self.issue(namespace, sa, audiences, seconds, bound)
        # Upstream's TokenRequestSpec fields have no omitempty: an unbound token says boundObjectRef: null.
        spec.update({"audiences": audiences, "expirationSeconds": seconds,
                     "boundObjectRef": spec.get("boundObjectRef") or None})
        # Nothing is stored: the answer is the request, named after the URL's ServiceAccount, plus the token.
        return {"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
                "spec": spec, "status": {"token": token, "expirationTimestamp": rfc3339(expires)}}

    def _bound_object(self, namespace: str, sa_name: str, ref: Any) -> dict[str, Any] | None:
        if not ref:
            return None
        kind, name, uid = ref.get("kind", ""), ref.get("name", ""), ref.get("uid", "")
        if kind not in BINDABLE:
            raise errors.invalid("TokenRequest", "authentication.k8s.io", sa_name, [errors.not_supported(
                "spec.boundObjectRef.kind", kind, list(BINDABLE))])
        group, plural = BINDABLE[kind]
        obj = self._get((group, plural), namespace if kind != "Node" else None, name)
        if obj is None:
            raise errors.not_found(group, plural, name)
        if uid and obj["metadata"].get("uid") != uid:
            raise errors.conflict(group, kind, name, f"the UID in the bound object reference ({uid}) does not "
                                                     "match the UID in record. The object might have been deleted "
                                                     "and then recreated")
        if kind == "Pod" and obj.get("spec", {}).get("serviceAccountName", "default") != sa_name:
            raise errors.bad_request(f'cannot bind token for serviceaccount "{sa_name}" to pod running with '
                                     'different serviceaccount name.')
        obj = dict(obj)
        obj["kind"] = kind
        return obj

    def token_review(self, body: Any) -> dict[str, Any]:
        """``POST /apis/authentication.k8s.io/v1/tokenreviews``: is this token good, and whose is it?"""
        body = body if isinstance(body, dict) else {}
        spec = body.get("spec") or {}
        token = spec.get("token", "")
        wanted = list(spec.get("audiences") or [])
        status: dict[str, Any] = {"user": {}}
        # The serving authenticator when there is one (static tokens too), else ServiceAccount tokens only.
        check = getattr(self.api, "authenticate_token", None) or self.authenticate
        try:
            user = check(token, wanted or None) if token else None
        except StatusError:
            user = None
        if user is None:
            status["error"] = "[invalid bearer token, token lookup failed]"
        else:
            status.update({"authenticated": True, "user": user_info(user),
                           "audiences": wanted or list(API_AUDIENCES)})
        return {"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}


def user_info(user: User) -> dict[str, Any]:
    """A User as the ``userInfo`` of reviews (username, uid, groups, extra)."""
    info: dict[str, Any] = {"username": user.name}
    if user.uid:
        info["uid"] = user.uid
    if user.groups:
        info["groups"] = list(user.groups)
    extra = getattr(user, "extra", None)
    if extra:
        info["extra"] = {key: list(values) for key, values in (extra.items() if isinstance(extra, dict) else extra)}
    return info


def self_subject_review(user: User | None) -> dict[str, Any]:
    """``POST /apis/authentication.k8s.io/v1/selfsubjectreviews``: who the server takes the caller to be."""
    return {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": user_info(user or IN_PROCESS_ADMIN)}}

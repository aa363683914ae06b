"""Admission webhooks: admission decided by HTTPS servers the cluster's users run.

Two admission plugins of kube-apiserver call out to webhooks described by API objects
(``admissionregistration.k8s.io/v1``):

* ``MutatingAdmissionWebhook`` — every webhook of every ``MutatingWebhookConfiguration``
  whose rules match the request is sent an ``admission.k8s.io/v1`` ``AdmissionReview``;
  it may answer with a base64 ``JSONPatch`` that is applied to the object, in order
  (configurations by name, webhooks as listed). A webhook with
  ``reinvocationPolicy: IfNeeded`` is called once more if a later webhook changed the object.
* ``ValidatingAdmissionWebhook`` — the same for ``ValidatingWebhookConfiguration``; it may
  only allow or deny. (Upstream calls validating webhooks in parallel; minik8s in order.)

A webhook is chosen by its ``rules`` (operations, apiGroups, apiVersions, resources such as
``pods``, ``pods/status``, ``*/status``, ``*``; scope), ``namespaceSelector`` (the labels of
the request's namespace) and ``objectSelector`` (the object's, or the old object's, labels).
``matchConditions`` (CEL expressions over ``object``, ``oldObject`` and ``request``) narrow it further.
It is reached by ``clientConfig.url`` or ``clientConfig.service`` (resolved to an endpoint,
:mod:`minik8s.apiserver.serviceresolver`), trusting ``clientConfig.caBundle``, within
``timeoutSeconds`` (default 10, at most 30). A denial becomes upstream's Status
``admission webhook "<name>" denied the request: <message>`` with the webhook's code (403
when it gives none). A webhook that cannot be called or answers nonsense: with
``failurePolicy: Fail`` (the default) the request is refused with ``500 Internal error
occurred: failed calling webhook "<name>": ...``; with ``Ignore`` it is allowed.

Interface: ``Webhooks(store)`` is an admission plugin (``mutate``/``validate``, see
:mod:`minik8s.apiserver.admission.chain`); ``configured(store)`` says whether any webhook
configuration exists; ``await admitted_write(store, fn, *args, **kwargs)`` runs an API
server write off the event loop when a webhook may be called during it.

Invariants: the calls are synchronous in the writing thread, which is never the event
loop (the HTTP layer uses ``admitted_write``); each call is bounded in time (the webhook's
timeout) and in size (``MAX_RESPONSE_BYTES``); webhook configurations themselves are never
sent to webhooks (a broken webhook must not lock its own repair out), as upstream.
``matchConditions`` (CEL, :mod:`minik8s.api.matchconditions`) must all hold for the webhook to be
called. Not done: ``matchPolicy`` (one version per group is served), the ``authorizer`` CEL variable.

Taught in chapter 16 (access control: admission).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextvars
import functools
import http.client
import socket
import ssl
import time
import urllib.parse
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from minik8s.api import errors, matchconditions, patch as patches, resources
from minik8s.api.defaults import apply_defaults
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import from_label_selector
from minik8s.apiserver import serviceresolver
from minik8s.apiserver.admission.chain import CREATE, DELETE, UPDATE, Attributes

GROUP = "admissionregistration.k8s.io"
MUTATING = resources.get(GROUP, "v1", "mutatingwebhookconfigurations")
VALIDATING = resources.get(GROUP, "v1", "validatingwebhookconfigurations")
NAMESPACES = resources.get("", "v1", "namespaces")

DEFAULT_TIMEOUT_SECONDS = 10
MAX_TIMEOUT_SECONDS = 30
MAX_RESPONSE_BYTES = 3 * 1024 * 1024   # an AdmissionReview answer larger than this is an error
# Writes that may call a webhook run on these threads, so a slow webhook holds no event loop.
_WRITERS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="admission-webhook")

T = TypeVar("T")


def configured(store: Any) -> bool:
    """Whether any webhook configuration exists (then writes may call out)."""
    return bool(store.count(MUTATING.qualified) or store.count(VALIDATING.qualified))


async def admitted_write(store: Any, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, on a writer thread when webhooks are configured (with the request's
    context: its user), else here, as before."""
    if not configured(store):
        return fn(*args, **kwargs)
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_WRITERS, call)


class WebhookCallError(Exception):
    """The webhook could not be called, or its answer makes no sense."""


class Webhooks:
    """The MutatingAdmissionWebhook and ValidatingAdmissionWebhook plugins, reading their
    configurations from the store at each request (a handful of objects)."""

    name = "MutatingAdmissionWebhook,ValidatingAdmissionWebhook"

    def __init__(self, store: Any):
        self.store = store

    def mutate(self, attrs: Attributes) -> None:
        hooks = self._matching(MUTATING, attrs)
        if not hooks:
            return
        changed_after: dict[str, bool] = {}
        for hook in hooks:
            if self._call_mutating(hook, attrs):
                changed_after = {name: True for name in changed_after}
            changed_after[hook["name"]] = False
        # reinvocationPolicy IfNeeded: once more, for those that ran before a later change.
        for hook in hooks:
            if hook.get("reinvocationPolicy") == "IfNeeded" and changed_after.get(hook["name"]):
                self._call_mutating(hook, attrs)

    def validate(self, attrs: Attributes) -> None:
        for hook in self._matching(VALIDATING, attrs):
            self._call(hook, attrs)

    # --- which webhooks -------------------------------------------------------------------

    def _matching(self, kind: Resource, attrs: Attributes) -> list[dict[str, Any]]:
        if attrs.resource.group == GROUP or attrs.operation not in (CREATE, UPDATE, DELETE):
            return []
        configurations, _ = self.store.list(kind.qualified)
        hooks = []
        for configuration in sorted(configurations, key=lambda c: c["metadata"]["name"]):
            hooks += [hook for hook in configuration.get("webhooks") or [] if self._matches(hook, attrs)]
        return hooks

    def _matches(self, hook: dict[str, Any], attrs: Attributes) -> bool:
        if not any(rule_matches(rule, attrs) for rule in hook.get("rules") or []):
            return False
        labels = [(o.get("metadata") or {}).get("labels") or {} for o in (attrs.obj, attrs.old) if o]
        if not _selects(hook.get("objectSelector"), labels or [{}]):
            return False
        if not attrs.resource.namespaced and attrs.resource is not NAMESPACES:
            return True   # a cluster-scoped object other than a Namespace is never skipped by namespaceSelector
        return _selects(hook.get("namespaceSelector"), [self._namespace_labels(attrs)])

    def _namespace_labels(self, attrs: Attributes) -> dict[str, str]:
        """The labels a namespaceSelector looks at: a Namespace's own, or those of the object's namespace."""
        if attrs.resource is NAMESPACES:
            obj = attrs.obj or attrs.old or {}
            return dict((obj.get("metadata") or {}).get("labels") or {})
        if not attrs.namespace:
            return {}
        namespace = self.store.get((NAMESPACES.qualified, "", attrs.namespace)) or {}
        return dict((namespace.get("metadata") or {}).get("labels") or {})

    # --- calling them ---------------------------------------------------------------------

    def _call_mutating(self, hook: dict[str, Any], attrs: Attributes) -> bool:
        """Call one mutating webhook and apply its patch; whether the object changed."""
        response = self._call(hook, attrs)
        if not response or not response.get("patch") or attrs.obj is None:
            return False
        if response.get("patchType") != "JSONPatch":
            return self._failed(hook, f'unsupported patch type "{response.get("patchType")}"')
        try:
            operations = orjson.loads(base64.b64decode(response["patch"], validate=True))
            patched = patches.json_patch(attrs.obj, operations)
        except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError) as exc:
            return self._failed(hook, f"JSON patch could not be applied: {exc}")
        if not isinstance(patched, dict):
            return self._failed(hook, "the JSON patch did not produce an object")
        patched = apply_defaults(patched, admission=False)   # as upstream decodes and defaults it again
        changed = patched != attrs.obj
        attrs.obj = patched
        return changed

    def _call(self, hook: dict[str, Any], attrs: Attributes) -> dict[str, Any] | None:
        """Send the review; raise the denial; return the response (None when the failure was ignored)."""
        name = hook.get("name", "")
        if attrs.dry_run and hook.get("sideEffects") not in ("None", "NoneOnDryRun"):
            raise errors.bad_request(f'admission webhook "{name}" does not support dry run')
        review = admission_review(attrs)
        try:
            conditions = hook.get("matchConditions")
            if conditions and matchconditions.evaluate(conditions, attrs.obj, attrs.old, review["request"]):
                return None   # a condition is false: this request is not the webhook's business
        except matchconditions.MatchConditionError as exc:
            self._failed(hook, str(exc))
            return None
        try:
            answer = call_webhook(self.store, hook.get("clientConfig") or {}, review, _timeout(hook))
            response = _response(answer, review["request"]["uid"])
        except WebhookCallError as exc:
            self._failed(hook, str(exc))
            return None
        if attrs.warnings is not None:
            attrs.warnings.extend(str(w) for w in response.get("warnings") or [])
        if not response.get("allowed"):
            raise denied(name, response.get("status"))
        return response

    def _failed(self, hook: dict[str, Any], why: str) -> bool:
        if hook.get("failurePolicy", "Fail") == "Ignore":
            return False
        raise errors.internal(f'failed calling webhook "{hook.get("name", "")}": {why}')


def rule_matches(rule: dict[str, Any], attrs: Attributes) -> bool:
    """Whether a RuleWithOperations covers the request (operation, group, version, resource/subresource, scope)."""
    res = attrs.resource

    def among(values: Any, value: str) -> bool:
        return isinstance(values, list) and ("*" in values or value in values)

    if not among(rule.get("operations"), attrs.operation):
        return False
    if not among(rule.get("apiGroups"), res.group) or not among(rule.get("apiVersions"), res.version):
        return False
    wanted = f"{res.plural}/{attrs.subresource}" if attrs.subresource else res.plural
    plural, _, sub = wanted.partition("/")
    candidates = {wanted, "*/*"} | ({f"*/{sub}", f"{plural}/*"} if sub else {"*"})
    if not any(r in candidates for r in rule.get("resources") or []):
        return False
    scope = rule.get("scope") or "*"
    return scope == "*" or scope == ("Namespaced" if res.namespaced else "Cluster")


def _selects(selector: Any, label_sets: list[dict[str, str]]) -> bool:
    try:
        parsed = from_label_selector(selector or {})
    except ValueError:
        return False
    return any(parsed.matches(labels) for labels in label_sets)


def _timeout(hook: dict[str, Any]) -> float:
    value = hook.get("timeoutSeconds")
    if not isinstance(value, int) or value <= 0:
        return DEFAULT_TIMEOUT_SECONDS
    return min(value, MAX_TIMEOUT_SECONDS)


# --- the wire: AdmissionReview ----------------------------------------------------------------


_OPTIONS_KIND = {CREATE: "CreateOptions", UPDATE: "UpdateOptions", DELETE: "DeleteOptions"}


def admission_review(attrs: Attributes) -> dict[str, Any]:
    """The ``admission.k8s.io/v1`` AdmissionReview sent for ``attrs``."""
    res = attrs.resource
    kind = {"group": res.group, "version": res.version, "kind": res.kind}
    resource = {"group": res.group, "version": res.version, "resource": res.plural}
    user = attrs.user
    user_info: dict[str, Any] = {"username": user.name if user else "system:apiserver",
                                 "groups": list(user.groups) if user else ["system:masters"]}
    if user and user.uid:
        user_info["uid"] = user.uid
    if user and user.extra:
        user_info["extra"] = {key: list(values) for key, values in user.extra}
    request: dict[str, Any] = {
        "uid": str(uuid.uuid4()), "kind": kind, "resource": resource, "requestKind": kind,
        "requestResource": resource, "name": attrs.name, "operation": attrs.operation, "userInfo": user_info,
        "object": attrs.obj, "oldObject": attrs.old, "dryRun": attrs.dry_run,
        "options": {"kind": _OPTIONS_KIND[attrs.operation], "apiVersion": "meta.k8s.io/v1"},
    }
    if attrs.subresource:
        request["subResource"] = request["requestSubResource"] = attrs.subresource
    if attrs.namespace and res.namespaced:
        request["namespace"] = attrs.namespace
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


def _response(answer: Any, uid: str) -> dict[str, Any]:
    if not isinstance(answer, dict) or answer.get("kind") != "AdmissionReview" \
            or answer.get("apiVersion") != "admission.k8s.io/v1":
        raise WebhookCallError("received invalid webhook response: expected webhook response of "
                               "admission.k8s.io/v1, Kind=AdmissionReview")
    response = answer.get("response")
    if not isinstance(response, dict):
        raise WebhookCallError("webhook response was absent")
    if response.get("uid") != uid:
        raise WebhookCallError(f"expected response.uid={uid}, got {response.get('uid')}")
    return response


def denied(name: str, status: Any) -> StatusError:
    """upstream's ToStatusErr: the webhook's Status, its message prefixed with who denied it."""
    status = status if isinstance(status, dict) else {}
    code = status.get("code") if isinstance(status.get("code"), int) and status["code"] >= 400 else 403
    by = f'admission webhook "{name}" denied the request'
    if status.get("message"):
        message = f"{by}: {status['message']}"
    elif status.get("reason"):
        message = f"{by}: {status['reason']}"
    else:
        message = f"{by} without explanation"
    return StatusError(code, str(status.get("reason") or ""), message, status.get("details") or None)


def call_webhook(store: Any, client_config: dict[str, Any], review: dict[str, Any], timeout: float) -> Any:
    """POST ``review`` to the webhook; its decoded JSON answer. Raises WebhookCallError."""
    deadline = time.monotonic() + timeout
    if client_config.get("url"):
        url = urllib.parse.urlsplit(str(client_config["url"]))
        if url.scheme != "https" or not url.hostname:
            raise WebhookCallError(f'webhook URL "{client_config["url"]}" is not an https URL')
        address = serviceresolver.Address(url.hostname, url.port or 443, url.hostname)
        path, shown = url.path or "/", str(client_config["url"])
        if url.query:
            path += "?" + url.query
    elif isinstance(client_config.get("service"), dict):
        service = client_config["service"]
        port = service.get("port") or 443
        try:
            address = serviceresolver.resolve(store, service.get("namespace", ""), service.get("name", ""), port)
        except serviceresolver.ResolveError as exc:
            raise WebhookCallError(exc.message) from None
        path = service.get("path") or "/"
        shown = f"https://{address.server_name}:{port}{path}"
    else:
        raise WebhookCallError("webhook has no url and no service")
    query = f"timeout={int(timeout)}s"
    path += ("&" if "?" in path else "?") + query
    shown += ("&" if "?" in shown else "?") + query
    try:
        context = serviceresolver.ssl_context(client_config.get("caBundle"))
        return _post(address, context, path, orjson.dumps(review), deadline)
    except socket.timeout:
        raise WebhookCallError(f'failed to call webhook: Post "{shown}": context deadline exceeded') from None
    except (OSError, ssl.SSLError, ValueError, http.client.HTTPException) as exc:
        raise WebhookCallError(f'failed to call webhook: Post "{shown}": {exc}') from None


def _post(address: serviceresolver.Address, context: ssl.SSLContext, path: str, body: bytes,
          deadline: float) -> Any:
    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        return remaining

    raw = socket.create_connection((address.host, address.port), timeout=left())
    connection = http.client.HTTPSConnection(address.server_name, address.port, timeout=left())
    try:
        connection.sock = context.wrap_socket(raw, server_hostname=address.server_name)
        connection.request("POST", path, body=body, headers={
            "Content-Type": "application/json", "Accept": "application/json"})
        reply = connection.getresponse()
        chunks, size = [], 0
        while chunk := reply.read1(64 * 1024):   # each read is bounded by the socket's timeout
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise ValueError(f"response body is larger than {MAX_RESPONSE_BYTES} bytes")
            connection.sock.settimeout(left())
            chunks.append(chunk)
        data = b"".join(chunks)
    finally:
        connection.close()
        raw.close()
    if reply.status != 200:
        raise WebhookCallError(f"expected 200, got {reply.status}: {data[:200].decode(errors='replace')}")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise WebhookCallError(f"received invalid webhook response: {exc}") from None

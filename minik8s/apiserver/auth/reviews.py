"""Access reviews: asking the authorizer a question through the API (``authorization.k8s.io/v1``).

Four create-only kinds, answered at once and never stored:

* ``SelfSubjectAccessReview`` — may *I* do this? (``kubectl auth can-i``);
* ``SubjectAccessReview`` — may this user/group do this? (webhooks, aggregated servers);
* ``LocalSubjectAccessReview`` — the same, limited to the namespace in its URL;
* ``SelfSubjectRulesReview`` — what may I do in this namespace? (``kubectl auth can-i --list``).

The answer is the request echoed with ``status.allowed`` and RBAC's ``reason``.

Interface: ``REVIEW_KINDS``; ``review(api, resource, namespace, body, user) -> dict``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any

import orjson

from minik8s.api import errors
from minik8s.api.resources import Resource
from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.requestinfo import RequestInfo

GROUP = "authorization.k8s.io"
REVIEW_KINDS = ("SubjectAccessReview", "SelfSubjectAccessReview", "LocalSubjectAccessReview",
                "SelfSubjectRulesReview")
# Who an in-process caller acting as nobody is: the cluster itself, allowed everything.
TRUSTED = User("system:apiserver", groups=("system:masters", "system:authenticated"))


def _decode(body: Any) -> dict[str, Any]:
    if isinstance(body, (bytes, bytearray, str)):
        try:
            body = orjson.loads(body)
        except orjson.JSONDecodeError as err:
            raise errors.bad_request(f"error decoding the request body: {err}") from None
    if not isinstance(body, dict):
        raise errors.bad_request("the request body must be an object")
    return body


def _invalid(kind: str, field: str, value: Any, detail: str) -> errors.StatusError:
    return errors.invalid(kind, GROUP, "", [errors.invalid_value(field, value, detail)])


def _attributes(kind: str, spec: dict[str, Any]) -> RequestInfo:
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        raise _invalid(kind, "spec.resourceAttributes", resource, "exactly one of nonResourceAttributes or "
                       "resourceAttributes must be specified")
    if non_resource is not None:
        return RequestInfo(non_resource.get("path", ""), non_resource.get("verb", ""))
    assert resource is not None
    return RequestInfo("", resource.get("verb", ""), True, resource.get("group", ""), resource.get("version", ""),
                       resource.get("namespace", ""), resource.get("resource", ""),
                       resource.get("subresource", ""), resource.get("name", ""))


def _answer(obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    out = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
           "metadata": {**meta, "creationTimestamp": None}, "spec": obj.get("spec") or {}, "status": status}
    return out


def review(api: Any, resource: Resource, namespace: str | None, body: Any, user: User | None) -> dict[str, Any]:
    obj = _decode(body)
    obj.setdefault("kind", resource.kind)
    obj.setdefault("apiVersion", resource.api_version)
    spec = obj.get("spec") or {}
    me = user or TRUSTED
    if resource.kind == "SelfSubjectRulesReview":
        rules = api.authorizer.rules_for(me, spec.get("namespace", ""))
        return _answer(obj, rules_status(rules))
    if resource.kind == "SelfSubjectAccessReview":
        subject = me
    else:
        if not spec.get("user") and not spec.get("groups"):
            raise _invalid(resource.kind, "spec.user", "", "at least one of user or group must be specified")
        subject = User(spec.get("user", ""), spec.get("uid", ""), tuple(spec.get("groups") or ()))
    if resource.kind == "LocalSubjectAccessReview":
        attrs = spec.get("resourceAttributes")
        if attrs is not None and attrs.get("namespace", namespace) != namespace:
            raise _invalid(resource.kind, "spec.resourceAttributes.namespace", attrs.get("namespace"),
                           "must match metadata.namespace")
        if attrs is not None:
            attrs["namespace"] = namespace or ""
        if spec.get("nonResourceAttributes") is not None:
            raise _invalid(resource.kind, "spec.nonResourceAttributes", spec["nonResourceAttributes"],
                           "disallowed on this kind of request")
    info = _attributes(resource.kind, spec)
    allowed, reason = api.authorizer.decide(subject, info)
    status: dict[str, Any] = {"allowed": bool(allowed)}
    if reason:
        status["reason"] = reason
    return _answer(obj, status)


def rules_status(rules: list[dict[str, Any]]) -> dict[str, Any]:
    resource_rules, non_resource_rules = [], []
    for rule in rules:
        if rule.get("nonResourceURLs"):
            non_resource_rules.append({"verbs": rule.get("verbs") or [], "nonResourceURLs": rule["nonResourceURLs"]})
        if rule.get("resources") or rule.get("apiGroups"):
            entry = {"verbs": rule.get("verbs") or [], "apiGroups": rule.get("apiGroups") or [],
                     "resources": rule.get("resources") or []}
            if rule.get("resourceNames"):
                entry["resourceNames"] = rule["resourceNames"]
            resource_rules.append(entry)
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource_rules, "incomplete": False}

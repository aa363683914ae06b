"""The ServiceAccount controllers: a ``default`` ServiceAccount everywhere, and legacy token Secrets.

* :class:`ServiceAccountController` (upstream's ``serviceaccount-controller``): every namespace
  that is not being deleted has a ServiceAccount named ``default``; deleting it brings it back.
  Pods that name no ServiceAccount run as it (ServiceAccount admission).
* :class:`TokensController` (upstream's ``serviceaccount-token-controller``): a Secret of type
  ``kubernetes.io/service-account-token`` annotated ``kubernetes.io/service-account.name: <sa>``
  gets ``data.token`` (a non-expiring token signed by the API server), ``data.ca.crt`` and
  ``data.namespace``, and the annotation ``kubernetes.io/service-account.uid``. Such a Secret
  whose ServiceAccount is gone (or was re-created with another uid) is deleted, which revokes its
  token. Since 1.24 no Secret is made automatically: you create one to get a long-lived token.

Both are level-triggered: they read the informers' caches and write through the API. The uid of
each ``default`` ServiceAccount comes from the API server's own generator (see
``APIServer.create``), so making them does not shift the seeded names of user objects.

Interface: ``ServiceAccountController(ctx)``, ``TokensController(ctx)`` (in
:mod:`minik8s.controllers.manager`). Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import base64
from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Controller

NAMESPACES = resources.get("", "v1", "namespaces")
SERVICE_ACCOUNTS = resources.get("", "v1", "serviceaccounts")
SECRETS = resources.get("", "v1", "secrets")

DEFAULT_NAME = "default"
TOKEN_SECRET_TYPE = "kubernetes.io/service-account-token"
SA_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SA_UID_ANNOTATION = "kubernetes.io/service-account.uid"

Obj = dict[str, Any]


def _terminating(ns: Obj | None) -> bool:
    return ns is None or bool(ns["metadata"].get("deletionTimestamp")) or \
        (ns.get("status") or {}).get("phase") == "Terminating"


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"
    watches = (NAMESPACES, SERVICE_ACCOUNTS)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if resource is NAMESPACES:
            return [meta.get("name", "")]
        return [meta.get("namespace", "")] if meta.get("name") == DEFAULT_NAME else []

    def reconcile(self, key: Any) -> None:
        namespace = str(key)
        if _terminating(self.informer(NAMESPACES).get("", namespace)):
            return
        if self.informer(SERVICE_ACCOUNTS).get(namespace, DEFAULT_NAME) is not None:
            return
        try:
            self.client.create(SERVICE_ACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                  "metadata": {"name": DEFAULT_NAME, "namespace": namespace}},
                               namespace)
        except StatusError as err:
            if err.code not in (403, 409):   # 409: the cache was behind; 403: the namespace is terminating
                raise


class TokensController(Controller):
    name = "serviceaccount-token-controller"
    watches = (SERVICE_ACCOUNTS, SECRETS)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace", "")
        if resource is SECRETS:
            return [(namespace, meta.get("name", ""))] if obj.get("type") == TOKEN_SECRET_TYPE else []
        # A ServiceAccount changed or went: look at its token Secrets again.
        return [(namespace, (s.get("metadata") or {}).get("name", ""))
                for s in self.informer(SECRETS).list(namespace)
                if s.get("type") == TOKEN_SECRET_TYPE
                and ((s["metadata"].get("annotations") or {}).get(SA_NAME_ANNOTATION) == meta.get("name"))]

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        secret = self.informer(SECRETS).get(namespace, name)
        if secret is None or secret["metadata"].get("deletionTimestamp"):
            return
        annotations = secret["metadata"].get("annotations") or {}
        sa = self.informer(SERVICE_ACCOUNTS).get(namespace, annotations.get(SA_NAME_ANNOTATION, ""))
        wanted_uid = annotations.get(SA_UID_ANNOTATION)
        if sa is None or (wanted_uid and wanted_uid != sa["metadata"]["uid"]):
            if sa is None and not self._sa_gone(namespace, annotations.get(SA_NAME_ANNOTATION, "")):
                return
            self._delete(namespace, name)   # its ServiceAccount is gone: the token goes with it
            return
        data = dict(secret.get("data") or {})
        if data.get("token") and wanted_uid:
            return
        api = getattr(self.client, "api", None)
        if api is None:
            return   # only an in-process controller manager holds the signing key
        data["token"] = _b64(api.tokens.legacy_token(namespace, sa, name).encode())
        ca = getattr(api, "root_ca_pem", None)
        if ca:
            data["ca.crt"] = _b64(ca)
        data["namespace"] = _b64(namespace.encode())
        updated = {**secret, "data": data,
                   "metadata": {**secret["metadata"],
                                "annotations": {**annotations, SA_UID_ANNOTATION: sa["metadata"]["uid"]}}}
        self.client.update(SECRETS, updated, namespace)

    def _sa_gone(self, namespace: str, name: str) -> bool:
        """The cache may lag behind a ServiceAccount just created: ask the API server before deleting."""
        try:
            self.client.get(SERVICE_ACCOUNTS, name, namespace)
        except StatusError as err:
            return err.code == 404
        return False

    def _delete(self, namespace: str, name: str) -> None:
        try:
            self.client.delete(SECRETS, name, namespace)
        except StatusError as err:
            if err.code != 404:
                raise


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

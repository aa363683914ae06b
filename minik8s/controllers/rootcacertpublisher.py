"""The root CA publisher: a ConfigMap ``kube-root-ca.crt`` with the cluster CA in every namespace.

A Pod that calls the API server must trust the certificate it serves. Upstream's
``root-ca-cert-publisher`` writes the cluster CA (the controller manager's ``--root-ca-file``) into a
ConfigMap named ``kube-root-ca.crt`` (key ``ca.crt``) in every namespace, and puts it back if it is
deleted or changed; the ServiceAccount admission plugin projects it into each Pod at
``/var/run/secrets/kubernetes.io/serviceaccount/ca.crt``.

minik8s has a CA only once the API is served over HTTPS (``minik8s server``, or
``Cluster.serve()``): until ``api.root_ca_pem`` is set, this controller publishes nothing. A
``minik8s controller-manager`` process publishes the CA of its kubeconfig (``Context.root_ca_pem``). The
ConfigMaps carry the annotation ``kubernetes.io/description`` as upstream's do.

Interface: ``RootCACertPublisher(ctx)`` (in :mod:`minik8s.controllers.manager`); ``republish()``
re-checks every namespace (called when the CA becomes known).
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.controllers.controller import Controller

NAMESPACES = resources.get("", "v1", "namespaces")
CONFIGMAPS = resources.get("", "v1", "configmaps")
NAME = "kube-root-ca.crt"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
               "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
               "guaranteed across distributions of Kubernetes clusters.")

Obj = dict[str, Any]


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    watches = (NAMESPACES, CONFIGMAPS)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if resource is NAMESPACES:
            return [meta.get("name", "")]
        return [meta.get("namespace", "")] if meta.get("name") == NAME else []

    def republish(self) -> None:
        for ns in self.informer(NAMESPACES).list():
            self.queue.add(ns["metadata"]["name"])

    def _ca(self) -> str | None:
        # A controller manager of its own process is given the CA (--root-ca-file); in-process, the API server holds it.
        pem = self.ctx.root_ca_pem or getattr(getattr(self.client, "api", None), "root_ca_pem", None)
        return pem.decode() if pem else None

    def reconcile(self, key: Any) -> None:
        namespace = str(key)
        ca = self._ca()
        ns = self.informer(NAMESPACES).get("", namespace)
        if ca is None or ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        current = self.informer(CONFIGMAPS).get(namespace, NAME)
        try:
            if current is None:
                self.client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
                    "name": NAME, "namespace": namespace,
                    "annotations": {"kubernetes.io/description": DESCRIPTION}}, "data": {"ca.crt": ca}}, namespace)
            elif (current.get("data") or {}) != {"ca.crt": ca}:
                self.client.update(CONFIGMAPS, {**current, "data": {"ca.crt": ca}}, namespace)
        except StatusError as err:
            if err.code not in (403, 409):
                raise

"""The ServiceAccount admission plugin: every Pod runs as a ServiceAccount and gets its token.

On Pod create (upstream's ``ServiceAccount`` plugin, mutating):

1. ``spec.serviceAccountName`` defaults to ``default`` (done with the other Pod defaults in
   :mod:`minik8s.api.defaults`, which run just before admission);
2. a ServiceAccount other than ``default`` must exist, or the Pod is refused (403,
   ``error looking up service account <ns>/<name>: serviceaccount "<name>" not found``);
3. unless ``automountServiceAccountToken: false`` on the Pod (or, when the Pod says nothing, on
   the ServiceAccount), a projected volume ``kube-api-access-<5 random characters>`` is added::

       projected: {defaultMode: 420, sources: [
         serviceAccountToken: {expirationSeconds: 3607, path: token},
         configMap: {name: kube-root-ca.crt, items: [{key: ca.crt, path: ca.crt}]},
         downwardAPI: {items: [{path: namespace, fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}]}]}

   and mounted read-only at ``/var/run/secrets/kubernetes.io/serviceaccount`` in every container
   and init container that has nothing mounted there yet. The kubelet fills it: a token bound to
   the Pod (asked with TokenRequest, refreshed before it expires), the cluster CA, the namespace.
   That is all a client needs to call the API from inside a Pod (``load_incluster_config()``);
4. a Pod that names no ``imagePullSecrets`` gets its ServiceAccount's.

How minik8s differs: upstream also refuses a Pod when the ``default`` ServiceAccount does not
exist yet (the controller makes one moments after a namespace); minik8s admits it, because an
in-process cluster may create a namespace and a Pod in one step before any controller ran. Mirror
Pods (static Pods of a kubelet) are left alone, as upstream.

The random suffix comes from the API server's own generator, so it does not change the seeded
pod names and uids, nor the ClusterIPs (``api._system_rng``).

Interface: ``ServiceAccountAdmission(api)``, registered in ``APIServer.__init__``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.api import errors, resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.admission.chain import CREATE, Attributes
from minik8s.clock import random_suffix

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TOKEN_EXPIRATION = 3607   # upstream's: an hour and 7 seconds, so tokens are told apart in audits
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"

PODS = resources.get("", "v1", "pods")
SERVICE_ACCOUNTS = resources.get("", "v1", "serviceaccounts")

Obj = dict[str, Any]


def token_volume(name: str) -> Obj:
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def should_automount(pod_spec: Obj, sa: Obj | None) -> bool:
    """The Pod's ``automountServiceAccountToken`` wins; else the ServiceAccount's; else yes."""
    if pod_spec.get("automountServiceAccountToken") is not None:
        return bool(pod_spec["automountServiceAccountToken"])
    if sa is not None and sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


class ServiceAccountAdmission:
    name = "ServiceAccount"

    def __init__(self, api: "APIServer"):
        self.api = api

    def mutate(self, attrs: Attributes) -> None:
        if attrs.operation != CREATE or attrs.resource is not PODS or attrs.subresource or attrs.obj is None:
            return
        pod = attrs.obj
        if MIRROR_ANNOTATION in ((pod.get("metadata") or {}).get("annotations") or {}):
            return
        spec = pod.get("spec")
        if not isinstance(spec, dict):
            return
        sa_name = str(spec.get("serviceAccountName") or "default")
        sa = self._service_account(attrs.namespace or "default", sa_name)
        if sa is None and sa_name != "default":
            raise errors.forbidden("", "pods", attrs.name,
                                   f'error looking up service account {attrs.namespace}/{sa_name}: '
                                   f'serviceaccount "{sa_name}" not found')
        if sa is not None and not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            # A pod that names no pull secrets uses its ServiceAccount's (how registry credentials reach pods).
            spec["imagePullSecrets"] = [{"name": str((ref or {}).get("name", ""))} for ref in sa["imagePullSecrets"]]
        if not should_automount(spec, sa):
            return
        containers = [c for key in ("initContainers", "containers") for c in spec.get(key) or []
                      if isinstance(c, dict)]
        if all(any(isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH for m in c.get("volumeMounts") or [])
               for c in containers):
            return   # every container already mounts something there
        volume = token_volume(self._volume_name(spec))
        spec["volumes"] = [*(spec.get("volumes") or []), volume]
        for container in containers:
            mounts = container.get("volumeMounts") or []
            if not any(isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH for m in mounts):
                container["volumeMounts"] = [*mounts, {"mountPath": MOUNT_PATH, "name": volume["name"],
                                                       "readOnly": True}]

    def _service_account(self, namespace: str, name: str) -> Obj | None:
        try:
            return self.api.get(SERVICE_ACCOUNTS, namespace, name)
        except StatusError:
            return None

    def _volume_name(self, spec: Obj) -> str:
        taken = {v.get("name") for v in spec.get("volumes") or [] if isinstance(v, dict)}
        while True:
            name = VOLUME_PREFIX + random_suffix(self.api._system_rng)
            if name not in taken:
                return name

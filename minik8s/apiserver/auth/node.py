"""The Node authorizer: what a kubelet may do, limited to its own node and the pods bound to it.

A kubelet authenticates as ``system:node:<nodeName>`` in group ``system:nodes``.
RBAC alone cannot say "only the Secrets of pods on *your* node", so kube-apiserver
asks this authorizer first: a node may read a Secret, ConfigMap,
PersistentVolumeClaim or ServiceAccount token only when a pod bound to it refers
to it, get only pods bound to it, and update only its own Node object. Everything
else a kubelet needs (list pods, create events, leases...) comes from the static
node rules (upstream's ``NodeRules``, in :mod:`.bootstrap`). A request from
anyone else gets no opinion, and RBAC decides.

minik8s simplifies: the graph upstream keeps is computed on demand by scanning
the pods bound to the node (fine for a classroom cluster).

Interface: ``NodeAuthorizer(store).decide(user, info) -> (True | None, reason)``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any, Iterator

from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.bootstrap import NODE_RULES, NODE_SCOPED
from minik8s.apiserver.auth.rbac import rule_allows
from minik8s.apiserver.auth.requestinfo import RequestInfo

NODES_GROUP = "system:nodes"
PREFIX = "system:node:"


def node_name(user: User) -> str | None:
    if NODES_GROUP in user.groups and user.name.startswith(PREFIX) and len(user.name) > len(PREFIX):
        return user.name[len(PREFIX):]
    return None


def _pod_references(pod: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(plural, name) of the objects a pod refers to: volumes, env sources, its ServiceAccount."""
    spec = pod.get("spec") or {}
    for volume in spec.get("volumes") or []:
        if volume.get("secret"):
            yield "secrets", volume["secret"].get("secretName", "")
        if volume.get("configMap"):
            yield "configmaps", volume["configMap"].get("name", "")
        if volume.get("persistentVolumeClaim"):
            yield "persistentvolumeclaims", volume["persistentVolumeClaim"].get("claimName", "")
        for source in (volume.get("projected") or {}).get("sources") or []:
            if source.get("secret"):
                yield "secrets", source["secret"].get("name", "")
            if source.get("configMap"):
                yield "configmaps", source["configMap"].get("name", "")
    for secret in spec.get("imagePullSecrets") or []:
        yield "secrets", secret.get("name", "")
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for env_from in container.get("envFrom") or []:
            if env_from.get("secretRef"):
                yield "secrets", env_from["secretRef"].get("name", "")
            if env_from.get("configMapRef"):
                yield "configmaps", env_from["configMapRef"].get("name", "")
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if source.get("secretKeyRef"):
                yield "secrets", source["secretKeyRef"].get("name", "")
            if source.get("configMapKeyRef"):
                yield "configmaps", source["configMapKeyRef"].get("name", "")
    yield "serviceaccounts", spec.get("serviceAccountName") or "default"


class NodeAuthorizer:
    def __init__(self, store: Any):
        self.store = store

    def _pods_on(self, node: str, namespace: str) -> list[dict[str, Any]]:
        pods, _ = self.store.list("pods", namespace or None)
        return [p for p in pods if (p.get("spec") or {}).get("nodeName") == node]

    def decide(self, user: User, info: RequestInfo) -> tuple[bool | None, str]:
        node = node_name(user)
        if node is None or not info.is_resource:
            return None, ""
        core = info.api_group == ""
        if core and info.resource in ("secrets", "configmaps", "persistentvolumeclaims") and not info.subresource:
            if info.verb != "get" or not info.name:
                return None, f"can only read individual {info.resource} referenced by pods on node \"{node}\""
            if any((info.resource, info.name) in set(_pod_references(p)) for p in self._pods_on(node, info.namespace)):
                return True, ""
            return None, f'no relationship found between node "{node}" and this object'
        if core and info.resource == "serviceaccounts" and info.subresource == "token":
            if info.verb == "create" and any(("serviceaccounts", info.name) in set(_pod_references(p))
                                             for p in self._pods_on(node, info.namespace)):
                return True, ""
            return None, f'no relationship found between node "{node}" and this object'
        if core and info.resource == "pods" and info.verb == "get" and not info.subresource:
            bound = any(p["metadata"]["name"] == info.name for p in self._pods_on(node, info.namespace))
            return (True, "") if bound else (None, f'no relationship found between node "{node}" and this object')
        if core and info.resource == "nodes" and info.name and info.name != node \
                and info.verb in ("update", "patch", "delete"):
            return None, "node may only change its own Node object"
        if info.api_group == "coordination.k8s.io" and info.resource == "leases":
            if info.namespace != "kube-node-lease" or (info.name and info.name != node):
                return None, "node may only use its own Lease in kube-node-lease"
        if any(rule_allows(rule, info) for rule in NODE_RULES
               if not any((group, resource) in NODE_SCOPED and resource != "pods"
                          for group in rule["apiGroups"] for resource in rule.get("resources") or [])):
            return True, ""
        return None, ""

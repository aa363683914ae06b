"""What ``kubeadm init`` sets up so that machines can join: its ``bootstrap-token`` phase.

After the control plane is up, kubeadm prepares the cluster for ``kubeadm join``
(``minik8s join``, :mod:`minik8s.join`):

* **discovery**: the ConfigMap ``cluster-info`` in ``kube-public``, whose key ``kubeconfig`` is a
  kubeconfig naming the API server's URL and the cluster CA (no credential), and a Role and
  RoleBinding (``kubeadm:bootstrap-signer-clusterinfo``) that let ``system:anonymous`` read it:
  a new machine reads it before it trusts anything, then checks the CA against the hash it was given;
* **RBAC for joining**: the group of kubeadm's tokens
  (``system:bootstrappers:kubeadm:default-node-token``) may create CSRs (``kubeadm:kubelet-bootstrap``
  → ``system:node-bootstrapper``), have node client CSRs approved automatically
  (``kubeadm:node-autoapprove-bootstrap`` → ``...:nodeclient``) and read Nodes (``kubeadm:get-nodes``);
  nodes renew their own certificates (``kubeadm:node-autoapprove-certificate-rotation`` →
  ``...:selfnodeclient`` for ``system:nodes``).

Upstream's bootstrap signer also signs ``cluster-info`` with each token (a JWS in the ConfigMap) so
that a joining machine can check it without a CA hash; minik8s leaves that signature out: a join
must give ``--discovery-token-ca-cert-hash`` (or say ``--discovery-token-unsafe-skip-ca-verification``).

Interface: ``bootstrap_token_phase(client, server_url, ca_pem)`` (idempotent: run at every start of
``minik8s server`` and ``Cluster.serve()``); ``cluster_info_kubeconfig(server_url, ca_pem) -> str``.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from minik8s.api import resources
from minik8s.api.bootstraptoken import DEFAULT_NODE_TOKEN_GROUP
from minik8s.api.errors import StatusError

CLUSTER_INFO = "cluster-info"
PUBLIC_NAMESPACE = "kube-public"
_RBAC = "rbac.authorization.k8s.io"
CONFIGMAPS = resources.get("", "v1", "configmaps")
ROLES = resources.get(_RBAC, "v1", "roles")
ROLE_BINDINGS = resources.get(_RBAC, "v1", "rolebindings")
CLUSTER_ROLES = resources.get(_RBAC, "v1", "clusterroles")
CLUSTER_ROLE_BINDINGS = resources.get(_RBAC, "v1", "clusterrolebindings")
NODE_CLIENT = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
SELF_NODE_CLIENT = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"


def cluster_info_kubeconfig(server_url: str, ca_pem: bytes) -> str:
    """The kubeconfig ``cluster-info`` carries: one unnamed cluster, no users, as kubeadm writes it."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "", "cluster": {"certificate-authority-data": base64.b64encode(ca_pem).decode(),
                                              "server": server_url}}],
        "contexts": None, "current-context": "", "preferences": {}, "users": None}, sort_keys=False)


def _subject(kind: str, name: str) -> dict[str, Any]:
    return {"apiGroup": _RBAC, "kind": kind, "name": name}


def _binding(kind: str, name: str, role_kind: str, role: str, subject: dict[str, Any],
             namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": f"{_RBAC}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": _RBAC, "kind": role_kind, "name": role}, "subjects": [subject]}


def _objects(server_url: str, ca_pem: bytes) -> list[tuple[Any, dict[str, Any]]]:
    tokens = _subject("Group", DEFAULT_NODE_TOKEN_GROUP)
    clusterinfo = "kubeadm:bootstrap-signer-clusterinfo"
    return [
        (CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                      "metadata": {"name": CLUSTER_INFO, "namespace": PUBLIC_NAMESPACE},
                      "data": {"kubeconfig": cluster_info_kubeconfig(server_url, ca_pem)}}),
        (ROLES, {"apiVersion": f"{_RBAC}/v1", "kind": "Role",
                 "metadata": {"name": clusterinfo, "namespace": PUBLIC_NAMESPACE},
                 "rules": [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [CLUSTER_INFO],
                            "verbs": ["get"]}]}),
        (ROLE_BINDINGS, _binding("RoleBinding", clusterinfo, "Role", clusterinfo,
                                 {"kind": "User", "apiGroup": _RBAC, "name": "system:anonymous"},
                                 PUBLIC_NAMESPACE)),
        (CLUSTER_ROLES, {"apiVersion": f"{_RBAC}/v1", "kind": "ClusterRole", "metadata": {"name": "kubeadm:get-nodes"},
                         "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]}),
        (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding", "kubeadm:get-nodes", "ClusterRole",
                                         "kubeadm:get-nodes", tokens)),
        (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding", "kubeadm:kubelet-bootstrap", "ClusterRole",
                                         "system:node-bootstrapper", tokens)),
        (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding", "kubeadm:node-autoapprove-bootstrap", "ClusterRole",
                                         NODE_CLIENT, tokens)),
        (CLUSTER_ROLE_BINDINGS, _binding("ClusterRoleBinding", "kubeadm:node-autoapprove-certificate-rotation",
                                         "ClusterRole", SELF_NODE_CLIENT, _subject("Group", "system:nodes"))),
    ]


def bootstrap_token_phase(client: Any, server_url: str, ca_pem: bytes) -> None:
    """Create (or bring up to date) ``cluster-info`` and kubeadm's RBAC for joining nodes."""
    for resource, obj in _objects(server_url, ca_pem):
        namespace = obj["metadata"].get("namespace")
        try:
            client.create(resource, obj, namespace)
        except StatusError as err:
            if err.code != 409:
                raise
            current = client.get(resource, obj["metadata"]["name"], namespace)
            wanted = {**current, **{k: v for k, v in obj.items() if k not in ("metadata", "apiVersion", "kind")}}
            if wanted != current:   # the server's URL or CA changed since the last start
                client.update(resource, wanted, namespace)

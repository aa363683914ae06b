"""The bootstrap policy: the ClusterRoles and ClusterRoleBindings every cluster starts with.

kube-apiserver's RBAC storage creates these at start when they are missing (and
reconciles them while their ``rbac.authorization.kubernetes.io/autoupdate``
annotation is ``"true"``): ``cluster-admin`` bound to the group ``system:masters``,
the user-facing ``admin``/``edit``/``view`` (aggregated from the roles labelled
``rbac.authorization.k8s.io/aggregate-to-*``), discovery and public-info roles for
every authenticated and anonymous user, and one role per control-plane component.

The rule lists follow upstream's bootstrap policy (its
``bootstrappolicy/testdata/cluster-roles.yaml``), trimmed to the API groups that
matter for minik8s; unserved groups are harmless (a rule for an unserved resource
grants nothing) and a few are kept so ``kubectl describe clusterrole edit`` reads
as on a real cluster.

Interface: ``cluster_roles() -> list[dict]``; ``cluster_role_bindings() -> list[dict]``;
``ensure(api)`` creates what is missing (as the trusted in-process server itself).
Invariants: ``admin``/``edit``/``view`` are created with their aggregated rules
already filled in, so RBAC works before the aggregation controller first runs.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.selectors import from_label_selector

RBAC_GROUP = "rbac.authorization.k8s.io"
AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
ALL = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _rule(groups: list[str], resources: list[str], verbs: list[str], names: list[str] | None = None
          ) -> dict[str, Any]:
    rule: dict[str, Any] = {"apiGroups": groups, "resources": sorted(resources), "verbs": verbs}
    if names:
        rule["resourceNames"] = names
    return rule


def _urls(urls: list[str], verbs: list[str] | None = None) -> dict[str, Any]:
    return {"nonResourceURLs": urls, "verbs": verbs or ["get"]}


def _role(name: str, rules: list[dict[str, Any]], labels: dict[str, str] | None = None,
          aggregate_from: str | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
        "metadata": {"name": name, "labels": {**_LABELS, **(labels or {})}, "annotations": dict(_ANNOTATIONS)},
        "rules": rules,
    }
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {AGGREGATE + aggregate_from: "true"}}]}
    return role


_VIEW = [
    _rule([""], ["configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                 "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                 "services/status"], READ),
    _rule([""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log", "pods/status",
                 "replicationcontrollers/status", "resourcequotas", "resourcequotas/status"], READ),
    _rule([""], ["namespaces"], READ),
    _rule(["discovery.k8s.io"], ["endpointslices"], READ),
    _rule(["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                     "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets",
                     "statefulsets/scale", "statefulsets/status"], READ),
    _rule(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    _rule(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    _rule(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    _rule(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
]

_EDIT = [
    _rule([""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"], READ),
    _rule([""], ["serviceaccounts"], ["impersonate"]),
    _rule([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule([""], ["configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
                 "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"], WRITE),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule(["apps"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                     "replicasets/scale", "statefulsets", "statefulsets/scale"], WRITE),
    _rule(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    _rule(["batch"], ["cronjobs", "jobs"], WRITE),
    _rule(["policy"], ["poddisruptionbudgets"], WRITE),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    _rule(["coordination.k8s.io"], ["leases"], ALL),
]

_ADMIN = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule([RBAC_GROUP], ["rolebindings", "roles"], ALL),
]

# What a node may do besides what the Node authorizer grants per pod (upstream's NodeRules, trimmed).
NODE_RULES = [
    _rule([""], ["nodes"], ["create", "get", "list", "watch", "patch", "update"]),
    _rule([""], ["nodes/status"], ["patch", "update"]),
    _rule([""], ["services", "endpoints"], READ),
    _rule([""], ["pods"], ["list", "watch", "create", "delete"]),
    _rule([""], ["pods/status"], ["patch", "update"]),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
    _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    _rule(["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"], ["create"]),
    _rule(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "patch", "update"]),
    _rule(["storage.k8s.io"], ["storageclasses", "csidrivers"], READ),
]


def cluster_roles() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoles (aggregated ones with empty rules; see ``ensure``)."""
    return [
        _role("cluster-admin", [_rule(["*"], ["*"], ["*"]), _urls(["*"], ["*"])]),
        _role("admin", [], aggregate_from="admin"),
        _role("edit", [], {AGGREGATE + "admin": "true"}, aggregate_from="edit"),
        _role("view", [], {AGGREGATE + "edit": "true"}, aggregate_from="view"),
        _role("system:aggregate-to-admin", _ADMIN, {AGGREGATE + "admin": "true"}),
        _role("system:aggregate-to-edit", _EDIT, {AGGREGATE + "edit": "true"}),
        _role("system:aggregate-to-view", _VIEW, {AGGREGATE + "view": "true"}),
        _role("system:basic-user", [
            _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
            _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        _role("system:discovery", [_urls(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                          "/openapi/*", "/readyz", "/version", "/version/"])]),
        _role("system:public-info-viewer", [_urls(["/healthz", "/livez", "/readyz", "/version", "/version/"])]),
        _role("system:monitoring", [_urls(["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                                           "/metrics/slis", "/readyz", "/readyz/*"])]),
        _role("system:service-account-issuer-discovery", [
            _urls(["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                   "/openid/v1/jwks", "/openid/v1/jwks/"])]),
        _role("system:auth-delegator", [
            _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
            _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"])]),
        _role("system:node", NODE_RULES),
        _role("system:node-proxier", [
            _rule([""], ["endpoints", "services"], ["list", "watch"]),
            _rule([""], ["nodes"], READ),
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
            _rule(["discovery.k8s.io"], ["endpointslices"], ["list", "watch"])]),
        _role("system:kube-scheduler", [
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
            _rule(["coordination.k8s.io"], ["leases"], ["create"]),
            _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], ["kube-scheduler"]),
            _rule([""], ["nodes"], READ),
            _rule([""], ["namespaces"], READ),
            _rule([""], ["pods"], ["delete", "get", "list", "watch"]),
            _rule([""], ["bindings", "pods/binding"], ["create"]),
            _rule([""], ["pods/status"], ["patch", "update"]),
            _rule([""], ["persistentvolumeclaims", "persistentvolumes", "replicationcontrollers", "services"], READ),
            _rule(["apps"], ["replicasets", "statefulsets"], READ),
            _rule(["policy"], ["poddisruptionbudgets"], READ),
            _rule(["storage.k8s.io"], ["storageclasses", "csinodes", "csidrivers", "csistoragecapacities"], READ)]),
        _role("system:kube-controller-manager", [
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"]),
            _rule(["coordination.k8s.io"], ["leases"], ["create"]),
            _rule(["coordination.k8s.io"], ["leases"], ["get", "update"], ["kube-controller-manager"]),
            _rule([""], ["secrets", "serviceaccounts"], ["create"]),
            _rule([""], ["secrets"], ["delete"]),
            _rule([""], ["configmaps", "namespaces", "secrets", "serviceaccounts"], ["get"]),
            _rule([""], ["secrets", "serviceaccounts"], ["update"]),
            _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
            _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
            _rule(["*"], ["*"], ["list", "watch"]),
            _rule([""], ["serviceaccounts/token"], ["create"])]),
    ]


def _binding(name: str, role: str, *subjects: tuple[str, str]) -> dict[str, Any]:
    def subject(kind: str, who: str) -> dict[str, Any]:
        if kind == "ServiceAccount":
            namespace, _, sa = who.partition("/")
            return {"kind": kind, "name": sa, "namespace": namespace}
        return {"apiGroup": RBAC_GROUP, "kind": kind, "name": who}
    binding: dict[str, Any] = {
        "apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_LABELS), "annotations": dict(_ANNOTATIONS)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
    }
    if subjects:
        binding["subjects"] = [subject(kind, who) for kind, who in subjects]
    return binding


def cluster_role_bindings() -> list[dict[str, Any]]:
    return [
        _binding("cluster-admin", "cluster-admin", ("Group", "system:masters")),
        _binding("system:basic-user", "system:basic-user", ("Group", "system:authenticated")),
        _binding("system:discovery", "system:discovery", ("Group", "system:authenticated")),
        _binding("system:public-info-viewer", "system:public-info-viewer",
                 ("Group", "system:authenticated"), ("Group", "system:unauthenticated")),
        _binding("system:monitoring", "system:monitoring", ("Group", "system:monitoring")),
        _binding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery",
                 ("Group", "system:serviceaccounts")),
        _binding("system:node", "system:node"),   # upstream keeps it with no subjects: the Node authorizer decides
        _binding("system:node-proxier", "system:node-proxier", ("User", "system:kube-proxy")),
        _binding("system:kube-scheduler", "system:kube-scheduler", ("User", "system:kube-scheduler")),
        _binding("system:kube-controller-manager", "system:kube-controller-manager",
                 ("User", "system:kube-controller-manager")),
    ]


def aggregated_rules(role: dict[str, Any], roles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules of the roles ``role``'s aggregationRule selects, in name order, without duplicates."""
    selectors = []
    for spec in ((role.get("aggregationRule") or {}).get("clusterRoleSelectors")) or []:
        try:
            selectors.append(from_label_selector(spec))
        except ValueError:
            continue
    rules: list[dict[str, Any]] = []
    for other in sorted(roles, key=lambda r: r["metadata"]["name"]):
        if other["metadata"]["name"] == role["metadata"]["name"]:
            continue
        labels = other["metadata"].get("labels") or {}
        if any(selector.matches(labels) for selector in selectors):
            for rule in other.get("rules") or []:
                if rule not in rules:
                    rules.append(rule)
    return rules


def ensure(api: Any) -> None:
    """Create the bootstrap roles and bindings that are missing (as the API server itself)."""
    roles_resource = resources.get(RBAC_GROUP, "v1", "clusterroles")
    bindings_resource = resources.get(RBAC_GROUP, "v1", "clusterrolebindings")
    roles = cluster_roles()
    for _ in range(3):   # view feeds edit feeds admin: settle in dependency order
        for role in roles:
            if role.get("aggregationRule"):
                role["rules"] = aggregated_rules(role, roles)
    for resource, objects in ((roles_resource, roles), (bindings_resource, cluster_role_bindings())):
        for obj in objects:
            try:
                api.create(resource, None, obj)
            except StatusError as err:
                if err.code != 409:
                    raise

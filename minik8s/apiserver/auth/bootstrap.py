"""The bootstrap policy: the ClusterRoles and ClusterRoleBindings every cluster starts with.

kube-apiserver's RBAC storage creates these at start when they are missing (and
reconciles them while their ``rbac.authorization.kubernetes.io/autoupdate``
annotation is ``"true"``): ``cluster-admin`` bound to the group ``system:masters``,
the user-facing ``admin``/``edit``/``view`` (aggregated from the roles labelled
``rbac.authorization.k8s.io/aggregate-to-*``), discovery and public-info roles for
every authenticated and anonymous user, and one role per control-plane component.

The rule lists are upstream's bootstrap policy (its
``bootstrappolicy/testdata/cluster-roles.yaml``, v1.32), written out by hand for
the roles listed in ``cluster_roles()``; the certificate-approver, heapster and
kube-aggregator roles are left out. Rules for groups minik8s does not serve
(``extensions``, ``certificates.k8s.io``) are kept: they grant nothing here, and
``kubectl describe clusterrole edit`` reads as on a real cluster.

Interface: ``cluster_roles() -> list[dict]``; ``cluster_role_bindings() -> list[dict]``;
``ensure(api)`` creates what is missing and repairs what lacks a bootstrap rule, label or
subject (upstream's reconciliation; an object annotated ``autoupdate: "false"`` is left alone).
Invariants: ``admin``/``edit``/``view`` are created with their aggregated rules
already filled in, so RBAC works before the aggregation controller first runs.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.aggregation import aggregated_rules  # shared with the aggregation controller
from minik8s.apiserver.auth.rbac import covers

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
    _rule(["extensions"], ["daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                           "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets",
                           "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"], READ),
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
    _rule(["extensions"], ["daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
                           "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"],
          WRITE),
    _rule(["policy"], ["poddisruptionbudgets"], WRITE),
    _rule(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    _rule(["coordination.k8s.io"], ["leases"], ALL),
]

_ADMIN = [
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _rule([RBAC_GROUP], ["rolebindings", "roles"], ALL),
]

# What a node may do besides what the Node authorizer grants per pod (upstream's NodeRules; the
# system:node ClusterRole holds the same rules but is bound to nobody).
NODE_RULES = [
    _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
    _rule(["authorization.k8s.io"], ["localsubjectaccessreviews", "subjectaccessreviews"], ["create"]),
    _rule([""], ["services"], READ),
    _rule([""], ["nodes"], ["create", "get", "list", "watch"]),
    _rule([""], ["nodes/status"], ["patch", "update"]),
    _rule([""], ["nodes"], ["patch", "update"]),
    _rule([""], ["events"], ["create", "patch", "update"]),
    _rule([""], ["pods"], READ),
    _rule([""], ["pods"], ["create", "delete"]),
    _rule([""], ["pods/status"], ["patch", "update"]),
    _rule([""], ["pods/eviction"], ["create"]),
    _rule([""], ["configmaps", "secrets"], READ),
    _rule([""], ["persistentvolumeclaims", "persistentvolumes"], ["get"]),
    _rule([""], ["endpoints"], ["get"]),
    _rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", "get", "list", "watch"]),
    _rule(["coordination.k8s.io"], ["leases"], ["create", "delete", "get", "patch", "update"]),
    _rule(["storage.k8s.io"], ["volumeattachments"], ["get"]),
    _rule([""], ["serviceaccounts/token"], ["create"]),
    _rule([""], ["persistentvolumeclaims/status"], ["get", "patch", "update"]),
    _rule(["storage.k8s.io"], ["csidrivers"], READ),
    _rule(["storage.k8s.io"], ["csinodes"], ["create", "delete", "get", "patch", "update"]),
    _rule(["node.k8s.io"], ["runtimeclasses"], READ),
]
# The rules the Node authorizer applies itself, per node, instead of these broad ones.
NODE_SCOPED = {("", "configmaps"), ("", "secrets"), ("", "persistentvolumeclaims"), ("", "persistentvolumes"),
               ("", "serviceaccounts/token"), ("", "pods")}


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
        # metrics-server's manifest: whoever may view pods may read their metrics (kubectl top).
        _role("system:aggregated-metrics-reader", [_rule(["metrics.k8s.io"], ["pods", "nodes"], READ)],
              {"k8s-app": "metrics-server", AGGREGATE + "admin": "true", AGGREGATE + "edit": "true",
               AGGREGATE + "view": "true"}),
        _role("system:basic-user", [
            _rule(["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"], ["create"]),
            _rule(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"])]),
        _role("system:discovery", [_urls(["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                                          "/openapi/*", "/readyz", "/version", "/version/"])]),
        _role("system:public-info-viewer", [_urls(["/healthz", "/livez", "/readyz", "/version", "/version/"])]),
        _role("system:monitoring", [_urls(["/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                                           "/metrics/slis", "/readyz", "/readyz/*"])]),
        _role("system:service-account-issuer-discovery", [
            _urls(["/.well-known/openid-configuration", "/openid/v1/jwks"])]),
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
            _rule([""], ["pods"], ["delete", "get", "list", "watch"]),
            _rule([""], ["bindings", "pods/binding"], ["create"]),
            _rule([""], ["pods/status"], ["patch", "update"]),
            _rule([""], ["replicationcontrollers", "services"], READ),
            _rule(["apps", "extensions"], ["replicasets"], READ),
            _rule(["apps"], ["statefulsets"], READ),
            _rule(["policy"], ["poddisruptionbudgets"], READ),
            _rule([""], ["persistentvolumeclaims", "persistentvolumes"], READ),
            _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
            _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
            _rule(["storage.k8s.io"], ["csinodes"], READ),
            _rule([""], ["namespaces"], READ),
            _rule(["storage.k8s.io"], ["csidrivers"], READ),
            _rule(["storage.k8s.io"], ["csistoragecapacities"], READ)]),
        _role("system:volume-scheduler", [
            _rule([""], ["persistentvolumes"], ["get", "list", "patch", "update", "watch"]),
            _rule(["storage.k8s.io"], ["storageclasses"], READ),
            _rule([""], ["persistentvolumeclaims"], ["get", "list", "patch", "update", "watch"])]),
        _role("system:kube-dns", [_rule([""], ["endpoints", "services"], ["list", "watch"])]),
        _role("system:kubelet-api-admin", [
            _rule([""], ["nodes"], READ),
            _rule([""], ["nodes"], ["proxy"]),
            _rule([""], ["nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats"], ["*"])]),
        _role("system:node-bootstrapper", [
            _rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["create", "get", "list", "watch"])]),
        # Who may ask for a kubelet client certificate that is then approved automatically: kubeadm binds
        # nodeclient to its joining tokens' group and selfnodeclient to system:nodes (renewals).
        _role("system:certificates.k8s.io:certificatesigningrequests:nodeclient", [
            _rule(["certificates.k8s.io"], ["certificatesigningrequests/nodeclient"], ["create"])]),
        _role("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", [
            _rule(["certificates.k8s.io"], ["certificatesigningrequests/selfnodeclient"], ["create"])]),
        _role("system:node-problem-detector", [
            _rule([""], ["nodes"], ["get"]),
            _rule([""], ["nodes/status"], ["patch"]),
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"])]),
        _role("system:persistent-volume-provisioner", [
            _rule([""], ["persistentvolumes"], ["create", "delete", "get", "list", "watch"]),
            _rule([""], ["persistentvolumeclaims"], ["get", "list", "update", "watch"]),
            _rule(["storage.k8s.io"], ["storageclasses"], READ),
            _rule([""], ["events"], ["watch"]),
            _rule(["", "events.k8s.io"], ["events"], ["create", "patch", "update"])]),
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
        _binding("system:kube-dns", "system:kube-dns", ("ServiceAccount", "kube-system/kube-dns")),
        _binding("system:volume-scheduler", "system:volume-scheduler", ("User", "system:kube-scheduler")),
    ]


def ensure(api: Any) -> None:
    """Create the bootstrap roles and bindings that are missing, and repair the ones whose
    ``autoupdate`` annotation is not ``"false"`` (as the API server itself, at every start)."""
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
                _reconcile(api, resource, obj)


def _reconcile(api: Any, resource: Any, expected: dict[str, Any]) -> None:
    """Upstream's reconciliation: put back what a stored bootstrap object lacks (labels, annotations,
    rules not covered, aggregation selectors, subjects), keep what was added, unless the object says
    ``rbac.authorization.kubernetes.io/autoupdate: "false"``."""
    current = api.get(resource, None, expected["metadata"]["name"])
    meta = current["metadata"]
    if (meta.get("annotations") or {}).get("rbac.authorization.kubernetes.io/autoupdate") == "false":
        return
    changed = dict(current, metadata=dict(meta))
    for key in ("labels", "annotations"):
        merged = {**(meta.get(key) or {}), **{k: v for k, v in expected["metadata"][key].items()
                                               if k not in (meta.get(key) or {})}}
        if merged != (meta.get(key) or {}):
            changed["metadata"][key] = merged
    if expected["kind"] == "ClusterRole" and expected.get("aggregationRule"):
        selectors = list((current.get("aggregationRule") or {}).get("clusterRoleSelectors") or [])
        selectors += [s for s in expected["aggregationRule"]["clusterRoleSelectors"] if s not in selectors]
        changed["aggregationRule"] = {"clusterRoleSelectors": selectors}
    elif expected["kind"] == "ClusterRole":
        held = current.get("rules") or []
        changed["rules"] = held + [rule for rule in expected["rules"] if covers(held, rule)]
    else:
        subjects = list(current.get("subjects") or [])
        subjects += [s for s in expected.get("subjects") or [] if s not in subjects]
        if subjects:
            changed["subjects"] = subjects
    if changed != current:
        api.update(resource, None, meta["name"], changed)

"""The resource registry: every kind the API server serves.

A Kubernetes API is a set of *resources*. Each has a group and version
(``apps/v1``), a kind (``Deployment``), a plural used in URLs
(``/apis/apps/v1/namespaces/default/deployments``), a singular, short names that
kubectl accepts (``deploy``), a scope (namespaced or cluster-wide) and the
subresources it offers (``status``, ``scale``, ``binding``, ``log``...).

Interface:
    RESOURCES                       # every Resource, in discovery order
    lookup("deploy")                # by plural, singular, short name or kind (case-insensitive),
    lookup("deployments.apps")      #   optionally qualified by group
    by_kind("apps/v1", "Deployment")
    by_plural("apps", "v1", "deployments")      # None when it does not exist
    get("apps", "v1", "deployments")            # a KeyError when it does not exist
    resource.path(namespace, name, subresource)   # the REST path

Invariant: (group, plural) is unique, and so is (apiVersion, kind).

Taught in chapter 3 (kubectl and describing objects) and chapter 2 (architecture).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    singular: str = field(default="")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def name(self) -> str:
        """``singular`` (e.g. ``pod``), as kubectl prints it in ``pod/nginx created``."""
        return self.singular or self.kind.lower()

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: how upstream names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def kind_ref(self) -> str:
        """``pod`` or ``deployment.apps``: the prefix of kubectl's ``deployment.apps/nginx created``."""
        return f"{self.name}.{self.group}" if self.group else self.name

    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        parts = [self.prefix()]
        if self.namespaced and namespace:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name:
            parts.append(name)
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


def _r(group: str, version: str, kind: str, plural: str, namespaced: bool = True, short: tuple[str, ...] = (),
       sub: tuple[str, ...] = (), cat: tuple[str, ...] = (), verbs: tuple[str, ...] = ALL_VERBS) -> Resource:
    return Resource(group, version, kind, plural, namespaced, short, sub, cat, verbs, kind.lower())


# The kinds of the seed's outline, and the ones the controllers behind them need.
RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r("", "v1", "Binding", "bindings", verbs=("create",)),
    _r("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    _r("", "v1", "Endpoints", "endpoints", short=("ep",)),
    _r("", "v1", "Event", "events", short=("ev",)),
    _r("", "v1", "LimitRange", "limitranges", short=("limits",)),
    _r("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",), sub=("status", "finalize"),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _r("", "v1", "Node", "nodes", namespaced=False, short=("no",), sub=("status", "proxy")),
    _r("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=("pvc",), sub=("status",)),
    _r("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short=("pv",), sub=("status",)),
    _r("", "v1", "Pod", "pods", short=("po",), cat=("all",),
       sub=("attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy",
            "status")),
    _r("", "v1", "ReplicationController", "replicationcontrollers", short=("rc",), cat=("all",),
       sub=("scale", "status")),
    _r("", "v1", "ResourceQuota", "resourcequotas", short=("quota",), sub=("status",)),
    _r("", "v1", "Secret", "secrets"),
    _r("", "v1", "ServiceAccount", "serviceaccounts", short=("sa",), sub=("token",)),
    _r("", "v1", "Service", "services", short=("svc",), cat=("all",), sub=("proxy", "status")),
    # apps/v1
    _r("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _r("apps", "v1", "DaemonSet", "daemonsets", short=("ds",), cat=("all",), sub=("status",)),
    _r("apps", "v1", "Deployment", "deployments", short=("deploy",), cat=("all",), sub=("scale", "status")),
    _r("apps", "v1", "ReplicaSet", "replicasets", short=("rs",), cat=("all",), sub=("scale", "status")),
    _r("apps", "v1", "StatefulSet", "statefulsets", short=("sts",), cat=("all",), sub=("scale", "status")),
    # authentication.k8s.io/v1: reviews, asked and answered, never stored
    _r("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", namespaced=False, verbs=("create",)),
    _r("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", namespaced=False, verbs=("create",)),
    # authorization.k8s.io/v1: access reviews, create-only and never stored (apiserver/auth/reviews.py)
    _r("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews", verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", namespaced=False,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", namespaced=False,
       verbs=("create",)),
    _r("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", namespaced=False,
       verbs=("create",)),
    # autoscaling/v2
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), cat=("all",),
       sub=("status",)),
    # batch/v1
    _r("batch", "v1", "CronJob", "cronjobs", short=("cj",), cat=("all",), sub=("status",)),
    _r("batch", "v1", "Job", "jobs", cat=("all",), sub=("status",)),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), sub=("status",)),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)),
)

_BY_PLURAL = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_KIND = {(r.api_version, r.kind): r for r in RESOURCES}
_BY_GROUP_PLURAL = {(r.group, r.plural): r for r in RESOURCES}

# When a bare name matches several groups, kubectl prefers the core group, then the
# order of discovery; RESOURCES is already in that order.
_ALIASES: dict[str, list[Resource]] = {}
for _res in RESOURCES:
    for _alias in {_res.plural, _res.name, _res.kind.lower(), *_res.short_names}:
        _ALIASES.setdefault(_alias, []).append(_res)


def groups() -> list[tuple[str, str]]:
    """The (group, version) pairs served, core first, in discovery order."""
    seen: list[tuple[str, str]] = []
    for res in RESOURCES:
        if (res.group, res.version) not in seen:
            seen.append((res.group, res.version))
    return seen


def by_plural(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PLURAL.get((group, version, plural))


def get(group: str, version: str, plural: str) -> Resource:
    """A resource that must exist (for the constants modules keep, e.g. ``PODS = get("", "v1", "pods")``)."""
    found = _BY_PLURAL.get((group, version, plural))
    if found is None:
        raise KeyError(f"no resource {plural!r} in {group or 'core'}/{version}")
    return found


def by_kind(api_version: str, kind: str) -> Resource | None:
    return _BY_KIND.get((api_version, kind))


def lookup(text: str) -> Resource | None:
    """Resolve what a user types after ``kubectl get``: ``po``, ``pods``, ``Pod``, ``deployments.apps``,
    ``deployments.v1.apps``. Returns None when nothing matches."""
    text = text.strip()
    lowered = text.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered][0]
    if "." in lowered:
        name, _, rest = lowered.partition(".")
        version, _, group = rest.partition(".")
        for candidate in _ALIASES.get(name, []):
            if candidate.group == rest or (candidate.version == version and candidate.group == group):
                return candidate
    return None


def of_object(obj: dict) -> Resource | None:
    """The resource an object belongs to, from its apiVersion and kind."""
    return by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))


def in_category(category: str) -> list[Resource]:
    return [r for r in RESOURCES if category in r.categories]

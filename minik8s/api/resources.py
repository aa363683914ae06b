"""The resource registry: every kind the API server serves.

A Kubernetes API is a set of *resources*. Each has a group and version
(``apps/v1``), a kind (``Deployment``), a plural used in URLs
(``/apis/apps/v1/namespaces/default/deployments``), a singular, short names that
kubectl accepts (``deploy``), a scope (namespaced or cluster-wide) and the
subresources it offers (``status``, ``scale``, ``binding``, ``log``...).

Interface:
    RESOURCES                       # every built-in Resource, in discovery order
    lookup("deploy")                # by plural, singular, short name or kind (case-insensitive),
    lookup("deployments.apps")      #   optionally qualified by group
    by_kind("apps/v1", "Deployment")
    by_plural("apps", "v1", "deployments")      # None when it does not exist
    get("apps", "v1", "deployments")            # a KeyError when it does not exist
    resource.path(namespace, name, subresource)   # the REST path
    Registry()                      # one API server's resources: the built-ins plus its custom resources,
                                    #   with the same lookups, register()/unregister() and a generation

The module-level functions look up the built-in resources (``BUILTIN``); an API server's
request dispatch uses its own ``Registry``.

Invariant: in a registry, (group, version, plural) is unique, and so is (apiVersion, kind); a custom
resource served in several versions has one Resource per version.
A resource that names another in ``stored_as`` has no objects of its own: it serves the other one's
(events.k8s.io/v1 Events are the core v1 Events, converted by ``minik8s.api.events``).

Taught in chapter 3 (kubectl and describing objects) and chapter 2 (architecture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

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
    # The OpenAPI v3 schema of the object, for resources defined at runtime (a CRD's version).
    schema: dict | None = field(default=None, compare=False, hash=False, repr=False)
    # Another representation of objects stored under another resource: events.k8s.io/v1 Events are the
    # core v1 Events (``stored_as="events"``), converted on every read and write (see api/events.py).
    stored_as: str = ""

    @property
    def storage_name(self) -> str:
        """The store's name for this resource's objects: ``qualified``, or the resource it shares them with."""
        return self.stored_as or self.qualified

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
       sub: tuple[str, ...] = (), cat: tuple[str, ...] = (), verbs: tuple[str, ...] = ALL_VERBS,
       stored_as: str = "") -> Resource:
    return Resource(group, version, kind, plural, namespaced, short, sub, cat, verbs, kind.lower(),
                    stored_as=stored_as)


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
    # admissionregistration.k8s.io/v1: admission webhooks (apiserver/admission/webhook.py)
    _r("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
       namespaced=False, cat=("api-extensions",)),
    _r("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations",
       namespaced=False, cat=("api-extensions",)),
    # apiregistration.k8s.io/v1: the aggregation layer's APIServices (apiserver/aggregator.py)
    _r("apiregistration.k8s.io", "v1", "APIService", "apiservices", namespaced=False, sub=("status",),
       cat=("api-extensions",)),
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
    # autoscaling/v2, and v1: the same stored objects in their older shape (api/autoscaling.py converts)
    _r("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), cat=("all",),
       sub=("status",)),
    _r("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=("hpa",), cat=("all",),
       sub=("status",), stored_as="horizontalpodautoscalers.autoscaling"),
    # batch/v1
    _r("batch", "v1", "CronJob", "cronjobs", short=("cj",), cat=("all",), sub=("status",)),
    _r("batch", "v1", "Job", "jobs", cat=("all",), sub=("status",)),
    # certificates.k8s.io/v1: certificate signing requests (apiserver/certificates.py; the approving and
    # signing controllers: controllers/csrapproving.py, controllers/csrsigning.py)
    _r("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", namespaced=False,
       short=("csr",), sub=("approval", "status")),
    # coordination.k8s.io/v1
    _r("coordination.k8s.io", "v1", "Lease", "leases"),
    # discovery.k8s.io/v1
    _r("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    # events.k8s.io/v1: the core Events in their newer shape (api/events.py converts between the two)
    _r("events.k8s.io", "v1", "Event", "events", short=("ev",), stored_as="events"),
    # networking.k8s.io/v1
    _r("networking.k8s.io", "v1", "IngressClass", "ingressclasses", namespaced=False),
    _r("networking.k8s.io", "v1", "Ingress", "ingresses", short=("ing",), sub=("status",)),
    _r("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=("netpol",)),
    # policy/v1: PodDisruptionBudgets (controllers/disruption.py; the Eviction API honours them)
    _r("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=("pdb",), sub=("status",)),
    # rbac.authorization.k8s.io/v1
    _r("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _r("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    # scheduling.k8s.io/v1: PriorityClasses (apiserver/admission/priority.py)
    _r("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", namespaced=False, short=("pc",)),
    # storage.k8s.io/v1
    _r("storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short=("sc",)),
    # apiextensions.k8s.io/v1: CustomResourceDefinitions add resources at runtime (apiserver/apiextensions)
    _r("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False,
       short=("crd", "crds"), sub=("status",), cat=("api-extensions",)),
)

class Registry:
    """The resources one API server serves: the built-in ones and those added at runtime (custom resources,
    registered from CustomResourceDefinitions). Each API server owns one, so clusters in one process never
    see each other's custom resources; ``generation`` grows on every change, and caches key on
    ``(registry, generation)``."""

    def __init__(self, builtin: tuple[Resource, ...] = RESOURCES):
        self._builtin = builtin
        self.resources: tuple[Resource, ...] = builtin
        self.generation = 0
        self._by_plural: dict[tuple[str, str, str], Resource] = {}
        self._by_kind: dict[tuple[str, str], Resource] = {}
        # When a bare name matches several groups, kubectl prefers the core group, then the
        # order of discovery; ``resources`` is already in that order.
        self._aliases: dict[str, list[Resource]] = {}
        self._index()

    def _index(self) -> None:
        self._by_plural = {(r.group, r.version, r.plural): r for r in self.resources}
        self._by_kind = {(r.api_version, r.kind): r for r in self.resources}
        aliases: dict[str, list[Resource]] = {}
        for res in self.resources:
            for alias in {res.plural, res.name, res.kind.lower(), *res.short_names}:
                aliases.setdefault(alias, []).append(res)
        self._aliases = aliases
        self.generation += 1

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def register(self, resource: Resource) -> None:
        """Serve ``resource`` from now on (a custom resource's version), replacing any registration of the
        same group/version/plural. Built-in resources cannot be replaced."""
        key = (resource.group, resource.version, resource.plural)
        if any((r.group, r.version, r.plural) == key for r in self._builtin):
            raise ValueError(f"{resource.plural}.{resource.group or 'core'}/{resource.version} is built in")
        self.resources = tuple(r for r in self.resources if (r.group, r.version, r.plural) != key) + (resource,)
        self._index()

    def unregister(self, resource: Resource) -> None:
        """Stop serving a registered resource (matched by group/version/plural); a no-op if it is not served."""
        if resource in self._builtin:
            raise ValueError(f"{resource.qualified}/{resource.version} is built in")
        key = (resource.group, resource.version, resource.plural)
        self.resources = tuple(r for r in self.resources if (r.group, r.version, r.plural) != key)
        self._index()

    def groups(self) -> list[tuple[str, str]]:
        """The (group, version) pairs served, core first, in discovery order."""
        seen: dict[tuple[str, str], None] = {}
        for res in self.resources:
            seen.setdefault((res.group, res.version))
        return list(seen)

    def by_plural(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_plural.get((group, version, plural))

    def get(self, group: str, version: str, plural: str) -> Resource:
        """A resource that must exist (for the constants modules keep, e.g. ``PODS = get("", "v1", "pods")``)."""
        found = self._by_plural.get((group, version, plural))
        if found is None:
            raise KeyError(f"no resource {plural!r} in {group or 'core'}/{version}")
        return found

    def by_kind(self, api_version: str, kind: str) -> Resource | None:
        return self._by_kind.get((api_version, kind))

    def lookup(self, text: str) -> Resource | None:
        """Resolve what a user types after ``kubectl get``: ``po``, ``pods``, ``Pod``, ``deployments.apps``,
        ``deployments.v1.apps``. Returns None when nothing matches."""
        lowered = text.strip().lower()
        if lowered in self._aliases:
            return self._aliases[lowered][0]
        if "." in lowered:
            name, _, rest = lowered.partition(".")
            version, _, group = rest.partition(".")
            for candidate in self._aliases.get(name, []):
                if candidate.group == rest or (candidate.version == version and candidate.group == group):
                    return candidate
        return None

    def of_object(self, obj: dict) -> Resource | None:
        """The resource an object belongs to, from its apiVersion and kind."""
        return self.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def in_category(self, category: str) -> list[Resource]:
        return [r for r in self.resources if category in r.categories]


# The built-in resources, which every API server serves; the functions below look them up.
BUILTIN = Registry()
# The built-ins never change (custom resources live in each API server's own Registry).
generation = BUILTIN.generation


def groups() -> list[tuple[str, str]]:
    """The built-in (group, version) pairs, core first, in discovery order."""
    return BUILTIN.groups()


def by_plural(group: str, version: str, plural: str) -> Resource | None:
    return BUILTIN.by_plural(group, version, plural)


def get(group: str, version: str, plural: str) -> Resource:
    """A built-in resource that must exist (e.g. ``PODS = get("", "v1", "pods")``); a KeyError otherwise."""
    return BUILTIN.get(group, version, plural)


def by_kind(api_version: str, kind: str) -> Resource | None:
    return BUILTIN.by_kind(api_version, kind)


def lookup(text: str) -> Resource | None:
    """A built-in resource as typed after ``kubectl get`` (see :meth:`Registry.lookup`)."""
    return BUILTIN.lookup(text)


def of_object(obj: dict) -> Resource | None:
    """The built-in resource an object belongs to, from its apiVersion and kind."""
    return BUILTIN.of_object(obj)


def in_category(category: str) -> list[Resource]:
    return BUILTIN.in_category(category)

"""The API server: the only door to the cluster's state.

Every component, kubectl and the notebooks change the cluster by asking the API
server, and every request takes the same path, as in kube-apiserver:

    decode (field validation: unknown and duplicate fields refused, warned about
    or dropped) → admission (the namespace exists and
    is not terminating) → server-set metadata (uid, creationTimestamp, generation)
    → defaulting → validation → the store (optimistic concurrency on
    resourceVersion) → watchers are told.

Nothing reaches the store half-written: a request either passes every step or
fails with a Status error and changes nothing.

Interface (all methods raise :class:`minik8s.api.errors.StatusError`):
    create(resource, namespace, body, *, subresource=None, dry_run=False, field_validation="Warn",
           strict_errors=(), warnings=None)
    get(resource, namespace, name, *, subresource=None)
    list(resource, namespace, *, label_selector="", field_selector="", limit=0, continue_="",
         resource_version="", resource_version_match="")
    update(resource, namespace, name, body, *, subresource=None, ...)
    patch(resource, namespace, name, patch_type, patch, *, subresource=None, ...)
    server_side_apply(resource, namespace, name, config, *, field_manager, force=None, ...) -> (obj, created)
    delete(resource, namespace, name, *, propagation_policy=None, grace_period_seconds=None, ...)
    delete_collection(resource, namespace, *, label_selector="", field_selector="")
    watch(resource, namespace, callback, *, resource_version="", label_selector="", field_selector="")

Field validation (the ``fieldValidation`` query parameter) is upstream's: unknown
fields, and the duplicate fields the parser found (``strict_errors``), are refused
with 400 under ``Strict``, dropped with one warning each under ``Warn`` (the
default when a client sends nothing, as upstream), and dropped silently under
``Ignore``. Warnings are appended to the caller's ``warnings`` list; the HTTP layer
sends them as ``Warning`` headers. kubectl (and minik8s's own clients) ask for Strict.

Every write names its ``field_manager``, recorded in ``metadata.managedFields`` by
:mod:`minik8s.apiserver.fieldmanager`; ``dry_run`` writes go through every step but the store.

Taught in chapter 2 (architecture) and chapter 3 (kubectl and objects).
"""

from __future__ import annotations

import asyncio
import builtins
import base64
import functools
import random
import threading
from typing import Any, Callable, Generator, Protocol, Sequence

import orjson

from minik8s.api.objects import deep_copy
from minik8s.api import autoscaling, errors, events, metrics, patch as patches, resources, schema, selectors, storage
from minik8s.api.defaults import apply_defaults, job_selector_defaults
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.validation import validate
from minik8s.apiserver import certificates, eviction, fieldmanager, strategy
from minik8s.apiserver.admission import ObjectCountQuota
from minik8s.apiserver.admission.limitranger import LimitRanger
from minik8s.apiserver.admission.podsecurity import PodSecurity
from minik8s.apiserver.admission.defaultingressclass import DefaultIngressClass
from minik8s.apiserver.admission.priority import Priority, ensure_system_classes
from minik8s.apiserver.admission.pvcresize import PersistentVolumeClaimResize
from minik8s.apiserver.admission.resourcequota import ResourceQuotaAdmission
from minik8s.apiserver.admission.chain import CREATE, DELETE, UPDATE, Attributes, Chain
from minik8s.apiserver.auth import bootstrap, reviews
from minik8s.apiserver.auth.authorization import Authorizer
from minik8s.apiserver.auth.node import NodeAuthorizer
from minik8s.apiserver.auth.rbac import Escalation, RBACAuthorizer, UnionAuthorizer
from minik8s.apiserver.auth.context import current_user
from minik8s.apiserver.auth.requestinfo import RequestInfo
from minik8s.apiserver.auth.serviceaccounts import TokenIssuer, self_subject_review
from minik8s.apiserver.admission.serviceaccount import ServiceAccountAdmission
from minik8s.apiserver.admission.webhook import Webhooks
from minik8s.apiserver.nodeproxy import NodeConnections
from minik8s.apiserver.apiextensions.handler import CRDS, CRDHandler, create_refused
from minik8s.apiserver import kubernetesservice, serviceallocator
from minik8s.apiserver.serviceallocator import ServiceAllocator, Transaction
from minik8s.addresses import service_cidr as default_service_cidr
from minik8s.clock import Clock, RealClock, new_uid, random_suffix, rfc3339
from minik8s.store import (AlreadyExistsError, CompactedError, ConflictError, Entry, Event, Store)

NAMESPACES = resources.get("", "v1", "namespaces")
PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")
STORAGE_CLASSES = resources.get("storage.k8s.io", "v1", "storageclasses")
SERVICES = resources.get("", "v1", "services")
SERVICE_ACCOUNTS = resources.get("", "v1", "serviceaccounts")
TOKEN_REVIEWS = resources.get("authentication.k8s.io", "v1", "tokenreviews")
SELF_SUBJECT_REVIEWS = resources.get("authentication.k8s.io", "v1", "selfsubjectreviews")
CSRS = resources.get("certificates.k8s.io", "v1", "certificatesigningrequests")
# Objects the cluster makes for itself in every namespace: their uids come from the server's own
# generator, so they do not shift the seeded names and uids of what users create.
SYSTEM_OBJECTS = {("serviceaccounts", "default"), ("configmaps", "kube-root-ca.crt")}
# Objects a built-in component makes once at start (the ingress controller's IngressClass) get a uid from
# a generator of their own, so a seeded cluster names and numbers everything else as it would without them.
COMPONENT_OBJECTS = {("ingressclasses", "minik8s"), ("configmaps", "cluster-info")}
# ... as do the RBAC objects kubeadm's bootstrap-token phase makes when the API is first served (minik8s.kubeadm).
KUBEADM_RBAC = ("roles", "rolebindings", "clusterroles", "clusterrolebindings")


def _component_object(plural: str, name: str | None) -> bool:
    return (plural, name) in COMPONENT_OBJECTS or (plural in KUBEADM_RBAC and str(name).startswith("kubeadm:"))
assert NAMESPACES and PODS and NODES and STORAGE_CLASSES

# The namespaces every cluster starts with.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

# Finalizers the API server and garbage collector understand.
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"

WatchCallback = Callable[[dict[str, Any]], None]

# A LIST takes the store's lock for this many keys at a time (then goes on at the same revision), so a large
# LIST read on a worker thread never keeps a write waiting long.
LIST_SCAN = 1000

# Built-in kinds served in a second shape, (group, version) -> (stored to served, served to stored).
_CONVERSIONS: dict[tuple[str, str], tuple[Callable[[dict[str, Any]], dict[str, Any]],
                                          Callable[[dict[str, Any]], dict[str, Any]]]] = {
    (events.GROUP, "v1"): (events.to_events_v1, events.to_core),
    (autoscaling.GROUP, "v1"): (autoscaling.to_v1, autoscaling.to_v2),
}


class MetricsProvider(Protocol):
    """What serves ``metrics.k8s.io`` (:class:`minik8s.metrics.server.MetricsServer`): the PodMetrics of
    a namespace's pods (all namespaces when None; one pod when ``name`` is given) and the NodeMetrics of
    the nodes, of those the selectors match and that have metrics. A pod or node that does not exist is
    its own 404 (``pods "web" not found``), as metrics-server answers."""

    def pod_metrics(self, namespace: str | None, name: str | None, label_selector: str,
                    field_selector: str) -> builtins.list[dict[str, Any]]: ...

    def node_metrics(self, name: str | None, label_selector: str,
                     field_selector: str) -> builtins.list[dict[str, Any]]: ...


def _key(resource: Resource, namespace: str | None, name: str) -> tuple[str, str, str]:
    return (resource.storage_name, namespace or "" if resource.namespaced else "", name)


class Filter:
    """A parsed label + field selector for one resource, matched against objects as stored."""

    def __init__(self, resource: Resource, label_selector: str = "", field_selector: str = ""):
        self.resource = resource
        try:
            self.labels = selectors.parse_label_selector(label_selector or "")
            fields = selectors.parse_field_selector(field_selector or "")
            if resource.group == events.GROUP:   # matched against the stored core Events, in their names
                fields = events.field_selector(fields)
            self.fields = selectors.check_field_selector(resource.plural, fields)
        except ValueError as exc:
            raise errors.bad_request(str(exc)) from None
        self.everything = not (label_selector or "").strip() and not (field_selector or "").strip()

    def entry_test(self) -> tuple[Callable[[Entry], bool] | None, tuple[str, str] | None]:
        """What a store's page keeps: a test of a stored entry (None: all), which reads the labels kept beside
        it and decodes the object only for a field selector; and a ``label=value`` every match carries, for
        the store's label index (None when the selector pins none)."""
        if self.everything:
            return None, None
        labels, fields, plural = self.labels, self.fields, self.resource.plural
        exact = [(r.key, r.values[0]) for r in labels.requirements
                 if r.operator in (selectors.EQUALS, selectors.DOUBLE_EQUALS, selectors.IN) and len(r.values) == 1]
        pinned = exact[0] if exact else None
        if fields.empty and not labels.select_nothing and len(exact) == len(labels.requirements) == 1:
            key, value = exact[0]   # the common case, app=web: one look-up
            return (lambda entry: entry.labels.get(key) == value), pinned   # type: ignore[union-attr]
        if fields.empty:
            return (lambda entry: labels.matches(entry.labels)), pinned

        def keep(entry: Entry) -> bool:
            return (labels.matches(entry.labels)
                    and fields.matches(selectors.object_fields(plural, orjson.loads(entry.raw))))
        return keep, pinned

    def matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        if self.everything:
            return True
        meta = obj.get("metadata") or {}
        if not self.labels.matches(meta.get("labels") or {}):
            return False
        return self.fields.matches(selectors.object_fields(self.resource.plural, obj))


@functools.lru_cache(maxsize=256)
def parsed_filter(resource: Resource, label_selector: str, field_selector: str) -> Filter:
    """A :class:`Filter`, parsed once for the many LISTs that ask for the same selection (a Filter is never
    changed once made)."""
    return Filter(resource, label_selector, field_selector)


class APIServer:
    """The generic REST verbs over the store, with admission, defaulting and validation."""

    def __init__(self, store: Store | None = None, clock: Clock | None = None, rng: random.Random | None = None, *,
                 service_cidr: str | None = None,
                 node_port_range: str = serviceallocator.DEFAULT_NODE_PORT_RANGE):
        """``service_cidr``: ``--service-cluster-ip-range`` (default: the process runtime's, see
        :mod:`minik8s.addresses`); ``node_port_range``: ``--service-node-port-range``."""
        self.store = store or Store()
        self.clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.service_cidr = service_cidr or default_service_cidr("process")
        # The server's own draws (ClusterIPs, node ports, the uids of the objects it makes itself) come
        # from a generator seeded from ``rng`` without drawing from it, so a seeded cluster generates the
        # same pod names and uids, and schedules the same way, whether or not it has Services.
        self._own_rng = random.Random(repr(self.rng.getstate()))
        # The objects the cluster makes in every namespace (default ServiceAccounts, kube-root-ca.crt) and
        # the kube-api-access-xxxxx suffixes draw from yet another one, so ClusterIPs stay as they were too.
        self._system_rng = random.Random(repr(self.rng.getstate()) + "/system")
        self._component_seed = repr(self.rng.getstate()) + "/component/"
        # ClusterIPs and node ports, rebuilt from the stored Services (a restart keeps them).
        self.services = ServiceAllocator(self.service_cidr, node_port_range, self._own_rng)
        self.services.restore(self.store.list(SERVICES.qualified)[0])
        # The change being told to watchers, decoded once for all of them (see _decoded).
        self._event_memo: builtins.list[Any] = [None, None, None, {}]
        # One writer at a time keeps read-modify-write verbs (patch, delete) atomic.
        self._lock = threading.RLock()
        # Kubelets register here, so logs and exec can reach a pod's node.
        self.nodes = NodeConnections()
        self.object_counts = ObjectCountQuota(self.store)  # admission: a default per-namespace quota
        # Who may do what: asked by the HTTP filters, and by the in-process client acting as a user.
        # kube-apiserver's --authorization-mode=Node,RBAC; RBAC's storage refuses privilege escalation.
        self.rbac = RBACAuthorizer(self.store)
        self.authorizer: Authorizer = UnionAuthorizer(NodeAuthorizer(self.store), self.rbac)
        # ServiceAccount tokens: signed and checked here (a key made in memory until a server gives one).
        self.tokens = TokenIssuer(self)
        # How TokenReview checks a bearer token: whoever serves the API sets its authenticator's
        # ``authenticate_token(token, audiences)`` (static tokens too); None: ServiceAccount tokens only.
        self.authenticate_token: Callable[[str, Any], Any] | None = None
        # The cluster CA, once the API is served over HTTPS (the root CA publisher spreads it).
        self.root_ca_pem: bytes | None = None
        # The admission plugins every write passes (mutating, then validating; see admission.chain), in
        # upstream's order: LimitRanger, ServiceAccount, PodSecurity, ..., ResourceQuota last (it charges
        # the quota as it admits, so nothing may refuse after it). RBAC's escalation check is part of
        # upstream's RBAC storage; here it is a plugin before the quota.
        self.admission = Chain()
        self.admission.add(LimitRanger(self))
        self.admission.add(ServiceAccountAdmission(self))
        self.admission.add(Priority(self))   # priorityClassName -> spec.priority, before the quota reads it
        self.admission.add(PodSecurity(self))
        self.admission.add(DefaultIngressClass(self))   # an Ingress without a class gets the default one
        self.admission.add(PersistentVolumeClaimResize(self))   # who may expand a claim
        self.admission.add(Escalation(self.authorizer, self.rbac))
        self.admission.add(Webhooks(self.store))   # Mutating/ValidatingAdmissionWebhook, before the quota
        self.admission.add(ResourceQuotaAdmission(self))
        # The resources this server serves: the built-ins, and the custom resources its CRDs define.
        self.registry = resources.Registry()
        self.crds = CRDHandler(self)
        # metrics.k8s.io: answered by the metrics component once it is plugged in (serve_metrics).
        self.metrics: MetricsProvider | None = None
        self.ensure_system_namespaces()
        self.ensure_bootstrap_policy()   # cluster-admin, admin/edit/view, system:* roles and bindings
        # Until whoever serves the API says where (minik8s server does), the endpoints name 127.0.0.1:6443.
        self.ensure_kubernetes_service()

    def ensure_system_namespaces(self) -> None:
        for name in SYSTEM_NAMESPACES:
            if self.store.get_entry(_key(NAMESPACES, None, name)) is None:
                self.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def ensure_bootstrap_policy(self) -> None:
        """The bootstrap ClusterRoles and bindings (:mod:`.auth.bootstrap`), their uids drawn from a
        generator of their own: a seeded cluster names its pods and allocates its ClusterIPs as it
        would without them."""
        with self._lock:
            shared, self.rng = self.rng, random.Random(repr(self.rng.getstate()) + "/bootstrap-policy")
            try:
                bootstrap.ensure(self)
                ensure_system_classes(self)   # system-cluster-critical, system-node-critical
            finally:
                self.rng = shared

    def ensure_kubernetes_service(self, host: str = "127.0.0.1", port: int = 6443) -> None:
        """The ``kubernetes`` Service and its endpoints, pointing at ``host:port`` (see
        :mod:`minik8s.apiserver.kubernetesservice`)."""
        with self._lock:
            shared, self.rng = self.rng, self._own_rng
            try:
                kubernetesservice.ensure(self, host, port)
            finally:
                self.rng = shared

    def store_health(self) -> str | None:
        """The ``etcd`` check of ``/healthz``: None while the store answers, else why not. A backend
        that can tell (a remote one) offers ``health()``; the embedded ones answer while open."""
        check = getattr(self.store, "health", None)
        return check() if callable(check) else None

    # --- metrics.k8s.io -------------------------------------------------------------------

    def serve_metrics(self, provider: MetricsProvider) -> None:
        """Serve ``metrics.k8s.io/v1beta1`` from ``provider`` (the metrics component): its resources
        join discovery, and the aggregator registers their APIService, ``v1beta1.metrics.k8s.io``."""
        self.metrics = provider
        for res in metrics.RESOURCES:
            self.registry.register(res)

    def _metrics(self, resource: Resource, namespace: str | None, name: str | None, label_selector: str = "",
                 field_selector: str = "") -> builtins.list[dict[str, Any]]:
        """PodMetrics or NodeMetrics from the metrics component; 503 while it is not there, as the
        aggregator answers for an unavailable APIService."""
        if self.metrics is None:
            raise StatusError(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        Filter(resource, label_selector, "")   # a bad selector is a 400 here, as for any list
        if resource.plural == "pods":
            return self.metrics.pod_metrics(namespace, name, label_selector, field_selector)
        return self.metrics.node_metrics(name, label_selector, field_selector)

    def _metric(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        found = self._metrics(resource, namespace, name)
        if not found:
            raise metrics.not_found(resource, f"{namespace}/{name}" if resource.namespaced else name)
        return found[0]

    # --- reads -----------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str, *,
            subresource: str | None = None) -> dict[str, Any]:
        if resource.group == metrics.GROUP:
            return self._metric(resource, namespace, name)
        obj = self.store.get(_key(resource, namespace, name))
        if obj is None:
            raise errors.not_found(resource.group, resource.plural, name)
        obj = self._out(resource, obj)
        if subresource == "scale":
            return self._scale_of(resource, obj)
        return obj

    def get_raw(self, resource: Resource, namespace: str | None, name: str) -> bytes:
        if resource.group == metrics.GROUP:
            return orjson.dumps(self._metric(resource, namespace, name))
        entry = self.store.get_entry(_key(resource, namespace, name))
        if entry is None:
            raise errors.not_found(resource.group, resource.plural, name)
        if self._converts(resource):   # a custom object or an events.k8s.io Event: in the version asked for
            return orjson.dumps(self._out(resource, orjson.loads(entry.raw)))
        return entry.raw

    def list_items(self, resource: Resource, namespace: str | None, **options: Any
                   ) -> tuple[list[bytes], list[dict[str, Any]] | None, dict[str, Any]]:
        """The matching items' JSON, the same decoded (or None), and the list metadata, as :meth:`list_steps`
        reads them."""
        steps = self.list_steps(resource, namespace, **options)
        while True:
            try:
                next(steps)
            except StopIteration as done:
                return done.value  # type: ignore[no-any-return]

    def list_steps(self, resource: Resource, namespace: str | None, *, label_selector: str = "",
                   field_selector: str = "", limit: int = 0, continue_: str = "", resource_version: str = "",
                   resource_version_match: str = "") -> Generator[None, None, tuple[
                       list[bytes], list[dict[str, Any]] | None, dict[str, Any]]]:
        """A LIST read a slice at a time: a generator that yields between slices (the HTTP layer lets its
        event loop serve others there) and returns the matching items' JSON, the same decoded when they had
        to be (converted to the version asked for; else None), and the list metadata. Raw bytes let the HTTP
        layer answer without re-encoding every object (and a list of bytes gives Python's garbage collector
        nothing to look at, however long it is).

        Pages are upstream's: ``limit`` items at most (0: all), and a ``continue`` token when more keys
        follow, with ``remainingItemCount`` when no selector filtered; every page of one list shows the
        state at the first page's revision (410 Expired, with a token that goes on at the latest revision,
        once that revision is compacted).

        ``resource_version`` as upstream: "" or "0" (or any revision already reached, with
        ``resource_version_match`` "NotOlderThan" or unset) lists the current state; "Exact"
        lists the state at exactly that revision, from the store's history (410 Expired once
        compacted). A revision the store has not reached yet is 504 Too large resource version,
        once the store has had its moment to reach it (an etcd watch cache waits up to 3 s, as upstream's)."""
        if resource.group == metrics.GROUP:   # made on request: no revision, no pages
            found = self._metrics(resource, namespace, None, label_selector, field_selector)
            return [orjson.dumps(obj) for obj in found], found, {}
        filt = parsed_filter(resource, label_selector, field_selector)
        converts = self._converts(resource)
        ns = namespace if resource.namespaced else None
        if continue_ and resource_version not in ("", "0"):
            self._decode_continue(continue_)   # a token that is none is told first, as upstream tells it
            # The token names its revision; a second one would contradict it (clients clear it: client-go's pager).
            raise errors.bad_request("specifying resource version is not allowed when using continue")
        wanted = parse_resource_version(resource_version)
        if wanted > self.store.revision:
            self.store.wait_for_revision(wanted)
        current = self.store.revision
        if wanted > current:
            raise errors.too_large_resource_version(wanted, current)
        after: tuple[str, str] | None = None
        at: int | None = None
        if continue_:
            start, token_revision = self._decode_continue(continue_)
            after = (start[1], start[2])
            at = token_revision if token_revision > 0 else None   # -1: go on at the latest revision
        elif resource_version_match == "Exact" and wanted != current:
            at = wanted
        keep, label = filt.entry_test()
        raws: builtins.list[bytes] = []
        last: tuple[str, str, str] | None = None
        first = True
        while True:   # a page at a time, the store's lock taken for LIST_SCAN keys at most
            try:
                page = self.store.page(resource.storage_name, ns, after=after, limit=limit - len(raws) if limit else 0,
                                       at=at, keep=keep, label=label, scanned=LIST_SCAN)
            except CompactedError:
                if continue_ and first:
                    raise self._expired_continue(continue_) from None
                if first:
                    raise errors.gone("The resourceVersion for the provided list is too old.") from None
                # History moved past this very list while it was read (20,000 writes meanwhile): read it
                # again, at once, without pausing.
                return self.list_items(resource, namespace, label_selector=label_selector,
                                       field_selector=field_selector, limit=limit)
            first = False
            raws += [entry.raw for _, entry in page.pairs]
            last = page.pairs[-1][0] if page.pairs else last
            at = page.revision
            if not page.more or (limit and len(raws) >= limit):
                break
            after = page.last
            yield
        parsed: builtins.list[dict[str, Any]] | None = None
        if converts:   # a custom object or an events.k8s.io Event: in the version asked for
            parsed = []
            for n, raw in enumerate(raws):
                if n and not n % LIST_SCAN:
                    yield
                parsed.append(self._out(resource, orjson.loads(raw)))
                raws[n] = orjson.dumps(parsed[-1])
        meta: dict[str, Any] = {"resourceVersion": str(page.revision)}
        if page.more and last is not None:
            meta["continue"] = self._encode_continue(last, page.revision)
            if page.remaining is not None:   # upstream counts only when nothing is filtered out
                meta["remainingItemCount"] = page.remaining
        return raws, parsed, meta

    def _expired_continue(self, token: str) -> StatusError:
        """410 for a continue token whose revision is compacted: upstream's words, and a token that goes on
        from the same key at the latest revision (its list then is no longer one snapshot)."""
        start, _ = self._decode_continue(token)
        err = errors.gone("The provided continue parameter is too old to display a consistent list result. You can "
                          "start a new list without the continue parameter, or use the continue token in this "
                          "response to retrieve the remainder of the results. Continuing with the provided token "
                          "results in an inconsistent list - objects that were created, modified, or deleted "
                          "between the time the first chunk was returned and now may show up in the list.")
        err.list_meta = {"continue": self._encode_continue(start, -1)}
        return err

    def list(self, resource: Resource, namespace: str | None, **options: Any) -> dict[str, Any]:
        raws, parsed, meta = self.list_items(resource, namespace, **options)
        return {
            "kind": resource.list_kind,
            "apiVersion": resource.api_version,
            "metadata": meta,
            "items": parsed if parsed is not None else [orjson.loads(raw) for raw in raws],
        }

    @staticmethod
    def _encode_continue(key: tuple[str, str, str], revision: int) -> str:
        token = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": list(key)})
        return base64.urlsafe_b64encode(token).decode()

    @staticmethod
    def _decode_continue(token: str) -> tuple[tuple[str, str, str], int]:
        """A continue token's start key and revision (-1: the latest, as an expired list's token says)."""
        try:
            data = orjson.loads(base64.urlsafe_b64decode(token.encode()))
            start, revision = data["start"], data.get("rv", 0)
            if not isinstance(revision, int) or isinstance(revision, bool) or revision == 0 or revision < -1:
                raise ValueError(revision)
            return (str(start[0]), str(start[1]), str(start[2])), revision
        except (ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError):
            raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                     "(version meta.k8s.io/v1)") from None

    # --- create ------------------------------------------------------------------------

    def create(self, resource: Resource, namespace: str | None, body: Any, *, subresource: str | None = None,
               dry_run: bool = False, field_validation: str = "Warn", strict_errors: Sequence[str] = (),
               warnings: builtins.list[str] | None = None, field_manager: str = "",
               managed_fields: builtins.list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """``field_manager`` is recorded in managedFields as the writer ("": the cluster itself);
        ``managed_fields``, when server-side apply has already worked them out, are stored as given."""
        if subresource == "binding" and resource is PODS:
            return self._bind(namespace, body, dry_run=dry_run)
        if subresource == "eviction" and resource is PODS:
            return self._evict(namespace, body, dry_run=dry_run)
        if subresource == "token" and resource is SERVICE_ACCOUNTS:
            name = str(((body if isinstance(body, dict) else {}).get("metadata") or {}).get("name") or "")
            return self.tokens.token_request(namespace or "default", name, body)
        if subresource:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if resource.group == reviews.GROUP:   # access reviews: answered, never stored
            return reviews.review(self, resource, namespace, body, current_user())
        if resource in (TOKEN_REVIEWS, SELF_SUBJECT_REVIEWS):   # asked and answered, never stored
            body = self._decode(resource, body, field_validation, strict_errors, warnings)
            return self.tokens.token_review(body) if resource is TOKEN_REVIEWS else self_subject_review(current_user())
        self._check_verb(resource, "create")
        custom = self.crds.served(resource)
        if custom is not None and custom.terminating:
            raise create_refused()
        obj = self._decode(resource, body, field_validation, strict_errors, warnings)
        meta = obj.setdefault("metadata", {})
        self._check_namespace(resource, namespace, meta)
        with self._lock:
            self._admit_namespace(resource, meta.get("namespace"))
            self.object_counts.admit(resource, meta.get("namespace"), meta)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generate_name(resource, meta["namespace"] if resource.namespaced else None,
                                                   meta["generateName"])
            for server_field in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                                 "generation", "managedFields", "selfLink"):
                meta.pop(server_field, None)
            system = (resource.plural, meta.get("name")) in SYSTEM_OBJECTS and current_user() is None
            if _component_object(resource.plural, meta.get("name")) and current_user() is None:
                meta["uid"] = new_uid(random.Random(f"{self._component_seed}{resource.plural}/{meta['name']}"))
            else:
                meta["uid"] = new_uid(self._system_rng if system else self.rng)
            meta["creationTimestamp"] = rfc3339(self.clock.now())
            self._strategy(resource).prepare_for_create(resource, obj)
            if resource is CSRS:   # the requestor is who sent it, never what the body says
                certificates.prepare_for_create(obj, current_user())
            obj = apply_defaults(obj) if custom is None else custom.default(obj)
            if resource.kind == "Job":
                obj = job_selector_defaults(obj)
            if resource.kind == "PersistentVolumeClaim":
                # DefaultStorageClass admission: a claim that names no class gets the default one.
                classes, _ = self.store.list(STORAGE_CLASSES.qualified)
                obj = storage.default_storage_class(obj, classes)
            self._manage(resource, None, obj, field_manager, managed_fields)
            attrs = Attributes(CREATE, resource, meta.get("namespace"), meta.get("name", ""), obj,
                               dry_run=dry_run, user=current_user(), warnings=warnings)
            self.admission.mutate(attrs)
            obj = attrs.obj or obj
            self._validate(resource, obj, None)
            self.admission.validate(attrs)
            # Service REST storage: ClusterIP and node ports, given back if the write does not happen.
            allocation = self.services.allocate_create(obj) if resource is SERVICES else Transaction()
            if dry_run:
                allocation.revert()
                return obj
            try:
                created = self.store.create(_key(resource, meta.get("namespace"), meta["name"]),
                                            self._to_storage(resource, obj))
            except AlreadyExistsError:
                allocation.revert()
                raise errors.already_exists(resource.group, resource.plural, meta["name"]) from None
            except BaseException:
                allocation.revert()
                raise
            allocation.commit()
            return self._out(resource, created)

    def _generate_name(self, resource: Resource, namespace: str | None, prefix: str) -> str:
        # Upstream truncates the prefix so the result stays within 63 characters.
        prefix = prefix[:58]
        for _ in range(8):
            name = prefix + random_suffix(self.rng)
            if self.store.get_entry(_key(resource, namespace, name)) is None:
                return name
        raise errors.StatusError(500, "AlreadyExists", "could not generate a unique name")

    # --- update ------------------------------------------------------------------------

    def update(self, resource: Resource, namespace: str | None, name: str, body: Any, *,
               subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn",
               strict_errors: Sequence[str] = (), warnings: builtins.list[str] | None = None,
               field_manager: str = "") -> dict[str, Any]:
        self._check_verb(resource, "update")
        if subresource == "scale":
            return self._update_scale(resource, namespace, name, body, dry_run=dry_run, field_manager=field_manager)
        obj = self._decode_named(resource, namespace, name, body, field_validation, strict_errors, warnings)
        with self._lock:
            old = self.get(resource, namespace, name)
            return self._update(resource, obj, old, subresource=subresource, dry_run=dry_run, warnings=warnings,
                                field_manager=field_manager)

    def _update(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any], *,
                subresource: str | None = None, dry_run: bool = False,
                warnings: builtins.list[str] | None = None, field_manager: str = "",
                managed_fields: builtins.list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The shared tail of PUT and PATCH: preconditions, strategy, defaults, validation, store."""
        meta = obj["metadata"]
        old_meta = old["metadata"]
        name = old_meta["name"]
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != old_meta["resourceVersion"]:
            raise errors.conflict(resource.group, resource.plural, name)
        if subresource == "status" and resource is CSRS:
            obj = certificates.prepare_for_status(obj, old)
            meta = obj["metadata"]
        elif subresource == "approval" and resource is CSRS:
            obj = certificates.prepare_for_approval(obj, old)
            meta = obj["metadata"]
        elif subresource == "status":
            obj = self._strategy(resource).prepare_for_status_update(resource, obj, old)
            meta = obj["metadata"]
        elif subresource == "ephemeralcontainers" and resource is PODS:
            obj = strategy.prepare_for_ephemeral_containers_update(obj, old)
            meta = obj["metadata"]
        elif subresource == "finalize" and resource is NAMESPACES:
            spec = obj.get("spec") or {}
            obj = deep_copy(old)
            obj["spec"] = {"finalizers": list(spec.get("finalizers") or [])}
            meta = obj["metadata"]
        elif subresource:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        else:
            self._strategy(resource).prepare_for_update(resource, obj, old)
            if resource is SERVICES:
                serviceallocator.carry_over(obj, old)
        # Fields only the server sets are carried over from the stored object.
        for fixed in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"):
            if fixed in old_meta:
                meta[fixed] = old_meta[fixed]
            else:
                meta.pop(fixed, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]
        custom = self.crds.served(resource)
        if custom is not None:   # a custom resource: the defaults of its schema
            obj = custom.default(obj)
        obj = apply_defaults(obj, admission=False)  # the Pod defaults of admission plugins: create only
        self._manage(resource, old, obj, field_manager, managed_fields, subresource or "")
        attrs = Attributes(UPDATE, resource, old_meta.get("namespace"), name, obj, old, subresource=subresource or "",
                           dry_run=dry_run, user=current_user(), warnings=warnings)
        self.admission.mutate(attrs)
        obj = attrs.obj or obj
        self._validate(resource, obj, old)
        self.admission.validate(attrs)
        allocation = self.services.allocate_update(obj, old) if resource is SERVICES and not subresource \
            else Transaction()
        if obj == old:
            allocation.revert()  # (nothing was taken: the write changes nothing)
            return old  # a no-op write does not bump resourceVersion or wake watchers
        if dry_run:
            allocation.revert()
            return obj
        key = _key(resource, old_meta.get("namespace"), name)
        if meta.get("deletionTimestamp") and _finalizers_cleared(resource, old, obj):
            # This write removed the last finalizer of an object being deleted: it can go now.
            allocation.revert()
            return self._remove(resource, key, old)
        try:
            updated = self.store.update(key, self._to_storage(resource, obj), int(old_meta["resourceVersion"]))
        except ConflictError:
            allocation.revert()
            raise errors.conflict(resource.group, resource.plural, name) from None
        except BaseException:
            allocation.revert()
            raise
        allocation.commit()
        return self._out(resource, updated)

    def _manage(self, resource: Resource, old: dict[str, Any] | None, obj: dict[str, Any], field_manager: str,
                managed_fields: builtins.list[dict[str, Any]] | None, subresource: str = "") -> None:
        """Record who wrote what (metadata.managedFields, see :mod:`.fieldmanager`)."""
        if managed_fields is not None:
            obj["metadata"]["managedFields"] = managed_fields
            if not managed_fields:
                del obj["metadata"]["managedFields"]
            return
        fieldmanager.record_update(resource, old, obj, field_manager or fieldmanager.IN_PROCESS_MANAGER,
                                   self.clock.now(), subresource)

    def _remove(self, resource: Resource, key: tuple[str, str, str], old: dict[str, Any]) -> dict[str, Any]:
        """Take an object out of the store for good; a Service gives back its ClusterIP and node ports."""
        removed = self.store.delete(key)
        if resource is SERVICES:
            self.services.release(old)
        self.crds.removed(resource)   # the last custom object of a CRD being deleted lets the CRD go
        return self._out(resource, removed)

    # --- patch -------------------------------------------------------------------------

    def patch(self, resource: Resource, namespace: str | None, name: str, patch_type: str, patch: Any, *,
              subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn",
              warnings: builtins.list[str] | None = None, field_manager: str = "",
              force: bool | None = None) -> dict[str, Any]:
        """``patch_type`` ``apply`` is server-side apply (``force``: take over conflicting fields)."""
        if patch_type == "apply":
            return self.server_side_apply(resource, namespace, name, patch, subresource=subresource, dry_run=dry_run,
                                          field_validation=field_validation, warnings=warnings,
                                          field_manager=field_manager, force=force)[0]
        self._check_verb(resource, "patch")
        fieldmanager.check_patch_options(patch_type, field_manager, force)
        with self._lock:
            old = self.get(resource, namespace, name)
            if subresource == "scale":
                scale = self._scale_of(resource, old)
                patched_scale = self._apply_patch(resource, scale, patch_type, patch, kind="Scale")
                return self._update_scale(resource, namespace, name, patched_scale, dry_run=dry_run,
                                          field_manager=field_manager)
            patched = self._apply_patch(resource, old, patch_type, patch, kind=resource.kind)
            patched = self._decode(resource, patched, field_validation, (), warnings)
            meta = patched.setdefault("metadata", {})
            if meta.get("name") != name:
                raise errors.bad_request("metadata.name: Invalid value: the name of a patched object cannot change")
            return self._update(resource, patched, old, subresource=subresource, dry_run=dry_run, warnings=warnings,
                                field_manager=field_manager)

    def server_side_apply(self, resource: Resource, namespace: str | None, name: str, config: Any, *,
                          subresource: str | None = None, dry_run: bool = False, field_validation: str = "Warn",
                          warnings: builtins.list[str] | None = None, field_manager: str = "",
                          force: bool | None = None) -> tuple[dict[str, Any], bool]:
        """``PATCH`` with ``application/apply-patch+yaml``: merge the configuration by the schema,
        record ``field_manager`` as owning exactly its fields, and create the object if it is new.
        Returns the object and whether it was created (upstream answers 201 then)."""
        self._check_verb(resource, "patch")
        fieldmanager.check_patch_options("apply", field_manager, force)
        with self._lock:
            return self._server_side_apply(resource, namespace, name, config, subresource=subresource,
                                           dry_run=dry_run, field_validation=field_validation, warnings=warnings,
                                           field_manager=field_manager, force=bool(force))

    def _server_side_apply(self, resource: Resource, namespace: str | None, name: str, config: Any, *,
                           subresource: str | None, dry_run: bool, field_validation: str,
                           warnings: builtins.list[str] | None, field_manager: str,
                           force: bool) -> tuple[dict[str, Any], bool]:
        if subresource not in (None, "status"):
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        fieldmanager.check_apply_identity(resource, config)
        fieldmanager.check_typed(resource, namespace if resource.namespaced else None, name, config)
        config = self._decode_named(resource, namespace, name, config, field_validation, (), warnings)
        meta = config["metadata"]
        live = self.store.get(_key(resource, namespace, name))
        if live is not None:   # merged in the shape the configuration is written in
            live = self._out(resource, live)
        if live is None and subresource:
            raise errors.not_found(resource.group, resource.plural, name)
        user = current_user()
        if live is None and user is not None:   # an apply that creates needs the right to create, as upstream
            self.authorizer.authorize(user, RequestInfo(resource.path(meta.get("namespace"), None), "create", True,
                                                        resource.group, resource.version,
                                                        meta.get("namespace") or "", resource.plural))
        merged = fieldmanager.apply(resource, live, config, field_manager, self.clock.now(), force=force,
                                    subresource=subresource or "")
        managed = merged["metadata"].pop("managedFields", [])
        if live is None:
            return self.create(resource, namespace, merged, dry_run=dry_run, field_validation=field_validation,
                               warnings=warnings, managed_fields=managed), True
        return self._update(resource, merged, live, subresource=subresource, dry_run=dry_run, warnings=warnings,
                            managed_fields=managed), False

    def _apply_patch(self, resource: Resource, current: dict[str, Any], patch_type: str, patch: Any,
                     kind: str) -> dict[str, Any]:
        try:
            if patch_type == "merge":
                result = patches.json_merge_patch(current, patch)
            elif patch_type == "json":
                if not isinstance(patch, list):
                    raise ValueError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
                result = patches.json_patch(current, patch)
            elif patch_type == "strategic" and self.crds.served(resource) is not None:
                raise StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                  "accepted media types include: application/json-patch+json, "
                                  "application/merge-patch+json, application/apply-patch+yaml")
            elif patch_type == "strategic":
                result = patches.strategic_merge_patch(current, patch, kind)
            else:
                raise StatusError(415, "UnsupportedMediaType", f"the server does not support patch type {patch_type}")
        except ValueError as exc:
            raise errors.StatusError(422, "Invalid", str(exc)) from None
        if not isinstance(result, dict):
            raise errors.bad_request("the patch did not produce an object")
        return result

    # --- delete ------------------------------------------------------------------------

    def delete(self, resource: Resource, namespace: str | None, name: str, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None,
               preconditions: dict[str, str] | None = None, dry_run: bool = False) -> dict[str, Any]:
        self._check_verb(resource, "delete")
        if propagation_policy not in (None, "Foreground", "Background", "Orphan"):
            raise errors.bad_request(f'DeletionPropagation "{propagation_policy}" is not supported')
        with self._lock:
            old = self.get(resource, namespace, name)
            meta = old["metadata"]
            for field, value in (preconditions or {}).items():
                if value and meta.get(field) != value:
                    raise errors.conflict(resource.group, resource.plural, name,
                                          f"Precondition failed: {field} in precondition: {value}, "
                                          f"{field} in object meta: {meta.get(field)}")
            self.admission.validate(Attributes(DELETE, resource, meta.get("namespace"), name, None, old,
                                               dry_run=dry_run, user=current_user()))
            if dry_run:
                return old
            key = _key(resource, meta.get("namespace"), name)
            new = deep_copy(old)
            new_meta = new["metadata"]
            finalizers = list(new_meta.get("finalizers") or [])
            if propagation_policy == "Foreground" and FOREGROUND_FINALIZER not in finalizers:
                finalizers.append(FOREGROUND_FINALIZER)
            if propagation_policy == "Orphan" and ORPHAN_FINALIZER not in finalizers:
                finalizers.append(ORPHAN_FINALIZER)
            grace = self._grace_period(resource, old, grace_period_seconds)
            if resource is NAMESPACES:
                return self._delete_namespace(key, old)
            if not finalizers and grace == 0:
                return self._remove(resource, key, old)
            # Graceful deletion: mark the object; whoever holds it (kubelet, a finalizer) finishes the job.
            now = self.clock.now()
            if finalizers:
                new_meta["finalizers"] = finalizers
            if "deletionTimestamp" in new_meta:
                if grace and grace < (new_meta.get("deletionGracePeriodSeconds") or 0):
                    new_meta["deletionGracePeriodSeconds"] = grace  # a shorter grace period wins
                    new_meta["deletionTimestamp"] = rfc3339(now + grace)
            else:
                new_meta["deletionTimestamp"] = rfc3339(now + grace)
                new_meta["deletionGracePeriodSeconds"] = grace
            if new == old:
                return old
            updated = self.store.update(key, new, int(meta["resourceVersion"]))
            if resource == CRDS:   # its custom objects go first, then the CRD
                self.crds.finalize(name)
            return self._out(resource, updated)

    def _grace_period(self, resource: Resource, obj: dict[str, Any], requested: int | None) -> int:
        """Only pods on a node are deleted gracefully; everything else goes at once (grace 0)."""
        if resource is not PODS:
            return 0
        spec = obj.get("spec") or {}
        if not spec.get("nodeName") or (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            # kubectl --grace-period=0 --force sends 0; upstream turns 0 into 1 unless forced.
            return max(int(requested), 0)
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def _delete_namespace(self, key: tuple[str, str, str], old: dict[str, Any]) -> dict[str, Any]:
        """A namespace goes Terminating; the namespace controller empties it and then finalizes it."""
        new = deep_copy(old)
        meta = new["metadata"]
        if not (new.get("spec") or {}).get("finalizers") and not meta.get("finalizers"):
            return self.store.delete(key)
        meta.setdefault("deletionTimestamp", rfc3339(self.clock.now()))
        meta.setdefault("deletionGracePeriodSeconds", 0)
        new.setdefault("status", {})["phase"] = "Terminating"
        if new == old:
            return old
        return self.store.update(key, new, int(old["metadata"]["resourceVersion"]))

    def delete_collection(self, resource: Resource, namespace: str | None, *, label_selector: str = "",
                          field_selector: str = "", propagation_policy: str | None = None,
                          dry_run: bool = False) -> dict[str, Any]:
        self._check_verb(resource, "deletecollection")
        listed = self.list(resource, namespace, label_selector=label_selector, field_selector=field_selector)
        deleted = []
        for item in listed["items"]:
            meta = item["metadata"]
            try:
                deleted.append(self.delete(resource, meta.get("namespace"), meta["name"],
                                           propagation_policy=propagation_policy, dry_run=dry_run))
            except StatusError as exc:
                if exc.code != 404:
                    raise
        return {"kind": resource.list_kind, "apiVersion": resource.api_version,
                "metadata": listed["metadata"], "items": deleted}

    # --- watch -------------------------------------------------------------------------

    def watch(self, resource: Resource, namespace: str | None, callback: WatchCallback, *,
              resource_version: str = "", label_selector: str = "", field_selector: str = "",
              send_initial_events: bool | None = None, encoded: bool = False,
              on_synced: Callable[[int], None] | None = None) -> Callable[[], None]:
        """Call ``callback({"type": ..., "object": ...})`` for each change; returns a cancel function.

        With no resourceVersion (or "0") the watch starts with an ADDED event per existing
        object; with one, it replays every change after it. ``send_initial_events`` (upstream's
        ``sendInitialEvents``, a streaming list) overrides that: True starts with the current objects
        whatever the resourceVersion, False never does. ``on_synced(revision)`` is called once the
        initial events are out, with the revision they show. Objects that stop matching the
        selectors are reported as DELETED, objects that start matching as ADDED, as upstream.

        ``encoded`` (what the HTTP layer asks for) gives ``{"type": ..., "raw": JSON bytes, "revision": n}``
        instead of a decoded object: one change told to a thousand watchers is then decoded once (to test
        selectors) and encoded at most once per served version, however many watch it."""
        if resource.group == metrics.GROUP:   # as metrics-server: get and list only
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        filt = Filter(resource, label_selector, field_selector)
        ns = namespace if resource.namespaced else None

        def tell(kind: str, event: Event) -> None:
            if encoded:
                callback({"type": kind, "raw": self._served_raw(resource, event), "revision": event.revision})
            else:
                callback({"type": kind, "object": self._out(resource, orjson.loads(event.raw))})

        def on_event(event: Event) -> None:
            if filt.everything:
                tell(event.type, event)
                return
            memo = self._decoded(event)   # shared by every watcher of this change: read, never handed out
            now_matches = filt.matches(memo[1])
            was_matching = memo[2] is not None and filt.matches(memo[2]) and event.type != "ADDED"
            if event.type == "DELETED":
                if was_matching or now_matches:
                    tell("DELETED", event)
            elif now_matches and was_matching:
                tell("MODIFIED", event)
            elif now_matches:
                tell("ADDED", event)
            elif was_matching:
                tell("DELETED", event)

        with self.store._lock:  # list and subscribe at one revision, so no change falls in between
            from_now = resource_version in ("", "0", None)
            if send_initial_events or (send_initial_events is None and from_now):
                pairs, revision = self.store.entries(resource.storage_name, ns)
                for key, entry in pairs:
                    stored = orjson.loads(entry.raw)
                    if filt.matches(stored):
                        if encoded:
                            initial = Event(entry.revision, "ADDED", key, entry.raw, None)
                            callback({"type": "ADDED", "raw": self._served_raw(resource, initial),
                                      "revision": entry.revision})
                        else:
                            callback({"type": "ADDED", "object": self._out(resource, stored)})
                since = revision
            elif from_now:
                since = self.store.revision
            else:
                since = parse_resource_version(resource_version)
            try:
                cancel = self.store.watch(resource.storage_name, ns, since, on_event)
                if on_synced is not None:
                    on_synced(since)
                # A custom resource's watch ends (callback(None)) when its CRD goes, as upstream closes it.
                return self.crds.end_with_crd(resource, cancel, lambda: callback(None))  # type: ignore[arg-type]
            except CompactedError as exc:
                raise errors.gone(str(exc)) from None

    def _decoded(self, event: Event) -> builtins.list[Any]:
        """``[event, stored object, previous object or None, {served version: JSON}]`` of the change being told
        (watchers are told under the store's lock, one change at a time: one slot remembers it)."""
        memo = self._event_memo
        if memo[0] is not event:
            memo[:] = [event, orjson.loads(event.raw), orjson.loads(event.prev) if event.prev is not None else None,
                       {}]
        return memo

    def _served_raw(self, resource: Resource, event: Event) -> bytes:
        """A changed object's JSON as ``resource``'s watchers are sent it: the stored bytes themselves unless
        the object is served in another shape (then converted once per change and version)."""
        if not self._converts(resource):
            return event.raw
        encoded = self._decoded(event)[3]
        if resource.api_version not in encoded:
            encoded[resource.api_version] = orjson.dumps(self._out(resource, orjson.loads(event.raw)))
        return encoded[resource.api_version]  # type: ignore[no-any-return]

    # --- subresources --------------------------------------------------------------------

    def pod_logs(self, namespace: str | None, name: str, *, container: str | None = None, previous: bool = False,
                 tail_lines: int | None = None, timestamps: bool = False, since_seconds: int | None = None,
                 since_time: float | None = None, stream: str | None = None) -> str:
        """``GET pods/{name}/log``: the container's output, read from the pod's node. The options are
        upstream's PodLogOptions, validated as upstream does (422 Invalid); ``stream`` (``stdout`` or
        ``stderr``, for attach) keeps one stream."""
        causes = []
        if tail_lines is not None and tail_lines < 0:
            causes.append(errors.invalid_value("tailLines", tail_lines, "must be greater than or equal to 0"))
        if since_seconds is not None and since_time is not None:
            causes.append(errors.forbidden_field("", "at most one of `sinceTime` or `sinceSeconds` may be specified"))
        elif since_seconds is not None and since_seconds < 1:
            causes.append(errors.invalid_value("sinceSeconds", since_seconds, "must be greater than 0"))
        if causes:
            raise errors.invalid("PodLogOptions", "", name, causes)
        return self.nodes.logs(self.get(PODS, namespace, name), container, previous, tail_lines, timestamps=timestamps,
                               since_seconds=since_seconds, since_time=since_time, stream=stream)

    def pod_exec(self, namespace: str | None, name: str, container: str | None, command: builtins.list[str]) -> Any:
        """``pods/{name}/exec``: run a command in a container on the pod's node (an ExecResult)."""
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        return self.nodes.exec(self.get(PODS, namespace, name), container, command)

    def pod_exec_stream(self, namespace: str | None, name: str, container: str | None, command: builtins.list[str],
                        *, stdin: bool, tty: bool) -> Any:
        """``pods/{name}/exec`` with open streams (``kubectl exec -i -t``): an ExecStream from the pod's node."""
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        return self.nodes.exec_stream(self.get(PODS, namespace, name), container, command, stdin=stdin, tty=tty)

    def pod_attach(self, namespace: str | None, name: str, container: str | None) -> Any:
        """``pods/{name}/attach``: the running container's stdin (a file descriptor or None) and resize."""
        return self.nodes.attach(self.get(PODS, namespace, name), container)

    async def pod_port_forward(self, namespace: str | None, name: str,
                               port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """``pods/{name}/portforward``: a connection to ``port`` inside the pod, made by its node."""
        return await self.nodes.port_forward(self.get(PODS, namespace, name), port)

    def node_proxy(self, name: str, path: str) -> dict[str, Any]:
        """``GET nodes/{name}/proxy/{path}``: what the node's kubelet serves at ``path`` (``stats/summary``)."""
        self.get(NODES, None, name)
        return self.nodes.proxy(name, path)

    def _bind(self, namespace: str | None, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """``pods/binding``: the scheduler's decision, written as the pod's node."""
        if not isinstance(body, dict):
            raise errors.bad_request("a Binding object is required")
        name = (body.get("metadata") or {}).get("name", "")
        target = body.get("target") or {}
        node = target.get("name")
        if not node:
            raise errors.invalid("Binding", "", name, [errors.required("target.name")])
        with self._lock:
            pod = self.get(PODS, namespace, name)
            if pod["spec"].get("nodeName"):
                raise errors.conflict("", "pods/binding", name,
                                      f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"')
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.conflict("", "pods/binding", name, f"pod {name} is being deleted, cannot be assigned "
                                                                 "to a host")
            new = deep_copy(pod)
            new["spec"]["nodeName"] = node
            _set_condition(new.setdefault("status", {}), "PodScheduled", "True", self.clock.now())
            if not dry_run:
                self.store.update(_key(PODS, namespace, name), new, int(pod["metadata"]["resourceVersion"]))
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _evict(self, namespace: str | None, body: Any, *, dry_run: bool = False) -> dict[str, Any]:
        """``pods/eviction``: a polite delete (what ``kubectl drain`` asks for) that first asks the pod's
        PodDisruptionBudget (apiserver/eviction.py)."""
        if not isinstance(body, dict):
            raise errors.bad_request("an Eviction object is required")
        name = (body.get("metadata") or {}).get("name", "")
        options = body.get("deleteOptions") or {}
        dry_run = dry_run or bool(options.get("dryRun"))
        with self._lock:
            pod = self.get(PODS, namespace, name)
            eviction.spend_budget(self, namespace or "default", pod, dry_run=dry_run)
            if not dry_run:
                eviction.mark_disruption_target(self, namespace or "default", pod)
        self.delete(PODS, namespace, name, grace_period_seconds=options.get("gracePeriodSeconds"), dry_run=dry_run)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}

    def _update_scale(self, resource: Resource, namespace: str | None, name: str, body: Any, *, dry_run: bool = False,
                      field_manager: str = "") -> dict[str, Any]:
        if "scale" not in resource.subresources:
            raise errors.not_found(resource.group, f"{resource.plural}/scale", name)
        if not isinstance(body, dict):
            raise errors.bad_request("the object provided is unrecognized (must be of type Scale): couldn't get "
                                     "version/kind; json parse error: json: cannot unmarshal "
                                     f"{schema.json_kind(body)} into Go value of type struct {{ APIVersion string "
                                     '"json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }')
        spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
        replicas = spec.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.invalid("Scale", "autoscaling", name, [errors.required("spec.replicas")])
        if replicas < 0:
            raise errors.invalid("Scale", "autoscaling", name,
                                 [errors.invalid_value("spec.replicas", replicas,
                                                       "must be greater than or equal to 0")])
        with self._lock:
            old = self.get(resource, namespace, name)
            meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(resource.group, resource.plural, name)
            new = deep_copy(old)
            custom = self.crds.served(resource)
            if custom is not None:
                custom.set_replicas(new, replicas)
            else:
                new["spec"]["replicas"] = replicas
            fieldmanager.record_update(resource, old, new, field_manager or fieldmanager.IN_PROCESS_MANAGER,
                                       self.clock.now(), "scale")
            managed = new["metadata"].get("managedFields", [])
            return self._scale_of(resource, self._update(resource, new, old, dry_run=dry_run, managed_fields=managed))

    # --- the steps every write takes -------------------------------------------------------

    def _strategy(self, resource: Resource) -> Any:
        """The per-kind write rules: a CRD's or a custom resource's (see apiextensions), or the built-ins'."""
        return self.crds.strategy(resource) or strategy

    def _out(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """An object as the client sees it: a custom object in the version asked for, with its defaults;
        an Event in the events.k8s.io/v1 shape, an autoscaling/v1 HorizontalPodAutoscaler, when asked for
        through that API."""
        conversion = _CONVERSIONS.get((resource.group, resource.version))
        if conversion is not None:
            return conversion[0](obj)
        custom = self.crds.served(resource)
        return obj if custom is None else custom.to_version(obj)

    def _to_storage(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """An object as the store keeps it (the inverse of :meth:`_out`)."""
        conversion = _CONVERSIONS.get((resource.group, resource.version))
        if conversion is not None:
            return conversion[1](obj)
        custom = self.crds.served(resource)
        return obj if custom is None else custom.to_storage(obj)

    def _converts(self, resource: Resource) -> bool:
        """Whether ``resource``'s objects are stored in another shape than the one served."""
        return (resource.group, resource.version) in _CONVERSIONS or self.crds.served(resource) is not None

    def _scale_of(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        custom = self.crds.served(resource)
        if custom is not None and "scale" in resource.subresources:
            return custom.scale(obj)
        return _scale_of(resource, obj)

    def _check_verb(self, resource: Resource, verb: str) -> None:
        if verb not in resource.verbs:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")

    def _decode(self, resource: Resource, body: Any, field_validation: str, strict_errors: Sequence[str] = (),
                warnings: builtins.list[str] | None = None) -> dict[str, Any]:
        """Check an incoming object's type and fields, as the apiserver's decoder does.

        A wrong type is always a 400. Unknown fields and ``strict_errors`` (duplicate
        fields, found by the parser) depend on ``field_validation``: Strict refuses them,
        Warn drops the unknown fields with a warning for each, Ignore drops them silently."""
        if not isinstance(body, dict):
            raise errors.bad_request(f"Object 'Kind' is missing in '{_short(body)}'")
        obj = deep_copy(body)
        api_version = obj.setdefault("apiVersion", resource.api_version)
        kind = obj.setdefault("kind", resource.kind)
        if kind != resource.kind or api_version != resource.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({resource.api_version})" if api_version != resource.api_version else
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})")
        message = schema.decode_error(obj, strict=False)
        if message:
            raise errors.bad_request(message)
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise ValueError(f"field_validation must be Strict, Warn or Ignore, not {field_validation!r}")
        # Unknown fields are dropped whatever happens next: a Go struct has nowhere to keep them.
        custom = self.crds.served(resource)
        unknown = schema.prune_unknown(obj) if custom is None else custom.prune(obj)
        found = [f'unknown field "{path}"' for path in unknown] + list(strict_errors)
        if found and field_validation == "Strict":
            raise errors.bad_request(schema.cannot_handle_message(api_version, kind,
                                                                  "strict decoding error: " + ", ".join(found)))
        if found and field_validation == "Warn" and warnings is not None:
            warnings.extend(found)
        if not isinstance(obj.get("metadata", {}), dict):
            raise errors.bad_request("metadata must be an object")
        return obj

    def _decode_named(self, resource: Resource, namespace: str | None, name: str, body: Any, field_validation: str,
                      strict_errors: Sequence[str], warnings: builtins.list[str] | None) -> dict[str, Any]:
        """:meth:`_decode` an object sent to its own URL (PUT, apply): its name and namespace are the URL's."""
        obj = self._decode(resource, body, field_validation, strict_errors, warnings)
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != name:
            raise errors.bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                     f"({name})")
        meta["name"] = name
        self._check_namespace(resource, namespace, meta)
        return obj

    def _check_namespace(self, resource: Resource, namespace: str | None, meta: dict[str, Any]) -> None:
        if not resource.namespaced:
            meta.pop("namespace", None)
            return
        if not namespace:
            namespace = meta.get("namespace") or "default"
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request("the namespace of the provided object does not match the namespace sent on "
                                     "the request")
        meta["namespace"] = namespace

    def _admit_namespace(self, resource: Resource, namespace: str | None) -> None:
        """NamespaceLifecycle admission: no new objects in a missing or terminating namespace."""
        if not resource.namespaced or not namespace:
            return
        ns = self.store.get(_key(NAMESPACES, None, namespace))
        if ns is None:
            raise errors.not_found("", "namespaces", namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating" and resource.kind != "Event":
            raise errors.forbidden(resource.group, resource.plural, "",
                                   f"unable to create new content in namespace {namespace} because it is being "
                                   "terminated")

    def _validate(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        rules = self.crds.strategy(resource)
        found = validate(obj, old) if rules is None else rules.validate(obj, old)
        if found:
            raise errors.invalid(resource.kind, resource.group, obj["metadata"].get("name", ""), found)


def parse_resource_version(value: str) -> int:
    """A resourceVersion parameter as a revision ("" and "0" are 0), or 400 BadRequest in the
    words of upstream's etcd versioner."""
    if value in ("", "0"):
        return 0
    try:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(value)
        return int(value)
    except ValueError:
        raise errors.bad_request(str(errors.invalid_value(
            "resourceVersion", value, f'strconv.ParseUint: parsing "{value}": invalid syntax'))) from None


def _short(body: Any) -> str:
    text = orjson.dumps(body).decode() if not isinstance(body, (bytes, str)) else str(body)
    return text if len(text) < 80 else text[:77] + "..."


def _finalizers_cleared(resource: Resource, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when ``new`` has no finalizers left and this write is what removed the last one
    (a namespace also waits for its ``spec.finalizers``, emptied through ``/finalize``)."""
    def pending(obj: dict[str, Any]) -> bool:
        spec_finalizers = (obj.get("spec") or {}).get("finalizers") if resource is NAMESPACES else None
        return bool(obj["metadata"].get("finalizers") or spec_finalizers)

    return pending(old) and not pending(new)


def _set_condition(status: dict[str, Any], kind: str, value: str, now: float) -> None:
    conditions = status.setdefault("conditions", [])
    for condition in conditions:
        if condition.get("type") == kind:
            if condition.get("status") != value:
                condition["status"] = value
                condition["lastTransitionTime"] = rfc3339(now)
            return
    conditions.append({"type": kind, "status": value, "lastProbeTime": None, "lastTransitionTime": rfc3339(now)})


def _scale_of(resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    """The autoscaling/v1 Scale view of a workload."""
    if "scale" not in resource.subresources:
        raise errors.not_found(resource.group, f"{resource.plural}/scale", obj["metadata"]["name"])
    meta = obj["metadata"]
    status = obj.get("status") or {}
    selector = (obj.get("spec") or {}).get("selector") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": status.get("replicas", 0),
                   "selector": selectors.format_label_selector(selector) if selector else ""},
    }

"""ResourceQuota: what a namespace may use in all, and the admission plugin that enforces it.

A ``ResourceQuota`` lists hard limits in ``spec.hard``: object counts (``pods``,
``services``, ``configmaps``, ``secrets``, ``persistentvolumeclaims``,
``count/<resource>.<group>``), compute (``requests.cpu``, ``requests.memory``,
``limits.cpu``, ``limits.memory``; ``cpu`` and ``memory`` mean the requests), storage
(``requests.storage``) and Service kinds (``services.nodeports``,
``services.loadbalancers``). ``spec.scopes`` (``BestEffort``, ``NotBestEffort``,
``Terminating``, ``NotTerminating``) and ``spec.scopeSelector`` (those, and
``PriorityClass In [high]``) narrow a quota to some pods only.

The admission plugin refuses, with ``403 Forbidden``, a create (or an update that grows
usage) that would take a namespace past any matching quota::

    pods "x" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=1, limited: requests.cpu=2

and, when a quota tracks cpu or memory, a pod with a container that does not say how much::

    pods "x" is forbidden: failed quota: compute: must specify limits.cpu for: web; requests.cpu for: web

Interface:
    ResourceQuotaAdmission(api)          # the plugin (name "ResourceQuota"); added last in the chain
    (what an object counts, and quota validation: :mod:`minik8s.api.quota`, shared with the controller)

Invariants: admission checks against ``status.used`` and charges every admitted write to
it at once, under the API server's write lock (upstream does the same with optimistic
concurrency), so two creates can never both take the last slot; when the status does
not cover the quota's hard names yet (a new or edited quota), the usage is recounted
from the store. The quota controller (:mod:`minik8s.controllers.resourcequota`) later
recalculates it, giving back what deleted objects and finished pods used. A dry run,
or a create whose name is taken, charges nothing.

How minik8s differs: upstream refuses writes while a new quota has no ``status`` yet
("status unknown for quota"); minik8s counts the usage itself instead. ``scopeSelector``
supports the four scopes above and ``PriorityClass`` (``CrossNamespacePodAffinity`` is
not tracked).

Taught in chapter 16 (ServiceAccounts and RBAC: the classroom quota) and the chapter on
namespaces and quotas.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any, Iterable

from minik8s.api import errors
from minik8s.api.quota import (MUST_SPECIFY, PODS, RESOURCEQUOTAS, amount_of, compute_used, fmt, matches_scopes,
                               pod_usage, tracked, usage_of, validate_quota)
from minik8s.apiserver.admission.chain import CREATE, UPDATE, Attributes

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

Obj = dict[str, Any]


# --- the admission plugin -----------------------------------------------------------------

def _pretty(amounts: dict[str, Fraction], names: Iterable[str]) -> str:
    return ",".join(f"{name}={fmt(name, amounts.get(name, Fraction(0)))}" for name in sorted(names))


def _missing_requests(pod: Obj, required: set[str]) -> str:
    """Upstream's "must specify" list: which containers do not set a quota'd compute resource."""
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        one = pod_usage({"spec": {"containers": [container]}})
        for name in required - set(one):
            missing.setdefault(name, set()).add(container.get("name", ""))
    return "; ".join(f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing))


class ResourceQuotaAdmission:
    """Refuses what would exceed a quota; charges status.used for what it admits."""

    name = "ResourceQuota"

    def __init__(self, api: APIServer):
        self.api = api

    def validate(self, attrs: Attributes) -> None:
        if attrs.resource is RESOURCEQUOTAS and attrs.operation in (CREATE, UPDATE) and not attrs.subresource:
            errs = validate_quota(attrs.obj or {})
            if errs:
                raise errors.invalid("ResourceQuota", "", attrs.name, errs)
            return
        if attrs.operation not in (CREATE, UPDATE) or attrs.subresource or not attrs.namespace \
                or attrs.obj is None or not attrs.resource.namespaced:
            return
        if not self.api.store.count(RESOURCEQUOTAS.qualified, attrs.namespace):
            return  # no quota here (the usual case), known from the store's running tally
        quotas, _ = self.api.store.list(RESOURCEQUOTAS.qualified, attrs.namespace)
        if not quotas:
            return
        charges = [charge for quota in quotas if (charge := self._check(quota, attrs)) is not None]
        if attrs.dry_run or (attrs.operation == CREATE and self._exists(attrs)):
            return  # nothing will be stored: nothing to charge
        for quota, used in charges:
            self._charge(quota, used)

    def _check(self, quota: Obj, attrs: Attributes) -> tuple[Obj, dict[str, Fraction]] | None:
        """Refuse if the write takes this quota past its hard limits; else the new usage to charge."""
        assert attrs.obj is not None
        resource, obj = attrs.resource, attrs.obj
        if not matches_scopes(quota, resource, obj):
            return None
        hard = {name: amount_of(value) for name, value in ((quota.get("spec") or {}).get("hard") or {}).items()}
        quota_name = quota["metadata"]["name"]
        if resource is PODS:
            required = set(hard) & MUST_SPECIFY
            missing = _missing_requests(obj, required) if required else ""
            if missing:
                raise self._forbidden(attrs, f"failed quota: {quota_name}: must specify {missing}")
        new = usage_of(resource, obj)
        old = usage_of(resource, attrs.old) if attrs.old is not None and \
            matches_scopes(quota, resource, attrs.old) else {}
        delta = {name: new.get(name, Fraction(0)) - old.get(name, Fraction(0)) for name in hard}
        requested = {name: amount for name, amount in delta.items() if amount > 0 and name in new}
        if not requested:
            return None
        used = self._used_now(quota, hard)
        exceeded = [name for name, amount in requested.items() if used.get(name, Fraction(0)) + amount > hard[name]]
        if exceeded:
            raise self._forbidden(attrs, f"exceeded quota: {quota_name}, requested: {_pretty(requested, exceeded)}, "
                                         f"used: {_pretty(used, exceeded)}, limited: {_pretty(hard, exceeded)}")
        return quota, {name: used.get(name, Fraction(0)) + delta.get(name, Fraction(0)) for name in hard}

    def _used_now(self, quota: Obj, hard: dict[str, Fraction]) -> dict[str, Fraction]:
        """What the namespace uses now: ``status.used`` when it covers every hard name (every
        admitted write charged it, under the write lock), else recounted from the store."""
        status = quota.get("status") or {}
        used = status.get("used") or {}
        if status.get("hard") == (quota.get("spec") or {}).get("hard") and all(name in used for name in hard):
            return {name: amount_of(used[name]) for name in hard}
        namespace = quota["metadata"]["namespace"]
        objects = {res: self.api.store.list(res.qualified, namespace)[0] for res in tracked(hard)}
        return {name: amount_of(text) for name, text in compute_used(quota, objects).items()}

    def _charge(self, quota: Obj, used: dict[str, Fraction]) -> None:
        """status.used as this write leaves it, so readers see the charge before the controller runs."""
        status = {"hard": dict((quota.get("spec") or {}).get("hard") or {}),
                  "used": {name: fmt(name, max(amount, Fraction(0))) for name, amount in used.items()}}
        if quota.get("status") == status:
            return
        updated = dict(quota, status=status)
        key = (RESOURCEQUOTAS.qualified, quota["metadata"]["namespace"], quota["metadata"]["name"])
        self.api.store.update(key, updated, int(quota["metadata"]["resourceVersion"]))

    def _exists(self, attrs: Attributes) -> bool:
        """A create of a name already taken fails after admission (409): it must not be charged."""
        key = (attrs.resource.qualified, attrs.namespace or "", attrs.name)
        return bool(attrs.name) and self.api.store.get_entry(key) is not None

    @staticmethod
    def _forbidden(attrs: Attributes, why: str) -> errors.StatusError:
        meta = (attrs.obj or {}).get("metadata") or {}
        name = attrs.name or meta.get("generateName") or "Unknown"
        return errors.forbidden(attrs.resource.group, attrs.resource.plural, name, why)

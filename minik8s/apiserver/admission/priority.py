"""The Priority admission plugin, and the PriorityClasses it reads.

A PriorityClass (``scheduling.k8s.io/v1``, cluster-scoped, short name ``pc``) names an
integer priority: ``value`` (user classes at most 1000000000), ``globalDefault`` (the class
of pods that name none; only one may say so), ``preemptionPolicy`` (``PreemptLowerPriority``,
the default, or ``Never``) and a ``description``. Two system classes exist from the start:
``system-cluster-critical`` (2000000000) and ``system-node-critical`` (2000001000); other
names beginning with ``system-`` are reserved.

On every Pod create, the plugin turns the pod's ``priorityClassName`` into
``spec.priority`` and ``spec.preemptionPolicy``, which the scheduler then reads:

* no class named: the global default class's name, value and policy; without one,
  priority 0 and ``PreemptLowerPriority``;
* a class that does not exist: 403 ``pods "x" is forbidden: no PriorityClass with name y
  was found``;
* a ``priority`` (or ``preemptionPolicy``) the user wrote that disagrees with the class:
  403, ``the integer value of priority (5) must not be provided in pod spec; ...``.

On PriorityClass writes it refuses a second ``globalDefault`` (403, ``PriorityClass a is
already marked as default. Only one default can exist``) and checks the class as upstream's
validation does (422): the value ceiling, the reserved prefix, the immutable value and policy.
The two system classes cannot be deleted (403, as upstream's PriorityClass storage says).

Interface:
    Priority(api)                       # an admission plugin (see admission.chain)
    ensure_system_classes(api)          # creates the two system classes if missing
    SYSTEM_CLASSES: dict[str, int]

Invariant: after admission every pod has ``spec.priority`` and ``spec.preemptionPolicy``.

Taught in chapter 11 (Scheduling: priority and preemption).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.api import errors
from minik8s.api import resources as api_resources
from minik8s.api.defaults import SYSTEM_PRIORITIES
from minik8s.api.errors import FieldError, forbidden_field, invalid_value, not_supported
from minik8s.apiserver.admission.chain import CREATE, DELETE, UPDATE, Attributes

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

Obj = dict[str, Any]

PRIORITY_CLASSES = api_resources.get("scheduling.k8s.io", "v1", "priorityclasses")
assert PRIORITY_CLASSES is not None

SYSTEM_CLASSES = SYSTEM_PRIORITIES
SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE_PRIORITY = 1000000000
PREEMPT_LOWER_PRIORITY, NEVER = "PreemptLowerPriority", "Never"
DEFAULT_PRIORITY_WITHOUT_DEFAULT_CLASS = 0
SYSTEM_DESCRIPTIONS = {
    "system-cluster-critical": "Used for system critical pods that must run in the cluster, "
                               "but can be moved to another node if necessary.",
    "system-node-critical": "Used for system critical pods that must not be moved from their current node.",
}


def validate_priority_class(pc: Obj, old: Obj | None) -> list[FieldError]:
    """Upstream's ValidatePriorityClass (and ValidatePriorityClassUpdate when ``old`` is given)."""
    name = str((pc.get("metadata") or {}).get("name") or "")
    value = pc.get("value", 0)
    found: list[FieldError] = []
    if name.startswith(SYSTEM_PREFIX):
        if SYSTEM_CLASSES.get(name) != value or pc.get("globalDefault"):
            why = (f"{name} is not a known system priority class" if name not in SYSTEM_CLASSES
                   else f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}")
            found.append(forbidden_field("metadata.name", "priority class names with 'system-' prefix are "
                                         f"reserved for system use only. error: {why}"))
    elif isinstance(value, int) and value > HIGHEST_USER_DEFINABLE_PRIORITY:
        found.append(forbidden_field("value", "maximum allowed value of a user defined priority is "
                                     f"{HIGHEST_USER_DEFINABLE_PRIORITY}"))
    policy = pc.get("preemptionPolicy")
    if policy is not None and policy not in (NEVER, PREEMPT_LOWER_PRIORITY):
        found.append(not_supported("preemptionPolicy", policy, (NEVER, PREEMPT_LOWER_PRIORITY)))
    if old is not None:
        if old.get("value", 0) != value:
            found.append(forbidden_field("value", "may not be changed in an update."))
        if old.get("preemptionPolicy") != policy:
            found.append(invalid_value("preemptionPolicy", policy, "field is immutable"))
    return found


class Priority:
    name = "Priority"

    def __init__(self, api: APIServer):
        self.api = api

    def _classes(self) -> list[Obj]:
        classes, _ = self.api.store.list(PRIORITY_CLASSES.qualified)
        return classes

    def _get(self, name: str) -> Obj | None:
        return next((pc for pc in self._classes() if pc["metadata"]["name"] == name), None)

    def mutate(self, attrs: Attributes) -> None:
        if attrs.subresource or attrs.obj is None:
            return
        if attrs.resource is PRIORITY_CLASSES and attrs.operation == CREATE:
            attrs.obj.setdefault("preemptionPolicy", PREEMPT_LOWER_PRIORITY)  # SetDefaults_PriorityClass
        if attrs.resource.qualified == "pods" and attrs.operation == CREATE:
            self._admit_pod(attrs)

    def _admit_pod(self, attrs: Attributes) -> None:
        assert attrs.obj is not None
        spec = attrs.obj.get("spec")
        if not isinstance(spec, dict):
            return
        class_name = spec.get("priorityClassName") or ""
        if not class_name:
            defaults = [pc for pc in self._classes() if pc.get("globalDefault")]
            # More than one default (raced in): upstream takes the lowest value.
            chosen = min(defaults, key=lambda pc: pc.get("value", 0)) if defaults else None
            if chosen is not None:
                spec["priorityClassName"] = chosen["metadata"]["name"]
            value = chosen.get("value", 0) if chosen else DEFAULT_PRIORITY_WITHOUT_DEFAULT_CLASS
            policy = chosen.get("preemptionPolicy") if chosen else None
        else:
            chosen = self._get(class_name)
            if chosen is None:
                raise errors.forbidden("", "pods", attrs.name,
                                       f"no PriorityClass with name {class_name} was found")
            value, policy = chosen.get("value", 0), chosen.get("preemptionPolicy")
        given = spec.get("priority")
        if given is not None and given != value:
            raise errors.forbidden("", "pods", attrs.name, f"the integer value of priority ({given}) must not be "
                                   f"provided in pod spec; priority admission controller computed {value} from "
                                   "the given PriorityClass name")
        spec["priority"] = value
        if policy is not None:
            given_policy = spec.get("preemptionPolicy")
            if given_policy is not None and given_policy != policy:
                raise errors.forbidden("", "pods", attrs.name, f"the string value of PreemptionPolicy "
                                       f"({given_policy}) must not be provided in pod spec; priority admission "
                                       f"controller computed {policy} from the given PriorityClass name")
            spec["preemptionPolicy"] = policy
        spec.setdefault("preemptionPolicy", PREEMPT_LOWER_PRIORITY)

    def validate(self, attrs: Attributes) -> None:
        if attrs.resource is not PRIORITY_CLASSES or attrs.subresource:
            return
        if attrs.operation == DELETE and attrs.name in SYSTEM_CLASSES:
            # Upstream's PriorityClass REST storage refuses this, before any admission plugin.
            raise errors.forbidden("scheduling.k8s.io", "priorityclasses", attrs.name,
                                   "this is a system priority class and cannot be deleted")
        if attrs.operation not in (CREATE, UPDATE) or attrs.obj is None:
            return
        found = validate_priority_class(attrs.obj, attrs.old if attrs.operation == UPDATE else None)
        if found:
            raise errors.invalid("PriorityClass", "scheduling.k8s.io", attrs.name, found)
        if attrs.obj.get("globalDefault"):
            for pc in self._classes():
                other = pc["metadata"]["name"]
                if pc.get("globalDefault") and other != attrs.name:
                    raise errors.forbidden("scheduling.k8s.io", "priorityclasses", attrs.name,
                                           f"PriorityClass {other} is already marked as default. "
                                           "Only one default can exist")


def ensure_system_classes(api: APIServer) -> None:
    """The system PriorityClasses every cluster starts with (upstream's apiserver post-start hook)."""
    for name, value in SYSTEM_CLASSES.items():
        if api.store.get_entry((PRIORITY_CLASSES.storage_name, "", name)) is not None:
            continue
        api.create(PRIORITY_CLASSES, None, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                            "metadata": {"name": name}, "value": value,
                                            "description": SYSTEM_DESCRIPTIONS[name]})

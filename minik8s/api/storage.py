"""Storage classes and claim matching: the rules every storage component shares.

Which class is the default and which class a claim or volume names; which volume
satisfies a claim (class, volume mode, access modes, selector, size, the smallest
that fits, ``claimRef`` pre-binding) and whether a volume or a class can serve a
node (``spec.nodeAffinity``, ``allowedTopologies``). Used by the API server (the
DefaultStorageClass admission step: a PersistentVolumeClaim created without
``storageClassName`` gets the default class), the persistent volume controller
(binding and provisioning) and the scheduler's VolumeBinding and
VolumeRestrictions plugins, so that they never disagree.

Interface:
    default_storage_class(pvc, classes), default_class(classes), claim_class(obj)
    find_best_match(claim, volumes, node=None, delay_binding=False) -> pv | None
    satisfies(pv, claim), is_bound_to(pv, claim)
    volume_fits_node(pv, labels, name), class_allows_node(sc, labels), can_provision(sc)
    waits_for_first_consumer(sc), pod_claim_names(pod), claim_is_for_pod(pod, claim)

Taught in chapter 15 (storage: volumes, PV, PVC, StorageClass); chapter 8 uses it for StatefulSets.
"""

from __future__ import annotations

from typing import Any

from minik8s.api import quantity
from minik8s.api.selectors import (DOES_NOT_EXIST, EXISTS, GREATER_THAN, IN, LESS_THAN, NOT_IN, Requirement,
                                   from_label_selector)

Obj = dict[str, Any]

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def is_default_class(sc: Obj) -> bool:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(key) == "true" for key in (DEFAULT_CLASS_ANNOTATION, BETA_DEFAULT_CLASS_ANNOTATION))


def default_class(classes: list[Obj]) -> Obj | None:
    """The default class; with several, the newest wins (then the name), as upstream since 1.26."""
    defaults = [c for c in classes if is_default_class(c)]
    if not defaults:
        return None
    return max(defaults, key=lambda c: (c["metadata"].get("creationTimestamp") or "", c["metadata"]["name"]))


def default_storage_class(pvc: Obj, classes: list[Obj]) -> Obj:
    """DefaultStorageClass admission: a claim that names no class gets the default one.

    Call it on create of a PersistentVolumeClaim, before validation. A claim with
    ``storageClassName`` set (even to ``""``, which means "no class") or with the beta
    annotation is left alone, as is everything when no class is marked default.
    Returns the claim (changed in place)."""
    spec = pvc.setdefault("spec", {})
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    if spec.get("storageClassName") is not None or BETA_CLASS_ANNOTATION in annotations:
        return pvc
    default = default_class(classes)
    if default is not None:
        spec["storageClassName"] = default["metadata"]["name"]
    return pvc


def claim_class(claim: Obj) -> str:
    """``GetPersistentVolumeClaimClass``: the beta annotation wins over the field; none is ``""``."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if BETA_CLASS_ANNOTATION in annotations:
        return str(annotations[BETA_CLASS_ANNOTATION])
    return str((claim.get("spec") or {}).get("storageClassName") or "")


# --- matching a claim with a volume ------------------------------------------------------
#
# One set of rules serves both the persistent volume controller (which binds claims) and the
# scheduler's VolumeBinding plugin (which asks "could this claim be bound on this node?").

ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
NOT_SUPPORTED_PROVISIONER = "kubernetes.io/no-provisioner"  # a class for static volumes only
READ_WRITE_ONCE_POD = "ReadWriteOncePod"

volume_class = claim_class  # a PV names its class the same two ways


def storage_bytes(amount: Any) -> int:
    """A storage quantity in bytes; a missing or unreadable one counts as 0."""
    try:
        return quantity.value(str(amount)) if amount is not None else 0
    except ValueError:
        return 0


def requested_storage(claim: Obj) -> int:
    return storage_bytes((((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage"))


def volume_capacity(pv: Obj) -> int:
    return storage_bytes(((pv.get("spec") or {}).get("capacity") or {}).get("storage"))


def is_bound_to(pv: Obj, claim: Obj) -> bool:
    """Whether ``pv.spec.claimRef`` names this claim (and, if it records a uid, this very claim)."""
    ref = (pv.get("spec") or {}).get("claimRef")
    if not ref:
        return False
    meta = claim["metadata"]
    if ref.get("name") != meta["name"] or ref.get("namespace") != meta.get("namespace"):
        return False
    return not ref.get("uid") or ref.get("uid") == meta.get("uid")


# A node selector's operators, as the label selector's Requirement spells them.
_NODE_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST,
                            "Gt": GREATER_THAN, "Lt": LESS_THAN}


def _requirement_holds(expr: Obj, labels: dict[str, str]) -> bool:
    operator = _NODE_SELECTOR_OPERATORS.get(expr.get("operator", ""))
    if operator is None:
        return False  # validation rejects unknown operators; one we cannot read selects nothing
    return Requirement(expr.get("key", ""), operator, tuple(expr.get("values") or ())).matches(labels)


def _term_matches(term: Obj, labels: dict[str, str], node_name: str) -> bool:
    """One ``NodeSelectorTerm``: all its requirements hold; a term with none matches nothing."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    return (all(_requirement_holds(e, labels) for e in expressions)
            and all(_requirement_holds(f, {"metadata.name": node_name}) for f in fields))


def volume_fits_node(pv: Obj, labels: dict[str, str], node_name: str) -> bool:
    """``CheckNodeAffinity``: the PV's ``spec.nodeAffinity.required`` terms (ORed) match the node.
    A volume without node affinity can be used from every node."""
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    if not required:
        return True
    return any(_term_matches(t, labels, node_name) for t in required.get("nodeSelectorTerms") or [])


def class_allows_node(sc: Obj, labels: dict[str, str]) -> bool:
    """The class's ``allowedTopologies`` (ORed terms of ANDed label values) admit the node; none admits all."""
    terms = sc.get("allowedTopologies") or []
    if not terms:
        return True
    return any(all(labels.get(e.get("key", "")) in (e.get("values") or []) for e in t.get("matchLabelExpressions") or [])
               for t in terms)


def can_provision(sc: Obj) -> bool:
    return sc.get("provisioner", "") not in ("", NOT_SUPPORTED_PROVISIONER)


def waits_for_first_consumer(sc: Obj | None) -> bool:
    """``IsDelayBindingMode``: the claim's class binds only once a pod using it is scheduled."""
    return sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"


def satisfies(pv: Obj, claim: Obj) -> bool:
    """The volume is what the claim asks for: class, volume mode, access modes, selector, size."""
    spec, cspec = pv.get("spec") or {}, claim.get("spec") or {}
    if volume_class(pv) != claim_class(claim):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (cspec.get("volumeMode") or "Filesystem"):
        return False
    if not set(cspec.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    selector = cspec.get("selector")
    if selector and not from_label_selector(selector).matches((pv.get("metadata") or {}).get("labels") or {}):
        return False
    return volume_capacity(pv) >= requested_storage(claim)


def find_best_match(claim: Obj, volumes: list[Obj], node: tuple[dict[str, str], str] | None = None,
                    delay_binding: bool = False, excluded: frozenset[str] = frozenset()) -> Obj | None:
    """The volume this claim should bind to (upstream's ``findMatchingVolume``).

    A volume pre-bound to the claim (its claimRef names it) wins; otherwise the smallest
    unclaimed, non-terminating volume that satisfies the claim; None if there is none.
    With ``node`` (its labels and name) a volume must also be usable there (its node
    affinity). With ``delay_binding`` and no node (the PV controller looking at a
    WaitForFirstConsumer claim) only a pre-bound volume counts: the scheduler chooses the rest.
    ``excluded`` names volumes already chosen for the pod's other claims."""
    best: Obj | None = None
    for pv in sorted(volumes, key=lambda v: v["metadata"]["name"]):
        if (pv.get("metadata") or {}).get("deletionTimestamp") or pv["metadata"]["name"] in excluded:
            continue
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref and not is_bound_to(pv, claim):
            continue
        if not satisfies(pv, claim):
            continue
        fits = node is None or volume_fits_node(pv, *node)
        if ref:
            return pv if fits else None
        if (node is None and delay_binding) or not fits:
            continue
        if best is None or volume_capacity(pv) < volume_capacity(best):
            best = pv
    return best


def pod_claim_names(pod: Obj) -> list[tuple[str, bool]]:
    """The claims a pod's volumes use, in order, as (claim name, ephemeral?).

    An ephemeral volume's claim is named ``<pod name>-<volume name>`` (``ephemeral.VolumeClaimName``)."""
    pod_name = (pod.get("metadata") or {}).get("name", "")
    names = []
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if (v.get("persistentVolumeClaim") or {}).get("claimName"):
            names.append((str(v["persistentVolumeClaim"]["claimName"]), False))
        elif isinstance(v.get("ephemeral"), dict):
            names.append((f"{pod_name}-{v.get('name', '')}", True))
    return names


def claim_is_for_pod(pod: Obj, claim: Obj) -> str | None:
    """``ephemeral.VolumeIsForPod``: None if the pod controls the claim, else upstream's error."""
    uid = (pod.get("metadata") or {}).get("uid")
    for ref in (claim.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("uid") == uid:
            return None
    cmeta, pmeta = claim.get("metadata") or {}, pod.get("metadata") or {}
    return (f"PVC {cmeta.get('namespace')}/{cmeta.get('name')} was not created for pod "
            f"{pmeta.get('namespace')}/{pmeta.get('name')} (pod is not owner)")

"""Storage classes: which one is the default, and which class a claim or volume names.

Shared by the API server (the DefaultStorageClass admission step: a
PersistentVolumeClaim created without ``storageClassName`` gets the default
class) and the persistent volume controller (binding and provisioning).

Taught in chapter 15 (storage: volumes, PV, PVC, StorageClass); chapter 8 uses it for StatefulSets.
"""

from __future__ import annotations

from typing import Any

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

"""Storage: PersistentVolumes and PersistentVolumeClaims.

A claim asks for storage: at least one access mode and a positive
``resources.requests.storage``; the same rules apply to a StatefulSet's
``volumeClaimTemplates``. A volume offers it: access modes, a capacity that names
``storage`` only, a reclaim policy and exactly one volume source. Once created, a
claim's spec is fixed except its requested size (which may grow, never shrink),
its volume attributes class, the ``volumeName`` binding sets, and the storage
class of an unbound claim that had none (retroactive default class assignment).

Interface:
    PVC_UPDATE_MSG                 # the Forbidden message of a refused claim update
    (package-private: _claim, _persistent_volume (obj), _claim_update (new, old), called by
    validate; _claim_spec(spec, path), shared with StatefulSets)

Invariants: never raises, never modifies its input (a claim update is compared on copies).

Taught in chapter 8 (StatefulSets: storage).
"""

from __future__ import annotations

from minik8s.api import schema
from minik8s.api.errors import FieldError, forbidden_field, invalid_value, required
from minik8s.api.validation.fields import (POSITIVE_MSG, Errors, Obj, _list, _map, _quantity, _str, _unsupported,
                                           _validate_selector_syntax)
from minik8s.api.validation.printing import canonical_quantity, go_string_map

PVC_UPDATE_MSG = ("spec is immutable after creation except resources.requests and volumeAttributesClassName "
                  "for bound claims")

_ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")


def _access_modes(spec: Obj, path: str, detail: str) -> Errors:
    modes = _list(spec, "accessModes")
    errs = [] if modes else [required(f"{path}.accessModes", detail)]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        errs.append(forbidden_field(f"{path}.accessModes", "may not use ReadWriteOncePod with other access modes"))
    return errs + [_unsupported(f"{path}.accessModes", m, _ACCESS_MODES) for m in modes if m not in _ACCESS_MODES]


def _claim_spec(spec: Obj, path: str) -> Errors:
    errs = _access_modes(spec, path, "at least 1 access mode is required")
    errs += _validate_selector_syntax(spec.get("selector"), f"{path}.selector")
    requests = _map(_map(spec, "resources"), "requests")
    if "storage" not in requests:
        errs.append(required(f"{path}.resources[storage]"))
    else:
        amount = _quantity(requests["storage"])
        if amount is not None and amount <= 0:
            errs.append(invalid_value(f"{path}.resources[storage]", canonical_quantity(requests["storage"]),
                                      POSITIVE_MSG))
    mode = _str(spec, "volumeMode")
    if mode and mode not in ("Block", "Filesystem"):
        errs.append(_unsupported(f"{path}.volumeMode", mode, ("Block", "Filesystem")))
    return errs


def _claim(obj: Obj) -> Errors:
    return _claim_spec(_map(obj, "spec"), "spec")


def _claim_update(new: Obj, old: Obj) -> Errors:
    new_spec, old_spec = dict(_map(new, "spec")), dict(_map(old, "spec"))
    errs: Errors = []
    new_storage = _quantity(_map(_map(new_spec, "resources"), "requests").get("storage"))
    old_storage = _quantity(_map(_map(old_spec, "resources"), "requests").get("storage"))
    if new_storage is not None and old_storage is not None and new_storage < old_storage:
        errs.append(forbidden_field("spec.resources.requests.storage", "field can not be less than previous value"))
    bound = _map(old, "status").get("phase") == "Bound"
    for spec in (new_spec, old_spec):
        if bound:
            spec.pop("resources", None)  # only a bound claim's request may change: that asks for expansion
        spec.pop("volumeAttributesClassName", None)
        if not old_spec.get("volumeName"):
            spec.pop("volumeName", None)  # binding sets it once
    if old_spec.get("storageClassName") is None and not old_spec.get("volumeName"):
        # Retroactive default class assignment (GA in 1.28): an unbound claim without a class may get one.
        new_spec.pop("storageClassName", None)
    if new_spec != old_spec:
        errs.append(forbidden_field("spec", PVC_UPDATE_MSG))
    return errs


def _persistent_volume(obj: Obj) -> Errors:
    spec = _map(obj, "spec")
    errs = _access_modes(spec, "spec", "")
    capacity = _map(spec, "capacity")
    if not capacity:
        errs.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        errs.append(FieldError("spec.capacity", "FieldValueNotSupported",
                               f'Unsupported value: {go_string_map({k: str(v) for k, v in capacity.items()})}: '
                               'supported values: "storage"'))
    for name, amount in capacity.items():
        value = _quantity(amount)
        if value is not None and value <= 0:
            errs.append(invalid_value(f"spec.capacity[{name}]", canonical_quantity(amount), POSITIVE_MSG))
    policy = _str(spec, "persistentVolumeReclaimPolicy")
    if policy and policy not in ("Delete", "Recycle", "Retain"):
        errs.append(_unsupported("spec.persistentVolumeReclaimPolicy", policy, ("Delete", "Recycle", "Retain")))
    sources = [k for k, t in schema.fields("V1PersistentVolumeSpec").items() if t.endswith("VolumeSource")
               or t.endswith("PersistentVolumeSource") or t.endswith("VirtualDiskVolumeSource")]
    present = [k for k in sources if spec.get(k) is not None]
    if not present:
        errs.append(required("spec", "must specify a volume type"))
    errs += [forbidden_field(f"spec.{k}", "may not specify more than 1 volume type") for k in present[1:]]
    if present and present[0] == "hostPath" and not _str(_map(spec, "hostPath"), "path"):
        errs.append(required("spec.hostPath.path"))
    return errs

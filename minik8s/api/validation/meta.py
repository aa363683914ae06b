"""Object metadata: the rules every object shares, whatever its kind.

Before any kind-specific rule, ``metadata`` is checked as upstream's
``ValidateObjectMeta`` checks it: a name (or a ``generateName`` prefix) in the
format the kind requires, a namespace exactly when the kind is namespaced,
well-formed labels and annotations (at most 256 KiB together), and finalizers
that are standard or fully qualified. On update, the identity of an object
(name, namespace, uid, creationTimestamp) may not change.

Interface:
    validate_object_meta(meta, namespaced, name_check, path="metadata") -> Errors
    validate_annotations(annotations, path) -> Errors
    validate_object_meta_update(new, old, path="metadata") -> Errors
    NameCheck                      # a name format, e.g. names.is_dns1123_subdomain

Invariants: never raises, never modifies its input; a missing ``metadata`` is
treated as empty (and so reports a missing name).

Taught in chapter 3 (the API: object metadata), chapter 5 (labels) and chapter 6
(Namespaces).
"""

from __future__ import annotations

from typing import Any, Callable

from minik8s.api.errors import forbidden_field, invalid_value, required, too_long
from minik8s.api.validation.fields import Errors, _list, _nonnegative, _str, _validate_labels, immutable
from minik8s.api.validation.names import _qualified_name, _size, is_dns1123_label

TOTAL_ANNOTATION_SIZE = 256 * 1024  # bytes, keys and values together
# (and the CRD cleanup finalizer, which apiextensions-apiserver sets itself)
_STANDARD_FINALIZERS = {"kubernetes", "orphan", "foregroundDeletion", "customresourcecleanup.apiextensions.k8s.io"}

NameCheck = Callable[[str], list[str]]


def _mask_trailing_dash(name: str) -> str:
    # generateName prefixes may end in '-': upstream checks them as if it were a letter.
    return name[:-1] + "a" if len(name) > 1 and name.endswith("-") else name


def validate_object_meta(meta: Any, namespaced: bool, name_check: NameCheck, path: str = "metadata") -> Errors:
    """Upstream ``ValidateObjectMeta``: name or generateName, namespace, labels, annotations."""
    meta = meta if isinstance(meta, dict) else {}
    errs: Errors = []
    name, generate = _str(meta, "name"), _str(meta, "generateName")
    if generate:
        errs += [invalid_value(f"{path}.generateName", generate, m) for m in name_check(_mask_trailing_dash(generate))]
    if not name:
        if not generate:
            errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs += [invalid_value(f"{path}.name", name, m) for m in name_check(name)]
    namespace = _str(meta, "namespace")
    if namespaced:
        if not namespace:
            errs.append(required(f"{path}.namespace"))
        else:
            errs += [invalid_value(f"{path}.namespace", namespace, m) for m in is_dns1123_label(namespace)]
    elif namespace:
        errs.append(forbidden_field(f"{path}.namespace", "not allowed on this type"))
    errs += _nonnegative(meta, "generation", f"{path}.generation")
    errs += _validate_labels(meta.get("labels"), f"{path}.labels")
    errs += validate_annotations(meta.get("annotations"), f"{path}.annotations")
    for i, finalizer in enumerate(_list(meta, "finalizers")):
        errs += _finalizer(finalizer, f"{path}.finalizers[{i}]")
    return errs


def validate_annotations(annotations: Any, path: str) -> Errors:
    if not isinstance(annotations, dict):
        return []
    errs = [invalid_value(path, key, m) for key in annotations for m in _qualified_name(str(key).lower())]
    total = sum(_size(str(k)) + _size(v if isinstance(v, str) else str(v)) for k, v in annotations.items())
    if total > TOTAL_ANNOTATION_SIZE:
        errs.append(too_long(path, "", TOTAL_ANNOTATION_SIZE))
    return errs


def _finalizer(name: Any, path: str) -> Errors:
    name = name if isinstance(name, str) else ""
    errs = [invalid_value(path, name, m) for m in _qualified_name(name)]
    if not errs and "/" not in name and name not in _STANDARD_FINALIZERS:
        errs.append(invalid_value(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


def validate_object_meta_update(new: Any, old: Any, path: str = "metadata") -> Errors:
    """Name, namespace, uid and creationTimestamp never change."""
    new, old = (new if isinstance(new, dict) else {}), (old if isinstance(old, dict) else {})
    errs: Errors = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        errs += immutable(new.get(key), old.get(key), f"{path}.{key}")
    return errs

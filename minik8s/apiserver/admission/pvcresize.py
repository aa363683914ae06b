"""The PersistentVolumeClaimResize admission plugin: who may ask for a bigger volume.

Raising ``spec.resources.requests.storage`` on a claim asks for its volume to be
expanded. Validation already refuses shrinking (422, ``field can not be less than
previous value``) and any change to an unbound claim's spec; this plugin refuses,
with 403 as upstream:

* expanding a claim that is not ``Bound``: ``Only bound persistent volume claims can
  be expanded``;
* expanding a claim whose StorageClass does not say ``allowVolumeExpansion: true``
  (or that has no class, or whose class is gone): ``only dynamically provisioned pvc
  can be resized and the storageclass that provisions the pvc must support resize``.

What happens after admission (the volume grows, the claim's status follows) is the
persistent volume controller's work (:mod:`minik8s.controllers.volume`).

Interface:
    PersistentVolumeClaimResize(api)       # an admission plugin (see admission.chain)

Taught in chapter 15 (storage: expanding volumes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from minik8s.api import errors, resources
from minik8s.api.storage import claim_class, requested_storage
from minik8s.apiserver.admission.chain import UPDATE, Attributes

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

PVCS = resources.get("", "v1", "persistentvolumeclaims")
CLASSES = resources.get("storage.k8s.io", "v1", "storageclasses")
assert PVCS is not None and CLASSES is not None

NOT_BOUND = "Only bound persistent volume claims can be expanded"
NOT_EXPANDABLE = ("only dynamically provisioned pvc can be resized and the storageclass that provisions "
                  "the pvc must support resize")


class PersistentVolumeClaimResize:
    name = "PersistentVolumeClaimResize"

    def __init__(self, api: APIServer):
        self.api = api

    def validate(self, attrs: Attributes) -> None:
        if attrs.resource is not PVCS or attrs.operation != UPDATE or attrs.subresource:
            return
        new, old = attrs.obj or {}, attrs.old or {}
        if requested_storage(new) <= requested_storage(old):
            return
        if (old.get("status") or {}).get("phase") != "Bound":
            raise errors.forbidden("", "persistentvolumeclaims", attrs.name, NOT_BOUND)
        if not self._allows_resize(claim_class(new), claim_class(old)):
            raise errors.forbidden("", "persistentvolumeclaims", attrs.name, NOT_EXPANDABLE)

    def _allows_resize(self, new_class: str, old_class: str) -> bool:
        if not new_class or new_class != old_class:
            return False
        sc = self.api.store.get((CLASSES.storage_name, "", new_class))
        return bool(sc and sc.get("allowVolumeExpansion") is True)

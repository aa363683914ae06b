"""The ephemeral volume controller: a claim per pod volume, made from the pod's template.

A *generic ephemeral volume* is written inside the pod::

    volumes:
    - name: scratch
      ephemeral:
        volumeClaimTemplate:
          spec: {accessModes: [ReadWriteOnce], storageClassName: standard,
                 resources: {requests: {storage: 1Gi}}}

For it this controller creates the PersistentVolumeClaim ``<pod>-<volume>`` (here
``app-scratch``) with the template's labels, annotations and spec, owned by the pod
(a *controller* ownerReference with ``blockOwnerDeletion``), so the garbage collector
deletes it, and so its volume, with the pod. From then on it is a claim like any
other: the PV controller binds or provisions it, the scheduler waits for it
(``waiting for ephemeral volume controller to create the persistentvolumeclaim
"app-scratch"`` until it exists), the kubelet mounts it.

A claim of that name that the pod does not own is never taken over: the pod stays
Pending and the controller records, as upstream, ``Warning FailedBinding``
``ephemeral volume scratch: PVC default/app-scratch was not created for pod
default/app (pod is not owner)``.

Interface:
    claim_for(pod, volume) -> PersistentVolumeClaim dict    # the pure part
    EphemeralVolumeController(ctx)                          # name "ephemeral-volume-controller"

Taught in chapter 15 (storage: ephemeral volumes).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.objects import deep_copy
from minik8s.api.resources import Resource
from minik8s.api.storage import claim_is_for_pod
from minik8s.controllers.controller import Controller, object_key

PODS = resources.get("", "v1", "pods")
PVCS = resources.get("", "v1", "persistentvolumeclaims")
assert PODS is not None and PVCS is not None

Obj = dict[str, Any]

EVENT_SOURCE = "ephemeral_volume"  # upstream's recorder component for this controller


def _ephemeral_volumes(pod: Obj) -> list[Obj]:
    return [v for v in (pod.get("spec") or {}).get("volumes") or [] if isinstance(v.get("ephemeral"), dict)]


def claim_for(pod: Obj, volume: Obj) -> Obj:
    """The claim for one ephemeral volume of ``pod``: named ``<pod>-<volume>``, owned by the pod."""
    meta = pod["metadata"]
    template = (volume["ephemeral"].get("volumeClaimTemplate") or {})
    template_meta = template.get("metadata") or {}
    claim_meta: Obj = {
        "name": f"{meta['name']}-{volume.get('name', '')}", "namespace": meta.get("namespace"),
        "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": meta["name"], "uid": meta.get("uid"),
                             "controller": True, "blockOwnerDeletion": True}],
    }
    if template_meta.get("labels"):
        claim_meta["labels"] = dict(template_meta["labels"])
    if template_meta.get("annotations"):
        claim_meta["annotations"] = dict(template_meta["annotations"])
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
            "spec": deep_copy(template.get("spec") or {})}


class EphemeralVolumeController(Controller):
    name = "ephemeral-volume-controller"
    watches = (PODS, PVCS)

    # keys: (namespace, pod name)
    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource is PODS:
            return [object_key(obj)] if _ephemeral_volumes(obj) else []
        # A claim went away or changed: its owner pod may need it again.
        meta = obj.get("metadata") or {}
        return [(meta.get("namespace", ""), ref.get("name", "")) for ref in meta.get("ownerReferences") or []
                if ref.get("kind") == "Pod" and ref.get("controller")]

    def reconcile(self, key: Any) -> None:
        pod = self.informer(PODS).get(*key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return
        namespace = pod["metadata"].get("namespace")
        for volume in _ephemeral_volumes(pod):
            wanted = claim_for(pod, volume)
            existing = self.informer(PVCS).get(namespace, wanted["metadata"]["name"])
            if existing is not None:
                problem = claim_is_for_pod(pod, existing)
                if problem is not None:
                    self.ctx.recorder.event(pod, "Warning", "FailedBinding",
                                            f"ephemeral volume {volume.get('name', '')}: {problem}",
                                            component=EVENT_SOURCE)
                    return
                continue
            try:
                self.client.create(PVCS, wanted, namespace)
            except StatusError as err:
                if err.code != 409:  # already made: the next event brings it
                    raise

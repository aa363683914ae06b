"""Per-kind rules the API server applies around every write (upstream's "strategies").

The generic verbs in :mod:`minik8s.apiserver.apiserver` are the same for every
resource; what differs is decided here:

* which resources reset ``status`` on create and ignore it on a main-resource
  update (those with a ``status`` subresource: status is the controllers' to write);
* which resources count ``metadata.generation`` (bumped when ``spec`` changes, so
  controllers can report ``status.observedGeneration``);
* the initial status of a new object (a Pod starts ``Pending`` with a QoS class,
  a Namespace ``Active``, a PVC ``Pending``);
* which status counters are left out when zero (upstream's ``omitempty``);
* a Secret's write-only ``stringData``, merged into ``data`` and never stored;
* a Pod's ``/ephemeralcontainers``: only ``spec.ephemeralContainers`` is written, and it only grows.

Taught in chapter 3 (why status is never written by hand).
"""

from __future__ import annotations

import base64
from typing import Any

from minik8s.api.objects import deep_copy
from minik8s.api.qos import pod_qos_class
from minik8s.api import errors
from minik8s.api.resources import Resource

# Groups whose objects carry metadata.generation (their strategies set it on create).
_GENERATION_GROUPS = {"apps", "batch", "networking.k8s.io", "autoscaling", "policy"}

# Status counters that upstream's Go types mark ``omitempty``: a zero is never serialized, so
# ``kubectl get -o yaml`` shows no ``unavailableReplicas: 0``. Counters without ``omitempty``
# (a ReplicaSet's or StatefulSet's ``replicas``, a DaemonSet's ``numberReady``) keep their zero.
_OMITEMPTY_COUNTERS = {
    "Deployment": ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                   "unavailableReplicas"),
    "ReplicaSet": ("fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"),
    "StatefulSet": ("observedGeneration", "readyReplicas", "currentReplicas", "updatedReplicas"),
    "DaemonSet": ("observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable"),
    "Job": ("active", "succeeded", "failed"),
}

# Status fields that upstream's OpenAPI marks required (Go fields without ``omitempty``): a new object's
# status carries them as zero before any controller has counted, so clients that check required fields
# (the official client's models) accept it.
_REQUIRED_ZERO_STATUS = {
    "ReplicationController": {"replicas": 0},
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0,
                  "numberReady": 0},
    "HorizontalPodAutoscaler": {"desiredReplicas": 0},
    "PodDisruptionBudget": {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0},
}


def has_status_subresource(resource: Resource) -> bool:
    return "status" in resource.subresources


def tracks_generation(resource: Resource) -> bool:
    return resource.group in _GENERATION_GROUPS


def initial_status(resource: Resource, obj: dict[str, Any]) -> dict[str, Any] | None:
    """What ``status`` a newly created object starts with (None: leave as sent)."""
    kind = resource.kind
    if kind == "Pod":
        return {"phase": "Pending", "qosClass": pod_qos_class(obj.get("spec") or {})}
    if kind == "Namespace":
        return {"phase": "Active"}
    if kind in ("PersistentVolumeClaim", "PersistentVolume"):
        return {"phase": "Pending"}
    if kind == "Service":
        return {"loadBalancer": {}}
    if kind == "Node":
        return obj.get("status")  # a kubelet registers its node together with its status
    if has_status_subresource(resource):
        return dict(_REQUIRED_ZERO_STATUS.get(kind, {}))
    return None


def _merge_string_data(obj: dict[str, Any]) -> None:
    """A Secret's ``stringData`` is write-only: merged into ``data`` (base64, winning over ``data``'s own
    keys) as the object is read in, and never stored or returned, as upstream's conversion does."""
    string_data = obj.pop("stringData", None)
    if not isinstance(string_data, dict):
        return
    data = dict(obj.get("data") or {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    obj["data"] = data


def prepare_for_create(resource: Resource, obj: dict[str, Any]) -> None:
    if resource.kind == "Secret":
        _merge_string_data(obj)
    status = initial_status(resource, obj)
    if status is not None:
        obj["status"] = status
    elif "status" in obj and has_status_subresource(resource):
        del obj["status"]
    if tracks_generation(resource):
        obj["metadata"]["generation"] = 1


def prepare_for_update(resource: Resource, obj: dict[str, Any], old: dict[str, Any]) -> None:
    """A write to the main resource: keep the stored status, bump generation on a spec change."""
    if resource.kind == "Secret":
        _merge_string_data(obj)
    if has_status_subresource(resource) and resource.kind != "Node":
        if "status" in old:
            obj["status"] = deep_copy(old["status"])
        else:
            obj.pop("status", None)
    elif resource.kind == "Node" and "status" in old:
        obj["status"] = deep_copy(old["status"])
    if resource.kind == "Pod" and isinstance(obj.get("spec"), dict):
        # Ephemeral containers are added through /ephemeralcontainers only.
        obj["spec"].pop("ephemeralContainers", None)
        if (old.get("spec") or {}).get("ephemeralContainers"):
            obj["spec"]["ephemeralContainers"] = deep_copy(old["spec"]["ephemeralContainers"])
    if resource.kind == "Namespace":
        # Namespace phase belongs to the server; spec.finalizers change only through /finalize.
        obj["status"] = deep_copy(old.get("status", {}))
        obj["spec"] = deep_copy(old.get("spec", {}))
    _bump_generation(resource, obj, old)


def prepare_for_status_update(resource: Resource, obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A write to ``/status``: everything but status comes from the stored object."""
    new = deep_copy(old)
    new["status"] = _omit_empty_counters(resource, deep_copy(obj.get("status", {})))
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        new["metadata"]["resourceVersion"] = meta["resourceVersion"]
    return new


def prepare_for_ephemeral_containers_update(obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A write to a Pod's ``/ephemeralcontainers`` (``kubectl debug``): only
    ``spec.ephemeralContainers`` comes from the request, and it may only grow: a container once added
    is neither changed nor removed (it may be running). Raises 422 Invalid otherwise."""
    new = deep_copy(old)
    sent = (obj.get("spec") or {}).get("ephemeralContainers")
    new["spec"]["ephemeralContainers"] = deep_copy(sent) if isinstance(sent, list) else []
    meta = obj.get("metadata") or {}
    if "resourceVersion" in meta:
        new["metadata"]["resourceVersion"] = meta["resourceVersion"]
    by_name = {c.get("name"): c for c in new["spec"]["ephemeralContainers"] if isinstance(c, dict)}
    causes = []
    for i, before in enumerate(old["spec"].get("ephemeralContainers") or []):
        after = by_name.get(before.get("name"))
        if after is None:
            causes.append(errors.forbidden_field(
                "spec.ephemeralContainers", f'existing ephemeral containers "{before.get("name")}" may not be removed'))
        elif any(after.get(key) != before.get(key) for key in after):
            causes.append(errors.forbidden_field(
                f"spec.ephemeralContainers[{i}]", f'existing ephemeral containers "{before.get("name")}" may not '
                                                  "be changed"))
    if causes:
        raise errors.invalid("Pod", "", old["metadata"]["name"], causes)
    if not new["spec"]["ephemeralContainers"]:
        del new["spec"]["ephemeralContainers"]
    return new


def _omit_empty_counters(resource: Resource, status: Any) -> Any:
    """Drop the zero ``omitempty`` counters, as encoding upstream's Go struct would."""
    if isinstance(status, dict):
        for key in _OMITEMPTY_COUNTERS.get(resource.kind, ()):
            if status.get(key) == 0:
                del status[key]
    return status


def _bump_generation(resource: Resource, obj: dict[str, Any], old: dict[str, Any]) -> None:
    if not tracks_generation(resource):
        return
    generation = old["metadata"].get("generation", 1)
    if obj.get("spec") != old.get("spec"):
        generation += 1
    obj["metadata"]["generation"] = generation


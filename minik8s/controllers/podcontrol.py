"""Pod control: what every controller that owns pods needs (ReplicaSet, StatefulSet, DaemonSet, Job).

A workload controller never "has" pods in memory: it *owns* them through an
``ownerReference`` on each pod, which names the owner's kind, name and uid and
says ``controller: true`` (at most one owner per object may be its controller).
Ownership is what lets the garbage collector delete a ReplicaSet's pods with
it, and what stops two ReplicaSets with overlapping selectors from fighting
over the same pods. Upstream keeps this in ``k8s.io/kubernetes/pkg/controller``
(``controller_utils.go``, ``controller_ref_manager.go``); this module is its
Python counterpart.

Interface (all objects are plain Kubernetes JSON dicts):

    controller_ref(owner)                  # {"apiVersion", "kind", "name", "uid", "controller": True,
                                           #  "blockOwnerDeletion": True}
    controller_of(obj) -> ref | None       # the ownerReference with controller=true, if any
    is_controlled_by(obj, owner) -> bool   # same uid as owner's
    pod_from_template(template, owner, namespace, generate_name=None, name=None) -> pod dict
    is_pod_active(pod), is_pod_ready(pod), pod_ready_since(pod), is_pod_available(pod, min_ready_seconds, now)

    control = PodControl(client, recorder, component="replicaset-controller")
    control.create_pod(owner, template, generate_name=f"{owner_name}-")   # records SuccessfulCreate/FailedCreate
    control.delete_pod(owner, pod)                                       # records SuccessfulDelete/FailedDelete
    control.claim_pods(owner, selector, pods, owner_alive=None) -> owned pods
        # adopt orphans that match, release owned pods that stopped matching,
        # leave pods controlled by someone else alone (upstream's ClaimPods)
    claim(client, resource, owner, selector, objects, owner_alive=None)   # the same for any kind

    expectations = Expectations(clock)      # upstream's ControllerExpectations (see its docstring)

Invariants:
    * a pod created here carries exactly one controller ownerReference, to ``owner``;
    * adoption and release are written with the pod's ``resourceVersion`` (optimistic
      concurrency), so a stale cache yields a 409 Conflict and a retry, never a lost update;
    * nothing returned by an informer is mutated: every write starts from a deep copy.

How minik8s differs: upstream adopts/releases with a strategic merge patch that
carries the pod's uid as a precondition; here the pod is updated whole with its
resourceVersion, which gives the same safety. Upstream re-reads the owner with a
quorum read before adopting (``RecheckDeletionTimestamp``); pass ``owner_alive``
to do the same.

Taught in chapter 7 (ReplicaSets and Deployments) and chapter 8 (other workloads).
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import LabelSelector
from minik8s.client.base import Client
from minik8s.clock import Clock, parse_rfc3339
from minik8s.controllers.events import EventRecorder

PODS = resources.get("", "v1", "pods")
assert PODS is not None

# Upstream's ExpectationsTimeout: expectations older than this are presumed lost (a missed watch event).
EXPECTATIONS_TIMEOUT_SECONDS = 5 * 60.0


# --- owner references ---------------------------------------------------------------------


def controller_ref(owner: dict[str, Any]) -> dict[str, Any]:
    """The ownerReference a controller puts on what it creates (``metav1.NewControllerRef``)."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The owner reference marked ``controller: true`` (``metav1.GetControllerOf``)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def is_controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


# --- pods from templates ------------------------------------------------------------------


def pod_from_template(template: dict[str, Any], owner: dict[str, Any], namespace: str, *,
                      generate_name: str | None = None, name: str | None = None) -> dict[str, Any]:
    """A new pod built from a pod template, controlled by ``owner`` (upstream's ``GetPodFromTemplate``).

    Labels, annotations and finalizers come from the template's metadata, the spec is
    copied whole; the pod is named ``name`` or gets ``generateName`` (``<owner>-``)."""
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {"namespace": namespace, "ownerReferences": [controller_ref(owner)]}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name if generate_name is not None else f"{owner['metadata']['name']}-"
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            meta[field] = deep_copy(tmeta[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": deep_copy(template.get("spec") or {})}


# --- pod state ----------------------------------------------------------------------------


def is_pod_active(pod: dict[str, Any]) -> bool:
    """Not finished and not being deleted (upstream's ``IsPodActive``)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get("deletionTimestamp")


def _ready_condition(pod: dict[str, Any]) -> dict[str, Any] | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond  # type: ignore[no-any-return]
    return None


def is_pod_ready(pod: dict[str, Any]) -> bool:
    cond = _ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def pod_ready_since(pod: dict[str, Any]) -> float | None:
    """When the pod became Ready (its Ready condition's lastTransitionTime), or None if not ready."""
    cond = _ready_condition(pod)
    if cond is None or cond.get("status") != "True":
        return None
    stamp = cond.get("lastTransitionTime")
    return parse_rfc3339(stamp) if stamp else 0.0


def is_pod_available(pod: dict[str, Any], min_ready_seconds: float, now: float) -> bool:
    """Ready for at least ``minReadySeconds`` (upstream's ``podutil.IsPodAvailable``)."""
    if min_ready_seconds <= 0:
        return is_pod_ready(pod)  # no need to parse a timestamp
    since = pod_ready_since(pod)
    if since is None:
        return False
    return min_ready_seconds <= 0 or since + min_ready_seconds <= now


# --- pod control --------------------------------------------------------------------------


class PodControl:
    """Creates, deletes, adopts and releases pods on behalf of one controller, recording events."""

    def __init__(self, client: Client, recorder: EventRecorder, component: str):
        self.client = client
        self.recorder = recorder
        self.component = component

    def create_pod(self, owner: dict[str, Any], template: dict[str, Any], *, generate_name: str | None = None,
                   name: str | None = None, namespace: str | None = None) -> dict[str, Any]:
        """Create one pod from ``template`` owned by ``owner``; raises StatusError (after a FailedCreate
        event) when the API server refuses."""
        ns = namespace or owner["metadata"].get("namespace") or "default"
        pod = pod_from_template(template, owner, ns, generate_name=generate_name, name=name)
        if not (pod["metadata"].get("labels")):
            # Upstream refuses: a pod without labels could never be matched back to its owner.
            raise StatusError(422, "Invalid", "unable to create pods, no labels")
        try:
            created = self.client.create(PODS, pod, ns)
        except StatusError as err:
            self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {err.message}",
                                component=self.component)
            raise
        self.recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}",
                            component=self.component)
        return created

    def delete_pod(self, owner: dict[str, Any], pod: dict[str, Any]) -> None:
        """Delete a pod (gracefully, as upstream); a pod already gone counts as deleted."""
        meta = pod["metadata"]
        try:
            self.client.delete(PODS, meta["name"], meta.get("namespace"))
        except StatusError as err:
            if err.code == 404:
                return
            self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {err.message}",
                                component=self.component)
            raise
        self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}",
                            component=self.component)

    def claim_pods(self, owner: dict[str, Any], selector: LabelSelector, pods: Iterable[dict[str, Any]],
                   owner_alive: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
        """The pods ``owner`` controls after adopting and releasing (upstream's ``ClaimPods``);
        see :func:`claim`."""
        return claim(self.client, PODS, owner, selector, pods, owner_alive)


def claim(client: Client, resource: Resource, owner: dict[str, Any], selector: LabelSelector,
          objects: Iterable[dict[str, Any]], owner_alive: Callable[[], bool] | None = None) -> list[dict[str, Any]]:
    """The objects ``owner`` controls after adopting and releasing (upstream's ``ControllerRefManager``).

    * owned and matching: kept;
    * owned but no longer matching: released (its ownerReference removed), unless the owner is
      being deleted;
    * orphan (no controller) and matching: adopted, unless the owner or the object is being deleted
      (and ``owner_alive()``, if given, confirms the owner still exists with the same uid);
    * controlled by another owner: ignored.
    Works for any kind (a Deployment claims ReplicaSets the same way a ReplicaSet claims pods).
    """
    owner_uid = owner["metadata"]["uid"]
    owner_deleting = bool(owner["metadata"].get("deletionTimestamp"))
    claimed: list[dict[str, Any]] = []
    alive: bool | None = None
    for obj in objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != owner_uid:
                continue
            if selector.matches(labels):
                claimed.append(obj)
            elif not owner_deleting:
                _write_owner_refs(client, resource, obj, owner, adopt=False)
            continue
        if owner_deleting or obj["metadata"].get("deletionTimestamp") or not selector.matches(labels):
            continue
        if alive is None:
            alive = owner_alive() if owner_alive is not None else True
        if not alive:
            continue
        adopted = _write_owner_refs(client, resource, obj, owner, adopt=True)
        if adopted is not None:
            claimed.append(adopted)
    return claimed


def _write_owner_refs(client: Client, resource: Resource, obj: dict[str, Any], owner: dict[str, Any],
                      adopt: bool) -> dict[str, Any] | None:
    """Add (adopt) or remove (release) ``owner``'s reference; written with the object's resourceVersion."""
    new = deep_copy(obj)
    uid = owner["metadata"]["uid"]
    refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
    if adopt:
        refs.append(controller_ref(owner))
    if refs:
        new["metadata"]["ownerReferences"] = refs
    else:
        new["metadata"].pop("ownerReferences", None)
    try:
        return client.update(resource, new, obj["metadata"].get("namespace"))
    except StatusError as err:
        if err.code in (404, 422):
            return None  # gone meanwhile, or no longer valid: nothing to adopt or release
        raise


# --- expectations -------------------------------------------------------------------------


class Expectations:
    """What a controller is waiting to see in its informer cache (upstream's ``ControllerExpectations``).

    A controller that has just created 3 pods will not see them in its cache until the
    watch events arrive; reconciling again before that would create 3 more. So before
    acting it records what it expects (``expect_creations(key, 3)``), the pod event
    handler lowers the count (``creation_observed(key)``), and reconcile only acts when
    ``satisfied(key)``: no expectations, all met, or older than five minutes (a lost event
    must not block the controller forever). Deletions are tracked by pod key, so a
    duplicate DELETED event does not count twice.
    """

    def __init__(self, clock: Clock):
        self.clock = clock
        self._adds: dict[Hashable, int] = {}
        self._dels: dict[Hashable, set[str]] = {}
        self._stamp: dict[Hashable, float] = {}

    def expect_creations(self, key: Hashable, count: int) -> None:
        self._adds[key] = max(count, 0)
        self._dels.setdefault(key, set())
        self._stamp[key] = self.clock.now()

    def expect_deletions(self, key: Hashable, pod_keys: Iterable[str]) -> None:
        self._dels[key] = set(pod_keys)
        self._adds.setdefault(key, 0)
        self._stamp[key] = self.clock.now()

    def creation_observed(self, key: Hashable) -> None:
        if self._adds.get(key, 0) > 0:
            self._adds[key] -= 1

    def lower_creations(self, key: Hashable, count: int = 1) -> None:
        """A create that failed will never be observed: stop waiting for it."""
        if key in self._adds:
            self._adds[key] = max(self._adds[key] - count, 0)

    def deletion_observed(self, key: Hashable, pod_key: str) -> None:
        self._dels.get(key, set()).discard(pod_key)

    def satisfied(self, key: Hashable) -> bool:
        if key not in self._stamp:
            return True
        if self._adds.get(key, 0) <= 0 and not self._dels.get(key):
            return True
        return self.clock.now() - self._stamp[key] > EXPECTATIONS_TIMEOUT_SECONDS

    def forget(self, key: Hashable) -> None:
        """The controller object is gone: drop its expectations."""
        self._adds.pop(key, None)
        self._dels.pop(key, None)
        self._stamp.pop(key, None)


def pod_key(pod: dict[str, Any]) -> str:
    """``namespace/name``, the key Expectations tracks deletions by."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"

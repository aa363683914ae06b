"""The persistent volume controller: binds claims to volumes, provisions and reclaims them.

Storage in Kubernetes has three objects. A ``PersistentVolume`` (PV, cluster
scoped) is a piece of storage; a ``PersistentVolumeClaim`` (PVC, namespaced) is
a request for storage ("1Gi, ReadWriteOnce, class standard"); a ``StorageClass``
says how to make new volumes on demand. This controller keeps the two halves
married:

* **binding**: an unbound claim is matched with the smallest Available volume of
  its class that has enough capacity, the requested access modes, the same
  volume mode and labels matching the claim's selector. Both sides then point at
  each other (``pv.spec.claimRef``, ``pvc.spec.volumeName``) and both become
  ``Bound``;
* **dynamic provisioning**: when nothing matches and the claim's class names the
  built-in provisioner ``minik8s.io/hostpath``, a directory is made and a PV
  ``pvc-<claim uid>`` is created for it, pre-bound to the claim;
* **WaitForFirstConsumer**: a claim of such a class waits (event
  ``WaitForFirstConsumer``) until the scheduler has chosen a node for its first pod
  (:mod:`minik8s.scheduler.plugins.volume_binding`): it either pre-binds a static
  volume usable there or annotates the claim ``volume.kubernetes.io/selected-node``;
  the volume provisioned then can be used on that node only (``spec.nodeAffinity``
  on ``kubernetes.io/hostname``), so every later pod of the claim goes there too;
* **reclaiming**: when a bound claim is deleted its volume becomes ``Released``;
  with ``persistentVolumeReclaimPolicy: Delete`` the volume (and its directory)
  is deleted, with ``Retain`` it stays, data and all, for an administrator.

* **expansion**: raising a bound claim's ``spec.resources.requests.storage`` (its class
  must say ``allowVolumeExpansion: true``, which the PersistentVolumeClaimResize admission
  plugin checks) grows the volume's ``spec.capacity``; the claim shows a ``Resizing``
  condition meanwhile, then the new ``status.capacity`` (events ``Resizing``,
  ``VolumeResizeSuccessful``).

A claim that cannot be satisfied stays ``Pending`` with an event saying why,
and is looked at again whenever a volume or a storage class changes: it never
spins. A claim whose volume disappears becomes ``Lost``.

Interface:
    (which class is the default, and which volume matches a claim: minik8s.api.storage,
     shared with the API server's admission and the scheduler's VolumeBinding plugin)
    find_best_match(claim, volumes) -> pv | None    # the pure binding decision
    default_class_object() -> StorageClass dict     # ``standard``, created when the cluster starts
    PersistentVolumeController(ctx)                 # name "persistentvolume-controller"

Volume layout on disk: ``<data dir>/volumes/<pv name>/`` (for example
``/var/lib/minik8s/volumes/pvc-6f1c.../``), recorded as the PV's
``spec.hostPath.path``; a runtime that mounts volumes mounts that directory.
Without a data dir the controller makes a temporary directory and removes it
when the cluster stops.

How minik8s differs:
    * upstream splits this work between the PV controller in kube-controller-manager
      and an external provisioner (here ``minik8s.io/hostpath``, like minikube's
      ``k8s.io/minikube-hostpath``); minik8s runs both in one controller, and records
      the same events (``ExternalProvisioning`` from the controller, ``Provisioning``
      and ``ProvisioningSucceeded`` from the provisioner);
    * upstream also re-examines every pending claim every 15 s; minik8s re-examines
      them when a volume, a storage class or a pod changes, which is when an answer can change;
    * the ``kubernetes.io/pv-protection`` / ``pvc-protection`` finalizers are not used;
    * expansion needs no step on the node (a directory has no filesystem to grow), so a
      claim never shows ``FileSystemResizePending``; ``status.allocatedResources`` and
      recovery from failed expansions are not modelled;
    * a pod placed by ``spec.nodeName`` (it never passes the scheduler) still gets its
      ``WaitForFirstConsumer`` claim provisioned: the controller notes its node as
      ``selected-node``; upstream's claim would wait for ever.

Taught in chapter 15 (storage: volumes, PV, PVC, StorageClass).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.storage import (ANN_SELECTED_NODE, DEFAULT_CLASS_ANNOTATION, claim_class, default_class,
                                 default_storage_class, find_best_match, is_bound_to, pod_claim_names, requested_storage,
                                 storage_bytes, waits_for_first_consumer)
from minik8s.clock import rfc3339
from minik8s.controllers.controller import Context, Controller

PVCS = resources.get("", "v1", "persistentvolumeclaims")
PVS = resources.get("", "v1", "persistentvolumes")
CLASSES = resources.get("storage.k8s.io", "v1", "storageclasses")
PODS = resources.get("", "v1", "pods")
assert PVCS is not None and PVS is not None and CLASSES is not None and PODS is not None

Obj = dict[str, Any]

PROVISIONER = "minik8s.io/hostpath"
IN_TREE_PREFIX = "kubernetes.io/"  # provisioner names upstream's controller looks up among its own plugins
RESIZER = f"external-resizer {PROVISIONER}"  # who records the resize events, as upstream's sidecar names itself
HOSTNAME_LABEL = "kubernetes.io/hostname"
DEFAULT_CLASS = "standard"
# Annotations the PV controller and provisioners write (pkg/controller/volume/persistentvolume/util).
ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"

NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"
WAIT_FOR_CONSUMER_MESSAGE = "waiting for first consumer to be created before binding"
CLAIM_LOST_MESSAGE = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"


def _external_message(provisioner: str) -> str:
    return (f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually "
            "by the system administrator. If volume creation is delayed, please verify that the provisioner is "
            "running and correctly registered.")


# --- pure decisions -----------------------------------------------------------------------


def default_class_object() -> Obj:
    """The ``standard`` StorageClass every minik8s cluster starts with (as minikube and kind do)."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": DEFAULT_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def _claim_ref(claim: Obj) -> Obj:
    meta = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "namespace": meta.get("namespace", "default"), "name": meta["name"],
            "uid": meta.get("uid"), "apiVersion": "v1", "resourceVersion": meta.get("resourceVersion")}


def provisioned_volume(claim: Obj, sc: Obj, path: str) -> Obj:
    """The PV the hostpath provisioner makes for ``claim``: named ``pvc-<claim uid>``, pre-bound to it."""
    cspec = claim.get("spec") or {}
    storage = ((cspec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    pv: Obj = {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": f"pvc-{claim['metadata']['uid']}", "annotations": {ANN_PROVISIONED_BY: PROVISIONER}},
        "spec": {"capacity": {"storage": storage}, "accessModes": list(cspec.get("accessModes") or []),
                 "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
                 "storageClassName": sc["metadata"]["name"], "volumeMode": cspec.get("volumeMode") or "Filesystem",
                 "hostPath": {"path": path, "type": ""}, "claimRef": _claim_ref(claim)},
    }
    if sc.get("mountOptions"):
        pv["spec"]["mountOptions"] = list(sc["mountOptions"])
    node = (claim["metadata"].get("annotations") or {}).get(ANN_SELECTED_NODE)
    if node and waits_for_first_consumer(sc):
        # A directory exists on one node only: the volume can be used there and nowhere else.
        pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}}
    return pv


# --- the controller -----------------------------------------------------------------------


class PersistentVolumeController(Controller):
    name = "persistentvolume-controller"
    watches = (PVCS, PVS, CLASSES, PODS)

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        # Where volume directories live; see the module docstring for the layout.
        data_dir = ctx.data_dir
        self._root: Path | None = Path(data_dir) / "volumes" if data_dir else None
        self._temporary: Path | None = None
        self.queue.add(("bootstrap",))

    # keys: ("pvc", namespace, name), ("pv", "", name), ("bootstrap",)
    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        meta = obj.get("metadata") or {}
        if resource is PVCS:
            keys: list[Hashable] = [("pvc", meta.get("namespace", ""), meta["name"])]
            volume = (obj.get("spec") or {}).get("volumeName")
            return keys + ([("pv", "", volume)] if volume else [])
        if resource is PVS:
            ref = (obj.get("spec") or {}).get("claimRef")
            keys = [("pv", "", meta["name"])]
            if ref:
                keys.append(("pvc", ref.get("namespace", ""), ref.get("name", "")))
            return keys + self._pending_claims()
        if resource is CLASSES:
            return self._pending_claims()
        return self._claims_of_scheduled_pod(obj, old)

    def _pending_claims(self) -> list[Hashable]:
        return [("pvc", c["metadata"].get("namespace", ""), c["metadata"]["name"]) for c in self.informer(PVCS).list()
                if not (c.get("spec") or {}).get("volumeName")]

    def _claims_of_scheduled_pod(self, pod: Obj, old: Obj | None) -> list[Hashable]:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (old is not None and (old.get("spec") or {}).get("nodeName") == node):
            return []
        namespace = pod["metadata"].get("namespace", "")
        return [("pvc", namespace, name) for name, _ in pod_claim_names(pod)]

    def reconcile(self, key: Any) -> None:
        if key[0] == "bootstrap":
            self._ensuredefault_class()
        elif key[0] == "pvc":
            claim = self.informer(PVCS).get(key[1], key[2])
            if claim is not None:
                self._sync_claim(claim)
        else:
            pv = self.informer(PVS).get("", key[2])
            if pv is not None:
                self._sync_volume(pv)

    def _ensuredefault_class(self) -> None:
        try:
            self.client.create(CLASSES, default_class_object())
        except StatusError as err:
            if err.code != 409:  # already there (a restarted server): keep what the administrator has
                raise

    # --- claims ---------------------------------------------------------------------------

    def _sync_claim(self, claim: Obj) -> None:
        if claim["metadata"].get("deletionTimestamp"):
            return
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if volume_name:
            self._sync_bound_claim(claim, volume_name)
        else:
            self._sync_unbound_claim(claim)

    def _sync_bound_claim(self, claim: Obj, volume_name: str) -> None:
        pv = self.informer(PVS).get("", volume_name)
        if pv is None:
            if (claim.get("status") or {}).get("phase") == "Bound":
                self._set_claim_phase(claim, "Lost", None)
                self.ctx.recorder.event(claim, "Warning", "ClaimLost", CLAIM_LOST_MESSAGE, component=self.name)
            return
        if is_bound_to(pv, claim) and (claim.get("status") or {}).get("phase") == "Bound" and \
                requested_storage(claim) > storage_bytes(((claim.get("status") or {}).get("capacity") or {}).get(
                    "storage")):
            self._expand(claim, pv)
        elif is_bound_to(pv, claim) or not (pv.get("spec") or {}).get("claimRef"):
            self._bind(pv, claim)
        elif (claim.get("status") or {}).get("phase") == "Bound":
            # The volume now belongs to someone else: this claim has lost it.
            self._set_claim_phase(claim, "Lost", None)
            self.ctx.recorder.event(claim, "Warning", "ClaimMisbound",
                                    "Two claims are bound to the same volume, this one is bound incorrectly",
                                    component=self.name)

    def _sync_unbound_claim(self, claim: Obj) -> None:
        classes = self.informer(CLASSES).list()
        if (claim.get("spec") or {}).get("storageClassName") is None and default_class(classes) is not None:
            if self._assigndefault_class(claim, classes):
                return  # the update wakes this claim again
        class_name = claim_class(claim)
        sc = self.informer(CLASSES).get("", class_name) if class_name else None
        delay = waits_for_first_consumer(sc)
        # A WaitForFirstConsumer claim binds only a volume pre-bound to it (by an administrator, or
        # by the scheduler's VolumeBinding PreBind once it chose a node); the scheduler picks the rest.
        pv = find_best_match(claim, self.informer(PVS).list(), delay_binding=delay)
        if pv is not None:
            self._bind(pv, claim)
            return
        if not class_name:
            self.ctx.recorder.event(claim, "Normal", "FailedBinding", NO_CLASS_MESSAGE, component=self.name)
            return
        if sc is None:
            self.ctx.recorder.event(claim, "Warning", "ProvisioningFailed",
                                    f'storageclass.storage.k8s.io "{class_name}" not found', component=self.name)
            return
        if delay and not self._selected_node(claim):
            self.ctx.recorder.event(claim, "Normal", "WaitForFirstConsumer", WAIT_FOR_CONSUMER_MESSAGE,
                                    component=self.name)
            return
        self._provision(claim, sc)

    def _assigndefault_class(self, claim: Obj, classes: list[Obj]) -> bool:
        """Retroactive default class (upstream since 1.28): a claim created before any default
        class existed gets it later. False if the API server refused the change."""
        new = default_storage_class(deep_copy(claim), classes)
        try:
            self.client.update(PVCS, new, claim["metadata"].get("namespace"))
        except StatusError as err:
            if err.code == 422:
                return False
            raise
        return True

    def _selected_node(self, claim: Obj) -> str:
        """The node the scheduler chose for the claim's first consumer (``selected-node``), or "".

        A pod placed by ``spec.nodeName`` never passes the scheduler; its node is noted here,
        as the scheduler would have."""
        meta = claim["metadata"]
        selected = (meta.get("annotations") or {}).get(ANN_SELECTED_NODE)
        if selected:
            return str(selected)
        for pod in self.informer(PODS).list(meta.get("namespace")):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and any(name == meta["name"] for name, _ in pod_claim_names(pod)):
                self.client.patch(PVCS, meta["name"], {"metadata": {"annotations": {ANN_SELECTED_NODE: node}}},
                                  meta.get("namespace"))
                return str(node)
        return ""

    # --- expansion ------------------------------------------------------------------------

    def _expand(self, claim: Obj, pv: Obj) -> None:
        """A bound claim asks for more than it has: grow its volume, as a CSI external-resizer does.

        The claim shows ``Resizing`` while the volume's ``spec.capacity`` is raised; a directory
        has no size of its own and no filesystem to grow on the node, so the resize is done at
        once: ``status.capacity`` becomes the request and the condition goes."""
        sc = self.informer(CLASSES).get("", claim_class(claim))
        if sc is None or sc.get("provisioner") != PROVISIONER or sc.get("allowVolumeExpansion") is not True:
            return  # someone else's resizer (or none): the claim waits, as upstream's would
        size = claim["spec"]["resources"]["requests"]["storage"]
        resizing = {"type": "Resizing", "status": "True", "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(self.clock.now())}
        new = deep_copy(claim)
        new.setdefault("status", {})["conditions"] = [resizing]
        claim = self.client.update(PVCS, new, claim["metadata"].get("namespace"), subresource="status")
        volume = pv["metadata"]["name"]
        self.ctx.recorder.event(claim, "Normal", "Resizing", f"External resizer is resizing volume {volume}",
                                component=RESIZER)
        grown = deep_copy(pv)
        grown["spec"].setdefault("capacity", {})["storage"] = size
        self.client.update(PVS, grown)
        done = deep_copy(claim)
        done["status"]["capacity"] = {**(done["status"].get("capacity") or {}), "storage": size}
        done["status"].pop("conditions", None)
        claim = self.client.update(PVCS, done, claim["metadata"].get("namespace"), subresource="status")
        self.ctx.recorder.event(claim, "Normal", "VolumeResizeSuccessful", "Resize volume succeeded",
                                component=RESIZER)

    # --- provisioning ---------------------------------------------------------------------

    def _provision(self, claim: Obj, sc: Obj) -> None:
        provisioner = sc.get("provisioner", "")
        if provisioner.startswith(IN_TREE_PREFIX) and provisioner != PROVISIONER:
            # An in-tree name no plugin answers to (kubernetes.io/no-provisioner: static volumes only).
            self.ctx.recorder.event(claim, "Warning", "ProvisioningFailed",
                                    f"no volume plugin matched name: {provisioner}", component=self.name)
            return
        claim = self._annotate_provisioner(claim, provisioner)
        self.ctx.recorder.event(claim, "Normal", "ExternalProvisioning", _external_message(provisioner),
                                component=self.name)
        if provisioner != PROVISIONER:
            return  # someone else's provisioner (or an administrator) must act
        meta = claim["metadata"]
        pv_name = f"pvc-{meta['uid']}"
        if self.informer(PVS).get("", pv_name) is not None:
            return  # already made; binding follows from the volume's event
        self.ctx.recorder.event(claim, "Normal", "Provisioning",
                                f'External provisioner is provisioning volume for claim '
                                f'"{meta.get("namespace")}/{meta["name"]}"', component=PROVISIONER)
        path = self._volume_dir(pv_name)
        path.mkdir(parents=True, exist_ok=True)
        try:
            pv = self.client.create(PVS, provisioned_volume(claim, sc, str(path)))
        except StatusError as err:
            if err.code == 409:
                return
            self.ctx.recorder.event(claim, "Warning", "ProvisioningFailed", err.message, component=PROVISIONER)
            raise
        self.ctx.recorder.event(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv_name}",
                                component=PROVISIONER)
        self._bind(pv, claim)

    def _annotate_provisioner(self, claim: Obj, provisioner: str) -> Obj:
        annotations = claim["metadata"].get("annotations") or {}
        if annotations.get(ANN_STORAGE_PROVISIONER) == provisioner:
            return claim
        patch = {"metadata": {"annotations": {ANN_STORAGE_PROVISIONER: provisioner,
                                              ANN_BETA_STORAGE_PROVISIONER: provisioner}}}
        return self.client.patch(PVCS, claim["metadata"]["name"], patch, claim["metadata"].get("namespace"))

    def _volumes_root(self) -> Path:
        if self._root is None:
            self._temporary = Path(tempfile.mkdtemp(prefix="minik8s-"))
            self._root = self._temporary / "volumes"
        return self._root

    def _volume_dir(self, pv_name: str) -> Path:
        return self._volumes_root() / pv_name

    def stop(self) -> None:
        """The cluster is stopping: a temporary volumes directory goes with it."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None
            self._root = None

    # --- binding --------------------------------------------------------------------------

    def _bind(self, pv: Obj, claim: Obj) -> None:
        """Point the volume at the claim and the claim at the volume, then mark both Bound
        (upstream's ``bind``: volume first, so a crash in between leaves a pre-bound volume)."""
        pv = self._bind_volume(pv, claim)
        claim = self._bind_claim(claim, pv)
        self._set_claim_phase(claim, "Bound", pv)

    def _bind_volume(self, pv: Obj, claim: Obj) -> Obj:
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if not (ref.get("uid") == claim["metadata"].get("uid") and ref.get("name") == claim["metadata"]["name"]):
            new = deep_copy(pv)
            new["spec"]["claimRef"] = _claim_ref(claim)
            new["metadata"].setdefault("annotations", {})[ANN_BOUND_BY_CONTROLLER] = "yes"
            pv = self.client.update(PVS, new)
        return self._set_volume_phase(pv, "Bound")

    def _bind_claim(self, claim: Obj, pv: Obj) -> Obj:
        spec = claim.get("spec") or {}
        annotations = claim["metadata"].get("annotations") or {}
        if spec.get("volumeName") == pv["metadata"]["name"] and annotations.get(ANN_BIND_COMPLETED) == "yes":
            return claim
        new = deep_copy(claim)
        ann = new["metadata"].setdefault("annotations", {})
        if not spec.get("volumeName"):
            ann[ANN_BOUND_BY_CONTROLLER] = "yes"
        ann[ANN_BIND_COMPLETED] = "yes"
        new["spec"]["volumeName"] = pv["metadata"]["name"]
        return self.client.update(PVCS, new, claim["metadata"].get("namespace"))

    def _set_claim_phase(self, claim: Obj, phase: str, pv: Obj | None) -> None:
        status: Obj = {"phase": phase}
        if pv is not None:
            status["capacity"] = dict((pv.get("spec") or {}).get("capacity") or {})
            status["accessModes"] = list((pv.get("spec") or {}).get("accessModes") or [])
        current = claim.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        new = deep_copy(claim)
        new["status"] = {**current, **status}
        self.client.update(PVCS, new, claim["metadata"].get("namespace"), subresource="status")

    def _set_volume_phase(self, pv: Obj, phase: str, message: str | None = None) -> Obj:
        status = pv.get("status") or {}
        if status.get("phase") == phase and status.get("message") == message:
            return pv
        new = deep_copy(pv)
        new["status"] = {"phase": phase, "lastPhaseTransitionTime": rfc3339(self.clock.now())}
        if message:
            new["status"]["message"] = message
        return self.client.update(PVS, new, subresource="status")

    # --- volumes --------------------------------------------------------------------------

    def _sync_volume(self, pv: Obj) -> None:
        if pv["metadata"].get("deletionTimestamp"):
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:
            self._set_volume_phase(pv, "Available")
            return
        claim = self.informer(PVCS).get(ref.get("namespace", ""), ref.get("name", ""))
        if claim is not None and (not ref.get("uid") or ref.get("uid") == claim["metadata"].get("uid")):
            if (claim.get("spec") or {}).get("volumeName") in (None, "", pv["metadata"]["name"]):
                if (pv.get("status") or {}).get("phase") != "Bound" and ref.get("uid"):
                    self._bind(pv, claim)
                return
        if claim is None and not ref.get("uid"):
            self._set_volume_phase(pv, "Available")  # pre-bound by an administrator to a claim yet to come
            return
        if claim is not None and not ref.get("uid"):
            return
        self._reclaim(pv)

    def _reclaim(self, pv: Obj) -> None:
        """The claim this volume was bound to is gone: Released, then as the reclaim policy says."""
        if (pv.get("status") or {}).get("phase") == "Failed":
            return  # deleting already failed and was reported; an administrator must step in
        pv = self._set_volume_phase(pv, "Released")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy", "Retain")
        if policy != "Delete":
            return  # Retain: an administrator decides what happens to the data
        annotations = pv["metadata"].get("annotations") or {}
        if annotations.get(ANN_PROVISIONED_BY) != PROVISIONER:
            message = f'error getting deleter volume plugin for volume "{pv["metadata"]["name"]}": ' \
                      "no deletable volume plugin matched"
            self._set_volume_phase(pv, "Failed", message)
            self.ctx.recorder.event(pv, "Warning", "VolumeFailedDelete", message, component=self.name)
            return
        self._delete_directory(pv)
        try:
            self.client.delete(PVS, pv["metadata"]["name"])
        except StatusError as err:
            if err.code != 404:
                raise

    def _delete_directory(self, pv: Obj) -> None:
        path = Path(((pv.get("spec") or {}).get("hostPath") or {}).get("path") or "")
        root = self._root
        # Only ever remove what this provisioner made: a directory directly under its volumes root.
        if root is not None and path.parent == root and path.name == pv["metadata"]["name"]:
            shutil.rmtree(path, ignore_errors=True)

"""The namespace controller: empties a namespace that is being deleted.

Deleting a namespace does not remove it at once. The API server marks it
``Terminating`` (no new objects may be created in it); this controller then
deletes every object in it, waits until they are all gone (pods may take their
grace period), and finally removes the ``kubernetes`` finalizer through the
``finalize`` subresource. Only then does the namespace itself disappear.

Taught in chapter 6 (Namespaces).
"""

from __future__ import annotations

from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.client.discovery import discover
from minik8s.controllers.controller import Controller

NAMESPACES = resources.get("", "v1", "namespaces")
assert NAMESPACES is not None

# How often to look again while objects are still going away.
RECHECK_SECONDS = 1.0


class NamespaceController(Controller):
    name = "namespace-controller"
    watches = (NAMESPACES,)

    def reconcile(self, key: Any) -> None:
        _, name = key
        ns = self.informer(NAMESPACES).get("", name)
        if ns is None or not ns["metadata"].get("deletionTimestamp"):
            return
        # Every namespaced kind the server serves, custom resources included (found through discovery).
        namespaced = [r for r in discover(self.client)
                      if r.namespaced and "list" in r.verbs and "delete" in r.verbs]
        for resource in namespaced:
            for obj in self.client.list(resource, name)["items"]:
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.client.delete(resource, obj["metadata"]["name"], name, propagation_policy="Background")
                except StatusError as err:
                    if err.code != 404:
                        raise
        # Pods on a node leave only after their grace period: come back until nothing is left.
        if any(self.client.list(resource, name, limit=1)["items"] for resource in namespaced):
            self.requeue_after(key, RECHECK_SECONDS)
            return
        finalizers = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != "kubernetes"]
        finalized = {**ns, "spec": {**(ns.get("spec") or {}), "finalizers": finalizers}}
        self.client.update(NAMESPACES, finalized, subresource="finalize")

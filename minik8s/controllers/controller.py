"""The controller pattern, written once: watch → queue of keys → reconcile.

Every controller in Kubernetes is a loop that makes the world look like what
was asked for. It never trusts the event that woke it: an event only says
*which* object to look at; ``reconcile(key)`` then reads the current state from
the informer caches and does whatever converges it (create a pod, delete a
replica set, write status). Because it is level-triggered, a missed or
duplicated event does no harm, and running it again is always safe.

Interface for a controller (subclass :class:`Controller`):
    name = "deployment-controller"          # shown as the source of its events
    watches = (DEPLOYMENTS, REPLICASETS)    # resources whose changes wake it
    def keys_for(self, resource, obj) -> list[key]   # which keys an event concerns
    def reconcile(self, key) -> None        # converge one object; may self.requeue_after(key, seconds)
    controller.detach()                      # hear no more events (taken out of a running cluster)

``Context`` bundles what controllers share: the client, the clock, a seeded
random generator, the shared informers and the event recorder.
Taught in chapter 7 (Deployments: why controllers).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.client.base import Client
from minik8s.client.informer import Informer
from minik8s.client.workqueue import WorkQueue
from minik8s.clock import Clock
from minik8s.controllers.events import EventRecorder

log = logging.getLogger(__name__)

# A reconcile that fails with a transient error is retried after this many seconds, doubling.
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 60.0


class InformerFactory:
    """One informer per resource, shared by every component in the process."""

    def __init__(self, client: Client, wake: Callable[[], None]):
        self.client = client
        self._wake = wake
        self._informers: dict[Resource, Informer] = {}

    def get(self, resource: Resource) -> Informer:
        if resource not in self._informers:
            informer = Informer(self.client, resource, on_event=self._wake)
            self._informers[resource] = informer
            informer.start()
        return self._informers[resource]

    def forget(self, resource: Resource) -> None:
        """Stop and drop the informer of a resource no longer served (a deleted CRD's): a later ``get``
        starts a fresh one, should the resource come back."""
        informer = self._informers.pop(resource, None)
        if informer is not None:
            informer.stop()

    def pump(self) -> int:
        return sum(informer.pump() for informer in list(self._informers.values()))

    def stop(self) -> None:
        for informer in self._informers.values():
            informer.stop()


@dataclass
class Context:
    client: Client
    clock: Clock
    rng: random.Random
    informers: InformerFactory
    recorder: EventRecorder
    data_dir: Path | None = None  # where node-local state lives (volumes, logs); None: a temporary directory
    runtime: str = "process"  # the nodes' container runtime: picks the address plan (minik8s.addresses)
    load_balancer_pool: str | None = None  # this cluster's pool (minik8s.addresses.claim_block); None: the default
    root_ca_pem: bytes | None = None  # the cluster CA (kube-controller-manager's --root-ca-file); None: the API server's


def object_key(obj: dict[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace", ""), meta.get("name", ""))


class Controller:
    name = "controller"
    watches: tuple[Resource, ...] = ()

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.client = ctx.client
        self.clock = ctx.clock
        self.queue = WorkQueue()
        self._failures: dict[Hashable, int] = {}
        self._subscriptions = [(resource, self._handler(resource)) for resource in self.watches]
        for resource, handler in self._subscriptions:
            ctx.informers.get(resource).add_handler(handler)

    def detach(self) -> None:
        """Hear no more events (a component taken out of a running cluster, such as a removed node's)."""
        for resource, handler in self._subscriptions:
            self.informer(resource).remove_handler(handler)
        self._subscriptions = []

    def _handler(self, resource: Resource) -> Callable[[str, dict[str, Any], dict[str, Any] | None], None]:
        def handle(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
            for key in self.keys_for(resource, obj, old):
                self.queue.add(key)
        return handle

    def informer(self, resource: Resource) -> Informer:
        return self.ctx.informers.get(resource)

    def keys_for(self, resource: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        """By default an event concerns the object itself."""
        return [object_key(obj)]

    def reconcile(self, key: Any) -> None:
        raise NotImplementedError

    def requeue_after(self, key: Hashable, seconds: float) -> None:
        self.queue.add_after(key, self.clock.now() + max(seconds, 0.0))

    def process_one(self) -> bool:
        """Reconcile the next ready key; False when there was none."""
        key = self.queue.pop()
        if key is None:
            return False
        try:
            self.reconcile(key)
            self._failures.pop(key, None)
        except StatusError as err:
            # Conflicts and races are normal: the cache was stale. Try again shortly, backing off.
            failures, delay = self._back_off(key)
            if err.code not in (404, 409):
                log.info("%s: reconcile %s failed (%s), retrying in %.1fs", self.name, key, err, delay)
            self.queue.add(key) if err.code == 409 and failures < 3 else self.requeue_after(key, delay)
        except Exception:  # noqa: BLE001 - a bug in one controller must not stop the others
            # Not a race but a bug. kube-controller-manager would crash and be restarted; here every
            # component shares one process, so the bug is logged loudly and the key retried, backing off.
            _, delay = self._back_off(key)
            log.exception("%s: reconcile %s raised; retrying in %.1fs", self.name, key, delay)
            self.requeue_after(key, delay)
        return True

    def _back_off(self, key: Hashable) -> tuple[int, float]:
        """Count one more failure of ``key``: (failures so far, seconds to wait before the next try)."""
        failures = self._failures.get(key, 0) + 1
        self._failures[key] = failures
        return failures, min(RETRY_BASE_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)

    def promote(self, now: float) -> None:
        self.queue.promote(now)

    def next_due(self) -> float | None:
        return self.queue.next_due()

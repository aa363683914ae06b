"""Events: the cluster's diary, written by every component.

When the scheduler places a pod, a kubelet pulls an image or a controller
scales a ReplicaSet, it records a core/v1 ``Event`` about the object involved.
``kubectl describe`` shows them at the bottom and ``kubectl get events`` lists
them. Repeats of the same event are folded into one with a ``count`` and a
``lastTimestamp``, as upstream's event correlator does, so a crash loop does
not bury everything else.

The correlator remembers the events it wrote in a least-recently-used cache of 4,096
entries (upstream's ``maxLruCacheEntries``), so its memory stays bounded however many
objects come and go; an event that fell out of the cache is written anew when it repeats.

Interface: ``recorder.event(obj, type, reason, message, component=..., host=None)``.
"""

from __future__ import annotations

import collections
import itertools
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.client.base import Client
from minik8s.clock import Clock, rfc3339, rfc3339_micro

EVENTS = resources.get("", "v1", "events")
assert EVENTS is not None

# The host part of reportingInstance for control-plane components (upstream: the machine's host name).
INSTANCE_HOST = "minik8s-control-plane"

# client-go's maxLruCacheEntries: how many distinct events the correlator remembers.
MAX_LRU_CACHE_ENTRIES = 4096


class EventRecorder:
    def __init__(self, client: Client, clock: Clock):
        self.client = client
        self.clock = clock
        # correlation key -> (event name, count), least recently used first
        self._seen: collections.OrderedDict[tuple[str, ...], tuple[str, int]] = collections.OrderedDict()
        self._seq = itertools.count()

    def event(self, obj: dict[str, Any], type_: str, reason: str, message: str, *, component: str,
              host: str | None = None, field_path: str | None = None, action: str | None = None) -> None:
        """Record an event about ``obj``. Without ``action`` it is written as client-go's legacy recorder
        writes it (the kubelet, the controllers): ``source.component``, ``firstTimestamp``, ``count``. With
        ``action`` it is written as the ``events.k8s.io/v1`` recorder writes it (the scheduler): an
        ``eventTime``, ``reportingComponent``/``reportingInstance`` and no ``source``; repeats go in
        ``series``."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        involved: dict[str, Any] = {"kind": obj.get("kind"), "namespace": meta.get("namespace"),
                                    "name": meta.get("name"), "uid": meta.get("uid"),
                                    "apiVersion": obj.get("apiVersion"),
                                    "resourceVersion": meta.get("resourceVersion")}
        if not meta.get("namespace"):
            del involved["namespace"]
        if field_path:
            involved["fieldPath"] = field_path
        now = rfc3339(self.clock.now())
        key = (namespace, str(meta.get("uid")), str(field_path), type_, reason, message, component, str(host))
        source: dict[str, Any] = {"component": component}
        if host:
            source["host"] = host
        try:
            if key in self._seen:
                name, count = self._seen[key]
                repeat: dict[str, Any] = {"count": count + 1, "lastTimestamp": now}
                if action:
                    repeat = {"series": {"count": count + 1, "lastObservedTime": rfc3339_micro(self.clock.now())}}
                try:
                    self.client.patch(EVENTS, name, repeat, namespace)
                    self._seen[key] = (name, count + 1)
                    self._seen.move_to_end(key)
                    return
                except StatusError as err:
                    if err.code != 404:
                        raise
                    del self._seen[key]  # expired (--event-ttl) or deleted: start a new event, as upstream
            # Upstream names an event after its object and the time in nanoseconds, in hex.
            stamp = int(self.clock.now() * 1e9) + next(self._seq)
            name = f"{meta.get('name')}.{stamp:x}"
            event: dict[str, Any] = {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved, "reason": reason, "message": message, "source": source,
                "firstTimestamp": now, "lastTimestamp": now, "count": 1, "type": type_,
                "eventTime": None, "reportingComponent": component, "reportingInstance": host or "",
            }
            if action:
                event.update(source={}, firstTimestamp=None, lastTimestamp=None, action=action,
                             eventTime=rfc3339_micro(self.clock.now()),
                             reportingInstance=f"{component}-{host or INSTANCE_HOST}")
                del event["count"]
            self.client.create(EVENTS, event, namespace)
            self._seen[key] = (name, 1)
            if len(self._seen) > MAX_LRU_CACHE_ENTRIES:
                self._seen.popitem(last=False)
        except StatusError:
            # Events are best effort, as upstream: losing one must never stop the component.
            self._seen.pop(key, None)

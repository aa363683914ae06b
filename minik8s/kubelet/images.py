"""Image pulls: how the kubelet gets a container's image onto the node, and backs off when it cannot.

Before it creates a container the pod worker asks :meth:`ImagePuller.ready`. The
puller asks the runtime to pull per ``imagePullPolicy`` and tells the story in
events, as upstream does: ``Pulling``, then ``Pulled`` (``Successfully pulled image
... in 1.5s``, or ``Container image ... already present on machine``).

A failed pull reports ``ErrImagePull`` (events ``Failed``), and the pod worker looks
again ``IMAGE_PULL_RESYNC_SECONDS`` later, when the container waits in
``ImagePullBackOff`` until the back-off (10 s doubling to 5 min, the same constants as
the crash-loop back-off) runs out. ``ErrImageNeverPull`` (policy ``Never``, image
absent) is not retried sooner than a failed sync.

Invariants: a pull never blocks the kubelet: a pull still in progress is an instant in
``record.wakes`` (``PullResult.ready_at``). The pull state lives on the container's
:class:`~minik8s.kubelet.records.ContainerRecord`.

Interface:
    puller = ImagePuller(runtime, event)
    puller.ready(pod, record, container_record, now) -> bool

Taught in chapter 5 (Pods: images and ErrImagePull / ImagePullBackOff).
"""

from __future__ import annotations

import math
from typing import Any

from minik8s.kubelet import cri
from minik8s.kubelet.records import (BACKOFF_INITIAL_SECONDS, BACKOFF_MAX_SECONDS, SYNC_ERROR_RETRY_SECONDS,
                                     ContainerRecord, EventFn, PodRecord)
from minik8s.kubelet.status import go_duration

# After ErrImagePull the pod worker syncs again this soon, and then reports ImagePullBackOff.
IMAGE_PULL_RESYNC_SECONDS = 5.0


class ImagePuller:
    """Pulls a container's image through the runtime, with upstream's image-pull back-off."""

    def __init__(self, runtime: cri.ContainerRuntime, event: EventFn):
        self.runtime = runtime
        self.event = event

    def ready(self, pod: dict[str, Any], record: PodRecord, c: ContainerRecord, now: float) -> bool:
        """True when the container's image is on the node; otherwise record why it waits, and until when."""
        image = str(c.spec.get("image", ""))
        if c.pull_backoff_until > now:
            c.waiting = ("ImagePullBackOff", f'Back-off pulling image "{image}"')
            if c.pull_backoff_event_until != c.pull_backoff_until:
                c.pull_backoff_event_until = c.pull_backoff_until
                self.event(pod, "Normal", "BackOff", f'Back-off pulling image "{image}"', c)
                self.event(pod, "Warning", "Failed", "Error: ImagePullBackOff", c)
            record.wakes.append(c.pull_backoff_until)
            return False
        policy = str(c.spec.get("imagePullPolicy") or "IfNotPresent")
        try:
            result = self.runtime.pull_image(image, policy, pod)
        except cri.ImagePullError as exc:
            self._failed(pod, record, c, image, exc, now)
            return False
        if not result.done:
            if not c.pulling:
                c.pulling = True
                self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', c)
            record.wakes.append(result.ready_at if result.ready_at is not None else now)
            return False
        if result.pulled:
            if not c.pulling:
                self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', c)
            took = go_duration(_truncate_to_milliseconds(result.seconds))
            self.event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {took} ({took} including '
                                                f'waiting). Image size: {result.size_bytes} bytes.', c)
        else:
            self.event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine', c)
        c.pulling = False
        return True

    def _failed(self, pod: dict[str, Any], record: PodRecord, c: ContainerRecord, image: str,
                exc: cri.ImagePullError, now: float) -> None:
        c.pulling = False
        c.waiting = (exc.reason, exc.message)
        if exc.reason == "ErrImageNeverPull":
            self.event(pod, "Warning", "ErrImageNeverPull", exc.message, c)
            self.event(pod, "Warning", "Failed", "Error: ErrImageNeverPull", c)
            record.wakes.append(now + SYNC_ERROR_RETRY_SECONDS)
            return
        self.event(pod, "Normal", "Pulling", f'Pulling image "{image}"', c)
        self.event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {exc.message}', c)
        self.event(pod, "Warning", "Failed", f"Error: {exc.reason}", c)
        c.pull_backoff = BACKOFF_INITIAL_SECONDS if not c.pull_backoff else min(c.pull_backoff * 2,
                                                                                 BACKOFF_MAX_SECONDS)
        c.pull_backoff_until = now + c.pull_backoff
        record.wakes.append(now + min(IMAGE_PULL_RESYNC_SECONDS, c.pull_backoff))


def _truncate_to_milliseconds(seconds: float) -> float:
    """Upstream prints pull times with ``Duration.Truncate(time.Millisecond)``: ``1.234s``, ``0s``."""
    return math.floor(round(seconds * 1000, 6)) / 1000

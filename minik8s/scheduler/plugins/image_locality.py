"""ImageLocality: prefer nodes that already have the pod's images.

Each container image present on the node adds its size, scaled by the share of
nodes that have it (an image on every node gives no advantage, so it is not
worth chasing). The sum is clamped to [23 MB, 1000 MB × containers] and mapped to
0..100, as upstream does. Nodes report images in ``status.images``.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo, normalized_image_name
from minik8s.scheduler.framework import MAX_NODE_SCORE, SKIP, CycleState, Plugin, Status, register

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB  # smaller than the smallest common base image
MAX_CONTAINER_THRESHOLD = 1000 * MB


class ImageLocality(Plugin):
    name = "ImageLocality"

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], cache: Cache) -> Status | None:
        if not cache.image_nodes:  # no node reports images: every score would be 0
            return SKIP
        spec = pod.pod.get("spec") or {}
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        images = [normalized_image_name(c.get("image", "")) for c in containers]
        spread = {image: cache.image_nodes.get(image, 0) / max(len(cache.nodes), 1) for image in images}
        state[self.name] = (images, spread, len(images))  # init containers count too
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images, spread, containers = state[self.name]
        total = sum(int(node.images[image] * spread[image]) for image in images if image in node.images)
        maximum = MAX_CONTAINER_THRESHOLD * containers
        total = min(max(total, MIN_THRESHOLD), maximum)
        if maximum <= MIN_THRESHOLD:
            return 0
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (maximum - MIN_THRESHOLD)


register(ImageLocality.name, ImageLocality)

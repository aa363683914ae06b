"""VolumeRestrictions: a ReadWriteOncePod claim is used by one pod in the whole cluster.

``ReadWriteOnce`` lets every pod on one node use a volume; ``ReadWriteOncePod`` lets
exactly one pod use it. PreFilter counts the pods (placed or assumed, not yet
finished) that already use one of the pod's RWOP claims; while there is one, every
node answers (upstream wording) ``node has pod using PersistentVolumeClaim with the
same name and ReadWriteOncePod access mode``. The reason is *resolvable*: preemption
may evict the current user if it has a lower priority (``remove_pod`` forgets it).

How minik8s differs: upstream's disk conflicts for in-tree volume types (GCE PD, AWS
EBS, RBD, iSCSI) are not checked; minik8s has none of them.

Taught in chapter 15 (storage) and chapter 11 (scheduling).
"""

from __future__ import annotations

from minik8s.api.storage import READ_WRITE_ONCE_POD, pod_claim_names
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo
from minik8s.scheduler.framework import SKIP, CycleState, Plugin, Reason, Status, register

REASON = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"


def _uses(pod: PodInfo, claims: frozenset[str]) -> bool:
    return any(name in claims for name, _ in pod_claim_names(pod.pod))


class VolumeRestrictions(Plugin):
    name = "VolumeRestrictions"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | None:
        names = [name for name, _ in pod_claim_names(pod.pod)]
        if not names:
            return SKIP
        rwop = set()
        for name in names:
            claim = cache.storage.claim(pod.namespace, name)
            if claim is None:
                continue  # VolumeBinding reports a missing claim
            if READ_WRITE_ONCE_POD in ((claim.get("spec") or {}).get("accessModes") or []):
                rwop.add(name)
        if not rwop:
            return SKIP
        claims = frozenset(rwop)
        users = sum(1 for node in cache.nodes for other in node.pods.values()
                    if other.key != pod.key and other.namespace == pod.namespace and _uses(other, claims))
        state[self.name] = (claims, users)
        return None

    def remove_pod(self, state: CycleState, pod: PodInfo, gone: PodInfo, node: NodeInfo) -> None:
        """Preemption tries the node without ``gone``: one user fewer if it used a claim."""
        claims, users = state[self.name]
        if gone.namespace == pod.namespace and _uses(gone, claims):
            state[self.name] = (claims, users - 1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        _, users = state[self.name]
        return REASON if users > 0 else None


register(VolumeRestrictions.name, VolumeRestrictions)

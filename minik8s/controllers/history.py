"""Controller history: the ControllerRevisions that remember a workload's past templates.

A Deployment remembers its old pod templates as old ReplicaSets. StatefulSets
and DaemonSets own their pods directly, so they need another place to keep the
past: ``apps/v1`` ``ControllerRevision`` objects. Each one is an immutable
snapshot of the pod template, stored in ``data`` as the strategic merge patch
that would put it back::

    data: {"spec": {"template": {...the template..., "$patch": "replace"}}}

``kubectl rollout undo statefulset/web`` sends exactly that patch; ``kubectl
rollout history`` lists the revisions. Pods carry the label
``controller-revision-hash`` so the controller knows which revision each pod
was made from.

Interface (objects are plain Kubernetes JSON dicts):

    template_patch(owner) -> data                  # the snapshot of owner's spec.template
    revision_hash(data, collision_count) -> str    # upstream's HashControllerRevision
    template_hash(template, collision_count) -> str  # upstream's ComputeHash (DaemonSet's label)
    revision_name(prefix, hash) -> "<owner>-<hash>"
    owned_revisions(revisions, owner) -> the owner's revisions, oldest first
    next_revision(revisions) -> int
    sync_revisions(client, owner, revisions, ...) -> (update revision, collision count)
    truncate_history(client, revisions, live, limit) -> names deleted

Invariants:
    * a revision's ``data`` never changes; only its ``revision`` number may be raised,
      when an old template comes back (a rollback reuses the old object);
    * revision numbers of one owner are unique and only grow;
    * a revision a live pod was made from is never deleted by the history limit.

How minik8s differs: upstream hashes the Go JSON encoding (revisions) or a Go
``spew`` dump (DaemonSet template hashes); minik8s hashes canonical JSON
(sorted keys) with the same FNV-32a function and the same safe alphabet, so
names look alike (``web-5d9f8c7b4``) but are not byte-for-byte upstream's.

Taught in chapter 8 (StatefulSets and DaemonSets: rollout history).
"""

from __future__ import annotations

from typing import Any, Iterable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.client.base import Client
from minik8s.controllers.hashing import revision_hash, safe_encode, template_hash  # noqa: F401 (re-exported)
from minik8s.controllers.podcontrol import controller_ref

REVISIONS = resources.get("apps", "v1", "controllerrevisions")
assert REVISIONS is not None

# The label upstream's history package puts on every ControllerRevision it creates.
HASH_LABEL = "controller.kubernetes.io/hash"
# Names are at most 253 characters; upstream keeps 223 for the owner's part.
MAX_PREFIX = 223
# k8s.io/apimachinery/pkg/util/rand: digits and consonants, so a hash never spells a word.

Obj = dict[str, Any]


# --- hashing (minik8s.controllers.hashing) -------------------------------------------------


def revision_name(prefix: str, hash_: str) -> str:
    return f"{prefix[:MAX_PREFIX]}-{hash_}"


# --- building and ordering ----------------------------------------------------------------


def template_patch(owner: Obj) -> Obj:
    """What a revision stores: a patch that replaces ``spec.template`` wholesale (upstream's ``getPatch``)."""
    template = deep_copy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: Obj) -> Obj:
    """The pod template a revision snapshot holds (without the ``$patch`` directive)."""
    template = deep_copy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def new_revision(owner: Obj, data: Obj, number: int, *, labels: dict[str, str] | None = None,
                 hash_: str | None = None, collision_count: int | None = None, hash_label: bool = True) -> Obj:
    """A ControllerRevision owned (as controller) by ``owner``, not yet created."""
    hash_ = hash_ or revision_hash(data, collision_count)
    meta = owner["metadata"]
    all_labels = dict(labels or {})
    if hash_label:  # the StatefulSet's history labels it; the DaemonSet's uses controller-revision-hash
        all_labels[HASH_LABEL] = hash_
    revision: Obj = {
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": revision_name(meta["name"], hash_), "namespace": meta.get("namespace", "default"),
                     "labels": all_labels, "ownerReferences": [controller_ref(owner)]},
        "data": data, "revision": number,
    }
    if meta.get("annotations"):
        # The owner's annotations travel with the revision (kubectl reads change-cause there).
        revision["metadata"]["annotations"] = dict(meta["annotations"])
    return revision


def _order(revision: Obj) -> tuple[int, str, str]:
    meta = revision.get("metadata") or {}
    return (int(revision.get("revision") or 0), meta.get("creationTimestamp") or "", meta.get("name") or "")


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name (``SortControllerRevisions``)."""
    return sorted(revisions, key=_order)


def owned_revisions(revisions: Iterable[Obj], owner: Obj) -> list[Obj]:
    """The revisions whose controller is ``owner``, oldest first."""
    uid = owner["metadata"].get("uid")
    mine = [r for r in revisions
            if any(ref.get("controller") and ref.get("uid") == uid
                   for ref in (r.get("metadata") or {}).get("ownerReferences") or [])]
    return sort_revisions(mine)


def next_revision(revisions: list[Obj]) -> int:
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def equal_revisions(a: Obj, b: Obj) -> bool:
    """Same snapshot: the same data (``history.EqualRevision``; the hash may differ after a collision)."""
    return bool(a.get("data") == b.get("data"))


# --- writing ------------------------------------------------------------------------------


def create_revision(client: Client, revision: Obj, collision_count: int,
                    make: Any = None) -> tuple[Obj, int]:
    """Create ``revision``; on a name clash with different data, bump the collision count and retry
    (``history.CreateControllerRevision``). ``make(count)`` rebuilds the revision for a new count."""
    namespace = revision["metadata"]["namespace"]
    while True:
        try:
            return client.create(REVISIONS, revision, namespace), collision_count
        except StatusError as err:
            if err.code != 409:
                raise
            existing = client.get(REVISIONS, revision["metadata"]["name"], namespace)
            if existing.get("data") == revision.get("data"):
                return existing, collision_count
            collision_count += 1
            revision = make(collision_count) if make else _rehash(revision, collision_count)


def _rehash(revision: Obj, collision_count: int) -> Obj:
    new = deep_copy(revision)
    hash_ = revision_hash(new["data"], collision_count)
    owner = new["metadata"]["ownerReferences"][0]["name"]
    new["metadata"]["name"] = revision_name(owner, hash_)
    if HASH_LABEL in new["metadata"]["labels"]:
        new["metadata"]["labels"][HASH_LABEL] = hash_
    return new


def sync_revisions(client: Client, owner: Obj, revisions: list[Obj], *, labels: dict[str, str] | None = None,
                   collision_count: int = 0, hash_for: Any = None, hash_label: bool = True) -> tuple[Obj, int]:
    """Make sure a revision for ``owner``'s current template exists and is the newest.

    ``revisions`` are the owner's revisions, oldest first. Returns the update revision and
    the (possibly bumped) collision count. As upstream's ``getStatefulSetRevisions``:
    the newest revision already equal to the template is reused; an older equal one (a
    rollback) gets the next revision number; otherwise a new revision is created.
    ``hash_for(count)`` computes the name hash (default: the revision data's hash)."""
    data = template_patch(owner)
    number = next_revision(revisions)

    def make(count: int) -> Obj:
        hash_ = hash_for(count) if hash_for else None
        return new_revision(owner, data, number, labels=labels, hash_=hash_, collision_count=count,
                            hash_label=hash_label)

    wanted = make(collision_count)
    equal = [r for r in revisions if equal_revisions(r, wanted)]
    if equal and revisions and equal[-1] is revisions[-1]:
        return revisions[-1], collision_count
    if equal:
        bumped = deep_copy(equal[-1])
        bumped["revision"] = number
        return client.update(REVISIONS, bumped, bumped["metadata"]["namespace"]), collision_count
    return create_revision(client, wanted, collision_count, make)


def truncate_history(client: Client, revisions: list[Obj], live: set[str], limit: int) -> list[str]:
    """Delete the oldest revisions beyond ``limit``, never one named in ``live``.

    ``revisions`` are oldest first; ``live`` holds the names of revisions still in use
    (the current and update revisions, and any a pod was made from). Upstream keeps
    ``revisionHistoryLimit`` non-live revisions (``truncateHistory``)."""
    history = [r for r in revisions if r["metadata"]["name"] not in live]
    excess = len(history) - max(limit, 0)
    deleted: list[str] = []
    for revision in history[:max(excess, 0)]:
        meta = revision["metadata"]
        try:
            client.delete(REVISIONS, meta["name"], meta.get("namespace"))
        except StatusError as err:
            if err.code != 404:
                raise
        deleted.append(meta["name"])
    return deleted

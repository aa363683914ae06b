"""ControllerRevision history: hashing, naming, reuse on rollback, truncation."""

from __future__ import annotations

from typing import Any

from minik8s.api.errors import StatusError
from minik8s.controllers import history


def _owner(image: str = "nginx:1", name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "namespace": "default", "uid": "u-1", "annotations": {"note": "x"}},
            "spec": {"template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


class FakeClient:
    """Records writes to ControllerRevisions; enough of the Client interface for history."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []

    def create(self, resource: Any, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        name = obj["metadata"]["name"]
        if name in self.objects:
            raise StatusError(409, "AlreadyExists", f"{name} exists")
        self.objects[name] = obj
        return obj

    def get(self, resource: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.objects[name]

    def update(self, resource: Any, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        self.objects[obj["metadata"]["name"]] = obj
        return obj

    def delete(self, resource: Any, name: str, namespace: str | None = None) -> dict[str, Any]:
        self.deleted.append(name)
        return self.objects.pop(name)


def test_patch_replaces_the_template_and_hash_uses_the_safe_alphabet() -> None:
    data = history.template_patch(_owner())
    assert data["spec"]["template"]["$patch"] == "replace"
    assert data["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    h = history.revision_hash(data)
    assert h and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert history.revision_hash(data, 1) != h  # a collision count changes the name
    assert history.template_of({"data": data}) == _owner()["spec"]["template"]


def test_safe_encode_matches_upstream_mapping() -> None:
    # upstream maps each digit byte through the alphabet: '0'..'9' -> 4 5 6 7 8 9 b c d f
    assert history.safe_encode("0123456789") == "456789bcdf"


def test_new_revision_is_owned_named_and_labelled() -> None:
    owner = _owner()
    data = history.template_patch(owner)
    rev = history.new_revision(owner, data, 1, labels={"app": "web"})
    assert rev["metadata"]["name"] == f"web-{history.revision_hash(data)}"
    assert rev["metadata"]["labels"]["app"] == "web"
    assert rev["metadata"]["labels"][history.HASH_LABEL] == history.revision_hash(data)
    assert rev["metadata"]["ownerReferences"][0]["controller"] is True
    assert rev["metadata"]["annotations"] == {"note": "x"}
    assert rev["revision"] == 1


def test_sync_creates_reuses_and_bumps_on_rollback() -> None:
    client = FakeClient()
    first, _ = history.sync_revisions(client, _owner("nginx:1"), [])  # type: ignore[arg-type]
    assert first["revision"] == 1
    same, _ = history.sync_revisions(client, _owner("nginx:1"), [first])  # type: ignore[arg-type]
    assert same is first and len(client.objects) == 1
    second, _ = history.sync_revisions(client, _owner("nginx:2"), [first])  # type: ignore[arg-type]
    assert second["revision"] == 2 and second["metadata"]["name"] != first["metadata"]["name"]
    back, _ = history.sync_revisions(client, _owner("nginx:1"), [first, second])  # type: ignore[arg-type]
    assert back["metadata"]["name"] == first["metadata"]["name"] and back["revision"] == 3
    assert len(client.objects) == 2


def test_hash_collision_bumps_the_count() -> None:
    client = FakeClient()
    owner = _owner("nginx:1")
    clash = history.new_revision(owner, {"spec": {"other": True}}, 1,
                                 hash_=history.revision_hash(history.template_patch(owner)))
    client.objects[clash["metadata"]["name"]] = clash
    rev, count = history.sync_revisions(client, owner, [])  # type: ignore[arg-type]
    assert count == 1
    assert rev["metadata"]["name"] == f"web-{history.revision_hash(history.template_patch(owner), 1)}"


def test_truncate_keeps_live_and_the_newest() -> None:
    client = FakeClient()
    revs = []
    for i in range(5):
        rev = history.new_revision(_owner(f"nginx:{i}"), history.template_patch(_owner(f"nginx:{i}")), i + 1)
        client.objects[rev["metadata"]["name"]] = rev
        revs.append(rev)
    live = {revs[0]["metadata"]["name"], revs[4]["metadata"]["name"]}
    deleted = history.truncate_history(client, revs, live, 2)  # type: ignore[arg-type]
    assert deleted == [revs[1]["metadata"]["name"]]
    assert revs[0]["metadata"]["name"] in client.objects


def test_owned_revisions_sorted_by_number() -> None:
    owner = _owner()
    a = history.new_revision(owner, {"a": 1}, 2)
    b = history.new_revision(owner, {"b": 1}, 1)
    other = history.new_revision({**owner, "metadata": {**owner["metadata"], "uid": "u-2"}}, {"c": 1}, 3)
    assert [r["revision"] for r in history.owned_revisions([a, other, b], owner)] == [1, 2]

"""The image store: images as content-addressed blobs, named by tags.

An image is a *config* (JSON: entrypoint, command, environment, working directory,
exposed ports, labels, and the list of its layers) plus *layers* (tar archives of
files, applied in order). Everything is stored by the SHA-256 of its bytes, so equal
content is stored once and a name can never silently point at other bytes:

    <root>/blobs/sha256/<hex>     a config or a layer
    <root>/index.json             {"tags": {"docker.io/library/app:1.0": "sha256:<config hex>"}}

The image ID is the digest of its config (as Docker's is), and ``app@sha256:<id>``
names an image by content. Layers are uncompressed tars, so a layer's digest is also
its ``diff_id``. The same class serves the local store (what ``minik8s image build``
writes) and the directory registry (:mod:`minik8s.images.registry`).

Interface:
    store = ImageStore(root)
    digest = store.put_blob(data); store.blob_path(digest)
    image_id = store.add(config, tags=["docker.io/library/app:1.0"])
    store.resolve("app:1.0") -> image id | None     # a tag, name@digest, or an ID (prefix)
    store.config(image_id); store.size(image_id); store.images(); store.remove(ref)
    store.copy_to(other, image_id, tags)            # push and pull
    store.unpack(image_id, folder)                  # lay the files out for a container

Invariant: every blob's file name is the SHA-256 of its content; a tag points at a
config present in the store. Writes go through a temporary file and a rename, and
the index is changed under a file lock, so concurrent users never see half a write.

Taught in chapter 6 (building images, registries).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Iterator

from minik8s.images import reference
from minik8s.images.builtin import canonical_json


class ImageNotFound(LookupError):
    """No image has this name in the store."""


def minik8s_home() -> Path:
    """Where images and the local registry live: ``$MINIK8S_HOME``, else ``~/.minik8s``."""
    return Path(os.environ.get("MINIK8S_HOME") or Path.home() / ".minik8s").expanduser()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class ImageStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        (self.root / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)

    # --- blobs ------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        if algorithm != "sha256" or len(hexdigest) != 64:
            raise ValueError(f"invalid digest {digest!r}")
        return self.root / "blobs" / "sha256" / hexdigest

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).exists()

    def put_blob(self, data: bytes) -> str:
        digest = sha256(data)
        path = self.blob_path(digest)
        if not path.exists():
            _write_atomic(path, data)
        return digest

    def put_blob_file(self, source: Path) -> str:
        """Store a file (a layer tar) by its digest without reading it into memory twice."""
        h = hashlib.sha256()
        with open(source, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digest = "sha256:" + h.hexdigest()
        path = self.blob_path(digest)
        if not path.exists():
            temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
            shutil.copyfile(source, temporary)
            os.replace(temporary, path)
        return digest

    # --- the index of tags ------------------------------------------------------------

    @contextlib.contextmanager
    def _index(self, write: bool = False) -> Iterator[dict[str, Any]]:
        lock_path = self.root / "index.lock"
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            path = self.root / "index.json"
            index = json.loads(path.read_text()) if path.exists() else {}
            index.setdefault("tags", {})
            yield index
            if write:
                _write_atomic(path, json.dumps(index, indent=1, sort_keys=True).encode())

    def tag(self, image_id: str, ref: str) -> None:
        if not self.has_blob(image_id):
            raise ImageNotFound(f"No such image: {image_id}")
        with self._index(write=True) as index:
            index["tags"][reference.parse(ref).canonical] = image_id

    def add(self, config: dict[str, Any], tags: list[str] = []) -> str:
        """Store a config (its layers must already be stored) and tag it; returns the image ID."""
        for layer in config.get("rootfs", {}).get("diff_ids", []):
            if not self.has_blob(layer):
                raise ImageNotFound(f"layer {layer} is missing from the store")
        image_id = self.put_blob(canonical_json(config))
        for ref in tags:
            self.tag(image_id, ref)
        return image_id

    def resolve(self, text: str) -> str | None:
        """The image ID that ``text`` names (a tag, ``name@sha256:...``, an ID or a 12+ character prefix)."""
        bare = text.removeprefix("sha256:")
        if len(bare) >= 12 and all(c in "0123456789abcdef" for c in bare):
            matches = [p.name for p in (self.root / "blobs" / "sha256").glob(bare + "*")
                       if not p.name.endswith(".tmp") and self._is_config(p)]
            if len(matches) == 1:
                return "sha256:" + matches[0]
        try:
            ref = reference.parse(text)
        except reference.InvalidReference:
            return None
        if ref.digest:
            return ref.digest if self.has_blob(ref.digest) else None
        with self._index() as index:
            found = index["tags"].get(ref.canonical)
        return found if isinstance(found, str) else None

    def _is_config(self, path: Path) -> bool:
        with self._index() as index:
            return "sha256:" + path.name in index["tags"].values()

    def config(self, image_id: str) -> dict[str, Any]:
        try:
            return dict(json.loads(self.blob_path(image_id).read_bytes()))
        except FileNotFoundError:
            raise ImageNotFound(f"No such image: {image_id}") from None

    def layers(self, image_id: str) -> list[str]:
        return list(self.config(image_id).get("rootfs", {}).get("diff_ids", []))

    def size(self, image_id: str) -> int:
        total = self.blob_path(image_id).stat().st_size
        return total + sum(self.blob_path(d).stat().st_size for d in self.layers(image_id))

    def images(self) -> list[tuple[str, list[str]]]:
        """Every image: (ID, its tags), tags sorted, images by their first tag."""
        with self._index() as index:
            by_id: dict[str, list[str]] = {}
            for tag, image_id in index["tags"].items():
                by_id.setdefault(image_id, []).append(tag)
        return sorted(((i, sorted(t)) for i, t in by_id.items()), key=lambda e: e[1][0])

    def remove(self, text: str) -> list[str]:
        """Untag ``text`` (or every tag of an ID); delete blobs no image uses any more.
        Returns what was untagged and deleted, as ``docker rmi`` prints it."""
        image_id = self.resolve(text)
        if image_id is None:
            raise ImageNotFound(f"No such image: {text}")
        done: list[str] = []
        with self._index(write=True) as index:
            tags = index["tags"]
            try:
                named = reference.parse(text)
                wanted = [named.canonical] if not named.digest and named.canonical in tags else None
            except reference.InvalidReference:
                wanted = None
            for tag in wanted or [t for t, i in tags.items() if i == image_id]:
                del tags[tag]
                done.append(f"Untagged: {reference.parse(tag).familiar}")
            still_used = set(tags.values())
        if image_id not in still_used:
            done += self._collect(still_used, image_id)
        return done

    def _collect(self, used_images: set[str], removed: str) -> list[str]:
        keep = set(used_images)
        for image_id in used_images:
            keep.update(self.layers(image_id))
        done = []
        for digest in [removed, *self.layers(removed)]:
            if digest not in keep and self.has_blob(digest):
                self.blob_path(digest).unlink()
                done.append(f"Deleted: {digest}")
        return done

    # --- moving images between stores (push, pull) and using them --------------------

    def copy_to(self, other: "ImageStore", image_id: str, tags: list[str]) -> list[str]:
        """Copy an image's blobs that ``other`` lacks, then tag it there. Returns per-layer lines."""
        lines = []
        for digest in [*self.layers(image_id), image_id]:
            short = digest.split(":")[1][:12]
            if other.has_blob(digest):
                lines.append(f"{short}: Layer already exists" if digest != image_id else f"{short}: Config exists")
                continue
            other.put_blob_file(self.blob_path(digest))
            lines.append(f"{short}: Pushed" if digest != image_id else f"{short}: Config pushed")
        for tag in tags:
            other.tag(image_id, tag)
        return lines

    def unpack(self, image_id: str, folder: Path) -> None:
        """Extract the image's layers, in order, into ``folder`` (later layers win)."""
        folder.mkdir(parents=True, exist_ok=True)
        for digest in self.layers(image_id):
            with tarfile.open(self.blob_path(digest)) as tar:
                # The "data" filter refuses absolute paths, ".." and device files: a layer
                # cannot write outside the folder.
                tar.extractall(folder, filter="data")


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(temporary, path)

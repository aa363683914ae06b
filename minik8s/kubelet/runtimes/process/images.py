"""Images in the process runtime: which files and configuration a container starts from.

The process runtime knows three kinds of image, tried in this order:

* a built-in teaching image (:mod:`minik8s.images.builtin`: busybox, nginx, python,
  ...): its files are written into each container's folder;
* an image in the local image store (made by ``minik8s image build``), unpacked layer
  by layer;
* an image in the local registry, pulled into the store first (``imagePullPolicy:
  Always`` pulls again even when the store has it).

Anything else fails as containerd does, with ``ErrImagePull`` (or ``ErrImageNeverPull``
under policy ``Never``) and a ``NotFound`` message that says what this runtime can run.

Interface:
    found, fetched = resolve(store, registry, text, pull_policy)   # raises cri.ImagePullError
    lay_out(store, found, rootfs)       # the container's own copy of the image's files
    image_paths(image_config) -> [path] # the folders of the image to mount into the container

Taught in chapter 1 (containers and images) and chapter 2 (the CRI).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minik8s.images import builtin, reference
from minik8s.images.registry import Registry, RegistryError
from minik8s.images.store import ImageStore
from minik8s.kubelet.cri import ImagePullError


@dataclass
class Image:
    ref: str                   # canonical reference
    image_id: str              # sha256 of the config
    config: dict[str, Any]
    base: builtin.Builtin | None
    size: int
    from_store: bool           # its files are layers in the image store


def resolve(store: ImageStore, registry: Registry, text: str, pull_policy: str) -> tuple[Image, bool]:
    """(the image, whether it was fetched now). Raises ImagePullError."""
    try:
        ref = reference.parse(text)
    except reference.InvalidReference as exc:
        raise ImagePullError("InvalidImageName",
                             f'Failed to apply default image tag "{text}": couldn\'t parse image name '
                             f'"{text}": {exc}') from None
    known = builtin.lookup(ref)
    if known is not None:
        return Image(ref.canonical, known.digest(), known.config(), known, known.size, False), False
    local = store.resolve(ref.canonical)
    fetched = False
    if registry.serves(ref) and (local is None or pull_policy == "Always"):
        if pull_policy == "Never" and local is None:
            raise ImagePullError("ErrImageNeverPull",
                                 f'Container image "{text}" is not present with pull policy of Never')
        try:
            local = registry.pull(store, ref.canonical)
            fetched = True
        except RegistryError as exc:
            if local is None:
                raise ImagePullError("ErrImagePull", _not_found(ref, str(exc))) from None
    if local is None:
        if pull_policy == "Never":
            raise ImagePullError("ErrImageNeverPull",
                                 f'Container image "{text}" is not present with pull policy of Never')
        raise ImagePullError("ErrImagePull", _not_found(ref, f"{ref.canonical}: not found"))
    config = store.config(local)
    label = ((config.get("config") or {}).get("Labels") or {}).get(builtin.LABEL_BUILTIN, "")
    base = builtin.BUILTINS.get(label)
    return Image(ref.canonical, local, config, base, store.size(local), True), fetched


def _not_found(ref: reference.Reference, detail: str) -> str:
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{ref.canonical}": '
            f'failed to resolve reference "{ref.canonical}": {detail} (the process runtime runs the '
            f"built-in images {builtin.available()}, images made with \"minik8s image build\", "
            f"and images pushed to the local registry {registry_host()})")


def registry_host() -> str:
    """Where the local registry listens (the host part of its image references)."""
    from minik8s.images.registry import HOST
    return HOST


def lay_out(store: ImageStore, found: Image, rootfs: Path) -> None:
    """The container's own copy of the image's files."""
    rootfs.mkdir(parents=True, exist_ok=True)
    if found.from_store:
        store.unpack(found.image_id, rootfs)
    if found.base is not None and not found.from_store:
        for path, text in found.base.files.items():
            target = rootfs / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    if found.base is not None:
        for folder in found.base.folders:
            (rootfs / folder.lstrip("/")).mkdir(parents=True, exist_ok=True)


def image_paths(image_config: dict[str, Any]) -> list[str]:
    labels = image_config.get("Labels") or {}
    try:
        return [str(p) for p in json.loads(labels.get(builtin.LABEL_PATHS, "[]"))]
    except ValueError:
        return []

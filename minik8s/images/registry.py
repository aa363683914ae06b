"""The local registry: where images go with ``push`` and come from with ``pull``.

A registry stores images by repository and tag, so that every node can fetch the
same bytes. A real cluster pulls from Docker Hub or a private registry over HTTPS;
minik8s has no network, so its registry is a folder on this machine
(``$MINIK8S_HOME/registry``, the same blob layout as the image store) answering to
the host name ``localhost:5000``, the address Docker's own guide gives its local
registry (``docker run -d -p 5000:5000 registry:2``). It is not an HTTP server:
``push`` and ``pull`` copy blobs between folders (what an HTTP registry would send).

Interface:
    registry = Registry()                       # or Registry(root)
    registry.push(store, "localhost:5000/app:1.0") -> lines    # like docker push prints
    registry.pull(store, "localhost:5000/app:1.0") -> image id
    registry.resolve("localhost:5000/app:1.0") -> image id | None

Only names under ``localhost:5000/`` can be pushed; others give the error a push to a
registry we cannot reach would.
Taught in chapter 6 (building images, registries).
"""

from __future__ import annotations

from pathlib import Path

from minik8s.images import reference
from minik8s.images.store import ImageNotFound, ImageStore, minik8s_home

HOST = "localhost:5000"


class RegistryError(Exception):
    """A push or pull the registry refuses; the text is what the client prints."""


class Registry:
    def __init__(self, root: Path | None = None):
        self.store = ImageStore(root if root is not None else minik8s_home() / "registry")

    def serves(self, ref: reference.Reference) -> bool:
        return ref.registry == HOST

    def _check(self, text: str) -> reference.Reference:
        ref = reference.parse(text)
        if not self.serves(ref):
            raise RegistryError(f"cannot reach registry {ref.registry}: minik8s has no network; tag the image "
                                f"for the local registry ({HOST}/{ref.repository.removeprefix('library/')}:"
                                f"{ref.tag or 'latest'}) and push that")
        return ref

    def push(self, store: ImageStore, text: str) -> list[str]:
        ref = self._check(text)
        image_id = store.resolve(text)
        if image_id is None:
            raise RegistryError(f"An image does not exist locally with the tag: {ref.short}")
        lines = [f"The push refers to repository [{ref.name}]"]
        lines += store.copy_to(self.store, image_id, [ref.canonical] if not ref.digest else [])
        lines.append(f"{ref.tag or ref.digest}: digest: {image_id} size: {store.size(image_id)}")
        return lines

    def resolve(self, text: str) -> str | None:
        ref = reference.parse(text)
        return self.store.resolve(ref.canonical) if self.serves(ref) else None

    def pull(self, store: ImageStore, text: str) -> str:
        ref = self._check(text)
        image_id = self.store.resolve(ref.canonical)
        if image_id is None:
            raise RegistryError(f"manifest for {ref.short}:{ref.tag or ref.digest} not found: manifest unknown: "
                                "manifest unknown")
        try:
            self.store.copy_to(store, image_id, [ref.canonical] if not ref.digest else [])
        except ImageNotFound as exc:
            raise RegistryError(str(exc)) from None
        return image_id

"""Image references: how ``nginx``, ``nginx:1.27`` and ``localhost:5000/app@sha256:...`` are read.

An image reference names a repository in a registry, then either a tag or a digest.
Docker's rules fill in what is left out: no registry means Docker Hub
(``docker.io``), a one-part name on Docker Hub lives under ``library/``, and no tag
means ``latest``. So ``nginx`` is ``docker.io/library/nginx:latest``. The first part
of a name is a registry only if it looks like a host: it has a ``.`` or a ``:`` or is
``localhost``.

Interface:
    ref = parse("localhost:5000/app:1.0")
    ref.registry, ref.repository, ref.tag, ref.digest   # "localhost:5000", "app", "1.0", ""
    ref.canonical   # "localhost:5000/app:1.0"   (docker.io/library/nginx:latest for "nginx")
    ref.short       # "localhost:5000/app"       ("nginx" for Docker Hub's official images)

Invariant: ``parse(ref.canonical) == ref``.

Taught in chapter 5 (Pods: images) and chapter 6 (building images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"

# Repository path components and tags, as the distribution spec allows them.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class InvalidReference(ValueError):
    """The text is not an image reference (the message is docker's ``invalid reference format``)."""


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def short(self) -> str:
        """The familiar name: Docker Hub's registry and ``library/`` are left out."""
        if self.registry == DEFAULT_REGISTRY:
            return self.repository.removeprefix("library/")
        return f"{self.registry}/{self.repository}"

    @property
    def name(self) -> str:
        """``registry/repository`` with nothing left out."""
        return f"{self.registry}/{self.repository}"

    @property
    def canonical(self) -> str:
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag}"

    @property
    def familiar(self) -> str:
        """What ``docker images`` would print: ``nginx:1.27``, ``localhost:5000/app:1.0``."""
        return f"{self.short}@{self.digest}" if self.digest else f"{self.short}:{self.tag}"


def parse(text: str) -> Reference:
    """Read an image reference, filling in Docker's defaults."""
    if not text or text != text.strip():
        raise InvalidReference(f'invalid reference format: "{text}"')
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.fullmatch(digest):
        raise InvalidReference(f'invalid reference format: "{text}"')
    tag = ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.fullmatch(tag):
            raise InvalidReference(f'invalid reference format: "{text}"')
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, name
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = "library/" + path
    if not all(_COMPONENT.fullmatch(part) for part in path.split("/")):
        raise InvalidReference(f'invalid reference format: repository name ({path}) must be lowercase'
                               if path.lower() != path else f'invalid reference format: "{text}"')
    return Reference(registry, path, "" if digest else (tag or DEFAULT_TAG), digest)

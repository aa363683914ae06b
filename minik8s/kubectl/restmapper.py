"""kubectl's REST mapper: what ``crontabs`` or ``kind: CronTab`` means on *this* server.

The built-in kinds are known without asking (:mod:`minik8s.api.resources`). Anything else, such as
the custom resources a CustomResourceDefinition adds, is found as kubectl finds it: through the
server's discovery documents (``/apis``, then ``/apis/<group>/<version>``), read once per command
and only when a name is not a built-in one.

Interface:
    using(client)                  # a context manager: the client whose server the command asks
    lookup(name) -> Resource | None     # built-in first, then discovery
    served() -> list[Resource]          # everything the server serves (kubectl api-resources)
    of_object(obj) -> Resource | None   # by apiVersion and kind, likewise

Taught in the reference page on custom resources (docs/reference/custom-resources.md).
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.client.discovery import discover

# The discovered registry of the command running now, built on first need.
_CURRENT: contextvars.ContextVar[Callable[[], resources.Registry] | None] = contextvars.ContextVar(
    "restmapper", default=None)


@contextlib.contextmanager
def using(client_factory: Callable[[], Any]) -> Iterator[None]:
    """Resolve names that are not built in through the discovery of ``client_factory()``'s server."""
    cache: list[resources.Registry] = []

    def registry() -> resources.Registry:
        if not cache:
            cache.append(discover(client_factory()))
        return cache[0]

    token = _CURRENT.set(registry)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _discovered() -> resources.Registry | None:
    factory = _CURRENT.get()
    return factory() if factory is not None else None


def served() -> list[Resource]:
    """Every resource the server serves, in its preferred versions (the built-ins when not asked)."""
    registry = _discovered()
    found = list(registry if registry is not None else resources.RESOURCES)
    preferred: dict[tuple[str, str], Resource] = {}
    for res in found:
        preferred.setdefault((res.group, res.plural), res)
    return list(preferred.values())


def lookup(name: str) -> Resource | None:
    found = resources.lookup(name)
    if found is None and (registry := _discovered()) is not None:
        found = registry.lookup(name)
    return found


def of_object(obj: dict[str, Any]) -> Resource | None:
    found = resources.of_object(obj)
    if found is None and (registry := _discovered()) is not None:
        found = registry.of_object(obj)
    return found

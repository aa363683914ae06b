"""The admission chain: plugins that may change (mutate) or refuse (validate) a write.

kube-apiserver runs every create, update and delete through its admission plugins
after the object is decoded and defaulted: first every *mutating* plugin in order
(each may change the object: ServiceAccount adds the token volume, LimitRanger adds
default resources), then the object is validated, then every *validating* plugin
(each may only refuse: ResourceQuota, PodSecurity). A refusal is a ``StatusError``
(usually ``403 Forbidden`` with the plugin's reason), and nothing is stored.

A plugin is any object with some of these methods; a missing method is a no-op:

    name: str                              # as upstream names it ("ServiceAccount", "LimitRanger")
    mutate(attrs: Attributes) -> None      # may change attrs.obj in place
    validate(attrs: Attributes) -> None    # may only raise StatusError

Interface:
    Attributes(operation, resource, namespace, name, obj, old=None, subresource="", dry_run=False, user=None,
               warnings=None)
    chain = Chain([plugin, ...]);  chain.mutate(attrs);  chain.validate(attrs)
    chain.add(plugin)                      # appended; upstream's order is the order of adding

Invariant: plugins see the request's user (``attrs.user``; None for the cluster's own
in-process components, see :mod:`minik8s.apiserver.auth.context`) and never write to
the store themselves while admitting (a refused request must leave no trace).

Taught in chapter 2 (architecture) and chapter 16 (access control).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minik8s.api.resources import Resource
from minik8s.apiserver.auth.authentication import User

# Operations, as upstream's admission.Operation.
CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"


@dataclass
class Attributes:
    operation: str
    resource: Resource
    namespace: str | None
    name: str
    obj: dict[str, Any] | None
    old: dict[str, Any] | None = None
    subresource: str = ""
    dry_run: bool = False
    user: User | None = None
    # Where a plugin adds a warning for the client (the response's Warning headers); None: nobody listens.
    warnings: list[str] | None = None


class Chain:
    def __init__(self, plugins: list[Any] | None = None):
        self.plugins: list[Any] = list(plugins or [])

    def add(self, plugin: Any) -> None:
        self.plugins.append(plugin)

    def mutate(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            mutate = getattr(plugin, "mutate", None)
            if mutate is not None:
                mutate(attrs)

    def validate(self, attrs: Attributes) -> None:
        for plugin in self.plugins:
            validate = getattr(plugin, "validate", None)
            if validate is not None:
                validate(attrs)

"""The command registry: which module serves which kubectl verbs.

kubectl (cobra) builds its command tree from one list of sub-commands, each defined in its own package
(``k8s.io/kubectl/pkg/cmd/get``, ``.../apply``, ...) and added by ``NewKubectlCommand``. Here each
command module defines ``register(sub, parent)``, which adds its verbs (with their flags and a
``handler``) to the argument parser; this module lists those modules once, in order.

Interface: ``COMMAND_MODULES`` (the modules, in registration order); ``add_commands(sub, parent)``.
Invariant: the dependency goes one way only — :mod:`.main` imports this registry, the registry imports
the command modules, and no command module imports :mod:`.main` (checked by import-linter's contract
in ``pyproject.toml``). What the commands share lives in :mod:`.command`.
"""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Any

from minik8s.kubectl import (attach, auth, authn, autoscale, certificate, configdata, get, info, ingress, nodes, pdb,
                             pods, portforward, priorityclass, quota, rbac, services, top, wait, workloads, write)

# Order matters where modules extend each other's verbs: configdata, quota, rbac and authn add
# sub-commands to write's ``create``; authn's ``whoami`` joins auth's sub-commands, so it comes after auth.
COMMAND_MODULES: tuple[ModuleType, ...] = (
    get, write, info, pods, workloads, autoscale, wait, nodes, services, configdata, quota, priorityclass, pdb, auth,
    rbac, authn, top, ingress, certificate,
    attach, portforward,   # the streaming commands
)


def add_commands(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add every module's verbs to ``sub`` (an argparse sub-parsers action); ``parent`` holds the global flags."""
    for module in COMMAND_MODULES:
        module.register(sub, parent)

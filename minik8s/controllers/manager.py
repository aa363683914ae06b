"""The controller manager: which controllers run, in which order.

kube-controller-manager is one process running many independent controllers;
each watches what it cares about and reconciles. Here they are listed once and
the cluster's loop gives each its turn. Order matters only for determinism:
with a virtual clock, the same order gives the same names and the same output.
"""

from __future__ import annotations

from typing import Callable

from minik8s.controllers.controller import Context, Controller
from minik8s.controllers.namespace import NamespaceController
from minik8s.controllers.nodelifecycle import NodeLifecycleController

# Add a controller here (one line each) when it exists.
CONTROLLERS: list[Callable[[Context], Controller]] = [
    NamespaceController,
    NodeLifecycleController,
]

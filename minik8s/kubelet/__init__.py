"""The kubelet and its container runtimes.

``make_runtime(name, ...)`` builds the runtime a node uses (``simulated``, ``process``
or ``docker``); ``Kubelet`` is the node agent. See :mod:`minik8s.kubelet.kubelet`
and :mod:`minik8s.kubelet.cri`.

Taught in chapter 2 (architecture) and chapter 4 (nodes).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from minik8s.clock import Clock
from minik8s.kubelet.cri import ContainerRuntime
from minik8s.kubelet.kubelet import Kubelet

RUNTIMES = ("simulated", "process", "docker")


def make_runtime(name: str, *, node_name: str = "node-1", node_index: int = 0, clock: Clock,
                 rng: random.Random | None = None, data_dir: Path | None = None, **options: Any) -> ContainerRuntime:
    """The container runtime called ``name`` for one node. The process and docker runtimes are
    imported only when asked for, so the simulated one needs nothing else installed."""
    if name == "simulated":
        from minik8s.kubelet.runtimes.simulated import SimulatedRuntime
        return SimulatedRuntime(node_name=node_name, node_index=node_index, clock=clock, rng=rng, **options)
    if name == "process":
        from minik8s.kubelet.runtimes.process import ProcessRuntime  # type: ignore[import-not-found]
        return ProcessRuntime(node_name=node_name, node_index=node_index, clock=clock, rng=rng,  # type: ignore[no-any-return]
                              data_dir=data_dir, **options)
    if name == "docker":
        from minik8s.kubelet.runtimes.docker import DockerRuntime  # type: ignore[import-not-found]
        return DockerRuntime(node_name=node_name, node_index=node_index, clock=clock, rng=rng,  # type: ignore[no-any-return]
                             data_dir=data_dir, **options)
    raise ValueError(f'unknown container runtime "{name}": use simulated, process or docker')


__all__ = ["Kubelet", "make_runtime", "ContainerRuntime", "RUNTIMES"]

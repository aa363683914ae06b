"""minik8s: a compact, readable Kubernetes in Python that speaks the real Kubernetes API.

``from minik8s import Cluster`` gives an in-process cluster (see :mod:`minik8s.cluster`);
``minik8s server`` serves one over HTTP for the real kubectl.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Cluster", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported lazily so that `minik8s kubectl` starts without loading the whole cluster.
    if name == "Cluster":
        from minik8s.cluster import Cluster

        return Cluster
    raise AttributeError(name)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext minik8s``: the lab magics (see :mod:`minik8s.lab.magics`)."""
    from minik8s.lab.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from minik8s.lab.magics import unload_ipython_extension as unload

    unload(ipython)

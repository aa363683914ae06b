"""The scheduler's decision part: kube-scheduler's framework, as pure Python.

``Cache`` holds what every node has; ``Scheduler.schedule(pod, cache)`` picks a
node with the default plugins (``framework.default_profile()``), which the framework
finds by name in its registry (``register(name, factory)``). The component that
watches the API server and writes bindings is built on these.

    cache = Cache(); cache.add_node(node) ...
    result = Scheduler(rng=random.Random(1)).schedule(pod, cache)
    if result.node: cache.assume(pod, result.node)   # then bind
    else: print(result.message)                      # FailedScheduling event text

Taught in chapter 11 (Scheduling).
"""

# Importing the plugins registers them by name (see framework), before any profile is built.
from minik8s.scheduler import plugins  # noqa: F401
from minik8s.scheduler.algorithm import Diagnosis, Result, Scheduler, fit_error_message, num_feasible_nodes_to_find
from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo, pod_requests
from minik8s.scheduler.framework import (
    DEFAULT_PLUGINS, SKIP, CycleState, Plugin, PreFilterResult, Profile, Status, default_plugins, default_profile,
    new_plugins, register,
)

__all__ = [
    "DEFAULT_PLUGINS", "SKIP", "Cache", "CycleState", "Diagnosis", "NodeInfo", "Plugin", "PodInfo", "PreFilterResult",
    "Profile", "Result", "Scheduler", "Status", "default_plugins", "default_profile", "fit_error_message",
    "new_plugins", "num_feasible_nodes_to_find", "pod_requests", "register",
]

"""The scheduling framework: plugins at extension points, and the default profile.

kube-scheduler is a pipeline of *extension points*, each filled by *plugins*:

    PreFilter  once per pod: precompute, or say Skip ("I have nothing to check")
    Filter     once per node: None if the pod may run there, else a reason string
    PreScore   once per pod, over the feasible nodes: precompute, or Skip
    Score      once per feasible node: an integer 0..100 (higher is better)
    NormalizeScore  once per pod: rescale a plugin's scores to 0..100
    PreBind    once, for the chosen node, before the pod is bound: make the API writes the
               decision needs (VolumeBinding: bind or provision the pod's claims there)

The weighted sum of the scores ranks the nodes. A *profile* names the plugins and
their score weights; ``default_profile()`` is upstream's default.

Plugins are found by name in a *registry* (upstream's ``Registry`` of plugin
factories): each plugin module registers its plugins when it is imported, and a
profile is a list of names looked up there. So this module imports no plugin; the
package ``minik8s.scheduler`` imports ``minik8s.scheduler.plugins``, which fills the
registry with the in-tree plugins before anything can ask for a profile.

Interface:
    Plugin                       # subclass and override the extension points you use
    CycleState                   # per-decision scratch space shared by a plugin's stages
    SKIP, Status, PreFilterResult
    register(name, factory)      # make a plugin available to profiles under its name
    new_plugins(names)           # one new plugin per registered name, in that order
    Profile(plugins, weights)    # .filter_plugins, .score_plugins, .run_pre_filter(...)
    DEFAULT_PLUGINS              # upstream's default profile, as plugin names
    default_plugins(), default_profile()

Conventions (Pythonic shapes of upstream's types):
    * Filter returns ``None`` (fits) or a reason string; NodeResourcesFit may return a
      tuple of reasons ("Insufficient cpu", "Insufficient memory"), each counted.
    * PreFilter returns ``None`` (go on), ``SKIP``, a ``PreFilterResult`` (only these
      nodes can fit), or a ``Status`` (the pod is unschedulable everywhere).
    * PreScore returns ``None`` or ``SKIP``.

Taught in chapter 11 (Scheduling).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from minik8s.scheduler.cache import Cache, NodeInfo, PodInfo

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0

Reason = Union[str, tuple[str, ...]]
FilterFunc = Callable[["CycleState", "PodInfo", "NodeInfo"], "Reason | None"]


@dataclass(frozen=True)
class Status:
    """A non-success outcome. ``code`` is one of upstream's status codes."""

    code: str  # "Skip", "Unschedulable", "UnschedulableAndUnresolvable", "Error"
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def message(self) -> str:
        return ", ".join(self.reasons)


SKIP = Status("Skip")


@dataclass(frozen=True)
class PreFilterResult:
    """Only these nodes can possibly fit (e.g. node affinity on ``metadata.name``)."""

    node_names: frozenset[str]


class CycleState(dict[str, Any]):
    """Scratch space for one scheduling decision, keyed by plugin name.

    A plugin's PreFilter writes what its Filter will read for every node, so the
    per-node work stays small. Nothing in it survives the decision.
    """


class Plugin:
    """Base class: override the extension points the plugin implements."""

    name = "Plugin"

    def pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> Status | PreFilterResult | None:
        return None

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Reason | None:
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], cache: Cache) -> Status | None:
        return None

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return 0

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        """Rescale ``scores`` (one per node, same order) in place."""

    def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str, client: Any) -> bool:
        """Write what binding to ``node_name`` needs through ``client``. True: bind the pod now;
        False: wait until what was asked for is done (the component asks ``ready`` again)."""
        return True

    def ready(self, pod: dict[str, Any], cache: Cache) -> bool:
        """After a PreBind that said wait: may the pod be bound now?"""
        return True


def overrides(plugin: Plugin, method: str) -> bool:
    """Does ``plugin`` implement the extension point ``method``?"""
    return getattr(type(plugin), method) is not getattr(Plugin, method)


def default_normalize(scores: list[int], reverse: bool) -> None:
    """Scale so the highest becomes 100 (upstream helper.DefaultNormalizeScore).

    With ``reverse`` the lowest raw score wins, as for counts of untolerated taints.
    """
    highest = max(scores, default=0)
    if highest == 0:
        if reverse:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        return
    for i, s in enumerate(scores):
        s = MAX_NODE_SCORE * s // highest
        scores[i] = MAX_NODE_SCORE - s if reverse else s


@dataclass
class PreFilterOutcome:
    """What PreFilter decided for one pod."""

    filters: list[tuple[str, FilterFunc]] = field(default_factory=list)  # plugins to run per node
    node_names: frozenset[str] | None = None  # None: every node is a candidate
    narrowed_by: list[str] = field(default_factory=list)  # plugins that returned node names
    status: Status | None = None  # set when the pod fits nowhere


class Profile:
    """The plugins of one scheduler profile and their score weights."""

    def __init__(self, plugins: list[Plugin], weights: dict[str, int] | None = None,
                 name: str = "default-scheduler", percentage_of_nodes_to_score: int | None = None) -> None:
        self.name = name
        self.plugins = plugins
        self.weights = dict(weights or {})
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self.pre_filter_plugins = [p for p in plugins if overrides(p, "pre_filter")]
        self.filter_plugins = [p for p in plugins if overrides(p, "filter")]
        self.score_plugins = [p for p in plugins if overrides(p, "score")]
        self.pre_score_plugins = [p for p in plugins if overrides(p, "pre_score")]
        self.pre_bind_plugins = [p for p in plugins if overrides(p, "pre_bind")]

    def run_pre_filter(self, state: CycleState, pod: PodInfo, cache: Cache) -> PreFilterOutcome:
        """Run every PreFilter; collect the Filters that still have work to do."""
        outcome = PreFilterOutcome()
        skipped: set[str] = set()
        for plugin in self.pre_filter_plugins:
            result = plugin.pre_filter(state, pod, cache)
            if result is SKIP:
                skipped.add(plugin.name)
            elif isinstance(result, Status):
                outcome.status = Status(result.code, result.reasons, plugin.name)
                return outcome
            elif isinstance(result, PreFilterResult):
                outcome.narrowed_by.append(plugin.name)
                names = result.node_names
                outcome.node_names = names if outcome.node_names is None else outcome.node_names & names
                if not outcome.node_names:
                    # Upstream's wording when PreFilter results leave no node at all.
                    if len(outcome.narrowed_by) == 1:
                        message = f"node(s) didn't satisfy plugin {outcome.narrowed_by[0]}"
                    else:
                        message = f"node(s) didn't satisfy plugin(s) [{' '.join(outcome.narrowed_by)}] simultaneously"
                    outcome.status = Status("Unschedulable", (message,), plugin.name)
                    return outcome
        outcome.filters = [(p.name, p.filter) for p in self.filter_plugins if p.name not in skipped]
        return outcome

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
                      cache: Cache) -> list[tuple[Plugin, int]]:
        """Run every PreScore; return the (plugin, weight) pairs that will score."""
        skipped = {p.name for p in self.pre_score_plugins if p.pre_score(state, pod, nodes, cache) is SKIP}
        return [(p, self.weights.get(p.name, 1)) for p in self.score_plugins if p.name not in skipped]


# --- the registry ------------------------------------------------------------

PluginFactory = Callable[[], Plugin]

_registry: dict[str, PluginFactory] = {}


def register(name: str, factory: PluginFactory) -> None:
    """Make a plugin available to profiles under ``name`` (upstream ``Registry.Register``)."""
    if _registry.get(name, factory) is not factory:
        raise ValueError(f"a plugin named {name} already exists")  # upstream's wording
    _registry[name] = factory


def new_plugins(names: Iterable[str]) -> list[Plugin]:
    """One new plugin for each registered name, in the order given."""
    plugins = []
    for name in names:
        if name not in _registry:
            raise ValueError(f'plugin "{name}" does not exist')  # upstream's wording
        plugins.append(_registry[name]())
    return plugins


# Upstream's default profile (KubeSchedulerConfiguration v1) by name, in upstream's order,
# which is also the order the Filters run in. Not here: NodeVolumeLimits and VolumeZone
# (minik8s has no attachable or zonal disks), SchedulingGates, and the queue sort, preemption and binding,
# which the scheduler component and minik8s.scheduler.preemption do outside the profile.
DEFAULT_PLUGINS = (
    "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
    "VolumeRestrictions", "VolumeBinding", "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation", "ImageLocality",
)

# Upstream's default score weights (KubeSchedulerConfiguration v1, default profile).
DEFAULT_WEIGHTS = {
    "TaintToleration": 3,
    "NodeAffinity": 2,
    "NodeResourcesFit": 1,
    "PodTopologySpread": 2,
    "InterPodAffinity": 2,
    "NodeResourcesBalancedAllocation": 1,
    "ImageLocality": 1,
}


def default_plugins() -> list[Plugin]:
    """The default plugins, new, in upstream's order."""
    return new_plugins(DEFAULT_PLUGINS)


def default_profile(percentage_of_nodes_to_score: int | None = None) -> Profile:
    """Upstream's ``default-scheduler`` profile (without NodeVolumeLimits, VolumeZone and preemption)."""
    return Profile(default_plugins(), DEFAULT_WEIGHTS, percentage_of_nodes_to_score=percentage_of_nodes_to_score)

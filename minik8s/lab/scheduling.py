"""Why did my pod land there? The scheduler's reasoning for one pod, node by node.

``explain(pod)`` reads the cluster's nodes and pods through the lab's
:class:`~minik8s.lab.session.ClusterView` (``kubectl get -o json``), fills a
scheduler cache with them and runs minik8s's scheduler with its default profile
for the one pod, as if it arrived now. It shows, for every node, what each Filter
plugin said (``ok``, or the reason that ends up in the ``FailedScheduling``
message) and, for the nodes that passed, each Score plugin's normalised score
multiplied by the plugin's weight, the total, and the winner. Against a real
cluster the answer is "what the minik8s scheduler would decide" there.

A pod that is already scheduled is taken off its node first (its ``nodeName``
cleared), so the question answered is "where would it go if it came now"; the
cluster may have changed since the real decision was made.

Interface:
    explain(pod, namespace="default", source=None, show=True) -> Explanation
    Explanation.winners / .message / .rows / .table()
    NodeVerdict(node, filters, scores, total)      # one row of the table

Taught in chapter 11 (Scheduling), with labs/11-scheduling.ipynb.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

from minik8s.lab import session as lab_session
from minik8s.lab.session import ClusterView, LabError
from minik8s.scheduler import Cache, CycleState, PodInfo, Scheduler, default_profile
from minik8s.scheduler.cache import StorageListers

OK = "ok"


@dataclass
class NodeVerdict:
    """One node: every Filter plugin's verdict, and (if it passed them all) its weighted scores."""

    node: str
    filters: dict[str, str]  # plugin -> "ok" or the plugin's reason
    scores: dict[str, int] = field(default_factory=dict)  # plugin -> normalised score x weight
    total: int | None = None  # None: filtered out, or the only feasible node (not scored)

    @property
    def feasible(self) -> bool:
        return all(verdict == OK for verdict in self.filters.values())


@dataclass
class Explanation:
    """The scheduler's reasoning for one pod."""

    pod: str  # namespace/name
    node_name: str  # where it runs now ("" if pending)
    rows: list[NodeVerdict]
    filter_plugins: list[str]
    score_plugins: list[str]  # those that scored (PreScore did not skip them)
    winners: list[str]  # the best node, or the tied best nodes; empty when none fits
    message: str  # the FailedScheduling message when no node fits, else ""

    def _ipython_display_(self) -> None:
        pass  # explain() printed the table already: as a cell's last value it adds no Out[...] line

    def row(self, node: str) -> NodeVerdict:
        return next(r for r in self.rows if r.node == node)

    def table(self) -> str:
        """The explanation as text: the filter table, the score table, the verdict."""
        lines = [self._headline()]
        rejecting = [p for p in self.filter_plugins if any(r.filters[p] != OK for r in self.rows)]
        passing = [p for p in self.filter_plugins if p not in rejecting]
        lines += ["", "Filter (every node passed " + (", ".join(passing) or "none of them") + "):"]
        lines += _columns(["NODE", *rejecting, "FEASIBLE"],
                          [[r.node, *(r.filters[p] for p in rejecting), "yes" if r.feasible else "no"]
                           for r in self.rows])
        scored = [r for r in self.rows if r.total is not None]
        if scored:
            lines += ["", "Score (normalised score x weight):"]
            lines += _columns(["NODE", *self.score_plugins, "TOTAL"],
                              [[r.node, *(str(r.scores[p]) for p in self.score_plugins), str(r.total)]
                               for r in scored])
        lines += ["", self._verdict()]
        return "\n".join(lines)

    def _headline(self) -> str:
        where = f"runs on {self.node_name}; asked again as if it were new" if self.node_name else "is pending"
        feasible = sum(1 for r in self.rows if r.feasible)
        return f"Pod {self.pod} {where}: {feasible}/{len(self.rows)} node(s) feasible."

    def _verdict(self) -> str:
        if not self.winners:
            return f"No node fits: {self.message}"
        if len(self.winners) == 1:
            feasible = [r for r in self.rows if r.feasible]
            if len(feasible) == 1:
                return f"Winner: {self.winners[0]}, the only feasible node (the scheduler does not score one node)."
            return f"Winner: {self.winners[0]} (total {self.row(self.winners[0]).total})."
        total = self.row(self.winners[0]).total
        return f"Tie: {', '.join(self.winners)} (total {total}); the scheduler picks one of them at random."


def _columns(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    return ["   ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in [header, *rows]]


def _reason_text(reason: Any) -> str:
    return reason if isinstance(reason, str) else ", ".join(reason)


def _cache(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], key: str,
           storage: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] | None = None) -> Cache:
    cache = Cache()
    if storage is not None:
        claims, volumes, classes = storage
        by_claim = {(c["metadata"].get("namespace") or "default", c["metadata"]["name"]): c for c in claims}
        by_class = {c["metadata"]["name"]: c for c in classes}
        cache.storage = StorageListers(claim=lambda namespace, name: by_claim.get((namespace, name)),
                                       volumes=lambda: volumes, storage_class=by_class.get)
    for node in nodes:
        cache.add_node(node)
    for other in pods:
        meta = other.get("metadata") or {}
        if f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}" != key:
            cache.add_pod(other)
    return cache


def _filter_verdicts(pod: dict[str, Any], cache: Cache) -> list[NodeVerdict]:
    """Every Filter plugin's verdict on every node (not only the first rejection, as the scheduler stops at)."""
    profile = default_profile()
    info = PodInfo(pod)
    state = CycleState()
    outcome = profile.run_pre_filter(state, info, cache)
    names = [p.name for p in profile.filter_plugins]
    rows = []
    for node in cache.nodes:
        verdicts = dict.fromkeys(names, OK)
        if outcome.status is not None:  # a PreFilter rejected the pod for every node
            verdicts[outcome.status.plugin] = outcome.status.message
        elif outcome.node_names is not None and node.name not in outcome.node_names:
            for plugin in outcome.narrowed_by:
                verdicts[plugin] = f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(outcome.narrowed_by))}]"
        else:
            for name, run in outcome.filters:
                reason = run(state, info, node)
                if reason is not None:
                    verdicts[name] = _reason_text(reason)
        rows.append(NodeVerdict(node.name, verdicts))
    return rows


def explain_objects(pod: dict[str, Any], nodes: list[dict[str, Any]], pods: list[dict[str, Any]],
                    storage: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] | None = None,
                    ) -> Explanation:
    """The explanation from plain objects (what ``explain`` reads from the cluster); ``storage`` is the
    claims, volumes and classes the volume plugins look at (none: the pod's claims are not found)."""
    meta = pod.get("metadata") or {}
    key = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
    node_name = (pod.get("spec") or {}).get("nodeName") or ""
    newcomer = copy.deepcopy(pod)
    newcomer["spec"].pop("nodeName", None)
    cache = _cache(nodes, pods, key, storage)
    rows = _filter_verdicts(newcomer, cache)
    result = Scheduler(rng=random.Random(0), explain=True).schedule(newcomer, cache)
    score_plugins: list[str] = []
    winners: list[str] = []
    if result.scores:
        score_plugins = list(next(iter(result.scores.values())))
        for row in rows:
            if row.node in result.scores:
                row.scores = result.scores[row.node]
                row.total = sum(row.scores.values())
        best = max(r.total for r in rows if r.total is not None)
        winners = [r.node for r in rows if r.total == best]
    elif result.node is not None:
        winners = [result.node]
    return Explanation(key, node_name, rows, [p.name for p in default_profile().filter_plugins], score_plugins,
                       winners, result.message)


def explain(pod: str, namespace: str = "default", source: ClusterView | None = None,
            show: bool = True) -> Explanation:
    """Explain the scheduler's choice for Pod ``pod``: print the table (``show``) and return the data."""
    if source is None:
        source = lab_session.require().view
    found = source.get("pods", pod, namespace)
    if found is None:
        raise LabError(f'pods "{pod}" not found in namespace {namespace}')
    storage = None
    if any("persistentVolumeClaim" in v or "ephemeral" in v for v in (found.get("spec") or {}).get("volumes") or []):
        storage = (source.list("persistentvolumeclaims", namespace), source.list("persistentvolumes", namespace=None),
                   source.list("storageclasses", namespace=None))
    explanation = explain_objects(found, source.list("nodes", namespace=None), source.list("pods", namespace=None),
                                  storage)
    if show:
        print(explanation.table())
    return explanation


__all__ = ["OK", "Explanation", "NodeVerdict", "explain", "explain_objects"]

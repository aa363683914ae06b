"""The DaemonSet controller: one pod on every (eligible) node.

Log shippers, node exporters, network and storage plugins must run once per
machine. A DaemonSet says so: for every node that passes the pod template's
``nodeSelector``, required node affinity and taints, the controller keeps exactly
one pod there. A node that joins gets a pod; a node that leaves (or stops
matching) loses it.

Daemon pods are placed by the default scheduler, as upstream does since 1.12:
each pod is created with a required node affinity naming its node
(``matchFields: [{key: metadata.name, operator: In, values: [node-2]}]``), so
the scheduler has exactly one choice. They also get tolerations no ordinary pod
has (``node.kubernetes.io/not-ready``, ``unreachable`` — NoExecute, forever —
and ``disk-pressure``, ``memory-pressure``, ``pid-pressure``, ``unschedulable`` —
NoSchedule): a daemon belongs to its node even when the node is unwell or cordoned.

Updates (``updateStrategy``):
    * ``RollingUpdate`` (default ``maxUnavailable: 1``, ``maxSurge: 0``): replace old
      pods node by node, never leaving more than ``maxUnavailable`` nodes without an
      available daemon; with ``maxSurge`` the new pod starts next to the old one, which
      is deleted once the new one is available;
    * ``OnDelete``: a new pod gets the new template only after you delete the old one.

Each pod carries ``controller-revision-hash`` (the template's hash) and
``pod-template-generation``; the templates are kept as ControllerRevisions
(:mod:`minik8s.controllers.history`) for ``kubectl rollout history/undo``.

Interface:
    daemon_tolerations(tolerations, host_network) -> tolerations   # AddOrUpdateDaemonPodTolerations
    node_should_run(node, ds) -> (should_run, should_continue_running)
    manage(ds, nodes, node_pods) -> (nodes to create on, pods to delete)   # pure
    rolling_update(ds, nodes, node_pods, hash, now) -> (nodes to create on, pods to delete)   # pure
    compute_status(ds, nodes, node_pods, hash, now) -> status
    DaemonSetController(ctx)                                       # name "daemonset-controller"

Events (as upstream's pod control): ``SuccessfulCreate`` ``Created pod: fluentd-x7k2p``,
``SuccessfulDelete`` ``Deleted pod: fluentd-x7k2p``, and ``FailedDaemonPod``
``Found failed daemon pod default/fluentd-x7k2p on node node-1, will try to kill it``.

How minik8s differs: upstream backs off before replacing a daemon pod that keeps
failing on the same node; minik8s replaces it at once. Nodes are visited in name
order (upstream: lister order) so runs are deterministic.

Taught in chapter 10 (DaemonSets).
"""

from __future__ import annotations

import math
from typing import Any, Hashable

from minik8s.api.objects import deep_copy
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.api.selectors import from_label_selector
from minik8s.controllers import history
from minik8s.controllers.controller import Context, Controller, object_key
from minik8s.controllers.podcontrol import (PodControl, controller_of, is_pod_available, is_pod_ready,
                                            pod_ready_since)

DAEMONSETS = resources.get("apps", "v1", "daemonsets")
PODS = resources.get("", "v1", "pods")
NODES = resources.get("", "v1", "nodes")
assert DAEMONSETS is not None and PODS is not None and NODES is not None
REVISIONS = history.REVISIONS

Obj = dict[str, Any]

HASH_LABEL = "controller-revision-hash"
GENERATION_LABEL = "pod-template-generation"

# The tolerations every daemon pod gets (upstream's AddOrUpdateDaemonPodTolerations).
_NO_EXECUTE = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_NO_SCHEDULE = ("node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure",
                "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable")
_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"


# --- pod template -------------------------------------------------------------------------


def daemon_tolerations(tolerations: list[Obj] | None, host_network: bool = False) -> list[Obj]:
    """The template's tolerations plus the daemon ones (an existing toleration for the same key and
    effect is replaced, as upstream's ``AddOrUpdateTolerationInPodSpec``)."""
    result = [dict(t) for t in tolerations or []]
    wanted = [(key, "NoExecute") for key in _NO_EXECUTE] + [(key, "NoSchedule") for key in _NO_SCHEDULE]
    if host_network:
        wanted.append((_NETWORK_UNAVAILABLE, "NoSchedule"))
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        result = [t for t in result if not (t.get("key") == key and t.get("effect") == effect)] + [toleration]
    return result


def pod_template(ds: Obj, hash_: str) -> Obj:
    """The template daemon pods are made from: labelled with the revision and generation, tolerant."""
    template = deep_copy(ds["spec"]["template"])
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels[HASH_LABEL] = hash_
    labels[GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
    spec = template.setdefault("spec", {})
    spec["tolerations"] = daemon_tolerations(spec.get("tolerations"), bool(spec.get("hostNetwork")))
    return template


def for_node(template: Obj, node_name: str) -> Obj:
    """Pin a template to one node with a required node affinity (``ReplaceDaemonSetPodNodeNameNodeAffinity``)."""
    template = deep_copy(template)
    affinity = template["spec"].setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}
    return template


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: its ``nodeName``, or the node its affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    terms = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
              .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or [])
    for term in terms:
        for field in term.get("matchFields") or []:
            values = field.get("values") or []
            if field.get("key") == "metadata.name" and field.get("operator") == "In" and len(values) == 1:
                return str(values[0])
    return ""


# --- which nodes --------------------------------------------------------------------------


def _requirement_holds(req: Obj, value: str | None) -> bool:
    """One node selector requirement against one value (a label, or the node's name)."""
    op, values = req.get("operator", ""), [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            return int(value) > int(values[0]) if op == "Gt" else int(value) < int(values[0])
        except ValueError:
            return False
    return False


def _term_matches(term: Obj, labels: dict[str, str], name: str) -> bool:
    """A NodeSelectorTerm: every expression and field holds; an empty term matches nothing.
    (Written here rather than shared with the scheduler: components share only the API.)"""
    expressions, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not expressions and not fields:
        return False
    if any(f.get("key") != "metadata.name" for f in fields):
        return False
    return (all(_requirement_holds(e, labels.get(e.get("key", ""))) for e in expressions)
            and all(_requirement_holds(f, name) for f in fields))


def _tolerated(taint: Obj, tolerations: list[Obj]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("key") and t.get("key") != taint.get("key"):
            continue
        if t.get("operator", "Equal") == "Exists" or (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def node_should_run(node: Obj, ds: Obj) -> tuple[bool, bool]:
    """(should run, should continue running) — upstream's ``NodeShouldRunDaemonPod``.

    A node must match the template's ``nodeName``, ``nodeSelector`` and required node affinity,
    and its NoSchedule/NoExecute taints must be tolerated; a pod already there keeps running
    as long as the NoExecute taints are tolerated."""
    spec = (ds["spec"].get("template") or {}).get("spec") or {}
    name = node["metadata"]["name"]
    labels = node["metadata"].get("labels") or {}
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False, False
    required = ((((spec.get("affinity") or {}).get("nodeAffinity") or {})
                 .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms"))
    if required is not None and not any(_term_matches(t, labels, name) for t in required):
        return False, False
    tolerations = daemon_tolerations(spec.get("tolerations"), bool(spec.get("hostNetwork")))
    taints = (node.get("spec") or {}).get("taints") or []
    untolerated = [t for t in taints
                   if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(t, tolerations)]
    if any(t.get("effect") == "NoExecute" for t in untolerated):
        return False, False
    return not untolerated, True


# --- the decisions ------------------------------------------------------------------------


def _age(pod: Obj) -> tuple[str, str]:
    return ((pod.get("metadata") or {}).get("creationTimestamp") or "", pod["metadata"]["name"])


def _terminating(pod: Obj) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def is_updated(pod: Obj, hash_: str) -> bool:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) == hash_


def manage(ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]],
           hash_: str = "") -> tuple[list[str], list[tuple[Obj, str]]]:
    """Nodes needing a pod, and pods to delete with why ("failed", "excess", "misscheduled")
    — upstream's ``podsShouldBeOnNode`` for every node. Pods on nodes that no longer exist
    are deleted too."""
    create: list[str] = []
    delete: list[tuple[Obj, str]] = []
    surge = _max_surge(ds, len(nodes)) > 0
    known = {n["metadata"]["name"] for n in nodes}
    for node in nodes:
        name = node["metadata"]["name"]
        pods = node_pods.get(name, [])
        should_run, should_continue = node_should_run(node, ds)
        if should_run and not pods:
            create.append(name)
        elif should_continue:
            running = []
            for pod in sorted(pods, key=_age):
                if _terminating(pod):
                    continue
                if (pod.get("status") or {}).get("phase") == "Failed":
                    delete.append((pod, "failed"))
                    continue
                running.append(pod)
            delete += [(pod, "excess") for pod in _excess(running, hash_, surge)]
        elif pods:
            delete += [(pod, "misscheduled") for pod in pods if not _terminating(pod)]
    for name, pods in sorted(node_pods.items()):
        if name and name not in known:
            delete += [(pod, "misscheduled") for pod in pods if not _terminating(pod)]
    return create, delete


def _excess(running: list[Obj], hash_: str, surge: bool) -> list[Obj]:
    """Keep the oldest pod; with maxSurge, keep the oldest old and the oldest new one."""
    if len(running) <= 1:
        return []
    if not surge:
        return running[1:]
    old = [p for p in running if not is_updated(p, hash_)]
    new = [p for p in running if is_updated(p, hash_)]
    return old[1:] + new[1:]


def _scaled(value: Any, total: int, round_up: bool) -> int:
    """An int-or-percent of ``total`` (upstream's ``GetScaledValueFromIntOrPercent``)."""
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def _rolling(ds: Obj) -> Obj:
    return ((ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {})


def _max_surge(ds: Obj, desired: int) -> int:
    return _scaled(_rolling(ds).get("maxSurge", 0), desired, round_up=True)


def _max_unavailable(ds: Obj, desired: int) -> int:
    value = _scaled(_rolling(ds).get("maxUnavailable", 1), desired, round_up=True)
    surge = _max_surge(ds, desired)
    # Upstream: both zero is invalid; if both resolve to 0, allow one unavailable.
    return 1 if value == 0 and surge == 0 else value


def _old_and_new(pods: list[Obj], hash_: str) -> tuple[Obj | None, Obj | None, bool]:
    """``findUpdatedPodsOnNode``: at most one old and one new live pod, else not ok."""
    new = old = None
    for pod in pods:
        if _terminating(pod):
            continue
        if is_updated(pod, hash_):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_update(ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], hash_: str,
                   now: float) -> tuple[list[str], list[Obj]]:
    """Which nodes get a new pod and which old pods go, within maxUnavailable/maxSurge (upstream's
    ``rollingUpdate``)."""
    eligible = {n["metadata"]["name"]: n for n in nodes}
    desired = sum(1 for n in nodes if node_should_run(n, ds)[0])
    min_ready = float(ds["spec"].get("minReadySeconds") or 0)
    max_surge, max_unavailable = _max_surge(ds, desired), _max_unavailable(ds, desired)

    def available(pod: Obj) -> bool:
        return is_pod_available(pod, min_ready, now)

    if max_surge == 0:
        return [], _delete_first(node_pods, hash_, max_unavailable, available)
    return _surge_first(ds, eligible, node_pods, hash_, max_surge, desired, available)


def _delete_first(node_pods: dict[str, list[Obj]], hash_: str, max_unavailable: int,
                  available: Any) -> list[Obj]:
    unavailable = 0
    replace: list[Obj] = []
    candidates: list[Obj] = []
    for name in sorted(node_pods):
        new, old, ok = _old_and_new(node_pods[name], hash_)
        if not ok or (new is None) == (old is None):
            unavailable += 1  # the manage loop is still creating or pruning here
        elif new is not None:
            unavailable += not available(new)
        else:
            assert old is not None
            if not available(old):
                replace.append(old)  # already down: replacing it costs nothing
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old)
    room = max(max_unavailable - unavailable, 0)
    return replace + candidates[:room]


def _surge_first(ds: Obj, nodes: dict[str, Obj], node_pods: dict[str, list[Obj]], hash_: str, max_surge: int,
                 desired: int, available: Any) -> tuple[list[str], list[Obj]]:
    delete: list[Obj] = []
    not_wanted: list[Obj] = []
    candidates: list[str] = []
    allowed: list[str] = []
    surging = available_count = 0
    for name in sorted(node_pods):
        new, old, ok = _old_and_new(node_pods[name], hash_)
        if not ok:
            surging += 1
            continue
        counted = old if old is not None else new
        available_count += counted is not None and available(counted)
        node = nodes.get(name)
        should_run = node is not None and node_should_run(node, ds)[0]
        if old is None:
            continue
        if new is None:
            if not available(old):
                (allowed.append(name) if should_run else delete.append(old))
            elif not should_run:
                not_wanted.append(old)
            elif surging < max_surge:
                candidates.append(name)
        elif not available(new):
            surging += 1
        else:
            delete.append(old)  # the new pod is up: the old one can go
    # Pods on nodes that no longer qualify go only once enough others are available.
    delete += not_wanted[:max(available_count - desired, 0)]
    room = min(max(max_surge - surging, 0), len(candidates))
    return allowed + candidates[:room], delete


def compute_status(ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], hash_: str, now: float) -> Obj:
    """upstream's ``updateDaemonSetStatus``: counts over nodes, looking at each node's oldest pod."""
    min_ready = float(ds["spec"].get("minReadySeconds") or 0)
    status: Obj = {"desiredNumberScheduled": 0, "currentNumberScheduled": 0, "numberMisscheduled": 0,
                   "numberReady": 0, "numberAvailable": 0, "updatedNumberScheduled": 0,
                   "observedGeneration": ds["metadata"].get("generation", 0)}
    for node in nodes:
        pods = sorted(node_pods.get(node["metadata"]["name"], []), key=_age)
        if not node_should_run(node, ds)[0]:
            status["numberMisscheduled"] += bool(pods)
            continue
        status["desiredNumberScheduled"] += 1
        if not pods:
            continue
        status["currentNumberScheduled"] += 1
        pod = pods[0]
        if is_pod_ready(pod):
            status["numberReady"] += 1
            status["numberAvailable"] += is_pod_available(pod, min_ready, now)
        status["updatedNumberScheduled"] += is_updated(pod, hash_)
    unavailable = status["desiredNumberScheduled"] - status["numberAvailable"]
    if unavailable > 0:
        status["numberUnavailable"] = unavailable
    return status


# --- the controller -----------------------------------------------------------------------


class DaemonSetController(Controller):
    name = "daemonset-controller"
    watches = (DAEMONSETS, PODS, NODES, REVISIONS)

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.pods = PodControl(ctx.client, ctx.recorder, component=self.name)

    def keys_for(self, resource: Resource, obj: Obj, old: Obj | None) -> list[Hashable]:
        if resource is DAEMONSETS:
            return [object_key(obj)]
        if resource is NODES:
            return [object_key(ds) for ds in self.informer(DAEMONSETS).list()]
        ref = controller_of(obj)
        if ref is not None:
            return [(obj["metadata"].get("namespace", ""), ref["name"])] if ref.get("kind") == "DaemonSet" else []
        if resource is PODS:  # an orphan: any daemon set in its namespace may adopt it
            return [object_key(ds) for ds in self.informer(DAEMONSETS).list(obj["metadata"].get("namespace"))]
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        ds = self.informer(DAEMONSETS).get(namespace, name)
        if ds is None:
            return
        nodes = sorted(self.informer(NODES).list(), key=lambda n: n["metadata"]["name"])
        pods = self.pods.claim_pods(ds, from_label_selector(ds["spec"].get("selector")),
                                    self.informer(PODS).list(namespace))
        node_pods: dict[str, list[Obj]] = {}
        for pod in pods:
            node_pods.setdefault(target_node(pod), []).append(pod)
        current, old_revisions, hash_ = self._history(ds)
        now = self.clock.now()
        if not ds["metadata"].get("deletionTimestamp"):
            changed = self._manage(ds, nodes, node_pods, hash_)
            strategy = (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
            if not changed and strategy == "RollingUpdate":
                create, delete = rolling_update(ds, nodes, node_pods, hash_, now)
                self._sync_nodes(ds, create, [(p, "update") for p in delete], hash_)
        self._write_status(ds, compute_status(ds, nodes, node_pods, hash_, now))
        live = {p["metadata"].get("labels", {}).get(HASH_LABEL) for p in pods}
        live_names = {r["metadata"]["name"] for r in old_revisions
                      if r["metadata"].get("labels", {}).get(HASH_LABEL) in live}
        history.truncate_history(self.client, old_revisions, live_names | {current["metadata"]["name"]},
                                 int(ds["spec"].get("revisionHistoryLimit", 10)))
        self._requeue_for_availability(key, ds, pods, now)

    def _history(self, ds: Obj) -> tuple[Obj, list[Obj], str]:
        """The current revision (made if missing), the older ones, and the template hash."""
        revisions = history.owned_revisions(self.informer(REVISIONS).list(ds["metadata"].get("namespace")), ds)
        count = int((ds.get("status") or {}).get("collisionCount") or 0)
        template = ds["spec"]["template"]
        hash_ = history.template_hash(template, count)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH_LABEL: hash_}
        current, count = history.sync_revisions(self.client, ds, revisions, labels=labels, collision_count=count,
                                                hash_for=lambda c: history.template_hash(template, c),
                                                hash_label=False)
        hash_ = current["metadata"].get("labels", {}).get(HASH_LABEL, hash_)
        old = [r for r in revisions if r["metadata"]["name"] != current["metadata"]["name"]]
        return current, old, hash_

    def _manage(self, ds: Obj, nodes: list[Obj], node_pods: dict[str, list[Obj]], hash_: str) -> bool:
        create, delete = manage(ds, nodes, node_pods, hash_)
        self._sync_nodes(ds, create, delete, hash_)
        return bool(create or delete)

    def _sync_nodes(self, ds: Obj, create: list[str], delete: list[tuple[Obj, str]], hash_: str) -> None:
        template = pod_template(ds, hash_)
        for pod, reason in delete:
            if reason == "failed":
                meta = pod["metadata"]
                self.ctx.recorder.event(ds, "Warning", "FailedDaemonPod",
                                        f"Found failed daemon pod {meta.get('namespace')}/{meta['name']} on node "
                                        f"{target_node(pod)}, will try to kill it", component=self.name)
            self.pods.delete_pod(ds, pod)
        for node in create:
            self.pods.create_pod(ds, for_node(template, node), generate_name=f"{ds['metadata']['name']}-")

    def _write_status(self, ds: Obj, status: Obj) -> None:
        old = ds.get("status") or {}
        if all(old.get(k) == v for k, v in status.items()) and ("numberUnavailable" in status) == (
                "numberUnavailable" in old):
            return
        new = deep_copy(ds)
        keep = {k: v for k, v in old.items() if k in ("collisionCount", "conditions")}
        new["status"] = {**keep, **status}
        try:
            self.client.update(DAEMONSETS, new, ds["metadata"].get("namespace"), subresource="status")
        except StatusError as err:
            if err.code != 404:
                raise

    def _requeue_for_availability(self, key: Hashable, ds: Obj, pods: list[Obj], now: float) -> None:
        min_ready = float(ds["spec"].get("minReadySeconds") or 0)
        if min_ready <= 0:
            return
        waits = [since + min_ready - now for since in (pod_ready_since(p) for p in pods) if since is not None]
        pending = [w for w in waits if w > 0]
        if pending:
            self.requeue_after(key, min(pending))

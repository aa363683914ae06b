"""The ClusterRole aggregation controller: fill an aggregated ClusterRole's rules from the roles it selects.

A ClusterRole with an ``aggregationRule`` owns no rules of its own: its
``clusterRoleSelectors`` (label selectors) pick other ClusterRoles, and this
controller keeps its ``rules`` equal to the union of theirs. That is how the
bootstrap ``admin``, ``edit`` and ``view`` roles grow when an extension ships a
ClusterRole labelled ``rbac.authorization.k8s.io/aggregate-to-view: "true"``.

Interface: ``ClusterRoleAggregationController(ctx)``; the decision is the pure
function :func:`minik8s.api.aggregation.aggregated_rules` (the rules of
the selected roles, in name order, each rule once).

Invariants: a change to *any* ClusterRole re-examines every aggregated one (a
label added to a role can make it selected); a role whose rules already match is
not written (no update loop); the write carries the read ``resourceVersion``, so a
concurrent change makes it retry on fresh state rather than overwrite it.

Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from typing import Any, Hashable

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.aggregation import aggregated_rules
from minik8s.controllers.controller import Controller

CLUSTER_ROLES = resources.get("rbac.authorization.k8s.io", "v1", "clusterroles")


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation-controller"
    watches = (CLUSTER_ROLES,)

    def keys_for(self, resource: Any, obj: dict[str, Any], old: dict[str, Any] | None) -> list[Hashable]:
        # Any ClusterRole change may add or remove a selected role: look at every aggregated one.
        return [("", role["metadata"]["name"]) for role in self.informer(CLUSTER_ROLES).list()
                if role.get("aggregationRule")]

    def reconcile(self, key: Any) -> None:
        _, name = key
        role = self.informer(CLUSTER_ROLES).get(None, name)
        if role is None or not role.get("aggregationRule"):
            return
        wanted = aggregated_rules(role, self.informer(CLUSTER_ROLES).list())
        if (role.get("rules") or []) == wanted:
            return
        try:
            # Copy, change, write back with the read resourceVersion (never mutate a cached object).
            self.client.update(CLUSTER_ROLES, {**role, "rules": wanted})
        except StatusError as err:
            if err.code == 404:
                return
            raise   # 409: the controller loop retries with back-off, on the informer's fresher copy

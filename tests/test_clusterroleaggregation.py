"""The ClusterRole aggregation controller, driven through an in-process cluster and kubectl."""

from __future__ import annotations

import pytest
import yaml

from minik8s import Cluster
from minik8s.apiserver.auth.authentication import User
from minik8s.api.aggregation import aggregated_rules
from minik8s.apiserver.auth.requestinfo import RequestInfo

GROUP = "rbac.authorization.k8s.io"

CRON_VIEWER = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: crontabs-view
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
rules:
- apiGroups: ["stable.example.com"]
  resources: ["crontabs"]
  verbs: ["get", "list", "watch"]
"""

CRON_RULE = {"apiGroups": ["stable.example.com"], "resources": ["crontabs"], "verbs": ["get", "list", "watch"]}


@pytest.fixture
def cluster():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        c.run_until_stable()
        yield c


def rules_of(cluster: Cluster, name: str) -> list[dict]:
    return yaml.safe_load(cluster.kubectl(f"get clusterrole {name} -o yaml")).get("rules") or []


def test_aggregated_rules_pure_function_takes_selected_roles_in_name_order_once():
    def role(name, labels, rules):
        return {"metadata": {"name": name, "labels": labels}, "rules": rules}
    target = {"metadata": {"name": "t"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "1"}}]}}
    a = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    b = {"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}
    roles = [role("z", {"x": "1"}, [a]), role("m", {"x": "1"}, [b, a]), role("n", {"x": "2"}, [CRON_RULE]), target]
    assert aggregated_rules(target, roles) == [b, a]


def test_a_labelled_role_joins_view_and_edit_and_admin_and_leaves_again(cluster):
    assert CRON_RULE not in rules_of(cluster, "view")
    cluster.apply(CRON_VIEWER)
    cluster.run_until_stable()
    # view is itself labelled aggregate-to-edit and edit aggregate-to-admin (as upstream): the rule flows on
    for aggregate in ("view", "edit", "admin"):
        assert CRON_RULE in rules_of(cluster, aggregate), aggregate
    assert CRON_RULE not in rules_of(cluster, "cluster-admin")
    # the new rule is effective for RBAC at once
    cluster.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: v, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
""")
    alice = User("alice", groups=("system:authenticated",))
    crontabs = RequestInfo("", "list", True, "stable.example.com", "v1", "default", "crontabs")
    assert cluster.api.authorizer.decide(alice, crontabs)[0]
    # removing the label takes the rule out again
    cluster.kubectl("label clusterrole crontabs-view rbac.authorization.k8s.io/aggregate-to-view-")
    cluster.run_until_stable()
    for aggregate in ("view", "edit", "admin"):
        assert CRON_RULE not in rules_of(cluster, aggregate), aggregate
    assert not cluster.api.authorizer.decide(alice, crontabs)[0]


def test_a_hand_edit_of_an_aggregated_role_is_reverted(cluster):
    before = rules_of(cluster, "view")
    cluster.kubectl("patch clusterrole view --type merge -p "
                    "'{\"rules\":[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]}]}'")
    cluster.run_until_stable()
    assert rules_of(cluster, "view") == before


def test_a_new_aggregated_role_is_filled_from_existing_ones(cluster):
    cluster.apply(CRON_VIEWER.replace("aggregate-to-view", "team"))
    cluster.apply("""
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: team-reader}
aggregationRule:
  clusterRoleSelectors:
  - matchLabels: {rbac.authorization.k8s.io/team: "true"}
""")
    cluster.run_until_stable()
    assert rules_of(cluster, "team-reader") == [CRON_RULE]

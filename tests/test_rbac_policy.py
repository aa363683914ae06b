"""RBAC policy: rule matching, bindings, the decision cache, escalation prevention, bootstrap policy, reviews
(written by the second rbac session; tests/test_rbac.py covers the same ground through clients and HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.context import acting_as
from minik8s.apiserver.auth.rbac import rule_allows
from minik8s.apiserver.auth.requestinfo import RequestInfo, request_info

GROUP = "rbac.authorization.k8s.io"
ALICE = User("alice", groups=("system:authenticated",))


def rbac(plural: str) -> resources.Resource:
    return resources.get(GROUP, "v1", plural)


def res(verb: str, resource: str, namespace: str = "", name: str = "", group: str = "",
        subresource: str = "") -> RequestInfo:
    return RequestInfo("", verb, True, group, "v1", namespace, resource, subresource, name)


@pytest.fixture
def api() -> APIServer:
    server = APIServer()
    for ns in ("dev", "prod"):
        server.create(resources.get("", "v1", "namespaces"), None,
                      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    return server


def role(name: str, rules: list[dict[str, Any]], namespace: str | None = "dev") -> dict[str, Any]:
    kind = "Role" if namespace else "ClusterRole"
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": meta, "rules": rules}


def binding(name: str, ref_kind: str, ref_name: str, subjects: list[dict[str, Any]],
            namespace: str | None = "dev") -> dict[str, Any]:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    meta: dict[str, Any] = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": f"{GROUP}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": GROUP, "kind": ref_kind, "name": ref_name}, "subjects": subjects}


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": GROUP}


def allowed(api: APIServer, who: User, info: RequestInfo) -> bool:
    return bool(api.authorizer.decide(who, info)[0])


# --- rule matching -------------------------------------------------------------------------

def test_rule_matches_verbs_groups_resources_and_wildcards():
    rule = {"apiGroups": ["", "apps"], "resources": ["pods", "deployments"], "verbs": ["get", "list"]}
    assert rule_allows(rule, res("get", "pods", "dev"))
    assert rule_allows(rule, res("list", "deployments", group="apps"))
    assert not rule_allows(rule, res("delete", "pods", "dev"))
    assert not rule_allows(rule, res("get", "jobs", group="batch"))
    assert rule_allows({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, res("escalate", "roles", group=GROUP))


def test_subresources_need_their_own_rule_or_a_wildcard():
    pods = {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]}
    assert not rule_allows(pods, res("create", "pods", "dev", "p", subresource="exec"))
    assert rule_allows({**pods, "resources": ["pods/exec"]}, res("create", "pods", "dev", "p", subresource="exec"))
    assert rule_allows({**pods, "resources": ["pods/*"]}, res("get", "pods", "dev", "p", subresource="log"))
    assert rule_allows({**pods, "resources": ["*/scale"]}, res("get", "deployments", "dev", "d", subresource="scale"))
    assert not rule_allows({**pods, "resources": ["pods/log"]}, res("get", "pods", "dev", "p"))


def test_resource_names_limit_a_rule_to_named_objects():
    rule = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["app"], "verbs": ["get", "list"]}
    assert rule_allows(rule, res("get", "configmaps", "dev", "app"))
    assert not rule_allows(rule, res("get", "configmaps", "dev", "other"))
    assert not rule_allows(rule, res("list", "configmaps", "dev"))   # a list names no object


def test_non_resource_urls_with_trailing_star():
    rule = {"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]}
    assert rule_allows(rule, RequestInfo("/healthz", "get"))
    assert rule_allows(rule, RequestInfo("/apis/apps/v1", "get"))
    assert not rule_allows(rule, RequestInfo("/healthz/ping", "get"))
    assert not rule_allows(rule, RequestInfo("/healthz", "post"))
    assert not rule_allows(rule, res("get", "pods", "dev"))   # a URL rule grants no resource


# --- bindings and subjects -----------------------------------------------------------------

def test_rolebinding_grants_only_in_its_namespace_with_upstream_reason(api):
    api.create(rbac("rolebindings"), "dev", binding("alice-view", "ClusterRole", "view", [user("alice")]))
    allowed_, reason = api.authorizer.decide(ALICE, res("list", "pods", "dev"))
    assert allowed_ and reason == 'RBAC: allowed by RoleBinding "alice-view/dev" of ClusterRole "view" to User "alice"'
    assert not allowed(api, ALICE, res("list", "pods", "prod"))
    assert not allowed(api, ALICE, res("delete", "pods", "dev", "p"))
    with pytest.raises(StatusError) as err:
        api.authorizer.authorize(ALICE, res("list", "pods", "prod"))
    assert err.value.code == 403
    assert str(err.value) == ('pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
                              'in the namespace "prod"')


def test_clusterrolebinding_grants_everywhere(api):
    api.create(rbac("clusterrolebindings"), None,
               binding("alice-edit", "ClusterRole", "edit", [user("alice")], namespace=None))
    assert allowed(api, ALICE, res("delete", "pods", "prod", "p"))
    assert allowed(api, ALICE, res("create", "deployments", "dev", group="apps"))
    assert not allowed(api, ALICE, res("create", "roles", "dev", group=GROUP))   # edit cannot grant


def test_service_account_and_group_subjects(api):
    sa = User("system:serviceaccount:dev:reader",
              groups=("system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated"))
    api.create(rbac("roles"), "dev", role("pod-reader", [{"apiGroups": [""], "resources": ["pods"],
                                                          "verbs": ["get", "list"]}]))
    api.create(rbac("rolebindings"), "dev", binding("sa", "Role", "pod-reader",
                                                    [{"kind": "ServiceAccount", "name": "reader"}]))
    assert allowed(api, sa, res("get", "pods", "dev", "p"))
    other = User("system:serviceaccount:prod:reader", groups=("system:serviceaccounts", "system:authenticated"))
    assert not allowed(api, other, res("get", "pods", "dev", "p"))
    api.create(rbac("rolebindings"), "dev", binding("all-sas", "Role", "pod-reader",
                                                    [{"kind": "Group", "name": "system:serviceaccounts",
                                                      "apiGroup": GROUP}]))
    assert allowed(api, other, res("get", "pods", "dev", "p"))


def test_binding_to_a_missing_role_is_stored_and_grants_nothing(api):
    api.create(rbac("rolebindings"), "dev", binding("dangling", "Role", "nope", [user("alice")]))
    assert api.get(rbac("rolebindings"), "dev", "dangling")["roleRef"]["name"] == "nope"
    assert not allowed(api, ALICE, res("get", "pods", "dev", "p"))
    api.create(rbac("roles"), "dev", role("nope", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))
    assert allowed(api, ALICE, res("get", "pods", "dev", "p"))   # the role appears: the binding now grants


def test_system_masters_is_always_allowed(api):
    root = User("root", groups=("system:masters",))
    assert allowed(api, root, res("escalate", "clusterroles", group=GROUP))
    assert allowed(api, root, RequestInfo("/anything", "post"))


def test_anonymous_reads_public_info_but_not_discovery_or_resources(api):
    anon = User("system:anonymous", groups=("system:unauthenticated",))
    assert allowed(api, anon, RequestInfo("/version", "get"))
    assert allowed(api, anon, RequestInfo("/healthz", "get"))
    assert not allowed(api, anon, RequestInfo("/api", "get"))   # discovery is for system:authenticated
    assert allowed(api, ALICE, RequestInfo("/api", "get"))
    assert allowed(api, ALICE, RequestInfo("/apis/apps/v1", "get"))
    assert not allowed(api, anon, request_info("GET", "/api/v1/namespaces/dev/pods", {}))


def test_basic_user_may_ask_self_subject_reviews(api):
    assert allowed(api, ALICE, res("create", "selfsubjectaccessreviews", group="authorization.k8s.io"))
    assert allowed(api, ALICE, res("create", "selfsubjectrulesreviews", group="authorization.k8s.io"))
    assert not allowed(api, ALICE, res("create", "subjectaccessreviews", group="authorization.k8s.io"))


# --- the decision cache --------------------------------------------------------------------

def test_cache_is_invalidated_when_a_binding_is_deleted(api):
    api.create(rbac("rolebindings"), "dev", binding("alice-view", "ClusterRole", "view", [user("alice")]))
    question = res("get", "pods", "dev", "p")
    assert allowed(api, ALICE, question)
    hits = api.rbac.cache_hits
    assert allowed(api, ALICE, question)
    assert api.rbac.cache_hits == hits + 1   # the second answer came from the cache
    api.delete(rbac("rolebindings"), "dev", "alice-view")
    assert not allowed(api, ALICE, question)


def test_cache_is_invalidated_when_a_role_loses_a_rule(api):
    api.create(rbac("roles"), "dev", role("r", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]))
    api.create(rbac("rolebindings"), "dev", binding("b", "Role", "r", [user("alice")]))
    assert allowed(api, ALICE, res("get", "pods", "dev", "p"))
    current = api.get(rbac("roles"), "dev", "r")
    api.update(rbac("roles"), "dev", "r", {**current, "rules": [{"apiGroups": [""], "resources": ["services"],
                                                                 "verbs": ["get"]}]})
    assert not allowed(api, ALICE, res("get", "pods", "dev", "p"))
    assert allowed(api, ALICE, res("get", "services", "dev", "s"))


# --- escalation prevention -----------------------------------------------------------------

def test_creating_a_role_with_permissions_not_held_is_refused(api):
    api.create(rbac("rolebindings"), "dev", binding("alice-admin", "ClusterRole", "admin", [user("alice")]))
    with acting_as(ALICE):
        # admin may create roles in dev, with what admin holds...
        api.create(rbac("roles"), "dev", role("ok", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}]))
        # ...but not rules admin lacks (nodes are cluster-scoped: admin has none)
        with pytest.raises(StatusError) as err:
            api.create(rbac("roles"), "dev", role("too-much", [{"apiGroups": [""], "resources": ["nodes"],
                                                                "verbs": ["delete", "get"]}]))
    assert err.value.code == 403
    assert str(err.value) == (
        'roles.rbac.authorization.k8s.io "too-much" is forbidden: user "alice" (groups=["system:authenticated"]) '
        'is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["nodes"], Verbs:["delete" "get"]}')
    with pytest.raises(StatusError):
        api.get(rbac("roles"), "dev", "too-much")   # nothing stored


def test_binding_a_role_needs_its_permissions_or_bind(api):
    api.create(rbac("rolebindings"), "dev", binding("alice-rb", "ClusterRole", "view", [user("alice")]))
    api.create(rbac("roles"), "dev", role("bind-edit", [{"apiGroups": [GROUP], "resources": ["rolebindings"],
                                                         "verbs": ["create"]}]))
    api.create(rbac("rolebindings"), "dev", binding("alice-bind", "Role", "bind-edit", [user("alice")]))
    with acting_as(ALICE):
        with pytest.raises(StatusError) as err:
            api.create(rbac("rolebindings"), "dev", binding("bob-edit", "ClusterRole", "edit", [user("bob")]))
        assert err.value.code == 403 and "attempting to grant RBAC permissions not currently held" in str(err.value)
        # view's permissions alice holds herself: she may hand them on
        api.create(rbac("rolebindings"), "dev", binding("bob-view", "ClusterRole", "view", [user("bob")]))
    # with 'bind' on clusterroles/edit she may bind edit without holding it
    api.create(rbac("roles"), "dev", role("may-bind", [{"apiGroups": [GROUP], "resources": ["clusterroles"],
                                                        "verbs": ["bind"], "resourceNames": ["edit"]}]))
    api.create(rbac("rolebindings"), "dev", binding("alice-may-bind", "Role", "may-bind", [user("alice")]))
    with acting_as(ALICE):
        api.create(rbac("rolebindings"), "dev", binding("bob-edit", "ClusterRole", "edit", [user("bob")]))


def test_escalate_verb_lets_a_user_write_any_role(api):
    api.create(rbac("roles"), "dev", role("writer", [{"apiGroups": [GROUP], "resources": ["roles"],
                                                      "verbs": ["create", "escalate"]}]))
    api.create(rbac("rolebindings"), "dev", binding("w", "Role", "writer", [user("alice")]))
    with acting_as(ALICE):
        api.create(rbac("roles"), "dev", role("big", [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]))


# --- bootstrap policy ----------------------------------------------------------------------

def test_bootstrap_roles_are_labelled_and_aggregated(api):
    cluster_roles = {r["metadata"]["name"]: r for r in api.store.list(f"clusterroles.{GROUP}")[0]}
    for name in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:node", "system:kube-scheduler"):
        assert cluster_roles[name]["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert cluster_roles[name]["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert cluster_roles["view"]["aggregationRule"]["clusterRoleSelectors"] == [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
    assert cluster_roles["view"]["rules"], "aggregated rules are filled in at start"
    bindings = {b["metadata"]["name"]: b for b in api.store.list(f"clusterrolebindings.{GROUP}")[0]}
    assert bindings["cluster-admin"]["subjects"] == [{"apiGroup": GROUP, "kind": "Group", "name": "system:masters"}]


def test_binding_a_missing_role_without_bind_is_forbidden_in_upstreams_words():
    api = APIServer()
    with acting_as(User("alice", groups=("system:authenticated",))):
        with pytest.raises(StatusError) as err:
            api.create(resources.get(GROUP, "v1", "clusterrolebindings"), None, {
                "apiVersion": f"{GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "b"},
                "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": "nope"},
                "subjects": [{"kind": "User", "name": "bob", "apiGroup": GROUP}]})
    assert err.value.code == 403
    assert str(err.value) == ('clusterrolebindings.rbac.authorization.k8s.io "b" is forbidden: '
                              'clusterroles.rbac.authorization.k8s.io "nope" not found')


def test_rules_review_of_system_masters_lists_its_bindings_rules_as_upstream():
    from minik8s.apiserver.auth.reviews import review

    api = APIServer()
    admin = User("kubernetes-admin", groups=("system:masters", "system:authenticated"))
    answer = review(api, resources.get("authorization.k8s.io", "v1", "selfsubjectrulesreviews"), None,
                    {"spec": {"namespace": "default"}}, admin)
    resource_rules = answer["status"]["resourceRules"]
    assert resource_rules[0] == {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}   # cluster-admin
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in resource_rules  # basic-user
    assert {"verbs": ["*"], "nonResourceURLs": ["*"]} in answer["status"]["nonResourceRules"]


def test_bootstrap_policy_draws_nothing_from_the_shared_generator(monkeypatch):
    """Seeded clusters (every lab) must name pods as they did before RBAC: the ~60 bootstrap
    objects get their uids from a generator of their own."""
    import random

    from minik8s.apiserver.auth import bootstrap

    with_policy = random.Random(0)
    api = APIServer(rng=with_policy)
    assert api.store.list(f"clusterroles.{GROUP}")[0]
    monkeypatch.setattr(bootstrap, "ensure", lambda api: None)
    without_policy = random.Random(0)
    APIServer(rng=without_policy)
    assert with_policy.getstate() == without_policy.getstate()

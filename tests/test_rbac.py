"""RBAC: rule matching, bindings, the decision cache, escalation prevention, the Node authorizer,
access reviews and impersonation, driven through the API server, the in-process client and HTTP."""

from __future__ import annotations

import json

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.auth.authentication import User
from minik8s.apiserver.auth.requestinfo import request_info
from minik8s.client.local import LocalClient
from minik8s.kubectl.main import run

ROLES = resources.get("rbac.authorization.k8s.io", "v1", "roles")
CLUSTER_ROLES = resources.get("rbac.authorization.k8s.io", "v1", "clusterroles")
BINDINGS = resources.get("rbac.authorization.k8s.io", "v1", "rolebindings")
CLUSTER_BINDINGS = resources.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
PODS = resources.get("", "v1", "pods")
NAMESPACES = resources.get("", "v1", "namespaces")
SSAR = resources.get("authorization.k8s.io", "v1", "selfsubjectaccessreviews")
SAR = resources.get("authorization.k8s.io", "v1", "subjectaccessreviews")
RULES_REVIEW = resources.get("authorization.k8s.io", "v1", "selfsubjectrulesreviews")

ALICE = User("alice", groups=("system:authenticated",))


def role(name: str, *rules: dict, namespace: str = "dev") -> dict:
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role" if namespace else "ClusterRole",
            "metadata": meta, "rules": list(rules)}


def binding(name: str, role_kind: str, role_name: str, *subjects: dict, namespace: str = "dev") -> dict:
    meta = {"name": name, "namespace": namespace} if namespace else {"name": name}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding" if namespace else "ClusterRoleBinding",
            "metadata": meta, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": list(subjects)}


def user(name: str) -> dict:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


@pytest.fixture
def api():
    api = APIServer()
    api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "dev"}})
    return api


def allowed(api: APIServer, who: User, method: str, path: str, query: dict | None = None) -> bool:
    return api.authorizer.decide(who, request_info(method, path, query or {}))[0]


def test_forbidden_message_is_upstreams(api):
    with pytest.raises(StatusError) as err:
        api.authorizer.authorize(ALICE, request_info("GET", "/api/v1/namespaces/bob/pods", {}))
    assert err.value.code == 403
    assert err.value.message == ('pods is forbidden: User "alice" cannot list resource "pods" in API group "" '
                                 'in the namespace "bob"')


def test_role_binding_grants_only_in_its_namespace(api):
    api.create(ROLES, "dev", role("reader", {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}))
    api.create(BINDINGS, "dev", binding("alice-reads", "Role", "reader", user("alice")))
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods/web")
    assert not allowed(api, ALICE, "DELETE", "/api/v1/namespaces/dev/pods/web")
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/default/pods")
    assert not allowed(api, ALICE, "GET", "/api/v1/pods")          # all namespaces needs a cluster-wide grant
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods/web/log")   # a subresource is separate
    reason = api.authorizer.decide(ALICE, request_info("GET", "/api/v1/namespaces/dev/pods", {}))[1]
    assert reason == 'RBAC: allowed by RoleBinding "alice-reads/dev" of Role "reader" to User "alice"'


def test_resource_names_subresources_and_wildcards(api):
    api.create(ROLES, "dev", role("r",
                                  {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["db"], "verbs": ["get"]},
                                  {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                                  {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]},
                                  {"apiGroups": ["*"], "resources": ["jobs/*"], "verbs": ["get"]}))
    api.create(BINDINGS, "dev", binding("b", "Role", "r", user("alice")))
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/secrets/db")
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/secrets/other")
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/secrets")        # list has no name
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods/web/log")
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods/web")
    assert allowed(api, ALICE, "DELETE", "/apis/apps/v1/namespaces/dev/deployments/web")
    assert allowed(api, ALICE, "PUT", "/apis/apps/v1/namespaces/dev/deployments/web/scale")
    assert not allowed(api, ALICE, "GET", "/apis/batch/v1/namespaces/dev/cronjobs/x")
    assert allowed(api, ALICE, "GET", "/apis/batch/v1/namespaces/dev/jobs/x/status")
    assert not allowed(api, ALICE, "GET", "/apis/batch/v1/namespaces/dev/jobs/x")


def test_non_resource_urls_and_anonymous(api):
    api.create(CLUSTER_ROLES, None, role("logs", {"nonResourceURLs": ["/logs/*", "/metrics"], "verbs": ["get"]},
                                         namespace=""))
    api.create(CLUSTER_BINDINGS, None, binding("logs", "ClusterRole", "logs", user("alice"), namespace=""))
    assert allowed(api, ALICE, "GET", "/logs/kubelet.log")
    assert allowed(api, ALICE, "GET", "/metrics")
    assert not allowed(api, ALICE, "GET", "/metrics/slis")
    assert not allowed(api, ALICE, "POST", "/metrics")
    anonymous = User("system:anonymous", groups=("system:unauthenticated",))
    assert allowed(api, anonymous, "GET", "/version") and allowed(api, anonymous, "GET", "/healthz")
    assert not allowed(api, anonymous, "GET", "/api")       # discovery is for system:authenticated only
    assert allowed(api, ALICE, "GET", "/apis/apps/v1")


def test_service_account_and_group_subjects(api):
    sa = User("system:serviceaccount:dev:reader", groups=("system:serviceaccounts", "system:serviceaccounts:dev",
                                                         "system:authenticated"))
    api.create(BINDINGS, "dev", binding("sa", "ClusterRole", "view", {"kind": "ServiceAccount", "name": "reader"}))
    assert allowed(api, sa, "GET", "/api/v1/namespaces/dev/pods")   # namespace defaults to the binding's
    assert not allowed(api, sa, "GET", "/api/v1/namespaces/dev/secrets")   # view never reads secrets
    api.create(BINDINGS, "dev", binding("all-sas", "ClusterRole", "edit",
                                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                         "name": "system:serviceaccounts:dev"}))
    assert allowed(api, sa, "GET", "/api/v1/namespaces/dev/secrets")
    other = User("system:serviceaccount:prod:reader", groups=("system:serviceaccounts:prod",))
    assert not allowed(api, other, "GET", "/api/v1/namespaces/dev/pods")


def test_binding_to_a_missing_role_is_stored_and_grants_nothing_until_the_role_appears(api):
    api.create(BINDINGS, "dev", binding("early", "Role", "later", user("alice")))
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")
    api.create(ROLES, "dev", role("later", {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}))
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")


def test_cache_is_invalidated_when_a_binding_is_deleted_or_a_role_changes(api):
    api.create(ROLES, "dev", role("reader", {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}))
    api.create(BINDINGS, "dev", binding("b", "Role", "reader", user("alice")))
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")
    hits = api.rbac.cache_hits
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")
    assert api.rbac.cache_hits == hits + 1              # the second decision came from the cache
    api.delete(BINDINGS, "dev", "b")
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")
    api.create(BINDINGS, "dev", binding("b", "Role", "reader", user("alice")))
    assert allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")
    api.patch(ROLES, "dev", "reader", "merge", {"rules": [{"apiGroups": [""], "resources": ["services"],
                                                          "verbs": ["list"]}]})
    assert not allowed(api, ALICE, "GET", "/api/v1/namespaces/dev/pods")


def test_system_masters_may_do_anything(api):
    admin = User("kubernetes-admin", groups=("system:masters", "system:authenticated"))
    assert allowed(api, admin, "DELETE", "/api/v1/nodes/n1")
    assert allowed(api, admin, "GET", "/anything/at/all")


def test_bootstrap_roles_are_there_and_aggregated(api):
    names = {r["metadata"]["name"] for r in api.list(CLUSTER_ROLES, None)["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
            "system:public-info-viewer", "system:node", "system:kube-scheduler"} <= names
    admin = api.get(CLUSTER_ROLES, None, "admin")
    assert admin["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert admin["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
    view_rules = api.get(CLUSTER_ROLES, None, "view")["rules"]
    edit_rules = api.get(CLUSTER_ROLES, None, "edit")["rules"]
    assert all(rule in edit_rules for rule in view_rules)          # edit includes view
    assert all(rule in admin["rules"] for rule in edit_rules)      # admin includes edit
    crb = api.get(CLUSTER_BINDINGS, None, "cluster-admin")
    assert crb["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]


# --- escalation -------------------------------------------------------------------------------

@pytest.fixture
def dev_admin(api):
    api.create(BINDINGS, "dev", binding("alice-admin", "ClusterRole", "admin", user("alice")))
    return LocalClient(api).as_user(ALICE)


def test_creating_a_role_with_permissions_one_lacks_is_refused(api, dev_admin):
    with pytest.raises(StatusError) as err:
        dev_admin.create(ROLES, role("nodes", {"apiGroups": [""], "resources": ["nodes"], "verbs": ["delete", "get"]}),
                         "dev")
    assert err.value.code == 403
    assert err.value.message == (
        'roles.rbac.authorization.k8s.io "nodes" is forbidden: user "alice" (groups=["system:authenticated"]) '
        'is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["nodes"], Verbs:["delete" "get"]}')
    assert api.store.get(("roles.rbac.authorization.k8s.io", "dev", "nodes")) is None   # nothing stored
    # What she holds, she may hand on.
    dev_admin.create(ROLES, role("pods", {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}), "dev")


def test_binding_a_role_one_does_not_hold_is_refused_unless_bind_is_granted(api, dev_admin):
    with pytest.raises(StatusError) as err:
        dev_admin.create(BINDINGS, binding("up", "ClusterRole", "cluster-admin", user("bob")), "dev")
    assert err.value.code == 403
    assert err.value.message.startswith('rolebindings.rbac.authorization.k8s.io "up" is forbidden: user "alice" '
                                        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions '
                                        'not currently held:\n')
    dev_admin.create(BINDINGS, binding("ok", "ClusterRole", "edit", user("bob")), "dev")   # edit ⊂ admin
    api.create(CLUSTER_ROLES, None, role("binder", {"apiGroups": ["rbac.authorization.k8s.io"],
                                                    "resources": ["clusterroles"], "verbs": ["bind"],
                                                    "resourceNames": ["cluster-admin"]}, namespace=""))
    api.create(BINDINGS, "dev", binding("alice-binds", "ClusterRole", "binder", user("alice")))
    dev_admin.create(BINDINGS, binding("up", "ClusterRole", "cluster-admin", user("bob")), "dev")


def test_escalate_verb_allows_writing_any_rules(api, dev_admin):
    api.create(CLUSTER_ROLES, None, role("escalator", {"apiGroups": ["rbac.authorization.k8s.io"],
                                                       "resources": ["roles"], "verbs": ["escalate"]}, namespace=""))
    api.create(BINDINGS, "dev", binding("alice-esc", "ClusterRole", "escalator", user("alice")))
    dev_admin.create(ROLES, role("nodes", {"apiGroups": [""], "resources": ["nodes"], "verbs": ["delete"]}), "dev")


# --- node authorizer ----------------------------------------------------------------------------

def test_node_reads_only_the_secrets_of_its_own_pods(api):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "dev"},
           "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx",
                                                       "envFrom": [{"secretRef": {"name": "db"}}]}]}}
    api.create(PODS, "dev", pod)
    n1 = User("system:node:n1", groups=("system:nodes", "system:authenticated"))
    n2 = User("system:node:n2", groups=("system:nodes", "system:authenticated"))
    assert allowed(api, n1, "GET", "/api/v1/namespaces/dev/secrets/db")
    assert not allowed(api, n2, "GET", "/api/v1/namespaces/dev/secrets/db")
    assert not allowed(api, n1, "GET", "/api/v1/namespaces/dev/secrets/other")
    assert allowed(api, n1, "GET", "/api/v1/namespaces/dev/pods/p")
    assert not allowed(api, n2, "GET", "/api/v1/namespaces/dev/pods/p")
    assert allowed(api, n1, "PUT", "/api/v1/nodes/n1/status")
    assert not allowed(api, n1, "PUT", "/api/v1/nodes/n2")
    assert allowed(api, n1, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1")
    assert not allowed(api, n1, "PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n2")


# --- reviews and impersonation ------------------------------------------------------------------

def test_access_reviews(api):
    api.create(BINDINGS, "dev", binding("v", "ClusterRole", "view", user("alice")))
    spec = {"resourceAttributes": {"namespace": "dev", "verb": "list", "resource": "pods"}}
    answer = api.create(SAR, None, {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                                    "spec": {**spec, "user": "alice"}})
    assert answer["status"] == {"allowed": True,
                                "reason": 'RBAC: allowed by RoleBinding "v/dev" of ClusterRole "view" to User "alice"'}
    client = LocalClient(api).as_user(ALICE)
    mine = client.create(SSAR, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                "spec": {"resourceAttributes": {"namespace": "dev", "verb": "delete",
                                                                "resource": "pods"}}})
    assert mine["status"] == {"allowed": False}
    rules = client.create(RULES_REVIEW, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                                         "spec": {"namespace": "dev"}})["status"]
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} in rules["resourceRules"]
    assert api.store.count("selfsubjectaccessreviews.authorization.k8s.io") == 0   # never stored
    with pytest.raises(StatusError) as err:
        api.create(SSAR, None, {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                                "spec": {}})
    assert err.value.code == 422


def test_kubectl_as_in_process(api):
    client = LocalClient(api)
    assert run("create rolebinding r --clusterrole=view --serviceaccount=dev:reader -n dev", client=client)[0] == 0
    assert run("auth can-i list pods -n dev --as system:serviceaccount:dev:reader", client=client)[:2] == (0, "yes\n")
    assert run("auth can-i delete pods -n dev --as system:serviceaccount:dev:reader", client=client)[:2] == (1, "no\n")
    code, _, err = run("delete pods x -n dev --as system:serviceaccount:dev:reader", client=client)
    assert code == 1 and 'User "system:serviceaccount:dev:reader" cannot delete resource "pods"' in err


def test_impersonation_over_http(server):
    status, _, body = server.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                                     json.dumps({"apiVersion": "authorization.k8s.io/v1",
                                                 "kind": "SelfSubjectAccessReview",
                                                 "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}
                                                 }).encode(),
                                     {"Impersonate-User": "bob", "Content-Type": "application/json"})
    assert status == 201 or status == 200, body
    assert json.loads(body)["status"]["allowed"] is False     # the review answered for bob, not the admin
    done = server.kubectl("create", "clusterrolebinding", "b", "--clusterrole=view", "--user=bob")
    assert done.returncode == 0, done.stderr
    done = server.kubectl("get", "pods", "--as", "carol", "--as-group", "g1", "--as-group", "g2")
    assert done.returncode == 1
    assert "pods is forbidden: User \"carol\" cannot list resource \"pods\"" in done.stderr
    ours = server.kubectl("get", "pods", "--as", "carol", "--as-group", "g1", real=False)
    assert ours.returncode == 1 and ours.stderr == done.stderr


def test_impersonation_needs_the_impersonate_verb(tmp_path):
    from tests.conftest import start_server

    first = start_server(tmp_path, "--nodes", "0")
    first.stop()
    tokens = next(first.data_dir.rglob("tokens.csv"))
    tokens.write_text(tokens.read_text() + "alice-token,alice,alice-uid\n")
    srv = start_server(tmp_path, "--nodes", "0", data_dir=first.data_dir)
    try:
        as_alice = {"Authorization": "Bearer alice-token", "Impersonate-User": "bob"}
        status, _, body = srv.request("GET", "/api/v1/namespaces/default/pods", headers=as_alice)
        assert status == 403
        assert json.loads(body)["message"] == ('users "bob" is forbidden: User "alice" cannot impersonate resource '
                                               '"users" in API group "" at the cluster scope')
        for args in (("create", "clusterrole", "imp", "--verb=impersonate", "--resource=users",
                      "--resource-name=bob"),
                     ("create", "clusterrolebinding", "imp", "--clusterrole=imp", "--user=alice"),
                     ("create", "clusterrolebinding", "bob-views", "--clusterrole=view", "--user=bob")):
            assert srv.kubectl(*args).returncode == 0
        status, _, body = srv.request("GET", "/api/v1/namespaces/default/pods", headers=as_alice)
        assert status == 200, body                      # as bob, who may list pods
        status, _, body = srv.request("GET", "/api/v1/namespaces/default/secrets", headers=as_alice)
        assert status == 403 and b'User \\"bob\\" cannot list resource \\"secrets\\"' in body
        status, _, body = srv.request("GET", "/api/v1/namespaces/default/pods",
                                      headers={**as_alice, "Impersonate-Group": "system:masters"})
        assert status == 403 and b'groups \\"system:masters\\" is forbidden' in body
        status, _, _ = srv.request("GET", "/api/v1/namespaces/default/pods",
                                   headers={"Authorization": "Bearer alice-token"})
        assert status == 403                            # alice herself may not
    finally:
        srv.stop()


def test_cluster_kubectl_as_a_service_account():
    from minik8s.cluster import Cluster, KubectlError

    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.kubectl("create namespace dev")
        cluster.kubectl("create rolebinding r --clusterrole=view --serviceaccount=dev:reader -n dev")
        assert cluster.kubectl("auth can-i list pods --as system:serviceaccount:dev:reader -n dev") == "yes\n"
        with pytest.raises(KubectlError) as err:
            cluster.kubectl("auth can-i delete pods --as system:serviceaccount:dev:reader -n dev")
        assert (str(err.value), err.value.code) == ("no", 1)


def test_validation_and_defaulting_of_rbac_objects(api):
    created = api.create(BINDINGS, "dev", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "d"},
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"}]})
    assert created["roleRef"]["apiGroup"] == "rbac.authorization.k8s.io"            # defaulted
    assert created["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"
    assert "apiGroup" not in created["subjects"][1]
    with pytest.raises(StatusError) as err:
        api.patch(BINDINGS, "dev", "d", "merge", {"roleRef": {"name": "edit"}})
    assert err.value.message == ('RoleBinding.rbac.authorization.k8s.io "d" is invalid: roleRef: Invalid value: '
                                 '{"APIGroup":"rbac.authorization.k8s.io","Kind":"ClusterRole","Name":"edit"}: '
                                 'cannot change roleRef')
    with pytest.raises(StatusError) as err:
        api.create(CLUSTER_BINDINGS, None, binding("c", "Role", "r", {"kind": "ServiceAccount", "name": "x"},
                                                   namespace=""))
    assert 'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"' in err.value.message
    assert "subjects[0].namespace: Required value" in err.value.message
    with pytest.raises(StatusError) as err:
        api.create(ROLES, "dev", role("r", {"nonResourceURLs": ["/x"], "verbs": ["get"]}, {"resources": ["pods"]}))
    assert err.value.code == 422
    assert err.value.message == (
        'Role.rbac.authorization.k8s.io "r" is invalid: [rules[0].nonResourceURLs: Invalid value: ["/x"]: '
        'namespaced rules cannot apply to non-resource URLs, rules[1].verbs: Required value: verbs must contain '
        'at least one value, rules[1].apiGroups: Required value: resource rules must supply at least one api group]')


def test_impersonated_groups():
    from minik8s.apiserver.auth.impersonation import impersonate, impersonated

    assert impersonated("bob").groups == ("system:authenticated",)
    assert impersonated("bob", ("devs",)).groups == ("devs", "system:authenticated")
    assert impersonated("bob", ("system:unauthenticated",)).groups == ("system:unauthenticated",)
    assert impersonated("system:serviceaccount:dev:sa").groups == (
        "system:serviceaccounts", "system:serviceaccounts:dev", "system:authenticated")
    assert impersonated("system:anonymous").groups == ("system:unauthenticated",)
    admin = User("admin", groups=("system:masters",))
    with pytest.raises(StatusError) as err:
        impersonate(APIServer().authorizer, admin, {"Impersonate-Group": "devs"})
    assert (err.value.code, err.value.message) == (
        500, "Internal error occurred: requested [{Group  devs    }] without impersonating a user")


def test_a_list_or_watch_narrowed_to_one_name_is_about_that_name(api):
    api.create(ROLES, "dev", role("one", {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["web"],
                                          "verbs": ["get", "list", "watch"]}))
    api.create(BINDINGS, "dev", binding("b", "Role", "one", user("alice")))
    path = "/api/v1/namespaces/dev/pods"
    assert allowed(api, ALICE, "GET", path, {"fieldSelector": "metadata.name=web", "watch": "true"})
    assert allowed(api, ALICE, "GET", path, {"fieldSelector": "metadata.name=web"})
    assert not allowed(api, ALICE, "GET", path, {"fieldSelector": "metadata.name=db"})
    assert not allowed(api, ALICE, "GET", path, {"fieldSelector": "metadata.name!=db"})
    assert not allowed(api, ALICE, "GET", path)


def test_a_restart_repairs_bootstrap_roles_unless_autoupdate_is_false():
    from minik8s.store import Store

    store = Store()
    api = APIServer(store)
    view = api.get(CLUSTER_ROLES, None, "system:aggregate-to-view")
    api.update(CLUSTER_ROLES, None, "system:aggregate-to-view", {**view, "rules": view["rules"][1:]})
    api.delete(CLUSTER_BINDINGS, None, "system:basic-user")
    crb = api.get(CLUSTER_BINDINGS, None, "system:discovery")
    api.update(CLUSTER_BINDINGS, None, "system:discovery", {**crb, "subjects": [user("extra")]})
    edit = api.get(CLUSTER_ROLES, None, "system:aggregate-to-edit")
    edit["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] = "false"
    api.update(CLUSTER_ROLES, None, "system:aggregate-to-edit", {**edit, "rules": []})
    again = APIServer(store)                                  # the next start of the API server
    repaired = again.get(CLUSTER_ROLES, None, "system:aggregate-to-view")["rules"]
    assert repaired == view["rules"][1:] + view["rules"][:1]           # what was missing, appended
    assert again.get(CLUSTER_BINDINGS, None, "system:basic-user")
    assert again.get(CLUSTER_BINDINGS, None, "system:discovery")["subjects"] == [
        user("extra"), {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:authenticated"}]
    assert again.get(CLUSTER_ROLES, None, "system:aggregate-to-edit")["rules"] == []   # left alone
    rv = again.get(CLUSTER_ROLES, None, "admin")["metadata"]["resourceVersion"]
    assert APIServer(store).get(CLUSTER_ROLES, None, "admin")["metadata"]["resourceVersion"] == rv  # no churn

"""`kubectl auth can-i` answers of minik8s kubectl and the real kubectl agree, for the bootstrap roles.

One served cluster; users bound to admin/edit/view in a namespace, asked about via impersonation
(``--as``), which the admin of the cluster may do (system:masters).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import needs_kubectl, start_server

pytestmark = needs_kubectl


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("canI"), "--nodes", "0")
    for args in (("create", "namespace", "dev"),
                 ("create", "rolebinding", "a", "--clusterrole=admin", "--user=ada", "-n", "dev"),
                 ("create", "rolebinding", "e", "--clusterrole=edit", "--user=eve", "-n", "dev"),
                 ("create", "rolebinding", "v", "--clusterrole=view", "--group=viewers", "-n", "dev"),
                 ("create", "rolebinding", "s", "--clusterrole=view", "--serviceaccount=dev:reader", "-n", "dev"),
                 ("create", "role", "one-secret", "--verb=get", "--resource=secrets", "--resource-name=db",
                  "-n", "dev"),
                 ("create", "rolebinding", "o", "--role=one-secret", "--user=olga", "-n", "dev")):
        done = srv.kubectl(*args)
        assert done.returncode == 0, done.stderr
    yield srv
    srv.stop()


QUESTIONS = [
    ("ada", "create rolebindings -n dev"), ("ada", "delete pods -n dev"), ("ada", "create pods -n default"),
    ("ada", "list nodes"), ("eve", "create deployments.apps -n dev"), ("eve", "create rolebindings -n dev"),
    ("eve", "get secrets -n dev"), ("eve", "create pods --subresource=exec -n dev"),
    ("vic --as-group viewers", "list pods -n dev"), ("vic --as-group viewers", "get secrets -n dev"),
    ("vic --as-group viewers", "get pods --subresource=log -n dev"),
    ("vic --as-group viewers", "delete pods -n dev"), ("vic --as-group viewers", "list pods -A"),
    ("system:serviceaccount:dev:reader", "watch deployments -n dev"),
    ("system:serviceaccount:dev:reader", "list pods -n default"),
    ("olga", "get secrets/db -n dev"), ("olga", "get secrets/other -n dev"), ("olga", "list secrets -n dev"),
    ("nobody", "get /version"), ("nobody", "get /api/v1"), ("nobody", "get /metrics"),
    ("nobody", "frobnicate pods"), ("nobody", "get widgets"), ("nobody", "create selfsubjectaccessreviews"),
]


@pytest.mark.parametrize("who,question", QUESTIONS)
def test_can_i_agrees_with_the_real_kubectl(served, who, question):
    args = ["auth", "can-i", *question.split(), "--as", *who.split()]
    real, ours = served.kubectl(*args), served.kubectl(*args, real=False)
    assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, real.stderr)
    assert real.stdout in ("yes\n", "no\n")


@pytest.mark.parametrize("who", ["ada", "eve", "vic --as-group viewers", "olga", "system:serviceaccount:dev:reader"])
def test_can_i_list_agrees_with_the_real_kubectl(served, who):
    args = ["auth", "can-i", "--list", "-n", "dev", "--as", *who.split()]
    real, ours = served.kubectl(*args), served.kubectl(*args, real=False)
    assert real.returncode == 0, real.stderr
    assert ours.stdout == real.stdout


def test_expected_answers(served):
    """Not just agreement: the bootstrap roles grant what upstream's do."""
    def ask(*words: str) -> str:
        return served.kubectl("auth", "can-i", *words).stdout.strip()

    assert ask("delete", "pods", "-n", "dev", "--as", "eve") == "yes"
    assert ask("delete", "pods", "-n", "default", "--as", "eve") == "no"
    assert ask("create", "roles", "-n", "dev", "--as", "eve") == "no"
    assert ask("create", "roles", "-n", "dev", "--as", "ada") == "yes"
    assert ask("get", "secrets", "-n", "dev", "--as", "vic", "--as-group", "viewers") == "no"
    assert ask("get", "secrets/db", "-n", "dev", "--as", "olga") == "yes"
    assert ask("list", "secrets", "-n", "dev", "--as", "olga") == "no"


def test_create_dry_run_yaml_agrees_with_the_real_kubectl(served):
    for args in (["create", "role", "r", "--verb=get,list", "--verb=watch", "--resource=pods,deployments.apps,rs",
                  "--resource=pods/log", "--resource-name=x", "-n", "dev"],
                 ["create", "clusterrole", "c", "--verb=get", "--non-resource-url=/logs/*", "--resource=nodes"],
                 ["create", "clusterrole", "agg", "--aggregation-rule=team=a,tier=b"],
                 ["create", "rolebinding", "b", "--role=r", "--user=u1", "--user=u2", "--group=g",
                  "--serviceaccount=dev:sa"],
                 ["create", "clusterrolebinding", "cb", "--clusterrole=view", "--group=g"]):
        for output in (["-o", "yaml"], []):
            full = [*args, "--dry-run=client", *output]
            real, ours = served.kubectl(*full), served.kubectl(*full, real=False)
            assert real.returncode == 0, real.stderr
            assert (ours.returncode, ours.stdout) == (0, real.stdout)


def test_the_official_client_asks_reviews(served):
    import kubernetes

    client = kubernetes.config.new_client_from_config(str(served.kubeconfig))
    auth = kubernetes.client.AuthorizationV1Api(client)
    review = auth.create_subject_access_review(kubernetes.client.V1SubjectAccessReview(
        spec=kubernetes.client.V1SubjectAccessReviewSpec(
            user="eve", resource_attributes=kubernetes.client.V1ResourceAttributes(
                namespace="dev", verb="delete", resource="pods"))))
    assert review.status.allowed is True
    assert review.status.reason == 'RBAC: allowed by RoleBinding "e/dev" of ClusterRole "edit" to User "eve"'
    local = auth.create_namespaced_local_subject_access_review("dev", kubernetes.client.V1LocalSubjectAccessReview(
        spec=kubernetes.client.V1SubjectAccessReviewSpec(
            user="eve", resource_attributes=kubernetes.client.V1ResourceAttributes(verb="create", resource="roles",
                                                                                   group="rbac.authorization.k8s.io"))))
    assert local.status.allowed is False
    rbac = kubernetes.client.RbacAuthorizationV1Api(client)
    assert "cluster-admin" in {r.metadata.name for r in rbac.list_cluster_role().items}


@pytest.mark.parametrize("args", [
    ["get", "rolebindings", "-n", "dev"], ["get", "rolebindings", "-n", "dev", "-o", "wide"],
    ["get", "roles", "-n", "dev"], ["get", "clusterrolebindings", "-o", "wide"],
    ["get", "clusterroles", "admin", "edit", "view"], ["describe", "rolebinding", "s", "-n", "dev"],
    ["describe", "role", "one-secret", "-n", "dev"],
])
def test_get_and_describe_rbac_objects_agree_with_the_real_kubectl(served, args):
    real, ours = served.kubectl(*args), served.kubectl(*args, real=False)
    assert real.returncode == 0, real.stderr

    def aged(text: str) -> str:   # the two runs may fall either side of a second
        return re.sub(r"(?<= )\d+s(?=\s)", "<age>", text)

    assert (ours.returncode, aged(ours.stdout)) == (0, aged(real.stdout))

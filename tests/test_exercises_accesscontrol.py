"""The access-control lab's checks (chapter 16): each fails on its start state and passes after its
solution on a real in-process cluster, and each plausible wrong answer gets a hint naming what is wrong
(on canned states answered by a fake kubectl whose SubjectAccessReviews follow a table of grants)."""

from __future__ import annotations

import json

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.checks import evaluate, load_all
from minik8s.lab.exercises import accesscontrol
from minik8s.lab.session import ClusterView, InProcess, KubectlResult

load_all()


class FakeCluster:
    """Answers `get KIND NAME -o json` from canned objects and SubjectAccessReviews from ``grants``:
    {serviceaccount: {(verb, resource), ...}}."""

    def __init__(self, objects: dict[tuple[str, str], dict], grants: dict[str, set[tuple[str, str]]]):
        self.objects = objects
        self.grants = grants
        self.reviews: list[dict] = []

    def kubectl(self, args, stdin=None):
        if args[:2] == ["create", "-f"]:
            review = json.loads(stdin)
            self.reviews.append(review)
            spec = review["spec"]
            account = spec["user"].rsplit(":", 1)[1]
            attrs = spec["resourceAttributes"]
            allowed = (attrs["verb"], attrs["resource"]) in self.grants.get(account, set())
            return KubectlResult(0, json.dumps({**review, "status": {"allowed": allowed}}), "")
        kind, name = args[1], args[2]
        found = self.objects.get((kind, name))
        if found is None:
            return KubectlResult(1, "", f'Error from server (NotFound): {kind} "{name}" not found\n')
        return KubectlResult(0, json.dumps(found), "")


READ = {("get", "pods"), ("list", "pods"), ("watch", "pods")}
SA = {"metadata": {"name": "x"}}


def _check(name, objects, grants, namespace="default"):
    return evaluate(name, ClusterView(FakeCluster(objects, grants), namespace))


@pytest.mark.parametrize("grants, hint", [
    ({}, "ServiceAccount reader may not get, list, watch pods yet"),
    ({"reader": {("list", "pods")}}, "may not get, watch pods yet"),
    ({"reader": READ | {("delete", "pods")}}, "ServiceAccount reader may delete pods"),
    ({"reader": READ | {("get", "secrets")}}, "ServiceAccount reader may read secrets"),
])
def test_reader_hints(grants, hint):
    passed, message = _check("access-reader", {("serviceaccounts", "reader"): SA}, grants)
    assert not passed and hint in message


def test_reader_needs_the_serviceaccount():
    assert _check("access-reader", {}, {"reader": READ}) == (
        False, "there is no ServiceAccount reader in namespace default")


def test_reader_passes_with_exactly_read_access():
    assert _check("access-reader", {("serviceaccounts", "reader"): SA}, {"reader": READ}) == (True, "passed")


def test_reviews_ask_about_the_students_namespace():
    fake = FakeCluster({("serviceaccounts", "reader"): SA}, {"reader": READ})
    assert evaluate("access-reader", ClusterView(fake, "alice")) == (True, "passed")
    spec = fake.reviews[0]["spec"]
    assert spec["user"] == "system:serviceaccount:alice:reader"
    assert "system:serviceaccounts:alice" in spec["groups"]
    assert spec["resourceAttributes"]["namespace"] == "alice"


def _pod(name, account=None, volumes=(), automount=None):
    spec = {"containers": [{"name": "c", "image": "x"}], "volumes": list(volumes)}
    if account:
        spec["serviceAccountName"] = account
    if automount is not None:
        spec["automountServiceAccountToken"] = automount
    return {"metadata": {"name": name}, "spec": spec}


def test_lister_hints():
    objects = {("serviceaccounts", "lister"): SA}
    assert "no Pod named lister" in _check("access-lister", objects, {})[1]
    objects[("pods", "lister")] = _pod("lister")
    assert "runs as the ServiceAccount default" in _check("access-lister", objects, {})[1]
    objects[("pods", "lister")] = _pod("lister", "lister")
    assert "gets 403 Forbidden" in _check("access-lister", objects, {})[1]
    assert "may delete pods" in _check("access-lister", objects, {"lister": {("list", "pods"),
                                                                            ("delete", "pods")}})[1]
    assert _check("access-lister", objects, {"lister": {("list", "pods")}}) == (True, "passed")


TOKEN_VOLUME = {"name": "kube-api-access-abcde", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}


def test_no_token_hints():
    assert "no Pod named quiet" in _check("access-no-token", {}, {})[1]
    mounted = _check("access-no-token", {("pods", "quiet"): _pod("quiet", volumes=[TOKEN_VOLUME])}, {})[1]
    assert "gets a ServiceAccount token (volume kube-api-access-abcde)" in mounted
    assert _check("access-no-token", {("pods", "quiet"): _pod("quiet", automount=False)}, {}) == (True, "passed")


def test_lister_pod_is_valid_yaml_running_the_script():
    import yaml

    pod = yaml.safe_load(accesscontrol.lister_pod("alice"))
    assert pod["metadata"]["namespace"] == "alice"
    assert pod["spec"]["serviceAccountName"] == "lister"
    assert pod["spec"]["containers"][0]["args"][0] == accesscontrol.LISTER_SCRIPT


@pytest.mark.parametrize("name", ["access-reader", "access-lister", "access-no-token"])
def test_start_fails_and_solution_passes_on_a_real_cluster(name):
    exercise = load_all()[name]
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        exercise.start_state(cluster)
        cluster.run_until_stable()
        view = ClusterView(InProcess(cluster))
        passed, message = exercise.evaluate(view)
        assert not passed and not message.startswith("could not check"), message
        exercise.solution_state(cluster)
        cluster.run_until_stable()
        assert exercise.evaluate(view) == (True, "passed")

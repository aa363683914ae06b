"""The specific hints of the labels (chapter 05) and namespaces (chapter 06) lab checks."""

from __future__ import annotations

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.checks import evaluate, load_all
from minik8s.lab.exercises import labels, namespaces
from minik8s.lab.session import ClusterView, InProcess

load_all()


@pytest.fixture
def cluster():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def _check(cluster: Cluster, name: str) -> tuple[bool, str]:
    return evaluate(name, ClusterView(InProcess(cluster)))


def test_release_label_on_a_non_prod_pod_is_named(cluster):
    cluster.apply(labels.all_pods_yaml())
    cluster.kubectl(["label", "pods", "release=stable", "--all"])
    passed, message = _check(cluster, "labels-release")
    assert not passed
    assert "web-test" in message and "only the prod Pods" in message


def test_release_check_says_which_pods_are_missing(cluster):
    passed, message = _check(cluster, "labels-release")
    assert not passed and "are missing" in message and "nginx" in message


def test_change_keeps_app_label(cluster):
    cluster.apply(labels.all_pods_yaml())
    cluster.kubectl("label pod web-test env=staging tier- app- --overwrite")
    assert _check(cluster, "labels-change") == (False, "Pod web-test lost its label app=web: change and remove only "
                                                       "env and tier")


def test_annotation_given_as_label_is_refused(cluster):
    cluster.apply(labels.all_pods_yaml())
    cluster.kubectl("label pod api-prod example.com/owner=alice")
    passed, message = _check(cluster, "labels-annotate")
    assert not passed and "is a label" in message


def test_wrong_annotation_value_is_shown(cluster):
    cluster.apply(labels.all_pods_yaml())
    cluster.kubectl(["annotate", "pod", "api-prod", "example.com/owner=Alice"])
    passed, message = _check(cluster, "labels-annotate")
    assert not passed and "'Alice'" in message


def test_pod_in_the_wrong_namespace(cluster):
    cluster.apply(namespaces.START)
    cluster.kubectl("create namespace dev")
    cluster.kubectl("create namespace prod")
    cluster.kubectl("run web --image=nginx:alpine")
    cluster.kubectl("run web --image=nginx:alpine -n dev")
    passed, message = _check(cluster, "namespaces-same-name")
    assert not passed and message == "there is no Pod web in namespace prod (use -n prod)"


def test_move_needs_the_old_pod_gone(cluster):
    cluster.apply(namespaces.START)
    cluster.kubectl("create namespace dev")
    cluster.apply(namespaces.API_IN_DEV)
    assert _check(cluster, "namespaces-move") == (False, "Pod api is still in namespace default: delete the old one")


def test_deleting_only_the_pods_is_not_enough(cluster):
    cluster.apply(namespaces.START)
    cluster.kubectl("delete pod old-web -n scratch")
    passed, message = _check(cluster, "namespaces-delete")
    assert not passed and "old-db" in message and "old-web" not in message


def test_pod_yaml_round_trips_labels():
    text = labels.pod_yaml("x", "web", "prod", None)
    assert "tier" not in text and "app: web" in text and "env: prod" in text

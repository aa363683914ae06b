"""The checks of the ConfigMaps and Secrets lab (chapter 12) on a real in-process cluster (simulated
runtime, virtual clock): each fails on its start state with a hint that says what is missing, fails on
the plausible wrong answers with a hint naming the mistake, and passes after the solution's steps."""

from __future__ import annotations

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.checks import evaluate, load_all
from minik8s.lab.exercises import configuration
from minik8s.lab.session import ClusterView, InProcess

load_all()


@pytest.fixture
def cluster():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def check(name: str, cluster: Cluster) -> tuple[bool, str]:
    return evaluate(name, ClusterView(InProcess(cluster)))


# --- configuration-env-and-file -----------------------------------------------------------------

def test_env_and_file_fails_until_the_pod_exists_then_until_the_configmap_changes(cluster):
    configuration._env_and_file_start(cluster)
    passed, message = check("configuration-env-and-file", cluster)
    assert not passed and "no Pod reader" in message
    cluster.apply(configuration.READER)
    cluster.advance(10)
    passed, message = check("configuration-env-and-file", cluster)
    assert not passed and "still says COLOR=blue" in message
    configuration._env_and_file_solution(cluster)
    assert check("configuration-env-and-file", cluster) == (True, "passed")


def test_env_and_file_rejects_a_reader_created_after_the_change(cluster):
    """Created after the change, the variable is green too: that does not show that env stays put."""
    configuration._env_and_file_start(cluster)
    cluster.kubectl(["patch", "configmap", "settings", "-p", '{"data":{"COLOR":"green"}}'])
    cluster.apply(configuration.READER)
    cluster.advance(20)
    passed, message = check("configuration-env-and-file", cluster)
    assert not passed and "environment is green" in message


def test_env_and_file_names_a_subpath_mount_and_a_missing_variable(cluster):
    configuration._env_and_file_start(cluster)
    cluster.apply(configuration.READER.replace("      mountPath: /etc/settings",
                                               "      mountPath: /etc/settings\n      subPath: COLOR"))
    passed, message = check("configuration-env-and-file", cluster)
    assert not passed and "subPath mount is never updated" in message
    cluster.kubectl("delete pod reader")
    cluster.advance(40)
    without_env = configuration.READER.split("    env:")[0] + "    volumeMounts:" + \
        configuration.READER.split("    volumeMounts:")[1]
    cluster.apply(without_env)
    passed, message = check("configuration-env-and-file", cluster)
    assert not passed and "no environment variable COLOR" in message


# --- configuration-config-error -------------------------------------------------------------------

def test_config_error_shows_the_kubelets_reason_then_passes_once_the_configmap_exists(cluster):
    configuration._config_error_start(cluster)
    passed, message = check("configuration-config-error", cluster)
    assert not passed
    assert "CreateContainerConfigError" in message and 'configmap "api-config" not found' in message
    configuration._config_error_solution(cluster)
    assert check("configuration-config-error", cluster) == (True, "passed")
    assert cluster.kubectl("logs api").strip() == "mode=production"


def test_config_error_names_the_missing_key(cluster):
    configuration._config_error_start(cluster)
    cluster.kubectl("create configmap api-config --from-literal=mode=production")
    cluster.advance(20)
    passed, message = check("configuration-config-error", cluster)
    assert not passed and "no key MODE (its keys: mode)" in message


def test_config_error_does_not_accept_deleting_the_pod(cluster):
    configuration._config_error_start(cluster)
    cluster.kubectl("delete pod api")
    cluster.advance(40)
    passed, message = check("configuration-config-error", cluster)
    assert not passed and "the Pod api is gone" in message


# --- configuration-secret-file --------------------------------------------------------------------

def test_secret_file_fails_on_start_and_passes_after_the_solution(cluster):
    configuration._secret_file_start(cluster)
    passed, message = check("configuration-secret-file", cluster)
    assert not passed and "no Pod db-client" in message
    configuration._secret_file_solution(cluster)
    assert check("configuration-secret-file", cluster) == (True, "passed")


@pytest.mark.parametrize("change, hint", [
    (("      items:\n      - key: password\n        path: password\n", ""), "all (no items)"),
    (("defaultMode: 0400", "defaultMode: 0644"), "mode is 0644 (decimal 420 in JSON)"),
    (("mountPath: /etc/db", "mountPath: /etc/secret"), "mount the volume at /etc/db"),
])
def test_secret_file_names_each_mistake(cluster, change, hint):
    configuration._secret_file_start(cluster)
    cluster.apply(configuration.DB_CLIENT.replace(*change))
    cluster.advance(20)
    passed, message = check("configuration-secret-file", cluster)
    assert not passed and hint in message

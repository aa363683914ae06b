"""RBAC objects through kubectl: ``describe``, and the refusals of ``create`` (escalation, missing role,
duplicates) — minik8s kubectl against the real kubectl, on one served cluster."""

from __future__ import annotations

import pytest

from minik8s.kubectl.describe.rbac import policy_rows
from tests.conftest import needs_kubectl


def test_policy_rows_break_down_compact_and_sort_as_upstream():
    rows = policy_rows([
        {"apiGroups": ["", "apps"], "resources": ["pods", "deployments/scale"], "verbs": ["list", "get"]},
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
        {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
    ])
    # verbs merged per (group, resource) in breakdown order, not de-duplicated; sorted by Go's String()
    assert rows[0] == {"verbs": ["get"], "nonResourceURLs": ["/healthz"]}
    assert {"verbs": ["list", "get", "get"], "apiGroups": [""], "resources": ["pods"]} in rows


@needs_kubectl
@pytest.mark.parametrize("what", [
    "role pod-reader -n dev", "role mixed -n dev", "rolebinding readers -n dev",
    "clusterrole view", "clusterrole system:discovery", "clusterrolebinding system:basic-user",
    "clusterrole admin",
])
def test_describe_matches_the_real_kubectl(rbac_server, what):
    real = rbac_server.kubectl("describe", *what.split())
    ours = rbac_server.kubectl("describe", *what.split(), real=False)
    assert real.returncode == 0, real.stderr
    assert ours.stdout == real.stdout


@needs_kubectl
@pytest.mark.parametrize("command", [
    "create role big --verb=get,delete --resource=nodes,pods -n dev --as alice",
    "create rolebinding x --clusterrole=cluster-admin --user=bob -n dev --as alice",
    "create rolebinding y --clusterrole=nope --user=bob -n dev --as alice",
    "create clusterrolebinding cx --clusterrole=view --user=bob --as alice",
    "create rolebinding readers -n dev --role=pod-reader --user=bob",
])
def test_refused_creates_print_what_the_real_kubectl_prints(rbac_server, command):
    real = rbac_server.kubectl(*command.split())
    ours = rbac_server.kubectl(*command.split(), real=False)
    assert real.returncode == 1 and real.stderr
    assert (ours.returncode, ours.stdout, ours.stderr) == (real.returncode, real.stdout, real.stderr)


@pytest.fixture(scope="module")
def rbac_server(tmp_path_factory):
    from tests.conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("rbac"), "--nodes", "0")
    for command in ("create namespace dev",
                    "create role pod-reader -n dev --verb=get,list,watch --resource=pods,pods/log "
                    "--resource-name=a --resource-name=b",
                    "create role mixed -n dev --verb=get --verb=update --resource=configmaps,deployments.apps,"
                    "deployments.apps/scale,pods",
                    "create rolebinding readers -n dev --role=pod-reader --user=alice --group=devs "
                    "--serviceaccount=dev:robot",
                    "create rolebinding alice-admin -n dev --clusterrole=admin --user=alice"):
        done = srv.kubectl(*command.split())
        assert done.returncode == 0, done.stderr
    yield srv
    srv.stop()

"""`minik8s kubectl` against the real kubectl: the same commands on the same server print the same thing."""

from __future__ import annotations

import re

import pytest

from conftest import needs_kubectl
from minik8s.cluster import Cluster, KubectlError
from test_server import NGINX_POD

# Ages tick between two runs; everything else must match to the character.
AGE = re.compile(r"\b\d+(s|m\d*s?|h\d*m?|d\d*h?)\b")

ORACLE_COMMANDS = [
    "get ns", "get pods --show-labels", "get pods -o wide", "get pod nginx -o yaml", "get pod nginx -o json",
    "get pods -o name", "describe pod nginx", "api-resources", "api-resources --namespaced=false", "get pod nope",
    "get pods -l env=prod", "get pods -l env!=prod", "get pods -l 'env in (prod,qa)'", "get all", "get pods,ns",
    "get pod nginx -o jsonpath={.metadata.labels.app}", "describe ns default", "get pods -A", "cluster-info",
    "get nodes", "get deploy", "config get-contexts", "get pods -L app", "get pods --no-headers",
    "get pods/nginx", "get po nginx -n kube-system", "get pods --field-selector status.phase=Pending",
    "get pods -l 'bad key'", "get nosuchthing", "get events",
    # global flags before the verb, with a space or "=", and their errors
    "-n kube-system get pods", "--namespace=default get pod nginx -o name", "--context minik8s get ns",
    "--foo get pods", "-n", "--server", "get pods --foo",
    # jsonpath errors
    "get pod nginx -o jsonpath={.metadata.nam", "get pod nginx -o jsonpath={.nope}",
    # waiting for what is already gone (or was never there) is no error
    "wait --for=delete pod/nope --timeout=5s", "wait --for=delete pod -l app=none --timeout=5s",
    "wait --for=condition=Ready pod -l app=none --timeout=5s",
]


@needs_kubectl
@pytest.mark.parametrize("command", ORACLE_COMMANDS)
def test_same_output_as_the_real_kubectl(shared_server, command):
    import shlex

    words = shlex.split(command)
    real = shared_server.kubectl(*words)
    ours = shared_server.kubectl(*words, real=False)
    assert ours.returncode == real.returncode
    for mine, theirs in ((ours.stdout, real.stdout), (ours.stderr, real.stderr)):
        squeeze = words[0] == "describe" or _ages(mine) != _ages(theirs)
        assert _aged(mine, squeeze) == _aged(theirs, squeeze)


def _ages(text: str) -> list[str]:
    return [m.group(0) for m in AGE.finditer(text)]


def _aged(text: str, squeeze: bool) -> str:
    """Ages replaced. An age that grew a digit between the two runs ("9s", "10s") also widens its column
    (in describe's tables, any age may), so then the padding between columns is compared as one gap."""
    text = AGE.sub("AGE", text)
    return re.sub(r"(?<=\S) {2,}(?=\S)", "  ", text) if squeeze else text


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    from conftest import start_server

    srv = start_server(tmp_path_factory.mktemp("oracle"), "--nodes", "0")
    created = srv.kubectl("create", "-f", "-", stdin=NGINX_POD)
    assert created.returncode == 0, created.stderr
    yield srv
    srv.stop()


def test_in_process_kubectl_errors_carry_message_and_exit_code():
    with Cluster(nodes=0, clock="virtual", seed=0) as cluster:
        with pytest.raises(KubectlError) as missing:
            cluster.kubectl("get pod nope")
        assert (missing.value.code, missing.value.message) == (1, 'Error from server (NotFound): pods "nope" not found')
        with pytest.raises(KubectlError) as flag:
            cluster.kubectl("get pods --bogus")
        assert flag.value.message == "Error: unknown flag: --bogus\nSee 'kubectl get --help' for usage."
        with pytest.raises(KubectlError) as verb:
            cluster.kubectl("frobnicate")
        assert (verb.value.code, verb.value.message) == (1, 'Error: unknown command "frobnicate" for "kubectl"')
        with pytest.raises(KubectlError) as kind:
            cluster.kubectl("get widgets")
        assert kind.value.message == 'error: the server doesn\'t have a resource type "widgets"'
        with pytest.raises(KubectlError) as yaml_error:
            cluster.apply("a: b: c\nd")
        assert yaml_error.value.message.startswith("error: error parsing STDIN: error converting YAML to JSON")


def test_virtual_cluster_output_is_deterministic():
    def run() -> str:
        with Cluster(nodes=0, clock="virtual", seed=7) as cluster:
            cluster.kubectl(["create", "-f", "-"], stdin=NGINX_POD.replace("name: nginx\n", "generateName: nginx-\n"))
            return cluster.kubectl("get pods -o yaml")

    first, second = run(), run()
    assert first == second
    assert "name: nginx-" in first and "uid:" in first


@pytest.mark.parametrize("verb, field", [("label", "labels"), ("annotate", "annotations")])
def test_label_and_annotate_do_not_conflict_with_a_concurrent_writer(verb, field):
    """kubectl's patch carries no resourceVersion: an object written between its GET and its PATCH (a
    Deployment's status during a rollout) is still labelled or annotated, as with the real kubectl."""
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: raced}\ndata: {a: '1'}\n")
        client = cluster.client
        original_get = type(client).get

        def get_then_someone_writes(self, resource, name, namespace=None, *args, **kwargs):
            found = original_get(self, resource, name, namespace, *args, **kwargs)
            if name == "raced":
                changed = original_get(self, resource, name, namespace)
                changed["data"]["a"] = str(int(changed["data"]["a"]) + 1)
                self.update(resource, changed, namespace)
            return found

        client.get = get_then_someone_writes.__get__(client)   # on this client only, removed below
        code, out, err = cluster.run_kubectl([verb, "configmap", "raced", "team=blue"])
        del client.get
        assert (code, err) == (0, "")
        assert out == {"label": "configmap/raced labeled\n", "annotate": "configmap/raced annotated\n"}[verb]
        got = original_get(client, _configmaps(), "raced", "default")
        assert got["metadata"][field]["team"] == "blue" and got["data"]["a"] == "2"


def _configmaps():
    from minik8s.api import resources

    return resources.by_plural("", "v1", "configmaps")

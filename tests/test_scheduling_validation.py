"""Bad scheduling constraints are refused as upstream refuses them (pkg/apis/core/validation, v1.32).

Affinity terms, tolerations and topology spread constraints, sent with the real kubectl to a served
cluster: exit code 1, upstream's field path and message, and nothing stored. One case goes over plain
HTTP to check the 422 Status and its causes.
"""

from __future__ import annotations

import json

import pytest

from minik8s.api.validation.scheduling import validate_affinity, validate_tolerations, validate_topology_spread
from tests.conftest import needs_kubectl, start_server

LABEL_KEY_RULE = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                  "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                  "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
REQUIRED_NODE = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
ANTI = "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]"
AFFINITY = "spec.affinity.podAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]"


def _node_expression(expression: str) -> str:
    return ("  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
            f"{{nodeSelectorTerms: [{{matchExpressions: [{expression}]}}]}}}}}}")


CASES = {
    "node affinity operator": (
        _node_expression("{key: zone, operator: Near, values: [a]}"),
        [f'{REQUIRED_NODE}.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator']),
    "In without values": (
        _node_expression("{key: zone, operator: In}"),
        [f"{REQUIRED_NODE}.matchExpressions[0].values: Required value: must be specified when `operator` is "
         "'In' or 'NotIn'"]),
    "Exists with values": (
        _node_expression("{key: zone, operator: Exists, values: [a]}"),
        [f"{REQUIRED_NODE}.matchExpressions[0].values: Forbidden: may not be specified when `operator` is "
         "'Exists' or 'DoesNotExist'"]),
    "Gt with two values": (
        _node_expression("{key: cores, operator: Gt, values: ['1', '2']}"),
        [f"{REQUIRED_NODE}.matchExpressions[0].values: Required value: must be specified single value when "
         "`operator` is 'Lt' or 'Gt'"]),
    "no node selector terms": (
        "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}",
        ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: "
         "Required value: must have at least one node selector term"]),
    "preferred weight": (
        "  affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 101, preference: "
        "{matchExpressions: [{key: zone, operator: In, values: [a]}]}}]}}",
        ["spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 101: "
         "must be in the range 1-100"]),
    "empty topologyKey": (
        "  affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
        "[{labelSelector: {matchLabels: {app: a}}, topologyKey: ''}]}}",
        [f"{ANTI}.topologyKey: Required value: can not be empty",
         f'{ANTI}.topologyKey: Invalid value: "": name part must be non-empty',
         f'{ANTI}.topologyKey: Invalid value: "": {LABEL_KEY_RULE}']),
    "bad label selector in a term": (
        "  affinity: {podAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 10, podAffinityTerm: "
        "{labelSelector: {matchExpressions: [{key: app, operator: Equals, values: [a]}]}, topologyKey: zone}}]}}",
        [f'{AFFINITY}.podAffinityTerm.labelSelector.matchExpressions[0].operator: Invalid value: "Equals": '
         "not a valid selector operator"]),
    "toleration effect": (
        "  tolerations: [{key: gpu, operator: Equal, value: 'true', effect: NoScheduling}]",
        ['spec.tolerations[0].effect: Unsupported value: "NoScheduling": supported values: "NoSchedule", '
         '"PreferNoSchedule", "NoExecute"']),
    "Exists toleration with a value": (
        "  tolerations: [{key: gpu, operator: Exists, value: 'true', effect: NoSchedule}]",
        ['spec.tolerations[0].operator: Invalid value: core.Toleration{Key:"gpu", Operator:"Exists", Value:"true", '
         'Effect:"NoSchedule", TolerationSeconds:(*int64)(nil)}: value must be empty when `operator` is \'Exists\'']),
    "maxSkew 0": (
        "  topologySpreadConstraints: [{maxSkew: 0, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]",
        ["spec.topologySpreadConstraints[0].maxSkew: Invalid value: 0: must be greater than zero"]),
    "whenUnsatisfiable": (
        "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: Sometimes}]",
        ['spec.topologySpreadConstraints[0].whenUnsatisfiable: Unsupported value: "Sometimes": supported values: '
         '"DoNotSchedule", "ScheduleAnyway"']),
    "the same constraint twice": (
        "  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}, "
        "{maxSkew: 2, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]",
        ['spec.topologySpreadConstraints[0].{topologyKey, whenUnsatisfiable}: Duplicate value: '
         '"{zone, DoNotSchedule}"']),
}


def _pod(spec: str) -> str:
    return f"apiVersion: v1\nkind: Pod\nmetadata: {{name: bad}}\nspec:\n  containers: [{{name: c, image: nginx}}]\n{spec}\n"


def _refusal(causes: list[str]) -> str:
    if len(causes) == 1:
        return f'The Pod "bad" is invalid: {causes[0]}\n'
    return 'The Pod "bad" is invalid: \n' + "".join(f"* {c}\n" for c in causes)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("scheduling-validation"), "--nodes", "0", "--runtime", "simulated")
    yield srv
    if srv.process.poll() is None:
        srv.stop()


@needs_kubectl
@pytest.mark.parametrize("case", list(CASES))
def test_real_kubectl_is_refused_with_upstreams_path_and_message_and_nothing_is_stored(served, case):
    spec, causes = CASES[case]
    result = served.kubectl("create", "-f", "-", stdin=_pod(spec))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == _refusal(causes)
    missing = served.kubectl("get", "pod", "bad")
    assert missing.returncode == 1 and 'pods "bad" not found' in missing.stderr


@needs_kubectl
def test_a_deployments_template_is_checked_under_its_own_path(served):
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec:
      containers: [{name: c, image: nginx}]
      topologySpreadConstraints: [{maxSkew: -1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]
"""
    result = served.kubectl("apply", "-f", "-", stdin=deployment)
    assert result.returncode == 1
    assert result.stderr == ('The Deployment "bad" is invalid: spec.template.spec.topologySpreadConstraints[0].maxSkew: '
                             "Invalid value: -1: must be greater than zero\n")
    assert served.kubectl("get", "deployment", "bad").returncode == 1


def test_the_http_answer_is_a_422_status_with_one_cause_per_field(served):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}],
                     "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                         {"labelSelector": {"matchLabels": {"app": "a"}}, "topologyKey": ""}]}}}}
    code, _, raw = served.request("POST", "/api/v1/namespaces/default/pods", json.dumps(body).encode(),
                                  {"Content-Type": "application/json"})
    status = json.loads(raw)
    assert (code, status["reason"], status["code"]) == (422, "Invalid", 422)
    assert [(c["reason"], c["field"]) for c in status["details"]["causes"]] == [
        ("FieldValueRequired", f"{ANTI}.topologyKey"), ("FieldValueInvalid", f"{ANTI}.topologyKey"),
        ("FieldValueInvalid", f"{ANTI}.topologyKey")]


def test_good_constraints_pass_and_the_validators_never_raise_on_odd_shapes():
    good_affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}],
         "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]}},
        "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "a"}},
                                                "topologyKey": "kubernetes.io/hostname"}}]}}
    assert validate_affinity(good_affinity, "spec.affinity") == []
    assert validate_tolerations([{"operator": "Exists"}, {"key": "k", "operator": "Exists", "effect": "NoExecute",
                                                          "tolerationSeconds": 30}], "t") == []
    assert validate_topology_spread([{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
                                      "nodeTaintsPolicy": "Honor"}], "s") == []
    for odd in (None, "x", 3, [], {}, [None], {"nodeAffinity": "x"}, {"podAffinity": {"requiredDuringSchedulingIgnored"
                                                                                      "DuringExecution": [3]}}):
        validate_affinity(odd, "a")
        validate_tolerations(odd, "t")
        validate_topology_spread(odd, "s")
    field = [e.field for e in validate_affinity({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["a"]}]}]}}},
        "a")]
    assert field == ["a.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
                     ".matchFields[0].key"]

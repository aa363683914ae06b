"""NetworkPolicy through the API with the real kubectl: validation in upstream's words, ``describe`` in
upstream's layout, and the warning where the runtime cannot enforce a policy (the process runtime)."""

from __future__ import annotations

import pytest

from conftest import needs_kubectl, start_server, wait_for
from minik8s.api.validation import validate
from minik8s.proxy.netpol import NOT_ENFORCED_REASON, not_enforced_message

pytestmark = needs_kubectl


def _policy(spec: str, name: str = "p") -> str:
    return f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\nspec:\n{spec}"


BAD = [
    ("  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/33}}]\n",
     'spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
     "(e.g. 10.9.8.0/24 or 2001:db8::/64)"),
    ("  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}}]\n",
     'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`'),
    ("  podSelector: {}\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}}]\n",
     'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.0.0.0/16": must be a strict subset of `cidr`'),
    ("  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]\n",
     "spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer"),
    ("  podSelector: {}\n  ingress:\n  - from: [{}]\n",
     "spec.ingress[0].from[0]: Required value: must specify a peer"),
    ("  podSelector: {}\n  ingress:\n  - ports: [{port: 90, endPort: 80}]\n",
     "spec.ingress[0].ports[0].endPort: Invalid value: 90: must be greater than or equal to `port`"),
    ("  podSelector: {}\n  ingress:\n  - ports: [{endPort: 80}]\n",
     "spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is not specified"),
    ("  podSelector: {}\n  ingress:\n  - ports: [{port: http, endPort: 80}]\n",
     "spec.ingress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is non-numeric"),
    ("  podSelector: {}\n  ingress:\n  - ports: [{port: 70000}]\n",
     "spec.ingress[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"),
    ("  podSelector: {}\n  ingress:\n  - ports: [{port: 80, protocol: ICMP}]\n",
     'spec.ingress[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", "SCTP"'),
    ("  podSelector: {}\n  policyTypes: [Ingress, Sideways]\n",
     'spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"'),
    ("  podSelector: {matchLabels: {'bad key!': x}}\n",
     'spec.podSelector.matchLabels: Invalid value: "bad key!"'),
    ("  podSelector: {}\n  ingress:\n  - from: [{namespaceSelector: {matchExpressions: [{key: ns, operator: In}]}}]\n",
     "spec.ingress[0].from[0].namespaceSelector.matchExpressions[0].values: Required value: "
     "must be specified when `operator` is 'In' or 'NotIn'"),
]


@pytest.mark.parametrize("spec, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_invalid_policies_are_refused_in_upstream_words(server, spec, message):
    result = server.kubectl("apply", "-f", "-", stdin=_policy(spec))
    assert result.returncode == 1
    assert 'The NetworkPolicy "p" is invalid' in result.stderr and message in result.stderr, result.stderr


def test_more_than_two_policy_types():
    errors = validate({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                       "metadata": {"name": "p", "namespace": "default"},
                       "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]}})
    assert [str(e) for e in errors] == ['spec.policyTypes: Invalid value: []networking.PolicyType{"Ingress", '
                                        '"Egress", "Ingress"}: may not specify more than two policyTypes']


DESCRIBED = """\
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: web}}
      podSelector: {matchLabels: {app: frontend}}
    - ipBlock: {cidr: 172.17.0.0/16, except: [172.17.1.0/24]}
    ports: [{port: 5432}, {port: metrics, protocol: TCP}, {port: 8000, endPort: 8080}]
  - {}
  egress:
  - to: [{podSelector: {}}]
    ports: [{port: 53, protocol: UDP}, {port: 30000, endPort: 32767}]
"""


def test_describe_matches_the_real_kubectl_and_warns_where_not_enforced(server):
    assert server.kubectl("apply", "-f", "-", stdin=_policy(DESCRIBED, "db")).returncode == 0
    assert server.kubectl("apply", "-f", "-",
                          stdin=_policy("  podSelector: {}\n  policyTypes: [Ingress]\n", "deny")).returncode == 0
    for name in ("db", "deny"):
        real = server.kubectl("describe", "networkpolicy", name)
        assert real.returncode == 0, real.stderr
        ours = wait_for(lambda: (out := server.kubectl("describe", "networkpolicy", name, real=False).stdout)
                        and NOT_ENFORCED_REASON in out and out, what="the warning in describe")
        # upstream's describer prints no events; ours adds them, the rest is the same text
        assert ours.split("Events:")[0] == real.stdout
    assert real.stdout.split("\n", 3)[3] == """\
Labels:       <none>
Annotations:  <none>
Spec:
  PodSelector:     <none> (Allowing the specific traffic to all pods in this namespace)
  Allowing ingress traffic:
    <none> (Selected pods are isolated for ingress connectivity)
  Not affecting egress traffic
  Policy Types: Ingress
"""
    assert f"Warning  {NOT_ENFORCED_REASON}" in ours and "network-policy-agent" in ours
    events = server.kubectl("get", "events", "--field-selector", "involvedObject.kind=NetworkPolicy",
                            "-o", "jsonpath={range .items[*]}{.involvedObject.name} {.reason} {.message}{'\\n'}{end}")
    lines = sorted(events.stdout.splitlines())
    assert lines == [f"db {NOT_ENFORCED_REASON} {not_enforced_message('process')}",
                     f"deny {NOT_ENFORCED_REASON} {not_enforced_message('process')}"]   # one each


def test_one_warning_per_policy_across_a_restart(server, tmp_path):
    assert server.kubectl("apply", "-f", "-", stdin=_policy("  podSelector: {}\n", "deny")).returncode == 0
    listing = ("get", "events", "--field-selector", f"reason={NOT_ENFORCED_REASON}", "-o",
               "jsonpath={range .items[*]}{.involvedObject.name} {.count}{'\\n'}{end}")
    assert wait_for(lambda: server.kubectl(*listing).stdout, what="the warning") == "deny 1\n"
    server.stop()
    again = start_server(tmp_path, "--nodes", "0", data_dir=server.data_dir)
    try:
        assert again.kubectl("apply", "-f", "-", stdin=_policy("  podSelector: {}\n", "other")).returncode == 0
        wait_for(lambda: "other" in again.kubectl(*listing).stdout, what="the new policy's warning")
        assert sorted(again.kubectl(*listing).stdout.splitlines()) == ["deny 1", "other 1"]
    finally:
        again.stop()

"""The access picture (minik8s/viz.py access_svg, chapter 16): subjects → bindings → roles from live state."""

from __future__ import annotations

import re

from minik8s import viz
from minik8s.cluster import Cluster

OBJECTS = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader-pods}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects:
- {kind: ServiceAccount, name: reader, namespace: default}
- {kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ghost}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: nothing}
subjects: [{kind: Group, name: devs, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: elsewhere, namespace: other}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: mallory, apiGroup: rbac.authorization.k8s.io}]
"""


def _texts(svg: viz.SVG) -> list[str]:
    return re.findall(r">([^<>]+)</text>", str(svg))


def test_subjects_bindings_and_roles_with_their_rules():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.kubectl("create namespace other")
        cluster.apply(OBJECTS)
        svg = viz.access_svg(cluster, "default")
        again = viz.access_svg(cluster, "default")
    texts = _texts(svg)
    assert "ServiceAccount default/reader" in texts and "User alice" in texts and "Group devs" in texts
    assert "RoleBinding/reader-pods" in texts and "RoleBinding/ghost" in texts
    assert "Role/pod-reader" in texts and "get,list,watch pods" in texts
    assert "(missing: grants nothing)" in texts            # a binding to a missing role grants nothing
    assert 'stroke-dasharray' in str(svg)
    assert "User mallory" not in texts                      # another namespace's binding does not reach here
    assert str(svg) == str(again)                           # deterministic, for nbval
    assert str(svg).count("<path") == 5                     # 3 subject→binding edges, 2 binding→role


def test_bootstrap_bindings_are_left_out_unless_asked():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply("""\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system:basic-user, labels: {kubernetes.io/bootstrapping: rbac-defaults}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:basic-user}
subjects: [{kind: Group, name: system:authenticated, apiGroup: rbac.authorization.k8s.io}]
""")
        assert "Group system:authenticated" not in _texts(viz.access_svg(cluster, "default"))
        assert "no bindings reach namespace default" in _texts(viz.access_svg(cluster, "default"))
        assert "Group system:authenticated" in _texts(viz.access_svg(cluster, "default", include_bootstrap=True))


def test_rule_summary():
    assert viz.rule_summary({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/version"]}) == "get /healthz,/version"
    assert viz.rule_summary({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"],
                             "resourceNames": ["web"]}) == "* deployments.apps [web]"

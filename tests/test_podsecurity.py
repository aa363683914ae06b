"""PodSecurity admission (minik8s.apiserver.admission.podsecurity): the Pod Security Standards
per namespace label, checked against upstream's documented checks and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.admission.podsecurity import check, describe
from minik8s.apiserver.apiserver import APIServer
from minik8s.clock import VirtualClock
from minik8s.store import Store

from conftest import needs_kubectl

PODS = resources.lookup("pods")
DEPLOYMENTS = resources.lookup("deployments")
NAMESPACES = resources.lookup("namespaces")

# A pod that passes restricted: what every hardened manifest looks like.
RESTRICTED_OK: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "web", "image": "nginx", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
}


def spec_with(**changes: Any) -> dict[str, Any]:
    """RESTRICTED_OK with pod-level fields replaced, or container securityContext fields (``c_``) set."""
    spec = copy.deepcopy(RESTRICTED_OK)
    for key, value in changes.items():
        if key.startswith("c_"):
            spec["containers"][0]["securityContext"][key[2:]] = value
        else:
            spec[key] = value
    return spec


# (name, spec, reasons at baseline, reasons at restricted)
TABLE: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    ("hardened", spec_with(), [], []),
    ("plain", {"containers": [{"name": "web", "image": "nginx"}]}, [],
     ["allowPrivilegeEscalation != false", "unrestricted capabilities", "runAsNonRoot != true", "seccompProfile"]),
    ("hostNetwork", spec_with(hostNetwork=True), ["host namespaces"], ["host namespaces"]),
    ("hostPID", spec_with(hostPID=True, hostIPC=True), ["host namespaces"], ["host namespaces"]),
    ("privileged", spec_with(c_privileged=True), ["privileged"], ["privileged"]),
    ("NET_ADMIN", spec_with(c_capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}),
     ["non-default capabilities"], ["non-default capabilities", "unrestricted capabilities"]),
    ("CHOWN", spec_with(c_capabilities={"drop": ["ALL"], "add": ["CHOWN"]}), [], ["unrestricted capabilities"]),
    ("NET_BIND_SERVICE", spec_with(c_capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}), [], []),
    ("hostPath", spec_with(volumes=[{"name": "data", "hostPath": {"path": "/"}}]),
     ["hostPath volumes"], ["hostPath volumes", "restricted volume types"]),
    ("nfs", spec_with(volumes=[{"name": "data", "nfs": {"server": "x", "path": "/"}}]),
     [], ["restricted volume types"]),
    ("emptyDir", spec_with(volumes=[{"name": "data", "emptyDir": {}}]), [], []),
    ("procMount", spec_with(c_procMount="Unmasked"), ["procMount"], ["procMount"]),
    ("unconfined", spec_with(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"}}),
     ["seccompProfile"], ["seccompProfile"]),
    ("sysctl", spec_with(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                          "sysctls": [{"name": "kernel.msgmax", "value": "1"}]}),
     ["forbidden sysctls"], ["forbidden sysctls"]),
    ("root", spec_with(c_runAsUser=0), [], ["runAsUser=0"]),
    ("escalation", spec_with(c_allowPrivilegeEscalation=True), [], ["allowPrivilegeEscalation != false"]),
    ("selinux", spec_with(c_seLinuxOptions={"type": "spc_t"}), ["seLinuxOptions"], ["seLinuxOptions"]),
]


@pytest.mark.parametrize("name,spec,baseline,restricted", TABLE, ids=[row[0] for row in TABLE])
def test_each_check_fails_at_the_levels_upstream_documents(name, spec, baseline, restricted):
    assert [reason for reason, _ in check("baseline", spec)] == baseline
    assert [reason for reason, _ in check("restricted", spec)] == restricted
    assert check("privileged", spec) == []


def test_baseline_reasons_come_before_restricted_ones_as_upstream_reports_them():
    # kube-proxy in the upstream tutorial: "host namespaces, hostPath volumes, privileged,
    # allowPrivilegeEscalation != false, unrestricted capabilities, restricted volume types,
    # runAsNonRoot != true, seccompProfile".
    spec = {"hostNetwork": True, "volumes": [{"name": "lib", "hostPath": {"path": "/lib/modules"}}],
            "containers": [{"name": "kube-proxy", "image": "x", "securityContext": {"privileged": True}}]}
    assert ", ".join(reason for reason, _ in check("restricted", spec)) == (
        "host namespaces, hostPath volumes, privileged, allowPrivilegeEscalation != false, unrestricted "
        "capabilities, restricted volume types, runAsNonRoot != true, seccompProfile")


def test_host_port_details_name_the_containers_and_ports():
    spec = {"containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                           {"name": "b", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}]}
    assert check("baseline", spec) == [("hostPort", 'containers "a", "b" use hostPorts 80, 8080')]


def test_run_as_non_root_false_at_pod_and_container_is_named_once():
    spec = spec_with(securityContext={"runAsNonRoot": False, "seccompProfile": {"type": "RuntimeDefault"}},
                     c_runAsNonRoot=False)
    assert dict(check("restricted", spec))["runAsNonRoot != true"] == \
        'pod and container "web" must not set securityContext.runAsNonRoot=false'


def api_with(labels: dict[str, str]) -> APIServer:
    api = APIServer(Store(), VirtualClock())
    api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace",
                                  "metadata": {"name": "team", "labels": labels}})
    return api


def pod(spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": copy.deepcopy(spec)}


PLAIN = {"containers": [{"name": "web", "image": "nginx"}]}
RESTRICTED_MESSAGE = (
    'pods "web" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
    '(container "web" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
    '(container "web" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
    'container "web" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "web" must '
    'set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")')


def test_enforce_refuses_with_upstreams_message_and_stores_nothing():
    api = api_with({"pod-security.kubernetes.io/enforce": "restricted"})
    with pytest.raises(StatusError) as err:
        api.create(PODS, "team", pod(PLAIN))
    assert err.value.code == 403 and err.value.message == RESTRICTED_MESSAGE
    assert api.store.count("pods", "team") == 0
    api.create(PODS, "team", pod(RESTRICTED_OK, "hardened"))  # the hardened pod gets in


def test_the_version_label_appears_in_the_message():
    api = api_with({"pod-security.kubernetes.io/enforce": "baseline",
                    "pod-security.kubernetes.io/enforce-version": "v1.32"})
    with pytest.raises(StatusError) as err:
        api.create(PODS, "team", pod({**PLAIN, "hostNetwork": True}))
    assert err.value.message == ('pods "web" is forbidden: violates PodSecurity "baseline:v1.32": '
                                 "host namespaces (hostNetwork=true)")


def test_warn_admits_with_a_warning_and_no_labels_means_no_checks():
    api = api_with({"pod-security.kubernetes.io/warn": "baseline"})
    warnings: list[str] = []
    api.create(PODS, "team", pod({**PLAIN, "hostPID": True}), warnings=warnings)
    assert warnings == ['would violate PodSecurity "baseline:latest": host namespaces (hostPID=true)']
    plain = APIServer(Store(), VirtualClock())
    plain.create(PODS, "default", pod({**PLAIN, "hostPID": True}))


def test_workloads_are_admitted_with_a_warning_for_their_template():
    api = api_with({"pod-security.kubernetes.io/enforce": "baseline"})
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {**PLAIN, "hostNetwork": True}}}}
    warnings: list[str] = []
    api.create(DEPLOYMENTS, "team", deployment, warnings=warnings)
    assert warnings == ['would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)']


def test_a_label_change_on_an_admitted_pod_is_not_refused_later():
    api = api_with({})
    api.create(PODS, "team", pod(PLAIN))
    api.patch(NAMESPACES, None, "team", "merge",
              {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}})
    api.patch(PODS, "team", "web", "merge", {"metadata": {"labels": {"tier": "front"}}})
    assert api.get(PODS, "team", "web")["metadata"]["labels"] == {"tier": "front"}


def test_describe_joins_reasons_and_details():
    assert describe([("a", "x"), ("b", "")]) == "a (x), b"


@needs_kubectl
def test_real_kubectl_shows_the_refusal_and_the_warning(server):
    assert server.kubectl("create", "namespace", "locked").returncode == 0
    server.kubectl("label", "namespace", "locked", "pod-security.kubernetes.io/enforce=restricted",
                   "pod-security.kubernetes.io/warn=restricted")
    refused = server.kubectl("run", "web", "-n", "locked", "--image=nginx")
    assert refused.returncode == 1
    assert 'Error from server (Forbidden): pods "web" is forbidden: violates PodSecurity "restricted:latest"' \
        in refused.stderr
    created = server.kubectl("create", "deployment", "web", "-n", "locked", "--image=nginx")
    assert created.returncode == 0
    assert 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' \
        in created.stderr


def test_bad_labels_are_refused_and_tightening_warns_about_running_pods():
    api = api_with({})
    with pytest.raises(StatusError) as err:
        api.patch(NAMESPACES, None, "team", "merge",
                  {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "strict"}}})
    assert err.value.code == 422 and err.value.message == (
        'Namespace "team" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": '
        "must be one of privileged, baseline, restricted")
    for name in ("a", "b", "c"):
        api.create(PODS, "team", pod({**PLAIN, "hostNetwork": True}, name))
    api.create(PODS, "team", pod(PLAIN, "fine"))
    api.create(PODS, "team", pod({**PLAIN, "hostPID": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
                                 "d"))
    api.create(PODS, "team", pod({**PLAIN, "hostPID": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}]},
                                 "e"))
    warnings: list[str] = []
    api.patch(NAMESPACES, None, "team", "merge",
              {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}, warnings=warnings)
    assert warnings == ['existing pods in namespace "team" violate the new PodSecurity enforce level '
                        '"baseline:latest"', "a (and 2 other pods): host namespaces",
                        "d (and 1 other pod): host namespaces, hostPath volumes"]
    assert api.store.count("pods", "team") == 6  # nothing running is touched


@needs_kubectl
def test_a_server_dry_run_label_lists_what_a_level_would_break(server):
    assert server.kubectl("run", "web", "--image=nginx").returncode == 0
    checked = server.kubectl("label", "--dry-run=server", "--overwrite", "namespace", "default",
                             "pod-security.kubernetes.io/enforce=restricted")
    assert checked.returncode == 0
    assert checked.stderr.splitlines() == [
        'Warning: existing pods in namespace "default" violate the new PodSecurity enforce level "restricted:latest"',
        "Warning: web: allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, "
        "seccompProfile"]
    assert checked.stdout == "namespace/default labeled (server dry run)\n"
    labels = server.kubectl("get", "namespace", "default", "-o", "jsonpath={.metadata.labels}").stdout
    assert "pod-security.kubernetes.io/enforce" not in labels


def test_app_armor_names_who_set_an_unconfined_profile():
    spec = spec_with(c_appArmorProfile={"type": "Unconfined"})
    assert check("baseline", spec) == [
        ("forbidden AppArmor profile", 'container "web" must not set AppArmor profile type to "Unconfined"')]
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/web": "unconfined"}}
    assert check("baseline", spec_with(), meta) == [
        ("forbidden AppArmor profile", 'annotation must not set AppArmor profile type to '
                                       '"container.apparmor.security.beta.kubernetes.io/web=\\"unconfined\\""')]
    assert check("baseline", spec_with(), {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/web": "runtime/default"}}) == []


def test_selinux_and_unconfined_seccomp_details():
    spec = spec_with(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "Unconfined"},
                                      "seLinuxOptions": {"type": "spc_t"}},
                     c_seccompProfile={"type": "Unconfined"}, c_seLinuxOptions={"user": "root"})
    found = dict(check("baseline", spec))
    assert found["seLinuxOptions"] == ('pod and container "web" set forbidden securityContext.seLinuxOptions: '
                                       'type "spc_t"; user may not be set')
    assert found["seccompProfile"] == ('pod and container "web" must not set securityContext.seccompProfile.type '
                                       'to "Unconfined"')

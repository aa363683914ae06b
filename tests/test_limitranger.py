"""LimitRanger admission (minik8s.apiserver.admission.limitranger): defaults and bounds from LimitRanges."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver.admission.limitranger import ANNOTATION
from minik8s.apiserver.apiserver import APIServer
from minik8s.clock import VirtualClock
from minik8s.store import Store

from conftest import needs_kubectl

PODS = resources.lookup("pods")
CLAIMS = resources.lookup("persistentvolumeclaims")
LIMITRANGES = resources.lookup("limitranges")
NAMESPACES = resources.lookup("namespaces")


def api_with(*items: dict[str, Any]) -> APIServer:
    api = APIServer(Store(), VirtualClock())
    api.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    api.create(LIMITRANGES, "team", {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits"},
                                     "spec": {"limits": list(items)}})
    return api


def pod(name: str = "web", **resources_: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "web", "image": "nginx", "resources": resources_}]}}


DEFAULTS = {"type": "Container", "default": {"cpu": "500m", "memory": "512Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "256Mi"}}


def test_defaults_fill_in_what_a_container_does_not_say_and_the_annotation_tells():
    api = api_with(DEFAULTS)
    created = api.create(PODS, "team", pod())
    assert created["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    assert created["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web")


def test_what_the_container_sets_is_kept_and_only_the_rest_is_reported():
    api = api_with(DEFAULTS)
    created = api.create(PODS, "team", pod(limits={"cpu": "1"}, requests={"cpu": "1"}))
    assert created["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1", "memory": "512Mi"}
    assert created["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: memory request for container web; memory limit for container web")


def test_no_limitrange_no_annotation():
    api = APIServer(Store(), VirtualClock())
    created = api.create(PODS, "default", pod())
    assert ANNOTATION not in (created["metadata"].get("annotations") or {})


def refusal(api: APIServer, obj: dict[str, Any], resource=PODS) -> str:
    with pytest.raises(StatusError) as err:
        api.create(resource, "team", obj)
    assert err.value.code == 403
    return err.value.message


def test_max_refuses_with_every_violation_in_upstreams_words():
    api = api_with({"type": "Container", "max": {"cpu": "1", "memory": "1Gi"}})
    message = refusal(api, pod(limits={"cpu": "2", "memory": "2Gi"}))
    assert message == ('pods "web" is forbidden: [maximum cpu usage per Container is 1, but limit is 2, '
                       "maximum memory usage per Container is 1Gi, but limit is 2Gi]")
    assert api.store.count("pods", "team") == 0


def test_max_without_a_limit_and_min_without_a_request():
    api = api_with({"type": "Container", "max": {"memory": "1Gi"}}, {"type": "Container", "min": {"cpu": "100m"}})
    # The LimitRange defaulting gave the max as default limit (and as request): the pod gets in.
    api.create(PODS, "team", pod("ok", requests={"cpu": "200m"}))
    bare = APIServer(Store(), VirtualClock())
    bare.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    # Stored without API defaulting, the min has no default request to fall back on.
    bare.store.create(("limitranges", "team", "floor"), {
        "apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "floor", "namespace": "team"},
        "spec": {"limits": [{"type": "Container", "min": {"cpu": "100m"}}]}})
    assert refusal(bare, pod()) == \
        'pods "web" is forbidden: minimum cpu usage per Container is 100m.  No request is specified'
    assert refusal(bare, pod(requests={"cpu": "50m"})) == \
        'pods "web" is forbidden: minimum cpu usage per Container is 100m, but request is 50m'


def test_limit_to_request_ratio():
    api = api_with({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}})
    assert refusal(api, pod(limits={"cpu": "1"}, requests={"cpu": "250m"})) == \
        'pods "web" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000'
    api.create(PODS, "team", pod("ok", limits={"cpu": "1"}, requests={"cpu": "500m"}))


def test_pod_type_bounds_the_sum_of_the_containers():
    api = api_with({"type": "Pod", "max": {"cpu": "1"}})
    two = pod(limits={"cpu": "600m"}, requests={"cpu": "600m"})
    two["spec"]["containers"].append({"name": "side", "image": "busybox",
                                      "resources": {"limits": {"cpu": "600m"}, "requests": {"cpu": "600m"}}})
    assert refusal(api, two) == 'pods "web" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m'


def test_claims_are_bounded_by_their_storage_request():
    api = api_with({"type": "PersistentVolumeClaim", "min": {"storage": "1Gi"}, "max": {"storage": "10Gi"}})

    def claim(size: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}

    assert refusal(api, claim("20Gi"), CLAIMS) == \
        'persistentvolumeclaims "data" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, ' \
        "but request is 20Gi"
    assert refusal(api, claim("500Mi"), CLAIMS) == \
        'persistentvolumeclaims "data" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, ' \
        "but request is 500Mi"
    api.create(CLAIMS, "team", claim("5Gi"))


@needs_kubectl
def test_real_kubectl_sees_the_defaults_and_describes_the_limitrange(server):
    manifest = """
apiVersion: v1
kind: LimitRange
metadata: {name: limits, namespace: default}
spec:
  limits:
  - type: Container
    max: {memory: 1Gi}
    default: {cpu: 500m, memory: 512Mi}
    defaultRequest: {cpu: 100m, memory: 256Mi}
"""
    assert server.kubectl("apply", "-f", "-", stdin=manifest).returncode == 0
    assert server.kubectl("run", "web", "--image=nginx").returncode == 0
    got = server.kubectl("get", "pod", "web", "-o", "jsonpath={.spec.containers[0].resources.limits.memory}")
    assert got.stdout == "512Mi"
    refused = server.kubectl("run", "big", "--image=nginx", "--overrides",
                             '{"spec":{"containers":[{"name":"big","image":"nginx",'
                             '"resources":{"limits":{"memory":"2Gi"}}}]}}')
    assert refused.returncode == 1
    assert 'pods "big" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi' in refused.stderr
    described = server.kubectl("describe", "limitrange", "limits").stdout.splitlines()
    assert described[2].split() == ["Type", "Resource", "Min", "Max", "Default", "Request", "Default", "Limit",
                                    "Max", "Limit/Request", "Ratio"]
    # Upstream's rows come in map order; ours are sorted by resource.
    assert sorted(described[4:]) == ["Container   cpu       -    -    100m             500m           -",
                                     "Container   memory    -    1Gi  256Mi            512Mi          -"]
    ours = server.kubectl("describe", "limitrange", "limits", real=False).stdout.splitlines()
    assert ours[:4] == described[:4] and ours[4:] == sorted(described[4:])


def test_init_containers_are_defaulted_after_the_containers():
    api = api_with({"type": "Container", "default": {"cpu": "500m"}, "defaultRequest": {"cpu": "100m"}})
    obj = pod()
    obj["spec"]["initContainers"] = [{"name": "setup", "image": "busybox"}]
    created = api.create(PODS, "team", obj)
    assert created["metadata"]["annotations"][ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container web; cpu limit for container web; "
        "cpu request for init container setup; cpu limit for init container setup")
    assert created["spec"]["initContainers"][0]["resources"] == {"requests": {"cpu": "100m"},
                                                                "limits": {"cpu": "500m"}}


def test_an_inconsistent_limitrange_is_422():
    api = APIServer(Store(), VirtualClock())
    for item, message in (
            ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
             'spec.limits[0].min[cpu]: Invalid value: "2": min value 2 is greater than max value 1'),
            ({"type": "Container", "default": {"memory": "1Gi"}, "defaultRequest": {"memory": "2Gi"}},
             "default request value 2Gi is greater than default limit value 1Gi"),
            ({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}, "ratio 500m is less than 1"),
            ({"type": "Pod", "default": {"cpu": "1"}},
             "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'")):
        with pytest.raises(StatusError) as err:
            api.create(LIMITRANGES, "default", {"apiVersion": "v1", "kind": "LimitRange",
                                                "metadata": {"name": "bad"}, "spec": {"limits": [item]}})
        assert err.value.code == 422 and message in err.value.message, err.value.message
    assert api.store.count("limitranges", "default") == 0

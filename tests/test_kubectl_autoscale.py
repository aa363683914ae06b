"""``kubectl autoscale``, ``get hpa`` and ``describe hpa`` with the real kubectl (v1.32) against ``minik8s server``,
and ``minik8s kubectl`` printing the same (minik8s.kubectl.autoscale, minik8s.kubectl.describe.autoscaling)."""

from __future__ import annotations

import re

import yaml

from conftest import needs_kubectl, wait_for

AGE = re.compile(r"\b\d+(s|m\d*s?|h\d*m?|d\d*h?)\b( \(x\d+ over \d+(s|m\d*s?)\))?")

V2_HPA = """
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: tuned, labels: {team: a}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - {type: Resource, resource: {name: memory, target: {type: AverageValue, averageValue: 200Mi}}}
  - {type: ContainerResource, containerResource: {name: cpu, container: app, target: {type: Utilization, averageUtilization: 60}}}
  - {type: Pods, pods: {metric: {name: qps}, target: {type: AverageValue, averageValue: "10"}}}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 120
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
"""


def _same(server, *args: str) -> str:
    real = server.kubectl(*args)
    ours = server.kubectl(*args, real=False)
    assert (ours.returncode, AGE.sub("AGE", ours.stdout), ours.stderr.strip()) == \
        (real.returncode, AGE.sub("AGE", real.stdout), real.stderr.strip()), args
    return real.stdout


@needs_kubectl
def test_autoscale_get_and_describe_with_the_real_kubectl(server):
    assert server.kubectl("create", "deployment", "web", "--image=nginx").returncode == 0
    made = server.kubectl("autoscale", "deployment/web", "--min=2", "--max=8", "--cpu-percent=50")
    assert (made.returncode, made.stdout) == (0, "horizontalpodautoscaler.autoscaling/web autoscaled\n")
    # kubectl 1.32 sends autoscaling/v1; the object reads back in both versions
    v1 = yaml.safe_load(server.kubectl("get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml").stdout)
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 50 and v1["spec"]["minReplicas"] == 2
    v2 = yaml.safe_load(server.kubectl("get", "hpa", "web", "-o", "yaml").stdout)
    assert v2["apiVersion"] == "autoscaling/v2" and v2["spec"]["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    # ours creates the same object
    ours = server.kubectl("autoscale", "deployment", "web", "--name=w2", "--max=3", real=False)
    assert (ours.returncode, ours.stdout) == (0, "horizontalpodautoscaler.autoscaling/w2 autoscaled\n")
    assert _same(server, "autoscale", "deployment/web", "--name=w3", "--max=3", "--dry-run=client", "-o", "yaml")
    for bad in (["--max=3", "--min=5"], ["--max=3"]):   # bad bounds; "web" exists already
        _same(server, "autoscale", "deployment/web", *bad)
    # a missing --max: cobra's error, which kubectl 1.32 prints as a klog line and minik8s as "error: ..."
    real, ours = (server.kubectl("autoscale", "deployment/web", "--min=2", real=r) for r in (True, False))
    assert real.returncode == ours.returncode == 1
    assert 'required flag(s) \\"max\\" not set' in real.stderr and 'required flag(s) "max" not set' in ours.stderr
    _same(server, "autoscale", "deployment/nope", "--max=3")

    table = _same(server, "get", "hpa")
    assert table.splitlines()[0].split() == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert "Deployment/web   cpu: <unknown>/50%   2         8" in table
    assert server.kubectl("apply", "-f", "-", stdin=V2_HPA).returncode == 0
    _same(server, "get", "hpa", "tuned")
    described = _same(server, "describe", "hpa", "tuned")
    assert 'resource cpu of container "app" on pods  (as a percentage of request):  <unknown> / 60%' in described
    assert "      - Type: Pods  Value: 1  Period: 60 seconds" in described

    # The controller in the server's controller manager: below minReplicas it scales the Deployment up
    # through its scale subresource on its first sync, 15 s after the autoscaler was made.
    wait_for(lambda: "New size: 2" in server.kubectl("describe", "hpa", "web").stdout, timeout=45,
             what="the first sync of the autoscaler")
    described = _same(server, "describe", "hpa", "web")
    assert "Deployment pods:" in described and "Conditions:" in described
    assert "New size: 2; reason: Current number of replicas below Spec.MinReplicas" in described
    _same(server, "get", "horizontalpodautoscalers.v1.autoscaling", "web", "-o", "yaml")

"""Upstream's HorizontalPodAutoscaler walkthrough (php-apache), with the real kubectl against a served
virtual-clock cluster on the simulated runtime.

The walkthrough's load generator is a busybox loop of ``wget -q -O- http://php-apache``; the Service
spreads those requests over the ready pods, so each pod's share of the CPU they burn falls as pods are
added. The simulated runtime burns no CPU for a request: :func:`minik8s.lab.autoscaling.spread_load`
plays the load generator, sharing one total load among the ready pods every 15 s. A total of 610m is
305% of the one pod's 200m request, the figure the walkthrough shows. From there upstream's
algorithm gives what the walkthrough ends with, 7 replicas: an HPA without ``behavior`` (``kubectl
autoscale`` makes none) grows at most to max(2 × current, 4) per sync, so 1 → 4 although
ceil(1 × 305 / 50) = 7; then 610m over 4 pods is 76% of request, ceil(4 × 76 / 50) = 7; then 43%,
within the 0.1 tolerance, so 7 stays. Once the load stops, 1 replica after the 300 s scale-down
stabilization window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.autoscaling import spread_load
from minik8s.lab.session import InProcess
from tests.conftest import needs_kubectl
from tests.test_job_examples import Served

pytestmark = needs_kubectl

PHP_APACHE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: php-apache
spec:
  selector:
    matchLabels:
      run: php-apache
  template:
    metadata:
      labels:
        run: php-apache
    spec:
      containers:
      - name: php-apache
        image: registry.k8s.io/hpa-example
        ports:
        - containerPort: 80
        resources:
          limits:
            cpu: 500m
          requests:
            cpu: 200m
---
apiVersion: v1
kind: Service
metadata:
  name: php-apache
  labels:
    run: php-apache
spec:
  ports:
  - port: 80
  selector:
    run: php-apache
"""


@pytest.fixture
def served(tmp_path: Path) -> Any:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        yield Served(c, tmp_path)


def hpa_row(served: Served) -> list[str]:
    """NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS, as ``kubectl get hpa`` prints them."""
    line = served.ok("get", "hpa", "php-apache").splitlines()[1]
    name, reference, _, target, low, high, replicas, _ = line.split()   # TARGETS is "cpu: 0%/50%"
    return [name, reference, target, low, high, replicas]


def test_php_apache_scales_to_7_under_load_and_back_to_1_after_the_window(served: Served) -> None:
    assert served.ok("apply", "-f", "-", stdin=PHP_APACHE).splitlines() == [
        "deployment.apps/php-apache created", "service/php-apache created"]
    assert served.ok("autoscale", "deployment", "php-apache", "--cpu-percent=50", "--min=1", "--max=10") == \
        "horizontalpodautoscaler.autoscaling/php-apache autoscaled\n"
    served.cluster.advance(60)
    assert hpa_row(served) == ["php-apache", "Deployment/php-apache", "0%/50%", "1", "10", "1"]
    # One request of the walkthrough's load generator, through the Service:
    served.ok("run", "load-generator", "--image=busybox:1.28", "--restart=Never", "--",
              "/bin/sh", "-c", "wget -q -O- http://php-apache")
    served.cluster.advance(10)
    assert served.ok("logs", "load-generator").startswith("OK!")   # (the simulated log ends each write with a newline)
    served.ok("delete", "pod", "load-generator")
    served.cluster.advance(5)   # back in step with the 15 s syncs, so the load starts just after one
    backend = InProcess(served.cluster)
    seen, targets = [], []
    for _ in range(8):   # two virtual minutes of load, a sample every 15 s
        spread_load(backend, "run=php-apache", 610, "php-apache")
        served.cluster.advance(15)
        seen.append(int(hpa_row(served)[5]))
        targets.append(hpa_row(served)[2])
    assert seen == [1, 1, 4, 7, 7, 7, 7, 7] and targets[1] == "305%/50%" and targets[-1] == "43%/50%", targets
    assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in \
        served.ok("describe", "hpa", "php-apache")
    quiet = []
    for _ in range(24):   # the load stops: six virtual minutes
        spread_load(backend, "run=php-apache", 0, "php-apache")
        served.cluster.advance(15)
        quiet.append(int(hpa_row(served)[5]))
    first = quiet.index(1)
    assert set(quiet[:first]) == {7} and set(quiet[first:]) == {1} and 300 <= (first + 1) * 15 <= 345, quiet

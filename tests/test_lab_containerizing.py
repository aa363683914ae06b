"""Lab 19's checks say what is still wrong, one thing at a time."""

from __future__ import annotations

from typing import Iterator

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.checks import evaluate
from minik8s.lab.exercises.containerizing import APP, CONFIG, DEPLOYMENT, IMAGE, SERVICE
from minik8s.lab.session import ClusterView, InProcess


@pytest.fixture
def lab() -> Iterator[tuple[Cluster, ClusterView]]:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply(APP.replace(IMAGE, "nginx:1.27"))   # an image the simulated runtime runs
        cluster.advance(10)
        yield cluster, ClusterView(InProcess(cluster))


def test_port_hints_follow_the_chain_from_config_to_service(lab):
    cluster, view = lab
    assert "PORT=8080" in evaluate("containerizing-port", view)[1]
    cluster.apply(CONFIG.replace('"8080"', '"9090"'))
    assert "declares port(s) [8080]" in evaluate("containerizing-port", view)[1]
    # A probe that names the number, not the port's name, stays behind when the port moves.
    moved = DEPLOYMENT.replace(IMAGE, "nginx:1.27").replace("containerPort: 8080", "containerPort: 9090")
    cluster.apply(moved.replace("port: http\n          periodSeconds: 5", "port: 8080\n          periodSeconds: 5"))
    assert evaluate("containerizing-port", view) == (False, "Deployment web's livenessProbe asks port 8080, "
                                                            "which is not 9090")
    cluster.apply(moved)
    cluster.apply(SERVICE.replace("targetPort: http", "targetPort: 8080"))
    assert "Service web sends traffic to port(s) [8080]" in evaluate("containerizing-port", view)[1]
    cluster.apply(SERVICE)
    cluster.advance(10)
    assert evaluate("containerizing-port", view) == (True, "passed")


@pytest.mark.parametrize("context, hint", [
    ("      securityContext:\n        runAsNonRoot: true\n", "no runAsUser"),
    ("      securityContext:\n        runAsNonRoot: true\n        runAsUser: 0\n", "runAsUser: 0, which is root"),
    ("      securityContext:\n        runAsNonRoot: true\n        runAsUser: 10001\n", "allowPrivilegeEscalation"),
])
def test_nonroot_hints(lab, context, hint):
    cluster, view = lab
    cluster.apply(DEPLOYMENT.replace(IMAGE, "nginx:1.27").replace("    spec:\n      termination",
                                                                  "    spec:\n" + context + "      termination"))
    passed, message = evaluate("containerizing-nonroot", view)
    assert not passed and hint in message

"""The shared controller loop (:mod:`minik8s.controllers.controller`): a reconcile that raises."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from minik8s.cluster import Cluster
from minik8s.controllers.replicaset import ReplicaSetController

REPLICASET = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: nginx, image: nginx:1.27}]}
"""


def test_a_reconcile_that_raises_is_logged_and_retried_and_the_cluster_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as cluster:
        controller = next(c for c in cluster.components if isinstance(c, ReplicaSetController))
        real = controller.reconcile
        calls: list[Any] = []

        def buggy(key: Any) -> None:
            calls.append(key)
            if len(calls) <= 2:
                raise KeyError("a bug")
            real(key)

        controller.reconcile = buggy  # type: ignore[method-assign]
        with caplog.at_level(logging.ERROR, logger="minik8s.controllers.controller"):
            cluster.apply(REPLICASET)
            cluster.kubectl("run lone --image=nginx:1.27")  # other components go on meanwhile
            assert cluster.kubectl("get pod lone -o jsonpath={.spec.nodeName}") == "node-1"
            assert "web-" not in cluster.kubectl("get pods")
            cluster.advance(2)  # the back-off: 0.5 s, then 1 s
        assert len(calls) >= 3
        assert cluster.kubectl("get rs web -o jsonpath={.status.readyReplicas}") == "2"
        assert [r.getMessage() for r in caplog.records].count(
            "replicaset-controller: reconcile ('default', 'web') raised; retrying in 0.5s") == 1

"""Per-kind write rules (minik8s.apiserver.strategy), through the API server's verbs."""

from __future__ import annotations

import base64

from minik8s import Cluster
from minik8s.api import resources


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_secret_string_data_is_merged_into_data_and_never_stored():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        cluster.apply("""
apiVersion: v1
kind: Secret
metadata: {name: db}
data: {user: %s, password: %s}
stringData: {password: s3cret, host: db.local}
""" % (_b64("admin"), _b64("old")))
        secret = cluster.api.get(resources.lookup("secrets"), "default", "db")
        assert "stringData" not in secret
        # stringData wins over a key that data has too, as upstream's conversion does.
        assert secret["data"] == {"user": _b64("admin"), "password": _b64("s3cret"), "host": _b64("db.local")}
        assert cluster.kubectl("get secret db").splitlines()[1].split()[:3] == ["db", "Opaque", "3"]
        # An update with stringData is merged too.
        cluster.kubectl("""patch secret db --type merge -p '{"stringData":{"port":"5432"}}'""")
        secret = cluster.api.get(resources.lookup("secrets"), "default", "db")
        assert secret["data"]["port"] == _b64("5432") and "stringData" not in secret

"""The informer's listers against the API server they mirror: a namespace's list is what the server lists."""

from __future__ import annotations

import random

from minik8s import Cluster
from minik8s.api import resources
from minik8s.client.informer import Informer

CONFIGMAPS = resources.lookup("configmaps")
NAMESPACES = resources.lookup("namespaces")


def names(objects: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def mine(objects: list[dict]) -> dict[str, int]:
    """The test's ConfigMaps (not the root CA's, which a controller may publish) and the step each holds."""
    return {o["metadata"]["name"]: int(o["data"]["step"]) for o in objects if o["metadata"]["name"].startswith("cm-")}


def test_a_namespace_lists_what_the_server_lists_through_creates_updates_and_deletes() -> None:
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as cluster:
        client = cluster.client
        for ns in ("team-a", "team-b"):
            client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        informer = Informer(client, CONFIGMAPS)
        informer.start()
        rng = random.Random(7)
        live: dict[tuple[str, str], int] = {}
        for step in range(300):
            ns, name = rng.choice(["team-a", "team-b", "default"]), f"cm-{rng.randrange(12)}"
            if (ns, name) not in live:
                client.create(CONFIGMAPS, {"apiVersion": "v1", "kind": "ConfigMap",
                                           "metadata": {"name": name}, "data": {"step": str(step)}}, ns)
                live[(ns, name)] = step
            elif rng.random() < 0.5:
                client.patch(CONFIGMAPS, name, {"data": {"step": str(step)}}, ns)
                live[(ns, name)] = step
            else:
                client.delete(CONFIGMAPS, name, ns)
                del live[(ns, name)]
            if step % 25 == 0 or step == 299:
                informer.pump()
                for namespace in ("team-a", "team-b", "default", "empty"):
                    expected = {n: s for (n_ns, n), s in live.items() if n_ns == namespace}
                    assert mine(informer.list(namespace)) == expected, (step, namespace)
                    served = client.list(CONFIGMAPS, namespace)["items"]
                    assert sorted(names(informer.list(namespace))) == sorted(names(served))
                everywhere = {(o["metadata"]["namespace"], o["metadata"]["name"]) for o in informer.list()
                              if o["metadata"]["name"].startswith("cm-")}
                assert everywhere == set(live)
        informer.stop()

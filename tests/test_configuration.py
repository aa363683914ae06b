"""ConfigMaps and Secrets reaching a running pod on the ``process`` runtime: the atomic writer's
layout, items and modes, updates within the kubelet's volume sync period, subPath and env that
are not updated, and a pod that waits for a missing ConfigMap until it appears.

Waits poll a condition with a deadline; the volume sync period is shortened for the test.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from minik8s.kubelet import podworker
from minik8s.kubelet.runtimes.process.filesystem import DATA_LINK, write_atomically
from conftest import wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the process runtime needs Linux")


# --- the atomic writer alone ----------------------------------------------------------------------


def test_atomic_writer_layout_and_update(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    assert write_atomically(folder, {"color": (b"blue", 0o644), "nested/app.conf": (b"x=1\n", 0o400)}, "cfg")
    generation = os.readlink(folder / DATA_LINK)
    assert generation.startswith("..") and len(generation) == len("..2026_12_05_16_00_00.123456789")
    assert os.readlink(folder / "color") == "..data/color" and os.readlink(folder / "nested") == "..data/nested"
    assert (folder / "nested" / "app.conf").read_text() == "x=1\n"
    assert stat.S_IMODE((folder / "nested" / "app.conf").stat().st_mode) == 0o400
    assert not write_atomically(folder, {"color": (b"blue", 0o644), "nested/app.conf": (b"x=1\n", 0o400)}, "cfg")
    assert os.readlink(folder / DATA_LINK) == generation  # nothing changed: no new generation
    assert write_atomically(folder, {"color": (b"red", 0o644)}, "cfg")
    assert (folder / "color").read_text() == "red"
    assert not (folder / "nested").exists() and not (folder / generation).exists()  # old generation gone
    assert sorted(os.listdir(folder)) == sorted([DATA_LINK, "color", os.readlink(folder / DATA_LINK)])


def test_a_projected_source_type_can_be_added(monkeypatch: pytest.MonkeyPatch) -> None:
    from minik8s.kubelet.runtimes.process import filesystem

    def token(source: dict, ctx: filesystem.SourceContext) -> filesystem.Files:
        return {str(source.get("path")): (f"token-for-{ctx.pod['metadata']['name']}".encode(), ctx.default_mode)}

    monkeypatch.setitem(filesystem.PROJECTED_SOURCES, "serviceAccountToken", token)
    pod = {"metadata": {"name": "p", "namespace": "default"}}
    volume = {"name": "kube-api-access", "projected": {"defaultMode": 0o420, "sources": [
        {"serviceAccountToken": {"path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}}]}}
    lookup = {("configmaps", "default", "kube-root-ca.crt"): {"data": {"ca.crt": "PEM"}}}
    files = filesystem.volume_files(pod, volume, lambda kind, ns, name: lookup.get((kind, ns, name)))
    assert files == {"token": (b"token-for-p", 0o420), "ca.crt": (b"PEM", 0o420)}


def test_optional_sources_and_missing_keys() -> None:
    from minik8s.kubelet.runtimes.process.filesystem import MountError, volume_files

    pod = {"metadata": {"name": "p", "namespace": "default"}}
    objects = {("configmaps", "default", "cfg"): {"data": {"a": "1"}}}

    def files(volume: dict) -> object:
        return volume_files(pod, {"name": "v", **volume}, lambda kind, ns, name: objects.get((kind, ns, name)))

    assert files({"configMap": {"name": "gone", "optional": True}}) == {}
    assert files({"secret": {"secretName": "gone", "optional": True}}) == {}
    assert files({"configMap": {"name": "cfg", "optional": True, "items": [{"key": "b", "path": "b"}]}}) == {}
    with pytest.raises(MountError, match='volume "v" : configmap references non-existent config key: b'):
        files({"configMap": {"name": "cfg", "items": [{"key": "b", "path": "b"}]}})
    with pytest.raises(MountError, match='MountVolume.SetUp failed for volume "v" : secret "gone" not found'):
        files({"secret": {"secretName": "gone"}})
    assert files({"emptyDir": {}}) is None   # not a kind the atomic writer publishes


# --- a process cluster ----------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from minik8s import Cluster

    monkeypatch.setenv("MINIK8S_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(podworker, "VOLUME_RESYNC_SECONDS", 1.0)
    c = Cluster(nodes=1, runtime="process", data_dir=tmp_path / "cluster")
    yield c
    c.stop()


def kubectl(cluster: Any, *words: str) -> str:
    return str(cluster.kubectl(list(words)))


def waiting_reason(cluster: Any, name: str) -> tuple[str, str]:
    pod = json.loads(kubectl(cluster, "get", "pod", name, "-o", "json"))
    statuses = (pod.get("status") or {}).get("containerStatuses") or [{}]
    waiting = (statuses[0].get("state") or {}).get("waiting") or {}
    return waiting.get("reason", ""), waiting.get("message", "")


def running(cluster: Any, name: str) -> bool:
    return json.loads(kubectl(cluster, "get", "pod", name, "-o", "json")).get("status", {}).get("phase") == "Running"


def config(color: str) -> str:
    return f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: app}}
data: {{color: {color}, app.conf: "mode={color}\\n", unused: x}}
"""


POD = """
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  volumes:
  - {name: cfg, configMap: {name: app}}
  - {name: picked, configMap: {name: app, defaultMode: 0444, items: [{key: color, path: colors/now},
                                                                       {key: app.conf, path: app.conf, mode: 0404}]}}
  - name: both
    projected:
      sources:
      - configMap: {name: app, items: [{key: color, path: color}]}
      - secret: {name: pw}
      - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "sleep 3600"]
    env: [{name: COLOR, valueFrom: {configMapKeyRef: {name: app, key: color}}}]
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: picked, mountPath: /etc/picked}
    - {name: both, mountPath: /etc/both}
    - {name: cfg, mountPath: /etc/fixed.conf, subPath: app.conf}
"""


def exec_out(cluster: Any, *command: str) -> str:
    return kubectl(cluster, "exec", "reader", "--", *command)


def test_configmap_reaches_a_running_pod(cluster: Any) -> None:
    cluster.apply(config("blue"))
    kubectl(cluster, "create", "secret", "generic", "pw", "--from-literal=password=s3cr3t")
    cluster.apply(POD)
    wait_for(lambda: running(cluster, "reader"), what="the pod to run")
    # The atomic writer's layout, as seen from inside the container.
    listing = exec_out(cluster, "ls", "-a", "/etc/cfg").split()
    assert {"..data", "app.conf", "color", "unused"} <= set(listing)
    assert any(name.startswith("..20") for name in listing)
    assert exec_out(cluster, "cat", "/etc/cfg/color") == "blue"
    # items (key -> path), defaultMode and a per-item mode, on the node's disk (readable by others: the
    # container runs as nobody, and a 0400 file of root's would be as unreadable to it as upstream)
    assert exec_out(cluster, "cat", "/etc/picked/colors/now") == "blue"
    assert exec_out(cluster, "ls", "/etc/picked").split() == ["app.conf", "colors"]
    volumes = next(Path(cluster.data_dir).rglob("kubernetes.io~configmap/picked"))
    assert stat.S_IMODE((volumes / "colors" / "now").stat().st_mode) == 0o444
    assert stat.S_IMODE((volumes / "app.conf").stat().st_mode) == 0o404
    # a projected volume merges its sources
    assert exec_out(cluster, "cat", "/etc/both/color", "/etc/both/password", "/etc/both/name") == "blues3cr3treader"

    cluster.apply(config("green"))
    wait_for(lambda: exec_out(cluster, "cat", "/etc/cfg/color") == "green", what="the mounted file to change")
    wait_for(lambda: exec_out(cluster, "cat", "/etc/both/color") == "green", what="the projected file to change")
    assert exec_out(cluster, "cat", "/etc/picked/app.conf") == "mode=green\n"
    # ... but not the subPath mount, nor the environment: both were fixed when the container started
    assert exec_out(cluster, "cat", "/etc/fixed.conf") == "mode=blue\n"
    assert exec_out(cluster, "sh", "-c", "echo $COLOR") == "blue\n"


MISSING = """
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  {volumes}
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "sleep 3600"]
    {extra}
"""


def events(cluster: Any, name: str) -> str:
    return kubectl(cluster, "get", "events", "--field-selector", f"involvedObject.name={name}")


def test_missing_configmap_holds_the_pod_until_it_appears(cluster: Any) -> None:
    cluster.apply(MISSING.format(name="envy", volumes="",
                                 extra="env: [{name: X, valueFrom: {configMapKeyRef: {name: late, key: k}}}]"))
    cluster.apply(MISSING.format(name="mounty", volumes="volumes: [{name: cfg, configMap: {name: later}}]",
                                 extra="volumeMounts: [{name: cfg, mountPath: /etc/cfg}]"))
    assert wait_for(lambda: waiting_reason(cluster, "envy")[0] == "CreateContainerConfigError"
                    and waiting_reason(cluster, "envy"), what="CreateContainerConfigError") == \
        ("CreateContainerConfigError", 'configmap "late" not found')
    wait_for(lambda: 'Error: configmap "late" not found' in events(cluster, "envy"), what="the Failed event")
    assert "Failed" in events(cluster, "envy")
    wait_for(lambda: "FailedMount" in events(cluster, "mounty"), what="the FailedMount event")
    assert 'MountVolume.SetUp failed for volume "cfg" : configmap "later" not found' in events(cluster, "mounty")
    assert waiting_reason(cluster, "mounty")[0] == "ContainerCreating"
    assert not running(cluster, "envy") and not running(cluster, "mounty")

    kubectl(cluster, "create", "configmap", "late", "--from-literal=k=v")
    kubectl(cluster, "create", "configmap", "later", "--from-literal=k=v")
    wait_for(lambda: running(cluster, "envy") and running(cluster, "mounty"), timeout=40,
             what="both pods to start once their ConfigMaps exist")


# --- the simulated runtime: the same behaviour on a virtual clock ---------------------------------

SIM_POD = """
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  volumes: [{name: cfg, configMap: {name: app}}]
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "sleep 3600"]
    env: [{name: COLOR, valueFrom: {configMapKeyRef: {name: app, key: color}}}]
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: cfg, mountPath: /etc/fixed.conf, subPath: app.conf}
"""


def test_simulated_runtime_waits_for_the_configmap_then_follows_it():
    from minik8s import Cluster

    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=1) as c:
        c.apply(SIM_POD)
        c.run_until_stable()
        assert "FailedMount" in events(c, "reader")
        assert "Pulling" not in events(c, "reader")   # volumes come before images, as upstream
        assert 'MountVolume.SetUp failed for volume "cfg" : configmap "app" not found' in events(c, "reader")
        assert waiting_reason(c, "reader")[0] == "ContainerCreating"
        assert "ContainerCreating" in kubectl(c, "get", "pod", "reader")

        c.apply(config("blue"))
        c.advance(podworker.SYNC_ERROR_RETRY_SECONDS + 2)  # the retry, then the image pull
        assert running(c, "reader")
        assert kubectl(c, "exec", "reader", "--", "cat", "/etc/cfg/color") == "blue"
        assert kubectl(c, "exec", "reader", "--", "cat", "/etc/fixed.conf") == "mode=blue\n"

        c.apply(config("green"))
        c.run_until_stable()
        assert kubectl(c, "exec", "reader", "--", "cat", "/etc/cfg/color") == "blue"  # not before the sync
        c.advance(podworker.VOLUME_RESYNC_SECONDS)
        assert kubectl(c, "exec", "reader", "--", "cat", "/etc/cfg/color") == "green"
        assert kubectl(c, "exec", "reader", "--", "cat", "/etc/fixed.conf") == "mode=blue\n"
        assert kubectl(c, "exec", "reader", "--", "sh", "-c", "echo $COLOR") == "blue\n"


def test_simulated_runtime_env_from_a_missing_configmap_is_a_config_error():
    from minik8s import Cluster

    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=1) as c:
        c.apply(MISSING.format(name="envy", volumes="",
                               extra="env: [{name: X, valueFrom: {configMapKeyRef: {name: late, key: k}}}]"))
        c.advance(2)  # the image pull
        assert waiting_reason(c, "envy") == ("CreateContainerConfigError", 'configmap "late" not found')
        assert 'Error: configmap "late" not found' in events(c, "envy")
        assert "CreateContainerConfigError" in kubectl(c, "get", "pod", "envy")
        kubectl(c, "create", "configmap", "late", "--from-literal=k=v")
        c.advance(podworker.SYNC_ERROR_RETRY_SECONDS)
        assert running(c, "envy")
        assert kubectl(c, "exec", "envy", "--", "sh", "-c", "echo $X") == "v\n"

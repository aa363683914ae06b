"""``kubectl rollout`` on a DaemonSet: status, history (with --revision, -o), undo (--to-revision),
restart, and pause/resume refused, with the real kubectl against ``minik8s server`` and with ours."""

from __future__ import annotations

from typing import Any

import pytest

from minik8s.cluster import Cluster, KubectlError
from conftest import needs_kubectl, start_server, wait_for

AGENT = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: "nginx:1.25"}]
"""


def test_rollout_status_messages_during_an_update() -> None:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(AGENT)
        assert c.kubectl("rollout status ds/agent --watch=false") == (
            'Waiting for daemon set "agent" rollout to finish: 0 of 3 updated pods are available...\n')
        c.advance(10)
        assert c.kubectl("rollout status ds/agent") == 'daemon set "agent" successfully rolled out\n'
        c.kubectl("set image ds/agent a=nginx:1.26")
        seen = []
        for _ in range(40):
            message = c.kubectl("rollout status ds/agent --watch=false")
            if message not in seen:
                seen.append(message)
            c.advance(0.5)
        assert ('Waiting for daemon set "agent" rollout to finish: 1 out of 3 new pods have been updated...\n'
                in seen)
        assert ('Waiting for daemon set "agent" rollout to finish: 2 out of 3 new pods have been updated...\n'
                in seen)
        assert seen[-1] == 'daemon set "agent" successfully rolled out\n'


def test_rollout_status_refuses_on_delete() -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(AGENT.replace("spec:\n  selector", "spec:\n  updateStrategy: {type: OnDelete}\n  selector"))
        with pytest.raises(KubectlError) as err:
            c.kubectl("rollout status ds/agent")
        assert "rollout status is only available for RollingUpdate strategy type" in str(err.value)


def roll_out(server: Any, name: str, images: tuple[str, ...]) -> None:
    """DaemonSet ``name`` at one revision per image, each rolled out."""
    assert server.kubectl("apply", "-f", "-", stdin=AGENT.replace("agent", name)).returncode == 0
    for image in images[1:]:
        assert server.kubectl("rollout", "status", f"ds/{name}", "--timeout=60s").returncode == 0
        assert server.kubectl("set", "image", f"ds/{name}", f"a={image}").returncode == 0
    assert server.kubectl("rollout", "status", f"ds/{name}", "--timeout=60s").returncode == 0


@pytest.fixture(scope="module")
def served(tmp_path_factory: Any) -> Any:
    """A served 3-node cluster with agent at revisions 1 (nginx:1.25), 2 (1.26), 3 (1.27)."""
    server = start_server(tmp_path_factory.mktemp("ds-rollout"), "--nodes", "3", "--runtime", "simulated")
    try:
        roll_out(server, "agent", ("nginx:1.25", "nginx:1.26", "nginx:1.27"))
        yield server
    finally:
        server.stop()


def both(server: Any, *args: str) -> tuple[Any, Any]:
    """The same command from the real kubectl and from ours."""
    return server.kubectl(*args), server.kubectl(*args, real=False)


@needs_kubectl
def test_history_matches_the_real_kubectl(served: Any) -> None:
    real, ours = both(served, "rollout", "history", "ds/agent")
    assert real.stdout == ours.stdout == ("daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         <none>\n"
                                          "2         <none>\n3         <none>\n\n")
    real, ours = both(served, "rollout", "history", "ds/agent", "--revision=2")
    assert real.stdout == ours.stdout and "with revision #2" in real.stdout and "Image:\tnginx:1.26" in real.stdout
    for output in ("yaml", "name"):
        real, ours = both(served, "rollout", "history", "ds/agent", "--revision=1", "-o", output)
        assert real.returncode == ours.returncode == 0 and real.stdout == ours.stdout
    real, ours = both(served, "rollout", "history", "ds/agent", "--revision=9")
    assert real.returncode == ours.returncode == 1
    assert real.stderr == ours.stderr == "error: unable to find the specified revision\n"


@needs_kubectl
@pytest.mark.parametrize("real", [True, False], ids=["real-kubectl", "minik8s-kubectl"])
def test_pause_and_resume_are_refused(served: Any, real: bool) -> None:
    for verb in ("pause", "resume"):
        done = served.kubectl("rollout", verb, "ds/agent", real=real)
        assert done.returncode == 1
        assert done.stderr == f'error: daemonsets.apps "agent" {verb[:-1]}ing is not supported\n'


@needs_kubectl
@pytest.mark.parametrize("real", [True, False], ids=["real-kubectl", "minik8s-kubectl"])
def test_undo_to_a_revision_then_restart(served: Any, real: bool) -> None:
    name = "undo-real" if real else "undo-ours"
    roll_out(served, name, ("nginx:1.25", "nginx:1.26", "nginx:1.27"))

    def image() -> str:
        return served.kubectl("get", "ds", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout

    def settled() -> bool:
        return served.kubectl("rollout", "status", f"ds/{name}", "--watch=false").stdout.startswith("daemon set")

    undo = served.kubectl("rollout", "undo", f"ds/{name}", "--to-revision=1", real=real)
    assert (undo.returncode, undo.stdout) == (0, f"daemonset.apps/{name} rolled back\n")
    assert image() == "nginx:1.25"
    wait_for(settled, timeout=60, what="the undo rolled out")
    # Revision 1 became the newest revision, 4 (its number moves up), as upstream.
    history = served.kubectl("rollout", "history", f"ds/{name}", real=real).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line] == ["2", "3", "4"]
    missing = served.kubectl("rollout", "undo", f"ds/{name}", "--to-revision=99", real=real)
    assert (missing.returncode, missing.stderr) == (1, "error: unable to find specified revision 99 in history\n")
    restart = served.kubectl("rollout", "restart", f"ds/{name}", real=real)
    assert (restart.returncode, restart.stdout) == (0, f"daemonset.apps/{name} restarted\n")
    annotations = served.kubectl("get", "ds", name, "-o", "jsonpath={.spec.template.metadata.annotations}").stdout
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    wait_for(settled, timeout=60, what="the restart rolled out")
    back = served.kubectl("rollout", "undo", f"ds/{name}", real=real)   # the revision before the restart
    assert back.returncode == 0 and image() == "nginx:1.25"
    assert "restartedAt" not in served.kubectl("get", "ds", name, "-o",
                                               "jsonpath={.spec.template.metadata.annotations}").stdout

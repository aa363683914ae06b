"""kubectl scale, set image, rollout and edit (minik8s.kubectl.workloads), in-process and with the real kubectl."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from minik8s.api import resources
from minik8s.cluster import Cluster, KubectlError
from minik8s.controllers import rollout as ro
from minik8s.kubectl.main import run
from minik8s.kubectl.workloads import parse_timeout, rollout_status_message

from conftest import WEB_STATEFULSET

from conftest import needs_kubectl, start_server

DEPLOY = resources.lookup("deploy")
RS = resources.lookup("rs")

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
spec:
  replicas: 2
  selector:
    matchLabels: {app: nginx}
  template:
    metadata:
      labels: {app: nginx}
    spec:
      containers:
      - name: container-0
        image: nginx
"""


@pytest.fixture
def cluster(tmp_path):
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)
        c.kubectl(["create", "-f", str(tmp_path / "deployment.yaml")])
        c.advance(30)
        yield c


def sed_editor(tmp_path: Path, expression: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text(f"#!/bin/sh\nsed -i '{expression}' \"$1\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_rollout_status_messages_follow_upstream():
    d = {"metadata": {"name": "nginx", "generation": 2}, "spec": {"replicas": 2}, "status": {"observedGeneration": 1}}
    assert rollout_status_message(d) == ("Waiting for deployment spec update to be observed...", False)
    d["status"] = {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}
    assert rollout_status_message(d)[0] == \
        'Waiting for deployment "nginx" rollout to finish: 1 out of 2 new replicas have been updated...'
    d["status"].update(updatedReplicas=2)
    assert rollout_status_message(d)[0] == \
        'Waiting for deployment "nginx" rollout to finish: 1 old replicas are pending termination...'
    d["status"].update(replicas=2, availableReplicas=1)
    assert rollout_status_message(d)[0] == \
        'Waiting for deployment "nginx" rollout to finish: 1 of 2 updated replicas are available...'
    d["status"].update(availableReplicas=2)
    assert rollout_status_message(d) == ('deployment "nginx" successfully rolled out', True)


def test_parse_timeout():
    assert parse_timeout("0s") == 0 and parse_timeout("90s") == 90 and parse_timeout("1m30s") == 90
    assert parse_timeout("2h") == 7200


def test_the_seed_walkthrough_in_process(cluster, tmp_path, monkeypatch):
    assert "nginx   2/2     2            2" in cluster.kubectl("get deploy")
    pods = cluster.kubectl("get pods").splitlines()[1:]
    assert len(pods) == 2 and all("Running" in line for line in pods)
    victim = pods[0].split()[0]
    assert cluster.kubectl(f"delete pod {victim}") == f'pod "{victim}" deleted\n'
    cluster.advance(60)
    pods_after = [line.split()[0] for line in cluster.kubectl("get pods").splitlines()[1:]]
    assert len(pods_after) == 2 and victim not in pods_after
    [rs_line] = cluster.kubectl("get rs").splitlines()[1:]
    first_rs = rs_line.split()[0]
    assert rs_line.split()[1:4] == ["2", "2", "2"]
    described = cluster.kubectl("describe deploy nginx")
    assert f"NewReplicaSet:   {first_rs} (2/2 replicas created)" in described
    assert f"Scaled up replica set {first_rs} to 2" in described
    monkeypatch.setenv("EDITOR", sed_editor(tmp_path, "s/image: nginx$/image: nginx:alpine/"))
    monkeypatch.delenv("KUBE_EDITOR", raising=False)
    assert cluster.kubectl("edit deploy nginx") == "deployment.apps/nginx edited\n"
    assert "kubectl-edit" in cluster.kubectl("get deploy nginx -o jsonpath={.metadata.managedFields[*].manager}")
    cluster.advance(120)
    rows = {line.split()[0]: line.split()[1:4] for line in cluster.kubectl("get rs").splitlines()[1:]}
    assert rows[first_rs] == ["0", "0", "0"] and len(rows) == 2
    assert cluster.kubectl("rollout undo deploy/nginx") == "deployment.apps/nginx rolled back\n"
    cluster.advance(120)
    rows = {line.split()[0]: line.split()[1:4] for line in cluster.kubectl("get rs").splitlines()[1:]}
    assert rows[first_rs] == ["2", "2", "2"]


def test_edit_without_changes_is_cancelled(cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBE_EDITOR", sed_editor(tmp_path, "s/no-such-text/x/"))
    code, out, err = run("edit deploy nginx", client=cluster.client, clock=cluster.clock)
    assert (code, out, err) == (0, "", "Edit cancelled, no changes made.\n")


def test_scale_and_set_image(cluster):
    assert cluster.kubectl("scale deploy/nginx --replicas=3") == "deployment.apps/nginx scaled\n"
    assert cluster.client.get(DEPLOY, "nginx", "default")["spec"]["replicas"] == 3
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("scale deploy/nginx --current-replicas=5 --replicas=1")
    assert err.value.message == "error: Expected replicas to be 5, was 3"
    assert cluster.kubectl("set image deploy/nginx container-0=nginx:alpine") == \
        "deployment.apps/nginx image updated\n"
    d = cluster.client.get(DEPLOY, "nginx", "default")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:alpine"
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("set image deploy/nginx nope=nginx")
    assert err.value.message == 'error: unable to find container named "nope"'


def test_rollout_status_follows_the_rollout_on_a_virtual_clock(cluster):
    cluster.kubectl("set image deploy/nginx container-0=nginx:alpine")
    code, out, err = run("rollout status deploy/nginx", client=cluster.client, clock=cluster.clock,
                         settle=lambda: cluster.advance(1))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == 'deployment "nginx" successfully rolled out'
    assert any(line.startswith('Waiting for deployment "nginx" rollout to finish: ') for line in lines[:-1])
    assert len(lines) == len(set(lines))


def test_rollout_status_times_out_when_nothing_can_progress():
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(DEPLOYMENT)
        code, out, err = run("rollout status deploy/nginx --timeout=30s", client=c.client, clock=c.clock,
                             settle=lambda: c.advance(5))
        assert code == 1 and err == "error: timed out waiting for the condition\n"
        assert out.startswith('Waiting for deployment "nginx" rollout to finish: 0 of 2 updated replicas')


def test_rollout_history_and_undo_to_revision(cluster):
    cluster.kubectl("set image deploy/nginx container-0=nginx:alpine")
    cluster.advance(120)
    assert cluster.kubectl("rollout history deploy/nginx") == (
        "deployment.apps/nginx \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n")
    shown = cluster.kubectl("rollout history deploy/nginx --revision=2")
    assert shown.startswith("deployment.apps/nginx with revision #2\nPod Template:\n")
    assert "nginx:alpine" in shown
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("rollout undo deploy/nginx --to-revision=5")
    assert err.value.message == "error: unable to find specified revision 5 in history"
    assert cluster.kubectl("rollout undo deploy/nginx --to-revision=1") == "deployment.apps/nginx rolled back\n"
    cluster.advance(120)
    d = cluster.client.get(DEPLOY, "nginx", "default")
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert d["metadata"]["annotations"][ro.REVISION] == "3"


def test_pause_resume_restart(cluster):
    assert cluster.kubectl("rollout pause deploy/nginx") == "deployment.apps/nginx paused\n"
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("rollout pause deploy/nginx")
    assert err.value.message == 'error: deployments.apps "nginx" is already paused'
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("rollout restart deploy/nginx")
    assert "can't restart paused deployment" in err.value.message
    assert cluster.kubectl("rollout resume deploy/nginx") == "deployment.apps/nginx resumed\n"
    before = {rs["metadata"]["name"] for rs in cluster.client.list(RS, "default")["items"]}
    assert cluster.kubectl("rollout restart deploy/nginx") == "deployment.apps/nginx restarted\n"
    d = cluster.client.get(DEPLOY, "nginx", "default")
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]
    cluster.advance(120)
    after = {rs["metadata"]["name"] for rs in cluster.client.list(RS, "default")["items"]}
    assert len(after - before) == 1




def test_statefulset_and_daemonset_history_and_undo_use_controller_revisions(cluster):
    cluster.kubectl(["create", "-f", "-"], stdin=WEB_STATEFULSET)
    cluster.kubectl(["create", "-f", "-"], stdin=WEB_STATEFULSET.replace("StatefulSet", "DaemonSet").replace("web", "agent")
                    .replace("  serviceName: agent\n  replicas: 2\n", ""))
    cluster.advance(30)
    for target in ("sts/web", "ds/agent"):
        with pytest.raises(KubectlError) as err:
            cluster.kubectl(f"rollout undo {target}")
        assert err.value.message == "error: no last revision to roll back to"
        cluster.kubectl(f"set image {target} nginx=nginx:alpine")
        cluster.advance(60)
        kind_ref = "statefulset.apps/web" if target == "sts/web" else "daemonset.apps/agent"
        assert cluster.kubectl(f"rollout history {target}") == (
            f"{kind_ref} \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n")
        # upstream's printTemplate writes to a plain buffer: the tabs are not aligned
        shown = cluster.kubectl(f"rollout history {target} --revision=1")
        assert shown.startswith(f"{kind_ref} with revision #1\nPod Template:\n  Labels:\tapp=")
        assert "    Image:\tnginx:1.27\n" in shown
        with pytest.raises(KubectlError) as err:
            cluster.kubectl(f"rollout undo {target} --to-revision=7")
        assert err.value.message == "error: unable to find specified revision 7 in history"
        assert cluster.kubectl(f"rollout undo {target}") == f"{kind_ref} rolled back\n"
        cluster.advance(60)
        kind, name = target.split("/")
        obj = cluster.client.get(resources.lookup(kind), name, "default")
        assert obj["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
        images = cluster.kubectl(f"get pods -l app={name} -o jsonpath={{.items[*].spec.containers[0].image}}")
        assert set(images.split()) == {"nginx:1.27"}
        assert cluster.kubectl(f"rollout history {target}").endswith("2         <none>\n3         <none>\n\n")
        assert cluster.kubectl(f"rollout undo {target} --to-revision=3") == (
            f"{kind_ref} skipped rollback (current template already matches revision 3)\n")


def test_rollout_refuses_kinds_it_has_no_viewer_for(cluster):
    rs = cluster.kubectl("get rs -o name").split()[0]
    expected = {"history": 'error: no history viewer has been implemented for "ReplicaSet.apps"',
                "undo": 'error: no rollbacker has been implemented for "ReplicaSet.apps"',
                "status": "error: no status viewer has been implemented for ReplicaSet.apps",
                "pause": f'error: replicasets.apps "{rs.split("/")[1]}" pausing is not supported',
                "restart": f'error: replicasets.apps "{rs.split("/")[1]}" restarting is not supported'}
    for verb, message in expected.items():
        with pytest.raises(KubectlError) as err:
            cluster.kubectl(f"rollout {verb} {rs}")
        assert err.value.message == message
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("rollout undo sts/missing")
    assert err.value.message == 'Error from server (NotFound): statefulsets.apps "missing" not found'


def test_create_job_and_cronjob_from_flags(cluster):
    dry = cluster.kubectl(["create", "job", "pi", "--image=busybox", "--dry-run=client", "-o", "yaml", "--",
                           "sh", "-c", "echo hi"])
    assert dry == ("apiVersion: batch/v1\nkind: Job\nmetadata:\n  creationTimestamp: null\n  name: pi\nspec:\n"
                   "  template:\n    metadata:\n      creationTimestamp: null\n    spec:\n      containers:\n"
                   "      - command:\n        - sh\n        - -c\n        - echo hi\n        image: busybox\n"
                   "        name: pi\n        resources: {}\n      restartPolicy: Never\nstatus: {}\n")
    assert cluster.kubectl("get jobs") == ""  # a dry run creates nothing ("No resources found" is on stderr)
    assert cluster.kubectl("create job pi --image=busybox -- echo hi") == "job.batch/pi created\n"
    cluster.advance(30)
    assert cluster.kubectl("get jobs --no-headers").split()[:3] == ["pi", "Complete", "1/1"]
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create job pi --image=busybox")
    assert err.value.message == 'error: failed to create job: jobs.batch "pi" already exists'
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create job x --image=busybox --from=cronjob/tick")
    assert err.value.message == "error: either --image or --from must be specified"
    assert cluster.kubectl(["create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *"]) == (
        "cronjob.batch/tick created\n")
    cj = cluster.client.get(resources.lookup("cronjobs"), "tick", "default")
    assert cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert cluster.kubectl("create job manual --from=cronjob/tick") == "job.batch/manual created\n"
    manual = cluster.client.get(resources.lookup("jobs"), "manual", "default")
    assert manual["metadata"]["annotations"] == {"cronjob.kubernetes.io/instantiate": "manual"}
    assert manual["metadata"]["ownerReferences"][0]["name"] == "tick"
    with pytest.raises(KubectlError) as err:
        cluster.kubectl("create job x --from=deploy/nginx")
    assert err.value.message == "error: unknown object type *v1.Deployment"


def test_create_deployment_dry_run_creates_nothing(cluster):
    out = cluster.kubectl("create deployment web --image=nginx --dry-run=client -o yaml")
    assert "  creationTimestamp: null\n" in out and "  strategy: {}\n" in out and out.endswith("status: {}\n")
    assert cluster.kubectl("create deployment web --image=nginx --dry-run=client") == (
        "deployment.apps/web created (dry run)\n")
    assert "web" not in cluster.kubectl("get deploy -o name")


def test_zero_status_counters_are_omitted_as_upstream(cluster):
    d = cluster.client.get(DEPLOY, "nginx", "default")
    assert d["status"]["availableReplicas"] == 2 and "unavailableReplicas" not in d["status"]


# --- the real kubectl against `minik8s server` ---------------------------------------------------------


@needs_kubectl
def test_the_seed_walkthrough_with_the_real_kubectl(tmp_path):
    srv = start_server(tmp_path, "--nodes", "3", "--runtime", "simulated")
    try:
        (tmp_path / "deployment.yaml").write_text(DEPLOYMENT)

        def kubectl(*args: str, env: dict[str, str] | None = None) -> str:
            result = srv.kubectl(*args) if env is None else __import__("subprocess").run(
                ["kubectl", *args], capture_output=True, text=True, env={**srv.env(), **env}, timeout=60)
            assert result.returncode == 0, result.stderr
            return result.stdout

        assert kubectl("create", "-f", str(tmp_path / "deployment.yaml")) == "deployment.apps/nginx created\n"
        out = kubectl("rollout", "status", "deploy/nginx", "--timeout=60s")
        assert out.splitlines()[-1] == 'deployment "nginx" successfully rolled out'
        assert kubectl("scale", "deploy/nginx", "--replicas=3") == "deployment.apps/nginx scaled\n"
        assert kubectl("set", "image", "deploy/nginx", "container-0=nginx:1.27") == \
            "deployment.apps/nginx image updated\n"
        kubectl("rollout", "status", "deploy/nginx", "--timeout=60s")
        editor = sed_editor(tmp_path, "s/image: nginx:1.27$/image: nginx:alpine/")
        assert kubectl("edit", "deploy/nginx", env={"KUBE_EDITOR": editor}) == "deployment.apps/nginx edited\n"
        kubectl("rollout", "status", "deploy/nginx", "--timeout=60s")
        history = kubectl("rollout", "history", "deploy/nginx")
        assert "REVISION  CHANGE-CAUSE" in history and "3         <none>" in history
        assert kubectl("rollout", "undo", "deploy/nginx") == "deployment.apps/nginx rolled back\n"
        kubectl("rollout", "status", "deploy/nginx", "--timeout=60s")
        image = kubectl("get", "deploy/nginx", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
        assert image == "nginx:1.27"
        assert kubectl("rollout", "pause", "deploy/nginx") == "deployment.apps/nginx paused\n"
        assert kubectl("rollout", "resume", "deploy/nginx") == "deployment.apps/nginx resumed\n"
        assert kubectl("rollout", "restart", "deploy/nginx") == "deployment.apps/nginx restarted\n"
        kubectl("rollout", "status", "deploy/nginx", "--timeout=60s")
        rs = kubectl("get", "rs")
        assert len(rs.splitlines()) == 5  # header + 4 revisions (1.27, alpine, restart; undo reused 1.27)
        described = kubectl("describe", "deploy", "nginx")
        assert "NewReplicaSet:" in described and "ScalingReplicaSet" in described
        missing = srv.kubectl("rollout", "undo", "deploy/nginx", "--to-revision=42")
        assert missing.returncode == 1
        assert missing.stderr.strip() == "error: unable to find specified revision 42 in history"
        kubectl("delete", "deploy", "nginx")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and kubectl("get", "rs", "-o", "name"):
            time.sleep(0.2)
        assert kubectl("get", "rs", "-o", "name") == ""
    finally:
        srv.stop()


def test_cordon_drain_taint_patch_and_statefulset_rollout_status():
    from minik8s.cluster import Cluster

    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        c.kubectl("create deployment web --image=nginx:1.27 --replicas=3")
        c.advance(5)
        assert c.kubectl("cordon node-1") == "node/node-1 cordoned\n"
        assert c.kubectl("cordon node-1") == "node/node-1 already cordoned\n"
        drained = c.kubectl("drain node-1 --ignore-daemonsets")
        assert drained.startswith("node/node-1 already cordoned\n") and drained.endswith("node/node-1 drained\n")
        c.advance(5)
        nodes = c.kubectl("get pods -o custom-columns=NODE:.spec.nodeName --no-headers").split()
        assert len(nodes) == 3 and "node-1" not in nodes  # evicted pods were recreated elsewhere
        assert "Ready,SchedulingDisabled" in c.kubectl("get node node-1")
        assert c.kubectl("uncordon node-1") == "node/node-1 uncordoned\n"
        assert c.kubectl("taint nodes node-2 dedicated=gpu:NoSchedule") == "node/node-2 tainted\n"
        taints = c.client.get(resources.lookup("nodes"), "node-2")["spec"]["taints"]
        assert taints == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
        assert c.kubectl("taint nodes node-2 dedicated:NoSchedule-") == "node/node-2 untainted\n"
        patch = ["patch", "deploy", "web", "-p", '{"spec":{"replicas":1}}']
        assert c.kubectl(patch) == "deployment.apps/web patched\n"
        assert c.kubectl(patch) == "deployment.apps/web patched (no change)\n"
        c.kubectl(["create", "-f", "-"], stdin=(
            "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n"
            "  replicas: 2\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n"
            "    spec: {containers: [{name: c, image: nginx:1.27}]}\n"))
        status = c.kubectl("rollout status sts/db").splitlines()
        # The defaulted rollingUpdate.partition (0) sends kubectl down its "partitioned" branch.
        assert status[-1] == "partitioned roll out complete: 2 new pods have been updated..."

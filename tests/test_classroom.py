"""`minik8s classroom` and grading on a shared cluster (minik8s/classroom.py, minik8s/lab/grade.py).

The end-to-end tests drive a served cluster (a real `minik8s server` process) with the real kubectl and
the kubeconfigs the command writes: a student works in their own namespace, is refused in another's with
upstream's Forbidden message, and the grader reads every namespace but writes none."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import NameOID

from conftest import needs_kubectl
from minik8s import classroom, pki

needs_certs = pytest.mark.skipif(not hasattr(pki, "issue_client_certificate"),
                                 reason="client certificates (pki.issue_client_certificate) not merged yet")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
"""


# --- the students file and the quota flag -------------------------------------------------------

def test_read_students_skips_blanks_and_comments(tmp_path):
    file = tmp_path / "students.txt"
    file.write_text("# class of 2026\nalice\n\n  bob   # late joiner\ncarol-2\n")
    assert classroom.read_students(file) == ["alice", "bob", "carol-2"]


def test_read_students_reports_every_bad_line(tmp_path):
    file = tmp_path / "students.txt"
    file.write_text("alice\nBob\nalice\nkube-system\nx_y\n")
    with pytest.raises(classroom.ClassroomError) as err:
        classroom.read_students(file)
    text = str(err.value)
    assert f"{file}:2: 'Bob' is not a valid namespace name" in text
    assert f"{file}:3: 'alice' is listed twice" in text
    assert f"{file}:4: 'kube-system' is reserved" in text
    assert f"{file}:5: 'x_y' is not a valid namespace name" in text


def test_read_students_refuses_an_empty_list(tmp_path):
    file = tmp_path / "students.txt"
    file.write_text("# nobody yet\n")
    with pytest.raises(classroom.ClassroomError, match="names no student"):
        classroom.read_students(file)


def test_parse_quota():
    assert classroom.parse_quota("pods=20, requests.cpu=500m") == {"pods": "20", "requests.cpu": "500m"}
    assert classroom.parse_quota("") == {}
    with pytest.raises(classroom.ClassroomError, match="invalid --quota item 'pods'"):
        classroom.parse_quota("pods")
    with pytest.raises(classroom.ClassroomError, match="invalid --quota item 'cpu=lots'"):
        classroom.parse_quota("cpu=lots")


def test_bad_students_file_writes_nothing(server, tmp_path):
    students = tmp_path / "students.txt"
    students.write_text("alice\nNOT OK\n")
    done = _classroom(server, students, tmp_path / "out")
    assert done.returncode == 1
    assert "invalid student names" in done.stderr and "'NOT OK'" in done.stderr
    assert not (tmp_path / "out").exists()
    assert server.kubectl("get", "ns", "alice").returncode == 1


def test_objects_are_what_the_chapter_says():
    assert classroom.student_objects("alice", {}, "admin")[1]["roleRef"]["name"] == "admin"
    ns, binding, limits, quota = classroom.student_objects("alice", {"pods": "20"})
    assert ns["metadata"]["labels"] == {"minik8s.io/student": "alice"}
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"}
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]
    assert limits["spec"]["limits"][0]["type"] == "Container"
    assert quota["spec"]["hard"] == {"pods": "20"}
    assert all(o["metadata"].get("namespace") == "alice" for o in (binding, limits, quota))


# --- against a served cluster ---------------------------------------------------------------------

def _classroom(server, students: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "minik8s", "classroom", str(students), "--data-dir",
                           str(server.data_dir), "--kubeconfig", str(server.kubeconfig), "--out", str(out), *extra],
                          capture_output=True, text=True, env=server.env(), timeout=60)


def _kubectl(config: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(config), "HOME": str(config.parent)}
    return subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def classroom_cluster(server, tmp_path):
    students = tmp_path / "students.txt"
    students.write_text("alice\nbob\n")
    out = tmp_path / "kubeconfigs"
    done = _classroom(server, students, out)
    assert done.returncode == 0, done.stderr
    return server, students, out, done


@needs_certs
def test_classroom_writes_one_kubeconfig_per_student_with_a_ca_signed_certificate(classroom_cluster):
    server, _, out, done = classroom_cluster
    assert sorted(p.name for p in out.iterdir()) == ["alice.kubeconfig", "bob.kubeconfig", "grader.kubeconfig"]
    config = yaml.safe_load((out / "alice.kubeconfig").read_text())
    assert config["contexts"][0]["context"]["namespace"] == "alice"
    cert = x509.load_pem_x509_certificate(base64.b64decode(config["users"][0]["user"]["client-certificate-data"]))
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["minik8s:students"]
    ca = x509.load_pem_x509_certificate((server.data_dir / "pki" / "ca.crt").read_bytes())
    assert cert.issuer == ca.subject
    assert (out / "alice.kubeconfig").stat().st_mode & 0o077 == 0  # a credential: owner only
    assert "rolebindings.rbac.authorization.k8s.io/student -n alice created" in done.stdout


def _fake_issuer(user: str, groups: tuple[str, ...]) -> tuple[bytes, bytes]:
    return f"cert of {user} in {','.join(groups)}".encode(), b"key"


def test_running_twice_updates_and_never_duplicates(server, tmp_path):
    client = server.http_client()
    first = classroom.setup(client, ["alice", "bob"], {"pods": "20"}, _fake_issuer, server.url, None, tmp_path)
    assert "rolebindings.rbac.authorization.k8s.io/student -n alice created" in first
    assert "namespaces/bob created" in first
    again = classroom.setup(client, ["alice", "bob"], {"pods": "5"}, _fake_issuer, server.url, None, tmp_path)
    assert not [line for line in again if line.endswith(" created")]
    assert "resourcequotas/student -n alice configured" in again
    quotas = yaml.safe_load(server.kubectl("get", "resourcequota", "-n", "alice", "-o", "yaml").stdout)["items"]
    assert [q["spec"]["hard"] for q in quotas] == [{"pods": "5"}]
    bindings = yaml.safe_load(server.kubectl("get", "rolebindings", "-n", "alice", "-o", "yaml").stdout)["items"]
    assert [b["metadata"]["name"] for b in bindings] == ["student"]
    labels = yaml.safe_load(server.kubectl("get", "ns", "alice", "-o", "yaml").stdout)["metadata"]["labels"]
    assert labels["minik8s.io/student"] == "alice"


@needs_kubectl
@needs_certs
def test_a_student_works_in_their_namespace_and_is_refused_in_another(classroom_cluster):
    _, _, out, _ = classroom_cluster
    alice = out / "alice.kubeconfig"
    created = _kubectl(alice, "create", "-f", "-", stdin=DEPLOYMENT)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "deployment.apps/web created"
    refused = _kubectl(alice, "create", "deployment", "web", "--image=nginx", "-n", "bob")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'error: failed to create deployment: deployments.apps is forbidden: User "alice" '
        'cannot create resource "deployments" in API group "apps" in the namespace "bob"')
    refused = _kubectl(alice, "create", "-f", "-", "-n", "bob", stdin=DEPLOYMENT)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): error when creating "STDIN": deployments.apps is forbidden: User "alice" '
        'cannot create resource "deployments" in API group "apps" in the namespace "bob"')
    # The ReplicaSet's Pod says nothing about resources, yet the quota (which tracks requests.cpu)
    # admits it: the LimitRange filled in its requests and limits.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        pods = json.loads(_kubectl(alice, "get", "pods", "-o", "json").stdout or "{}").get("items", [])
        if pods:
            break
        time.sleep(0.2)
    assert len(pods) == 1
    assert pods[0]["spec"]["containers"][0]["resources"]["requests"] == classroom.DEFAULT_REQUESTS
    who = _kubectl(alice, "auth", "whoami")
    assert "alice" in who.stdout and "minik8s:students" in who.stdout


@needs_kubectl
@needs_certs
def test_a_student_cannot_change_their_own_quota_or_rights(classroom_cluster):
    _, _, out, _ = classroom_cluster
    alice = out / "alice.kubeconfig"
    quota = _kubectl(alice, "delete", "resourcequota", "student")
    assert quota.returncode == 1 and "Forbidden" in quota.stderr
    binding = _kubectl(alice, "delete", "rolebinding", "student")
    assert binding.returncode == 1 and "Forbidden" in binding.stderr


@needs_kubectl
@needs_certs
def test_the_grader_reads_every_namespace_and_writes_none(classroom_cluster):
    _, _, out, _ = classroom_cluster
    assert _kubectl(out / "alice.kubeconfig", "create", "-f", "-", stdin=DEPLOYMENT).returncode == 0
    grader = out / "grader.kubeconfig"
    listed = _kubectl(grader, "get", "deployments", "-A")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "web" in listed.stdout
    refused = _kubectl(grader, "delete", "deployment", "web", "-n", "alice")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): deployments.apps "web" is forbidden: User "grader" cannot delete resource '
        '"deployments" in API group "apps" in the namespace "alice"')


@needs_kubectl
@needs_certs
def test_grade_runs_a_labs_checks_in_every_students_namespace(classroom_cluster, tmp_path):
    server, students, out, _ = classroom_cluster
    graded = subprocess.run([sys.executable, "-m", "minik8s", "grade", "--kubeconfig", str(out / "grader.kubeconfig"),
                             "--namespaces-from", str(students), "--lab", "16"],
                            capture_output=True, text=True, env=server.env(), timeout=120)
    assert graded.returncode == 0, graded.stderr
    lines = graded.stdout.splitlines()
    assert lines[0] == "| namespace | access-reader | access-no-token | access-lister | passed | notes |"
    assert lines[2].startswith("| alice | ❌ | ❌ | ❌ | 0/3 | access-reader: there is no ServiceAccount reader in "
                               "namespace alice")
    assert lines[3].startswith("| bob | ")
    assert "[2/2] bob:" in graded.stderr


@needs_kubectl
@needs_certs
def test_with_role_admin_a_student_does_lab_16_and_the_grader_sees_it(classroom_cluster):
    server, students, out, _ = classroom_cluster
    again = _classroom(server, students, out, "--role", "admin")
    assert again.returncode == 0, again.stderr
    assert "rolebindings.rbac.authorization.k8s.io/student -n alice replaced" in again.stdout
    alice = out / "alice.kubeconfig"
    for command in (["create", "serviceaccount", "reader"],
                    ["create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods"],
                    ["create", "rolebinding", "reader-pods", "--role=pod-reader", "--serviceaccount=alice:reader"]):
        done = _kubectl(alice, *command)
        assert done.returncode == 0, done.stderr
    # admin may write Roles, but not grant what it does not hold (escalation), nor touch its quota
    escalate = _kubectl(alice, "create", "role", "quota-editor", "--verb=update", "--resource=resourcequotas")
    assert escalate.returncode == 1 and "is attempting to grant RBAC permissions not currently held" in escalate.stderr
    graded = subprocess.run([sys.executable, "-m", "minik8s", "grade", "--kubeconfig", str(out / "grader.kubeconfig"),
                             "--namespaces-from", str(students), "--lab", "16"],
                            capture_output=True, text=True, env=server.env(), timeout=120)
    assert graded.returncode == 0, graded.stderr
    rows = graded.stdout.splitlines()
    assert rows[2].startswith("| alice | ✅ | ❌ | ❌ | 1/3 |")
    assert rows[3].startswith("| bob | ❌ | ❌ | ❌ | 0/3 |")


def test_grade_shared_needs_a_lab(tmp_path):
    students = tmp_path / "students.txt"
    students.write_text("alice\n")
    done = subprocess.run([sys.executable, "-m", "minik8s", "grade", "--namespaces-from", str(students),
                           "--kubeconfig", str(tmp_path / "k")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--namespaces-from needs --lab" in done.stderr


def test_no_ca_key_is_a_clear_error_and_nothing_is_made(server, tmp_path):
    students = tmp_path / "students.txt"
    students.write_text("alice\n")
    done = subprocess.run([sys.executable, "-m", "minik8s", "classroom", str(students), "--data-dir",
                           str(tmp_path / "elsewhere"), "--kubeconfig", str(server.kubeconfig), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, env=server.env(), timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: no cluster CA key at {tmp_path / 'elsewhere' / 'pki' / 'ca.key'}")
    assert not (tmp_path / "out").exists()
    assert server.kubectl("get", "ns", "alice").returncode == 1

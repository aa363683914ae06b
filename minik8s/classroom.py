"""``minik8s classroom``: one shared cluster for a class, a namespace and a credential per student.

A teacher runs ``minik8s server`` once (on a machine the class can reach, with
``--host`` and ``--tls-san``) and then::

    minik8s classroom students.txt --out kubeconfigs/

``students.txt`` holds one student name per line (blank lines and ``#`` comments
are skipped). Each name must be a DNS label (``alice``, ``bob-2``), because it
becomes a namespace. For every student, through the API only (as the cluster
admin of ``--kubeconfig``), the command makes:

=========================== ================================================================
object                      why
=========================== ================================================================
Namespace ``<name>``        labelled ``minik8s.io/student=<name>``: the student's room
RoleBinding ``student``     the bootstrap ClusterRole ``edit`` (``--role``) in that namespace
                            only, bound to the User ``<name>``: workloads yes, RBAC and quotas
                            no (``--role admin``: Roles and RoleBindings too, as lab 16 needs)
ResourceQuota ``student``   ``--quota`` (default :data:`DEFAULT_QUOTA`): one student cannot
                            starve the others
LimitRange ``student``      default requests and limits, so a Pod with no ``resources``
                            stanza is still admitted under a compute quota
``<out>/<name>.kubeconfig`` a client certificate (CN=``<name>``, O=``minik8s:students``)
                            signed by the cluster CA; its context's namespace is ``<name>``
=========================== ================================================================

and once for the teacher ``<out>/grader.kubeconfig``: a certificate in the group
``minik8s:graders``, which a ClusterRoleBinding ``minik8s:graders`` binds to the
bootstrap ClusterRole ``view`` (read every namespace, write none) and another,
``minik8s:graders-review``, to a small ClusterRole ``minik8s:grader`` that may read
Roles and RoleBindings and ask SubjectAccessReviews ("may this ServiceAccount
list pods?"), which checks of the access-control lab need. ``minik8s grade
--kubeconfig grader.kubeconfig --namespaces-from students.txt --lab 16`` then runs a
lab's exercise checks in every student's namespace (:mod:`minik8s.lab.grade`).

The certificates are signed with the CA key under ``<data-dir>/pki`` (the
server's, :func:`minik8s.pki.issue_client_certificate`), so the command runs on
the server's machine, as its owner. Errors from the API name the user from the
certificate: ``User "alice" cannot create resource "deployments" ... in the
namespace "bob"``.

Invariants: running the command twice updates the objects and never duplicates
them (create, and on AlreadyExists read and update; a RoleBinding whose role
changed is replaced, as its roleRef cannot change); a bad students file is
refused before anything is written; certificates are re-issued on every run
(old ones stay valid until they expire: X.509 has no revocation here, as in
Kubernetes, so removing a student means deleting their RoleBinding).

Interface: ``read_students(path) -> list[str]``, ``setup(client, names, ...) ->
list[str]`` (what it did), ``main(argv) -> int``. Taught in the labs page ("For
teachers: running one cluster for a class") and chapter 16.
"""

from __future__ import annotations

import argparse
import base64
import sys
from pathlib import Path
from typing import Any, Callable

from minik8s import kubeconfig, pki
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.api.quantity import is_valid
from minik8s.api.validation.names import is_dns1123_label

STUDENT_LABEL = "minik8s.io/student"
STUDENTS_GROUP = "minik8s:students"
GRADERS_GROUP = "minik8s:graders"
GRADER_USER = "grader"
GRADER_ROLE = "minik8s:grader"
# What a student may do in their namespace: edit (workloads; no RBAC), or admin (also Roles and
# RoleBindings there, which the access-control lab needs; RBAC still stops any escalation).
DEFAULT_ROLE = "edit"
ROLES = ("view", "edit", "admin")
OBJECT_NAME = "student"          # the RoleBinding, ResourceQuota and LimitRange in each student namespace
CERT_DAYS = 180                  # a term
# Per student: enough for every lab, small enough that thirty students share one laptop-sized server.
DEFAULT_QUOTA = "pods=20,services=10,requests.cpu=2,requests.memory=2Gi,limits.cpu=4,limits.memory=4Gi"
# What a container gets when it asks for nothing (LimitRange default / defaultRequest).
DEFAULT_LIMITS = {"cpu": "500m", "memory": "256Mi"}
DEFAULT_REQUESTS = {"cpu": "100m", "memory": "128Mi"}
# Names a student may not have: namespaces the cluster uses, and the grader's kubeconfig.
RESERVED = ("default", GRADER_USER)
RBAC_GROUP = "rbac.authorization.k8s.io"
# minik8s server's default --data-dir (not imported: the server module pulls in the whole cluster).
DEFAULT_DATA_DIR = Path.home() / ".minik8s"


class ClassroomError(Exception):
    """A problem with the teacher's input or set-up: printed as ``error: ...``, exit 1."""


def read_students(path: Path) -> list[str]:
    """Student names, one a line; every bad line is reported at once, with its line number."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ClassroomError(f"cannot read {path}: {exc.strerror or exc}") from None
    names: list[str] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), 1):
        name = raw.split("#", 1)[0].strip()
        if not name:
            continue
        why = _name_problem(name, names)
        if why:
            problems.append(f"{path}:{number}: {name!r} {why}")
        else:
            names.append(name)
    if problems:
        raise ClassroomError("invalid student names:\n  " + "\n  ".join(problems))
    if not names:
        raise ClassroomError(f"{path} names no student")
    return names


def _name_problem(name: str, seen: list[str]) -> str | None:
    errors = is_dns1123_label(name)
    if errors:
        return "is not a valid namespace name: " + "; ".join(errors)
    if name in RESERVED or name.startswith("kube-"):
        return "is reserved (a namespace or file the cluster uses)"
    if name in seen:
        return "is listed twice"
    return None


def parse_quota(text: str) -> dict[str, str]:
    """``pods=20,requests.cpu=2`` → ``{"pods": "20", "requests.cpu": "2"}``, as ``kubectl create quota --hard``."""
    hard: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not is_valid(value.strip()):
            raise ClassroomError(f"invalid --quota item {item!r}: want NAME=QUANTITY, e.g. pods=20")
        hard[key.strip()] = value.strip()
    return hard


# --- the objects -------------------------------------------------------------------------------

def student_objects(name: str, hard: dict[str, str], role: str = DEFAULT_ROLE) -> list[dict[str, Any]]:
    """Namespace, RoleBinding (of ClusterRole ``role``), LimitRange and ResourceQuota for one student."""
    meta = {"name": OBJECT_NAME, "namespace": name, "labels": {STUDENT_LABEL: name}}
    objects: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {STUDENT_LABEL: name}}},
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "RoleBinding", "metadata": dict(meta),
         "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
         "subjects": [{"apiGroup": RBAC_GROUP, "kind": "User", "name": name}]},
        {"apiVersion": "v1", "kind": "LimitRange", "metadata": dict(meta),
         "spec": {"limits": [{"type": "Container", "default": dict(DEFAULT_LIMITS),
                              "defaultRequest": dict(DEFAULT_REQUESTS)}]}},
    ]
    if hard:
        objects.append({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": dict(meta),
                        "spec": {"hard": dict(hard)}})
    return objects


def grader_objects() -> list[dict[str, Any]]:
    """The grader's ClusterRole and its two ClusterRoleBindings (``view``, and ``minik8s:grader``)."""
    subject = {"apiGroup": RBAC_GROUP, "kind": "Group", "name": GRADERS_GROUP}
    return [
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": {"name": GRADER_ROLE},
         "rules": [{"apiGroups": [RBAC_GROUP], "resources": ["roles", "rolebindings"],
                    "verbs": ["get", "list", "watch"]},
                   {"apiGroups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"],
                    "verbs": ["create"]}]},
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": {"name": GRADERS_GROUP},
         "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "view"}, "subjects": [subject]},
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"{GRADERS_GROUP}-review"},
         "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": GRADER_ROLE}, "subjects": [subject]},
    ]


def ensure(client: Any, obj: dict[str, Any]) -> str:
    """Create ``obj``, or bring the existing one to it: "created" or "configured".

    Only the fields this module owns are overwritten (labels merged, spec/rules/subjects
    replaced), so what a student added to their namespace survives a re-run."""
    resource = resources.of_object(obj)
    assert resource is not None, obj["kind"]
    meta = obj["metadata"]
    try:
        client.create(resource, obj, meta.get("namespace"))
        return "created"
    except StatusError as exc:
        if exc.reason != "AlreadyExists":
            raise
    current = client.get(resource, meta["name"], meta.get("namespace"))
    if "roleRef" in obj and current.get("roleRef") != obj["roleRef"]:
        # A binding's roleRef cannot change (upstream refuses the update): replace the binding.
        client.delete(resource, meta["name"], meta.get("namespace"))
        client.create(resource, obj, meta.get("namespace"))
        return "replaced"
    current.setdefault("metadata", {}).setdefault("labels", {}).update(meta.get("labels") or {})
    for field in ("spec", "rules", "subjects", "roleRef"):
        if field in obj:
            current[field] = obj[field]
    client.update(resource, current, meta.get("namespace"))
    return "configured"


# --- credentials -------------------------------------------------------------------------------

def user_kubeconfig(server: str, ca_pem: bytes | None, user: str, cert_pem: bytes, key_pem: bytes,
                    namespace: str | None) -> dict[str, Any]:
    """A kubeconfig with one cluster, one user (a client certificate) and one current context."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    context: dict[str, Any] = {"cluster": "minik8s", "user": user}
    if namespace:
        context["namespace"] = namespace
    config = kubeconfig.empty()
    config["clusters"] = [{"name": "minik8s", "cluster": cluster}]
    config["users"] = [{"name": user, "user": {
        "client-certificate-data": base64.b64encode(cert_pem).decode(),
        "client-key-data": base64.b64encode(key_pem).decode()}}]
    config["contexts"] = [{"name": f"{user}@minik8s", "context": context}]
    config["current-context"] = f"{user}@minik8s"
    return config


Issuer = Callable[[str, tuple[str, ...]], tuple[bytes, bytes]]


def cert_issuer(pki_dir: Path) -> Issuer:
    """Sign client certificates with the cluster CA under ``pki_dir`` (it must be readable)."""
    if not (pki_dir / "ca.key").is_file():
        raise ClassroomError(f"no cluster CA key at {pki_dir / 'ca.key'}: run this on the server's machine, as "
                             f"the user that runs it, with --data-dir set to the server's")
    issue = getattr(pki, "issue_client_certificate", None)
    if issue is None:
        raise ClassroomError("this minik8s cannot issue client certificates (pki.issue_client_certificate)")

    def sign(user: str, groups: tuple[str, ...]) -> tuple[bytes, bytes]:
        cert, key = issue(pki_dir, user, list(groups), CERT_DAYS)
        return _bytes(cert), _bytes(key)

    return sign


def _bytes(pem: bytes | str) -> bytes:
    return pem.encode() if isinstance(pem, str) else pem


# --- the command -------------------------------------------------------------------------------

def setup(client: Any, names: list[str], hard: dict[str, str], issuer: Issuer, server: str,
          ca_pem: bytes | None, out: Path, role: str = DEFAULT_ROLE) -> list[str]:
    """Make (or update) everything for ``names`` and the grader; returns one line per thing done."""
    done: list[str] = []
    for obj in grader_objects():
        done.append(_say(obj, ensure(client, obj)))
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        for obj in student_objects(name, hard, role):
            done.append(_say(obj, ensure(client, obj)))
        _write_kubeconfig(out / f"{name}.kubeconfig", server, ca_pem, name, (STUDENTS_GROUP,), name, issuer)
        done.append(f"kubeconfig {out / (name + '.kubeconfig')} written (User \"{name}\", namespace {name})")
    _write_kubeconfig(out / f"{GRADER_USER}.kubeconfig", server, ca_pem, GRADER_USER, (GRADERS_GROUP,), None, issuer)
    done.append(f"kubeconfig {out / (GRADER_USER + '.kubeconfig')} written (User \"{GRADER_USER}\", "
                f"group {GRADERS_GROUP}: reads every namespace)")
    return done


def _write_kubeconfig(path: Path, server: str, ca_pem: bytes | None, user: str, groups: tuple[str, ...],
                      namespace: str | None, issuer: Issuer) -> None:
    cert, key = issuer(user, groups)
    kubeconfig.save(user_kubeconfig(server, ca_pem, user, cert, key, namespace), path)


def _say(obj: dict[str, Any], what: str) -> str:
    resource = resources.of_object(obj)
    kind = resource.plural if resource else obj["kind"].lower()
    group = f".{resource.group}" if resource and resource.group else ""
    where = f" -n {obj['metadata']['namespace']}" if obj["metadata"].get("namespace") else ""
    return f"{kind}{group}/{obj['metadata']['name']}{where} {what}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minik8s classroom",
                                     description="Give every student of a class a namespace, rights in it, a quota "
                                                 "and a kubeconfig on one shared cluster.")
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("students", metavar="STUDENTS_FILE", help="one student name (a DNS label) per line")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                        help="the server's data directory, whose pki/ holds the CA (default ~/.minik8s)")
    parser.add_argument("--kubeconfig", default=None,
                        help="the admin kubeconfig `minik8s server` wrote (default $KUBECONFIG or ~/.kube/config)")
    parser.add_argument("--context", default=None, help="the admin context in it (default: current)")
    parser.add_argument("--out", default="kubeconfigs", help="where to write the kubeconfigs (default ./kubeconfigs)")
    parser.add_argument("--role", default=DEFAULT_ROLE, choices=ROLES,
                        help="the ClusterRole each student gets in their namespace (default edit; admin lets "
                             "them write Roles and RoleBindings there, as lab 16 asks)")
    parser.add_argument("--quota", default=DEFAULT_QUOTA,
                        help=f"each student's ResourceQuota hard limits (default {DEFAULT_QUOTA}; '' for none)")


def run(args: argparse.Namespace) -> int:
    from minik8s.client.http import HTTPClient

    try:
        names = read_students(Path(args.students))
        hard = parse_quota(args.quota)
        issuer = cert_issuer(Path(args.data_dir).expanduser() / "pki")
        admin = kubeconfig.current(kubeconfig.load(kubeconfig.path(args.kubeconfig)), args.context)
    except (ClassroomError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    client = HTTPClient(admin.server, token=admin.token, ca_pem=admin.ca_pem, verify=not admin.insecure)
    try:
        for line in setup(client, names, hard, issuer, admin.server, admin.ca_pem, Path(args.out), args.role):
            print(line, flush=True)
    except StatusError as exc:
        print(f"Error from server ({exc.reason}): {exc.message}", file=sys.stderr)
        return 1
    except (ClassroomError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(names)} students ready. Give each their kubeconfig; grade with: minik8s grade --kubeconfig "
          f"{Path(args.out) / (GRADER_USER + '.kubeconfig')} --namespaces-from {args.students} --lab N")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(_parser().parse_args(argv))

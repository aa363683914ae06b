"""``kubectl create configmap`` and ``create secret generic|tls|docker-registry`` (minik8s.kubectl.configdata),
checked against the real kubectl: the same files, the same flags, the same output and exit code."""

from __future__ import annotations

import argparse
import base64
import json
import shlex
import subprocess
import sys

import pytest

from conftest import ROOT, needs_kubectl, start_server
from minik8s.kubectl.configdata import configmap_from_flags, content_hash, secret_from_flags
from minik8s.kubectl.command import CommandError

CERT_SUBJECT = "/CN=web.example"


def _write_files(where) -> None:
    (where / "a.txt").write_text("hello\n")
    (where / "bin.dat").write_bytes(b"\xff\xfe")
    (where / "html.txt").write_text("<a&b>\n")
    (where / "app.env").write_bytes(b"\xef\xbb\xbfA=1\n  C= x  \nFROM_ENV\nUNSET\n# comment\n\nF=a=b\n")
    (where / "more.env").write_text("X=1\n")
    (where / "twice.env").write_text("A=1\nA=2\n")
    (where / "spaced.env").write_text("B = two\n")
    (where / "bad.env").write_bytes(b"\xff=1\n")
    conf = where / "conf"
    conf.mkdir()
    (conf / "good.conf").write_text("1\n")
    (conf / "sub").mkdir()
    (conf / "link").symlink_to("good.conf")
    bad = where / "bad"
    bad.mkdir()
    (bad / "bad name").write_text("2\n")
    for name in ("1", "2"):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", where / f"k{name}.pem",
                        "-out", where / f"c{name}.pem", "-subj", CERT_SUBJECT, "-days", "1"],
                       check=True, capture_output=True)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("configdata")
    srv = start_server(tmp, "--nodes", "0")
    files = tmp_path_factory.mktemp("files")
    _write_files(files)
    yield srv, files
    srv.stop()


COMMANDS = [
    "create configmap x --from-literal=z=1 --from-file=a.txt --from-file=bin.dat",
    "create cm x --from-file=conf --from-literal=k=v -n other",
    "create cm a --from-env-file=app.env --from-env-file=more.env",
    "create cm a --from-file=k=bin.dat --from-file=a.txt --append-hash",
    "create cm a --from-file=html.txt --append-hash",
    "create cm a --append-hash",
    "create cm --append-hash a --from-literal=k=v",
    "create secret generic --append-hash=false s --from-literal=k=v",
    "create secret generic s --from-literal=b=2 --from-file=k=a.txt --type=foo --append-hash",
    "create secret generic s --from-env-file=app.env",
    "create secret generic a --from-file=html.txt --append-hash",
    "create secret generic s --append-hash",
    "create secret docker-registry d --docker-server=r.io --docker-username=u --docker-password=p --docker-email=e@x",
    "create secret docker-registry d --docker-username=u --docker-password=p --append-hash",
    "create secret docker-registry d --from-file=a.txt --append-hash",
    "create secret tls t --cert=c1.pem --key=k1.pem --append-hash",
    # kubectl's errors
    "create secret tls t --cert=a.txt --key=a.txt",
    "create secret tls t --cert=c1.pem --key=k2.pem",
    "create secret tls t --cert=k1.pem --key=c1.pem",
    "create secret tls t --cert=c1.pem --key=c1.pem",
    "create secret tls t --cert=c1.pem",
    "create secret tls t --cert=nope --key=a.txt",
    "create secret tls t --cert=c1.pem --key=k1.pem --type=x",
    "create secret docker-registry d --docker-username=u",
    "create cm a --from-file=bad",
    "create cm a --from-file=k=conf",
    "create cm a --from-file=nope",
    "create cm a --from-literal=a=1 --from-literal=a=2",
    "create cm a --from-literal=bad",
    "create cm a --from-literal=..",
    "create cm a --from-env-file=twice.env",
    "create cm a --from-env-file=spaced.env",
    "create cm a --from-env-file=bad.env",
    "create cm a --from-env-file=more.env --from-literal=a=1",
    "create cm a --from-file=a.txt --from-file=a.txt",
    "create cm a --from-literal=k=1 --from-file=k=bin.dat",
    "create cm a --from-file=a=b=c",
    "create cm a --from-file=k=",
    "create cm a --from-file==a.txt",
    "create cm a --cert=x",
    "create secret generic s --from-file=bad",
    "create secret generic s --from-literal=a=1 --from-literal=a=2",
    "create secret generic s --from-literal=x/y=1",
    "create secret generic s --docker-server=x",
    "create secret generic",
    "create secret generic a b",
]


def _run(srv, files, words: list[str], real: bool) -> tuple[int, str, str]:
    command = ["kubectl", *words] if real else [sys.executable, "-m", "minik8s", "kubectl", *words]
    done = subprocess.run(command, capture_output=True, text=True, cwd=files, timeout=60,
                          env={**srv.env(), "FROM_ENV": "5", "PYTHONPATH": str(ROOT)})  # cwd is elsewhere
    return done.returncode, done.stdout, done.stderr


@needs_kubectl
@pytest.mark.parametrize("command", COMMANDS)
def test_dry_run_prints_what_the_real_kubectl_prints(oracle, command):
    srv, files = oracle
    words = [*shlex.split(command), "--dry-run=client", "-o", "yaml"]
    assert _run(srv, files, words, real=False) == _run(srv, files, words, real=True)


@needs_kubectl
def test_created_secret_reads_back_the_same_through_both_kubectls(oracle):
    srv, files = oracle
    ours = _run(srv, files, ["create", "secret", "generic", "ours", "--from-file=a.txt", "--from-literal=p=s3cr3t"],
                real=False)
    assert ours == (0, "secret/ours created\n", "")
    code, out, _ = _run(srv, files, ["get", "secret", "ours", "-o", "jsonpath={.data.p} {.type}"], real=True)
    assert (code, out) == (0, base64.b64encode(b"s3cr3t").decode() + " Opaque")
    again = _run(srv, files, ["create", "secret", "generic", "ours"], real=False)
    assert again == (1, "", 'error: failed to create secret secrets "ours" already exists\n')
    _run(srv, files, ["create", "cm", "mine", "--from-literal=a=1"], real=False)
    code, _, err = _run(srv, files, ["create", "cm", "mine", "--from-literal=a=1"], real=False)
    assert (code, err) == (1, 'error: failed to create configmap: configmaps "mine" already exists\n')


def _flags(**values) -> argparse.Namespace:
    base = {"from_file": [], "from_literal": [], "from_env_file": [], "type": None, "append_hash": "false",
            "cert": None, "key": None, "docker_server": None, "docker_username": None, "docker_password": None,
            "docker_email": None}
    return argparse.Namespace(**{**base, **values})


def test_the_hash_changes_with_the_content_so_a_new_name_rolls_a_deployment():
    one = configmap_from_flags("cfg", _flags(from_literal=["a=1"], append_hash="true"))
    two = configmap_from_flags("cfg", _flags(from_literal=["a=2"], append_hash="true"))
    assert one["metadata"]["name"] != two["metadata"]["name"]
    assert one["metadata"]["name"].startswith("cfg-") and len(one["metadata"]["name"]) == len("cfg-") + 10
    # the suffix avoids 0, 1, 3, a and e, so that it never spells a word
    assert not set(content_hash(one)) & set("013ae")


def test_docker_config_carries_the_auth_field():
    secret = secret_from_flags("docker-registry", "d", _flags(docker_username="u", docker_password="p"))
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    entry = config["auths"]["https://index.docker.io/v1/"]
    assert entry == {"username": "u", "password": "p", "auth": base64.b64encode(b"u:p").decode()}


def test_a_key_given_twice_is_refused_not_overwritten():
    with pytest.raises(CommandError, match="another key by that name already exists"):
        secret_from_flags("generic", "s", _flags(from_literal=["a=1", "a=2"]))

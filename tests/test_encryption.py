"""Encryption at rest (minik8s.store.encryption): the providers, the configuration file, and a real
``minik8s server --encryption-provider-config`` whose SQLite rows hold no Secret in plain text."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys

import pytest

from conftest import needs_kubectl, start_server
from minik8s.store import Entry
from minik8s.store.encryption import (DecryptionError, EncryptingBackend, EncryptionConfigError, parse_config)

KEY1 = base64.b64encode(bytes(range(32))).decode()
KEY2 = base64.b64encode(bytes(range(100, 132))).decode()
SECRET_KEY = ("secrets", "default", "db")


def config(*providers: dict, resources: tuple[str, ...] = ("secrets",)) -> dict:
    return {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
            "resources": [{"resources": list(resources), "providers": list(providers)}]}


def aes(kind: str, *keys: tuple[str, str]) -> dict:
    return {kind: {"keys": [{"name": name, "secret": secret} for name, secret in keys]}}


@pytest.mark.parametrize("kind", ["aescbc", "aesgcm"])
def test_first_provider_encrypts_and_every_provider_decrypts(kind):
    plain = b'{"data":{"password":"czNjcjN0"}}'
    old = parse_config(config(aes(kind, ("old", KEY1))))
    stored = old.transform_to_storage(SECRET_KEY, plain)
    assert stored.startswith(f"k8s:enc:{kind}:v1:old:".encode()) and b"czNjcjN0" not in stored
    assert stored != old.transform_to_storage(SECRET_KEY, plain)   # a fresh IV / nonce each time
    assert old.transform_from_storage(SECRET_KEY, stored) == plain
    # Rotation: a new key in front encrypts; the old one, still listed, reads what it wrote.
    rotated = parse_config(config(aes(kind, ("new", KEY2), ("old", KEY1))))
    assert rotated.transform_from_storage(SECRET_KEY, stored) == plain
    assert rotated.transform_to_storage(SECRET_KEY, plain).startswith(f"k8s:enc:{kind}:v1:new:".encode())
    # Without the old key, the value cannot be read.
    with pytest.raises(DecryptionError, match=f"stored as k8s:enc:{kind}"):
        parse_config(config(aes(kind, ("new", KEY2)))).transform_from_storage(SECRET_KEY, stored)


def test_aesgcm_ciphertext_is_bound_to_its_key():
    cfg = parse_config(config(aes("aesgcm", ("k", KEY1))))
    stored = cfg.transform_to_storage(SECRET_KEY, b"{}")
    with pytest.raises(DecryptionError, match="cannot decrypt"):
        cfg.transform_from_storage(("secrets", "default", "other"), stored)


def test_identity_last_reads_plain_values_and_other_resources_pass_through():
    cfg = parse_config(config(aes("aescbc", ("k", KEY1)), {"identity": {}}))
    assert cfg.transform_from_storage(SECRET_KEY, b'{"plain":1}') == b'{"plain":1}'
    assert cfg.transform_to_storage(("configmaps", "default", "c"), b"{}") == b"{}"
    without = parse_config(config(aes("aescbc", ("k", KEY1))))
    with pytest.raises(DecryptionError, match="no identity provider"):
        without.transform_from_storage(SECRET_KEY, b'{"plain":1}')
    assert parse_config(config({"identity": {}})).transform_to_storage(SECRET_KEY, b"{}") == b"{}"


@pytest.mark.parametrize("bad, message", [
    (config({"secretbox": {"keys": [{"name": "k", "secret": KEY1}]}}), "no XSalsa20"),
    (config({"kms": {"name": "x"}}), "kms provider is not supported"),
    (config(aes("aescbc", ("k", base64.b64encode(b"short").decode()))), "got 5, expected one of [16 24 32]"),
    (config(aes("aescbc", ("k", "not base64!")), ), "secrets must be base64 encoded"),
    (config(aes("aescbc", ("k", KEY1), ("k", KEY2))), 'Duplicate value: "k"'),
    (config(aes("aesgcm")), "at least one key is required"),
    (config({"identity": {}, "aescbc": {}}), "exactly one provider"),
    (config(), "at least one provider is required"),
    ({"apiVersion": "v1", "kind": "ConfigMap"}, 'want kind "EncryptionConfiguration"'),
])
def test_a_bad_configuration_is_refused_with_its_reason(bad, message):
    with pytest.raises(EncryptionConfigError) as caught:
        parse_config(bad)
    assert message in str(caught.value)
    assert KEY1 not in str(caught.value)   # never print key material


class MemoryBackend:
    def __init__(self):
        self.rows: dict = {}

    def load(self):
        return 1, dict(self.rows)

    def put(self, key, entry, revision):
        self.rows[key] = entry

    def remove(self, key, revision):
        self.rows.pop(key, None)

    def close(self):
        pass


def test_backend_encrypts_rows_and_decrypts_on_load():
    inner = MemoryBackend()
    backend = EncryptingBackend(inner, parse_config(config(aes("aescbc", ("k", KEY1)))))
    backend.put(SECRET_KEY, Entry(5, b'{"data":{"p":"eA=="}}'), 5)
    backend.put(("configmaps", "default", "c"), Entry(6, b'{"data":{"p":"x"}}'), 6)
    assert inner.rows[SECRET_KEY].raw.startswith(b"k8s:enc:aescbc:v1:k:")
    assert inner.rows[("configmaps", "default", "c")].raw == b'{"data":{"p":"x"}}'
    _, entries = backend.load()
    assert entries[SECRET_KEY] == Entry(5, b'{"data":{"p":"eA=="}}')


# --- a real server ------------------------------------------------------------------------------------


def write_config(path, text: str):
    path.write_text(text)
    return path


GOOD = f"""\
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc:
      keys:
      - {{name: key1, secret: {KEY1}}}
  - identity: {{}}
"""


@needs_kubectl
def test_server_stores_secrets_encrypted_and_serves_them_decoded(tmp_path):
    path = write_config(tmp_path / "encryption.yaml", GOOD)
    srv = start_server(tmp_path, "--nodes", "0", "--encryption-provider-config", str(path))
    try:
        created = srv.kubectl("create", "secret", "generic", "db", "--from-literal=password=s3cr3t-value")
        assert created.returncode == 0, created.stderr
        srv.kubectl("create", "configmap", "plain", "--from-literal=note=visible-value")
        shown = srv.kubectl("get", "secret", "db", "-o", "jsonpath={.data.password}")
        assert base64.b64decode(shown.stdout) == b"s3cr3t-value"
    finally:
        srv.stop()
    rows = dict(((r, ns, n), bytes(v)) for r, ns, n, v in
                sqlite3.connect(srv.data_dir / "state.db").execute("SELECT resource, namespace, name, value FROM objects"))
    secret = rows[("secrets", "default", "db")]
    assert secret.startswith(b"k8s:enc:aescbc:v1:key1:")
    encoded = base64.b64encode(b"s3cr3t-value")
    assert b"s3cr3t-value" not in secret and encoded not in secret and b'"db"' not in secret
    assert b"visible-value" in rows[("configmaps", "default", "plain")]   # only Secrets are named
    # Restarted with the same configuration, the server reads its Secrets back.
    again = start_server(tmp_path, "--nodes", "0", "--encryption-provider-config", str(path), data_dir=srv.data_dir)
    try:
        shown = again.kubectl("get", "secret", "db", "-o", "jsonpath={.data.password}")
        assert base64.b64decode(shown.stdout) == b"s3cr3t-value"
    finally:
        again.stop()


def test_server_refuses_to_start_with_a_bad_configuration(tmp_path):
    path = write_config(tmp_path / "encryption.yaml", GOOD.replace("aescbc", "secretbox"))
    done = subprocess.run([sys.executable, "-m", "minik8s", "server", "--port", "0", "--nodes", "0",
                           "--data-dir", str(tmp_path / "data"), "--kubeconfig", str(tmp_path / "kubeconfig"),
                           "--encryption-provider-config", str(path)],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 1
    assert "error: error while parsing file" in done.stderr and "no XSalsa20" in done.stderr
    assert not (tmp_path / "kubeconfig").exists()

"""Encryption at rest: Secrets stored encrypted, as ``kube-apiserver --encryption-provider-config``.

Secret values are only base64 in the API; whoever can read the datastore (a backup, a
stolen disk, ``sqlite3 state.db``) reads every password. Upstream's answer is a value
transformer between the API server and etcd, configured by an ``EncryptionConfiguration``
(``apiserver.config.k8s.io/v1``)::

    resources:
    - resources: [secrets]
      providers:
      - aescbc: {keys: [{name: key1, secret: <base64 of 32 random bytes>}]}
      - identity: {}

The **first** provider encrypts every write; **all** of them are tried to read (so adding a
key in front rotates, and ``identity`` last still reads what was stored in plain text). An
encrypted value starts with ``k8s:enc:<provider>:v1:<key name>:`` followed by the
ciphertext: for ``aescbc`` a random 16-byte IV then AES-CBC with PKCS#7 padding; for
``aesgcm`` a random 12-byte nonce then AES-GCM, authenticated with the object's storage
key (``/registry/secrets/<namespace>/<name>``) so a value copied to another key fails to
decrypt. ``identity`` stores plain text. ``secretbox`` (XSalsa20-Poly1305) is refused:
the ``cryptography`` package has no XSalsa20, and minik8s adds no NaCl dependency for it;
``kms`` needs an external plugin and is refused too.

Here the transformer wraps the store's persistence backend (:class:`EncryptingBackend`):
the in-memory store and the watch cache hold plain objects, as upstream's watch cache
does, while every row written to SQLite is encrypted. Objects written before encryption
was turned on stay as they are until they are written again.

Interface:
    config = load_config(path)              # EncryptionConfigError with the reason if the file is wrong
    backend = EncryptingBackend(SQLiteBackend(...), config)
    config.transform_to_storage(key, raw) -> bytes;  config.transform_from_storage(key, stored) -> bytes

Taught in chapter 12 (ConfigMaps and Secrets: Secrets at rest).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.exceptions import InvalidTag

from minik8s.store import Entry, Key

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
PREFIX = "k8s:enc:"
AES_KEY_SIZES = (16, 24, 32)   # AES-128, AES-192, AES-256
_REFUSED = {
    "secretbox": "the secretbox provider (XSalsa20-Poly1305) is not supported by minik8s: Python's cryptography "
                 "package has no XSalsa20; use aesgcm or aescbc",
    "kms": "the kms provider is not supported by minik8s: it needs an external KMS plugin; use aesgcm or aescbc",
}


class EncryptionConfigError(ValueError):
    """The encryption configuration file cannot be used; the server refuses to start."""


class DecryptionError(ValueError):
    """A stored value cannot be decrypted by any configured provider."""


@dataclass
class Provider:
    """One provider of the list: its type and named keys (none for identity); keys[0] encrypts."""
    type: str
    keys: list[tuple[str, bytes]] = field(default_factory=list)

    def encrypt(self, plain: bytes, context: bytes) -> bytes:
        if self.type == "identity":
            return plain
        name, key = self.keys[0]
        prefix = f"{PREFIX}{self.type}:v1:{name}:".encode()
        if self.type == "aescbc":
            iv = os.urandom(16)
            padder = padding.PKCS7(128).padder()
            padded = padder.update(plain) + padder.finalize()
            encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
            return prefix + iv + encryptor.update(padded) + encryptor.finalize()
        nonce = os.urandom(12)
        return prefix + nonce + AESGCM(key).encrypt(nonce, plain, context)

    def decrypt(self, stored: bytes, context: bytes) -> bytes | None:
        """The plain value, or None when this provider did not write it."""
        if self.type == "identity":
            return None if stored.startswith(PREFIX.encode()) else stored
        for name, key in self.keys:
            prefix = f"{PREFIX}{self.type}:v1:{name}:".encode()
            if not stored.startswith(prefix):
                continue
            body = stored[len(prefix):]
            try:
                if self.type == "aescbc":
                    decryptor = Cipher(algorithms.AES(key), modes.CBC(body[:16])).decryptor()
                    padded = decryptor.update(body[16:]) + decryptor.finalize()
                    unpadder = padding.PKCS7(128).unpadder()
                    return unpadder.update(padded) + unpadder.finalize()
                return AESGCM(key).decrypt(body[:12], body[12:], context)
            except (ValueError, InvalidTag):
                raise DecryptionError(f"{self.type} key {name} cannot decrypt the value (wrong key or "
                                      "corrupted data)") from None
        return None


@dataclass
class EncryptionConfig:
    """Which resources are encrypted, and with which providers (in order)."""
    rules: list[tuple[list[str], list[Provider]]]

    def providers_for(self, resource: str) -> list[Provider] | None:
        """The providers of the first rule naming ``resource`` (``secrets``, ``deployments.apps``); a rule may
        name ``*.<group>`` (``*.`` for the core group) or ``*.*``. None: the resource is stored as it is."""
        group = resource.partition(".")[2]
        for names, providers in self.rules:
            for name in names:
                if name in (resource, f"{resource}.", "*.*") or name == f"*.{group}":
                    return providers
        return None

    def transform_to_storage(self, key: Key, raw: bytes) -> bytes:
        providers = self.providers_for(key[0])
        return raw if providers is None else providers[0].encrypt(raw, _context(key))

    def transform_from_storage(self, key: Key, stored: bytes) -> bytes:
        providers = self.providers_for(key[0])
        if providers is None:
            return stored
        for provider in providers:
            plain = provider.decrypt(stored, _context(key))
            if plain is not None:
                return plain
        what = stored[:stored.find(b":", len(PREFIX) + 1)].decode(errors="replace") \
            if stored.startswith(PREFIX.encode()) else "plain text (no identity provider configured)"
        raise DecryptionError(f"no configured provider can read {_context(key).decode()}: stored as {what}")


def _context(key: Key) -> bytes:
    """The storage path upstream authenticates AES-GCM ciphertext with."""
    resource, namespace, name = key
    return f"/registry/{resource}/{namespace + '/' if namespace else ''}{name}".encode()


# --- reading the configuration file ------------------------------------------------------------------


def load_config(path: str | Path) -> EncryptionConfig:
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as err:
        raise EncryptionConfigError(f"error reading encryption provider configuration file {path}: "
                                    f"{err.strerror or err}") from None
    except yaml.YAMLError as err:
        raise EncryptionConfigError(f"error while parsing file {path}: {err}") from None
    try:
        return parse_config(document)
    except EncryptionConfigError as err:
        raise EncryptionConfigError(f"error while parsing file {path}: {err}") from None


def parse_config(document: Any) -> EncryptionConfig:
    if not isinstance(document, dict):
        raise EncryptionConfigError("the file is not an EncryptionConfiguration object")
    if document.get("kind") != KIND or document.get("apiVersion") != API_VERSION:
        raise EncryptionConfigError(f'want kind "{KIND}" in apiVersion "{API_VERSION}", got kind '
                                    f'"{document.get("kind", "")}" in apiVersion "{document.get("apiVersion", "")}"')
    rules = []
    for i, entry in enumerate(document.get("resources") or []):
        where = f"resources[{i}]"
        names = entry.get("resources") if isinstance(entry, dict) else None
        if not names or not all(isinstance(n, str) and n for n in names):
            raise EncryptionConfigError(f"{where}.resources: Required value: resources must be a non-empty list "
                                        "of resource names")
        providers = entry.get("providers") or []
        if not providers:
            raise EncryptionConfigError(f"{where}.providers: Required value: at least one provider is required")
        rules.append(([str(n) for n in names], [_provider(p, f"{where}.providers[{j}]")
                                               for j, p in enumerate(providers)]))
    if not rules:
        raise EncryptionConfigError("resources: Required value: at least one resource rule is required")
    return EncryptionConfig(rules)


def _provider(spec: Any, where: str) -> Provider:
    kinds = [k for k in (spec or {}) if k in ("aescbc", "aesgcm", "secretbox", "identity", "kms")] \
        if isinstance(spec, dict) else []
    if len(kinds) != 1:
        raise EncryptionConfigError(f"{where}: Invalid value: exactly one provider (aescbc, aesgcm, secretbox, "
                                    "identity, kms) must be given")
    kind = kinds[0]
    if kind in _REFUSED:
        raise EncryptionConfigError(f"{where}.{kind}: {_REFUSED[kind]}")
    if kind == "identity":
        return Provider("identity")
    keys = (spec[kind] or {}).get("keys") or []
    if not keys:
        raise EncryptionConfigError(f"{where}.{kind}.keys: Required value: at least one key is required")
    parsed: list[tuple[str, bytes]] = []
    for k, key in enumerate(keys):
        name, secret = str(key.get("name") or ""), str(key.get("secret") or "")
        if not name:
            raise EncryptionConfigError(f"{where}.{kind}.keys[{k}].name: Required value: key name is required")
        if ":" in name:
            raise EncryptionConfigError(f'{where}.{kind}.keys[{k}].name: Invalid value: "{name}": '
                                        "key name cannot contain ':'")
        if name in (n for n, _ in parsed):
            raise EncryptionConfigError(f'{where}.{kind}.keys[{k}].name: Duplicate value: "{name}"')
        try:
            material = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise EncryptionConfigError(f"{where}.{kind}.keys[{k}].secret: Invalid value: \"REDACTED\": "
                                        "secrets must be base64 encoded") from None
        if len(material) not in AES_KEY_SIZES:
            raise EncryptionConfigError(f"{where}.{kind}.keys[{k}].secret: Invalid value: \"REDACTED\": "
                                        f"secret is not of the expected length, got {len(material)}, expected "
                                        "one of [16 24 32]")
        parsed.append((name, material))
    return Provider(kind, parsed)


# --- the backend wrapper -----------------------------------------------------------------------------


class EncryptingBackend:
    """A persistence backend whose stored values pass through the encryption transformers."""

    def __init__(self, inner: Any, config: EncryptionConfig):
        self.inner = inner
        self.config = config

    def load(self) -> tuple[int, dict[Key, Entry]]:
        revision, entries = self.inner.load()
        return revision, {key: Entry(entry.revision, self.config.transform_from_storage(key, entry.raw))
                          for key, entry in entries.items()}

    def put(self, key: Key, entry: Entry, revision: int) -> None:
        self.inner.put(key, Entry(entry.revision, self.config.transform_to_storage(key, entry.raw)), revision)

    def remove(self, key: Key, revision: int) -> None:
        self.inner.remove(key, revision)

    def close(self) -> None:
        self.inner.close()

"""``kubectl create configmap`` and ``kubectl create secret generic|tls|docker-registry``.

Configuration data enters a cluster from the files and values a user already has:
``--from-literal=key=value``, ``--from-file=path`` (the key is the file's name),
``--from-file=key=path``, ``--from-file=dir`` (every regular file in it), and
``--from-env-file=path`` (``KEY=value`` lines, as ``docker run --env-file`` reads them). A
Secret's values are base64-encoded in ``data``; a ConfigMap keeps text in ``data`` and puts
files that are not UTF-8 in ``binaryData`` (base64). ``--append-hash`` adds a hash of the
content to the name, so that a changed ConfigMap gets a new name and the Deployment that
refers to it rolls out.

Interface:
    register(sub, parent)                         # ``create configmap|secret`` flags and handlers
    configmap_from_flags(name, args) -> ConfigMap # what ``create configmap`` builds (pure, reads files)
    secret_from_flags(kind, name, args) -> Secret # ``kind`` is generic, tls or docker-registry
    content_hash(obj) -> str                      # kubectl's 10-character suffix for ``--append-hash``

Invariants: sources are applied in kubectl's order (files, literals, env files); a key given
twice is an error, never a silent overwrite; the objects have the shape kubectl sends
(``creationTimestamp: null``), so ``--dry-run=client -o yaml`` prints what kubectl prints.

Taught in chapter 12 (ConfigMaps and Secrets).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
from typing import Any, Iterator

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env, UsageError
from minik8s.kubectl.printing import to_json, to_name, to_yaml

Obj = dict[str, Any]

CONFIGMAPS = resources.get("", "v1", "configmaps")
SECRETS = resources.get("", "v1", "secrets")

DEFAULT_DOCKER_SERVER = "https://index.docker.io/v1/"  # kubectl's --docker-server default

_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
_KEY_HELP = ("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
             "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')")
_ENV_HELP = ("a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', "
             "and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used "
             "for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')")

# The flags each sub-command accepts (beyond --append-hash and the common ones); kubectl rejects the others.
_FLAGS = {"configmap": ("--from-file", "--from-literal", "--from-env-file"),
          "generic": ("--from-file", "--from-literal", "--from-env-file", "--type"),
          "tls": ("--cert", "--key"),
          "docker-registry": ("--from-file", "--docker-server", "--docker-username", "--docker-password",
                              "--docker-email")}
_FLAG_ATTRS: dict[str, tuple[str, Any]] = {"--from-file": ("from_file", []), "--from-literal": ("from_literal", []),
               "--from-env-file": ("from_env_file", []), "--type": ("type", None), "--cert": ("cert", None),
               "--key": ("key", None), "--docker-server": ("docker_server", None),
               "--docker-username": ("docker_username", None), "--docker-password": ("docker_password", None),
               "--docker-email": ("docker_email", None)}

_CREATE_SECRET_HELP = """\
Create a secret with specified type.

 A docker-registry type secret is for accessing a container registry.

 A generic type secret indicate an Opaque secret type.

 A tls type secret holds TLS certificate and its associated key.

Available Commands:
  docker-registry   Create a secret for use with a Docker registry
  generic           Create a secret from a local file, directory, or literal value
  tls               Create a TLS secret

Usage:
  kubectl create secret (docker-registry | generic | tls) [options]

Use "kubectl create secret <command> --help" for more information about a given command.
Use "kubectl options" for a list of global command-line options (applies to all commands).
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    generators.register_create(("configmap", "cm"), create_configmap)
    generators.register_create(("secret",), create_secret)
    create = sub.choices["create"]  # `--from-literal` is already there (minik8s.kubectl.write)
    create.add_argument("--from-file", action="append", default=[])
    create.add_argument("--from-env-file", action="append", default=[])
    create.add_argument("--type", default=None)
    create.add_argument("--append-hash", nargs="?", const="true", default="false", action=_BoolFlag)
    create.add_argument("--cert", default=None)
    create.add_argument("--key", default=None)
    create.add_argument("--docker-server", default=None)
    create.add_argument("--docker-username", default=None)
    create.add_argument("--docker-password", default=None)
    create.add_argument("--docker-email", default=None)


class _BoolFlag(argparse.Action):
    """A kubectl boolean flag: ``--append-hash`` or ``--append-hash=false``. argparse would take the next
    word (``--append-hash NAME``) as the flag's value; a word that is not a boolean goes back to the
    command's arguments, where kubectl has it."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if values is None or str(values).lower() in ("true", "false", "1", "0", "t", "f"):
            setattr(namespace, self.dest, "true" if values is None else str(values))
            return
        setattr(namespace, self.dest, "true")
        if isinstance(getattr(namespace, "args", None), list):
            namespace.args.append(values)


# --- sources: literals, files, env files -------------------------------------------------------------


def _parse_literal(source: str) -> tuple[str, str]:
    key, sep, value = source.partition("=")
    if not sep or not key:
        raise CommandError(f"invalid literal source {source}, expected key=value")
    return key, value


def _parse_file_source(source: str) -> tuple[str, str]:
    """``path`` -> (basename, path); ``key=path`` -> (key, path), as kubectl's ParseFileSource."""
    count = source.count("=")
    if count == 0:
        return os.path.basename(source.rstrip("/")) or source, source
    if count > 1:
        raise CommandError("key names or file paths cannot contain '='")
    key, path = source.split("=")
    if not key:
        raise CommandError(f"key name for file path {path} missing")
    if not path:
        raise CommandError(f"file path for key name {key} missing")
    return key, path


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise CommandError(f"error reading {path}: no such file or directory") from None
    except OSError as err:
        raise CommandError(f"error reading {path}: {err.strerror.lower() if err.strerror else err}") from None


def _file_entries(sources: list[str]) -> list[tuple[str, bytes, str]]:
    """(key, content, path) for every ``--from-file``; a directory gives each regular file in it."""
    entries = []
    for source in sources:
        key, path = _parse_file_source(source)
        if os.path.isdir(path):
            if "=" in source:
                raise CommandError("cannot give a key name for a directory path")
            for item in sorted(os.listdir(path)):  # Go's ReadDir returns names sorted
                item_path = os.path.join(path, item)
                if os.path.isfile(item_path) and not os.path.islink(item_path):
                    entries.append((item, _read(item_path), item_path))
            continue
        entries.append((key, _read(path), path))
    return entries


def _env_entries(path: str) -> Iterator[tuple[str, str]]:
    """``KEY=value`` pairs of an env file: blank lines and ``#`` comments skipped, leading blanks of a line
    dropped (the value keeps its own), ``KEY`` alone takes the value from kubectl's environment."""
    if not os.path.exists(path):
        raise CommandError(f"error reading {path}: no such file or directory")
    for number, raw in enumerate(_read(path).split(b"\n")):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"env file {path} contains invalid utf8 bytes at line {number + 1}: "
                               f"[{' '.join(str(b) for b in raw)}]") from None
        if number == 0:
            line = line.removeprefix("\ufeff")
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not _ENV_NAME.fullmatch(key):
            raise CommandError(f"{json.dumps(key)} is not a valid key name: {_ENV_HELP}")
        yield key, value if sep else os.environ.get(key, "")  # one line at a time: errors come in file order


def _check_source_flags(args: argparse.Namespace) -> None:
    if args.from_env_file and (args.from_file or args.from_literal):
        raise CommandError("from-env-file cannot be combined with from-file or from-literal")


# --- ConfigMap ---------------------------------------------------------------------------------------


def configmap_from_flags(name: str, args: argparse.Namespace) -> Obj:
    """The ConfigMap ``kubectl create configmap NAME`` sends: text in ``data``, other bytes in ``binaryData``."""
    _check_source_flags(args)
    data: dict[str, str] = {}
    binary: dict[str, str] = {}

    def add(key: str, value: str | bytes) -> None:
        if not _KEY.fullmatch(key) or key in (".", ".."):
            raise CommandError(f"{json.dumps(key)} is not a valid key name for a ConfigMap: {_KEY_HELP}")
        for where, taken in (("Data", data), ("BinaryData", binary)):
            if key in taken:
                raise CommandError(f'cannot add key "{key}", another key by that name already exists in {where} '
                                   f'for ConfigMap "{name}"')
        if isinstance(value, bytes):
            try:
                data[key] = value.decode("utf-8")
            except UnicodeDecodeError:
                binary[key] = base64.b64encode(value).decode()
        else:
            data[key] = value

    for key, content, _ in _file_entries(args.from_file):
        add(key, content)
    for literal in args.from_literal:
        add(*_parse_literal(literal))
    for path in args.from_env_file:
        for key, value in _env_entries(path):
            add(key, value)
    obj: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"creationTimestamp": None, "name": name}}
    if binary:
        obj["binaryData"] = binary
    if data:
        obj["data"] = data
    return _with_hash(obj, args)


# --- Secret ------------------------------------------------------------------------------------------


def _secret_data(args: argparse.Namespace) -> dict[str, str]:
    """``data`` of a generic Secret (values base64), from files, then literals, then env files."""
    _check_source_flags(args)
    data: dict[str, str] = {}

    def add(key: str, value: bytes) -> None:
        if not _KEY.fullmatch(key) or key in (".", ".."):
            raise CommandError(f"{json.dumps(key)} is not valid key name for a Secret {_KEY_HELP}")
        if key in data:
            raise CommandError(f"cannot add key {key}, another key by that name already exists")
        data[key] = base64.b64encode(value).decode()

    for key, content, _ in _file_entries(args.from_file):
        add(key, content)
    for literal in args.from_literal:
        key, value = _parse_literal(literal)
        add(key, value.encode())
    for path in args.from_env_file:
        for key, value in _env_entries(path):
            add(key, value.encode())
    return data


def _docker_config(args: argparse.Namespace) -> str:
    """The ``.dockerconfigjson`` kubectl writes: one registry, its credentials and their ``auth``."""
    user, password = args.docker_username or "", args.docker_password or ""
    entry: Obj = {"username": user, "password": password}
    if args.docker_email:
        entry["email"] = args.docker_email
    entry["auth"] = base64.b64encode(f"{user}:{password}".encode()).decode()
    return _go_json({"auths": {args.docker_server or DEFAULT_DOCKER_SERVER: entry}}, sort=False)


def _tls_data(args: argparse.Namespace) -> dict[str, str]:
    if not args.cert or not args.key:
        raise CommandError("key and cert must be specified")
    pems = []
    for path in (args.cert, args.key):
        try:
            with open(path, "rb") as f:
                pems.append(f.read())
        except OSError as err:
            raise CommandError(f"Cannot read file {path}, open {path}: "
                               f"{(err.strerror or str(err)).lower()}") from None
    check_key_pair(pems[0], pems[1])
    return {"tls.crt": base64.b64encode(pems[0]).decode(), "tls.key": base64.b64encode(pems[1]).decode()}


def check_key_pair(cert_pem: bytes, key_pem: bytes) -> None:
    """Refuse a certificate and key that do not make a pair, with Go's ``tls.X509KeyPair`` messages."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if b"-----BEGIN" not in cert_pem:
        raise CommandError("tls: failed to find any PEM data in certificate input")
    if b"CERTIFICATE-----" not in cert_pem:
        raise CommandError("tls: failed to find certificate PEM data in certificate input, but did find a "
                           "private key; PEM inputs may have been switched")
    if b"-----BEGIN" not in key_pem:
        raise CommandError("tls: failed to find any PEM data in key input")
    if b"PRIVATE KEY-----" not in key_pem:
        raise CommandError("tls: found a certificate rather than a key in the PEM for the private key")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise CommandError("x509: malformed certificate") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise CommandError("tls: failed to parse private key") from None
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    if (cert.public_key().public_bytes(serialization.Encoding.DER, raw)
            != key.public_key().public_bytes(serialization.Encoding.DER, raw)):
        raise CommandError("tls: private key does not match public key")


def secret_from_flags(kind: str, name: str, args: argparse.Namespace) -> Obj:
    """The Secret ``kubectl create secret KIND NAME`` sends, checked as kubectl checks it."""
    secret_type: str | None
    if kind == "generic":
        data, secret_type = _secret_data(args), args.type
    elif kind == "tls":
        data, secret_type = _tls_data(args), "kubernetes.io/tls"
    else:
        if not args.from_file and not (args.docker_username and args.docker_password):
            raise CommandError("either --from-file or the combination of --docker-username, --docker-password "
                               "and --docker-server is required")
        secret_type = "kubernetes.io/dockerconfigjson"
        if args.from_file:  # a bare path is keyed .dockerconfigjson here, not by the file's name
            keyed = [source if "=" in source else f".dockerconfigjson={source}" for source in args.from_file]
            data = _secret_data(argparse.Namespace(**{**vars(args), "from_file": keyed}))
        else:
            data = {".dockerconfigjson": base64.b64encode(_docker_config(args).encode()).decode()}
    obj: Obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"creationTimestamp": None, "name": name}}
    if data:
        obj["data"] = data
    if secret_type:
        obj["type"] = secret_type
    return _with_hash(obj, args)


# --- --append-hash -----------------------------------------------------------------------------------


def _go_json(value: Any, sort: bool = True) -> str:
    """JSON as Go's encoding/json writes it: compact, map keys sorted, <, > and & escaped."""
    text = json.dumps(value, sort_keys=sort, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text


def content_hash(obj: Obj) -> str:
    """kubectl's hash suffix: sha256 of kind, name, type and data as JSON; the first 10 hex digits with the
    vowel-like ones swapped (0→g, 1→h, 3→k, a→m, e→t) so that no suffix spells a word."""
    encoded: Obj = {"kind": obj["kind"], "name": obj["metadata"]["name"], "data": obj.get("data") or {}}
    if obj["kind"] == "Secret":
        encoded["type"] = obj.get("type", "")
    elif obj.get("binaryData"):
        encoded["binaryData"] = obj["binaryData"]
    if "immutable" in obj:
        encoded["immutable"] = obj["immutable"]
    digest = hashlib.sha256(_go_json(encoded).encode()).hexdigest()[:10]
    return digest.translate(str.maketrans("013ae", "ghkmt"))


def _with_hash(obj: Obj, args: argparse.Namespace) -> Obj:
    if str(args.append_hash).lower() in ("true", "1", "t"):
        obj["metadata"]["name"] = f"{obj['metadata']['name']}-{content_hash(obj)}"
    return obj


# --- the commands ------------------------------------------------------------------------------------


def _reject_foreign_flags(args: argparse.Namespace, kind: str, command: str) -> None:
    for flag, (attr, unset) in _FLAG_ATTRS.items():
        if flag not in _FLAGS[kind] and getattr(args, attr) != unset:
            raise UsageError(f"unknown flag: {flag}\nSee '{command} --help' for usage.")


def _one_name(words: list[str], command: str) -> str:
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}\n"
                           f"See '{command} -h' for help and examples")
    return words[0]


def create_configmap(env: Env, words: list[str]) -> None:
    """``kubectl create configmap NAME [--from-file=...] [--from-literal=...] [--from-env-file=...]``."""
    _reject_foreign_flags(env.args, "configmap", "kubectl create configmap")
    name = _one_name(words, "kubectl create configmap")
    _send(env, CONFIGMAPS, configmap_from_flags(name, env.args), "configmap: ")


def create_secret(env: Env, words: list[str]) -> None:
    """``kubectl create secret generic|tls|docker-registry NAME ...``."""
    if not words:
        env.error(_CREATE_SECRET_HELP)  # kubectl prints the help to stderr and fails
        return
    kind, rest = words[0], words[1:]
    if kind not in _FLAGS or kind == "configmap":
        raise CommandError(f'unknown command "{" ".join(words)}"\n'
                           "See 'kubectl create secret -h' for help and examples")
    command = f"kubectl create secret {kind}"
    _reject_foreign_flags(env.args, kind, command)
    name = _one_name(rest, command)
    _send(env, SECRETS, secret_from_flags(kind, name, env.args), "secret ")


def _send(env: Env, resource: resources.Resource, obj: Obj, failed: str) -> None:
    """Create (or only print, with --dry-run=client) the object. ``failed`` prefixes a server error as kubectl
    words it: ``failed to create configmap: ...`` but ``failed to create secret ...`` (no colon)."""
    a = env.args
    if a.namespace:
        obj["metadata"]["namespace"] = a.namespace  # upstream sets it only when -n is given
    dry = a.dry_run in ("client", "true")
    if not dry:
        try:
            obj = env.client.create(resource, obj, env.namespace, dry_run=a.dry_run == "server")
        except StatusError as err:
            raise CommandError(f"failed to create {failed}{err.message}") from None
    output = a.output
    if output == "yaml":
        env.out.write(to_yaml(obj))
    elif output == "json":
        env.out.write(to_json(obj) + "\n")
    elif output == "name":
        env.out.write(to_name(resource, obj) + "\n")
    else:
        suffix = {"client": " (dry run)", "true": " (dry run)", "server": " (server dry run)"}.get(a.dry_run, "")
        env.out.write(f"{resource.kind_ref}/{obj['metadata']['name']} created{suffix}\n")

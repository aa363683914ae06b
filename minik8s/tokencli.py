"""``minik8s token create|list|delete``: bootstrap tokens, as ``kubeadm token`` manages them.

A bootstrap token (format: :mod:`minik8s.api.bootstraptoken`) lets a new machine join the
cluster: ``minik8s token create --print-join-command`` prints the whole command to run there::

    minik8s join https://10.0.0.5:6443 --token abcdef.0123456789abcdef \\
        --discovery-token-ca-cert-hash sha256:<hex>

The commands talk to the API server as the admin, with the kubeconfig kubectl uses (``--kubeconfig``,
else ``$KUBECONFIG``, else ``~/.kube/config``; ``--context``): the token is a Secret in
``kube-system``. The join command names the kubeconfig's server and the hash of the cluster CA's
public key (its kubeconfig ``certificate-authority-data``), which ``minik8s join`` checks.

* ``create [TOKEN] [--ttl 24h] [--description TEXT] [--usages authentication,signing]
  [--groups system:bootstrappers:kubeadm:default-node-token] [--print-join-command]``: prints the token
  (``--ttl 0``: it never expires);
* ``list``: ``TOKEN TTL EXPIRES USAGES DESCRIPTION EXTRA GROUPS``, as kubeadm prints them;
* ``delete TOKEN_ID|TOKEN...``: ``bootstrap token "<id>" deleted``.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from minik8s import kubeconfig
from minik8s.api import bootstraptoken as bt
from minik8s.api import resources
from minik8s.api.duration import short_human_duration
from minik8s.api.errors import StatusError
from minik8s.clock import rfc3339

SECRETS = resources.get("", "v1", "secrets")
_USAGES = ("authentication", "signing")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minik8s token", description="Manage bootstrap tokens (kubeadm token).")
    parser.add_argument("--kubeconfig", default=None, help="the admin kubeconfig (default as kubectl's)")
    parser.add_argument("--context", default=None, help="the kubeconfig context to use")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    create = sub.add_parser("create", help="create a bootstrap token on the server")
    create.add_argument("token", nargs="?", default=None, help="the token to create (default: a random one)")
    create.add_argument("--ttl", default="24h", help="how long until the token expires (default 24h; 0: never)")
    create.add_argument("--description", default="", help="a human-friendly description of the token")
    create.add_argument("--usages", default=",".join(_USAGES),
                        help="how the token may be used (default authentication,signing)")
    create.add_argument("--groups", default=bt.DEFAULT_NODE_TOKEN_GROUP,
                        help=f"extra groups the token authenticates as (default {bt.DEFAULT_NODE_TOKEN_GROUP})")
    create.add_argument("--print-join-command", action="store_true",
                        help="print the whole 'minik8s join' command instead of only the token")
    sub.add_parser("list", help="list the bootstrap tokens on the server")
    delete = sub.add_parser("delete", help="delete bootstrap tokens on the server")
    delete.add_argument("tokens", nargs="+", metavar="TOKEN", help="a token id or a whole token")
    return parser


def _client(args: argparse.Namespace) -> tuple[Any, kubeconfig.Context]:
    from minik8s.client.http import HTTPClient

    ctx = kubeconfig.current(kubeconfig.load(kubeconfig.path(args.kubeconfig)), args.context)
    return HTTPClient(ctx.server, token=ctx.token, ca_pem=ctx.ca_pem, cert_pem=ctx.cert_pem, key_pem=ctx.key_pem,
                      verify=not ctx.insecure), ctx


def _ttl(text: str) -> float:
    from minik8s.kubectl.authn import parse_go_duration

    try:
        seconds = parse_go_duration(text)
    except ValueError:
        raise ValueError(f'invalid argument "{text}" for "--ttl" flag: time: invalid duration "{text}"') from None
    if seconds < 0:
        raise ValueError(f"--ttl must not be negative: {text}")
    return seconds


def create(client: Any, token: str | None, ttl: float, description: str = "",
           usages: tuple[str, ...] = _USAGES, groups: tuple[str, ...] = (bt.DEFAULT_NODE_TOKEN_GROUP,)) -> str:
    """Store a bootstrap token (a new random one unless given); returns it."""
    token = token or bt.generate()
    if bt.parse(token) is None:
        raise ValueError(f'the bootstrap token "{token}" was not of the form "{bt.TOKEN_RE.pattern}"')
    for usage in usages:
        if usage not in _USAGES:
            raise ValueError(f'unknown usage "{usage}": valid values are {", ".join(_USAGES)}')
    for group in groups:
        if not bt.valid_group(group):
            raise ValueError(f'group "{group}" must start with "system:bootstrappers:" and match '
                             f'"^system:bootstrappers:[a-z0-9:-]{{0,255}}[a-z0-9]$"')
    expires = time.time() + ttl if ttl else None
    client.create(SECRETS, bt.make_secret(token, expires, usages, groups, description), bt.NAMESPACE)
    return token


def list_lines(client: Any, now: float) -> list[str]:
    """``kubeadm token list``'s table."""
    rows = [("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS")]
    secrets = client.list(SECRETS, bt.NAMESPACE).get("items") or []
    for secret in sorted(secrets, key=lambda s: s["metadata"]["name"]):
        if secret.get("type") != bt.SECRET_TYPE:
            continue
        data = bt.fields(secret)
        token = f"{data.get('token-id', '')}.{data.get('token-secret', '')}"
        when = bt.expires_at(secret)
        ttl = "<forever>" if when is None else ("<invalid>" if when <= now else short_human_duration(when - now))
        usages = ",".join(u for u in _USAGES if data.get(f"usage-bootstrap-{u}") == "true")
        rows.append((token, ttl, "<never>" if when is None else rfc3339(when), usages or "<none>",
                     data.get("description") or "<none>", data.get("auth-extra-groups", "")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def delete(client: Any, token_or_id: str) -> str:
    token_id = (bt.parse(token_or_id) or (token_or_id, ""))[0]
    if not bt.valid_id(token_id):
        raise ValueError(f'given token didn\'t match pattern "[a-z0-9]{{6}}" or "{bt.TOKEN_RE.pattern}"')
    client.delete(SECRETS, bt.secret_name(token_id), bt.NAMESPACE)
    return f'bootstrap token "{token_id}" deleted'


def join_command(server: str, token: str, ca_pem: bytes) -> str:
    from minik8s.join import ca_cert_hash

    return f"minik8s join {server} --token {token} --discovery-token-ca-cert-hash {ca_cert_hash(ca_pem)}"


def main(argv: list[str]) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 2
    try:
        client, ctx = _client(args)
        if args.verb == "create":
            usages = tuple(u for u in args.usages.split(",") if u)
            groups = tuple(g for g in args.groups.split(",") if g)
            token = create(client, args.token, _ttl(args.ttl), args.description, usages, groups)
            if args.print_join_command:
                if ctx.ca_pem is None:
                    raise ValueError("the kubeconfig names no certificate-authority: cannot compute the CA hash")
                print(join_command(ctx.server, token, ctx.ca_pem))
            else:
                print(token)
        elif args.verb == "list":
            print("\n".join(list_lines(client, time.time())))
        else:
            for given in args.tokens:
                print(delete(client, given))
    except StatusError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except (ValueError, ConnectionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

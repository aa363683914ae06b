"""``minik8s kubectl``: a kubectl-compatible command line.

kubectl is only an HTTP client: it turns ``kubectl get pods -l app=nginx`` into
``GET /api/v1/namespaces/default/pods?labelSelector=app%3Dnginx`` and prints
what comes back. This one does the same, with the same verbs, flags, output
and exit codes, so what you learn here works unchanged with the real kubectl.

Interface: ``run(args, client=None, stdin=None, clock=None, out=None, err=None) -> (code, stdout, stderr)``.
With ``client`` given (an in-process cluster), no kubeconfig is read.
The commands live in their own modules (:mod:`.get` for get and describe, :mod:`.write` for create,
apply, delete, label and annotate, :mod:`.info` for api-resources, cluster-info, version and config, ...),
listed by :mod:`.registry`; this module parses the words and dispatches to the verb's handler.
"""

from __future__ import annotations

import argparse
import io
import re
import shlex
import time
import sys
from pathlib import Path
from typing import Any, Callable, TextIO

from minik8s import kubeconfig
from minik8s.api.errors import StatusError
from minik8s.client.base import Client
from minik8s.clock import Clock, RealClock
from minik8s.kubectl import registry, restmapper
from minik8s.kubectl.command import CommandError, Env, UsageError, resolve, server_error
from minik8s.kubectl.manifests import ManifestError

# The shared types live in minik8s.kubectl.command; re-exported here for callers of the old names.
__all__ = ["CommandError", "Env", "UsageError", "resolve", "server_error", "run", "main"]


# --- flags -------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit(2); kubectl exits 1 with its own words
        if "unrecognized arguments" in message:
            flag = message.split(":", 1)[1].strip().split()[0]
            verb = self.prog.split()[-1]
            raise UsageError(f"unknown flag: {flag}\nSee 'kubectl {verb} --help' for usage." if verb != "kubectl"
                             else f"unknown flag: {flag}\nSee 'kubectl --help' for usage.")
        unknown = re.match(r"argument verb: invalid choice: '([^']*)'", message)
        if unknown:
            raise UsageError(f'unknown command "{unknown.group(1)}" for "kubectl"')
        raise CommandError(message)


def _global_flags() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    parent.add_argument("-n", "--namespace", default=None)
    parent.add_argument("-s", "--server", default=None)
    parent.add_argument("--token", default=None)
    parent.add_argument("--certificate-authority", default=None)
    parent.add_argument("--insecure-skip-tls-verify", action="store_true")
    parent.add_argument("--kubeconfig", default=None)
    parent.add_argument("--context", default=None)
    parent.add_argument("--request-timeout", default=None)
    parent.add_argument("-v", "--v", default=None)
    parent.add_argument("--as", dest="as_user", default=None)   # impersonation (Impersonate-* headers)
    parent.add_argument("--as-group", dest="as_group", action="append", default=[])
    parent.add_argument("--as-uid", dest="as_uid", default=None)
    return parent


def _parser() -> _Parser:
    parser = _Parser(prog="kubectl", add_help=False)
    sub = parser.add_subparsers(dest="verb", parser_class=_Parser)
    registry.add_commands(sub, _global_flags())
    return parser


# Flags whose value may start with "-" (a negative duration): pflag takes the next word as the value where
# argparse would take it for a flag, so ``--duration -1s`` is joined into ``--duration=-1s`` first.
_DURATION_FLAGS = frozenset({"--duration", "--timeout", "--since", "--request-timeout"})


def _join_dashed_values(words: list[str]) -> list[str]:
    joined: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        following = words[index + 1] if index + 1 < len(words) else ""
        if word in _DURATION_FLAGS and following.startswith("-") and following[1:2].isdigit():
            joined.append(f"{word}={following}")
            index += 2
            continue
        joined.append(word)
        index += 1
    return joined


def _verb_first(words: list[str]) -> list[str]:
    """Global flags may come before the verb, as in ``kubectl --server URL -n ns get pods`` (cobra parses
    persistent flags anywhere): move the leading ones, with their values, to just after the verb."""
    taking_value, switches = set(), set()
    for action in _global_flags()._actions:
        (switches if action.nargs == 0 else taking_value).update(action.option_strings)
    leading: list[str] = []
    index = 0
    while index < len(words) and words[index].startswith("-") and words[index] != "-":
        flag = words[index].split("=", 1)[0]
        if flag not in taking_value and flag not in switches:   # kubectl would look for a plugin next
            raise UsageError(f"flags cannot be placed before plugin name: {flag}")
        if flag in taking_value and "=" not in words[index]:
            if index + 1 >= len(words):
                named = f"'{flag[1:]}' in {flag}" if not flag.startswith("--") else flag
                raise UsageError(f"flag needs an argument: {named}\nSee 'kubectl --help' for usage.")
            leading += words[index:index + 2]
            index += 2
        else:
            leading.append(words[index])
            index += 1
    if not leading or index >= len(words):
        return words
    return [words[index], *leading, *words[index + 1:]]


def _parse(words: list[str]) -> argparse.Namespace:
    """Parse kubectl's words. Like kubectl (cobra), flags and arguments may come in any order:
    ``label pods -l app=web team=blue`` has its argument after a flag's value, and global flags may
    come before the verb."""
    args, extras = _parser().parse_known_args(_join_dashed_values(_verb_first(words)))
    for word in extras:
        if word.startswith("-"):
            raise UsageError(f"unknown flag: {word.split('=', 1)[0]}\nSee 'kubectl {args.verb or ''} --help' "
                             "for usage.".replace("kubectl  --help", "kubectl --help"))
        positional = next((name for name in ("args", "resources", "rest", "command")
                           if isinstance(getattr(args, name, None), list)), None)
        if positional is None:
            raise CommandError(f"unexpected argument: {word}")
        getattr(args, positional).append(word)
    return args


def _impersonation(args: argparse.Namespace) -> tuple[str, tuple[str, ...], str] | None:
    """``--as``/``--as-group``/``--as-uid``; kubectl refuses groups or a uid without a user."""
    if args.as_user is None:
        if args.as_group or args.as_uid:
            raise CommandError("requesting uid or groups without impersonating a user")
        return None
    return args.as_user, tuple(args.as_group), args.as_uid or ""


def _in_process_as(client: Client, args: argparse.Namespace) -> Client:
    """An in-process client acting as the ``--as`` user (authorized as over HTTP), if one is given."""
    wanted = _impersonation(args)
    if wanted is None or not hasattr(client, "as_user"):
        return client
    from minik8s.apiserver.auth.impersonation import impersonated

    return client.as_user(impersonated(wanted[0], wanted[1], wanted[2]))


def _make_client_factory(args: argparse.Namespace, env_holder: list[Env]) -> Callable[[], Client]:
    def factory() -> Client:
        from minik8s.client.http import HTTPClient

        if args.server:
            try:
                ca = Path(args.certificate_authority).read_bytes() if args.certificate_authority else None
            except OSError as exc:
                raise CommandError(f"unable to read certificate-authority {args.certificate_authority}: "
                                   f"{exc.strerror}") from None
            return HTTPClient(args.server, token=args.token, verify=not args.insecure_skip_tls_verify, ca_pem=ca,
                              impersonate=_impersonation(args))
        try:
            config = kubeconfig.load(kubeconfig.path(args.kubeconfig))
            ctx = kubeconfig.current(config, args.context)
        except ValueError as exc:
            if "current-context" not in str(exc):
                raise CommandError(str(exc)) from None
            raise CommandError("The connection to the server localhost:8080 was refused - did you specify the "
                               "right host or port?") from None
        env_holder[0].default_namespace = ctx.namespace
        return HTTPClient(ctx.server, token=args.token or ctx.token, verify=not ctx.insecure, ca_pem=ctx.ca_pem,
                          impersonate=_impersonation(args), cert_pem=ctx.cert_pem, key_pem=ctx.key_pem)

    return factory


def run(argv: str | list[str], client: Client | None = None, stdin: str | None = None, clock: Clock | None = None,
        out: TextIO | None = None, err: TextIO | None = None,
        settle: Callable[[], None] | None = None) -> tuple[int, str, str]:
    """Run one kubectl command; returns (exit code, stdout, stderr). Output also goes to out/err if given."""
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    if words and words[0] == "kubectl":
        words = words[1:]
    stdout = out or io.StringIO()
    stderr = err or io.StringIO()
    # Everything after "--" is a command for a container (run, exec), never kubectl's own flags.
    after_dashes: list[str] = []
    if "--" in words:
        index = words.index("--")
        words, after_dashes = words[:index], words[index + 1:]
    try:
        args = _parse(words)
        args.after_dashes = after_dashes
    except CommandError as exc:
        stderr.write(f"{'Error' if isinstance(exc, UsageError) else 'error'}: {exc}\n")
        return 1, _value(stdout), _value(stderr)
    if not args.verb:
        stdout.write("kubectl controls the Kubernetes cluster manager.\n\nUsage:\n  kubectl [flags] [options]\n")
        return 0, _value(stdout), _value(stderr)
    holder: list[Env] = []
    if client is not None:
        try:
            client = _in_process_as(client, args)
        except CommandError as exc:
            stderr.write(f"error: {exc}\n")
            return 1, _value(stdout), _value(stderr)
    env = Env(args=args, client_factory=(lambda: client) if client is not None else _make_client_factory(args, holder),
              out=stdout, err=stderr, stdin=stdin if stdin is not None else _read_stdin(words), clock=clock or RealClock(),
              settle=settle or (lambda: time.sleep(0.2)))
    holder.append(env)
    if client is not None and args.namespace is None:
        env.default_namespace = "default"
    try:
        if client is None and args.verb not in ("config", "version"):
            env.client  # resolve the kubeconfig now, so its namespace is known before the command runs
        with restmapper.using(lambda: env.client):
            args.handler(env)
    except StatusError as exc:
        env.error(server_error(exc))
    except (CommandError, ManifestError) as exc:
        env.error(f"{'Error' if isinstance(exc, UsageError) else 'error'}: {exc}")
    except ConnectionError as exc:
        env.error(str(exc))
    except BrokenPipeError:
        pass
    code = env.exit_code if env.exit_code is not None else (1 if env.failed else 0)
    return code, _value(stdout), _value(stderr)


def _read_stdin(words: list[str]) -> str | None:
    if "-" in words and not sys.stdin.isatty():
        return sys.stdin.read()
    return None


def _value(stream: TextIO) -> str:
    return stream.getvalue() if isinstance(stream, io.StringIO) else ""


def main(argv: list[str]) -> int:
    code, _, _ = run(argv, out=sys.stdout, err=sys.stderr)
    return code

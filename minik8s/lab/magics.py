"""The IPython extension: ``%load_ext minik8s``, ``%kubectl``, ``%%kubectl`` and ``%minik8s``.

A lab is a notebook that talks to a cluster the way a person at a terminal
does: it types kubectl commands and reads what they print. These magics make
that one line each:

* ``%load_ext minik8s`` starts an in-process cluster (3 nodes, simulated
  runtime, virtual clock, seed 0: every run prints the same thing). When the
  environment variable ``MINIK8S_KUBECONFIG`` names a kubeconfig and the real
  ``kubectl`` is on PATH, it uses that real cluster instead.
* ``%kubectl get pods`` prints exactly what kubectl prints: stdout as is, and a
  failure as kubectl's stderr (no traceback; the kernel carries on).
* ``%%kubectl apply -f -`` (also ``create`` and ``delete``) passes the cell's
  body, YAML, as kubectl's standard input.
* ``%minik8s start [--nodes N] [--runtime R] [--clock virtual|real] [--seed S]``,
  ``%minik8s stop``, ``%minik8s advance 30s`` (virtual time; a real cluster
  waits), ``%minik8s status``, ``%minik8s use-kubeconfig PATH``.
* ``%minik8s node stop|start NAME`` stops or restarts a node's kubelet (the node
  goes NotReady, taints and evictions follow on the cluster clock);
  ``%minik8s node add [NAME] [--label K=V]`` and ``%minik8s node remove NAME``
  let machines join and leave (:mod:`minik8s.nodecontrol`). Only an in-process
  cluster can do this: a real cluster's nodes are machines.

``%kubectl`` lines are not expanded by IPython (``{...}`` and ``$x`` reach kubectl
as typed) because jsonpath templates look like Python format fields.

Invariant: no magic raises into the notebook. Every failure becomes a message on
stderr and the exit code is kept in ``last_exit_code`` for whoever wants it.

Taught in the labs' introduction (labs/00-sample.ipynb).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from minik8s import nodecontrol
from minik8s.lab import session as lab_session
from minik8s.lab.session import InProcess, LabError, RealCluster, Session

# The lab defaults: deterministic, so a notebook's committed outputs are what it prints every time.
DEFAULTS: dict[str, Any] = {"nodes": 3, "runtime": "simulated", "clock": "virtual", "seed": 0}

# Points the magics at a real cluster instead of an in-process one.
KUBECONFIG_ENV = "MINIK8S_KUBECONFIG"

# The exit code of the last %kubectl (0 when it succeeded); None before the first.
last_exit_code: int | None = None


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


# --- starting and stopping ---------------------------------------------------------------

def start(nodes: int | None = None, runtime: str | None = None, clock: str | None = None,
          seed: int | None = None, *, quiet: bool = False) -> Session | None:
    """Replace the current session by a new in-process cluster. Prints why on failure and returns None."""
    from minik8s.cluster import Cluster

    stop(quiet=True)
    options = {**DEFAULTS, **{k: v for k, v in
                              {"nodes": nodes, "runtime": runtime, "clock": clock, "seed": seed}.items()
                              if v is not None}}
    try:
        cluster = Cluster(nodes=options["nodes"], runtime=options["runtime"], clock=options["clock"],
                          seed=options["seed"])
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported to the student, not raised
        _err(f"minik8s: could not start the cluster: {type(exc).__name__}: {exc}")
        return None
    session = Session(InProcess(cluster))
    lab_session.set_current(session)
    if not quiet:
        print(f"minik8s: started an {session.describe()}, seed={options['seed']}")
    return session


def use_kubeconfig(path: str, *, quiet: bool = False) -> Session | None:
    """Point the lab at a real cluster. Needs the real kubectl on PATH."""
    binary = lab_session.real_kubectl()
    if binary is None:
        _err("minik8s: the real kubectl is not on PATH; install it to use a real cluster")
        return None
    if not os.path.exists(path):
        _err(f"minik8s: no kubeconfig at {path}")
        return None
    stop(quiet=True)
    session = Session(RealCluster(path, binary))
    lab_session.set_current(session)
    if not quiet:
        print(f"minik8s: using the {session.describe()}")
    return session


def stop(*, quiet: bool = False) -> None:
    """Stop the in-process cluster (a real one is left alone) and forget the session."""
    session = lab_session.current()
    if session is None:
        return
    lab_session.set_current(None)
    try:
        session.stop()
    except Exception as exc:  # noqa: BLE001 - stopping must not fail the notebook
        _err(f"minik8s: error while stopping: {exc}")
    if not quiet:
        print("minik8s: stopped")


# --- the magics --------------------------------------------------------------------------

def kubectl_magic(line: str, cell: str | None = None) -> None:
    """``%kubectl ARGS`` runs kubectl; ``%%kubectl ARGS`` gives it the cell body on stdin."""
    global last_exit_code
    try:
        session = lab_session.require()
        words = lab_session.split_args(line)
    except (LabError, ValueError) as exc:
        last_exit_code = 1
        _err(f"error: {exc}")
        return
    if cell is not None and not words:
        last_exit_code = 1
        _err("error: %%kubectl needs a command on its first line, e.g. %%kubectl apply -f -")
        return
    try:
        result = session.kubectl(words, stdin=cell)
    except Exception as exc:  # noqa: BLE001 - a bug in a component must not take the notebook down
        last_exit_code = 1
        _err(f"error: minik8s failed while running this command: {type(exc).__name__}: {exc}")
        return
    last_exit_code = result.code
    if result.out:
        sys.stdout.write(result.out)
        sys.stdout.flush()
    if result.err:
        _err(result.err)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit the kernel's process
        raise ValueError(message)


def _minik8s_parser() -> _Parser:
    parser = _Parser(prog="%minik8s", add_help=False)
    sub = parser.add_subparsers(dest="action", parser_class=_Parser)
    begin = sub.add_parser("start", add_help=False)
    begin.add_argument("--nodes", type=int)
    begin.add_argument("--runtime", choices=["simulated", "process", "docker"])
    begin.add_argument("--clock", choices=["virtual", "real"])
    begin.add_argument("--seed", type=int)
    sub.add_parser("stop", add_help=False)
    sub.add_parser("status", add_help=False)
    forward = sub.add_parser("advance", add_help=False)
    forward.add_argument("duration")
    use = sub.add_parser("use-kubeconfig", add_help=False)
    use.add_argument("path")
    node = sub.add_parser("node", add_help=False)
    node.add_argument("node_action", choices=nodecontrol.ACTIONS)
    node.add_argument("name", nargs="?")
    node.add_argument("--label", action="append", default=[])
    return parser


USAGE = ("usage: %minik8s start [--nodes N] [--runtime simulated|process|docker] [--clock virtual|real] [--seed S]\n"
         "       %minik8s stop | status | advance DURATION (30s, 2m) | use-kubeconfig PATH\n"
         "       %minik8s node stop|start|remove NAME | node add [NAME] [--label KEY=VALUE]")


def minik8s_magic(line: str) -> None:
    """``%minik8s start|stop|status|advance|use-kubeconfig|node``."""
    try:
        args = _minik8s_parser().parse_args(lab_session.split_args(line))
    except ValueError as exc:
        _err(f"minik8s: {exc}\n{USAGE}")
        return
    try:
        _dispatch(args)
    except (LabError, ValueError, RuntimeError) as exc:
        _err(f"minik8s: {exc}")


def _dispatch(args: argparse.Namespace) -> None:
    if args.action == "start":
        start(args.nodes, args.runtime, args.clock, args.seed)
    elif args.action == "stop":
        stop()
    elif args.action == "status":
        session = lab_session.current()
        print(f"minik8s: {session.describe()}" if session else "minik8s: no cluster (run %minik8s start)")
    elif args.action == "advance":
        seconds = lab_session.parse_duration(args.duration)
        session = lab_session.require()
        session.advance(seconds)
        print(f"minik8s: advanced {lab_session.format_duration(seconds)}")
    elif args.action == "use-kubeconfig":
        use_kubeconfig(os.path.expanduser(args.path))
    elif args.action == "node":
        _node(args)
    else:
        _err(USAGE)


def _node(args: argparse.Namespace) -> None:
    cluster = lab_session.require().cluster
    if cluster is None:
        raise LabError(f"node {args.node_action} is not possible on a real cluster: its nodes are machines "
                       "(stop or start the kubelet there, e.g. sudo systemctl stop kubelet, or use your "
                       "provider's tools to add or remove nodes)")
    print(f"minik8s: {nodecontrol.run(cluster, args.node_action, args.name, nodecontrol.parse_labels(args.label))}")


# --- the extension -----------------------------------------------------------------------

def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and start the cluster (a real one if ``MINIK8S_KUBECONFIG`` is set)."""
    from IPython.core.magic import no_var_expand

    ipython.register_magic_function(no_var_expand(kubectl_magic), "line_cell", "kubectl")
    ipython.register_magic_function(no_var_expand(minik8s_magic), "line", "minik8s")
    kubeconfig = os.environ.get(KUBECONFIG_ENV)
    if kubeconfig and lab_session.real_kubectl() is not None:
        if use_kubeconfig(kubeconfig) is not None:
            return
    elif kubeconfig:
        _err(f"minik8s: {KUBECONFIG_ENV} is set but the real kubectl is not on PATH; using an in-process cluster")
    start()


def unload_ipython_extension(ipython: Any) -> None:
    """Stop the cluster; the magics stay registered (IPython cannot unregister them) but report no cluster."""
    stop(quiet=True)

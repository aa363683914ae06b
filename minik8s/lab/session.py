"""The lab session: the one cluster a notebook talks to, in-process or real.

A lab notebook runs kubectl commands, checks exercises and draws pictures, and
each of those needs "the cluster". This module keeps that one cluster behind a
small :class:`Backend` interface with two implementations:

* :class:`InProcess` wraps a :class:`minik8s.cluster.Cluster` and runs minik8s's
  own kubectl against its in-process client. With a virtual clock the cluster
  settles before and after every command, so outputs are deterministic.
* :class:`RealCluster` runs the real ``kubectl`` binary (a subprocess) against a
  kubeconfig, so the very same notebook works on a real Kubernetes cluster.

Both answer ``kubectl(args, stdin) -> KubectlResult`` with kubectl's exit code,
stdout and stderr, never raising for a failed command. :class:`ClusterView` is
the read API the exercise checks use; it only parses ``kubectl get -o json``,
which is why a check written once works against both kinds of cluster.

Interface:
    current() -> Session | None; set_current(session | None)
    Session(backend).kubectl(args, stdin) / .advance(seconds) / .view / .stop()
    ClusterView(backend).get(kind, name, namespace="default") -> dict | None
    ClusterView(backend).list(kind, namespace="default", selector=None) -> list[dict]
    parse_duration("2m30s") -> 150.0

Taught in the labs' introduction (labs/00-sample.ipynb).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# A real kubectl command that has not answered after this long is stuck (an unreachable server).
KUBECTL_TIMEOUT_SECONDS = 300


class LabError(Exception):
    """Something the lab cannot do: no cluster, an unreadable answer. The message is for the student."""


@dataclass
class KubectlResult:
    code: int
    out: str
    err: str

    @property
    def ok(self) -> bool:
        return self.code == 0


class Backend(Protocol):
    def kubectl(self, args: list[str], stdin: str | None = None) -> KubectlResult: ...

    def advance(self, seconds: float) -> None: ...

    def describe(self) -> str: ...

    def stop(self) -> None: ...


def split_args(args: str | list[str]) -> list[str]:
    """Shell-like words, without a leading ``kubectl`` (people paste whole commands)."""
    words = shlex.split(args) if isinstance(args, str) else list(args)
    if words and words[0] == "kubectl":
        words = words[1:]
    return words


class InProcess:
    """A minik8s :class:`~minik8s.cluster.Cluster` in this Python process."""

    def __init__(self, cluster: "Cluster"):
        self.cluster = cluster

    def kubectl(self, args: list[str], stdin: str | None = None) -> KubectlResult:
        return KubectlResult(*self.cluster.run_kubectl(args, stdin))

    def advance(self, seconds: float) -> None:
        if self.cluster.virtual:
            self.cluster.advance(seconds)
        else:
            sleep_with_progress(seconds)

    def describe(self) -> str:
        c = self.cluster
        clock = "virtual" if c.virtual else "real"
        text = f"in-process cluster: {c.node_count} node(s), runtime={c.runtime}, clock={clock}"
        if c.virtual:
            from minik8s.clock import VIRTUAL_EPOCH

            text += f" (t={format_duration(c.clock.now() - VIRTUAL_EPOCH)})"
        return text

    def stop(self) -> None:
        self.cluster.stop()


class RealCluster:
    """A real cluster: the real ``kubectl`` binary, pointed at the kubeconfig by ``$KUBECONFIG``.

    The environment variable, not a ``--kubeconfig`` flag in front of the words the student typed:
    kubectl reads a word after a leading flag as a plugin name, so ``kubectl --kubeconfig=F frobnicate``
    would say "flags cannot be placed before plugin name" instead of kubectl's own
    ``unknown command "frobnicate"``.
    """

    def __init__(self, kubeconfig: str, kubectl: str = "kubectl"):
        self.kubeconfig = kubeconfig
        self.binary = kubectl

    def kubectl(self, args: list[str], stdin: str | None = None) -> KubectlResult:
        command = [self.binary, *args]
        env = dict(os.environ, KUBECONFIG=self.kubeconfig)
        try:
            done = subprocess.run(command, input=stdin if stdin is not None else "", capture_output=True, text=True,
                                  timeout=KUBECTL_TIMEOUT_SECONDS, env=env)
        except FileNotFoundError:
            return KubectlResult(127, "", f"error: cannot run {self.binary}: not found on PATH\n")
        except subprocess.TimeoutExpired:
            return KubectlResult(1, "", f"error: kubectl did not answer within {KUBECTL_TIMEOUT_SECONDS}s\n")
        return KubectlResult(done.returncode, done.stdout, done.stderr)

    def advance(self, seconds: float) -> None:
        sleep_with_progress(seconds)  # a real cluster's clock cannot be moved: wait instead

    def describe(self) -> str:
        return f"real cluster: kubeconfig {self.kubeconfig}, kubectl {self.binary}"

    def stop(self) -> None:
        pass  # not ours to stop


def real_kubectl() -> str | None:
    """The real kubectl on PATH, if any."""
    return shutil.which("kubectl")


def sleep_with_progress(seconds: float) -> None:
    """Wait in real time, showing a one-line countdown on stderr (the only sleep in minik8s: real clocks only)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        sys.stderr.write(f"\rwaiting {format_duration(left)} ... ")
        sys.stderr.flush()
        time.sleep(min(1.0, left))
    sys.stderr.write("\r" + " " * 30 + "\r")


# --- durations ---------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str) -> float:
    """``30s``, ``2m``, ``1h30m``, ``90`` (seconds) → seconds. Raises ValueError for anything else."""
    text = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if not text or _DURATION.sub("", text) != "":
        raise ValueError(f'invalid duration "{text}": use a number of seconds or units like 30s, 2m, 1h30m')
    return sum(float(n) * _UNIT[unit] for n, unit in _DURATION.findall(text))


def format_duration(seconds: float) -> str:
    """Seconds as ``1h2m3s`` (whole seconds; ``0s`` for zero)."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs or not whole else ""]
    return "".join(parts)


# --- the read API of checks --------------------------------------------------------------

class ClusterView:
    """Read-only access to a cluster through ``kubectl get -o json``: the same in-process and real."""

    def __init__(self, backend: Backend, namespace: str = "default"):
        self.backend = backend
        # The lab's namespace: checks say "default", and on a shared cluster (``minik8s grade
        # --namespaces-from``) each student's own namespace stands in for it.
        self.namespace = namespace

    def kubectl(self, args: str | list[str], stdin: str | None = None) -> KubectlResult:
        return self.backend.kubectl(split_args(args), stdin)

    def get(self, kind: str, name: str, namespace: str | None = "default") -> dict[str, Any] | None:
        """One object, or None when it does not exist."""
        namespace = self.namespace if namespace == "default" else namespace
        args = ["get", kind, name, "-o", "json"] + (["-n", namespace] if namespace else [])
        result = self.kubectl(args)
        if not result.ok:
            if "NotFound" in result.err or "not found" in result.err:
                return None
            raise LabError(result.err.strip() or f"kubectl get {kind} {name} failed")
        return self._parse(result.out)

    def list(self, kind: str, namespace: str | None = "default", selector: str | None = None) -> list[dict[str, Any]]:
        """Every object of a kind in a namespace (``namespace=None``: all namespaces), optionally by label selector."""
        namespace = self.namespace if namespace == "default" else namespace
        args = ["get", kind, "-o", "json"] + (["-n", namespace] if namespace else ["-A"])
        if selector:
            args += ["-l", selector]
        result = self.kubectl(args)
        if not result.ok:
            raise LabError(result.err.strip() or f"kubectl get {kind} failed")
        if not result.out.strip():
            return []  # minik8s's kubectl prints only "No resources found" (real kubectl: an empty List)
        items = self._parse(result.out).get("items", [])
        return list(items) if isinstance(items, list) else []

    @staticmethod
    def _parse(text: str) -> dict[str, Any]:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LabError(f"kubectl printed something that is not JSON: {exc}") from None
        if not isinstance(value, dict):
            raise LabError("kubectl printed JSON that is not an object")
        return value


# --- the current session -----------------------------------------------------------------

class Session:
    """The cluster the notebook is using now, and how to reach it."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.view = ClusterView(backend)

    @property
    def cluster(self) -> "Cluster | None":
        """The in-process cluster, or None for a real one."""
        return self.backend.cluster if isinstance(self.backend, InProcess) else None

    def kubectl(self, args: str | list[str], stdin: str | None = None) -> KubectlResult:
        return self.backend.kubectl(split_args(args), stdin)

    def advance(self, seconds: float) -> None:
        self.backend.advance(seconds)

    def describe(self) -> str:
        return self.backend.describe()

    def stop(self) -> None:
        self.backend.stop()


_current: Session | None = None


def current() -> Session | None:
    """The session that ``%load_ext minik8s`` (or ``%minik8s start``) made, if any."""
    return _current


def set_current(session: Session | None) -> None:
    global _current
    _current = session


def require() -> Session:
    """The current session, or a LabError that tells the student how to make one."""
    if _current is None:
        raise LabError("no cluster: run %load_ext minik8s (or %minik8s start) first")
    return _current

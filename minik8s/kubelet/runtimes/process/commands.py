"""What a container runs: its command line, the PATH lookup, namespaces, and ``exec``.

Upstream's rules for the command line, applied here as containerd and runc apply
them: ``command`` replaces the image's ENTRYPOINT (and drops its CMD), ``args``
replaces CMD, and ``$(VAR)`` expands from the container's environment
(:mod:`.env`). A name without a slash is searched in the container's ``PATH``, seen
through its mounts (:mod:`.filesystem`); one that is not found fails the start
(``StartError``) or the exec (:class:`~minik8s.kubelet.cri.ExecStartError`), with runc's wording.

With ``MINIK8S_ISOLATION=namespaces`` a container starts in new PID, UTS and mount
namespaces (``unshare``), and an exec enters them (``nsenter``).

Interface:
    command_line(container_spec, image_config, env) -> argv
    find_executable(name, path, mounts) -> host path | None
    isolation() -> "none" | "namespaces";  isolated(argv, hostname);  enter(pid, argv)
    exec_in(pid, mounts, env, cwd, command, timeout, container_id) -> ExecResult
                                          # raises TimeoutError, ExecStartError

Taught in chapter 1 (containers) and chapter 5 (Pods: command, args and kubectl exec).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from minik8s.kubelet.cri import ExecResult, exec_start_error
from minik8s.kubelet.runtimes.process import env as envs
from minik8s.kubelet.runtimes.process import supervisor
from minik8s.kubelet.runtimes.process.filesystem import Mounts

EXEC_TIMEOUT_SECONDS = 300.0  # exec with no timeout (kubectl exec) still ends some day


def isolation() -> str:
    """How containers are isolated: ``none`` (plain sessions) or ``namespaces``."""
    return os.environ.get("MINIK8S_ISOLATION", "none")


def command_line(container: dict[str, Any], image_config: dict[str, Any], env: dict[str, str]) -> list[str]:
    """What runs: upstream's rules for ``command``/``args`` against the image's ENTRYPOINT/CMD.

    command given: command + args (the image's CMD is ignored); only args: ENTRYPOINT + args;
    neither: ENTRYPOINT + CMD. ``$(VAR)`` in command and args expands from the environment."""
    command = [str(a) for a in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    entrypoint = [str(a) for a in image_config.get("Entrypoint") or []]
    cmd = [str(a) for a in image_config.get("Cmd") or []]
    if command:
        argv = command + args
    elif args:
        argv = entrypoint + args
    else:
        argv = entrypoint + cmd
    return [envs.expand(a, env) for a in argv]


def find_executable(name: str, path: str, mounts: Mounts) -> str | None:
    """``exec``'s lookup: a name with a slash is a path (through the mounts), else searched in PATH."""
    if not name:
        return None
    if "/" in name:
        candidate = mounts.host_path(name)
        return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None
    return shutil.which(name, path=os.pathsep.join(mounts.host_path(p) for p in path.split(os.pathsep)))


def isolated(argv: list[str], hostname: str) -> list[str]:
    """New PID, UTS and mount namespaces: the container is PID 1 and its host name is the pod's."""
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--uts", "--kill-child"]
    if os.geteuid() != 0:
        unshare.append("--map-root-user")
    # The system's hostname binary, not the image's ``hostname`` (which only prints $HOSTNAME).
    setter = shutil.which("hostname", path="/usr/bin:/bin") or "hostname"
    return [*unshare, "/bin/sh", "-c", f'{setter} "$0" 2>/dev/null; exec "$@"', hostname, *argv]


def enter(pid: int, argv: list[str]) -> list[str]:
    """Run an exec inside a container started by :func:`isolated` (its first child is the PID 1)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return argv
    if not children:
        return argv
    user = ["--user", "--preserve-credentials"] if os.geteuid() != 0 else []
    return ["nsenter", "--target", children[0], "--pid", "--uts", "--mount", *user, "--", *argv]


def exec_in(pid: int, mounts: Mounts, env: dict[str, str], cwd: str, command: list[str],
            timeout: float, container_id: str = "") -> ExecResult:
    """Run ``command`` in the environment of the container whose main process is ``pid``, and wait for it."""
    argv = [mounts.rewrite(str(a)) for a in command]
    executable = find_executable(argv[0] if argv else "", env["PATH"], mounts)
    if executable is None:
        raise exec_start_error(container_id, command)
    argv[0] = executable
    if isolation() == "namespaces":
        argv = enter(pid, argv)
    limit = timeout if timeout and timeout > 0 else EXEC_TIMEOUT_SECONDS
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        supervisor.kill_session(process.pid, signal.SIGKILL)
        process.communicate()
        raise TimeoutError(f'command "{" ".join(command)}" timed out') from None
    code = process.returncode
    return ExecResult(128 - code if code < 0 else code, out.decode(errors="replace"), err.decode(errors="replace"))

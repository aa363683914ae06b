"""What a container runs: its command line, the PATH lookup, namespaces, and ``exec``.

Upstream's rules for the command line, applied here as containerd and runc apply
them: ``command`` replaces the image's ENTRYPOINT (and drops its CMD), ``args``
replaces CMD, and ``$(VAR)`` expands from the container's environment
(:mod:`.env`). A name without a slash is searched in the container's ``PATH``, seen
through its mounts (:mod:`.filesystem`); one that is not found fails the start
(``StartError``) or the exec (:class:`~minik8s.kubelet.cri.ExecStartError`), with runc's wording.

A contained container (:mod:`.isolation`) runs its command line as written, in its own
namespaces; an exec enters them. Without containment, paths in the command are
rewritten through the container's mounts (:mod:`.filesystem`) and an exec is a host
process with the container's environment.

Interface:
    command_line(container_spec, image_config, env) -> argv
    find_executable(name, path, host_path) -> host path | None
    exec_in(pid, mounts, env, cwd, command, timeout, container_id, contained, cgroup) -> ExecResult
                                          # raises TimeoutError, ExecStartError
    exec_start(pid, mounts, env, cwd, command, stdin=, tty=, container_id=, contained=, cgroup=) -> ExecStream

Taught in chapter 1 (containers) and chapter 5 (Pods: command, args and kubectl exec).
"""

from __future__ import annotations

import fcntl
import os
import pty
import shutil
import signal
import struct
import subprocess
import termios
import threading
from typing import Any, Callable

from minik8s.kubelet.cri import ExecResult, ExecStream, exec_start_error
from minik8s.kubelet.runtimes.process import env as envs
from minik8s.kubelet.runtimes.process import cgroups, isolation, supervisor
from minik8s.kubelet.runtimes.process.cgroups import Cgroup
from minik8s.kubelet.runtimes.process.filesystem import Mounts
from minik8s.kubelet.runtimes.process.isolation import Containment

EXEC_TIMEOUT_SECONDS = 300.0  # exec with no timeout (kubectl exec) still ends some day
EXEC_SETUP_SECONDS = 5.0      # an exec right after the start waits this long at most for the container's namespaces


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


def find_executable(name: str, path: str, host_path: Callable[[str], str]) -> str | None:
    """``exec``'s lookup: a name with a slash is a path, else searched in PATH; ``host_path`` says
    where a container path is on the host. Returns the host path of the program, or None."""
    if not name:
        return None
    if "/" in name:
        candidate = host_path(name)
        return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None
    return shutil.which(name, path=os.pathsep.join(host_path(p) for p in path.split(os.pathsep)))


def _exec_argv(pid: int, mounts: Mounts, env: dict[str, str], command: list[str], container_id: str,
               contained: Containment | None) -> list[str]:
    """The host command line of an exec: into the container's namespaces, or rewritten through its mounts."""
    if contained is not None:
        if find_executable(command[0] if command else "", env["PATH"], contained.host_path) is None:
            raise exec_start_error(container_id, command)
        target = isolation.init_pid(pid, wait=EXEC_SETUP_SECONDS)
        if target is None:
            raise exec_start_error(container_id, command)
        return isolation.enter(target, contained, [str(a) for a in command])
    argv = [mounts.rewrite(str(a)) for a in command]
    executable = find_executable(argv[0] if argv else "", env["PATH"], mounts.host_path)
    if executable is None:
        raise exec_start_error(container_id, command)
    argv[0] = executable
    return argv


def exec_in(pid: int, mounts: Mounts, env: dict[str, str], cwd: str, command: list[str],
            timeout: float, container_id: str = "", contained: Containment | None = None,
            cgroup: Cgroup | None = None) -> ExecResult:
    """Run ``command`` in the container whose main process is ``pid``, and wait for it.

    A contained container (:mod:`.isolation`): in its namespaces, as its user. Otherwise: a host
    process with the container's environment, its paths rewritten through ``mounts``. Either way in
    the container's ``cgroup``, as runc puts an exec: what it uses counts against the container's limits."""
    argv = cgroups.enter(cgroup, _exec_argv(pid, mounts, env, command, container_id, contained))
    limit = timeout if timeout and timeout > 0 else EXEC_TIMEOUT_SECONDS
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        supervisor.kill_session(process.pid, signal.SIGKILL)
        process.communicate()
        raise TimeoutError(f'command "{" ".join(command)}" timed out') from None
    return ExecResult(_exit_code(process.returncode), out.decode(errors="replace"), err.decode(errors="replace"))


def _exit_code(code: int) -> int:
    """A process killed by signal N ends with 128 + N, as a shell reports it."""
    return 128 - code if code < 0 else code


def exec_start(pid: int, mounts: Mounts, env: dict[str, str], cwd: str, command: list[str], *, stdin: bool,
               tty: bool, container_id: str = "", contained: Containment | None = None,
               cgroup: Cgroup | None = None) -> ExecStream:
    """Start ``command`` in the container as :func:`exec_in` does, its streams left open: pipes, or
    with ``tty`` a pseudo-terminal (one output; ``TERM`` as kubectl's terminal says, xterm by default).
    The process leads its own session, so ``kill`` ends it and everything it started."""
    argv = cgroups.enter(cgroup, _exec_argv(pid, mounts, env, command, container_id, contained))
    if tty:
        parent, child = pty.openpty()
        streams: dict[str, Any] = {"stdin": child, "stdout": child, "stderr": child}
        env = {**env, "TERM": env.get("TERM", "xterm")}
    else:
        streams = {"stdin": subprocess.PIPE if stdin else subprocess.DEVNULL, "stdout": subprocess.PIPE,
                   "stderr": subprocess.PIPE}
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True, **streams)
    finally:
        if tty:
            os.close(child)

    def kill() -> None:
        if process.poll() is None:
            supervisor.kill_session(process.pid, signal.SIGKILL)

    # The terminal's size is set through a descriptor of its own, closed (under the lock) when the
    # command has ended: never an ioctl on a number the reader's close has given to something else.
    control = [os.dup(parent)] if tty else []
    lock = threading.Lock()

    def wait() -> int:
        code = _exit_code(process.wait())
        with lock:
            while control:
                os.close(control.pop())
        return code

    if tty:
        def resize(width: int, height: int) -> None:
            with lock:
                if control:
                    fcntl.ioctl(control[0], termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
        return ExecStream(os.dup(parent), parent, None, wait, kill, resize)
    assert process.stdout is not None and process.stderr is not None
    writer = os.dup(process.stdin.fileno()) if process.stdin is not None else None
    streams_out = (os.dup(process.stdout.fileno()), os.dup(process.stderr.fileno()))
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    return ExecStream(writer, streams_out[0], streams_out[1], wait, kill)

"""The container runtime interface (CRI), small and Pythonic.

The kubelet never starts a process itself. It asks a *container runtime*
(containerd or CRI-O on a real node) through a narrow gRPC interface, the CRI,
with two halves: an image service (pull images) and a runtime service (pod
sandboxes and containers). minik8s keeps the same shape as plain method calls,
so that the same kubelet drives three runtimes: ``simulated`` (states on a
clock, for tests and labs), ``process`` (real OS processes) and ``docker``.

The life of a pod, as the kubelet drives it through this interface::

    sandbox = rt.run_pod_sandbox(pod)                  # the pod's network namespace: its IP
    rt.pull_image("nginx:1.27", "IfNotPresent", pod)   # image service
    cid = rt.create_container(sandbox.id, pod, spec, attempt=0)
    rt.start_container(cid)
    rt.container_status(cid)                           # created -> running -> exited
    rt.stop_container(cid, grace_seconds=30)           # SIGTERM, SIGKILL after the grace period
    rt.port_forward(sandbox.id, 80)                    # (host, port) that reaches the pod's port 80
    s = rt.exec_stream(cid, ["sh"], stdin=True, tty=False)  # kubectl exec -i: a running command's pipes
    rt.attach(cid)                                     # kubectl attach: the container's own stdin and tty
    rt.remove_container(cid); rt.stop_pod_sandbox(sandbox.id); rt.remove_pod_sandbox(sandbox.id)

Invariants every runtime keeps:

* A container moves only forward: ``created -> running -> exited``. A restart
  is a *new* container (``attempt`` + 1); the old one stays, exited, until the
  kubelet removes it, so ``kubectl logs --previous`` can still read it.
* Nothing blocks. A slow image pull answers ``PullResult(done=False, ready_at=t)``
  and the kubelet asks again at ``t``; a container that ignores SIGTERM exits
  later by itself. ``next_event_time()`` says when the runtime's own state will
  next change, so the kubelet can come back exactly then (with a virtual clock
  this keeps the whole cluster exact and deterministic).
* Errors the kubelet must report are typed: :class:`ImagePullError` (its
  ``reason`` becomes the container's waiting reason) and :class:`ProbeError`
  (its text becomes the ``Unhealthy`` event).

Differences from the real CRI, on purpose: probes are runtime calls here
(``probe_http``, ``probe_tcp``, ``probe_grpc``) because a simulated container has no
real network to dial; a real kubelet dials the pod IP itself. ``pull_image``
takes the pull policy (upstream the kubelet's image manager applies it).

Taught in chapter 2 (architecture: the kubelet and the CRI) and chapter 5 (Pods).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from minik8s.kubelet.logs import LogEntry

Pod = dict[str, Any]


@dataclass(frozen=True)
class SandboxInfo:
    """A pod sandbox: the shared network (and IPC) namespace all containers of a pod join."""
    id: str
    ip: str


@dataclass(frozen=True)
class PullResult:
    """The answer to ``pull_image``.

    ``done`` is False while a pull is in progress (ask again at ``ready_at``).
    ``pulled`` is False when the image was already present and nothing was fetched.
    ``seconds`` is how long the pull took; ``size_bytes`` the image size."""
    image: str
    image_id: str
    done: bool = True
    pulled: bool = True
    seconds: float = 0.0
    size_bytes: int = 0
    ready_at: float | None = None


class ImagePullError(Exception):
    """A pull that failed. ``reason`` is ``ErrImagePull`` or ``ErrImageNeverPull``
    (upstream's waiting reasons); ``message`` is the runtime's error text."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


class ProbeError(Exception):
    """A probe could not reach the container (refused, timed out); the text is
    what upstream puts after ``Liveness probe failed:``."""


class RuntimeCallError(Exception):
    """A runtime call on a container or sandbox that does not exist or is in the wrong state."""


class ExecStartError(RuntimeCallError):
    """``exec_sync`` could not start the command at all (no such executable in the container)."""


class PortForwardError(RuntimeCallError):
    """``port_forward`` cannot reach the port inside the pod; the text is the runtime's reason."""


def port_forward_refused(sandbox_id: str, port: int) -> str:
    """containerd's words for a forwarded port nothing listens on inside the pod: it tries the pod's
    localhost over IPv4, then IPv6."""
    netns = f"cni-{sandbox_id[:8]}-{sandbox_id[8:12]}-{sandbox_id[12:16]}-{sandbox_id[16:20]}-{sandbox_id[20:32]}"
    return (f'failed to execute portforward in network namespace "/var/run/netns/{netns}": '
            f'failed to connect to localhost:{port} inside namespace "{sandbox_id}", '
            f"IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused "
            f"IPv6 dial tcp6 [::1]:{port}: connect: connection refused ")


# A container whose executable could not be started is terminated with reason ``StartError``
# and this exit code, as containerd reports it.
START_ERROR_EXIT_CODE = 128


def lookpath_error(program: str, why: str | None = None) -> str:
    """Go's ``exec.LookPath`` error, which runc passes on: what is wrong with ``program``."""
    if why is None:
        why = f"stat {program}: no such file or directory" if "/" in program else "executable file not found in $PATH"
    return f'exec: "{program}": {why}'


def start_error_message(program: str, why: str | None = None) -> str:
    """containerd's words for a container whose executable could not be started."""
    return ("failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            f"runc create failed: unable to start container process: {lookpath_error(program, why)}: unknown")


def exec_start_error(container_id: str, command: list[str]) -> ExecStartError:
    """containerd's words for an exec whose executable is missing (each exec has an id of its own)."""
    exec_id = hashlib.sha256("\0".join([container_id, *command]).encode()).hexdigest()
    program = command[0] if command else ""
    return ExecStartError(f'failed to exec in container: failed to start exec "{exec_id}": OCI runtime exec failed: '
                          f"exec failed: unable to start container process: {lookpath_error(program)}: unknown")


@dataclass
class ContainerStatus:
    """What the runtime knows about one container (CRI ``ContainerStatus``).

    ``state`` is ``created``, ``running`` or ``exited``; times are clock seconds."""
    id: str
    name: str
    state: str
    attempt: int = 0
    image: str = ""
    image_id: str = ""
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class ExecResult:
    """The outcome of ``exec_sync``: like ``subprocess.run``'s."""
    exit_code: int
    stdout: str = ""
    stderr: str = ""


@dataclass
class ExecStream:
    """A command running in a container with its streams open (CRI's streaming ``Exec`` and ``Attach``).

    File descriptors, owned by whoever holds the stream: ``stdin`` to write (None when the client
    sends no stdin), ``stdout`` to read, ``stderr`` to read (None with a tty: a terminal has one output).
    ``wait()`` blocks until the command ends and returns its exit code; ``kill()`` ends it at once
    (the client went away); ``resize(width, height)`` sets the terminal's size (tty only)."""
    stdin: int | None
    stdout: int
    stderr: int | None
    wait: Callable[[], int]
    kill: Callable[[], None]
    resize: Callable[[int, int], None] = lambda width, height: None


def exec_stream_of(run: Callable[[], ExecResult], stdin: bool) -> ExecStream:
    """An :class:`ExecStream` for a runtime that can only run a command to completion: ``run`` goes
    on a thread and its output comes out of pipes when it ends; stdin is read (until its end) and dropped."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    outcome: list[int] = []
    done = threading.Event()

    def work() -> None:
        try:
            result = run()
            outcome.append(result.exit_code)
            out, err = result.stdout, result.stderr
        except Exception as exc:  # reported as the command's own error: its stderr and exit code 126
            outcome.append(126)
            out, err = "", f"{exc}\n"
        for fd, text in ((out_write, out), (err_write, err)):
            with os.fdopen(fd, "wb") as pipe:
                pipe.write(text.encode())
        done.set()

    def drain(fd: int) -> None:
        with os.fdopen(fd, "rb") as pipe:
            while pipe.read(64 * 1024):
                pass

    threading.Thread(target=work, name="exec", daemon=True).start()
    in_write = None
    if stdin:
        in_read, in_write = os.pipe()
        threading.Thread(target=drain, args=(in_read,), name="exec-stdin", daemon=True).start()

    def wait() -> int:
        done.wait()
        return outcome[0]

    return ExecStream(in_write, out_read, err_read, wait, lambda: None)


@dataclass
class ImageInfo:
    """An image present on the node, as listed in ``node.status.images``."""
    names: list[str] = field(default_factory=list)
    size_bytes: int = 0


class ContainerRuntime:
    """The interface every runtime implements. Methods raise :class:`RuntimeCallError`
    for unknown ids unless they say otherwise."""

    #: ``containerRuntimeVersion`` reported in ``node.status.nodeInfo`` (e.g. ``simulated://1.0``).
    version = "unknown://0"
    #: Set by the kubelet: the cluster's network as pods see it (Service links, resolv.conf), a
    #: :class:`minik8s.kubelet.dns.ClusterNetwork`; None for a runtime driven without a kubelet.
    cluster_network: Any = None
    #: The node's own address where the runtime's network is real (the process runtime's
    #: ``127.1.<n+1>.1``): the node's InternalIP and its pods' hostIP. None: the simulated address.
    node_address: str | None = None

    # --- sandboxes (RunPodSandbox, StopPodSandbox, RemovePodSandbox) -----------------

    def run_pod_sandbox(self, pod: Pod) -> SandboxInfo:
        """Create the pod's sandbox and give it an IP. Idempotent for the same pod uid."""
        raise NotImplementedError

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Stop the sandbox (its containers must already be stopped); releases nothing yet."""
        raise NotImplementedError

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Forget the sandbox and release its IP."""
        raise NotImplementedError

    # --- images (ImageService.PullImage, ListImages) ----------------------------------

    def pull_image(self, image: str, pull_policy: str, pod: Pod | None = None) -> PullResult:
        """Make ``image`` present according to ``pull_policy`` (Always, IfNotPresent, Never).
        Raises :class:`ImagePullError` when it cannot."""
        raise NotImplementedError

    def list_images(self) -> list[ImageInfo]:
        """Images present on the node."""
        return []

    # --- containers (CreateContainer, StartContainer, StopContainer, RemoveContainer) -

    def create_container(self, sandbox_id: str, pod: Pod, container: dict[str, Any], attempt: int) -> str:
        """Create (not start) a container from its spec; returns its id."""
        raise NotImplementedError

    def start_container(self, container_id: str) -> None:
        """Start a created container: it becomes ``running``."""
        raise NotImplementedError

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        """Send SIGTERM; a container still running ``grace_seconds`` later is killed (exit code 137).
        Does not block: poll ``container_status`` or wait for ``next_event_time``."""
        raise NotImplementedError

    def remove_container(self, container_id: str) -> None:
        """Forget an exited container (its logs go with it)."""
        raise NotImplementedError

    def container_status(self, container_id: str) -> ContainerStatus:
        """The container's current state, as of the clock's now."""
        raise NotImplementedError

    # --- streaming and stats (ContainerLogs, ExecSync, ContainerStats) ----------------

    def log_entries(self, container_id: str) -> list[LogEntry]:
        """The container's output lines with their times and streams (the CRI log file, parsed:
        :mod:`minik8s.kubelet.logs`). Kept after the container exits, until it is removed."""
        raise NotImplementedError

    def logs(self, container_id: str) -> str:
        """Everything the container wrote to stdout and stderr, one line per line."""
        return "".join(entry.text for entry in self.log_entries(container_id))

    def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        """Run ``command`` inside a running container and wait for it. Raises :class:`ExecStartError`
        when the command's executable does not exist there."""
        raise NotImplementedError

    def exec_stream(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> ExecStream:
        """Start ``command`` inside a running container and hand back its streams (``kubectl exec -i -t``).
        Raises :class:`ExecStartError` when the executable does not exist there. A runtime without
        streaming runs the command to completion (:func:`exec_stream_of`)."""
        return exec_stream_of(lambda: self.exec_sync(container_id, command, 0), stdin)

    def attach(self, container_id: str) -> tuple[int | None, Callable[[int, int], None]]:
        """``kubectl attach``: where to write the running container's stdin (None when its spec has no
        ``stdin: true``) and how to resize its terminal. Its output is read from its logs."""
        return None, lambda width, height: None

    def stats(self, container_id: str) -> tuple[int, int]:
        """(cpu millicores, memory bytes) the container uses now."""
        raise NotImplementedError

    def container_stats(self, container_id: str) -> tuple[int, int] | None:
        """CRI ``ContainerStats``: (CPU used since the container started, in core-nanoseconds; memory
        working set, in bytes), or None when the runtime cannot measure it (the container is not
        running). Cumulative, so the kubelet can turn two readings into a rate
        (:mod:`minik8s.kubelet.stats`)."""
        return None

    def pod_updated(self, pod: Pod) -> None:
        """The kubelet saw a new version of a pod it runs (its labels or annotations changed). A minik8s
        extension, not a CRI call: the simulated runtime reads the load its containers declare."""

    def containers_stats(self, container_ids: Iterable[str]) -> dict[str, tuple[int, int] | None]:
        """``container_stats`` of many containers at once (CRI ``ListContainerStats``), None for those
        gone meanwhile. A runtime that reads them all in one pass (the process runtime's one walk of
        /proc) answers this one itself."""
        found: dict[str, tuple[int, int] | None] = {}
        for container_id in container_ids:
            try:
                found[container_id] = self.container_stats(container_id)
            except RuntimeCallError:
                found[container_id] = None
        return found

    def port_forward(self, sandbox_id: str, port: int) -> tuple[str, int]:
        """Where on this node to connect to reach ``port`` inside the pod (CRI ``PortForward`` answers
        with a streaming URL instead). Raises :class:`PortForwardError` when nothing can listen there."""
        raise PortForwardError(port_forward_refused(sandbox_id, port))

    # --- probes (a real kubelet dials the pod IP itself) ------------------------------

    def probe_http(self, ip: str, port: int, path: str, scheme: str, headers: dict[str, str],
                   timeout: float) -> int:
        """GET ``scheme://ip:port/path``; returns the HTTP status code or raises :class:`ProbeError`."""
        raise NotImplementedError

    def probe_tcp(self, ip: str, port: int, timeout: float) -> bool:
        """True when something accepts a TCP connection on ``ip:port``."""
        raise NotImplementedError

    def probe_grpc(self, ip: str, port: int, service: str, timeout: float) -> bool:
        """True when the gRPC health service answers SERVING. Runtimes may not support it."""
        raise NotImplementedError("gRPC probes are not supported by this runtime")

    # --- time -------------------------------------------------------------------------

    def next_event_time(self, container_ids: Iterable[str] | None = None) -> float | None:
        """When the state of these containers (all, if None) or of a pull in progress will
        next change by itself; None if never (until the kubelet acts)."""
        return None

    def close(self) -> None:
        """Release everything (processes, temporary files); the cluster is stopping."""

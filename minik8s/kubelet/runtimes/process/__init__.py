"""The ``process`` container runtime: real OS processes, contained by the kernel, one loopback IP per pod.

What a container runtime does on a real node, done with plain processes and the kernel's
namespaces (``bwrap``), so that it works without Docker on any Linux machine:

==================== =====================================================================
Kubernetes / CRI      here
==================== =====================================================================
pod sandbox           a pod IP ``127.1.<node>.<n>`` (:mod:`.network`) and a pod folder (:mod:`.sandbox`)
image                 a built-in teaching image (:mod:`minik8s.images.builtin`), or one built
                      by ``minik8s image build`` / pulled from the local registry (:mod:`.images`)
container             a process in its own session (:mod:`.supervisor`) and its own mount, PID,
                      UTS and IPC namespaces (:mod:`.isolation`): ``/`` is its folder of the
                      image's files, over the node's ``/usr`` read-only; it sees its own
                      processes only, its host name is the pod's
user                  ``runAsUser``/``runAsGroup``; without them 65534 (nobody), never root
                      unless ``runAsUser: 0`` (:func:`.isolation.user_of`)
environment           upstream's rules (:mod:`.env`): image ENV, Service links, envFrom, env, valueFrom
DNS                   the pod's resolv.conf (:mod:`minik8s.kubelet.dns`) bound over ``/etc/resolv.conf``;
                      where cluster DNS cannot have port 53, Service names in ``/etc/hosts``, kept current
volumes               folders bind-mounted at their ``mountPath`` (read-only as declared):
                      emptyDir, hostPath, configMap, secret, downwardAPI, PVC (:mod:`.filesystem`)
logs                  stdout and stderr read through pipes and written, line by line with the time
                      they came, to ``logs/pods/<ns>_<pod>_<uid>/<c>/<n>.log`` in the CRI log
                      format (:mod:`.logger`, :mod:`minik8s.kubelet.logs`)
stop                  SIGTERM to the container's processes, SIGKILL after the grace period
resources             a cgroup per pod and per container (:mod:`.cgroups`): ``limits.memory`` (the
                      kernel's OOM killer: ``OOMKilled``, 137), ``limits.cpu`` (CFS quota) and
                      ``requests.cpu`` (shares) as upstream's kubelet writes them; without cgroups,
                      memory by polling RSS and a ``ResourceLimitsNotEnforced`` event
command line          command/args against ENTRYPOINT/CMD, found in the container's PATH (:mod:`.commands`)
probes, exec          HTTP/TCP to the pod IP (:mod:`.probes`); exec enters the container's namespaces
==================== =====================================================================

What is **not** isolated: the network (no network namespace: a pod IP is a loopback
address of the host: a container can bind another pod's IP and reach every loopback service
of the host, the API server included), unless the cluster runs in netns mode
(``network_plan``, :mod:`minik8s.hostnet`): then each pod has its own network namespace, a
veth on its node's bridge and a ``10.244.<n+1>.x`` IP, and its containers join that namespace
(``nsenter --net`` around ``bwrap``; ``kubectl exec`` enters it too). CPU and memory are limited by cgroups where
the machine allows (root); elsewhere CPU is not limited and memory is polled, so a fast
allocation can overshoot before the kill. Containers of a pod do
not share a PID namespace (``shareProcessNamespace`` is ignored) nor an IPC namespace
(upstream's do: each container has its own here), and PID 1 is bwrap's small init, the
command PID 2 (as with ``docker run --init``).

Where the kernel refuses user namespaces, ``bwrap`` is missing, or with
``MINIK8S_ISOLATION=none``, containers are plain processes of this user that see the
host's files and processes (paths in their commands are rewritten into their folder,
:mod:`.filesystem`): the runtime logs a warning when it starts and every pod gets a
``ContainersNotIsolated`` warning event.

How a pod's containers share a network: every process gets ``MINIK8S_POD_IP``; Python
programs (all built-in servers, the ``python`` image) load a ``sitecustomize`` that binds
the pod IP when they ask for ``0.0.0.0`` and resolves ``localhost`` to it, so containers
of a pod reach each other on ``localhost`` and two pods can both serve port 80. The
host name is the pod name (``HOSTNAME``, ``/etc/hostname`` and the UTS namespace). Without
the right to bind ports below 1024 (a runtime that is not root), those ports move up by
8000 (80 -> 8080); the pod gets an event saying so and probes follow. A root runtime's
non-root containers keep ``CAP_NET_BIND_SERVICE``, as on a real node, so port 80 stays 80.

Nothing is left behind: ``close()`` stops every process it started, and a runtime that
starts finds the processes of runtimes that crashed (pid files) and kills them.

Interface: :class:`minik8s.kubelet.cri.ContainerRuntime`, plus
    ProcessRuntime(node_name=, node_index=, clock=, data_dir=None, client=None)
    runtime.client = api_client        # to read ConfigMaps, Secrets and PVCs
    runtime.on_exit = callback(cid)    # called from a thread when a container exits
    runtime.sandbox_messages(sandbox_id) -> [(type, reason, message)]  # for pod events
    runtime.port_on_host(ip, port) -> int;  runtime.log_path(cid) -> Path
    runtime.container_stats(cid) -> (cpu ns, memory working set bytes)   # for metrics (:mod:`.cgroups`)
    runtime.process_ids(cid) -> (the container's pids, the runtime's pids around them)   # for benchmarks

Taught in chapter 2 (the CRI), chapter 5 (Pods) and chapter 8 (the pod network).
"""

from __future__ import annotations

import atexit
import fcntl
import hashlib
import os
import pty
import random
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from minik8s import hostnet
from minik8s.api import quantity
from minik8s.clock import Clock, RealClock
from minik8s.images import builtin
from minik8s.images.registry import Registry
from minik8s.images.store import ImageStore, minik8s_home
from minik8s.kubelet import cri
from minik8s.kubelet import logs as container_logs
from minik8s.kubelet.cri import (START_ERROR_EXIT_CODE, ContainerStatus, ExecResult, ImageInfo, ImagePullError,
                                 PullResult, RuntimeCallError, SandboxInfo, start_error_message)
from minik8s.kubelet.runtimes.process import env as envs
from minik8s.kubelet.runtimes.process import cgroups, commands, filesystem, images, isolation, logger, network, probes
from minik8s.kubelet.runtimes.process import supervisor
from minik8s.kubelet.runtimes.process.env import ContainerConfigError
from minik8s.kubelet.runtimes.process.filesystem import MountError, Mounts
from minik8s.kubelet.runtimes.process.sandbox import Sandbox, remapped_ports_messages

__all__ = ["ProcessRuntime", "ContainerConfigError", "MountError", "runtime_root"]

RELIST_SECONDS = 1.0         # how often the kubelet should look again at running containers (upstream PLEG: 1 s)
MONITOR_SECONDS = 0.1        # the supervisor thread's tick: kill deadlines, exits, memory
CLOSE_GRACE_SECONDS = 2.0    # close(): SIGTERM, then SIGKILL after this long
NICE = 5                     # containers' scheduling priority below the cluster's (0 = the same)
RESOURCES = {"configmaps", "secrets", "persistentvolumeclaims", "persistentvolumes"}


def _host_resolv_conf() -> str:
    """The node's resolv.conf (what ``dnsPolicy: Default`` pods get), read with a bound."""
    try:
        with open("/etc/resolv.conf", encoding="utf-8", errors="replace") as f:
            return f.read(65536)
    except OSError:
        return ""


def _container_streams(spec: dict[str, Any]) -> tuple[dict[str, int], set[int], dict[str, Any]]:
    """A container's standard streams: (our ends by role, its ends to close once it started, Popen's
    arguments). Roles: ``stdout``/``stderr`` for the log writer, ``stdin`` and ``terminal`` for attach."""
    if spec.get("tty"):
        parent, child = pty.openpty()
        ours = {"stdout": parent, "terminal": os.dup(parent)}
        if spec.get("stdin"):
            ours["stdin"] = os.dup(parent)
        return ours, {child}, {"stdin": child, "stdout": child, "stderr": child}
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    ours, theirs = {"stdout": out_read, "stderr": err_read}, {out_write, err_write}
    streams: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": out_write, "stderr": err_write}
    if spec.get("stdin"):
        in_read, ours["stdin"] = os.pipe()
        theirs.add(in_read)
        streams["stdin"] = in_read
    return ours, theirs, streams


def runtime_root() -> Path:
    """Per-user state shared by this user's process runtimes: pid files (to reap orphans) and the
    images' executables (keyed by installation). Pod IP locks are machine-wide (:mod:`.network`)."""
    return Path(tempfile.gettempdir()) / f"minik8s-{os.getuid()}"


@dataclass
class _Container:
    id: str
    name: str
    sandbox: Sandbox
    spec: dict[str, Any]
    attempt: int
    image: images.Image
    argv: list[str]
    env: dict[str, str]
    cwd: str
    mounts: Mounts
    contained: isolation.Containment | None          # None: a plain host process (no containment)
    folder: Path
    log_path: Path
    memory_limit: int | None
    created_at: float
    program: str = ""                              # argv[0] as the pod spec or image names it
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    popen: subprocess.Popen[bytes] | None = None
    kill_at: float | None = None
    oom_killed: bool = False
    cpu_sample: tuple[float, float] = (0.0, 0.0)   # (wall clock, cpu seconds) at the last stats()
    cgroup: cgroups.Cgroup | None = None           # None: no cgroup (memory is polled instead)
    cpu_used_ns: int = 0                           # the most CPU container_stats() has seen it use
    stdin: int | None = None                       # the writing end of its stdin (``stdin: true``), for attach
    terminal: int | None = None                    # its terminal's controlling side (``tty: true``)


def container_usage(processes: list[tuple[int, list[str]]]) -> tuple[int, int]:
    """(CPU nanoseconds, resident bytes) of a container's processes, from /proc: where a cgroup's
    ``cpu.stat`` and ``memory.current`` readings slot in when the container has one."""
    return supervisor.usage(processes)


class ProcessRuntime(cri.ContainerRuntime):
    """Containers as real processes; see the module docstring."""

    version = "process://1.0"

    def __init__(self, *, node_name: str = "node-1", node_index: int = 0, clock: Clock | None = None,
                 rng: random.Random | None = None, data_dir: Path | str | None = None, client: Any = None,
                 image_store: ImageStore | None = None, registry: Registry | None = None,
                 port_offset: int | None = None, network_plan: Any = None):
        """``network_plan``: a :class:`minik8s.hostnet.NetworkPlan` for netns mode (each pod in its own
        network namespace on the node's bridge); None: loopback pod IPs (:mod:`.network`)."""
        self.node_name = node_name
        self.network_plan = network_plan
        self.node_index = node_index
        self.clock = clock or RealClock()
        self.client = client
        self.on_exit: Callable[[str], None] | None = None
        root = runtime_root()
        root.mkdir(parents=True, exist_ok=True)
        self._own_dir = data_dir is None
        base = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="cluster-", dir=root))
        self.state_dir = (base / "nodes" / node_name).resolve()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._base_dir = base
        self.node_root = self.state_dir / "host"        # the node's own filesystem (hostPath)
        self.images = image_store or ImageStore(minik8s_home() / "images")
        self.registry = registry or Registry()
        self._shims = root / "shims"
        # Containment is decided once, at start: a runtime whose containers are not isolated says so
        # now (a warning) and in an event on every pod.
        self.isolation = isolation.mode()
        self._not_isolated = isolation.unavailable_reason()
        if self.isolation == "none":
            isolation.warn_once(self._not_isolated)
        self.pidfiles = supervisor.PidFiles(root / "run")
        self.pidfiles.reap_orphans()
        # Resource limits: cgroups where the machine lets us make them; those a crashed server of this
        # node left behind are removed now.
        self.cgroups = cgroups.Cgroups(node_name, self.state_dir, owners=root / "cgroups")
        try:
            self.cgroups.reap()
        except OSError:
            pass   # what cannot be removed now stays: it never stops a node from starting
        self.ips = network.IPAllocator(node_index)    # machine-wide locks: clusters get disjoint pod IPs
        self.pod_cidr: str | None = None
        if network_plan is not None:   # netns mode: the node's bridge and its pod CIDR
            network_plan.add_node(node_index)
            self.pod_cidr = network_plan.pod_cidr(node_index)
            self.ips = network.IPAllocator(node_index, prefix=network_plan.gateway(node_index).rsplit(".", 1)[0] + ".")
        self.node_address = self.ips.node_ip           # the node's InternalIP: where its NodePorts listen
        self.port_offset = network.port_offset() if port_offset is None else port_offset
        self._sandboxes: dict[str, Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._present: dict[str, images.Image] = {}
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._seq = 0
        # The log writer stamps lines with the runtime's clock (the wall clock, to the nanosecond, unless a
        # test gives the runtime a virtual clock): the kubelet's sinceSeconds counts back on the same clock.
        clock_ns = time.time_ns if isinstance(self.clock, RealClock) else (
            lambda: container_logs.nanoseconds(self.clock.now()))
        self._logs = logger.LogWriter(node_name, clock_ns)
        self._monitor = threading.Thread(target=self._supervise, name=f"process-runtime-{node_name}", daemon=True)
        self._monitor.start()
        this = weakref.ref(self)
        atexit.register(lambda: (runtime := this()) is not None and runtime.close())

    # --- ids and API lookups -------------------------------------------------------------

    def _new_id(self) -> str:
        self._seq += 1
        seed = f"{self.node_name}/{self._seq}/{os.getpid()}/{time.time_ns()}"
        return hashlib.sha256(seed.encode()).hexdigest()

    def _token_manager(self) -> Any:
        from minik8s.kubelet.tokens import TokenManager

        if getattr(self, "_tokens", None) is None:
            self._tokens = TokenManager(self.client, self.clock)
        return self._tokens

    def _lookup(self, kind: str, namespace: str, name: str, request: dict[str, Any] | None = None
                ) -> dict[str, Any] | None:
        """Read a ConfigMap, Secret, PVC or PV through the API (None when it does not exist)."""
        from minik8s.api import resources
        from minik8s.api.errors import StatusError

        if self.client is None:
            raise ContainerConfigError(f"the process runtime of {self.node_name} has no API client to read {kind}")
        if kind == "serviceaccounts/token" and request is not None:   # a projected ServiceAccount token
            return self._token_manager().lookup(request)
        resource = resources.by_plural("", "v1", kind)
        assert resource is not None and kind in RESOURCES
        try:
            return dict(self.client.get(resource, name, namespace or None))
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise RuntimeCallError(f"reading {kind} {namespace}/{name}: {exc.message}") from None

    # --- sandboxes ------------------------------------------------------------------------

    def run_pod_sandbox(self, pod: dict[str, Any]) -> SandboxInfo:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        with self._lock:
            for sandbox in self._sandboxes.values():
                if sandbox.uid == uid and sandbox.ready:
                    return SandboxInfo(sandbox.id, sandbox.ip)
            try:
                ip = self.ips.allocate()
            except network.IPExhausted as exc:
                raise RuntimeCallError(str(exc)) from None
            sandbox_id = self._new_id()
            folder = self.state_dir / "pods" / (uid or sandbox_id)
            folder.mkdir(parents=True, exist_ok=True)
            sandbox = Sandbox(sandbox_id, uid, ip, pod, folder)
            if self.network_plan is not None:   # what a CNI bridge plugin does: netns, veth, address, route
                try:
                    sandbox.netns = self.network_plan.add_pod(self.node_index, sandbox_id, ip)
                except hostnet.NetworkError as exc:
                    self.ips.release(ip)
                    raise RuntimeCallError(f"failed to set up the network of sandbox {sandbox_id[:12]}: {exc}") from None
            sandbox.messages += self._pod_cgroup(sandbox, pod)
            if self.port_offset:
                sandbox.messages += remapped_ports_messages(pod, ip, self.port_offset)
            sandbox.messages += self._write_resolv_conf(pod, folder)
            if self.isolation == "none":
                sandbox.messages.append(("Warning", "ContainersNotIsolated", (
                    f"the process runtime of {self.node_name} cannot isolate containers ({self._not_isolated}): "
                    "they see the node's files and processes and run as its user")))
            self._sandboxes[sandbox_id] = sandbox
            return SandboxInfo(sandbox_id, ip)

    def _pod_cgroup(self, sandbox: Sandbox, pod: dict[str, Any]) -> list[tuple[str, str, str]]:
        """Make the pod's cgroup; the event that says which of its limits this node cannot enforce."""
        reason = self.cgroups.reason
        try:
            sandbox.cgroup = self.cgroups.create_pod(sandbox.uid or sandbox.id, pod)
        except OSError as exc:
            reason = f"cannot create the pod's cgroup: {exc.strerror or exc}"
        missing = self.cgroups.not_enforced(pod) if sandbox.cgroup is not None else cgroups.asked_limits(pod)
        if not missing:
            return []
        memory = any(m.endswith(".memory") for m in missing)
        return [("Warning", "ResourceLimitsNotEnforced", (
            f"the process runtime of {self.node_name} has no cgroups for this pod ({reason}): "
            f"the kernel does not enforce {', '.join(missing)}" + (
                "; memory use is polled instead and a container over its limit killed (approximate: "
                "a fast allocation overshoots first)" if memory else "")))]

    def _write_resolv_conf(self, pod: dict[str, Any], folder: Path) -> list[tuple[str, str, str]]:
        """The pod's resolv.conf as its kubelet composes it (:mod:`minik8s.kubelet.dns`); events about it."""
        if self.cluster_network is None:
            return []
        text, warnings = self.cluster_network.resolv_conf(pod, _host_resolv_conf())
        (folder / "resolv.conf").write_text(text)
        messages = [("Warning", reason, message) for reason, message in warnings]
        if self.isolation == "none":
            messages.append(("Warning", "DNSConfigForming", (
                "containers are not isolated: they read the node's /etc/resolv.conf and /etc/hosts, so cluster "
                "DNS names (Services) will not resolve in them")))
        return messages

    def services_changed(self) -> None:
        """Services changed: where Service names live in /etc/hosts, rewrite them in running containers."""
        if self.cluster_network is None or not self.cluster_network.hosts_fallback:
            return
        with self._lock:
            live = [c for c in self._containers.values() if c.contained is not None and c.finished_at is None]
        for c in live:
            assert c.contained is not None
            text = isolation.hosts_text(c.sandbox.ip, c.contained.hostname, self.cluster_network.hosts(c.sandbox.pod))
            try:
                isolation.rewrite_in_place(c.contained.rootfs / "etc" / "hosts", text)
            except OSError:
                pass   # removed meanwhile

    def sandbox_messages(self, sandbox_id: str) -> list[tuple[str, str, str]]:
        """Events the kubelet should record for the pod, once: (type, reason, message)."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
            if sandbox is None:
                return []
            messages, sandbox.messages = sandbox.messages, []
            return messages

    def volume_usage(self, sandbox_id: str) -> dict[str, int]:
        """Bytes in the pod's emptyDirs that have a ``sizeLimit`` (:func:`.filesystem.empty_dir_sizes`)."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return {}
        return filesystem.empty_dir_sizes(sandbox.pod, sandbox.folder)

    def update_volumes(self, sandbox_id: str, pod: dict[str, Any]) -> None:
        """Write the pod's ConfigMap, Secret, downward API and projected volumes again (the kubelet's
        periodic volume sync); unchanged volumes are left alone, changed ones swap ``..data``."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            return
        filesystem.prepare_volumes(pod, sandbox.folder, self.node_root, self._lookup, pod_ip=sandbox.ip,
                                   host_ip=self.ips.node_ip, client=self.client)

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
            if sandbox is None:
                return
            sandbox.ready = False
            running = [c for c in self._containers.values() if c.sandbox is sandbox and c.finished_at is None
                       and c.popen is not None]
        for c in running:
            self.stop_container(c.id, 0)

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            sandbox = self._sandboxes.pop(sandbox_id, None)
            if sandbox is None:
                return
            ids = [c.id for c in self._containers.values() if c.sandbox is sandbox]
        for cid in ids:
            self._force_remove(cid)
        cgroups.Cgroups.remove(sandbox.cgroup)
        if sandbox.netns is not None:
            self.network_plan.remove_pod(sandbox.id)
        self.ips.release(sandbox.ip)
        shutil.rmtree(sandbox.folder, ignore_errors=True)
        if getattr(self, "_tokens", None) is not None:
            self._tokens.forget(sandbox.uid)   # the pod is gone: so are its cached tokens

    def port_forward(self, sandbox_id: str, port: int) -> tuple[str, int]:
        """The pod's IP and the port its ``port`` is served on: any process of the node can dial it."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            raise cri.PortForwardError(f'failed to find sandbox "{sandbox_id}" in store: not found')
        return sandbox.ip, self.port_on_host(sandbox.ip, port)

    def port_on_host(self, ip: str, port: int) -> int:
        """The port a pod's ``port`` really listens on (a Service proxy needs this too)."""
        return network.port_on_host(port, self.port_offset) if ip.startswith("127.") else port

    # --- images ---------------------------------------------------------------------------

    def _resolve_image(self, text: str, pull_policy: str) -> tuple[images.Image, bool]:
        """(the image, whether it was fetched now). Raises ImagePullError."""
        return images.resolve(self.images, self.registry, text, pull_policy)

    @staticmethod
    def registry_host() -> str:
        return images.registry_host()

    def pull_image(self, image: str, pull_policy: str, pod: dict[str, Any] | None = None) -> PullResult:
        started = time.monotonic()
        present = image in self._present
        if present and pull_policy != "Always":
            found = self._present[image]
            return PullResult(found.ref, found.image_id, pulled=False, size_bytes=found.size)
        found, fetched = self._resolve_image(image, pull_policy)
        with self._lock:
            self._present[image] = found
        # Policy Always asks the registry every time (for a built-in image, a manifest check that
        # finds it current): upstream reports that as a pull too, never as "already present".
        pulled = fetched or pull_policy == "Always" or (not present and found.base is not None
                                                        and not found.from_store)
        return PullResult(found.ref, found.image_id, pulled=pulled, seconds=time.monotonic() - started,
                          size_bytes=found.size)

    def list_images(self) -> list[ImageInfo]:
        with self._lock:
            by_id: dict[str, ImageInfo] = {}
            for found in self._present.values():
                info = by_id.setdefault(found.image_id, ImageInfo([], found.size))
                name = f"{found.ref.rsplit(':', 1)[0]}@{found.image_id}" if "@" not in found.ref else found.ref
                for n in (name, found.ref):
                    if n not in info.names:
                        info.names.append(n)
            return sorted(by_id.values(), key=lambda i: i.names[-1])

    # --- containers -----------------------------------------------------------------------

    def refresh_volumes(self, pod: dict[str, Any], sandbox_id: str) -> float | None:
        """Rewrite the pod's volumes when a ServiceAccount token in them is due for refresh (80% of its
        life, :mod:`minik8s.kubelet.tokens`); returns when to look again (None: no token to refresh)."""
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        tokens = self._token_manager()
        due = tokens.next_refresh(uid)
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if due is None or sandbox is None or self.clock.now() < due:
            return due
        filesystem.prepare_volumes(pod, sandbox.folder, self.node_root, self._lookup, pod_ip=sandbox.ip,
                                   host_ip=self.ips.node_ip)
        return tokens.next_refresh(uid)

    def create_container(self, sandbox_id: str, pod: dict[str, Any], container: dict[str, Any],
                         attempt: int) -> str:
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            raise RuntimeCallError(f"sandbox {sandbox_id} is not ready")
        image_text = str(container.get("image") or "")
        found = self._present.get(image_text)
        if found is None:
            try:
                found, _ = self._resolve_image(image_text, "IfNotPresent")
            except ImagePullError as exc:
                raise RuntimeCallError(f'image "{image_text}" is not present on the node: {exc.message}') from None
        name = str(container.get("name") or "")
        host_ip = self.ips.node_ip
        volumes = filesystem.prepare_volumes(pod, sandbox.folder, self.node_root, self._lookup,
                                             pod_ip=sandbox.ip, host_ip=host_ip, client=self.client)
        container_id = self._new_id()
        folder = sandbox.folder / "containers" / name / str(attempt)
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
        rootfs = folder / "rootfs"
        images.lay_out(self.images, found, rootfs)
        image_config = found.config.get("config") or {}
        workdir = str(container.get("workingDir") or image_config.get("WorkingDir") or "")
        table = [(p, str(rootfs / p.lstrip("/"))) for p in images.image_paths(image_config)]
        table.append(("/tmp", str(rootfs / "tmp")))
        if workdir and workdir != "/":
            table.append((workdir, str(rootfs / workdir.lstrip("/"))))
        volume_table = filesystem.volume_mounts(container, volumes)
        # A volume mounted over a folder hides what the image had there, as a mount does on Linux.
        mounted = [path.rstrip("/") for path, _ in volume_table]
        table = [(path, host) for path, host in table
                 if not any(path == m or path.startswith(m + "/") for m in mounted)] + volume_table
        mounts = Mounts(table, guards=self._guards())
        for path in (rootfs / "tmp", rootfs / "root", Path(mounts.host_path(workdir or "/"))):
            path.mkdir(parents=True, exist_ok=True)
        contained = None
        if self.isolation == "bwrap":
            contained = self._containment(pod, container, sandbox, rootfs, workdir, volume_table)
        env = self._environment(pod, container, found, sandbox, mounts, contained)
        original = commands.command_line(container, image_config, env)
        if contained is None:
            argv = [mounts.rewrite(a) for a in original]
            cwd = mounts.host_path(workdir) if workdir and workdir != "/" else str(rootfs)
        else:
            argv, cwd = original, str(folder)   # the command as written; bwrap enters the working directory
        meta = pod.get("metadata") or {}
        log_path = (self.state_dir / "logs" / "pods" /
                    f"{meta.get('namespace', 'default')}_{meta.get('name', '')}_{meta.get('uid', '')}" / name /
                    f"{attempt}.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"")
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        memory_limit = quantity.value(limit) if limit and quantity.is_valid(limit) else None
        record = _Container(container_id, name, sandbox, container, attempt, found, argv, env, cwd, mounts,
                            contained, folder, log_path, memory_limit, self.clock.now(), original[0] if original else "")
        try:
            record.cgroup = self.cgroups.create_container(sandbox.cgroup, container_id, container)
        except OSError:
            record.cgroup = None   # the memory limit is polled instead, as without cgroups
        with self._lock:
            self._containers[container_id] = record
        return container_id

    def _containment(self, pod: dict[str, Any], container: dict[str, Any], sandbox: Sandbox, rootfs: Path,
                     workdir: str, volume_table: list[tuple[str, str]]) -> isolation.Containment:
        """The container's own view (:mod:`.isolation`): its rootfs, the runtime's files, its volumes."""
        python_home, _ = isolation.python_inside()
        internal = isolation.INTERNAL
        read_only = filesystem.read_only_paths(pod, container)
        binds = [isolation.Bind(f"{internal}/python", python_home, True),
                 *[isolation.Bind(path, host, path in read_only) for path, host in volume_table]]
        resolv = sandbox.folder / "resolv.conf"
        if resolv.exists():   # one file per pod, as the CRI runtime bind-mounts the sandbox's
            binds.append(isolation.Bind("/etc/resolv.conf", str(resolv)))
        uid, gid = isolation.user_of(pod, container)
        isolation.verify_non_root(pod, container, uid)
        pod_name = str((pod.get("metadata") or {}).get("name") or "")
        contained = isolation.Containment(rootfs, pod_name, uid, gid, workdir or "/", binds,
                                          isolation.groups_of(pod), netns=sandbox.netns is not None)
        contained.prepare(sandbox.ip, self.cluster_network.hosts(pod) if self.cluster_network is not None else [])
        return contained

    def _shim_folder(self, found: images.Image, contained: isolation.Containment | None) -> Path:
        """The image's executables; a contained container finds them at ``/.minik8s/bin``."""
        base = found.base or builtin.BUILTINS["busybox"]
        if contained is None:
            return builtin.install_shims(self._shims, base)
        python_home, python = isolation.python_inside()
        library = f"{isolation.INTERNAL}/python/lib" if list(Path(python_home, "lib").glob("libpython*.so*")) else ""
        # Inside a container the interpreter is the installation's base: a virtual environment's packages
        # (where a student installed the official client, say) are bound beside it for the python image.
        venv = isolation.venv_site_packages()
        site_packages = f"{isolation.INTERNAL}/site-packages" if venv else ""
        folder = builtin.install_shims(self._shims, base, python, f"{isolation.INTERNAL}/bin", library,
                                       site_packages)
        contained.binds.append(isolation.Bind(f"{isolation.INTERNAL}/bin", str(folder), True))
        if venv:
            contained.binds.append(isolation.Bind(site_packages, venv, True))
        return Path(f"{isolation.INTERNAL}/bin")

    def _guards(self) -> tuple[str, ...]:
        """Host paths that are never container paths: our state, the shims, Python and minik8s itself."""
        import sys
        return (str(self.state_dir), str(runtime_root()), sys.prefix, sys.base_prefix,
                str(Path(builtin.__file__).resolve().parents[2]))

    def _environment(self, pod: dict[str, Any], container: dict[str, Any], found: images.Image, sandbox: Sandbox,
                     mounts: Mounts, contained: isolation.Containment | None) -> dict[str, str]:
        image_env = list((found.config.get("config") or {}).get("Env") or [])
        links = self.cluster_network.service_env(pod) if self.cluster_network is not None else None
        declared = envs.container_env(pod, container, image_env, self._lookup, pod_ip=sandbox.ip,
                                      host_ip=self.ips.node_ip, services=links)
        shims = self._shim_folder(found, contained)
        site = f"{shims}/{builtin.COMPILED_SITE}"   # the compiled sitecustomize, first on PYTHONPATH
        if contained is not None:
            env = {"HOSTNAME": contained.hostname, "HOME": "/root" if contained.uid == 0 else "/", **declared}
            env["PATH"] = os.pathsep.join([str(shims), env.get("PATH") or builtin.PATH])
            env.update({
                # The runtime's own variables: what the sitecustomize needs for the pod's network.
                "PYTHONPATH": os.pathsep.join(p for p in (site, env.get("PYTHONPATH", "")) if p),
                "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
                "MINIK8S_POD_IP": sandbox.ip, "MINIK8S_PORT_OFFSET": str(self.port_offset),
            })
            return env
        image_bins = [mounts.host_path(p) for p, _ in mounts.table if p.endswith("/bin")]
        pod_name = str((pod.get("metadata") or {}).get("name") or "")
        env = {"HOSTNAME": pod_name, "HOME": str(Path(mounts.host_path("/tmp")).parent / "root")}
        env.update(declared)
        env = {k: (mounts.rewrite(v) if v.startswith("/") else v) for k, v in env.items()}
        env["PATH"] = os.pathsep.join([str(shims), *image_bins, env.get("PATH") or builtin.PATH])
        python_path = os.pathsep.join(p for p in (site, env.get("PYTHONPATH", "")) if p)
        env.update({
            # The runtime's own variables: what the sitecustomize and built-in images need.
            "PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
            "MINIK8S_POD_IP": sandbox.ip, "MINIK8S_PORT_OFFSET": str(self.port_offset),
            "MINIK8S_MOUNTS": mounts.to_json(), "MINIK8S_HOST_PATHS": os.pathsep.join(mounts.guards),
        })
        return env

    def _get(self, container_id: str) -> _Container:
        with self._lock:
            record = self._containers.get(container_id)
        if record is None:
            raise RuntimeCallError(f'container "{container_id}" not found')
        return record

    def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if c.started_at is not None or c.finished_at is not None:
            raise RuntimeCallError(f"container {container_id} was already started")
        now = self.clock.now()
        host_path = c.contained.host_path if c.contained is not None else c.mounts.host_path
        executable = commands.find_executable(c.argv[0] if c.argv else "", c.env["PATH"], host_path)
        if executable is None:
            self._start_failed(c, now, start_error_message(c.program))
            return
        fds: tuple[int, ...] = ()
        if c.contained is None:
            argv = [executable, *c.argv[1:]]
        else:
            # bwrap reads its options from a file, so that the container's PID 1 (bwrap's init) does not
            # show the host's paths to ``ps`` inside the container.
            options = c.folder / "bwrap.args"
            options.write_bytes(b"".join(a.encode() + b"\0" for a in c.contained.options()))
            fds = (os.open(options, os.O_RDONLY),)
            argv = [isolation.tool("bwrap"), "--args", str(fds[0]), "--", *c.contained.command(c.argv)]
        if c.sandbox.netns is not None:   # netns mode: the container joins its pod's network namespace
            argv = [isolation.tool("nsenter"), f"--net=/run/netns/{c.sandbox.netns}", "--", *argv]
        if NICE and shutil.which("nice"):
            # Containers yield the CPU to the control plane (the kubelet starting the next pod),
            # as a node reserves CPU for system daemons (kube-reserved).
            argv = ["nice", "-n", str(NICE), *argv]
        argv = cgroups.enter(c.cgroup, argv)   # in its cgroup before the command runs
        # stdout and stderr are pipes the log writer reads (:mod:`.logger`), as containerd's are; with
        # ``tty: true`` one terminal, whose output is logged as stdout. ``stdin: true`` keeps a stdin open
        # for ``kubectl attach``.
        ours, theirs, streams = _container_streams(c.spec)
        try:
            c.popen = subprocess.Popen(argv, cwd=c.cwd, env=c.env, **streams, start_new_session=True,
                                       close_fds=True, pass_fds=fds)
        except OSError as exc:
            for fd in ours.values():
                os.close(fd)
            why = exc.strerror.lower() if exc.strerror else str(exc)
            self._start_failed(c, now, start_error_message(c.program, why))
            return
        finally:
            for fd in (*fds, *theirs):
                os.close(fd)
        c.stdin, c.terminal = ours.pop("stdin", None), ours.pop("terminal", None)
        self._logs.attach(c.id, ours, c.log_path)
        c.started_at = now
        c.cpu_sample = (time.monotonic(), 0.0)
        self.pidfiles.write(c.id, c.popen.pid)

    def _start_failed(self, c: _Container, now: float, message: str) -> None:
        # containerd's StartError: the container exists, never ran, and is reported terminated.
        c.started_at = c.finished_at = now
        c.exit_code = START_ERROR_EXIT_CODE
        c.reason = "StartError"
        c.message = message

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        c = self._get(container_id)
        with self._lock:
            self._refresh(c)
            if c.finished_at is not None:
                return
            if c.popen is None:
                c.started_at = c.started_at or self.clock.now()
                self._finish(c, 0, "")
                return
            if c.kill_at is not None:
                c.kill_at = min(c.kill_at, self.clock.now() + max(float(grace_seconds), 0.0))
                return
            self._signal(c, signal.SIGTERM, self._spare(c))
            c.kill_at = self.clock.now() + max(float(grace_seconds), 0.0)
        if grace_seconds <= 0:
            self._kill_now(c)

    def _signal(self, c: _Container, sig: int, spare: frozenset[int] = frozenset(),
                table: dict[int, list[tuple[int, list[str]]]] | None = None) -> None:
        """Signal the container's processes, unless its main process has been reaped: from then on its
        pid, which names the session, may be another program's (pids wrap at ``pid_max``, 32,768 on
        some machines). Reaping happens under the lock, so it cannot come between the check and the kill."""
        with self._lock:
            if c.popen is not None and c.popen.returncode is None:
                supervisor.kill_session(c.popen.pid, sig, spare, table)

    @staticmethod
    def _spare(c: _Container) -> frozenset[int]:
        """A contained container's bwrap processes: a SIGTERM is for the container's command, not for them."""
        if c.contained is None or c.popen is None:
            return frozenset()
        init = isolation.init_pid(c.popen.pid)
        return frozenset({c.popen.pid} | ({init} if init is not None else set()))

    def _container_pids(self, c: _Container, table: dict[int, list[tuple[int, list[str]]]] | None = None) -> list[int]:
        """The container's own processes, whose memory and CPU count (not the runtime's bwrap).
        ``table``: a :func:`supervisor.sessions` pass shared by many containers."""
        spare = self._spare(c)
        sid = c.popen.pid  # type: ignore[union-attr]
        pids = supervisor.session_pids(sid) if table is None else [pid for pid, _ in table.get(sid, ())]
        return [pid for pid in pids if pid not in spare]

    def _kill_now(self, c: _Container) -> None:
        if c.popen is not None and c.finished_at is None:
            self._signal(c, signal.SIGKILL)
            try:
                c.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            with self._lock:
                self._refresh(c)

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            c = self._containers.get(container_id)
        if c is None:
            return
        with self._lock:
            self._refresh(c)
            running = c.finished_at is None and c.popen is not None
        if running:
            raise RuntimeCallError(f"container {container_id} is running: stop it first")
        self._force_remove(container_id)

    def _force_remove(self, container_id: str) -> None:
        with self._lock:
            c = self._containers.pop(container_id, None)
        if c is None:
            return
        if c.finished_at is None and c.popen is not None:
            self._kill_now(c)
        self.pidfiles.remove(c.id)
        cgroups.Cgroups.remove(c.cgroup)
        shutil.rmtree(c.folder, ignore_errors=True)
        c.log_path.unlink(missing_ok=True)

    def container_status(self, container_id: str) -> ContainerStatus:
        c = self._get(container_id)
        with self._lock:
            self._refresh(c)
            state = "created" if c.started_at is None else ("running" if c.finished_at is None else "exited")
            return ContainerStatus(c.id, c.name, state, c.attempt, c.image.ref, c.image.image_id, c.created_at,
                                   c.started_at, c.finished_at, c.exit_code, c.reason if state == "exited" else "",
                                   c.message if state == "exited" else "")

    def _refresh(self, c: _Container, table: dict[int, list[tuple[int, list[str]]]] | None = None) -> bool:
        """Notice that the main process exited; returns True when it just did. Call with the lock held.
        ``table``: a :func:`supervisor.sessions` pass shared by many containers."""
        if c.popen is None or c.finished_at is not None:
            return False
        if c.popen.returncode is None:
            if not supervisor.exited(c.popen.pid):
                return False
            # As a container's processes die with its PID 1: kill what the main process left behind,
            # before it is reaped (its pid names the session until then, and no other process's).
            supervisor.kill_session(c.popen.pid, signal.SIGKILL, table=table)
        code = c.popen.wait()   # at once: it has exited
        exit_code = 128 - code if code < 0 else code
        oom = c.oom_killed or cgroups.oom_killed(c.cgroup, exit_code)
        self._finish(c, exit_code, "OOMKilled" if oom else "")
        return True

    def _finish(self, c: _Container, exit_code: int, reason: str) -> None:
        c.finished_at = self.clock.now()
        c.exit_code = exit_code
        c.reason = reason or ("Completed" if exit_code == 0 else "Error")
        c.kill_at = None
        if c.popen is not None:
            # Before anyone sees the container exited, its last output is in its log file.
            self._logs.drain(c.id)
        with self._lock:
            for fd in (c.stdin, c.terminal):
                if fd is not None:
                    os.close(fd)
            c.stdin = c.terminal = None
        self.pidfiles.remove(c.id)

    # --- the supervisor thread: deadlines, memory, exits ----------------------------------

    def _supervise(self) -> None:
        while not self._closed.wait(MONITOR_SECONDS):
            exited = []
            with self._lock:
                running = [c for c in self._containers.values() if c.popen is not None and c.finished_at is None]
            # One pass over /proc per tick for every container that needs one, not one per container.
            table = supervisor.sessions() if any(c.kill_at is not None or (c.memory_limit is not None
                                                                              and c.cgroup is None)
                                                 for c in running) else None
            for c in running:
                now = self.clock.now()
                if c.kill_at is not None and now >= c.kill_at:
                    self._signal(c, signal.SIGKILL, table=table)
                elif c.memory_limit is not None and c.kill_at is None and c.cgroup is None:
                    pids = self._container_pids(c, table)
                    if supervisor.rss_bytes(pids) > c.memory_limit:
                        c.oom_killed = True
                        self._signal(c, signal.SIGKILL)
                with self._lock:
                    if self._refresh(c):
                        exited.append(c.id)
            callback = self.on_exit
            for cid in exited:
                if callback is not None:
                    try:
                        callback(cid)
                    except Exception:  # noqa: BLE001 - a broken callback must not stop the supervisor
                        pass

    # --- logs, exec, stats ----------------------------------------------------------------

    def log_path(self, container_id: str) -> Path:
        return self._get(container_id).log_path

    def log_entries(self, container_id: str) -> list[container_logs.LogEntry]:
        c = self._get(container_id)
        try:
            return container_logs.parse(c.log_path.read_bytes())
        except FileNotFoundError:
            return []

    def _running(self, container_id: str) -> tuple[_Container, int]:
        """The container and its main process id; an exec needs it running."""
        c = self._get(container_id)
        with self._lock:
            self._refresh(c)
            if c.finished_at is not None or c.popen is None:
                raise RuntimeCallError(f'container not running ("{c.name}")')
            return c, c.popen.pid

    def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        c, pid = self._running(container_id)
        return commands.exec_in(pid, c.mounts, c.env, c.cwd, command, timeout, c.id, c.contained, c.cgroup)

    def exec_stream(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> cri.ExecStream:
        c, pid = self._running(container_id)
        return commands.exec_start(pid, c.mounts, c.env, c.cwd, command, stdin=stdin, tty=tty,
                                   container_id=c.id, contained=c.contained, cgroup=c.cgroup)

    def attach(self, container_id: str) -> tuple[int | None, Callable[[int, int], None]]:
        """The container's stdin for one client (with ``stdinOnce`` the first client's end of it is
        the container's end of input) and its terminal's resize."""
        c, _ = self._running(container_id)
        with self._lock:
            stdin = c.stdin
            if stdin is not None and c.spec.get("stdinOnce"):
                c.stdin = None
            elif stdin is not None:
                stdin = os.dup(stdin)

        def resize(width: int, height: int) -> None:
            with self._lock:   # under the lock: the terminal is closed (its number reused) when the container ends
                if c.terminal is not None:
                    fcntl.ioctl(c.terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))

        return stdin, resize

    def stats(self, container_id: str) -> tuple[int, int]:
        c = self._get(container_id)
        with self._lock:
            self._refresh(c)
            if c.popen is None or c.finished_at is not None:
                return 0, 0
            cpu_ns, memory = cgroups.container_usage(c.cgroup, self._container_pids(c))
            used = cpu_ns / 1e9
            now = time.monotonic()
            last_wall, last_cpu = c.cpu_sample
            c.cpu_sample = (now, used)
            elapsed = now - last_wall
            millicores = int(round((used - last_cpu) / elapsed * 1000)) if elapsed > 0 else 0
            return max(millicores, 0), memory

    def container_stats(self, container_id: str) -> tuple[int, int] | None:
        self._get(container_id)   # an unknown id is an error here, as for every call on one container
        return self.containers_stats([container_id])[container_id]

    def process_ids(self, container_id: str) -> tuple[list[int], list[int]]:
        """(the container's own processes, the runtime's processes around them: ``bwrap`` and its init),
        for a benchmark that weighs what the runtime costs beside what the container itself uses."""
        c = self._get(container_id)
        with self._lock:
            self._refresh(c)
            if c.popen is None or c.finished_at is not None:
                return [], []
            spare, table = self._spare(c), supervisor.sessions()
            return self._container_pids(c, table), sorted(p for p, _ in table.get(c.popen.pid, ()) if p in spare)

    def containers_stats(self, container_ids: Iterable[str]) -> dict[str, tuple[int, int] | None]:
        """(CPU core-nanoseconds used since it started, memory working set) of each running container:
        from its cgroup where it has one (:func:`.cgroups.container_usage`), else from its process tree
        in /proc (:func:`container_usage`), one pass over /proc for them all.
        A process that dies unwaited-for takes its CPU time with it; the figure is kept from going
        backwards, as a cgroup's cumulative counter never does."""
        table = supervisor.sessions()
        found: dict[str, tuple[int, int] | None] = {}
        for container_id in container_ids:
            with self._lock:
                c = self._containers.get(container_id)
                if c is None:   # removed meanwhile
                    found[container_id] = None
                    continue
                self._refresh(c)
                if c.popen is None or c.finished_at is not None:
                    found[container_id] = None
                    continue
                if c.cgroup is not None and "memory" in c.cgroup.dirs:   # the kernel's own figures
                    cpu_ns, memory = cgroups.container_usage(c.cgroup)
                else:
                    spare = self._spare(c)
                    cpu_ns, memory = container_usage([p for p in table.get(c.popen.pid, []) if p[0] not in spare])
                c.cpu_used_ns = max(c.cpu_used_ns, cpu_ns)
                found[container_id] = (c.cpu_used_ns, memory)
        return found

    # --- probes: the kubelet dials the pod IP ---------------------------------------------

    def probe_http(self, ip: str, port: int, path: str, scheme: str, headers: dict[str, str],
                   timeout: float) -> int:
        source = (self.ips.node_ip, 0) if ip.startswith("127.") else None  # probes come from the node
        return probes.http_get(ip, port, self.port_on_host(ip, port), source, path, scheme, headers, timeout)

    def probe_tcp(self, ip: str, port: int, timeout: float) -> bool:
        return probes.tcp_open(ip, self.port_on_host(ip, port), timeout)
    # --- time and shutdown ----------------------------------------------------------------

    def next_event_time(self, container_ids: Iterable[str] | None = None) -> float | None:
        with self._lock:
            ids = list(self._containers) if container_ids is None else list(container_ids)
            now = self.clock.now()
            times: list[float] = []
            for cid in ids:
                c = self._containers.get(cid)
                if c is None or c.popen is None:
                    continue
                self._refresh(c)
                if c.finished_at is not None:
                    continue
                due = now + RELIST_SECONDS
                if c.kill_at is not None:
                    # Past its deadline, the supervisor's next tick kills it: look then, not in a busy loop.
                    due = min(due, max(c.kill_at, now + MONITOR_SECONDS))
                times.append(due)
            return min(times) if times else None

    def close(self) -> None:
        """Stop every process this runtime started (SIGTERM, then SIGKILL), release IPs, delete temporary state."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            running = [c for c in self._containers.values() if c.popen is not None and c.finished_at is None]
        # One pass over /proc serves every container at each step (a pass per container costs
        # containers x processes reads: seconds for a node of 100 pods).
        table = supervisor.sessions()
        for c in running:
            self._signal(c, signal.SIGTERM, self._spare(c), table)
        # Wait for the main processes to exit without reaping them, so that the SIGKILL for what they
        # left behind reaches their sessions and nothing else.
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        while time.monotonic() < deadline and not all(c.popen.returncode is not None  # type: ignore[union-attr]
                                                      or supervisor.exited(c.popen.pid) for c in running):  # type: ignore[union-attr]
            time.sleep(0.01)
        table = supervisor.sessions()
        for c in running:
            self._signal(c, signal.SIGKILL, table=table)
        for c in running:
            try:
                c.popen.wait(timeout=5)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                pass
        table = supervisor.sessions()
        for c in running:
            with self._lock:
                self._refresh(c, table)
        # A PID namespace dies with its PID 1, but its other processes take a moment to finish exiting.
        deadline = time.monotonic() + CLOSE_GRACE_SECONDS
        while time.monotonic() < deadline:
            table = supervisor.sessions()
            if not any(c.popen.pid in table for c in running):  # type: ignore[union-attr]
                break
            time.sleep(0.01)
        with self._lock:
            for c in self._containers.values():
                self.pidfiles.remove(c.id)
                cgroups.Cgroups.remove(c.cgroup)
            for sandbox in self._sandboxes.values():
                cgroups.Cgroups.remove(sandbox.cgroup)
                if sandbox.netns is not None:
                    self.network_plan.remove_pod(sandbox.id)
            self._containers.clear()
            self._sandboxes.clear()
        self.cgroups.close()
        self._logs.close()
        self.ips.release_all()
        self._monitor.join(timeout=2)
        if self._own_dir:
            shutil.rmtree(self._base_dir, ignore_errors=True)



"""The ``docker`` container runtime: real containers through a Docker engine, pods as in Kubernetes.

A Kubernetes pod on Docker (the old ``dockershim``, and containerd today) is a
*pause* container that does nothing but hold the pod's network namespace, plus the
app containers, each started with ``--network container:<pause>`` so that they share
its IP and ``localhost``. This runtime does exactly that through the ``docker``
Python SDK (an optional dependency: ``pip install docker``):

* sandbox: ``minik8s/pause:1.0`` (a static busybox that sleeps, made locally with
  ``docker import``: no registry is needed), host name = pod name, the pod's declared
  ``containerPort``s published on ``127.0.0.1`` so the host reaches them on loopback;
* containers: ``network_mode="container:<pause id>"``, env, working dir, command/args
  (upstream's rules), volumes as bind mounts of folders under the node's data dir
  (emptyDir, hostPath, configMap, secret, downwardAPI, PVC: the same code as the
  ``process`` runtime), ``mem_limit`` and ``nano_cpus`` from the limits, labels naming
  the pod as the kubelet's (``io.kubernetes.pod.name``...);
* logs (``docker logs``), exec (``exec_run``; ``kubectl exec -i -t``: the engine's exec socket,
  :func:`exec_pipes`), stats (``stats(stream=False)``), stop with
  the grace period (``stop(timeout=...)`` in a thread, so the kubelet never blocks);
  ``OOMKilled`` comes from the engine's state;
* probes: through the published loopback port when the port is declared, else from
  inside the pod's network namespace (``wget`` in the pause container).
* Services: the Service environment variables are set as on any runtime, and kube-proxy's
  userspace listeners on the host forward a ClusterIP or NodePort to the pods' bridge
  addresses, so **the host** reaches every Service. From **inside a container** they are not
  reachable yet: ClusterIPs live in ``127.0.0.0/8`` (:mod:`minik8s.addresses`), which is each
  container's own loopback, and the cluster DNS server listens there too, so pods here keep the
  engine's resolv.conf. Reaching them needs a ClusterIP range off loopback and DNAT rules on the
  host, the iptables back-end of kube-proxy (root only), which is not built yet.

Containers are named like the kubelet's: ``k8s_<container>_<pod>_<namespace>_<uid>_<attempt>``.
``close()`` removes every container this runtime created (and ones a crashed run left:
they carry the label ``io.minik8s.node``).

Interface: :class:`minik8s.kubelet.cri.ContainerRuntime`; ``DockerRuntime(node_name=, node_index=,
clock=, data_dir=, client=None)``; ``ensure_busybox_image(engine, "busybox:latest")`` makes a
local busybox image from the host's static busybox.
Taught in chapter 2 (the CRI and the pause container).
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import shutil
import socket
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from minik8s.api import quantity
from minik8s.clock import Clock, RealClock
from minik8s.kubelet import cri
from minik8s.kubelet.cri import (ContainerStatus, ExecResult, ImageInfo, ImagePullError, ProbeError, PullResult,
                                 RuntimeCallError, SandboxInfo)
from minik8s.kubelet.logs import STREAMS, LogEntry, parse_timestamp
from minik8s.kubelet.runtimes.process import env as envs
from minik8s.kubelet.runtimes.process import filesystem

PAUSE_IMAGE = "minik8s/pause:1.0"
NODE_LABEL = "io.minik8s.node"
DOCKER_CHUNK = 32 * 1024   # bytes copied at a time between an exec's socket and its pipes
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
APPLETS = ("sh", "sleep", "echo", "cat", "ls", "wget", "hostname", "touch", "rm", "mkdir", "env", "ps", "true",
           "false", "date", "id", "grep", "head", "tail", "nc", "printenv", "kill", "pwd", "tar")  # tar: kubectl cp


def exec_pipes(raw: socket.socket, *, stdin: bool, tty: bool, exit_code: Callable[[], int],
               resize: Callable[[int, int], None]) -> cri.ExecStream:
    """An :class:`~minik8s.kubelet.cri.ExecStream` over the engine's exec socket. Without a tty the
    engine multiplexes stdout and stderr in frames (a byte naming the stream, three zero bytes, the
    length in four big-endian bytes, the data); with one the socket is the terminal. Two threads
    copy: the socket to the pipes, stdin's pipe to the socket (its end: a half-close)."""
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe() if not tty else (None, None)
    in_read, in_write = os.pipe() if stdin else (None, None)
    done = threading.Event()

    def download() -> None:
        targets = {1: out_write, 2: err_write if err_write is not None else out_write}
        try:
            with raw.makefile("rb") as source:
                while True:
                    if tty:
                        chunk, target = source.read1(DOCKER_CHUNK), out_write
                    else:
                        head = source.read(8)
                        if len(head) < 8:
                            break
                        chunk, target = source.read(int.from_bytes(head[4:8], "big")), targets.get(head[0], out_write)
                    if not chunk:
                        break
                    os.write(target, chunk)
        except OSError:
            pass   # the client went away
        finally:
            for fd in (out_write, err_write):
                if fd is not None:
                    os.close(fd)
            done.set()

    def upload() -> None:
        assert in_read is not None
        with os.fdopen(in_read, "rb", buffering=0) as source:
            try:
                while chunk := source.read(DOCKER_CHUNK):
                    raw.sendall(chunk)
                raw.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    threading.Thread(target=download, name="docker-exec-out", daemon=True).start()
    if stdin:
        threading.Thread(target=upload, name="docker-exec-in", daemon=True).start()

    def wait() -> int:
        done.wait()
        return exit_code()

    def kill() -> None:   # the engine has no exec kill: closing the socket ends a shell reading it
        with contextlib.suppress(OSError):
            raw.shutdown(socket.SHUT_RDWR)

    return cri.ExecStream(in_write, out_read, err_read, wait, kill, resize)


def _docker() -> Any:
    try:
        import docker  # type: ignore[import-not-found]
    except ImportError:
        raise RuntimeError('the docker runtime needs the Docker SDK: pip install "minik8s[docker]" (or docker)') from None
    return docker


def busybox_rootfs_tar(command: list[str] | None = None) -> bytes:
    """A root filesystem with a static busybox and its applets, as a tar (for ``docker import``)."""
    path = next((p for p in BUSYBOX_CANDIDATES if os.path.exists(p)), None) or shutil.which("busybox")
    if path is None:
        raise RuntimeError("no busybox on this machine: apt-get install busybox-static")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in ("bin", "tmp", "etc", "proc", "sys", "dev", "root"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        tar.add(path, arcname="bin/busybox")
        for applet in APPLETS:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
    return buffer.getvalue()


def ensure_busybox_image(engine: Any, name: str, command: list[str] | None = None) -> None:
    """Make ``name`` a local image of a static busybox, unless it exists (no registry needed)."""
    docker = _docker()
    try:
        engine.images.get(name)
        return
    except docker.errors.ImageNotFound:
        pass
    repository, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "latest")
    changes = [f'CMD {_json_list(command)}'] if command else ['CMD ["sh"]']
    changes.append("ENV PATH=/bin")
    engine.api.import_image_from_data(busybox_rootfs_tar(), repository=repository, tag=tag or "latest",
                                      changes=changes)


def _json_list(items: list[str]) -> str:
    import json
    return json.dumps(items)


class DockerRuntime(cri.ContainerRuntime):
    version = "docker://unknown"
    # The engine's stats take a second or two per container: too slow for the eviction manager's 10 s pass.
    slow_stats = True

    def __init__(self, *, node_name: str = "node-1", node_index: int = 0, clock: Clock | None = None,
                 rng: random.Random | None = None, data_dir: Path | str | None = None, client: Any = None,
                 engine: Any = None):
        docker = _docker()
        self._errors = docker.errors
        try:
            self.engine = engine or docker.from_env()
            self.version = f"docker://{self.engine.version().get('Version', 'unknown')}"
        except docker.errors.DockerException as exc:
            raise RuntimeError(f"cannot reach a Docker engine: {exc}") from None
        self.node_name = node_name
        self.node_index = node_index
        self.clock = clock or RealClock()
        self.client = client
        self._own_dir = data_dir is None
        base = Path(data_dir) if data_dir is not None else Path(tempfile.mkdtemp(prefix="minik8s-docker-"))
        self._base_dir = base
        self.state_dir = (base / "nodes" / node_name).resolve()
        self.node_root = self.state_dir / "host"
        self._sandboxes: dict[str, dict[str, Any]] = {}
        self._containers: dict[str, dict[str, Any]] = {}
        self._stopping: dict[str, threading.Thread] = {}
        self._lock = threading.RLock()
        self._remove_leftovers()
        ensure_busybox_image(self.engine, PAUSE_IMAGE, ["/bin/sleep", "2147483647"])

    # --- helpers --------------------------------------------------------------------------

    def _labels(self, pod: dict[str, Any], container: str) -> dict[str, str]:
        meta = pod.get("metadata") or {}
        return {NODE_LABEL: self.node_name, "io.kubernetes.pod.name": str(meta.get("name", "")),
                "io.kubernetes.pod.namespace": str(meta.get("namespace", "default")),
                "io.kubernetes.pod.uid": str(meta.get("uid", "")), "io.kubernetes.container.name": container}

    def _remove_leftovers(self) -> None:
        """Containers of this node that a crashed run left behind."""
        for container in self.engine.containers.list(all=True, filters={"label": f"{NODE_LABEL}={self.node_name}"}):
            try:
                container.remove(force=True)
            except self._errors.APIError:
                pass

    def _token_manager(self) -> Any:
        from minik8s.kubelet.tokens import TokenManager

        if getattr(self, "_tokens", None) is None:
            self._tokens = TokenManager(self.client, self.clock)
        return self._tokens

    def _lookup(self, kind: str, namespace: str, name: str, request: dict[str, Any] | None = None
                ) -> dict[str, Any] | None:
        from minik8s.api import resources
        from minik8s.api.errors import StatusError

        if self.client is None:
            raise envs.ContainerConfigError(f"the docker runtime of {self.node_name} has no API client to read {kind}")
        if kind == "serviceaccounts/token" and request is not None:   # a projected ServiceAccount token
            return self._token_manager().lookup(request)
        resource = resources.by_plural("", "v1", kind)
        assert resource is not None
        try:
            return dict(self.client.get(resource, name, namespace or None))
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise RuntimeCallError(str(exc)) from None

    def _get(self, container_id: str) -> Any:
        try:
            return self.engine.containers.get(container_id)
        except self._errors.NotFound:
            raise RuntimeCallError(f'container "{container_id}" not found') from None

    # --- sandboxes ------------------------------------------------------------------------

    def run_pod_sandbox(self, pod: dict[str, Any]) -> SandboxInfo:
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid", ""))
        with self._lock:
            for sandbox_id, sandbox in self._sandboxes.items():
                if sandbox["uid"] == uid and sandbox["ready"]:
                    return SandboxInfo(sandbox_id, sandbox["ip"])
        ports: dict[str, Any] = {}
        for c in (pod.get("spec") or {}).get("containers") or []:
            for p in c.get("ports") or []:
                proto = str(p.get("protocol") or "TCP").lower()
                ports[f"{p.get('containerPort')}/{proto}"] = ("127.0.0.1", None)
        name = f"k8s_POD_{meta.get('name', '')}_{meta.get('namespace', 'default')}_{uid}_0"
        pause = self.engine.containers.run(PAUSE_IMAGE, name=name, detach=True, hostname=str(meta.get("name", ""))[:63],
                                           labels=self._labels(pod, "POD"), ports=ports or None)
        pause.reload()
        ip = pause.attrs["NetworkSettings"].get("IPAddress") or ""
        folder = self.state_dir / "pods" / uid
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._sandboxes[pause.id] = {"uid": uid, "ip": ip, "ready": True, "pause": pause, "folder": folder,
                                         "pod": pod}
        return SandboxInfo(pause.id, ip)

    def update_volumes(self, sandbox_id: str, pod: dict[str, Any]) -> None:
        """The kubelet's periodic volume sync: the bind-mounted folders get the new ``..data`` generation."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox["ready"]:
            return
        filesystem.prepare_volumes(pod, sandbox["folder"], self.node_root, self._lookup, pod_ip=sandbox["ip"],
                                   host_ip="", client=self.client)

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return
        sandbox["ready"] = False
        try:
            sandbox["pause"].stop(timeout=0)
        except self._errors.APIError:
            pass

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        with self._lock:
            sandbox = self._sandboxes.pop(sandbox_id, None)
            ids = [cid for cid, c in self._containers.items() if c["sandbox"] == sandbox_id]
        for cid in ids:
            self._force_remove(cid)
        if sandbox is not None:
            try:
                sandbox["pause"].remove(force=True)
            except self._errors.APIError:
                pass
            shutil.rmtree(sandbox["folder"], ignore_errors=True)
            if getattr(self, "_tokens", None) is not None:
                self._tokens.forget(str(sandbox.get("uid", "")))   # the pod is gone: so are its cached tokens

    # --- images ---------------------------------------------------------------------------

    def pull_image(self, image: str, pull_policy: str, pod: dict[str, Any] | None = None) -> PullResult:
        started = time.monotonic()
        try:
            found = self.engine.images.get(image)
            present = True
        except self._errors.ImageNotFound:
            found, present = None, False
        if present and pull_policy != "Always":
            return PullResult(image, found.id, pulled=False, size_bytes=int(found.attrs.get("Size", 0)))
        if not present and pull_policy == "Never":
            raise ImagePullError("ErrImageNeverPull", f'Container image "{image}" is not present with pull policy of Never')
        try:
            found = self.engine.images.pull(image)
        except self._errors.APIError as exc:
            if present:
                return PullResult(image, found.id, pulled=False, size_bytes=int(found.attrs.get("Size", 0)))
            raise ImagePullError("ErrImagePull", f"rpc error: code = Unknown desc = {exc.explanation or exc}") from None
        return PullResult(image, found.id, seconds=time.monotonic() - started, size_bytes=int(found.attrs.get("Size", 0)))

    def list_images(self) -> list[ImageInfo]:
        return [ImageInfo(list(i.tags) + [i.id], int(i.attrs.get("Size", 0))) for i in self.engine.images.list()]

    # --- containers -----------------------------------------------------------------------

    def refresh_volumes(self, pod: dict[str, Any], sandbox_id: str) -> float | None:
        """As the process runtime's: rewrite the volumes when a ServiceAccount token is due for refresh."""
        uid = str((pod.get("metadata") or {}).get("uid", ""))
        tokens = self._token_manager()
        due = tokens.next_refresh(uid)
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if due is None or sandbox is None or self.clock.now() < due:
            return due
        filesystem.prepare_volumes(pod, sandbox["folder"], self.node_root, self._lookup, pod_ip=sandbox["ip"],
                                   host_ip="")
        return tokens.next_refresh(uid)

    def create_container(self, sandbox_id: str, pod: dict[str, Any], container: dict[str, Any], attempt: int) -> str:
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox["ready"]:
            raise RuntimeCallError(f"sandbox {sandbox_id} is not ready")
        meta = pod.get("metadata") or {}
        name = str(container.get("name", ""))
        image = self.engine.images.get(str(container.get("image")))
        image_config = image.attrs.get("Config") or {}
        volumes = filesystem.prepare_volumes(pod, sandbox["folder"], self.node_root, self._lookup, pod_ip=sandbox["ip"],
                                             host_ip="", client=self.client)
        binds = {host: {"bind": path, "mode": "rw"} for path, host in filesystem.volume_mounts(container, volumes)}
        links = self.cluster_network.service_env(pod) if self.cluster_network is not None else None
        environment = envs.container_env(pod, container, list(image_config.get("Env") or []), self._lookup,
                                         pod_ip=sandbox["ip"], host_ip="", services=links)
        command = [envs.expand(str(a), environment) for a in container.get("command") or []] or None
        args = [envs.expand(str(a), environment) for a in container.get("args") or []]
        limits = (container.get("resources") or {}).get("limits") or {}
        options: dict[str, Any] = {}
        if limits.get("memory"):
            options["mem_limit"] = quantity.value(limits["memory"])
        if limits.get("cpu"):
            options["nano_cpus"] = quantity.milli(limits["cpu"]) * 1_000_000
        created = self.engine.containers.create(
            image.id, name=f"k8s_{name}_{meta.get('name', '')}_{meta.get('namespace', 'default')}_"
                           f"{meta.get('uid', '')}_{attempt}",
            entrypoint=command, command=args or (None if command else image_config.get("Cmd")),
            environment=environment, working_dir=container.get("workingDir") or None,
            network_mode=f"container:{sandbox_id}", volumes=binds, labels=self._labels(pod, name), **options)
        with self._lock:
            self._containers[created.id] = {"sandbox": sandbox_id, "attempt": attempt, "name": name,
                                            "image": str(container.get("image")), "image_id": image.id,
                                            "created_at": self.clock.now()}
        return str(created.id)

    def start_container(self, container_id: str) -> None:
        try:
            self._get(container_id).start()
        except self._errors.APIError as exc:
            # The engine's own StartError (e.g. exec: "foo": executable file not found in $PATH).
            self._containers.get(container_id, {})["start_error"] = str(exc.explanation or exc)

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        container = self._get(container_id)
        with self._lock:
            if container_id in self._stopping:
                return
            # docker stop blocks for up to the grace period: do it in the background.
            thread = threading.Thread(target=self._stop, args=(container, int(max(grace_seconds, 0))), daemon=True)
            self._stopping[container_id] = thread
        thread.start()

    def _stop(self, container: Any, grace: int) -> None:
        try:
            container.stop(timeout=grace)
        except self._errors.APIError:
            pass

    def remove_container(self, container_id: str) -> None:
        self._force_remove(container_id)

    def _force_remove(self, container_id: str) -> None:
        with self._lock:
            self._containers.pop(container_id, None)
            self._stopping.pop(container_id, None)
        try:
            self.engine.containers.get(container_id).remove(force=True)
        except self._errors.APIError:
            pass

    def container_status(self, container_id: str) -> ContainerStatus:
        container = self._get(container_id)
        record = self._containers.get(container_id, {})
        state = container.attrs.get("State") or {}
        status = str(state.get("Status", "created"))
        mapped = {"created": "created", "running": "running", "paused": "running", "restarting": "running"}.get(
            status, "exited")
        started = _docker_time(state.get("StartedAt"))
        finished = _docker_time(state.get("FinishedAt")) if mapped == "exited" else None
        code = int(state.get("ExitCode", 0)) if mapped == "exited" else None
        reason, message = "", ""
        if mapped == "exited":
            reason = "OOMKilled" if state.get("OOMKilled") else ("Completed" if code == 0 else "Error")
        if record.get("start_error"):
            mapped, reason, message = "exited", "StartError", record["start_error"]
            code = code or 128
            finished = finished or started or self.clock.now()
        return ContainerStatus(container_id, record.get("name", container.name), mapped, int(record.get("attempt", 0)),
                               record.get("image", ""), record.get("image_id", ""), record.get("created_at"),
                               started, finished, code, reason, message)

    # --- logs, exec, stats ----------------------------------------------------------------

    def log_entries(self, container_id: str) -> list[LogEntry]:
        # Docker keeps the streams apart and stamps each line (``docker logs --timestamps``):
        # read each stream, then merge them by time (Python's sort is stable: a tie keeps stdout first).
        container = self._get(container_id)
        entries = []
        for stream in STREAMS:
            data = container.logs(stdout=stream == "stdout", stderr=stream == "stderr", timestamps=True)
            for line in data.decode(errors="replace").splitlines(keepends=True):
                stamp, _, text = line.partition(" ")
                try:
                    entries.append(LogEntry(parse_timestamp(stamp), stream, text))
                except ValueError:
                    continue
        return sorted(entries, key=lambda e: e.time_ns)

    def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        container = self._get(container_id)
        result = container.exec_run(list(command), demux=True)
        out, err = result.output if isinstance(result.output, tuple) else (result.output, b"")
        return ExecResult(int(result.exit_code if result.exit_code is not None else 0),
                          (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace"))

    def exec_stream(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> cri.ExecStream:
        """The engine's exec with a socket (``docker exec -i -t``): its stream is split into pipes
        (:func:`exec_pipes`); resize is the engine's exec resize."""
        api = self.engine.api
        exec_id = api.exec_create(self._get(container_id).id, list(command), stdin=stdin, tty=tty, stdout=True,
                                  stderr=True)["Id"]
        connection = api.exec_start(exec_id, socket=True, tty=tty)
        raw = getattr(connection, "_sock", connection)   # the SDK wraps the socket in a SocketIO

        def exit_code() -> int:
            code = api.exec_inspect(exec_id).get("ExitCode")
            return int(code) if code is not None else 0

        def resize(width: int, height: int) -> None:
            api.exec_resize(exec_id, height=height, width=width)

        return exec_pipes(raw, stdin=stdin, tty=tty, exit_code=exit_code, resize=resize)

    def stats(self, container_id: str) -> tuple[int, int]:
        data = self._get(container_id).stats(stream=False)
        cpu, pre = data.get("cpu_stats") or {}, data.get("precpu_stats") or {}
        used = (cpu.get("cpu_usage") or {}).get("total_usage", 0) - (pre.get("cpu_usage") or {}).get("total_usage", 0)
        system = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
        cores = cpu.get("online_cpus") or 1
        millicores = int(used / system * cores * 1000) if system > 0 else 0
        return max(millicores, 0), int((data.get("memory_stats") or {}).get("usage", 0))

    def container_stats(self, container_id: str) -> tuple[int, int] | None:
        """The engine's ``GET /containers/{id}/stats?stream=false``: cumulative CPU
        (``cpu_stats.cpu_usage.total_usage``, nanoseconds) and the working set (``memory_stats.usage``
        minus inactive file pages, as the kubelet and ``docker stats`` count it)."""
        if self.container_status(container_id).state != "running":
            return None
        data = self._get(container_id).stats(stream=False)
        cpu_ns = int(((data.get("cpu_stats") or {}).get("cpu_usage") or {}).get("total_usage") or 0)
        memory = data.get("memory_stats") or {}
        stats = memory.get("stats") or {}
        inactive = stats.get("inactive_file", stats.get("total_inactive_file", 0)) or 0
        return cpu_ns, max(int(memory.get("usage") or 0) - int(inactive), 0)

    # --- probes ---------------------------------------------------------------------------

    def _published(self, ip: str, port: int) -> tuple[Any, int | None]:
        with self._lock:
            sandbox = next((s for s in self._sandboxes.values() if s["ip"] == ip), None)
        if sandbox is None:
            return None, None
        pause = sandbox["pause"]
        pause.reload()
        bindings = (pause.attrs["NetworkSettings"].get("Ports") or {}).get(f"{port}/tcp") or []
        host_port = next((int(b["HostPort"]) for b in bindings if b.get("HostPort")), None)
        return pause, host_port

    def port_forward(self, sandbox_id: str, port: int) -> tuple[str, int]:
        """A published port on loopback, else the pod's own address on the engine's bridge."""
        with self._lock:
            sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox["ip"]:
            raise cri.PortForwardError(cri.port_forward_refused(sandbox_id, port))
        _, host_port = self._published(sandbox["ip"], port)
        return ("127.0.0.1", host_port) if host_port is not None else (sandbox["ip"], port)

    def probe_http(self, ip: str, port: int, path: str, scheme: str, headers: dict[str, str], timeout: float) -> int:
        import http.client

        url = f"{scheme.lower()}://{ip}:{port}{path}"
        pause, host_port = self._published(ip, port)
        if host_port is not None:
            connection = http.client.HTTPConnection("127.0.0.1", host_port, timeout=timeout)
            try:
                connection.request("GET", path or "/", headers={"User-Agent": "kube-probe/1.32", **headers})
                return connection.getresponse().status
            except ConnectionRefusedError:
                raise ProbeError(f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused') from None
            except OSError as exc:
                raise ProbeError(f'Get "{url}": {exc}') from None
            finally:
                connection.close()
        if pause is None:
            raise ProbeError(f'Get "{url}": dial tcp {ip}:{port}: connect: no route to host')
        # Not published: ask from inside the pod's network namespace.
        result = pause.exec_run(["wget", "-q", "-S", "-O", "/dev/null", "-T", str(max(1, int(timeout))),
                                 f"http://127.0.0.1:{port}{path}"], demux=True)
        text = b"".join(part or b"" for part in result.output).decode(errors="replace")
        for line in text.splitlines():
            if line.strip().startswith("HTTP/"):
                return int(line.split()[1])
        raise ProbeError(f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused')

    def probe_tcp(self, ip: str, port: int, timeout: float) -> bool:
        import socket

        pause, host_port = self._published(ip, port)
        if host_port is not None:
            try:
                with socket.create_connection(("127.0.0.1", host_port), timeout=timeout):
                    return True
            except OSError:
                return False
        if pause is None:
            return False
        return bool(pause.exec_run(["nc", "-z", "-w", str(max(1, int(timeout))), "127.0.0.1", str(port)]).exit_code == 0)

    # --- time and shutdown ----------------------------------------------------------------

    def next_event_time(self, container_ids: Iterable[str] | None = None) -> float | None:
        ids = list(self._containers) if container_ids is None else list(container_ids)
        return self.clock.now() + 1.0 if any(i in self._containers for i in ids) else None

    def close(self) -> None:
        for cid in list(self._containers):
            self._force_remove(cid)
        for sandbox_id in list(self._sandboxes):
            self.remove_pod_sandbox(sandbox_id)
        self._remove_leftovers()
        if self._own_dir:
            shutil.rmtree(self._base_dir, ignore_errors=True)


def _docker_time(text: Any) -> float | None:
    """Docker's RFC 3339 times with nanoseconds; its zero time means "never"."""
    if not text or str(text).startswith("0001-"):
        return None
    from datetime import datetime

    head, _, rest = str(text).partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())[:6]
    stamp = datetime.strptime(head.rstrip("Z"), "%Y-%m-%dT%H:%M:%S")
    from datetime import timezone
    return stamp.replace(tzinfo=timezone.utc).timestamp() + (float("0." + fraction) if fraction else 0.0)

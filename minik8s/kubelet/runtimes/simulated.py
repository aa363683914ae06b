"""The ``simulated`` container runtime: containers as states on a clock.

No process runs. A container is a record that moves ``created -> running ->
exited`` as the (virtual) clock passes, running its ``command``/``args`` through a
tiny shell (:mod:`minik8s.kubelet.runtimes.simshell`) against an in-memory
filesystem. With a virtual clock a whole cluster is exact and deterministic, and a
thousand nodes fit in one process.

Realistic defaults:

* Images come from a catalogue (nginx, httpd, busybox, alpine, bash, python, perl, redis,
  ubuntu, debian, hello-world, registry.k8s.io/pause, agnhost, goproxy, curlimages/curl,
  minik8s/kvstore, the node agents fluentd and node-exporter, ...).
  Anything else fails to pull as containerd does: ``ErrImagePull`` with
  ``rpc error: code = NotFound desc = failed to pull and unpack image ...``. Tags of known
  images are accepted, except nginx versions that never existed (``nginx:1.161``).
* A first pull takes ``PULL_SECONDS`` of clock time; ``IfNotPresent`` skips present images.
* Servers (nginx, httpd, redis, ...) run forever; nginx and httpd answer HTTP 200 on port
  80 for any path. busybox/alpine/python with no command exit 0 at once (no terminal).
* ``registry.k8s.io/e2e-test-images/agnhost ... liveness`` serves ``/healthz`` on 8080 for
  10 s, then 500, exactly like the upstream liveness example.
* Pod IPs are ``10.244.<node index + 1>.<n>``, handed out in order from ``.2``; a ``hostNetwork``
  pod has the node's InternalIP. Pods reach each
  other over a :class:`~minik8s.kubelet.runtimes.simnet.SimulatedNetwork` that every node of the
  cluster shares (pass ``network=``); a container's ``wget``, ``curl``, ``nslookup``, ``nc`` and
  ``ping`` go over it (:mod:`minik8s.kubelet.runtimes.nettools`), and :meth:`SimulatedRuntime.serving`
  tells it what listens at an address.
* ConfigMap, Secret, downward API and projected volumes are files of the container's in-memory
  filesystem at their ``mountPath`` (``kubectl exec POD -- cat /etc/config/key``), kept up to date by
  the kubelet's volume sync, except ``subPath`` mounts; ``env``/``envFrom`` read ConfigMaps and
  Secrets; a missing one gives the kubelet's ``FailedMount`` or ``CreateContainerConfigError``
  messages, as on the other runtimes. (The atomic writer's ``..data`` links are not simulated.)
* emptyDir, hostPath and claim volumes are in-memory folders (:mod:`.simfs`): an emptyDir is
  shared by the containers of its pod that mount it and goes with the pod; a hostPath or a claim's
  files stay on the node for the next pod. A hostPath's ``type`` is checked against the node's
  simulated disk (:class:`.simfs.NodeDisk`).
* On SIGTERM a container stops at once (servers exit 0, shell scripts 143). With the real clock
  (``minik8s server --runtime simulated``) it takes ``REAL_CLOCK_STOP_SECONDS``, as a real
  app and kubelet do: a pod deleted in no time at all would let a StatefulSet recreate it
  before ``kubectl delete`` starts watching for the old one to go, and kubectl would wait for ever.

Scriptable behaviour, per container, through a pod annotation whose value is JSON::

    metadata:
      annotations:
        sim.minik8s.io/web: '{"readyAfterSeconds": 5, "crashAfterSeconds": 60}'

=========================== ===============================================================
key                         effect (times count from the start of each container attempt)
=========================== ===============================================================
``startupSeconds``          the app refuses connections (HTTP/TCP probes) until then
``crashAfterSeconds``       the container exits then, with ``exitCode`` (default 1)
``exitCode``                the exit code of a scripted crash
``livenessFailsAfterSeconds``  the endpoint the liveness probe checks answers 500 from then
``readinessFailsAfterSeconds`` the endpoint the readiness probe checks answers 503 from then
``readyAfterSeconds``       the readiness endpoint answers 503 until then
``httpStatus``              the status every HTTP request gets (default 200)
``ports``                   extra TCP ports the container listens on
``cpuMillicores``           CPU usage reported by stats and the Summary API (default per image, mostly 1m;
                            1000m for a script in a busy loop, ``while true; do :; done``)
``memoryBytes``             memory usage (working set); above the memory limit the container is OOMKilled
``pullSeconds``             how long pulling its image takes
``pullError``               make the pull fail with this message
``ignoreSigterm``           on stop, keep running until killed after the grace period (137)
``stopSeconds``             on stop, exit this long after SIGTERM (killed, 137, if over the grace period)
``logs``                    lines the container prints when it starts
=========================== ===============================================================

The same behaviours can be set from Python: ``runtime.script("default", "web", "web",
crashAfterSeconds=10)`` (applies to pods created later with that namespace/name). ``cpuMillicores`` and
``memoryBytes`` also follow a change of the annotation while the container runs (``kubectl annotate
--overwrite``): the load a lab puts on a pod, as ``kubectl top`` and the HPA see it.

Interface: :class:`minik8s.kubelet.cri.ContainerRuntime`.
Taught in chapter 2 (the CRI) and used by every chapter's lab.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from minik8s.api import quantity
from minik8s.clock import Clock, VirtualClock
from minik8s.kubelet import cri
from minik8s.kubelet.runtimes.process import env as envs
from minik8s.kubelet.runtimes.process import filesystem
from minik8s.kubelet.cri import (ContainerStatus, ExecResult, ImageInfo, ImagePullError, ProbeError, PullResult,
                                 RuntimeCallError, SandboxInfo)
from minik8s.kubelet.logs import LogEntry, nanoseconds
from minik8s.kubelet.node import node_ip
from minik8s.kubelet.runtimes import simfs, siminteractive, simshell
from minik8s.kubelet.runtimes.simnet import App, PodNetwork, SimulatedNetwork

ANNOTATION_PREFIX = "sim.minik8s.io/"
PULL_SECONDS = 1.0            # a first pull
REPULL_SECONDS = 0.5          # imagePullPolicy Always on an image already present: only the manifest check
BUSY_LOOP_MILLICORES = 1000   # a script spinning without sleeping uses one whole core
OOM_AFTER_SECONDS = 1.0       # a container over its memory limit is killed this soon after starting
AGNHOST_LIVENESS_SECONDS = 10  # agnhost liveness serves /healthz with 200 this long, then 500
REAL_CLOCK_STOP_SECONDS = 0.5  # with the real clock, SIGTERM to exit (a virtual clock stops at once)
NODE_RESOLV_CONF = "nameserver 192.168.0.1\n"  # a simulated node's own resolver: what dnsPolicy Default pods get


@dataclass(frozen=True)
class Image:
    """What the catalogue knows about an image: its size, its default program and ports."""
    size: int
    default: tuple[str, ...] = ()      # command when the pod gives none; () = exits 0 at once
    ports: tuple[int, ...] = ()        # ports its default program listens on
    http: bool = True                  # answers HTTP on those ports
    wording: str = "busybox"           # error messages of its coreutils: busybox or gnu
    lacks: frozenset[str] = frozenset()  # common programs the real image does not have
    cpu: int = 1                       # millicores when idle
    memory: int = 2 * 1024 * 1024


NO_CURL = frozenset({"curl"})  # busybox and alpine: wget, nc and nslookup are applets, curl is a package

CATALOGUE: dict[str, Image] = {
    "nginx": Image(72_223_946, ("nginx", "-g", "daemon off;"), (80,), wording="gnu", memory=3_500_000),
    "httpd": Image(58_012_476, ("httpd-foreground",), (80,), wording="gnu", memory=6_000_000),
    "busybox": Image(2_156_518, lacks=NO_CURL),
    "alpine": Image(3_623_807, lacks=NO_CURL),
    "bash": Image(5_933_274, lacks=NO_CURL),  # Docker's bash image: alpine with bash
    "python": Image(412_418_312, wording="gnu", memory=9_000_000),
    "perl": Image(336_412_808, wording="gnu"),
    "ubuntu": Image(29_754_290, wording="gnu"),
    "debian": Image(48_490_420, wording="gnu"),
    "redis": Image(45_044_190, ("redis-server",), (6379,), http=False, wording="gnu", memory=4_000_000),
    "hello-world": Image(9_296, ("echo", "Hello from Docker!")),
    "registry.k8s.io/pause": Image(320_368, ("/pause",), cpu=0, memory=400_000),
    "registry.k8s.io/e2e-test-images/agnhost": Image(51_198_765, ("/agnhost", "pause")),
    "registry.k8s.io/liveness": Image(2_387_213, ("/agnhost", "liveness")),
    "registry.k8s.io/goproxy": Image(2_385_102, ("goproxy",), (8080,), http=False),
    # The HPA walkthrough's php-apache: Apache serving a PHP page that burns CPU, then says OK!
    "registry.k8s.io/hpa-example": Image(177_364_431, ("apache2-foreground",), (80,), wording="gnu",
                                         memory=10_000_000),
    "registry.k8s.io/busybox": Image(1_144_547, lacks=NO_CURL),
    "curlimages/curl": Image(24_512_345, ("curl",)),
    "minik8s/kvstore": Image(18_432_000, ("kvstore",), (8080,), memory=8_000_000),
    "minik8s/web": Image(18_432_000, ("python", "-m", "http.server", "8080"), (8080,), memory=8_000_000),
}
# Node agents a DaemonSet runs (chapter 10): a log collector, a metrics exporter.
CATALOGUE.update({
    "quay.io/fluentd_elasticsearch/fluentd": Image(148_236_781, ("fluentd",), (24224,), http=False, wording="gnu",
                                                   memory=60_000_000),
    "quay.io/prometheus/node-exporter": Image(11_720_093, ("/bin/node_exporter",), (9100,), memory=9_000_000),
})

# nginx releases are 1.<minor>[.<patch>] with minor at most this; nginx:1.161 (a typo the docs use
# to show a stuck rollout) does not exist.
NGINX_MAX_MINOR = 29


def normalize(image: str) -> tuple[str, str, str]:
    """``nginx`` -> (``docker.io/library/nginx:latest``, catalogue key ``nginx``, tag ``latest``)."""
    name, at, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, _, tag = name.rpartition(":")
    first = name.split("/", 1)[0]
    has_domain = "/" in name and ("." in first or ":" in first or first == "localhost")
    path = name if has_domain else ("docker.io/" + (name if "/" in name else "library/" + name))
    key = path.removeprefix("docker.io/").removeprefix("library/")
    if at:
        return f"{path}@{digest}", key, digest
    tag = tag or "latest"
    return f"{path}:{tag}", key, tag


def image_id(ref: str) -> str:
    repo = ref.split("@")[0].rpartition(":")[0] if "@" not in ref else ref.split("@")[0]
    return f"{repo}@sha256:{hashlib.sha256(ref.encode()).hexdigest()}"


def _pull_error(ref: str, key: str, tag: str) -> str | None:
    """The containerd error for an image that does not exist, or None."""
    resolve = f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}"'
    if key not in CATALOGUE:
        return (f"rpc error: code = Unknown desc = {resolve}: pull access denied, repository does not exist "
                "or may require authorization: server message: insufficient_scope: authorization failed")
    match = re.fullmatch(r"1\.(\d+)(\.\d+)?(-[a-z0-9-]+)?", tag)
    if key == "nginx" and match and int(match.group(1)) > NGINX_MAX_MINOR:
        return f"rpc error: code = NotFound desc = {resolve}: {ref}: not found"
    return None


@dataclass
class _Sandbox:
    id: str
    uid: str
    ip: str
    pod: dict[str, Any]
    ready: bool = True
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)   # emptyDir name -> its files


@dataclass
class _Container:
    id: str
    name: str
    sandbox: _Sandbox
    spec: dict[str, Any]
    attempt: int
    image_ref: str
    image: Image
    behaviour: dict[str, Any]
    env: dict[str, str]
    created_at: float
    shell: simshell.Shell | None = None
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    fs: simfs.Files = field(default_factory=dict)
    mounted: set[str] = field(default_factory=set)   # fs paths a ConfigMap/Secret volume put there (updated)
    sigterm_at: float | None = None
    kill_at: float | None = None
    exit_at: float | None = None     # when a stopping container exits of its own accord
    agnhost_liveness: bool = False
    cpu_changed: tuple[float, int] | None = None   # (when the declared CPU last changed, core-ns used by then)


@dataclass
class _Pull:
    ref: str
    ready_at: float
    seconds: float
    error: str | None = None


class SimulatedRuntime(cri.ContainerRuntime):
    """A runtime with no processes: see the module docstring for what it simulates."""

    version = "simulated://1.0"

    def __init__(self, *, node_name: str = "node-1", node_index: int = 0, clock: Clock,
                 rng: random.Random | None = None, images: Iterable[str] = (),
                 network: SimulatedNetwork | None = None):
        self.node_name = node_name
        self.node_index = node_index
        self.clock = clock
        self.client: Any = None   # the kubelet hands it its API client, to read ConfigMaps and Secrets
        self._sandboxes: dict[str, _Sandbox] = {}
        self._containers: dict[str, _Container] = {}
        self._images: dict[str, int] = {}            # present images: ref -> size
        self._pulls: dict[str, _Pull] = {}           # pulls in progress
        self._scripts: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._annotations: dict[str, dict[str, str]] = {}   # pod uid -> annotations last seen by pod_updated
        self._disk = simfs.NodeDisk()                      # the node's disk: hostPath volumes' files
        self._claim_files: dict[str, dict[str, str]] = {}   # the files of each claim's volume on this node
        self._next_ip = 2
        self._seq = 0
        for image in images:
            ref, key, _ = normalize(image)
            self._images[ref] = CATALOGUE[key].size if key in CATALOGUE else 0
        # A node on its own gets a network of its own; a cluster passes the one all its nodes share.
        self.network = network if network is not None else SimulatedNetwork()
        self.network.attach(self)

    # --- scripting --------------------------------------------------------------------

    def script(self, namespace: str, pod: str, container: str, **behaviour: Any) -> None:
        """Script a container from Python (same keys as the annotation); annotations win."""
        self._scripts.setdefault((namespace, pod, container), {}).update(behaviour)

    def _behaviour(self, pod: dict[str, Any], container: str) -> dict[str, Any]:
        meta = pod.get("metadata") or {}
        behaviour = dict(self._scripts.get((meta.get("namespace", ""), meta.get("name", ""), container), {}))
        text = (meta.get("annotations") or {}).get(ANNOTATION_PREFIX + container)
        if text:
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                behaviour.update(parsed)
        return behaviour

    # --- ids --------------------------------------------------------------------------

    def _new_id(self) -> str:
        self._seq += 1
        return hashlib.sha256(f"{self.node_name}/{self._seq}".encode()).hexdigest()

    # --- sandboxes --------------------------------------------------------------------

    def run_pod_sandbox(self, pod: dict[str, Any]) -> SandboxInfo:
        uid = (pod.get("metadata") or {}).get("uid", "")
        for sandbox in self._sandboxes.values():
            if sandbox.uid == uid and sandbox.ready:
                return SandboxInfo(sandbox.id, sandbox.ip)
        # A hostNetwork pod shares the node's network namespace, so the node's address is its own.
        host_network = (pod.get("spec") or {}).get("hostNetwork") is True
        sandbox = _Sandbox(self._new_id(), uid, node_ip(self.node_index) if host_network else self._allocate_ip(), pod)
        self._sandboxes[sandbox.id] = sandbox
        return SandboxInfo(sandbox.id, sandbox.ip)

    def _allocate_ip(self) -> str:
        used = {s.ip for s in self._sandboxes.values()}
        for _ in range(253):
            host = self._next_ip
            self._next_ip = host + 1 if host < 254 else 2
            ip = f"10.244.{self.node_index + 1}.{host}"
            if ip not in used:
                return ip
        raise RuntimeCallError("no free pod IP on this node (the /24 pod CIDR is exhausted)")

    def stop_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is not None:
            sandbox.ready = False

    def volume_usage(self, sandbox_id: str) -> dict[str, int]:
        """Bytes each of the pod's emptyDir volumes holds (its files' UTF-8 sizes): what the eviction
        manager compares with a ``sizeLimit``."""
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None:
            return {}
        return {name: sum(len(text.encode()) for text in files.values()) for name, files in sandbox.volumes.items()}

    def remove_pod_sandbox(self, sandbox_id: str) -> None:
        sandbox = self._sandboxes.pop(sandbox_id, None)
        if sandbox is not None:
            self._annotations.pop(sandbox.uid, None)
        for cid in [c.id for c in self._containers.values() if c.sandbox.id == sandbox_id]:
            del self._containers[cid]

    # --- images -----------------------------------------------------------------------

    def pull_image(self, image: str, pull_policy: str, pod: dict[str, Any] | None = None) -> PullResult:
        ref, key, tag = normalize(image)
        now = self.clock.now()
        present = ref in self._images
        if pull_policy == "Never" or (pull_policy == "IfNotPresent" and present and ref not in self._pulls):
            if not present:
                raise ImagePullError("ErrImageNeverPull",
                                     f'Container image "{image}" is not present with pull policy of Never')
            return PullResult(ref, image_id(ref), pulled=False, size_bytes=self._images[ref])
        pull = self._pulls.get(ref)
        if pull is None:
            behaviour = self._image_behaviour(pod, image)
            seconds = float(behaviour.get("pullSeconds", REPULL_SECONDS if present else PULL_SECONDS))
            error = behaviour.get("pullError") or _pull_error(ref, key, tag)
            if error:
                raise ImagePullError("ErrImagePull", str(error))
            pull = _Pull(ref, now + seconds, seconds)
            self._pulls[ref] = pull
        if now < pull.ready_at:
            return PullResult(ref, image_id(ref), done=False, ready_at=pull.ready_at)
        del self._pulls[ref]
        size = CATALOGUE[key].size if key in CATALOGUE else 10_000_000
        self._images[ref] = size
        return PullResult(ref, image_id(ref), seconds=pull.seconds, size_bytes=size)

    def _image_behaviour(self, pod: dict[str, Any] | None, image: str) -> dict[str, Any]:
        if pod is None:
            return {}
        spec = pod.get("spec") or {}
        for container in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            if container.get("image") == image:
                found = self._behaviour(pod, container.get("name", ""))
                if found:
                    return found
        return {}

    def list_images(self) -> list[ImageInfo]:
        return [ImageInfo([image_id(ref), ref], size) for ref, size in sorted(self._images.items())]

    # --- containers -------------------------------------------------------------------

    def create_container(self, sandbox_id: str, pod: dict[str, Any], container: dict[str, Any],
                         attempt: int) -> str:
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready:
            raise RuntimeCallError(f"sandbox {sandbox_id} is not ready")
        ref, key, _ = normalize(str(container.get("image", "")))
        if ref not in self._images:
            raise RuntimeCallError(f'image "{ref}" is not present on the node')
        env = {"HOSTNAME": (pod.get("metadata") or {}).get("name", ""),
               "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        links = self.cluster_network.service_env(pod) if self.cluster_network is not None else {}
        mounted: dict[str, str] = {}
        if self.client is not None:
            # As the kubelet does: volumes first (FailedMount), then the environment (CreateContainerConfigError).
            mounted = self._mounted_files(pod, container, sandbox, subpaths=True)
            env.update(envs.container_env(pod, container, [], self._lookup, pod_ip=sandbox.ip,
                                          host_ip=node_ip(self.node_index), services=links))
        else:  # a runtime on its own, with no API to read ConfigMaps from: literal values only
            env.update(links)
            for var in container.get("env") or []:
                if isinstance(var, dict) and "value" in var:
                    env[str(var.get("name"))] = str(var["value"])
        record = _Container(self._new_id(), str(container.get("name", "")), sandbox, container, attempt, ref,
                            CATALOGUE.get(key, Image(0)), self._behaviour(pod, str(container.get("name", ""))),
                            env, self.clock.now())
        record.fs = simfs.MountedFiles({}, self._shared_mounts(pod, container, sandbox))
        if self.cluster_network is not None:
            record.fs["/etc/resolv.conf"] = self.cluster_network.resolv_conf(pod, NODE_RESOLV_CONF)[0]
        record.fs.update(mounted)
        record.mounted = {path for path in mounted if not self._is_subpath(container, path)}
        self._containers[record.id] = record
        return record.id

    # --- emptyDir, hostPath and claim volumes: files shared beyond one container -----------------

    def _shared_mounts(self, pod: dict[str, Any], container: dict[str, Any], sandbox: _Sandbox) -> list[simfs.Mount]:
        """The container's mounts of volumes that outlive it: an emptyDir is the sandbox's (it goes
        with the pod), a hostPath or a claim is the node's (it stays)."""
        volumes = {str(v.get("name", "")): v for v in (pod.get("spec") or {}).get("volumes") or []}
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        mounts: list[simfs.Mount] = []
        for mount in container.get("volumeMounts") or []:
            name = str(mount.get("name", ""))
            volume = volumes.get(name) or {}
            if isinstance(volume.get("emptyDir"), dict):
                files = sandbox.volumes.setdefault(name, {})
            elif isinstance(volume.get("hostPath"), dict):
                path = posixpath.normpath("/" + str(volume["hostPath"].get("path") or "").lstrip("/"))
                found = self._disk.mount(path, str(volume["hostPath"].get("type") or ""))
                if isinstance(found, str):
                    raise filesystem.MountError(f'MountVolume.SetUp failed for volume "{name}" : {found}')
                files, inside = found
                sub_path = posixpath.join(inside, str(mount.get("subPath") or "")).strip("/")
                mounts.append((str(mount.get("mountPath", "")), files, sub_path))
                continue
            elif isinstance(volume.get("persistentVolumeClaim"), dict):
                claim = volume["persistentVolumeClaim"].get("claimName")
                files = self._claim_files.setdefault(f"{namespace}/{claim}", {})
            else:
                continue   # ConfigMap, Secret, downward API, projected: see _mounted_files
            mounts.append((str(mount.get("mountPath", "")), files, str(mount.get("subPath") or "")))
        return mounts

    # --- ConfigMap and Secret volumes: files in the container's simulated filesystem ----------------

    def _lookup(self, kind: str, namespace: str, name: str, request: dict[str, Any] | None = None
                ) -> dict[str, Any] | None:
        """Read a ConfigMap or Secret through the API (None when it does not exist); a projected
        ServiceAccount token comes from the kubelet's token manager (:mod:`minik8s.kubelet.tokens`)."""
        from minik8s.api import resources
        from minik8s.api.errors import StatusError

        if kind == "serviceaccounts/token" and request is not None:
            from minik8s.kubelet.tokens import TokenManager

            if getattr(self, "_tokens", None) is None:
                self._tokens = TokenManager(self.client, self.clock)
            return self._tokens.lookup(request)
        resource = resources.by_plural("", "v1", kind)
        assert resource is not None
        try:
            return dict(self.client.get(resource, name, namespace or None))
        except StatusError as exc:
            if exc.code == 404:
                return None
            raise RuntimeCallError(f"reading {kind} {namespace}/{name}: {exc.message}") from None

    @staticmethod
    def _is_subpath(container: dict[str, Any], path: str) -> bool:
        return any(m.get("subPath") and path == str(m.get("mountPath", "")).rstrip("/")
                   for m in container.get("volumeMounts") or [])

    def _mounted_files(self, pod: dict[str, Any], container: dict[str, Any], sandbox: _Sandbox, *,
                       subpaths: bool) -> dict[str, str]:
        """Container path -> text of every file the container's ConfigMap, Secret, downward API and
        projected mounts show (``subPath`` ones only when ``subpaths``: they are fixed at start)."""
        volumes = {str(v.get("name", "")): v for v in (pod.get("spec") or {}).get("volumes") or []}
        shown: dict[str, str] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(str(mount.get("name", "")))
            sub = str(mount.get("subPath") or "")
            if volume is None or (sub and not subpaths):
                continue
            files = filesystem.volume_files(pod, volume, self._lookup, pod_ip=sandbox.ip,
                                            host_ip=node_ip(self.node_index), client=self.client)
            if files is None:
                continue
            base = str(mount.get("mountPath", "")).rstrip("/")
            for relative, (content, _) in sorted(files.items()):
                text = content.decode("utf-8", "replace")
                if not sub:
                    shown[f"{base}/{relative}"] = text
                elif relative == sub:
                    shown[base] = text
                elif relative.startswith(sub.rstrip("/") + "/"):
                    shown[f"{base}/{relative[len(sub.rstrip('/')) + 1:]}"] = text
        return shown

    def update_volumes(self, sandbox_id: str, pod: dict[str, Any]) -> None:
        """The kubelet's periodic volume sync: each container's mounted files follow the objects now
        (a missing object raises MountError and leaves the old files); subPath files stay as they were."""
        sandbox = self._sandboxes.get(sandbox_id)
        if sandbox is None or not sandbox.ready or self.client is None:
            return
        for volume in (pod.get("spec") or {}).get("volumes") or []:   # every source there, or FailedMount
            filesystem.volume_files(pod, volume, self._lookup, pod_ip=sandbox.ip, host_ip=node_ip(self.node_index),
                                    client=self.client)
        for c in [c for c in self._containers.values() if c.sandbox is sandbox and c.finished_at is None]:
            files = self._mounted_files(pod, c.spec, sandbox, subpaths=False)
            for gone in c.mounted - set(files):
                c.fs.pop(gone, None)
            c.fs.update(files)
            c.mounted = set(files)

    def _get(self, container_id: str) -> _Container:
        record = self._containers.get(container_id)
        if record is None:
            raise RuntimeCallError(f'container "{container_id}" not found')
        return record

    def start_container(self, container_id: str) -> None:
        c = self._get(container_id)
        if c.started_at is not None:
            raise RuntimeCallError(f"container {container_id} was already started")
        now = self.clock.now()
        c.started_at = now
        program = self._argv(c)[:1]
        if program and c.image.default[:1] != ("/agnhost",) and not _has(c.image, program[0]):
            c.shell = None
            c.message = cri.start_error_message(program[0])
            self._finish(c, now, cri.START_ERROR_EXIT_CODE, "StartError")
            return
        c.shell = simshell.Shell(self._program(c), c.fs, dict(c.env), now, wording=c.image.wording,
                                 hostname=c.env["HOSTNAME"], date=_date, net=self._pod_network(c),
                                 missing=c.image.lacks)
        for line in c.behaviour.get("logs") or []:
            c.shell.output.append((now, str(line)))
        self._advance(c, now)

    def _argv(self, c: _Container) -> list[str]:
        """What the container runs: its command and args over the image's entrypoint and cmd."""
        command = [str(a) for a in c.spec.get("command") or []]
        args = [str(a) for a in c.spec.get("args") or []]
        default = list(c.image.default)
        if default[:1] == ["/agnhost"]:
            return command + args if command else default[:1] + (args or default[1:])
        return command + args if command else (args or default)

    def _program(self, c: _Container) -> simshell.Program:
        argv = self._argv(c)
        if c.image.default[:1] == ("/agnhost",):
            return _agnhost(argv, c)
        if argv[:1] == ["perl"] and any("bpi(" in a for a in argv):
            return _perl_pi(argv)
        return simshell.parse(argv, c.env)

    def _advance(self, c: _Container, now: float) -> None:
        """Bring a container up to ``now``: run its script, then apply scripted exits and kills."""
        if c.shell is None or c.finished_at is not None:
            return
        deadline = now
        for when, code, reason in self._scheduled_exits(c):
            if when <= now:
                deadline = min(deadline, when)
        c.shell.run_until(deadline)
        if c.shell.exited and c.shell.time <= deadline:
            self._finish(c, c.shell.time, c.shell.exit_code, "")
            return
        for when, code, reason in sorted(self._scheduled_exits(c)):
            if when <= now:
                self._finish(c, when, code, reason)
                return

    def _scheduled_exits(self, c: _Container) -> list[tuple[float, int, str]]:
        """Exits that do not come from the script: crashes, OOM kills, SIGTERM and SIGKILL."""
        exits: list[tuple[float, int, str]] = []
        assert c.started_at is not None
        crash = c.behaviour.get("crashAfterSeconds")
        if isinstance(crash, (int, float)):
            exits.append((c.started_at + crash, int(c.behaviour.get("exitCode", 1)), ""))
        limit = ((c.spec.get("resources") or {}).get("limits") or {}).get("memory")
        memory = c.behaviour.get("memoryBytes")
        if limit and isinstance(memory, (int, float)) and quantity.is_valid(limit) and memory > quantity.value(limit):
            exits.append((c.started_at + OOM_AFTER_SECONDS, 137, "OOMKilled"))
        if c.sigterm_at is not None:
            if c.kill_at is not None:
                exits.append((c.kill_at, 137, ""))
            else:
                exits.append((c.exit_at if c.exit_at is not None else c.sigterm_at,
                              0 if c.shell and c.shell.listening else 143, ""))
        return exits

    def _finish(self, c: _Container, when: float, code: int, reason: str) -> None:
        c.finished_at = when
        c.exit_code = code
        c.reason = reason or ("Completed" if code == 0 else "Error")

    def stop_container(self, container_id: str, grace_seconds: float) -> None:
        c = self._get(container_id)
        now = self.clock.now()
        self._advance(c, now)
        if c.finished_at is not None or c.sigterm_at is not None:
            return
        if c.started_at is None:
            self._finish(c, now, 0, "")
            return
        c.sigterm_at = now
        grace = max(float(grace_seconds), 0.0)
        stop = c.behaviour.get("stopSeconds", 0.0 if isinstance(self.clock, VirtualClock) else REAL_CLOCK_STOP_SECONDS)
        if c.behaviour.get("ignoreSigterm") or (isinstance(stop, (int, float)) and stop >= grace > 0):
            c.kill_at = now + grace
        elif isinstance(stop, (int, float)) and stop > 0 and grace > 0:
            c.exit_at = now + stop
        self._advance(c, now)

    def remove_container(self, container_id: str) -> None:
        self._containers.pop(container_id, None)

    def container_status(self, container_id: str) -> ContainerStatus:
        c = self._get(container_id)
        self._advance(c, self.clock.now())
        state = "created" if c.started_at is None else ("running" if c.finished_at is None else "exited")
        return ContainerStatus(c.id, c.name, state, c.attempt, c.image_ref, image_id(c.image_ref), c.created_at,
                               c.started_at, c.finished_at, c.exit_code, c.reason if state == "exited" else "",
                               c.message if state == "exited" else "")

    # --- logs, exec, stats ------------------------------------------------------------

    def log_entries(self, container_id: str) -> list[LogEntry]:
        # A simulated program's lines carry the virtual time it printed them; the simulated shell
        # does not tell stdout from stderr, so every line is reported as stdout.
        c = self._get(container_id)
        self._advance(c, self.clock.now())
        return [LogEntry(nanoseconds(t), "stdout", line + "\n") for t, line in (c.shell.output if c.shell else [])
                if c.finished_at is None or t <= c.finished_at]

    def _exec_runner(self, container_id: str, command: list[str],
                     timeout: float) -> tuple[_Container, Callable[[list[str]], tuple[int, str, str]]]:
        """The running container and a function that runs a command line in it at once."""
        c = self._get(container_id)
        now = self.clock.now()
        self._advance(c, now)
        if c.finished_at is not None or c.started_at is None:
            raise RuntimeCallError(f'container not running ("{c.name}")')
        env = dict(c.shell.env if c.shell else c.env)
        if not command or not (_has(c.image, command[0]) or siminteractive.handles(command)):
            raise cri.exec_start_error(container_id, list(command))

        def run(argv: list[str]) -> tuple[int, str, str]:
            try:
                return simshell.run_now(argv, c.fs, env, wording=c.image.wording, hostname=c.env["HOSTNAME"],
                                        date=_date(self.clock.now()), timeout=timeout if timeout > 0 else None,
                                        net=self._pod_network(c), missing=c.image.lacks)
            except TimeoutError as exc:
                raise TimeoutError(str(exc)) from None
        return c, run

    def exec_sync(self, container_id: str, command: list[str], timeout: float) -> ExecResult:
        _, run = self._exec_runner(container_id, command, timeout)
        return ExecResult(*run(list(command)))

    def exec_stream(self, container_id: str, command: list[str], *, stdin: bool, tty: bool) -> cri.ExecStream:
        """Interactive ``cat``, ``sh`` and ``tar`` (kubectl cp) against the container's files
        (:mod:`.siminteractive`); other commands run at once."""
        c, run = self._exec_runner(container_id, command, 0)
        return siminteractive.start(list(command), c.fs, run, stdin=stdin, tty=tty)

    def stats(self, container_id: str) -> tuple[int, int]:
        c = self._get(container_id)
        self._advance(c, self.clock.now())
        if c.finished_at is not None or c.started_at is None:
            return 0, 0
        cpu = int(c.behaviour.get("cpuMillicores", BUSY_LOOP_MILLICORES if self._busy_since(c) is not None
                                  else c.image.cpu))
        memory = int(c.behaviour.get("memoryBytes", c.image.memory))
        return cpu, memory

    @staticmethod
    def _busy_since(c: _Container) -> float | None:
        """When the container's script became a busy loop (``while true; do :; done``), if it did."""
        return c.shell.busy_since if c.shell is not None else None

    def container_stats(self, container_id: str) -> tuple[int, int] | None:
        """The declared usage (``cpuMillicores``, ``memoryBytes``, else the image's idle figures),
        steady since the container started: its CPU so far is the rate times the time it has run, so
        every reading is exact on the virtual clock."""
        c = self._get(container_id)
        now = self.clock.now()
        self._advance(c, now)
        if c.finished_at is not None or c.started_at is None:
            return None
        return self._cpu_ns(c, now), self.stats(container_id)[1]

    def _cpu_ns(self, c: _Container, now: float) -> int:
        """CPU used from the container's start to ``now``: the declared rate over the time since it last
        changed (``pod_updated``), or the image's idle rate until a busy loop began and a core from then."""
        assert c.started_at is not None
        millicores = self.stats(c.id)[0]
        if c.cpu_changed is not None:
            since, used = c.cpu_changed
            return used + round(millicores * 1_000_000 * (now - since))
        busy = self._busy_since(c)
        if busy is not None and "cpuMillicores" not in c.behaviour:
            return round((c.image.cpu * (busy - c.started_at) + millicores * (now - busy)) * 1_000_000)
        return round(millicores * 1_000_000 * (now - c.started_at))

    def pod_updated(self, pod: dict[str, Any]) -> None:
        """The pod's annotations may have changed: its running containers take up the ``cpuMillicores``
        and ``memoryBytes`` they declare now (``kubectl annotate pod web sim.minik8s.io/app=...``), so a
        lab can raise a pod's load while it runs. (An OOM kill still follows the memory declared at start.)"""
        meta = pod.get("metadata") or {}
        uid, annotations = meta.get("uid"), meta.get("annotations") or {}
        if self._annotations.get(uid) == annotations:
            return   # the kubelet syncs a pod often; its annotations seldom change
        self._annotations[uid] = dict(annotations)
        now = self.clock.now()
        for c in list(self._containers.values()):
            if c.sandbox.uid != uid or c.started_at is None or c.finished_at is not None:
                continue
            declared = {k: v for k, v in self._behaviour(pod, c.name).items() if k in ("cpuMillicores", "memoryBytes")}
            if all(c.behaviour.get(k) == v for k, v in declared.items()):
                continue
            used = self._cpu_ns(c, now)
            c.behaviour = {**c.behaviour, **declared}
            c.cpu_changed = (now, used)

    # --- the pod network ----------------------------------------------------------------

    def _pod_network(self, c: _Container) -> PodNetwork:
        meta = c.sandbox.pod.get("metadata") or {}
        return PodNetwork(self.network, self.node_name, c.sandbox.ip, str(meta.get("namespace") or "default"),
                          c.env["HOSTNAME"], self.clock.now)

    def owns(self, ip: str) -> bool:
        """Is ``ip`` this node's address or one of its live pod sandboxes'?"""
        # list(): with the real clock, exec (an API server thread) reaches here while the loop adds pods.
        return ip == node_ip(self.node_index) or any(s.ip == ip and s.ready for s in list(self._sandboxes.values()))

    def serving(self, ip: str, port: int, path: str | None) -> App | None:
        """What answers a connection to ``ip:port`` now: the running container listening there, or None.
        ``path`` (HTTP) picks up scripted failures of the endpoints the probes check."""
        c = self._listener(ip, port)
        if c is None:
            return None
        _, key, tag = normalize(str(c.spec.get("image", "")))
        status = self._failing(c, port, path) if path is not None else None
        if status is None and "httpStatus" in c.behaviour:
            status = int(c.behaviour["httpStatus"])
        return App(key, tag, c.env["HOSTNAME"], tuple(self._argv(c)), port, status)

    def log(self, ip: str, port: int, line: str) -> None:
        """The app listening at ``ip:port`` prints ``line`` (a request it served) on its stdout."""
        c = self._listener(ip, port)
        if c is not None and c.shell is not None:
            c.shell.output.append((self.clock.now(), line))

    # --- probes -----------------------------------------------------------------------

    def _listener(self, ip: str, port: int) -> _Container | None:
        now = self.clock.now()
        for c in list(self._containers.values()):  # a copy, as in owns()
            if c.sandbox.ip != ip or not c.sandbox.ready or c.started_at is None:
                continue
            self._advance(c, now)
            if c.finished_at is not None or c.shell is None:
                continue
            ports = set(c.shell.listening) | {int(p) for p in c.behaviour.get("ports") or []}
            if port in ports and now >= c.started_at + float(c.behaviour.get("startupSeconds", 0)):
                return c
        return None

    def _failing(self, c: _Container, port: int, path: str | None) -> int | None:
        """The error status the endpoint gives now because of a scripted failure, else None."""
        assert c.started_at is not None
        age = self.clock.now() - c.started_at
        kinds = _probe_kinds(c.spec, port, path)
        b = c.behaviour
        if "livenessProbe" in kinds and _past(age, b.get("livenessFailsAfterSeconds")):
            return 500
        if "readinessProbe" in kinds and (_past(age, b.get("readinessFailsAfterSeconds"))
                                          or not _past(age, b.get("readyAfterSeconds", 0))):
            return 503
        if c.agnhost_liveness and path == "/healthz" and age > AGNHOST_LIVENESS_SECONDS:
            return 500
        return None

    def probe_http(self, ip: str, port: int, path: str, scheme: str, headers: dict[str, str],
                   timeout: float) -> int:
        url = f"{scheme.lower()}://{ip}:{port}{path}"
        c = self._listener(ip, port)
        if c is None:
            raise ProbeError(f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused')
        failing = self._failing(c, port, path)
        if failing is not None:
            return failing
        return int(c.behaviour.get("httpStatus", 200))

    def probe_tcp(self, ip: str, port: int, timeout: float) -> bool:
        c = self._listener(ip, port)
        return c is not None and self._failing(c, port, None) is None

    def probe_grpc(self, ip: str, port: int, service: str, timeout: float) -> bool:
        return self.probe_tcp(ip, port, timeout)

    # --- time -------------------------------------------------------------------------

    def next_event_time(self, container_ids: Iterable[str] | None = None) -> float | None:
        ids = list(self._containers) if container_ids is None else list(container_ids)
        times: list[float] = []
        now = self.clock.now()
        for cid in ids:
            c = self._containers.get(cid)
            if c is None or c.started_at is None:
                continue
            self._advance(c, now)
            if c.finished_at is None:
                exit_time = self._exit_time(c)
                if exit_time is not None:
                    times.append(exit_time)
        if container_ids is None:
            times += [p.ready_at for p in self._pulls.values()]
        return min(times) if times else None

    def _exit_time(self, c: _Container) -> float | None:
        """When a running container will exit if nothing else happens: a dry run of its script."""
        assert c.shell is not None
        candidates = [when for when, _, _ in self._scheduled_exits(c)]
        shell = _copy_shell(c.shell)
        horizon = min(candidates) if candidates else simshell.FOREVER
        for _ in range(simshell.BUSY_LOOP_LIMIT):
            if shell.exited or shell.forever or shell.wake_at is None or shell.wake_at > horizon:
                break
            shell.run_until(shell.wake_at)
        if shell.exited:
            candidates.append(shell.time)
        return min(candidates) if candidates else None

    def close(self) -> None:
        self.network.detach(self)
        self._containers.clear()
        self._sandboxes.clear()


# --- helpers ----------------------------------------------------------------------------------


def _has(image: Image, program: str) -> bool:
    """Does the image have ``program`` (a name looked up in PATH, or a path)?"""
    return simshell.executable(program) and program.rsplit("/", 1)[-1] not in image.lacks


def _past(age: float, seconds: Any) -> bool:
    return isinstance(seconds, (int, float)) and age >= seconds


def _date(t: float) -> str:
    """``date``'s default output, in UTC as in a container."""
    return datetime.fromtimestamp(int(t), tz=timezone.utc).strftime("%a %b %e %H:%M:%S UTC %Y")


def _probe_kinds(spec: dict[str, Any], port: int, path: str | None) -> set[str]:
    """Which of the container's probes check this endpoint (the app cannot tell who asks)."""
    kinds: set[str] = set()
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = spec.get(kind) or {}
        for handler, has_path in (("httpGet", True), ("tcpSocket", False), ("grpc", False)):
            target = probe.get(handler)
            if not isinstance(target, dict):
                continue
            if resolve_port(spec, target.get("port")) == port and (not has_path or path is None
                                                                    or target.get("path", "/") == path):
                kinds.add(kind)
    return kinds


def resolve_port(spec: dict[str, Any], port: Any) -> int | None:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for declared in spec.get("ports") or []:
            if isinstance(declared, dict) and declared.get("name") == port:
                value = declared.get("containerPort")
                return value if isinstance(value, int) else None
    return None


def _copy_shell(shell: simshell.Shell) -> simshell.Shell:
    clone = simshell.Shell([], dict(shell.fs), dict(shell.env), shell.time, wording=shell.wording,
                           hostname=shell.hostname, date=shell.date, net=shell.net, missing=shell.missing)
    clone.frames = [simshell._Frame(f.statements, f.index, f.loop, f.variable, list(f.values)) for f in shell.frames]
    clone.status, clone.wake_at, clone.exited = shell.status, shell.wake_at, shell.exited
    clone.exit_code, clone.forever = shell.exit_code, shell.forever
    return clone


def _agnhost(argv: list[str], c: _Container) -> simshell.Program:
    """agnhost, Kubernetes' test image: a few of its subcommands."""
    sub = argv[1] if len(argv) > 1 else "pause"
    if sub == "liveness":
        c.agnhost_liveness = True
        c.behaviour.setdefault("ports", [8080])
    elif sub in ("netexec", "serve-hostname", "test-webserver"):
        c.behaviour.setdefault("ports", [{"netexec": 8080, "serve-hostname": 9376}.get(sub, 80)])
    return [simshell.Statement(["tail", "-f", "/dev/null"])]


def _perl_pi(argv: list[str]) -> simshell.Program:
    """The Job example: ``perl -Mbignum=bpi -wle 'print bpi(2000)'`` prints pi and exits after a few seconds."""
    match = re.search(r"bpi\((\d+)\)", " ".join(argv))
    digits = min(int(match.group(1)), 20000) if match else 2000
    return [simshell.Statement(["sleep", str(max(1, digits // 400))]),
            simshell.Statement(["echo", _pi(digits)])]


def _pi(digits: int) -> str:
    """pi to ``digits`` significant digits (Machin's formula on integers), as bpi prints it."""
    scale = 10 ** (digits + 10)

    def arctan_inv(x: int) -> int:
        total, term, n, sign = 0, scale // x, 1, 1
        while term:
            total += sign * (term // n)
            term //= x * x
            n += 2
            sign = -sign
        return total

    pi = 4 * (4 * arctan_inv(5) - arctan_inv(239))
    text = str(pi // 10 ** 10)
    return text[0] + "." + text[1:digits]

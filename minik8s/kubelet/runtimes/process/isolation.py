"""Containment: what a container of the ``process`` runtime can see, enforced by the kernel.

A container runtime (runc, under containerd) gives each container its own *mount*
namespace whose root is the image's files, its own *PID* namespace (it sees only its
own processes), its own *UTS* namespace (the host name is the pod's) and a user that is
not the host's root. This module does the same with ``bwrap`` (bubblewrap, Debian
package ``bubblewrap``), one ``bwrap`` per container:

============== ==================================================================================
``/``          the container's own folder ``.../containers/<name>/<attempt>/rootfs`` (the image's
               files, ``/etc/hostname``, ``/etc/hosts``, ``/etc/passwd``, a private ``/tmp``)
``/usr``,      the node's operating system, read-only: the built-in images' tools (``sh``, ``ls``,
``/bin``, ...  ``cat``) are the node's, as a distroless image shares its base layer
``/.minik8s``  read-only: the Python interpreter (``/.minik8s/python``), the built-in images'
               executables and their programs, byte-compiled (``/.minik8s/bin``); when
               minik8s runs in a virtual environment, its packages (``/.minik8s/site-packages``,
               on the ``python`` image's path: the interpreter inside is the environment's base)
volumes        bind mounts at their ``mountPath``; read-only when ``readOnly: true`` and, as
               upstream, always for ``configMap``, ``secret`` and ``downwardAPI`` volumes
``/proc``      a new procfs of the container's PID namespace: PID 1 is bwrap's small init (as
               with ``docker run --init``), the container's command is PID 2
``/dev``       a minimal ``/dev`` (null, zero, full, random, urandom, tty, shm; pts as root)
user           ``securityContext.runAsUser``/``runAsGroup`` (container, else pod); without
               them 65534 (``nobody``); only ``runAsUser: 0`` gives root. The pod's ``fsGroup``
               and ``supplementalGroups`` are its supplementary groups (a root runtime only:
               a user namespace maps one group)
============== ==================================================================================

What is **not** isolated: the network (there is no network namespace: a pod's address
is a loopback IP, :mod:`.network`), except in netns mode, where the container runs in its pod's
network namespace (:mod:`minik8s.hostnet`) and an exec enters it as well (``netns``). CPU and memory are limited by cgroups, not here
(:mod:`.cgroups`); bwrap gives the container a cgroup namespace whose root is its own cgroup. Each container
has its own PID and IPC namespaces, where upstream's containers of a pod share IPC (and
PIDs with ``shareProcessNamespace``, which is ignored here).

As root, ``bwrap`` builds the mounts and ``setpriv`` then becomes the container's user
(really 65534 on the host too), keeping only ``CAP_NET_BIND_SERVICE``, so a non-root
container can bind port 80 as on a real node. A root container keeps Docker's default
capability set. As a normal user, ``bwrap`` makes an unprivileged user namespace in which
the user's own uid appears as the container's uid. Either way no process of a container
can gain privileges (``no_new_privs``: set-uid programs do not work).

``kubectl exec`` enters the namespaces of the container's PID 1 with ``nsenter``.

Where ``bwrap`` is missing or the kernel refuses namespaces, or with
``MINIK8S_ISOLATION=none`` (the default is ``auto``: contain when the machine can), containers are plain host processes (the fallback described
in :mod:`.filesystem`): :func:`mode` says why, and the runtime warns once and gives every
pod a ``ContainersNotIsolated`` event.

Interface:
    mode() -> "bwrap" | "none";  unavailable_reason() -> str     # probed once per process
    user_of(pod, container) -> (uid, gid);  groups_of(pod) -> (gid, ...);  verify_non_root(pod, container, uid)  # ContainerConfigError
    Containment(rootfs, hostname, uid, gid, binds=[Bind(container path, host path, read_only)])
    containment.prepare(pod_ip, services=[(ip, [name...])])   # /etc files, ownership: before start
    hosts_text(pod_ip, hostname, services) -> str;  rewrite_in_place(path, text)
    containment.options(workdir) -> [bwrap options];  containment.command(argv) -> argv run inside
    enter(init_pid, containment, argv) -> argv for an exec
    python_inside() -> (host folder, interpreter inside);  venv_site_packages() -> host folder | None

Taught in chapter 1 (containers: namespaces) and chapter 5 (Pods: securityContext).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik8s.kubelet.runtimes.process.env import ContainerConfigError

log = logging.getLogger(__name__)

NOBODY = 65534                     # the user of a container that names none (the kernel's overflow uid)
INTERNAL = "/.minik8s"             # where the runtime's own read-only files appear inside a container
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")   # the node's OS, read-only
# Docker's (and containerd's) default capabilities of a root container.
ROOT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
                     "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")

_probed: dict[str, tuple[str, str]] = {}   # MINIK8S_ISOLATION -> (mode, why not): probed once per process


@functools.cache
def tool(name: str) -> str:
    """A program's absolute path on the node (the container's PATH may not hold it: ``setpriv``
    runs inside, where the node's ``/usr`` is too)."""
    return shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin") or shutil.which(name) or name


def _probe() -> tuple[str, str]:
    wanted = os.environ.get("MINIK8S_ISOLATION", "auto")
    if wanted == "none":
        return "none", "MINIK8S_ISOLATION=none"
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "none", "bwrap (bubblewrap) is not installed"
    missing = [t for t in ("nsenter", "setpriv") if shutil.which(t) is None]
    if missing:
        return "none", f"{' and '.join(missing)} not found"
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    try:
        done = subprocess.run([bwrap, *user, "--unshare-pid", "--unshare-uts", "--unshare-ipc", "--ro-bind", "/", "/",
                               "--proc", "/proc", "--dev", "/dev", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return "none", f"bwrap failed: {exc}"
    if done.returncode != 0:
        return "none", f"the kernel refuses namespaces: {done.stderr.decode(errors='replace').strip()}"
    return "bwrap", ""


def _result() -> tuple[str, str]:
    wanted = os.environ.get("MINIK8S_ISOLATION", "auto")
    if wanted not in _probed:
        _probed[wanted] = _probe()
    return _probed[wanted]


def mode() -> str:
    """``bwrap`` when containers get their own namespaces here, else ``none``."""
    return _result()[0]


def unavailable_reason() -> str:
    """Why containers are not isolated ("" when they are)."""
    return _result()[1]


def user_of(pod: dict[str, Any], container: dict[str, Any]) -> tuple[int, int]:
    """(uid, gid) a container runs as: its securityContext, else the pod's; without one, nobody.

    Upstream's default is the image's USER (root for most images); minik8s runs an unprivileged
    user unless ``runAsUser: 0`` asks for root. A uid with no ``runAsGroup`` gets group 0, as
    upstream gives a uid that the image's /etc/passwd does not know."""
    pod_context = (pod.get("spec") or {}).get("securityContext") or {}
    context = container.get("securityContext") or {}
    uid = context.get("runAsUser", pod_context.get("runAsUser"))
    gid = context.get("runAsGroup", pod_context.get("runAsGroup"))
    if uid is None:
        return NOBODY, int(gid) if gid is not None else NOBODY
    return int(uid), int(gid) if gid is not None else 0


def groups_of(pod: dict[str, Any]) -> tuple[int, ...]:
    """The supplementary groups of every container of the pod: ``fsGroup`` and ``supplementalGroups``."""
    context = (pod.get("spec") or {}).get("securityContext") or {}
    found = [context["fsGroup"]] if context.get("fsGroup") is not None else []
    return tuple(dict.fromkeys(int(g) for g in [*found, *(context.get("supplementalGroups") or [])]))


def verify_non_root(pod: dict[str, Any], container: dict[str, Any], uid: int) -> None:
    """``runAsNonRoot: true`` with ``runAsUser: 0`` cannot start (upstream's kubelet words)."""
    pod_context = (pod.get("spec") or {}).get("securityContext") or {}
    context = container.get("securityContext") or {}
    if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) and uid == 0:
        meta = pod.get("metadata") or {}
        who = f"{meta.get('name', '')}_{meta.get('namespace', 'default')}({meta.get('uid', '')})"
        raise ContainerConfigError(f"container's runAsUser breaks non-root policy (pod: \"{who}\", "
                                   f"container: {container.get('name', '')})")


@functools.cache
def python_inside() -> tuple[str, str]:
    """(host folder of the Python installation, its interpreter's path inside a container)."""
    prefix = Path(sys.base_prefix).resolve()
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (prefix / "bin" / version, Path(os.path.realpath(sys._base_executable))):  # type: ignore[attr-defined]
        if candidate.is_file() and prefix in candidate.parents:
            return str(prefix), f"{INTERNAL}/python/{candidate.relative_to(prefix)}"
    return str(prefix), f"{INTERNAL}/python/bin/{version}"


@functools.cache
def venv_site_packages() -> str | None:
    """The site-packages folder of the virtual environment minik8s runs in, or None outside one."""
    if sys.prefix == sys.base_prefix:
        return None
    folder = Path(sysconfig.get_paths()["purelib"]).resolve()
    return str(folder) if folder.is_dir() else None


@dataclass
class Bind:
    path: str             # inside the container
    host: str             # on the host
    read_only: bool = False


@dataclass
class Containment:
    """The view one container instance gets: see the module docstring."""

    rootfs: Path
    hostname: str
    uid: int
    gid: int
    workdir: str = "/"
    binds: list[Bind] = field(default_factory=list)
    groups: tuple[int, ...] = ()     # supplementary groups (honoured when the runtime is root)
    netns: bool = False              # the pod has its own network namespace (netns mode): exec enters it

    def prepare(self, pod_ip: str, services: list[tuple[str, list[str]]] | None = None) -> None:
        """Write the container's /etc files and give it its own files (its user owns its rootfs).
        ``services``: Service names for /etc/hosts, where cluster DNS is out of the C library's reach."""
        etc = self.rootfs / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hostname").write_text(self.hostname + "\n")
        (etc / "hosts").write_text(hosts_text(pod_ip, self.hostname, services or []))
        if not (etc / "nsswitch.conf").exists():   # the image's own, if it ships one
            (etc / "nsswitch.conf").write_text("hosts: files dns\n")   # /etc/hosts first, then resolv.conf
        if not (etc / "passwd").exists():   # the image's own, if it ships one
            (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
            (etc / "group").write_text("root:x:0:\nnobody:x:65534:\n")
        (self.rootfs / "tmp").chmod(0o1777)
        if os.geteuid() == 0 and (self.uid, self.gid) != (0, 0):
            # The container's files belong to its user, as a rootless engine's do: it may write
            # where the image put files (an app folder, /data), as it could as the image's owner.
            for folder, dirs, files in os.walk(self.rootfs):
                for name in [*dirs, *files]:
                    os.lchown(os.path.join(folder, name), self.uid, self.gid)
            os.lchown(self.rootfs, self.uid, self.gid)

    def options(self) -> list[str]:
        """bwrap's options: the namespaces, the mounts, the user."""
        args = ["--unshare-pid", "--unshare-uts", "--unshare-ipc", "--unshare-cgroup-try", "--die-with-parent",
                "--hostname", self.hostname, "--bind", str(self.rootfs), "/"]
        if os.geteuid() != 0:
            args += ["--unshare-user", "--uid", str(self.uid), "--gid", str(self.gid)]
        binds = sorted(self.binds, key=lambda b: b.path.count("/"))   # a parent before what is inside it
        for bind in binds:
            self._mount_point(bind)   # first: a volume at /usr/local/x makes /usr the image's to merge
        for folder in SYSTEM:
            if os.path.lexists(folder):
                self._layer(folder, folder, args)
        args += ["--proc", "/proc", *self._dev()]
        for bind in binds:
            args += ["--ro-bind" if bind.read_only else "--bind", bind.host, bind.path]
        if os.geteuid() == 0:
            keep = ROOT_CAPABILITIES if self.uid == 0 else ("SETUID", "SETGID", "NET_BIND_SERVICE")
            args += ["--cap-drop", "ALL", *[a for cap in keep for a in ("--cap-add", f"CAP_{cap}")]]
        return args + ["--chdir", self.workdir or "/"]

    @staticmethod
    def _dev() -> list[str]:
        """A minimal /dev. As root, bwrap's own (with a private devpts). Without root, the device
        files bound one by one: bwrap's ``--dev`` would make a second, nested user namespace (to
        mount devpts), which ``nsenter`` could not enter for an exec."""
        if os.geteuid() == 0:
            return ["--dev", "/dev"]
        args = ["--tmpfs", "/dev"]
        for device in ("null", "zero", "full", "random", "urandom", "tty"):
            args += ["--dev-bind", f"/dev/{device}", f"/dev/{device}"]
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                             ("stderr", "/proc/self/fd/2")):
            args += ["--symlink", target, f"/dev/{name}"]
        return args + ["--dir", "/dev/shm"]

    def _layer(self, host: str, path: str, args: list[str], top: bool = True) -> None:
        """The node's ``host`` at ``path``, read-only, *under* the image's files: what the image ships
        wins, as in a layered image. Merged one level deep only (each bind mount costs a little at
        every start): nginx's own ``/usr/share`` replaces the node's, next to the node's ``/usr/bin``
        (so an image that ships files in ``/usr/bin`` hides the node's tools there)."""
        mine = self.rootfs / path.lstrip("/")
        if not os.path.lexists(mine):
            if os.path.islink(host):
                args += ["--symlink", os.readlink(host), path]   # merged /usr: /bin -> usr/bin
            else:
                args += ["--ro-bind", host, path]
        elif top and mine.is_dir() and not mine.is_symlink() and os.path.isdir(host):
            for entry in sorted(os.listdir(host)):
                self._layer(os.path.join(host, entry), f"{path}/{entry}", args, top=False)

    def _mount_point(self, bind: Bind) -> None:
        """Make the mount point in the rootfs, readable by the container's user (bwrap's would be 0700)."""
        target = self.rootfs
        for part in bind.path.strip("/").split("/"):
            target = target / part
            if target.is_symlink():
                return
            if not target.exists() and (target.name != Path(bind.path).name or os.path.isdir(bind.host)):
                target.mkdir(mode=0o755)
                target.chmod(0o755)
        if not target.exists():
            target.touch(mode=0o644)

    def command(self, argv: list[str]) -> list[str]:
        """What runs inside: as root, ``setpriv`` becomes the container's user first."""
        if os.geteuid() != 0 or (self.uid, self.gid, self.groups) == (0, 0, ()):
            return argv
        return [tool("setpriv"), "--reuid", str(self.uid), "--regid", str(self.gid), *self.group_options(),
                "--inh-caps", "+net_bind_service", "--ambient-caps", "+net_bind_service", "--", *argv]

    def group_options(self) -> list[str]:
        return ["--groups", ",".join(map(str, self.groups))] if self.groups else ["--clear-groups"]

    def host_path(self, path: str) -> str:
        """Where a container path is on the host (to look a program up before running it)."""
        best: tuple[str, str] = ("", str(self.rootfs))
        for cpath, host in [(b.path.rstrip("/"), b.host) for b in self.binds]:
            if (path == cpath or path.startswith(cpath + "/")) and len(cpath) > len(best[0]):
                best = (cpath, host)
        if not best[0] and path.startswith(tuple(f + "/" for f in SYSTEM)) and os.path.lexists(path):
            return path   # the node's OS folders, under the image's own files
        return best[1] + path[len(best[0]):]


def hosts_text(pod_ip: str, hostname: str, services: list[tuple[str, list[str]]]) -> str:
    """A container's /etc/hosts: localhost, the pod's own name, then any Service names given."""
    lines = ["127.0.0.1\tlocalhost", f"{pod_ip}\t{hostname}", *[f"{ip}\t{' '.join(names)}" for ip, names in services]]
    return "".join(line + "\n" for line in lines)


def rewrite_in_place(path: Path, text: str) -> None:
    """Replace a file's content keeping its inode: a bind mount of it keeps showing the new text."""
    with open(path, "r+", encoding="utf-8") as f:
        f.truncate(0)
        f.write(text)


def init_pid(bwrap_pid: int, wait: float = 0.0) -> int | None:
    """The container's PID 1 on the host: the child of the outer bwrap. With ``wait``, wait (that
    long at most) until the container is set up, that is until its PID 1 has started the command."""
    deadline = time.monotonic() + wait
    while True:
        try:
            children = Path(f"/proc/{bwrap_pid}/task/{bwrap_pid}/children").read_text().split()
            if children and (not wait or Path(f"/proc/{children[0]}/task/{children[0]}/children").read_text()):
                return int(children[0])
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.005)


def enter(target: int, containment: Containment, argv: list[str]) -> list[str]:
    """An exec: into the namespaces of the container whose PID 1 is ``target``, as its user."""
    enter_ns = [tool("nsenter"), "--target", str(target), "--mount", "--uts", "--ipc", "--pid",
                *(["--net"] if containment.netns else []), f"--wdns={containment.workdir or '/'}"]
    if os.geteuid() != 0:
        # Our uid is the container's uid in its user namespace: keep it, do not become that namespace's root.
        return [*enter_ns[:3], "--user", "--preserve-credentials", *enter_ns[3:], "--",
                tool("setpriv"), "--no-new-privs", "--", *argv]
    if containment.uid == 0:
        caps = ",".join(["-all", *[f"+{c.lower()}" for c in ROOT_CAPABILITIES]])
        who = ["--reuid", "0", "--regid", str(containment.gid), *containment.group_options(), "--bounding-set", caps]
    else:
        who = ["--reuid", str(containment.uid), "--regid", str(containment.gid), *containment.group_options()]
    return [*enter_ns, "--", tool("setpriv"), "--no-new-privs", *who, "--", *argv]


def warn_once(reason: str) -> None:
    log.warning("containers are not isolated (%s): they see the host's files and processes and run as "
                "this user; install bubblewrap (bwrap) to contain them", reason)

"""Make a Python program see its pod's filesystem and network (the ``process`` runtime).

The process runtime gives a container no network namespace, and, where it cannot
contain it (no ``bwrap``), no mount namespace either. Python is imported by every
built-in server and by the ``python`` image, so this module (loaded by Python at
start-up, because the runtime puts its folder first on ``PYTHONPATH``) gives those
programs what a container would give:

* **paths** (uncontained containers only): ``MINIK8S_MOUNTS`` is a JSON list of ``[container_path, host_path]``;
  ``open("/data/x")`` and the ``os`` calls below are redirected to the host folder
  that backs ``/data``. Paths under no mount are the host's, unchanged, and so are
  paths under ``MINIK8S_HOST_PATHS`` (already host paths: the runtime rewrote them).
* **addresses**: a socket that binds ``0.0.0.0``, ``""`` or ``127.0.0.1`` binds the pod
  IP (``MINIK8S_POD_IP``) instead, and ``localhost`` means the pod IP, so containers
  of one pod reach each other on localhost and two pods can both listen on port 80.
  Ports below 1024 are shifted by ``MINIK8S_PORT_OFFSET`` when the runtime cannot
  bind them (it says so in a pod event).

Standard library only, and quick: it runs before every container's first line. It patches the C
module ``_socket`` rather than ``socket``: ``socket.socket`` is a subclass of ``_socket.socket`` made
when ``socket`` is first imported, so it inherits the pod's addresses either way, and a program that
needs no more than ``_socket`` (the nginx image) is spared ``socket``'s imports (``enum``,
``functools``, ``collections``: 1.2 MiB of every container's memory).
Taught in chapter 5 (Pods: what a container is, and how minik8s fakes one).
"""

import _socket
import builtins
import os


def _mounts():
    text = os.environ.get("MINIK8S_MOUNTS", "")
    if text in ("", "[]"):
        return []
    import json   # only for an uncontained container: ``json`` (and the ``re`` it imports) costs each process memory
    return sorted(((c.rstrip("/") or "/", h) for c, h in json.loads(text)), key=lambda m: len(m[0]), reverse=True)


_MOUNTS = _mounts()
# Host paths the runtime hands out itself (its state, Python, minik8s): never container paths.
_GUARDS = tuple(p for p in os.environ.get("MINIK8S_HOST_PATHS", "").split(os.pathsep) if p)
_POD_IP = os.environ.get("MINIK8S_POD_IP", "")
_OFFSET = int(os.environ.get("MINIK8S_PORT_OFFSET", "0") or 0)
_LOCAL = {"", "0.0.0.0", "127.0.0.1", "localhost", "::", "::1"}


def host_path(path):
    """The host path behind a container path (unchanged when no mount covers it)."""
    if isinstance(path, bytes):
        return os.fsencode(host_path(os.fsdecode(path)))
    if not isinstance(path, str) or not path.startswith("/") or path.startswith(_GUARDS):
        return path
    for cpath, hpath in _MOUNTS:
        if path == cpath or path.startswith(cpath + "/") or cpath == "/":
            return hpath + path[len(cpath):] if cpath != "/" else hpath + path
    return path


def _wrap(module, name, positions=(0,)):
    original = getattr(module, name)

    def redirected(*args, **kwargs):
        args = list(args)
        for i in positions:
            if i < len(args):
                args[i] = host_path(args[i])
        return original(*args, **kwargs)

    redirected.__name__ = name
    setattr(module, name, redirected)


def _address(address):
    """Local addresses become the pod IP; low ports on loopback (every pod IP) are shifted."""
    if not (_POD_IP and isinstance(address, tuple) and len(address) >= 2):
        return address
    host, port = address[0], address[1]
    if host in _LOCAL:
        host = _POD_IP
    if _OFFSET and isinstance(host, str) and host.startswith("127.") and isinstance(port, int) and 0 < port < 1024:
        port += _OFFSET
    return (host, port) + tuple(address[2:])


class _PodSocket(_socket.socket):
    """A socket whose local addresses are the pod's (IPv4 only: pod IPs are 127.x.y.z)."""

    __slots__ = ()   # ``socket.socket`` subclasses this class and declares ``__weakref__`` itself

    def bind(self, address):
        return super().bind(_address(address) if self.family == _socket.AF_INET else address)

    def _from_pod(self, address):
        """Connections to other pods leave from this pod's IP, as they would on a pod network."""
        if self.family != _socket.AF_INET:
            return address
        address = _address(address)
        if _POD_IP and isinstance(address, tuple) and str(address[0]).startswith("127."):
            try:
                if self.getsockname()[1] == 0:
                    super().bind((_POD_IP, 0))
            except OSError:
                pass
        return address

    def connect(self, address):
        return super().connect(self._from_pod(address))

    def connect_ex(self, address):
        return super().connect_ex(self._from_pod(address))


def _install():
    if _MOUNTS:
        _wrap(builtins, "open")
        for name in ("open", "stat", "lstat", "listdir", "scandir", "mkdir", "makedirs", "remove", "unlink",
                     "rmdir", "chdir", "access", "utime", "chmod", "truncate"):
            if hasattr(os, name):
                _wrap(os, name)
        for name in ("rename", "replace", "link", "symlink"):
            _wrap(os, name, (0, 1))
    if _POD_IP:
        _socket.socket = _socket.SocketType = _PodSocket
        original = _socket.getaddrinfo

        def getaddrinfo(host, *args, **kwargs):
            # Resolve localhost to the pod IP, and only to IPv4 (the pod has no IPv6 address).
            if host in ("localhost", "127.0.0.1"):
                host = _POD_IP
            return original(host, *args, **kwargs)

        _socket.getaddrinfo = getaddrinfo   # what ``socket.getaddrinfo`` and ``create_connection`` call


_install()

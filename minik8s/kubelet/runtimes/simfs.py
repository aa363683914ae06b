"""A simulated container's files, with the volumes it shares: the simulated runtime's mount table.

A simulated container's file system is a dict, path -> text. Volumes that outlive a container or
are shared (``emptyDir``, ``hostPath``, ``persistentVolumeClaim``) are dicts of their own, held by
the pod's sandbox (emptyDir) or by the node (hostPath, claims); :class:`MountedFiles` routes each
path under a ``mountPath`` to its volume's dict, and every other path to the container's own. So a
file one container writes into an emptyDir is there for the pod's other containers, an emptyDir
goes with its pod, and a hostPath stays on its node, as on the process runtime.

A hostPath's ``type`` is checked against what the node holds: :data:`NODE_DIRECTORIES` and
:data:`NODE_FILES` (what a kind node has before any pod runs), and what hostPath volumes made or
pods wrote there since.

Interface:
    files = MountedFiles(own={}, mounts=[("/data", volume_files, "")])   # (mountPath, volume, subPath)
    files["/data/x"] = "hi"; volume_files == {"/x": "hi"}
    host_path_problem(path, kind, disk) -> None | "hostPath type check failed: ..."   # disk: NodeDisk

Taught in chapter 15 (storage: volumes).
"""

from __future__ import annotations

from typing import Iterator, MutableMapping

Files = MutableMapping[str, str]

# What a simulated node's disk holds before any pod uses it (in short, a kind node's).
NODE_DIRECTORIES = frozenset({"/", "/bin", "/dev", "/etc", "/home", "/lib", "/lib/modules", "/mnt", "/opt", "/proc",
                              "/root", "/run", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib", "/var/lib/kubelet",
                              "/var/log", "/var/log/pods", "/var/run"})
NODE_FILES = {"/etc/hosts": "File", "/etc/passwd": "File", "/etc/group": "File", "/etc/resolv.conf": "File",
              "/etc/hostname": "File", "/etc/os-release": "File", "/etc/localtime": "File",
              "/run/containerd/containerd.sock": "Socket", "/var/run/containerd/containerd.sock": "Socket",
              "/dev/null": "CharDevice", "/dev/zero": "CharDevice", "/dev/kmsg": "CharDevice", "/dev/fuse": "CharDevice"}
# upstream's words for each checked type (pkg/volume/hostpath)
_NOT = {"Directory": "is not a directory", "File": "is not a file", "Socket": "is not a socket file",
        "CharDevice": "is not a character device", "BlockDevice": "is not a block device"}
Mount = tuple[str, dict[str, str], str]   # mountPath, the volume's files (keys start with "/"), subPath


def _under(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` ("" for the folder itself, "/x" inside it), or None when outside."""
    folder = folder.rstrip("/")
    if path == folder:
        return ""
    return path[len(folder):] if path.startswith(folder + "/") else None


class MountedFiles(MutableMapping[str, str]):
    """A container's files: its own, and under each mount path the files of a volume it shares."""

    def __init__(self, own: dict[str, str] | None = None, mounts: list[Mount] | None = None):
        self.own: dict[str, str] = own if own is not None else {}
        # longest mount path first, so that a mount inside another wins
        self.mounts = sorted(mounts or [], key=lambda m: -len(m[0].rstrip("/")))

    def _route(self, path: str) -> tuple[dict[str, str], str]:
        for mount_path, files, sub_path in self.mounts:
            rest = _under(path, mount_path)
            if rest is not None:
                prefix = "/" + sub_path.strip("/") if sub_path.strip("/") else ""
                return files, prefix + rest
        return self.own, path

    def __getitem__(self, path: str) -> str:
        files, key = self._route(path)
        return files[key]

    def __setitem__(self, path: str, text: str) -> None:
        files, key = self._route(path)
        files[key] = text

    def __delitem__(self, path: str) -> None:
        files, key = self._route(path)
        del files[key]

    def __iter__(self) -> Iterator[str]:
        for path in list(self.own):
            if self._route(path)[0] is self.own:
                yield path
        for mount_path, files, sub_path in self.mounts:
            prefix = "/" + sub_path.strip("/") if sub_path.strip("/") else ""
            for key in list(files):
                rest = _under(key, prefix) if prefix else key
                if rest:
                    path = mount_path.rstrip("/") + rest
                    if self._route(path)[0] is files:   # not hidden by a deeper mount
                        yield path

    def __len__(self) -> int:
        return sum(1 for _ in self)


class NodeDisk:
    """A simulated node's disk: the folders and files hostPath volumes made, and their contents."""

    def __init__(self) -> None:
        self.folders: dict[str, dict[str, str]] = {}   # a hostPath folder -> its files (keys start with "/")
        self.files: dict[str, dict[str, str]] = {}     # a hostPath file -> {"": its text}

    def kind(self, path: str) -> str | None:
        """"Directory", "File", "Socket", ... for what is at ``path`` on the node, or None."""
        if path in NODE_DIRECTORIES or path in self.folders:
            return "Directory"
        if path in NODE_FILES:
            return NODE_FILES[path]
        if path in self.files:
            return "File"
        for folder, files in self.folders.items():
            rest = _under(path, folder)
            if rest and rest in files:
                return "File"
            if rest and any(key.startswith(rest + "/") for key in files):
                return "Directory"
        known = [*NODE_DIRECTORIES, *NODE_FILES, *self.folders, *self.files]
        return "Directory" if any(p.startswith(path.rstrip("/") + "/") for p in known) else None

    def mount(self, path: str, kind: str) -> tuple[dict[str, str], str] | str:
        """(the files a hostPath of this ``type`` mounts, the path inside them), or the type check's failure."""
        found = self.kind(path)
        wanted = {"": found or "Directory", "DirectoryOrCreate": "Directory", "FileOrCreate": "File"}.get(kind, kind)
        if found is None and kind in ("", "DirectoryOrCreate", "FileOrCreate"):
            found = wanted   # created, as the kubelet does
        if found != wanted:
            return f"hostPath type check failed: {path} {_NOT.get(wanted, 'is not a directory')}"
        if found == "Directory":
            return self.folders.setdefault(path, {}), ""
        for folder, files in self.folders.items():   # a file a pod wrote into a hostPath folder
            rest = _under(path, folder)
            if rest and rest in files:
                return files, rest.lstrip("/")
        return self.files.setdefault(path, {"": ""}), ""

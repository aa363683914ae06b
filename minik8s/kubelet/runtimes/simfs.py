"""A simulated container's files, with the volumes it shares: the simulated runtime's mount table.

A simulated container's file system is a dict, path -> text. Volumes that outlive a container or
are shared (``emptyDir``, ``hostPath``, ``persistentVolumeClaim``) are dicts of their own, held by
the pod's sandbox (emptyDir) or by the node (hostPath, claims); :class:`MountedFiles` routes each
path under a ``mountPath`` to its volume's dict, and every other path to the container's own. So a
file one container writes into an emptyDir is there for the pod's other containers, an emptyDir
goes with its pod, and a hostPath stays on its node, as on the process runtime.

Interface:
    files = MountedFiles(own={}, mounts=[("/data", volume_files, "")])   # (mountPath, volume, subPath)
    files["/data/x"] = "hi"; volume_files == {"/x": "hi"}

Taught in chapter 15 (storage: volumes).
"""

from __future__ import annotations

from typing import Iterator, MutableMapping

Files = MutableMapping[str, str]
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

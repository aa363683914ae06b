"""A container's filesystem in the ``process`` runtime: a folder per container, its volumes, its mount table.

A container sees a root filesystem made of its image's files plus its volumes. Its files
and volumes are laid out here; a contained container (the default, :mod:`.isolation`)
gets them as real bind mounts in its own mount namespace. Without containment (no
``bwrap``, or ``MINIK8S_ISOLATION=none``) there is no mount namespace, and the runtime
builds the view like this instead:

* every container instance has a folder ``<pod dir>/containers/<name>/<attempt>/rootfs``
  holding the image's files (its layers, or a built-in image's files);
* a **mount table** maps container paths to host folders: each path the image ships
  (``/usr/share/nginx/html``, ``/app``), ``/tmp`` and the working directory
  go to the container's own folder; each ``volumeMount`` goes to its volume's folder
  (``<pod dir>/volumes/kubernetes.io~empty-dir/<name>``, as the kubelet lays them out);
* paths in the command, its arguments and its environment are **rewritten** through
  the table: ``sh -c 'echo hi > /data/x'`` writes ``<volume>/x``. Python programs
  (every built-in server, the ``python`` image) get the same mapping at run time
  from :mod:`minik8s.images.builtin.site.sitecustomize`.
* any other path (``/bin/sh``, ``/etc/passwd``) is the host's: system tools are shared;
  ``HOME`` is the container folder's ``root``. Host paths the runtime hands out itself
  (its state folder, the Python installation) are never rewritten (``guards``).

``hostPath`` volumes (and PersistentVolumes with ``hostPath`` or ``local``) live in the
*node's* filesystem, a folder ``<node dir>/host`` (each node of a cluster is a
separate machine, as each kind node is a container), so ``/var/log`` is never the
host's own; ``MINIK8S_HOSTPATH_ROOT=/`` makes them the host's real paths.

Interface:
    mounts = Mounts([("/data", "/tmp/.../volumes/.../data")], guards=(state_dir,))
    mounts.host_path("/data/x"); mounts.rewrite("cat /data/x") ; mounts.to_json()
    volumes = prepare_volumes(pod, pod_dir, node_root, lookup, pod_ip=...)   # {name: host folder}
    empty_dir_sizes(pod, pod_dir) -> {emptyDir name: bytes}   # those with a sizeLimit (eviction)
    volume_mounts(container, volumes) -> [(mountPath, host path)];  read_only_paths(pod, container)
    write_atomically(folder, {path: (bytes, mode)}, volume) -> changed?
    volume_files(pod, volume, lookup) -> {path: (bytes, mode)} | None   # also what the simulated runtime shows
    register_projected_source("serviceAccountToken", produce)   # produce(source, ctx) -> {path: (bytes, mode)}

ConfigMap, Secret, downward API and projected volumes are written as upstream's kubelet
writes them (its "atomic writer"): the files of one generation in a timestamped folder
``..2026_12_05_16_00_00.123456789``, a symlink ``..data`` to it, and each visible name a
symlink ``key -> ..data/key``. A new generation is published by renaming a fresh symlink
over ``..data``, so a program never reads half an update. The kubelet calls
``prepare_volumes`` again every ``VOLUME_RESYNC_SECONDS`` (:mod:`minik8s.kubelet.podworker`):
that is how an edited ConfigMap reaches running pods. A ``subPath`` into such a volume is a
copy taken when the container starts (upstream bind-mounts the file of that moment), so
it is never updated. A projected volume merges its ``sources``, one function per source
type in ``PROJECTED_SOURCES`` (``register_projected_source`` adds one).

Invariant: a volume folder is always inside the pod's folder or the node's filesystem.
Taught in chapter 5 (Pods: what a container is) and chapter 15 (storage: volumes).
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from minik8s.kubelet.cri import RuntimeCallError
from minik8s.kubelet.runtimes.process.env import ContainerConfigError, Lookup, field_value


class MountError(RuntimeCallError):
    """A volume could not be set up (upstream's ``FailedMount`` event)."""
    reason = "FailedMount"


class Mounts:
    """Container path -> host path, the longest container path winning."""

    def __init__(self, table: list[tuple[str, str]], guards: tuple[str, ...] = ()):
        seen: dict[str, str] = {}
        for cpath, hpath in table:
            seen[posixpath.normpath(cpath)] = hpath
        self.table = sorted(seen.items(), key=lambda m: len(m[0]), reverse=True)
        self.guards = tuple(g.rstrip("/") + "/" for g in guards if g)
        alternatives = "|".join(re.escape(c) for c, _ in self.table if c != "/")
        # A container path starts a word (not inside a URL or another path) and ends at a
        # "/" or at anything that cannot be part of a file name.
        self._pattern = re.compile(rf"(?<![\w.~/:-])({alternatives})(?=/|$|[^\w.-])") if alternatives else None
        self._by_path = dict(self.table)

    def host_path(self, path: str) -> str:
        if not path.startswith("/") or path.startswith(self.guards):
            return path
        for cpath, hpath in self.table:
            if path == cpath or path.startswith(cpath.rstrip("/") + "/"):
                return hpath + path[len(cpath):]
        return path

    def rewrite(self, text: str) -> str:
        """Every container path in a command line, a script or an environment value, made a host path.
        Host paths the runtime itself put there (``guards``: its state folder, Python) are left alone."""
        if self._pattern is None:
            return text
        guarded = [(m.start(), m.end()) for g in self.guards for m in re.finditer(re.escape(g) + r"\S*", text)]

        def one(match: re.Match[str]) -> str:
            if any(start <= match.start() < end for start, end in guarded):
                return match.group(0)
            return self._by_path[match.group(1)]

        return self._pattern.sub(one, text)

    def to_json(self) -> str:
        return json.dumps([[c, h] for c, h in self.table])


# --- volumes --------------------------------------------------------------------------------


def _inside(path: Path, root: Path) -> bool:
    path, root = path.resolve(), root.resolve()
    return path == root or root in path.parents


def node_path(node_root: Path, path: str) -> Path:
    """A path of the node's filesystem (hostPath, PV paths) as a host path."""
    real_root = os.environ.get("MINIK8S_HOSTPATH_ROOT")
    root = Path(real_root) if real_root else node_root
    target = root / posixpath.normpath("/" + path).lstrip("/")
    if not _inside(target if target.exists() else target.parent, root):
        raise MountError(f"hostPath {path} resolves outside the node's filesystem ({root})")
    return target


def _host_path_volume(name: str, source: dict[str, Any], node_root: Path) -> Path:
    path = str(source.get("path") or "")
    kind = str(source.get("type") or "")
    target = node_path(node_root, path)
    # What the kubelet creates, upstream's root-run containers may write. Here a container runs as
    # nobody unless it asks for root (see .isolation), so a created folder or file is opened to all.
    if kind in ("", "DirectoryOrCreate") and not target.exists():
        target.mkdir(parents=True, exist_ok=True)   # "" is "no check"; a folder is what people mean
        target.chmod(0o777)
    elif kind == "FileOrCreate" and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
        target.chmod(0o666)
    elif kind == "Directory" and not target.is_dir():
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: '
                         f"{path} is not a directory")
    elif kind == "File" and not target.is_file():
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: '
                         f"{path} is not a file")
    return target


# --- ConfigMap, Secret, downward API and projected volumes: the kubelet's atomic writer ----------------

File = tuple[bytes, int]          # content, mode
Files = dict[str, File]           # relative path in the volume -> file
DATA_LINK = "..data"              # the symlink the atomic writer swaps


@dataclass
class SourceContext:
    """What a volume source needs to produce its files: the pod, where to read objects, and the volume."""
    pod: dict[str, Any]
    namespace: str
    lookup: Lookup
    volume: str                   # the volume's name, for error messages
    default_mode: int
    pod_ip: str = ""
    host_ip: str = ""
    client: Any = None            # the node's API client, for sources that must ask the API (a token request)


def _selected(data: dict[str, bytes], items: list[dict[str, Any]] | None, ctx: SourceContext, label: str,
              optional: bool) -> Files:
    """Every key as a file of the same name, or just ``items`` (key -> path, with their own ``mode``)."""
    if not items:
        return {key: (value, ctx.default_mode) for key, value in data.items()}
    chosen: Files = {}
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if optional:
                continue
            raise MountError(f'MountVolume.SetUp failed for volume "{ctx.volume}" : configmap references '
                             f"non-existent config key: {key}" if label == "configmap" else
                             f'MountVolume.SetUp failed for volume "{ctx.volume}" : references non-existent '
                             f"secret key: {key}")
        mode = item.get("mode")
        chosen[str(item.get("path") or key)] = (data[key], ctx.default_mode if mode is None else int(mode))
    return chosen


def _object_files(kind: str, source: dict[str, Any], ctx: SourceContext) -> Files:
    """The files of a ConfigMap or Secret source; a missing object is an error unless ``optional``."""
    label = "configmap" if kind == "configmaps" else "secret"
    object_name = str((source.get("secretName") if "secretName" in source else source.get("name")) or "")
    obj = ctx.lookup(kind, ctx.namespace, object_name)
    optional = bool(source.get("optional"))
    if obj is None:
        if not optional:
            raise MountError(f'MountVolume.SetUp failed for volume "{ctx.volume}" : {label} "{object_name}" '
                             "not found")
        return {}
    if kind == "secrets":
        data = {str(k): base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
    else:
        data = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
        data.update({str(k): base64.b64decode(str(v)) for k, v in (obj.get("binaryData") or {}).items()})
    return _selected(data, source.get("items"), ctx, label, optional)


def _downward_files(source: dict[str, Any], ctx: SourceContext) -> Files:
    files: Files = {}
    for item in source.get("items") or []:
        ref = item.get("fieldRef")
        if isinstance(ref, dict):
            value = field_value(ctx.pod, str(ref.get("fieldPath", "")), ctx.pod_ip, ctx.host_ip)
            mode = item.get("mode")
            files[str(item.get("path"))] = ((value + ("\n" if "\n" in value else "")).encode(),
                                            ctx.default_mode if mode is None else int(mode))
    return files


# A projected volume's sources, one function per source type: each returns the files its source
# contributes. Another module adds its own (the ServiceAccount token) with register_projected_source.
ProjectedSource = Callable[[dict[str, Any], SourceContext], Files]
def _projected_configmap(source: dict[str, Any], ctx: SourceContext) -> Files:
    # The root CA is published only once the cluster serves HTTPS (Cluster.serve(), minik8s server):
    # before that, an in-process cluster has no CA, and the token volume simply has no ca.crt.
    if source.get("name") == ROOT_CA_CONFIGMAP and ctx.lookup("configmaps", ctx.namespace, ROOT_CA_CONFIGMAP) is None:
        return {}
    return _object_files("configmaps", source, ctx)


def _projected_token(source: dict[str, Any], ctx: SourceContext) -> Files:
    """A ServiceAccount token bound to the pod, from the kubelet's token manager (through ``lookup``)."""
    account = str((ctx.pod.get("spec") or {}).get("serviceAccountName") or "default")
    answer = ctx.lookup("serviceaccounts/token", ctx.namespace, account,  # type: ignore[call-arg]
                        {"pod": ctx.pod, "source": source})
    return {str(source.get("path") or "token"): (str((answer or {}).get("token") or "").encode(), ctx.default_mode)}


ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
PROJECTED_SOURCES: dict[str, ProjectedSource] = {
    "configMap": _projected_configmap,
    "secret": lambda source, ctx: _object_files("secrets", source, ctx),
    "downwardAPI": _downward_files,
    "serviceAccountToken": _projected_token,
}


def register_projected_source(kind: str, produce: ProjectedSource) -> None:
    """Let a projected volume's ``sources[].<kind>`` produce files with ``produce(source, ctx)``."""
    PROJECTED_SOURCES[kind] = produce


def _projected_files(source: dict[str, Any], ctx: SourceContext) -> Files:
    files: Files = {}
    for entry in source.get("sources") or []:
        for kind, produce in PROJECTED_SOURCES.items():
            if isinstance(entry, dict) and isinstance(entry.get(kind), dict):
                files.update(produce(entry[kind], ctx))
    return files


def _timestamped_name(now_ns: int) -> str:
    """``..2026_12_05_16_00_00.123456789``: the folder one generation of the files lives in."""
    seconds, nanos = divmod(now_ns, 1_000_000_000)
    return "..%s.%09d" % (time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime(seconds)), nanos)


def _current_files(folder: Path) -> Files | None:
    """The files the ``..data`` link points at now (None if there is no generation yet)."""
    link = folder / DATA_LINK
    if not link.is_symlink():
        return None
    generation = folder / os.readlink(link)
    files: Files = {}
    for path in generation.rglob("*"):
        if path.is_file():
            files[str(path.relative_to(generation))] = (path.read_bytes(), path.stat().st_mode & 0o777)
    return files


def write_atomically(folder: Path, files: Files, volume: str) -> bool:
    """Publish ``files`` in ``folder`` as upstream's atomic writer does; False if nothing changed.

    The files go into a new timestamped folder; a temporary symlink to it is renamed over
    ``..data`` (one rename: a reader sees the old generation or the new one, never a mix);
    each user-visible name is a symlink ``name -> ..data/name``; the old generation is removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {posixpath.normpath(path).lstrip("/"): file for path, file in files.items()}
    for path in wanted:
        if path.startswith("..") or not _inside(folder / path, folder):
            raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : invalid path {path}')
    if _current_files(folder) == wanted:
        return False
    old = os.readlink(folder / DATA_LINK) if (folder / DATA_LINK).is_symlink() else None
    generation = folder / _timestamped_name(time.time_ns())
    generation.mkdir(mode=0o755)
    for path, (content, mode) in wanted.items():
        target = generation / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode & 0o777)
    temporary = folder / "..data_tmp"
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(generation.name)
    os.replace(temporary, folder / DATA_LINK)
    visible = {path.split("/", 1)[0] for path in wanted}
    for name in visible:
        link = folder / name
        if not link.is_symlink():
            link.symlink_to(f"{DATA_LINK}/{name}")
    for entry in folder.iterdir():
        if not entry.name.startswith("..") and entry.name not in visible and entry.is_symlink():
            entry.unlink()  # a key removed from the ConfigMap disappears from the volume
    if old and old != generation.name:
        shutil.rmtree(folder / old, ignore_errors=True)
    return True


def _claim_volume(name: str, source: dict[str, Any], namespace: str, node_root: Path, lookup: Lookup) -> Path:
    claim_name = str(source.get("claimName") or "")
    claim = lookup("persistentvolumeclaims", namespace, claim_name)
    if claim is None:
        raise MountError(f'persistentvolumeclaim "{claim_name}" not found')
    volume_name = (claim.get("spec") or {}).get("volumeName")
    if not volume_name or (claim.get("status") or {}).get("phase") not in (None, "Bound"):
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : PVC {namespace}/{claim_name} '
                         "has not been bound")
    volume = lookup("persistentvolumes", "", str(volume_name))
    if volume is None:
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : persistentvolume "{volume_name}" not found')
    spec = volume.get("spec") or {}
    path = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
    if not path:
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : the process runtime can only mount '
                         "hostPath and local PersistentVolumes")
    target = node_path(node_root, str(path))
    if not target.exists():
        target.mkdir(parents=True, exist_ok=True)
        target.chmod(0o777)   # as the hostPath provisioners (minikube's, kind's local-path) make it
    return target


# The volume kinds the atomic writer publishes, and the kubelet's plugin folder for each.
_ATOMIC_KINDS = {"configMap": "kubernetes.io~configmap", "secret": "kubernetes.io~secret",
                 "downwardAPI": "kubernetes.io~downward-api", "projected": "kubernetes.io~projected"}
_ATOMIC_SOURCES: dict[str, ProjectedSource] = {
    "configMap": lambda source, ctx: _object_files("configmaps", source, ctx), "secret": PROJECTED_SOURCES["secret"],
    "downwardAPI": _downward_files, "projected": _projected_files}


def volume_files(pod: dict[str, Any], volume: dict[str, Any], lookup: Lookup, *, pod_ip: str = "",
                 host_ip: str = "", client: Any = None) -> Files | None:
    """The files of a ConfigMap, Secret, downward API or projected volume (None for other kinds).
    Raises :class:`MountError` with the kubelet's FailedMount message when a source is missing."""
    kind = next((kind for kind in _ATOMIC_KINDS if isinstance(volume.get(kind), dict)), None)
    if kind is None:
        return None
    source = volume[kind]
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    mode = source.get("defaultMode")
    ctx = SourceContext(pod, namespace, lookup, str(volume.get("name", "")), 0o644 if mode is None else int(mode),
                        pod_ip, host_ip, client)
    return _ATOMIC_SOURCES[kind](source, ctx)


def prepare_volumes(pod: dict[str, Any], pod_dir: Path, node_root: Path, lookup: Lookup, *, pod_ip: str,
                    host_ip: str, client: Any = None) -> dict[str, Path]:
    """Set up every volume of the pod (idempotent: ConfigMap and Secret files are refreshed)."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    result: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        if isinstance(volume.get("hostPath"), dict):
            result[name] = _host_path_volume(name, volume["hostPath"], node_root)
        elif isinstance(volume.get("persistentVolumeClaim"), dict):
            result[name] = _claim_volume(name, volume["persistentVolumeClaim"], namespace, node_root, lookup)
        elif isinstance(volume.get("ephemeral"), dict):
            # A generic ephemeral volume is the claim <pod>-<volume> the ephemeral volume controller made.
            pod_name = (pod.get("metadata") or {}).get("name", "")
            result[name] = _claim_volume(name, {"claimName": f"{pod_name}-{name}"}, namespace, node_root, lookup)
        elif (files := volume_files(pod, volume, lookup, pod_ip=pod_ip, host_ip=host_ip, client=client)) is not None:
            kind = next(kind for kind in _ATOMIC_KINDS if isinstance(volume.get(kind), dict))
            folder = pod_dir / "volumes" / _ATOMIC_KINDS[kind] / name
            write_atomically(folder, files, name)
            result[name] = folder
        else:
            # emptyDir, and any kind this runtime cannot provide, is an empty folder that lives with the pod.
            folder = pod_dir / "volumes" / "kubernetes.io~empty-dir" / name
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o777)   # as upstream: any user of any container of the pod may write
            result[name] = folder
    return result


# How many directory entries one size walk of an emptyDir may look at: the eviction manager's pass stays
# cheap on a huge folder (what lies beyond is not counted).
SIZE_WALK_ENTRIES = 10_000


def empty_dir_sizes(pod: dict[str, Any], pod_dir: Path) -> dict[str, int]:
    """Bytes in each of the pod's emptyDir folders that has a ``sizeLimit`` (a bounded, du-like walk
    of file sizes, symlinks not followed): what the eviction manager compares with the limit."""
    sizes: dict[str, int] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        if isinstance(volume.get("emptyDir"), dict) and volume["emptyDir"].get("sizeLimit") is not None:
            name = str(volume.get("name", ""))
            sizes[name] = _folder_size(pod_dir / "volumes" / "kubernetes.io~empty-dir" / name)
    return sizes


def _folder_size(folder: Path) -> int:
    total, seen, pending = 0, 0, [folder]
    while pending and seen < SIZE_WALK_ENTRIES:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries[:SIZE_WALK_ENTRIES - seen]:
            seen += 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue   # gone meanwhile
    return total


READ_ONLY_KINDS = ("configMap", "secret", "downwardAPI", "projected")   # upstream mounts these read-only


def read_only_paths(pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """The ``mountPath`` of every mount the container may not write: ``readOnly: true``, or a
    ConfigMap, Secret or downward API volume (read-only whatever the mount says, as upstream)."""
    kinds = {str(v.get("name", "")): v for v in (pod.get("spec") or {}).get("volumes") or []}
    return {str(m.get("mountPath", "")) for m in container.get("volumeMounts") or []
            if m.get("readOnly") or any(k in kinds.get(str(m.get("name", "")), {}) for k in READ_ONLY_KINDS)}


def _subpath_snapshot(source: Path, volume: Path, container: str, index: int) -> Path:
    """A ``subPath`` into an atomically written volume, fixed as the container starts.

    Upstream bind-mounts the file the path resolves to *now*; the next generation of the
    volume is a new file, so the container never sees an update (until it restarts). With
    no bind mounts to make, the runtime copies the file, to the same place upstream's
    kubelet keeps its subPath mounts: ``<pod>/volume-subpaths/<volume>/<container>/<index>``.
    """
    target = volume.parents[2] / "volume-subpaths" / volume.name / container / str(index)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)
    elif source.exists():
        shutil.copy2(source, target)
    else:
        target.mkdir()  # a key that is not there: an empty folder, as a missing subPath gets
    return target


def volume_mounts(container: dict[str, Any], volumes: dict[str, Path]) -> list[tuple[str, str]]:
    """The container's ``volumeMounts`` as (container path, host path) pairs; ``subPath`` honoured."""
    table = []
    for index, mount in enumerate(container.get("volumeMounts") or []):
        name = str(mount.get("name", ""))
        if name not in volumes:
            raise MountError(f'unable to find volume "{name}" for container "{container.get("name", "")}"')
        host = volumes[name]
        sub = str(mount.get("subPath") or "")
        if sub:
            host = host / posixpath.normpath(sub).lstrip("/")
            if not _inside(host, volumes[name]):
                # A symlink a container made inside the volume must not open the node's files. Upstream's
                # kubelet words it vaguely on purpose: the details would tell about the host's filesystem.
                raise ContainerConfigError(f'failed to prepare subPath for volumeMount "{name}" of container '
                                           f'"{container.get("name", "")}"')
            if (volumes[name] / DATA_LINK).is_symlink():
                host = _subpath_snapshot(host, volumes[name], str(container.get("name", "")), index)
            elif not host.exists():
                host.mkdir(parents=True, exist_ok=True)
        table.append((str(mount.get("mountPath", "")), str(host)))
    return table

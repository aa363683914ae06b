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
    volume_mounts(container, volumes) -> [(mountPath, host path)];  read_only_paths(pod, container)

Invariant: a volume folder is always inside the pod's folder or the node's filesystem.
Taught in chapter 5 (Pods: what a container is) and chapter 10 (volumes).
"""

from __future__ import annotations

import base64
import json
import os
import posixpath
import re
from pathlib import Path
from typing import Any

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
    if kind in ("", "DirectoryOrCreate") and not target.exists():
        target.mkdir(parents=True, exist_ok=True)   # "" is "no check"; a folder is what people mean
    elif kind == "FileOrCreate" and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    elif kind == "Directory" and not target.is_dir():
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: '
                         f"{path} is not a directory")
    elif kind == "File" and not target.is_file():
        raise MountError(f'MountVolume.SetUp failed for volume "{name}" : hostPath type check failed: '
                         f"{path} is not a file")
    return target


def _write_items(folder: Path, data: dict[str, bytes], items: list[dict[str, Any]] | None, mode: int,
                 volume: str, label: str, optional: bool) -> None:
    """ConfigMap/Secret/downwardAPI files: every key, or just ``items`` at their ``path``."""
    folder.mkdir(parents=True, exist_ok=True)
    chosen: list[tuple[str, bytes, int]] = []
    if items:
        for item in items:
            key = str(item.get("key", ""))
            if key not in data:
                if optional:
                    continue
                raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : configmap references '
                                 f"non-existent config key: {key}" if label == "configmap" else
                                 f'MountVolume.SetUp failed for volume "{volume}" : references non-existent '
                                 f"secret key: {key}")
            chosen.append((str(item.get("path") or key), data[key], int(item.get("mode") or mode)))
    else:
        chosen = [(key, value, mode) for key, value in data.items()]
    wanted = set()
    for relative, value, file_mode in chosen:
        target = folder / posixpath.normpath(relative).lstrip("/")
        if not _inside(target.parent if not target.exists() else target, folder):
            raise MountError(f'MountVolume.SetUp failed for volume "{volume}" : invalid path {relative}')
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(value)
        temporary.chmod(file_mode & 0o777)
        os.replace(temporary, target)  # a reader sees the old file or the new one, never half
        wanted.add(target)
    for old in folder.rglob("*"):
        if old.is_file() and old not in wanted:
            old.unlink()  # a key removed from the ConfigMap disappears from the volume


def _object_volume(kind: str, name: str, source: dict[str, Any], folder: Path, namespace: str,
                   lookup: Lookup) -> None:
    label = "configmap" if kind == "configmaps" else "secret"
    object_name = str(source.get("name") if kind == "configmaps" else source.get("secretName") or "")
    obj = lookup(kind, namespace, object_name)
    optional = bool(source.get("optional"))
    if obj is None:
        if not optional:
            raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {label} "{object_name}" not found')
        folder.mkdir(parents=True, exist_ok=True)
        return
    data: dict[str, bytes] = {}
    if kind == "secrets":
        data = {str(k): base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
        data.update({str(k): str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    else:
        data = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
        data.update({str(k): base64.b64decode(str(v)) for k, v in (obj.get("binaryData") or {}).items()})
    mode = int(source.get("defaultMode") or 0o644)
    _write_items(folder, data, source.get("items"), mode, name, label, optional)


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


def _downward_volume(name: str, source: dict[str, Any], folder: Path, pod: dict[str, Any], pod_ip: str,
                     host_ip: str) -> None:
    data: dict[str, bytes] = {}
    items = []
    for item in source.get("items") or []:
        ref = item.get("fieldRef")
        if isinstance(ref, dict):
            value = field_value(pod, str(ref.get("fieldPath", "")), pod_ip, host_ip)
            data[str(item.get("path"))] = (value + ("\n" if "\n" in value else "")).encode()
            items.append({"key": str(item.get("path")), "path": str(item.get("path")), "mode": item.get("mode")})
    _write_items(folder, data, items, int(source.get("defaultMode") or 0o644), name, "downwardAPI", True)


def _projected_volume(name: str, projected: dict[str, Any], folder: Path, pod: dict[str, Any], namespace: str,
                      lookup: Lookup, pod_ip: str, host_ip: str) -> None:
    """Several sources in one folder: ConfigMap and Secret keys, downward API fields, and a
    ServiceAccount token (asked from the API through ``lookup("serviceaccounts/token", ...)``,
    the kubelet's token manager, :mod:`minik8s.kubelet.tokens`)."""
    files: dict[str, bytes] = {}
    for source in projected.get("sources") or []:
        if isinstance(source.get("serviceAccountToken"), dict):
            token = source["serviceAccountToken"]
            sa = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
            answer = lookup("serviceaccounts/token", namespace, sa, {"pod": pod, "source": token})  # type: ignore[call-arg]
            files[str(token.get("path") or "token")] = str((answer or {}).get("token") or "").encode()
        for kind, key in (("configMap", "configmaps"), ("secret", "secrets")):
            if not isinstance(source.get(kind), dict):
                continue
            ref = source[kind]
            obj = lookup(key, namespace, str(ref.get("name") or ""))
            if obj is None:
                # A cluster that does not serve HTTPS (no Cluster.serve()) has no CA to publish: no ca.crt.
                if ref.get("optional") or (kind == "configMap" and ref.get("name") == "kube-root-ca.crt"):
                    continue
                raise MountError(f'MountVolume.SetUp failed for volume "{name}" : {kind.lower()} '
                                 f'"{ref.get("name")}" not found')
            if kind == "secret":
                data = {str(k): base64.b64decode(str(v)) for k, v in (obj.get("data") or {}).items()}
            else:
                data = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
            items = ref.get("items") or [{"key": k, "path": k} for k in data]
            files.update({str(i.get("path")): data[str(i.get("key"))] for i in items if str(i.get("key")) in data})
        if isinstance(source.get("downwardAPI"), dict):
            for item in source["downwardAPI"].get("items") or []:
                ref = item.get("fieldRef")
                if isinstance(ref, dict):
                    files[str(item.get("path"))] = field_value(pod, str(ref.get("fieldPath", "")), pod_ip,
                                                               host_ip).encode()
    _write_items(folder, files, None, int(projected.get("defaultMode") or 0o644), name, "projected", True)


def prepare_volumes(pod: dict[str, Any], pod_dir: Path, node_root: Path, lookup: Lookup, *, pod_ip: str,
                    host_ip: str) -> dict[str, Path]:
    """Set up every volume of the pod (idempotent: ConfigMap and Secret files are refreshed)."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    result: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        if isinstance(volume.get("hostPath"), dict):
            result[name] = _host_path_volume(name, volume["hostPath"], node_root)
        elif isinstance(volume.get("persistentVolumeClaim"), dict):
            result[name] = _claim_volume(name, volume["persistentVolumeClaim"], namespace, node_root, lookup)
        elif isinstance(volume.get("configMap"), dict):
            folder = pod_dir / "volumes" / "kubernetes.io~configmap" / name
            _object_volume("configmaps", name, volume["configMap"], folder, namespace, lookup)
            result[name] = folder
        elif isinstance(volume.get("secret"), dict):
            folder = pod_dir / "volumes" / "kubernetes.io~secret" / name
            _object_volume("secrets", name, volume["secret"], folder, namespace, lookup)
            result[name] = folder
        elif isinstance(volume.get("downwardAPI"), dict):
            folder = pod_dir / "volumes" / "kubernetes.io~downward-api" / name
            _downward_volume(name, volume["downwardAPI"], folder, pod, pod_ip, host_ip)
            result[name] = folder
        elif isinstance(volume.get("projected"), dict):
            folder = pod_dir / "volumes" / "kubernetes.io~projected" / name
            _projected_volume(name, volume["projected"], folder, pod, namespace, lookup, pod_ip, host_ip)
            result[name] = folder
        else:
            # emptyDir, and any kind this runtime cannot provide, is an empty folder that lives with the pod.
            folder = pod_dir / "volumes" / "kubernetes.io~empty-dir" / name
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o777)   # as upstream: any user of any container of the pod may write
            result[name] = folder
    return result


READ_ONLY_KINDS = ("configMap", "secret", "downwardAPI", "projected")   # upstream mounts these read-only


def read_only_paths(pod: dict[str, Any], container: dict[str, Any]) -> set[str]:
    """The ``mountPath`` of every mount the container may not write: ``readOnly: true``, or a
    ConfigMap, Secret or downward API volume (read-only whatever the mount says, as upstream)."""
    kinds = {str(v.get("name", "")): v for v in (pod.get("spec") or {}).get("volumes") or []}
    return {str(m.get("mountPath", "")) for m in container.get("volumeMounts") or []
            if m.get("readOnly") or any(k in kinds.get(str(m.get("name", "")), {}) for k in READ_ONLY_KINDS)}


def volume_mounts(container: dict[str, Any], volumes: dict[str, Path]) -> list[tuple[str, str]]:
    """The container's ``volumeMounts`` as (container path, host path) pairs; ``subPath`` honoured."""
    table = []
    for mount in container.get("volumeMounts") or []:
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
            if not host.exists():
                host.mkdir(parents=True, exist_ok=True)
        table.append((str(mount.get("mountPath", "")), str(host)))
    return table

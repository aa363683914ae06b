"""``minik8s image build``: a Dockerfile subset, turned into an image without a container engine.

A Dockerfile is a list of instructions, each adding a layer (files) or changing the
config (what runs, with which environment, where). This builder accepts:

=============== ===================================================================
``FROM``        a built-in image (nginx, busybox, python, ...) or an image in the store
``COPY``        files or folders from the build context (one layer per COPY)
``ENV``         ``ENV K=V [K2=V2]`` or ``ENV K V``
``WORKDIR``     the working directory (relative to the previous one)
``EXPOSE``      ports (documentation, as in Docker)
``CMD``         JSON (exec) form or shell form (``/bin/sh -c ...``)
``ENTRYPOINT``  the same; setting it clears a CMD inherited from the base image
``LABEL``       ``LABEL k=v``
``ARG``         build arguments with defaults, ``${NAME}`` substituted afterwards
=============== ===================================================================

Anything else (``RUN``, ``ADD``, ``USER``, a second ``FROM``...) is refused with its line
number: nothing can run at build time here, so a build either means exactly what
Docker would make of it or fails.

A ``.dockerignore`` file in the context leaves files out of every ``COPY``, as Docker
leaves them out of the context it sends: one pattern a line (``*``, ``?``, ``**``), ``#``
comments, ``!`` for exceptions, the last matching line wins, and a pattern that matches a
folder leaves out everything in it.

Interface:
    image_id, lines = build(context_dir, tags=["app:1.0"], store=ImageStore(...), dockerfile=None)

Taught in chapter 6 (building images).
"""

from __future__ import annotations

import glob
import io
import json
import os
import posixpath
import re
import shlex
import tarfile
import time
from pathlib import Path
from typing import Any

from minik8s.images import builtin, reference
from minik8s.images.store import ImageStore

SUPPORTED = ("FROM", "COPY", "ENV", "WORKDIR", "EXPOSE", "CMD", "ENTRYPOINT", "LABEL", "ARG")
WHY_NOT = {
    "RUN": "nothing can execute at build time in minik8s; COPY the files your program needs instead",
    "ADD": "use COPY (ADD's URL downloads and archive unpacking are not supported)",
}


class BuildError(Exception):
    """The Dockerfile is wrong or asks for something this builder does not do."""


def parse(text: str) -> list[tuple[int, str, str]]:
    """(line number, INSTRUCTION, arguments) for each instruction; continuation lines joined."""
    result: list[tuple[int, str, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        word, _, rest = full.partition(" ")
        result.append((start, word.upper(), rest.strip()))
    if pending:
        result.append((start, pending.split(" ", 1)[0].upper(), pending.partition(" ")[2].strip()))
    return result


def _command(args: str) -> list[str]:
    """CMD/ENTRYPOINT: a JSON array is the exec form; anything else runs with ``/bin/sh -c``."""
    if args.startswith("["):
        try:
            value = json.loads(args)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", args]


def _pairs(args: str, line: int, keyword: str) -> dict[str, str]:
    words = shlex.split(args)
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise BuildError(f"dockerfile parse error on line {line}: {keyword} must have two arguments")
        return {words[0]: args.split(None, 1)[1].strip()}
    pairs = {}
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise BuildError(f"dockerfile parse error on line {line}: {keyword} names can not be blank")
        pairs[key] = value
    return pairs


def _substitute(text: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: variables.get(m.group(1) or m.group(2), ""), text)


def build(context: Path, tags: list[str], store: ImageStore, dockerfile: Path | None = None) -> tuple[str, list[str]]:
    """Build the image and tag it; returns (image ID, what the build printed)."""
    context = Path(context).resolve()
    path = dockerfile or context / "Dockerfile"
    if not path.is_file():
        raise BuildError(f"failed to read dockerfile: open {path}: no such file or directory")
    for tag in tags:
        reference.parse(tag)
    steps = parse(path.read_text())
    ignore = read_dockerignore(context)
    if not steps or steps[0][1] not in ("FROM", "ARG"):
        raise BuildError("failed to solve: the Dockerfile must begin with a FROM instruction")
    config: dict[str, Any] | None = None
    paths: set[str] = set()
    folders: set[str] = {"/"}   # folders the image has so far: a COPY into one keeps the file's name
    lines: list[str] = []
    variables: dict[str, str] = {}
    for index, (line, word, args) in enumerate(steps, 1):
        lines.append(f"Step {index}/{len(steps)} : {word} {args}")
        if word not in SUPPORTED:
            why = WHY_NOT.get(word, "use only " + ", ".join(SUPPORTED))
            known = word in WHY_NOT or word in ("USER", "VOLUME", "SHELL", "HEALTHCHECK", "ONBUILD", "STOPSIGNAL")
            kind = "unsupported instruction" if known else "unknown instruction"
            raise BuildError(f"dockerfile parse error on line {line}: {kind}: {word}: {why}")
        if word == "ARG":
            name, _, default = args.partition("=")
            variables.setdefault(name.strip(), default.strip())
            continue
        args = _substitute(args, variables) if word not in ("CMD", "ENTRYPOINT") else args
        if word == "FROM":
            if config is not None:
                raise BuildError(f"dockerfile parse error on line {line}: multi-stage builds (a second FROM) "
                                 "are not supported")
            config, base_paths = _base(args.split()[0] if args else "", store, line)
            paths |= base_paths
            folders |= {p for p in base_paths if any(q.startswith(p.rstrip("/") + "/") for q in base_paths)}
            folders.add(config["config"].get("WorkingDir") or "/")
            continue
        assert config is not None
        inner = config["config"]
        if word == "COPY":
            digest, dest, into_folder = _copy(context, args, inner.get("WorkingDir") or "/", folders, store, line,
                                              ignore)
            config["rootfs"]["diff_ids"].append(digest)
            paths.add(dest)
            if into_folder:
                folders.add(dest)
        elif word == "ENV":
            env = dict(e.split("=", 1) for e in inner.get("Env") or [])
            env.update(_pairs(args, line, "ENV"))
            inner["Env"] = [f"{k}={v}" for k, v in env.items()]
        elif word == "WORKDIR":
            workdir = posixpath.normpath(posixpath.join(inner.get("WorkingDir") or "/", args))
            inner["WorkingDir"] = workdir
            paths.add(workdir)
            folders.add(workdir)
        elif word == "EXPOSE":
            for port in args.split():
                number, _, proto = port.partition("/")
                if not number.isdigit():
                    raise BuildError(f"dockerfile parse error on line {line}: invalid containerPort: {port}")
                inner.setdefault("ExposedPorts", {})[f"{number}/{proto or 'tcp'}"] = {}
        elif word == "CMD":
            inner["Cmd"] = _command(args)
        elif word == "ENTRYPOINT":
            inner["Entrypoint"] = _command(args)
            inner["Cmd"] = None  # Docker resets an inherited CMD when ENTRYPOINT is set
        elif word == "LABEL":
            inner.setdefault("Labels", {}).update(_pairs(args, line, "LABEL"))
        config.setdefault("history", []).append({"created_by": f"{word} {args}"})
    assert config is not None
    config["config"]["Labels"][builtin.LABEL_PATHS] = json.dumps(sorted(paths))
    config["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    image_id = store.add(config, [reference.parse(t).canonical for t in tags])
    lines.append(f"Successfully built {image_id.split(':')[1][:12]}")
    lines += [f"Successfully tagged {reference.parse(t).familiar}" for t in tags]
    return image_id, lines


def _base(name: str, store: ImageStore, line: int) -> tuple[dict[str, Any], set[str]]:
    """The config to start from, copied (so the base image is never changed)."""
    try:
        ref = reference.parse(name)
    except reference.InvalidReference as exc:
        raise BuildError(f"dockerfile parse error on line {line}: {exc}") from None
    known = builtin.lookup(ref)
    if known is not None:
        config = known.config()
    else:
        image_id = store.resolve(ref.canonical)
        if image_id is None:
            raise BuildError(f'failed to solve: {ref.familiar}: image not found: FROM must name a built-in image '
                             f'({builtin.available()}) or an image built or pulled on this machine')
        config = store.config(image_id)
    config = json.loads(json.dumps(config))
    labels = config["config"].setdefault("Labels", {}) or {}
    config["config"]["Labels"] = labels
    paths = set(json.loads(labels.get(builtin.LABEL_PATHS, "[]")))
    config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    return config, paths


def read_dockerignore(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """The rules of ``context/.dockerignore``: (is an exception, pattern), in file order."""
    path = context / ".dockerignore"
    if not path.is_file():
        return []
    rules = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        pattern = posixpath.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((exception, re.compile(_translate(pattern))))
    return rules


def _translate(pattern: str) -> str:
    """A .dockerignore pattern as a regular expression (Go's filepath.Match, plus ``**``)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out, i = out + "[" + body.replace("\\", "\\\\") + "]", end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether ``relative`` (a path inside the context) is left out: the last rule that matches it, or
    one of its parent folders, decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    verdict = False
    for exception, pattern in rules:
        if any(pattern.fullmatch(c) for c in candidates):
            verdict = not exception
    return verdict


def _copy(context: Path, args: str, workdir: str, folders: set[str], store: ImageStore,
          line: int, ignore: list[tuple[bool, re.Pattern[str]]]) -> tuple[str, str, bool]:
    """One COPY: a layer tar with the files at their container paths.
    Returns (digest, destination, whether the destination is a folder)."""
    words = [w for w in shlex.split(args) if not w.startswith("--")]
    if len(words) < 2:
        raise BuildError(f"dockerfile parse error on line {line}: COPY requires at least two arguments")
    *sources, dest = words
    dest_path = posixpath.normpath(posixpath.join(workdir, dest))
    # As Docker: a destination ending in "/" (or "." / "..") or an existing folder receives files by name.
    as_folder = (dest.endswith("/") or posixpath.basename(dest) in (".", "..") or dest_path in folders
                 or len(sources) > 1)
    files: list[Path] = []
    for source in sources:
        matches = sorted(glob.glob(str(context / source))) if any(c in source for c in "*?[") else [str(context / source)]
        for match in matches:
            resolved = Path(match).resolve()
            if resolved != context and context not in resolved.parents:
                raise BuildError(f"COPY failed: forbidden path outside the build context: {source} ()")
            inside = resolved.relative_to(context).as_posix()
            if not resolved.exists() or (inside != "." and ignored(inside, ignore)):
                if len(matches) > 1:
                    continue   # a wildcard simply does not match a file the context leaves out
                raise BuildError(f'failed to compute cache key: "/{source}" not found: not found')
            files.append(resolved)
            if resolved.is_dir() or len(matches) > 1:
                as_folder = True
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for source_path in files:
            if source_path.is_dir():
                # A folder's contents are copied, not the folder itself (as Docker does).
                for root, dirs, names in os.walk(source_path):
                    dirs.sort()
                    for name in sorted(names):
                        full = Path(root) / name
                        if ignore and ignored(full.relative_to(context).as_posix(), ignore):
                            continue
                        target = posixpath.join(dest_path, str(full.relative_to(source_path)))
                        _add(tar, full, target)
            else:
                target = posixpath.join(dest_path, source_path.name) if as_folder else dest_path
                _add(tar, source_path, target)
    return store.put_blob(buffer.getvalue()), dest_path, as_folder


def _add(tar: tarfile.TarFile, source: Path, target: str) -> None:
    info = tar.gettarinfo(str(source), arcname=target.lstrip("/"))
    # Reproducible layers: the same files give the same digest whoever builds them, whenever.
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    with open(source, "rb") as f:
        tar.addfile(info, f)

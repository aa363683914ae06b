"""The built-in teaching images of the ``process`` runtime.

A real image is a filesystem plus a config (entrypoint, command, environment,
working directory, exposed ports). minik8s cannot run Linux binaries from Docker
Hub without a container engine, so the ``process`` runtime ships a few images whose
programs are small Python programs (in this folder) or the host's own POSIX tools:

================== =========================================================== =========
image (any tag)    what runs                                                   port
================== =========================================================== =========
``nginx``          :mod:`.nginx`, a static web server over ``/usr/share/nginx/html`` 80
``busybox``        the host's ``/bin/sh`` and tools, plus a busybox-like ``wget``
``alpine``         the same as busybox (``/bin/sh``)
``python``         the host's Python interpreter (``python``, ``python3``)
``minik8s/kvstore`` :mod:`.kvstore`, a key-value store kept in ``/data``            8080
================== =========================================================== =========

Every image also has ``hostname`` (prints the pod name; ``-i`` the pod IP).

Interface:
    lookup(reference) -> Builtin | None       # by repository (the tag is not checked)
    BUILTINS                                  # name -> Builtin
    builtin.config()                          # the image config (OCI shape), digest-stable
    builtin.files                             # {container path: text} the image ships
    install_shims(folder, builtin, python=, at=, library=, site_packages=) -> Path
                                              # the folder of its executables and compiled programs,
                                              # made once per installation
    COMPILED, COMPILED_SITE                   # where in that folder the compiled programs and sitecustomize are

Taught in chapter 5 (Pods: images and containers).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import py_compile
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik8s.images.reference import Reference

HERE = Path(__file__).resolve().parent
SITE = HERE / "site"             # the sitecustomize that maps paths and addresses (first on PYTHONPATH)
COMPILED = ".compiled"           # the programs' byte-compiled copies in each folder of executables
COMPILED_SITE = f"{COMPILED}/site"  # and the sitecustomize's
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LABEL_BUILTIN = "io.minik8s.image.builtin"   # which built-in image an image is (or is built FROM)
LABEL_PATHS = "io.minik8s.image.paths"       # JSON list of the folders and files the image ships
SHIMS_VERSION = "6"                          # change when install_shims writes different scripts

NGINX_INDEX = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
<p>Served by pod <b><!--# echo var="hostname" --></b> at <!--# echo var="server_addr" -->.</p>
<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""

NGINX_50X = """<!DOCTYPE html>
<html>
<head><title>Error</title></head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
</body>
</html>
"""


@dataclass(frozen=True)
class Builtin:
    name: str                                   # repository: nginx, busybox, minik8s/kvstore
    cmd: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    workdir: str = ""
    programs: dict[str, str] = field(default_factory=dict)   # executable -> "python" | script in this folder
    files: dict[str, str] = field(default_factory=dict)      # container path -> content
    folders: tuple[str, ...] = ()                            # container folders it ships (may be empty)
    size: int = 0                                            # the size the real image has, for node.status

    def config(self) -> dict[str, Any]:
        """The image config, as ``docker inspect`` shows its ``Config`` part and an OCI config holds it."""
        paths = sorted(set(self.folders) | set(self.files))
        return {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": [f"PATH={PATH}", *self.env],
                "Cmd": list(self.cmd) or None,
                "Entrypoint": list(self.entrypoint) or None,
                "WorkingDir": self.workdir,
                "ExposedPorts": {f"{p}/tcp": {} for p in self.ports},
                "Labels": {LABEL_BUILTIN: self.name, LABEL_PATHS: json.dumps(paths)},
            },
            "rootfs": {"type": "layers", "diff_ids": []},
        }

    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(canonical_json(self.config())).hexdigest()


BUSYBOX_PROGRAMS = {"wget": "wget.py"}

BUILTINS: dict[str, Builtin] = {b.name: b for b in (
    Builtin("nginx", cmd=("nginx", "-g", "daemon off;"), env=("NGINX_VERSION=1.27.3",), ports=(80,),
            programs={"nginx": "nginx.py"},
            files={"/usr/share/nginx/html/index.html": NGINX_INDEX, "/usr/share/nginx/html/50x.html": NGINX_50X},
            folders=("/usr/share/nginx/html",), size=72_223_946),
    Builtin("busybox", cmd=("sh",), programs=BUSYBOX_PROGRAMS, size=2_156_518),
    Builtin("alpine", cmd=("/bin/sh",), programs=BUSYBOX_PROGRAMS, size=3_623_807),
    Builtin("python", cmd=("python3",), env=(f"PYTHON_VERSION={sys.version.split()[0]}",),
            programs={"python": "python", "python3": "python"}, size=412_418_312),
    Builtin("minik8s/kvstore", cmd=("kvstore",), env=("DATA_DIR=/data", "PORT=8080"), ports=(8080,),
            programs={"kvstore": "kvstore.py"}, folders=("/data",), size=18_432_000),
)}


def canonical_json(obj: Any) -> bytes:
    """The bytes a digest is taken of: sorted keys, no spaces (so the same config has the same digest)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def lookup(ref: Reference) -> Builtin | None:
    """The built-in image a reference names, on Docker Hub (any tag), or None."""
    if ref.registry != "docker.io":
        return None
    return BUILTINS.get(ref.repository.removeprefix("library/"))


def available() -> str:
    """The list that an unknown image's error message gives."""
    return ", ".join(sorted(BUILTINS))


@functools.cache
def _sources() -> str:
    """A digest of the programs and the sitecustomize: a folder of their compiled copies is keyed by it."""
    digest = hashlib.sha256()
    for path in sorted([SITE / "sitecustomize.py", *HERE.glob("*.py")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _compile(source: Path, target: Path) -> None:
    """Byte-compile a program for the interpreter that runs minik8s (the one its containers run). Written
    under a name of this process's own, then renamed: two clusters may install the same folder at once."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    py_compile.compile(str(source), cfile=str(temporary), dfile=source.name, doraise=True)
    os.replace(temporary, target)


def install_shims(folder: Path, builtin: Builtin, python: str = sys.executable, at: str = "",
                  library: str = "", site_packages: str = "") -> Path:
    """Write the image's executables (small sh scripts that exec Python) under ``folder``, once.

    ``python`` is the interpreter's path as the container sees it (the host's, or the one a contained
    container is given), ``at`` where the container sees the folder made here (where it is, unless
    given); ``library`` a folder for the interpreter's shared library; ``site_packages`` the packages
    of the virtual environment minik8s runs in, which the ``python`` image's interpreter (the
    environment's base) would not see otherwise. The scripts name them, so the folder is keyed by
    them: two installations never run each other's code.

    The built-in programs and the runtime's sitecustomize (at ``COMPILED_SITE``) are byte-compiled
    into the folder: a container's Python would otherwise compile their source at every start (a
    container may not write ``__pycache__``), which costs each container about 10 ms of CPU and 1.2 MiB
    of memory it keeps."""
    key = hashlib.sha256("\0".join((python, at, library, site_packages, SHIMS_VERSION, _sources())).encode())
    target = folder / key.hexdigest()[:16] / builtin.name.replace("/", "_")
    marker = target / ".complete"
    if marker.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    seen_at = at or str(target)
    _compile(SITE / "sitecustomize.py", target / COMPILED_SITE / "sitecustomize.pyc")
    interpreter = shlex.quote(python)
    # An interpreter moved away from where it was built finds its libpython here, not the system's.
    prelude = f"export LD_LIBRARY_PATH={shlex.quote(library)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}\n" if library else ""
    scripts = {"hostname": '[ "$1" = "-i" ] && echo "${MINIK8S_POD_IP}" || echo "${HOSTNAME}"'}
    for name, program in builtin.programs.items():
        if program == "python":
            extra = (f'export PYTHONPATH="${{PYTHONPATH:+$PYTHONPATH:}}"{shlex.quote(site_packages)}\n'
                     if site_packages else "")
            scripts[name] = f'{extra}exec {interpreter} "$@"'
        else:
            # A built-in program needs the standard library only: ``-S`` skips the ``site`` module and the
            # host's site-packages (their .pth hooks alone cost tens of milliseconds and megabytes per
            # container); the program imports the runtime's sitecustomize itself, first thing.
            compiled = f"{COMPILED}/{Path(program).stem}.pyc"
            _compile(HERE / program, target / compiled)
            scripts[name] = f'exec {interpreter} -S {shlex.quote(seen_at + "/" + compiled)} "$@"'
    for name, body in scripts.items():
        path = target / name
        temporary = path.with_name(f".{name}.{os.getpid()}.tmp")  # two clusters may install at once
        temporary.write_text(f"#!/bin/sh\n{prelude if name != 'hostname' else ''}{body}\n")
        temporary.chmod(0o755)
        os.replace(temporary, path)
    marker.touch()
    return target

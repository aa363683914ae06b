"""Interactive exec in simulated containers: ``kubectl exec -i``, ``-t`` and ``kubectl cp`` without processes.

A simulated container has no processes to give a terminal to, so the programs people use
interactively are played here, reading the client's stdin as it comes:

* ``cat`` (no files): stdin back to stdout until its end;
* ``sh`` (``bash``, ``ash``) without ``-c``: one line of stdin at a time, each run by the simulated
  shell (:func:`minik8s.kubelet.runtimes.simshell.run_now`) against the container's files, until
  ``exit`` or the end of stdin; with a terminal it prompts ``$ `` and echoes what is typed, as a
  terminal's line discipline would;
* ``tar`` for ``kubectl cp``: ``tar cf - PATH`` writes the container's files under PATH as a tar
  stream, ``tar -xmf - [-C DIR]`` stores a tar stream's regular files into the container's files.
  Bounded: at most :data:`MAX_ENTRIES` entries of at most :data:`MAX_FILE_BYTES` each; a member
  whose path leaves DIR (``..``) is refused.

Anything else runs at once, as ``exec_sync`` would, and stdin is read and dropped.

Interface:
    handles(argv) -> bool        # a program only this module plays (tar)
    start(argv, fs, run, stdin=, tty=) -> ExecStream   # run(argv) -> (code, stdout, stderr)

Taught in chapter 5 (Pods: kubectl exec, cp and debug).
"""

from __future__ import annotations

import io
import os
import posixpath
import tarfile
import threading
from typing import BinaryIO, Callable, MutableMapping

from minik8s.kubelet.cri import ExecStream

MAX_ENTRIES = 10_000
MAX_FILE_BYTES = 16 << 20
MAX_LINE_BYTES = 64 * 1024
SHELLS = ("sh", "bash", "ash")

Run = Callable[[list[str]], tuple[int, str, str]]


def handles(argv: list[str]) -> bool:
    return bool(argv) and posixpath.basename(argv[0]) == "tar"


def start(argv: list[str], fs: MutableMapping[str, str], run: Run, *, stdin: bool, tty: bool) -> ExecStream:
    """Play ``argv`` on a thread of its own, its streams pipes (the terminal's single output with ``tty``)."""
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe() if not tty else (None, None)
    code: list[int] = []
    done = threading.Event()
    stop = threading.Event()

    def play() -> None:
        with os.fdopen(in_read, "rb") as source, os.fdopen(out_write, "wb", buffering=0) as out, \
                (os.fdopen(err_write, "wb", buffering=0) if err_write is not None else out) as err:
            try:
                code.append(_program(argv, fs, run, source, out, err, tty, stop))
            except (OSError, tarfile.TarError, ValueError) as exc:   # the client went away, or bad input
                with _quietly():
                    err.write(f"{posixpath.basename(argv[0])}: {exc}\n".encode())
                code.append(1)
            finally:
                done.set()

    threading.Thread(target=play, name="sim-exec", daemon=True).start()

    def wait() -> int:
        done.wait()
        return code[0]

    if not stdin:
        os.close(in_write)   # the program reads the end of its input at once
    # Killing ends the program at its next line; whoever holds stdin closes it (its end of input).
    return ExecStream(in_write if stdin else None, out_read, err_read, wait, stop.set)


class _quietly:
    """Ignore a write to a client that is gone."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def _program(argv: list[str], fs: MutableMapping[str, str], run: Run, source: io.BufferedReader, out: BinaryIO,
             err: BinaryIO, tty: bool, stop: threading.Event) -> int:
    name, args = posixpath.basename(argv[0]), argv[1:]
    newline = b"\r\n" if tty else b"\n"
    if name == "cat" and not args:
        while chunk := source.read1(MAX_LINE_BYTES):
            out.write(chunk.replace(b"\n", newline) if tty else chunk)
        return 0
    if name in SHELLS and "-c" not in args:
        return _shell(fs, run, source, out, err, tty, stop)
    if name == "tar":
        return _tar(args, fs, source, out, err)
    exit_code, stdout, stderr = run(argv)
    out.write(stdout.encode().replace(b"\n", newline) if tty else stdout.encode())
    err.write(stderr.encode().replace(b"\n", newline) if tty else stderr.encode())
    return exit_code


def _shell(fs: MutableMapping[str, str], run: Run, reader: io.BufferedReader, out: BinaryIO, err: BinaryIO, tty: bool,
           stop: threading.Event) -> int:
    """Read a line, run it, until ``exit`` or the end of input."""
    status = 0
    while not stop.is_set():
        if tty:
            out.write(b"$ ")
        line = reader.readline(MAX_LINE_BYTES)
        if not line or (tty and line.startswith(b"\x04")):
            return status
        text = line.decode(errors="replace").replace("\r", "").rstrip("\n")
        if tty:
            out.write(text.encode() + b"\r\n")   # the terminal's echo
        words = text.split()
        if words[:1] == ["exit"]:
            return int(words[1]) if len(words) > 1 and words[1].isdigit() else status
        if not words:
            continue
        status, stdout, stderr = run(["sh", "-c", text])
        out.write(stdout.encode().replace(b"\n", b"\r\n") if tty else stdout.encode())
        err.write(stderr.encode().replace(b"\n", b"\r\n") if tty else stderr.encode())
    return 137


def _tar(args: list[str], fs: MutableMapping[str, str], source: BinaryIO, out: BinaryIO, err: BinaryIO) -> int:
    """The two forms ``kubectl cp`` runs: ``tar cf - PATH`` and ``tar -xmf - [-C DIR]``."""
    flags = args[0].lstrip("-") if args else ""
    if "c" in flags and len(args) >= 3:
        return _create(args[2], fs, out, err)
    if "x" in flags:
        folder = args[args.index("-C") + 1] if "-C" in args[:-1] else "/"
        return _extract(_absolute(folder), fs, source)
    err.write(b"tar: only 'tar cf - PATH' and 'tar -xmf - -C DIR' are simulated\n")
    return 2


def _absolute(path: str) -> str:
    """``path`` as the container's absolute path (POSIX keeps a leading ``//``: one slash here)."""
    return "/" + posixpath.normpath("/" + path).lstrip("/")


def _create(path: str, fs: MutableMapping[str, str], out: BinaryIO, err: BinaryIO) -> int:
    root = _absolute(path)
    chosen = sorted(p for p in fs if p == root or p.startswith(root.rstrip("/") + "/"))
    if not chosen:
        err.write(f"tar: {path}: Cannot stat: No such file or directory\ntar: Exiting with failure status due to "
                  f"previous errors\n".encode())
        return 2
    with tarfile.open(fileobj=out, mode="w|") as archive:
        for name in chosen:
            data = fs[name].encode(errors="surrogateescape")
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return 0


def _extract(folder: str, fs: MutableMapping[str, str], source: BinaryIO) -> int:
    with tarfile.open(fileobj=source, mode="r|") as archive:
        for count, member in enumerate(archive):
            if count >= MAX_ENTRIES:
                raise ValueError(f"more than {MAX_ENTRIES} entries")
            target = posixpath.normpath(posixpath.join(folder, member.name))
            if not (target + "/").startswith(folder.rstrip("/") + "/"):
                raise ValueError(f"{member.name}: path leaves {folder}")
            if member.isdir():
                continue
            if not member.isfile() or member.size > MAX_FILE_BYTES:
                raise ValueError(f"{member.name}: only regular files of at most {MAX_FILE_BYTES} bytes")
            data = archive.extractfile(member)
            fs[target] = (data.read() if data is not None else b"").decode(errors="surrogateescape")
    return 0

"""The container log writer: what containerd's logger does with a container's stdout and stderr.

A container never writes its log file itself. Its stdout and stderr are the write ends of two
pipes whose read ends the runtime keeps; the runtime reads what arrives and appends it to the
container's log file in the CRI log format (:mod:`minik8s.kubelet.logs`), each record stamped
with the time the runtime read it. That time is what ``kubectl logs --timestamps`` and
``--since`` show and filter on.

* One thread per runtime waits on the pipes of all its containers at once (``selectors``:
  epoll on Linux), plus a wake-up pipe through which other threads hand it work. It owns the
  pipes and the files: no other thread touches them, so they need no locks.
* A complete line becomes an ``F`` record. What follows the last newline of a read becomes a
  ``P`` record at once; its end comes in later records. (containerd waits for the newline, up
  to 16 KiB; writing the piece now lets ``kubectl logs`` show a prompt printed without a
  newline while the container waits, as a plain log file would.)
* Nothing is lost: a container writing faster than the thread reads fills its pipe and waits
  in ``write``, as it would under containerd.
* When a container's main process has exited, every byte it wrote is in its pipes:
  :meth:`LogWriter.drain` copies them to the file before the runtime reports the container
  exited, then closes the pipes and the file. :meth:`LogWriter.close` drains every container
  and stops the thread: nothing is left open.

Why one thread rather than one per pipe: a node runs up to 110 pods, two pipes per container.
One thread sleeps in ``select`` until some pipe has data, whatever the number of pods; and it
was the cheaper of the two when measured: 50 processes printing 20,000 lines each (one write a
line) took 4.6 s and 3.3 s of the copier's CPU with this thread, 5.0 to 5.2 s and 3.6 to 3.8 s
with a thread per pipe (100 threads taking turns at the GIL).

Interface:
    LogWriter(name, now_ns=time.time_ns)
    writer.attach(key, {"stdout": read_fd, "stderr": read_fd}, log_path)   # takes the fds
    writer.drain(key)      # the container exited: copy what is left, close its pipes and file
    writer.close()         # drain every container, stop the thread

Taught in chapter 5 (Pods: a container's logs).
"""

from __future__ import annotations

import codecs
import logging
import os
import selectors
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable

from minik8s.kubelet import logs

_log = logging.getLogger(__name__)  # this module's own messages (not containers')

READ_BYTES = 64 * 1024       # at most this much from one pipe per read (a pipe holds 64 KiB on Linux)
DRAIN_TIMEOUT_SECONDS = 5.0  # drain() gives up waiting for the thread after this long


@dataclass
class _Log:
    """One container's log file and the pipes still open into it."""
    file: IO[bytes]
    pipes: dict[str, _Pipe] = field(default_factory=dict)


@dataclass
class _Pipe:
    stream: str                  # "stdout" or "stderr"
    fd: int
    log: _Log
    closed: bool = False
    decoder: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="replace"))


class LogWriter:
    """Copies containers' output from their pipes to their CRI log files; see the module docstring."""

    def __init__(self, name: str, now_ns: Callable[[], int] = time.time_ns):
        self._now_ns = now_ns
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        self._logs: dict[str, _Log] = {}          # the thread's own
        self._requests: list[tuple[str, str, object, threading.Event]] = []
        self._lock = threading.Lock()             # guards _requests only
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"container-logs-{name}", daemon=True)
        self._thread.start()

    # --- other threads ask ----------------------------------------------------------------

    def _ask(self, kind: str, key: str, payload: object = None) -> threading.Event:
        done = threading.Event()
        if not self._thread.is_alive():
            done.set()
            return done
        with self._lock:
            self._requests.append((kind, key, payload, done))
        try:
            os.write(self._wake_write, b"x")
        except BlockingIOError:
            pass  # the wake-up pipe is full: the thread is waking up anyway
        return done

    def attach(self, key: str, pipes: dict[str, int], log_path: Path) -> None:
        """Start copying a container's pipes (stream -> read fd, now owned by the writer) to ``log_path``."""
        for fd in pipes.values():
            os.set_blocking(fd, False)
        if not self._thread.is_alive():
            for fd in pipes.values():
                os.close(fd)
            return
        self._ask("attach", key, (pipes, log_path))

    def drain(self, key: str) -> None:
        """The container's processes are gone: copy what its pipes still hold, then close them and its file."""
        self._ask("drain", key).wait(DRAIN_TIMEOUT_SECONDS)

    def close(self) -> None:
        """Drain every container and stop the thread."""
        if self._closed:
            return
        if self._thread.is_alive():
            self._ask("stop", "")
            self._thread.join(DRAIN_TIMEOUT_SECONDS)
        if not self._thread.is_alive():
            self._closed = True
            self._selector.close()
            for fd in (self._wake_read, self._wake_write):
                os.close(fd)
            with self._lock:
                for *_, done in self._requests:  # asked while the thread was stopping: nothing left to do
                    done.set()

    # --- the thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            for selected, _ in self._selector.select():
                pipe = selected.data
                if pipe is None:
                    if self._serve():
                        return
                elif isinstance(pipe, _Pipe) and not pipe.closed:  # a drain in this round may have closed it
                    self._copy(pipe)

    def _serve(self) -> bool:
        """Handle what other threads asked; True when asked to stop."""
        try:
            os.read(self._wake_read, 4096)
        except BlockingIOError:
            pass
        with self._lock:
            requests, self._requests = self._requests, []
        stop = False
        for kind, key, payload, done in requests:
            if kind == "attach":
                pipes, log_path = payload  # type: ignore[misc]
                try:
                    log = _Log(open(log_path, "ab", buffering=0))
                except OSError:  # the container was removed meanwhile: nothing to keep
                    for fd in pipes.values():
                        os.close(fd)
                    done.set()
                    continue
                self._logs[key] = log
                for stream, fd in pipes.items():
                    log.pipes[stream] = _Pipe(stream, fd, log)
                    self._selector.register(fd, selectors.EVENT_READ, log.pipes[stream])
            elif kind == "drain":
                self._drain(key)
            else:
                for key in list(self._logs):
                    self._drain(key)
                stop = True
            done.set()
        return stop

    def _drain(self, key: str) -> None:
        log = self._logs.pop(key, None)
        if log is None:
            return
        for pipe in list(log.pipes.values()):
            while pipe.stream in log.pipes and self._copy(pipe):
                pass
            if pipe.stream in log.pipes:
                self._close_pipe(pipe, flush=True)
        log.file.close()

    def _copy(self, pipe: _Pipe) -> bool:
        """Read once from the pipe and write its records; False when it had nothing (or ended)."""
        try:
            data = os.read(pipe.fd, READ_BYTES)
        except BlockingIOError:
            return False
        except OSError:   # a terminal (tty: true) whose container closed it: its end, as EIO on Linux
            data = b""
        if not data:
            self._close_pipe(pipe, flush=True)
            return False
        self._write(pipe, pipe.decoder.decode(data))
        return True

    def _write(self, pipe: _Pipe, text: str) -> None:
        if not text:
            return
        now = self._now_ns()
        *lines, rest = text.split("\n")
        records = [logs.record(now, pipe.stream, line) for line in lines]
        if rest:
            records.append(logs.record(now, pipe.stream, rest, partial=True))
        try:
            pipe.log.file.write(b"".join(records))
        except OSError as exc:  # a full disk: the output is lost, as it would be on a node, but the thread goes on
            _log.warning("cannot write a container's log: %s", exc)

    def _close_pipe(self, pipe: _Pipe, *, flush: bool) -> None:
        if flush:
            self._write(pipe, pipe.decoder.decode(b"", final=True))
        self._selector.unregister(pipe.fd)
        os.close(pipe.fd)
        pipe.closed = True
        del pipe.log.pipes[pipe.stream]

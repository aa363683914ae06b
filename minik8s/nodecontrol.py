"""Node faults on demand: stop or start a node's kubelet, add or remove a node.

A lab that shows self-healing needs a node to fail when the student says so. In
a notebook the ``%minik8s node ...`` magic calls :func:`run` on the in-process
cluster; for ``minik8s server`` the command ``minik8s node stop|start|add|remove
NAME [--data-dir DIR]`` reaches the running server through a Unix-domain socket,
``control.sock`` in the server's data directory.

The socket is the only way in, and it is deliberately narrow: a file, not a TCP
port, so no web page and no other machine can reach it; mode 0600, and the
server also checks that the peer runs as its own user (``SO_PEERCRED``), so no
other user of the machine can either. A request is one JSON line of at most
``MAX_REQUEST_BYTES`` (``{"action": "stop", "name": "node-2"}``); the answer is
one JSON line (``{"ok": true, "message": ...}`` or ``{"ok": false, "error": ...}``).
``minik8s server`` creates the socket at start and removes it on shutdown.

Interface:
    run(cluster, action, name=None, labels=None) -> str     # what happened, in one line; ValueError if not
    await serve(cluster, path) -> asyncio.Server             # the server's side; close() it, then remove(path)
    request(path, action, name=None, labels=None) -> str     # the command's side; ControlError if refused
    main(argv, default_data_dir) -> exit code                # minik8s node ...

Taught in chapter 10 (DaemonSets: nodes joining, leaving and failing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import struct
import sys
from pathlib import Path
from typing import Any

ACTIONS = ("stop", "start", "add", "remove")
SOCKET_NAME = "control.sock"
# A request is a verb, a node name and a few labels: anything longer is not one.
MAX_REQUEST_BYTES = 4096
# How long the server waits for a connected client to send its request.
REQUEST_TIMEOUT_SECONDS = 5.0


class ControlError(Exception):
    """The server refused the request, or no server answers at the socket."""


def run(cluster: Any, action: str, name: str | None = None, labels: dict[str, str] | None = None) -> str:
    """Do ``action`` to node ``name`` of ``cluster`` and say what happened (ValueError if it cannot)."""
    if action == "add":
        added = cluster.add_node(name, labels=labels)
        return f"node/{added} added (a new kubelet registered it and heartbeats)"
    if labels:
        raise ValueError("--label is only for add")
    if not name:
        raise ValueError(f"node {action} needs a node name")
    if action == "stop":
        cluster.stop_kubelet(name)
        return f"node/{name} kubelet stopped (no heartbeats: the node goes NotReady after 50s)"
    if action == "start":
        cluster.start_kubelet(name)
        return f"node/{name} kubelet started"
    if action == "remove":
        cluster.remove_node(name)
        return f"node/{name} removed (its kubelet stopped and the Node was deleted)"
    raise ValueError(f'unknown action "{action}": use one of {", ".join(ACTIONS)}')


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """``["disk=ssd", "zone=east"]`` -> ``{"disk": "ssd", "zone": "east"}``."""
    labels = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f'invalid label "{pair}": use KEY=VALUE')
        labels[key] = value
    return labels


# --- the server's side -------------------------------------------------------------------


async def serve(cluster: Any, path: Path) -> asyncio.AbstractServer:
    """Listen on ``path`` (mode 0600): bound under a temporary name, restricted, then renamed into
    place, so the socket is never reachable with wider rights; a stale socket is replaced."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            answer = await _answer(cluster, reader, writer)
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_unix_server(handle, path=str(temporary), limit=MAX_REQUEST_BYTES)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return server


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


async def _answer(cluster: Any, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> dict[str, Any]:
    if not _same_user(writer.get_extra_info("socket")):
        return {"ok": False, "error": "permission denied: only the user running the server may control it"}
    try:
        line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT_SECONDS)
    except (ValueError, asyncio.LimitOverrunError):
        return {"ok": False, "error": f"request too large (at most {MAX_REQUEST_BYTES} bytes)"}
    except asyncio.TimeoutError:
        return {"ok": False, "error": "no request received"}
    try:
        request = json.loads(line)
        action, name, labels = _fields(request)
        message = await asyncio.get_running_loop().run_in_executor(None, run, cluster, action, name, labels)
    except (ValueError, TypeError) as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "message": message}


def _fields(request: Any) -> tuple[str, str | None, dict[str, str]]:
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    action, name, labels = request.get("action"), request.get("name"), request.get("labels") or {}
    if action not in ACTIONS:
        raise ValueError(f'unknown action "{action}": use one of {", ".join(ACTIONS)}')
    if name is not None and not isinstance(name, str):
        raise ValueError("name must be a string")
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in [*labels, *labels.values()]):
        raise ValueError("labels must map strings to strings")
    return action, name, labels


def _same_user(sock: socket.socket | None) -> bool:
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return sock is not None   # no peer credentials on this platform: the file mode guards alone
    _, uid, _ = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return uid == os.getuid()


# --- the command's side ------------------------------------------------------------------


def request(path: Path, action: str, name: str | None = None, labels: dict[str, str] | None = None) -> str:
    """Ask the server listening on ``path``; returns its message or raises ControlError."""
    body = json.dumps({"action": action, "name": name, "labels": labels or {}}).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(60)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(f"no minik8s server is running with data directory {path.parent} "
                               f"(nothing listens on {path})") from None
        sock.sendall(body)
        answer = json.loads(sock.makefile("rb").readline() or b"{}")
    if not answer.get("ok"):
        raise ControlError(answer.get("error") or "the server gave no answer")
    return str(answer["message"])


def main(argv: list[str], default_data_dir: Path) -> int:
    """``minik8s node ...``; ``default_data_dir`` is ``minik8s server``'s (the caller knows both)."""
    parser = argparse.ArgumentParser(prog="minik8s node",
                                     description="Stop or start a node's kubelet, add or remove a node, "
                                                 "in the minik8s server running with --data-dir.")
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("name", nargs="?", help="the node (add: optional, the next node-N by default)")
    parser.add_argument("--label", action="append", default=[], metavar="KEY=VALUE",
                        help="a label of the added node (add only); repeatable")
    parser.add_argument("--data-dir", default=str(default_data_dir),
                        help=f"the server's data directory (default {default_data_dir})")
    args = parser.parse_args(argv)
    if args.action != "add" and not args.name:
        parser.error(f"node {args.action} needs a node name")
    try:
        labels = parse_labels(args.label)
        print(request(Path(args.data_dir).expanduser() / SOCKET_NAME, args.action, args.name, labels))
    except (ControlError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0

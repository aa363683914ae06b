"""``kubectl port-forward TYPE/NAME [LOCAL:]REMOTE ...``: local ports that lead into a pod.

The command picks one pod (``pod/web``, or a pod of ``deploy/web`` or ``svc/web``),
listens on each local port (on ``localhost``: 127.0.0.1 and ::1, as kubectl does) and,
for every connection accepted there, opens a WebSocket to the pod's ``portforward``
subresource (the channel protocol of :mod:`minik8s.apiserver.portforward`) and copies
bytes both ways. A Service's port is turned into its ``targetPort`` on the chosen pod
first, by name if it names a container port, as kubectl does. It runs until
interrupted; an error from inside the pod ends it, as it ends kubectl v1.32:
``error: lost connection to pod``. Unlike kubectl's SPDY streams, a channel WebSocket
cannot close one direction only: when the local side stops sending, the connection ends.

Interface: ``register(sub, parent)``; ``parse_ports(specs) -> [(local, remote)]`` (as written);
``uint16(text, "local"|"remote") -> int``; ``target_port(service, pod, port) -> int``.

Taught in chapter 8 (the pod network).
"""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

from minik8s.api import resources
from minik8s.kubectl.command import CommandError, Env, resolve
from minik8s.kubectl.pods import pod_for

PODS = resources.get("", "v1", "pods")
SERVICES = resources.get("", "v1", "services")
CHUNK = 32 * 1024
USAGE = "\nSee 'kubectl port-forward -h' for help and examples"   # how kubectl's usage errors end


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    forward = sub.add_parser("port-forward", parents=[parent], add_help=False)
    forward.add_argument("target")
    forward.add_argument("ports", nargs="*")
    forward.add_argument("--address", default="localhost")
    forward.add_argument("--pod-running-timeout", default="1m")
    forward.set_defaults(handler=cmd_port_forward)


def parse_ports(specs: list[str]) -> list[tuple[str | None, str]]:
    """``8080``, ``18080:80``, ``:80`` -> (local port as written, or None when only the remote port is
    given; remote port as written: a number or a port's name)."""
    if not specs:
        raise CommandError("TYPE/NAME and list of ports are required for port-forward" + USAGE)
    return [(spec.split(":")[0], spec.split(":")[1]) if ":" in spec else (None, spec) for spec in specs]


def uint16(text: str, which: str) -> int:
    """A port number as kubectl parses it (Go's ``strconv.ParseUint(text, 10, 16)``), in its words."""
    if not re.fullmatch(r"[0-9]+", text):
        raise CommandError(f'error parsing {which} port \'{text}\': strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) > 65535:
        raise CommandError(f'error parsing {which} port \'{text}\': strconv.ParseUint: parsing "{text}": '
                           "value out of range")
    return int(text)


def _named_port(pod: dict[str, Any], name: str) -> int | None:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    return None


def container_port(pod: dict[str, Any], remote: str) -> str:
    """A remote port as a number, or the number of the pod's container port of that name."""
    if re.fullmatch(r"[+-]?[0-9]+", remote):
        return remote            # a number (kubectl checks its range afterwards)
    found = _named_port(pod, remote)
    if found is None:
        raise CommandError(f"Pod '{pod['metadata']['name']}' does not have a named port '{remote}'")
    return str(found)


def target_port(service: dict[str, Any], pod: dict[str, Any], remote: str) -> int:
    """kubectl's translation of a Service port (number or name) to the chosen pod's port."""
    name = service["metadata"]["name"]
    for port in (service.get("spec") or {}).get("ports") or []:
        if str(port.get("port")) == remote or port.get("name") == remote:
            target = port.get("targetPort", port.get("port"))
            if isinstance(target, int):
                return target
            found = _named_port(pod, str(target))
            if found is None:
                raise CommandError(f"Pod '{pod['metadata']['name']}' does not have a named port '{target}'")
            return found
    raise CommandError(f"Service {name} does not have a service port {remote}")


def _hosts(address: str) -> list[str]:
    hosts: list[str] = []
    for word in address.split(","):
        hosts += ["127.0.0.1", "::1"] if word.strip() == "localhost" else [word.strip()]
    return hosts


def cmd_port_forward(env: Env) -> None:
    a = env.args
    client = env.client
    if not hasattr(client, "port_forward_url"):
        raise CommandError("port-forward needs an API server reached over HTTP (minik8s server)")
    specs = parse_ports(list(a.ports) + list(a.after_dashes))
    assert PODS is not None and SERVICES is not None
    name = pod_for(env, a.target, announce=False)
    pod = client.get(PODS, name, env.namespace)
    service = None
    if "/" in a.target and resolve(a.target.split("/", 1)[0]) is SERVICES:
        service = client.get(SERVICES, a.target.split("/", 1)[1], env.namespace)
    pairs = []
    for local, remote in specs:
        number = str(target_port(service, pod, remote)) if service else container_port(pod, remote)
        if local is None:   # kubectl listens on the port as written (a Service's port, not its target)
            local = remote if service else number
        port = uint16(number, "remote")
        if port == 0:
            raise CommandError("remote port must be > 0")
        pairs.append((uint16(local or "0", "local"), port))
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase != "Running":
        raise CommandError(f"unable to forward port because pod is not running. Current status={phase}")
    try:
        asyncio.run(_forward(env, client, name, pairs, _hosts(a.address)))
    except KeyboardInterrupt:
        pass


async def _forward(env: Env, client: Any, pod: str, pairs: list[tuple[int, int]], hosts: list[str]) -> None:
    lost = asyncio.Event()
    async with client.streaming_session() as session:
        servers = []
        for local, remote in pairs:
            listening = await _listen(env, session, client.port_forward_url(pod, env.namespace, remote),
                                      local, remote, hosts, lost)
            if not listening:
                failed = " ".join(f"{{{lo} {re}}}" for lo, re in pairs)
                raise CommandError(f"unable to listen on any of the requested ports: [{failed}]")
            servers += listening
        try:
            await lost.wait()
        finally:
            for server in servers:
                server.close()
    raise CommandError("lost connection to pod")


async def _listen(env: Env, session: Any, url: str, local: int, remote: int, hosts: list[str],
                  lost: asyncio.Event) -> list[asyncio.Server]:
    """Listen on ``local`` on every host (a free port, the same on each, when ``local`` is 0)."""
    servers, errors = [], []
    bound = [local]     # a free port, once the first listener has one

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        env.out.write(f"Handling connection for {bound[0]}\n")
        env.out.flush()
        await _connection(env, session, url, reader, writer, bound[0], remote, lost)

    for host in hosts:
        shown = f"[{host}]" if ":" in host else host
        try:
            server = await asyncio.start_server(accept, host, bound[0])
        except OSError as exc:
            errors.append(f"unable to create listener: Error listen {'tcp6' if ':' in host else 'tcp4'} "
                          f"{shown}:{bound[0]}: bind: {(exc.strerror or str(exc)).lower()}")
            continue
        bound[0] = server.sockets[0].getsockname()[1]
        servers.append(server)
        env.out.write(f"Forwarding from {shown}:{bound[0]} -> {remote}\n")
        env.out.flush()
    if errors and (not servers or len(hosts) == 1):
        env.err.write(f"Unable to listen on port {bound[0]}: Listeners failed to create with the following errors: "
                      f"[{' '.join(errors)}]\n")
    return servers


async def _connection(env: Env, session: Any, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      local: int, remote: int, lost: asyncio.Event) -> None:
    """One local connection, carried by its own channel WebSocket: channel 0 data, 1 errors; the first
    message on each channel starts with the port (two bytes), which is not data."""
    import aiohttp

    error = b""
    try:
        async with session.ws_connect(url, protocols=("v4.channel.k8s.io",)) as ws:
            async def upload() -> None:
                while chunk := await reader.read(CHUNK):
                    await ws.send_bytes(b"\x00" + chunk)
                # The channel protocol cannot say "no more data" and still listen: a local end-of-file
                # ends the connection (kubectl's SPDY streams can half-close; these cannot).
                await ws.close()

            uploading = asyncio.create_task(upload())
            seen: set[int] = set()
            try:
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                        continue
                    channel, data = message.data[0], message.data[1:]
                    if channel not in seen:
                        seen.add(channel)
                        data = data[2:]
                    if channel == 0 and data:
                        writer.write(data)
                        await writer.drain()
                    elif channel == 1:
                        error += data
            finally:
                uploading.cancel()
    except (aiohttp.ClientError, ConnectionError) as exc:
        error = error or str(exc).encode()
    finally:
        writer.close()
    if error:
        env.err.write(f"an error occurred forwarding {local} -> {remote}: {error.decode(errors='replace')}\n")
        env.err.flush()
        lost.set()

"""The HTTP client: the Client interface over the Kubernetes REST API.

``minik8s kubectl`` uses it against ``minik8s server`` (or any API server that
speaks HTTPS, or plain HTTP, and takes bearer tokens). Every method is one
request, built exactly as kubectl builds it: paths from the resource registry,
``labelSelector``/``fieldSelector`` query parameters, patch content types,
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` for tables, and a
streamed ``?watch=true`` response read line by line.
"""

from __future__ import annotations

import builtins
import ssl
import threading
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import orjson
import urllib3
from urllib3 import HTTPHeaderDict

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.client.base import PATCH_CONTENT_TYPES
from minik8s.clock import rfc3339

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def _log_options(timestamps: bool, since_seconds: int | None, since_time: float | None) -> dict[str, Any]:
    """PodLogOptions as query parameters; a sinceTime travels as metav1.Time does, to the second."""
    return {"timestamps": "true" if timestamps else None, "sinceSeconds": since_seconds,
            "sinceTime": rfc3339(since_time) if since_time is not None else None}


def _error(response: urllib3.BaseHTTPResponse) -> StatusError:
    data = response.data
    try:
        status = orjson.loads(data)
        if isinstance(status, dict) and status.get("kind") == "Status":
            return StatusError.from_status(status)
    except orjson.JSONDecodeError:
        pass
    text = data.decode(errors="replace").strip()
    return StatusError(response.status, "Unknown", f"the server responded with the status code {response.status} "
                       f"but did not return more information{': ' + text if text else ''}")


class HTTPWatch:
    def __init__(self, response: urllib3.BaseHTTPResponse):
        self._response = response
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        buffer = b""
        try:
            for chunk in self._response.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield orjson.loads(line)
        except (urllib3.exceptions.HTTPError, OSError, AttributeError):
            return  # the connection ended (stop() or the server went away)

    def stop(self) -> None:
        with self._lock:
            try:
                self._response.shutdown()  # type: ignore[attr-defined]
            except (AttributeError, OSError, RuntimeError):
                # RuntimeError: leaving a ``for event in watch`` loop early closed the iteration,
                # and urllib3 already gave the connection back; there is nothing left to shut.
                pass
            self._response.release_conn()


def load_certificate(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """Present a certificate, a kubeconfig's client certificate or a component's serving one (``ssl``
    reads keys from files only: a private temp dir)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="minik8s-cert-") as folder:
        cert, key = Path(folder) / "client.crt", Path(folder) / "client.key"
        cert.write_bytes(cert_pem)
        key.touch(0o600)
        key.write_bytes(key_pem)
        context.load_cert_chain(cert, key)


class HTTPClient:
    """Client (see :mod:`minik8s.client.base`) speaking HTTP to ``server`` (e.g. http://127.0.0.1:6443)."""

    def __init__(self, server: str, *, token: str | None = None, verify: bool = True, timeout: float = 30.0,
                 ca_pem: bytes | None = None, cert_pem: bytes | None = None, key_pem: bytes | None = None,
                 impersonate: tuple[str, tuple[str, ...], str] | None = None):
        """``impersonate``: (user, groups, uid) sent as ``Impersonate-*`` headers (kubectl --as/--as-group)."""
        self.server = server.rstrip("/")
        # An https server is trusted through the cluster CA from the kubeconfig, as kubectl trusts it.
        self._ssl = ssl.create_default_context(cadata=ca_pem.decode() if ca_pem else None)
        if cert_pem and key_pem:
            load_certificate(self._ssl, cert_pem, key_pem)
        if not verify:
            self._ssl.check_hostname = False
            self._ssl.verify_mode = ssl.CERT_NONE
        headers = HTTPHeaderDict({"User-Agent": "minik8s-kubectl"})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if impersonate is not None:
            user, groups, uid = impersonate
            headers["Impersonate-User"] = user
            for group in groups:   # one header per group: a comma would be part of the name
                headers.add("Impersonate-Group", group)
            if uid:
                headers["Impersonate-Uid"] = uid
        self._headers = headers
        self._timeout = timeout
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=8, headers=headers, ssl_context=self._ssl)

    def _call(self, method: str, path: str, query: dict[str, Any] | None = None, body: Any = None,
              content_type: str = "application/json", accept: str = "application/json") -> Any:
        raw = self.request(method, path, query=query,
                           body=orjson.dumps(body) if body is not None else None,
                           headers={"Content-Type": content_type, "Accept": accept})
        return orjson.loads(raw) if raw else {}

    def _merged(self, headers: dict[str, str] | None) -> HTTPHeaderDict:
        merged = HTTPHeaderDict(self._headers)
        for key, value in (headers or {}).items():
            merged[key] = value
        return merged

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        url = self.server + path
        query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        if query:
            url += "?" + urlencode(query)
        try:
            response = self._pool.request(method, url, body=body, headers=self._merged(headers),
                                          timeout=self._timeout, retries=False)
        except urllib3.exceptions.SSLError as exc:
            reason = exc.args[0] if exc.args else exc
            raise ConnectionError(f"Unable to connect to the server: {getattr(reason, 'reason', reason)}") from exc
        except urllib3.exceptions.MaxRetryError as exc:
            if isinstance(exc.reason, urllib3.exceptions.SSLError):
                raise ConnectionError(f"Unable to connect to the server: {exc.reason}") from exc
            host = self.server.split("://", 1)[-1]
            raise ConnectionError(f"The connection to the server {host} was refused - did you specify the right "
                                  f"host or port?") from exc
        except urllib3.exceptions.HTTPError as exc:
            host = self.server.split("://", 1)[-1]
            raise ConnectionError(f"The connection to the server {host} was refused - did you specify the right "
                                  f"host or port?") from exc
        if response.status >= 400:
            raise _error(response)
        return bytes(response.data)

    def create(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None, dry_run: bool = False,
               field_manager: str | None = None) -> dict[str, Any]:
        ns = namespace or (obj.get("metadata") or {}).get("namespace") or "default"
        name = (obj.get("metadata") or {}).get("name") if subresource else None
        query = {"fieldValidation": "Strict", "dryRun": "All" if dry_run else None, "fieldManager": field_manager}
        result: dict[str, Any] = self._call("POST", resource.path(ns, name, subresource), query, obj)
        return result

    def get(self, resource: Resource, name: str, namespace: str | None = None, *,
            subresource: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", resource.path(namespace or "default", name, subresource))
        return result

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, limit: int | None = None,
             continue_: str | None = None) -> dict[str, Any]:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit,
                 "continue": continue_}
        result: dict[str, Any] = self._call("GET", resource.path(namespace), query)
        return result

    def update(self, resource: Resource, obj: dict[str, Any], namespace: str | None = None, *,
               subresource: str | None = None) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        path = resource.path(namespace or meta.get("namespace") or "default", meta.get("name"), subresource)
        result: dict[str, Any] = self._call("PUT", path, {"fieldValidation": "Strict"}, obj)
        return result

    def patch(self, resource: Resource, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: str = "merge", subresource: str | None = None, dry_run: bool = False,
              field_manager: str | None = None, force: bool | None = None) -> dict[str, Any]:
        query = {"fieldValidation": "Strict", "dryRun": "All" if dry_run else None, "fieldManager": field_manager,
                 "force": None if force is None else str(force).lower()}
        result: dict[str, Any] = self._call("PATCH", resource.path(namespace or "default", name, subresource),
                                            query, patch,
                                            content_type=PATCH_CONTENT_TYPES[patch_type])
        return result

    def delete(self, resource: Resource, name: str, namespace: str | None = None, *,
               propagation_policy: str | None = None, grace_period_seconds: int | None = None) -> dict[str, Any]:
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        result: dict[str, Any] = self._call("DELETE", resource.path(namespace or "default", name), body=options)
        return result

    def watch(self, resource: Resource, namespace: str | None = None, *, resource_version: str | None = None,
              label_selector: str | None = None, field_selector: str | None = None,
              timeout_seconds: int | None = None, allow_bookmarks: bool = False) -> HTTPWatch:
        query = {"watch": "true", "resourceVersion": resource_version, "labelSelector": label_selector,
                 "fieldSelector": field_selector, "timeoutSeconds": timeout_seconds,
                 "allowWatchBookmarks": "true" if allow_bookmarks else None}
        url = self.server + resource.path(namespace) + "?" + urlencode({k: v for k, v in query.items() if v})
        response = self._pool.request("GET", url, preload_content=False, retries=False,
                                      timeout=urllib3.Timeout(connect=self._timeout, read=None))
        if response.status >= 400:
            response.read()
            raise _error(response)
        return HTTPWatch(response)

    def logs(self, name: str, namespace: str | None = None, *, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None) -> str:
        query = {"container": container, "previous": "true" if previous else None, "tailLines": tail_lines,
                 **_log_options(timestamps, since_seconds, since_time)}
        return self.request("GET", f"/api/v1/namespaces/{namespace or 'default'}/pods/{name}/log",
                            query=query).decode(errors="replace")

    def follow_logs(self, name: str, namespace: str | None = None, *, container: str | None = None,
                    timestamps: bool = False, since_seconds: int | None = None,
                    since_time: float | None = None) -> Iterator[bytes]:
        """``kubectl logs -f``: the output so far, then new output as it is written."""
        query = {"follow": "true", "container": container, **_log_options(timestamps, since_seconds, since_time)}
        url = (f"{self.server}/api/v1/namespaces/{namespace or 'default'}/pods/{name}/log?"
               + urlencode({k: v for k, v in query.items() if v}))
        response = self._pool.request("GET", url, preload_content=False, retries=False,
                                      timeout=urllib3.Timeout(connect=self._timeout, read=None))
        if response.status >= 400:
            response.read()
            raise _error(response)
        yield from response.stream(1024, decode_content=True)

    def exec(self, name: str, command: builtins.list[str], namespace: str | None = None, *,
             container: str | None = None, stdin: str | None = None) -> tuple[int, str, str]:
        """``kubectl exec`` over the channel.k8s.io WebSocket protocol; ``stdin`` is sent, then closed."""
        import asyncio

        return asyncio.run(self._exec(name, command, namespace or "default", container, stdin))

    async def _exec(self, name: str, command: builtins.list[str], namespace: str,
                    container: str | None, stdin: str | None = None) -> tuple[int, str, str]:
        query = [("command", c) for c in command] + [("stdout", "true"), ("stderr", "true")]
        if container:
            query.append(("container", container))
        if stdin is not None:
            query.append(("stdin", "true"))
        url = f"{self.server}/api/v1/namespaces/{namespace}/pods/{name}/exec?{urlencode(query)}"
        output: dict[int, bytes] = {1: b"", 2: b""}

        def collect(channel: int, data: bytes) -> None:
            output[channel] = output.get(channel, b"") + data

        status = await self._channels(url, collect, None if stdin is None else stdin.encode())
        code = 0
        if status and status.get("status") != "Success":
            causes = (status.get("details") or {}).get("causes") or []
            exit_codes = [c.get("message") for c in causes if c.get("reason") == "ExitCode"]
            if not exit_codes:
                raise StatusError.from_status(status)
            code = int(exit_codes[0])
        return code, output[1].decode(errors="replace"), output[2].decode(errors="replace")

    def attach(self, name: str, namespace: str | None, output: Callable[[int, bytes], None], *,
               container: str | None = None) -> None:
        """``kubectl attach``: ``output(channel, data)`` gets the container's stdout (1) and stderr (2)
        as they come, until it stops. Raises the StatusError the server ends with, if it is not Success."""
        import asyncio

        query = urlencode([("stdout", "true"), ("stderr", "true")] + ([("container", container)] if container else []))
        url = f"{self.server}/api/v1/namespaces/{namespace or 'default'}/pods/{name}/attach?{query}"
        status = asyncio.run(self._channels(url, output))
        if status and status.get("status") != "Success":
            raise StatusError.from_status(status)

    async def _channels(self, url: str, output: Callable[[int, bytes], None],
                        stdin: bytes | None = None) -> dict[str, Any] | None:
        """Read a channel.k8s.io WebSocket (exec, attach) to its end: data channels go to ``output``;
        returns the Status of the error channel (3), if one came. ``stdin`` is sent first (channel 0,
        in 32 KiB messages), then closed (v5's ``[255, 0]``)."""
        import aiohttp

        status = None
        async with self.streaming_session() as session:
            try:
                ws_context = session.ws_connect(url, protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
                async with ws_context as ws:
                    if stdin is not None:
                        for at in range(0, len(stdin), 32 * 1024):
                            await ws.send_bytes(b"\x00" + stdin[at:at + 32 * 1024])
                        if ws.protocol == "v5.channel.k8s.io":
                            await ws.send_bytes(b"\xff\x00")
                    async for message in ws:
                        if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                            continue
                        channel, data = message.data[0], message.data[1:]
                        if channel == 3:
                            status = orjson.loads(data)
                        else:
                            output(channel, data)
            except aiohttp.WSServerHandshakeError as exc:
                raise StatusError(exc.status, "BadRequest", exc.message) from None
        return status

    def streaming_session(self) -> Any:
        """An ``aiohttp.ClientSession`` with this client's credential and trust, for the subresources
        served over WebSockets (exec, attach, portforward)."""
        import aiohttp

        # No cap on connections: port-forward holds one WebSocket per forwarded connection.
        return aiohttp.ClientSession(headers=list(self._headers.iteritems()), connector=aiohttp.TCPConnector(ssl=self._ssl, limit=0))

    def port_forward_url(self, name: str, namespace: str, port: int) -> str:
        """The channel WebSocket of ``pods/{name}/portforward`` for one port (:mod:`minik8s.apiserver.portforward`)."""
        return f"{self.server}/api/v1/namespaces/{namespace}/pods/{name}/portforward?ports={port}"

    def table(self, resource: Resource, namespace: str | None = None, name: str | None = None, *,
              label_selector: str | None = None, field_selector: str | None = None) -> dict[str, Any]:
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        path = resource.path(namespace or ("default" if name else None), name)
        result: dict[str, Any] = self._call("GET", path, query, accept=TABLE_ACCEPT)
        return result

"""Reaching a pod's node: ``kubectl logs``, ``kubectl exec`` and ``kubectl port-forward``.

A pod's output and its processes live on its node, not in the store. For
``kubectl logs`` and ``kubectl exec`` the API server finds the pod's node and
asks that node's kubelet (on a real cluster, over HTTPS to port 10250); the
answer goes back to the client. A kubelet in this process registers itself under its node's
name; for any other node (a machine that joined, :mod:`minik8s.join`) the API server dials the
kubelet's HTTPS API (:mod:`minik8s.kubelet.server`) at the Node's ``InternalIP`` and
``status.daemonEndpoints.kubeletEndpoint.Port``, presenting its ``apiserver-kubelet-client``
certificate: a :class:`RemoteKubelet`. Logs and the Summary API are plain HTTPS requests (on a worker
thread); exec, attach and port-forward are WebSockets to the kubelet's streaming endpoints, opened on
the event loop (:mod:`minik8s.apiserver.kubeletstreams`), whose streams the API server relays to its
client in whichever protocol that client speaks. As upstream without
``--kubelet-certificate-authority``, the kubelet's serving certificate is not verified unless a CA
is given.

Interface: ``NodeConnections.register(node_name, kubelet)``, ``unregister(node_name)``,
``use_remote(get_node, cert_file, key_file, ca_file=None)``, ``logs(...)``, ``exec(...)``,
``exec_stream(pod, container, command, stdin=, tty=)``, ``attach(pod, container)``,
``await port_forward(pod, port)``, ``proxy(node_name, path)`` (``nodes/<n>/proxy/stats/summary``).
Kubelets provide ``logs(namespace, pod, container, previous, tail_lines, timestamps=, since_seconds=,
since_time=)``, ``exec(namespace, pod, container, command) -> ExecResult``,
``await port_forward(namespace, pod, port) -> (reader, writer)`` and ``stats_summary() -> dict``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import warnings
from pathlib import Path
from typing import Any, Callable, Protocol
from urllib.parse import quote, urlencode

import urllib3

from minik8s.api import errors
from minik8s.apiserver import kubeletstreams
from minik8s.clock import rfc3339

KUBELET_TIMEOUT_SECONDS = 30
# kubeadm's --kubelet-preferred-address-types: which of a Node's addresses to dial, in order.
PREFERRED_ADDRESS_TYPES = ("InternalIP", "ExternalIP", "Hostname")


class KubeletAPI(Protocol):
    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, *, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None, stream: str | None = None) -> str: ...

    def exec(self, namespace: str, pod: str, container: str | None, command: list[str]) -> Any: ...

    def exec_stream(self, namespace: str, pod: str, container: str | None, command: list[str], *,
                    stdin: bool, tty: bool) -> Any: ...

    def attach(self, namespace: str, pod: str, container: str | None) -> Any: ...

    async def port_forward(self, namespace: str, pod: str,
                           port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]: ...

    def stats_summary(self) -> dict[str, Any]: ...


class RemoteKubelet:
    """A kubelet reached over HTTPS (``https://<address>:<port>``), as kube-apiserver reaches one."""

    def __init__(self, node: str, base_url: str, pool: urllib3.PoolManager, context: ssl.SSLContext):
        self.node_name = node
        self.base_url = base_url
        self._pool = pool
        self._context = context   # the pool's TLS context, for the streaming WebSockets

    def _get(self, path: str, query: dict[str, Any] | None = None) -> bytes:
        url = self.base_url + path + ("?" + urlencode(query) if query else "")
        try:
            response = self._pool.request("GET", url, timeout=KUBELET_TIMEOUT_SECONDS, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            host = self.base_url.split("://", 1)[-1]
            raise errors.StatusError(500, "InternalError", f'Get "{url}": dial tcp {host}: {_reason(exc)}') from None
        if response.status >= 400:
            try:
                status = json.loads(response.data)
                raise errors.StatusError(response.status, str(status.get("reason", "")), str(status["message"]))
            except (ValueError, KeyError, TypeError):
                raise errors.StatusError(response.status, "InternalError",
                                         response.data.decode(errors="replace")[:1000]) from None
        return bytes(response.data)

    def logs(self, namespace: str, pod: str, container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, *, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None, stream: str | None = None) -> str:
        if container is None:
            raise errors.bad_request(f"a container name must be specified for pod {pod}")
        query: dict[str, Any] = {}
        if stream is not None:   # PodLogOptions.stream: attach follows stdout and stderr apart
            query["stream"] = stream.capitalize()
        if previous:
            query["previous"] = "true"
        if timestamps:
            query["timestamps"] = "true"
        if tail_lines is not None:
            query["tailLines"] = tail_lines
        if since_seconds is not None:
            query["sinceSeconds"] = since_seconds
        if since_time is not None:
            query["sinceTime"] = rfc3339(since_time)
        return self._get(self._path("containerLogs", namespace, pod, container), query).decode(errors="replace")

    def _path(self, *parts: str) -> str:
        return "/" + parts[0] + "/" + "/".join(quote(part, safe="") for part in parts[1:])

    def stats_summary(self) -> dict[str, Any]:
        answer = json.loads(self._get("/stats/summary"))
        return answer if isinstance(answer, dict) else {}

    def exec(self, namespace: str, pod: str, container: str | None, command: list[str]) -> kubeletstreams.ExecOutput:
        """Run ``command`` to its end (the in-process client's exec): called from a worker thread, so it
        runs its own event loop for the WebSocket."""
        if not command:
            raise errors.bad_request("you must specify at least 1 command")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            url = self.base_url + self._path("exec", namespace, pod, _named(container, pod))
            return asyncio.run(kubeletstreams.run(url, self._context, list(command)))
        raise errors.internal("a command run to its end cannot wait on the event loop: use the streaming exec")

    def exec_stream(self, namespace: str, pod: str, container: str | None, command: list[str], *,
                    stdin: bool, tty: bool) -> kubeletstreams.RemoteExec:
        """The exec to start (it connects when the API server opens its session, on the event loop)."""
        url = self.base_url + self._path("exec", namespace, pod, _named(container, pod))
        return kubeletstreams.RemoteExec(url, self._context, list(command))

    def attach(self, namespace: str, pod: str,
               container: str | None) -> tuple[kubeletstreams.RemoteAttach, Callable[[int, int], None]]:
        """The container's stdin, to connect to (its output the API server follows in the logs)."""
        url = self.base_url + self._path("attach", namespace, pod, _named(container, pod))
        remote = kubeletstreams.RemoteAttach(url, self._context)
        return remote, remote.resize

    async def port_forward(self, namespace: str, pod: str,
                           port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        url = self.base_url + self._path("portForward", namespace, pod) + f"?port={int(port)}"
        return await kubeletstreams.dial(url, self._context)


def _named(container: str | None, pod: str) -> str:
    if container is None:   # NodeConnections names the default container; several leave it to the user
        raise errors.bad_request(f"a container name must be specified for pod {pod}")
    return container


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    return "connect: connection refused" if "refused" in text.lower() else text.split(": ", 1)[-1][:300]


def node_endpoint(node: dict[str, Any]) -> tuple[str, int] | None:
    """Where a Node's kubelet listens: its preferred address and ``daemonEndpoints`` port (None: no address)."""
    status = node.get("status") or {}
    addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or [] if isinstance(a, dict)}
    address = next((addresses[t] for t in PREFERRED_ADDRESS_TYPES if addresses.get(t)), None)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port") or 10250
    return (str(address), int(port)) if address else None


class NodeConnections:
    def __init__(self) -> None:
        self._kubelets: dict[str, KubeletAPI] = {}
        self._get_node: Callable[[str], dict[str, Any] | None] | None = None
        self._pool: urllib3.PoolManager | None = None
        self._context: ssl.SSLContext | None = None

    def use_remote(self, get_node: Callable[[str], dict[str, Any] | None], cert_file: Path, key_file: Path,
                   ca_file: Path | None = None) -> None:
        """Reach kubelets not in this process over HTTPS, found through ``get_node(name)``, presenting
        the client certificate ``cert_file``/``key_file``; verify their serving certificates against
        ``ca_file`` when given (upstream's ``--kubelet-certificate-authority``), else not."""
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if ca_file is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            # Upstream's default, chosen here on purpose: no warning on every kubectl logs.
            warnings.filterwarnings("ignore", "Unverified HTTPS request", urllib3.exceptions.InsecureRequestWarning)
        context.load_cert_chain(cert_file, key_file)
        self._get_node = get_node
        self._pool = urllib3.PoolManager(num_pools=8, maxsize=4, ssl_context=context)
        self._context = context

    def _connect(self, node: str) -> KubeletAPI | None:
        """The kubelet of ``node``: the one in this process, else a RemoteKubelet at its Node's endpoint."""
        kubelet = self._kubelets.get(node)
        if kubelet is not None or self._get_node is None or self._pool is None or self._context is None:
            return kubelet
        found = self._get_node(node)
        endpoint = node_endpoint(found) if found else None
        if endpoint is None:
            return None
        host = f"[{endpoint[0]}]" if ":" in endpoint[0] else endpoint[0]
        return RemoteKubelet(node, f"https://{host}:{endpoint[1]}", self._pool, self._context)

    def register(self, node_name: str, kubelet: KubeletAPI) -> None:
        self._kubelets[node_name] = kubelet

    def unregister(self, node_name: str) -> None:
        """The machine is gone: nothing reaches its kubelet any more."""
        self._kubelets.pop(node_name, None)

    def proxy(self, node: str, path: str) -> dict[str, Any]:
        """``GET /api/v1/nodes/<node>/proxy/<path>``: what the node's kubelet serves there. minik8s's
        kubelets serve ``stats/summary`` (the Summary API metrics-server scrapes)."""
        kubelet = self._connect(node)
        if kubelet is None:
            raise errors.StatusError(503, "ServiceUnavailable",
                                     f'Get "https://{node}:10250/{path}": no route to node "{node}"')
        if path.strip("/") == "stats/summary":
            return kubelet.stats_summary()
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource", {})

    def _kubelet(self, pod: dict[str, Any]) -> KubeletAPI | None:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            return None
        kubelet = self._connect(node)
        if kubelet is None:
            raise errors.StatusError(500, "InternalError",
                                     f'Get "https://{node}:10250/containerLogs": no route to node "{node}"')
        return kubelet

    def logs(self, pod: dict[str, Any], container: str | None = None, previous: bool = False,
             tail_lines: int | None = None, *, timestamps: bool = False, since_seconds: int | None = None,
             since_time: float | None = None, stream: str | None = None) -> str:
        kubelet = self._kubelet(pod)
        if kubelet is None:
            return ""  # not scheduled yet: nothing has run, so there is nothing to show
        meta = pod["metadata"]
        return kubelet.logs(meta["namespace"], meta["name"], self._container(kubelet, pod, container), previous,
                            tail_lines, timestamps=timestamps, since_seconds=since_seconds, since_time=since_time,
                            stream=stream)

    def _scheduled(self, pod: dict[str, Any]) -> KubeletAPI:
        kubelet = self._kubelet(pod)
        if kubelet is None:
            raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
        return kubelet

    def _container(self, kubelet: KubeletAPI, pod: dict[str, Any], container: str | None) -> str | None:
        """A kubelet of another process is asked at a URL that names the container: the default one."""
        if container is None and isinstance(kubelet, RemoteKubelet):
            return _default_container(pod)
        return container

    def exec(self, pod: dict[str, Any], container: str | None, command: list[str]) -> Any:
        meta = pod["metadata"]
        kubelet = self._scheduled(pod)
        return kubelet.exec(meta["namespace"], meta["name"], self._container(kubelet, pod, container), command)

    def exec_stream(self, pod: dict[str, Any], container: str | None, command: list[str], *,
                    stdin: bool, tty: bool) -> Any:
        """A command started in the pod with its streams open (a :class:`minik8s.kubelet.cri.ExecStream`,
        or a :class:`minik8s.apiserver.kubeletstreams.RemoteExec` that connects when served)."""
        meta = pod["metadata"]
        kubelet = self._scheduled(pod)
        return kubelet.exec_stream(meta["namespace"], meta["name"], self._container(kubelet, pod, container),
                                   command, stdin=stdin, tty=tty)

    def attach(self, pod: dict[str, Any], container: str | None) -> Any:
        """The running container's stdin (a file descriptor, None, or a remote kubelet's
        :class:`minik8s.apiserver.kubeletstreams.RemoteAttach`) and its terminal's resize."""
        meta = pod["metadata"]
        kubelet = self._scheduled(pod)
        return kubelet.attach(meta["namespace"], meta["name"], self._container(kubelet, pod, container))

    async def port_forward(self, pod: dict[str, Any], port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` inside the pod, made by its node; errors carry upstream's text."""
        meta = pod["metadata"]
        return await self._scheduled(pod).port_forward(meta["namespace"], meta["name"], port)


def _default_container(pod: dict[str, Any]) -> str | None:
    """The container ``kubectl logs`` means without ``-c``: the annotated default, or the only one."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    chosen = annotations.get("kubectl.kubernetes.io/default-container")
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or [] if isinstance(c, dict)]
    if chosen in names:
        return str(chosen)
    return str(names[0]) if len(names) == 1 else None

"""Reaching a pod's node: ``kubectl logs``, ``kubectl exec`` and ``kubectl port-forward``.

A pod's output and its processes live on its node, not in the store. For
``kubectl logs`` and ``kubectl exec`` the API server finds the pod's node and
asks that node's kubelet (on a real cluster, over HTTPS to port 10250); the
answer goes back to the client. Here every kubelet of the cluster registers
itself under its node's name.

Interface: ``NodeConnections.register(node_name, kubelet)``, ``unregister(node_name)``, ``logs(...)``, ``exec(...)``,
``exec_stream(pod, container, command, stdin=, tty=)``, ``attach(pod, container)``,
``await port_forward(pod, port)``, ``proxy(node_name, path)`` (``nodes/<n>/proxy/stats/summary``).
Kubelets provide ``logs(namespace, pod, container, previous, tail_lines, timestamps=, since_seconds=,
since_time=)``, ``exec(namespace, pod, container, command) -> ExecResult``,
``await port_forward(namespace, pod, port) -> (reader, writer)`` and ``stats_summary() -> dict``.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from minik8s.api import errors


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


class NodeConnections:
    def __init__(self) -> None:
        self._kubelets: dict[str, KubeletAPI] = {}

    def register(self, node_name: str, kubelet: KubeletAPI) -> None:
        self._kubelets[node_name] = kubelet

    def unregister(self, node_name: str) -> None:
        """The machine is gone: nothing reaches its kubelet any more."""
        self._kubelets.pop(node_name, None)

    def proxy(self, node: str, path: str) -> dict[str, Any]:
        """``GET /api/v1/nodes/<node>/proxy/<path>``: what the node's kubelet serves there. minik8s's
        kubelets serve ``stats/summary`` (the Summary API metrics-server scrapes)."""
        kubelet = self._kubelets.get(node)
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
        kubelet = self._kubelets.get(node)
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
        return kubelet.logs(meta["namespace"], meta["name"], container, previous, tail_lines, timestamps=timestamps,
                            since_seconds=since_seconds, since_time=since_time, stream=stream)

    def _scheduled(self, pod: dict[str, Any]) -> KubeletAPI:
        kubelet = self._kubelet(pod)
        if kubelet is None:
            raise errors.bad_request(f"pod {pod['metadata']['name']} does not have a host assigned")
        return kubelet

    def exec(self, pod: dict[str, Any], container: str | None, command: list[str]) -> Any:
        meta = pod["metadata"]
        return self._scheduled(pod).exec(meta["namespace"], meta["name"], container, command)

    def exec_stream(self, pod: dict[str, Any], container: str | None, command: list[str], *,
                    stdin: bool, tty: bool) -> Any:
        """A command started in the pod with its streams open (a :class:`minik8s.kubelet.cri.ExecStream`)."""
        meta = pod["metadata"]
        return self._scheduled(pod).exec_stream(meta["namespace"], meta["name"], container, command,
                                                stdin=stdin, tty=tty)

    def attach(self, pod: dict[str, Any], container: str | None) -> Any:
        """The running container's stdin (a file descriptor, or None) and its terminal's resize."""
        meta = pod["metadata"]
        return self._scheduled(pod).attach(meta["namespace"], meta["name"], container)

    async def port_forward(self, pod: dict[str, Any], port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``port`` inside the pod, made by its node; errors carry upstream's text."""
        meta = pod["metadata"]
        return await self._scheduled(pod).port_forward(meta["namespace"], meta["name"], port)

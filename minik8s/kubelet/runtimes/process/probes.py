"""Probes in the process runtime: the kubelet dials the pod IP, as it does on a real node.

An ``httpGet`` probe is a ``GET`` with upstream's headers (``User-Agent:
kube-probe/1.32``, ``Accept: */*``, then the probe's own); HTTPS is not verified, as
upstream does not. Failures read as the kubelet's Go HTTP client words them
(``connect: connection refused``, ``context deadline exceeded``). A ``tcpSocket``
probe succeeds when a connection opens. The caller passes the port the pod really
listens on (a privileged port may have moved, :mod:`.network`) and the node's address
to dial from.

Interface:
    http_get(ip, port, real_port, source, path, scheme, headers, timeout) -> status code  # raises ProbeError
    tcp_open(ip, real_port, timeout) -> bool

Taught in chapter 5 (Pods: health checks).
"""

from __future__ import annotations

import http.client
import socket
import ssl

from minik8s.kubelet.cri import ProbeError


def http_get(ip: str, port: int, real: int, source: tuple[str, int] | None, path: str, scheme: str,
             headers: dict[str, str], timeout: float) -> int:
    """The status code of ``GET path`` on the pod IP (``port`` as the pod spec names it, ``real`` as dialled)."""
    url = f"{scheme.lower()}://{ip}:{port}{path}"
    if scheme.upper() == "HTTPS":
        # Like the kubelet: HTTPS probes do not verify the certificate.
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            ip, real, timeout=timeout, source_address=source, context=ssl._create_unverified_context())
    else:
        connection = http.client.HTTPConnection(ip, real, timeout=timeout, source_address=source)
    sent = {"User-Agent": "kube-probe/1.32", "Accept": "*/*", **headers}
    try:
        connection.request("GET", path or "/", headers=sent)
        return connection.getresponse().status
    except ConnectionRefusedError:
        raise ProbeError(f'Get "{url}": dial tcp {ip}:{port}: connect: connection refused') from None
    except (TimeoutError, socket.timeout):
        raise ProbeError(f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting '
                         "headers)") from None
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeError(f'Get "{url}": {exc}') from None
    finally:
        connection.close()


def tcp_open(ip: str, real: int, timeout: float) -> bool:
    """Whether a TCP connection to the pod IP opens."""
    try:
        with socket.create_connection((ip, real), timeout=timeout):
            return True
    except OSError:
        return False

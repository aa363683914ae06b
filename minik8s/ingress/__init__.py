"""The ingress controller: HTTP(S) routing from outside the cluster to Services, by host and path.

A Service gives pods one address inside the cluster; an Ingress gives many Services one entry point
from outside, routing by host name and URL path and terminating TLS. The API objects do nothing by
themselves: an *ingress controller* watches them and runs the proxy. minik8s ships one, the
implementation of the default IngressClass ``minik8s``, in the same shape as upstream's controllers
(ingress-nginx): a controller that only talks to the API, and a data plane that only proxies.

========================  ==============================================================
module                    what it is
========================  ==============================================================
``routing``               the pure part: host and path matching, the merged route table
``certificates``          ``kubernetes.io/tls`` Secrets as SSL contexts; the fake certificate
``proxy``                 ``IngressProxy``: the aiohttp reverse proxy (HTTP, HTTPS by SNI, WebSocket)
``controller``            ``IngressController``: watches the API, feeds the proxy, writes status
========================  ==============================================================

Interface:
    ingress_controller(ctx, runtime, network=None, port_offset=0) -> IngressController
    controller.proxy.serve(host, http_port, https_port) -> (http_port, https_port)

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

from typing import Any

from minik8s.controllers.controller import Context
from minik8s.ingress.controller import CLASS_NAME, CONTROLLER, IngressController
from minik8s.ingress.proxy import HTTPTransport, IngressProxy, SimulatedTransport

__all__ = ["CLASS_NAME", "CONTROLLER", "IngressController", "IngressProxy", "ingress_controller"]


def ingress_controller(ctx: Context, runtime: str, network: Any = None, port_offset: int = 0) -> IngressController:
    """The controller with the data plane of ``runtime``: the simulated pod network, or real sockets."""
    transport: HTTPTransport | SimulatedTransport
    if runtime == "simulated":
        transport = SimulatedTransport(network, ctx.clock.now)
    else:
        transport = HTTPTransport(port_offset)
    return IngressController(ctx, IngressProxy(transport))

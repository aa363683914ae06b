"""The simulated pod network: one fabric that joins the pods of every simulated node.

On a real cluster every pod gets an IP that every other pod reaches directly, on any node (the
Kubernetes network model); kube-proxy turns a Service's virtual IP into one of its endpoints, and
cluster DNS turns ``web`` into that virtual IP. The ``simulated`` runtime runs no processes, so this
module plays the wire: a :class:`SimulatedNetwork` is made once per cluster and shared by every
simulated node's runtime. A connection goes

    client pod --route()--> endpoint (pod IP, port) --> the runtime that owns that IP
              --> the container listening there, if it is running --> its app answers

Three hooks decide what a real cluster's data plane decides; they are Protocols here so that the
components that own them plug in without importing the kubelet:

* :class:`Router` (kube-proxy's simulated back-end): ``route(node, client_ip, dst_ip, dst_port,
  protocol)`` maps a Service VIP or NodePort to the endpoint it picks, a plain pod IP to itself,
  and anything it refuses to ``None`` (connection refused). The default, :class:`PodRouter`,
  routes only to the address asked for: no Services until kube-proxy is connected.
* :class:`Resolver` (cluster DNS): ``lookup(name, namespace, qtype)`` applies a ClusterFirst pod's
  search path (``<ns>.svc.cluster.local svc.cluster.local cluster.local``, ``ndots:5``) and returns
  the fully qualified name it matched and its answers (addresses; for a CNAME, such as an
  ExternalName Service's, the target name first), or ``None`` for NXDOMAIN; an empty list is a
  name without records of that type. A name ending in ``.`` is absolute: no search path
  (busybox's ``nslookup`` asks that way, and so does a pod with its own ``/etc/resolv.conf``,
  whose search path the shell applies itself). The default, :class:`NoDNS`, stands for no DNS
  server at all: ``nslookup`` times out and names do not resolve.
* :class:`PacketFilter` (the network-policy agent, :mod:`minik8s.proxy.netpol`): ``admits(client_ip,
  ip, port, protocol)`` decides a new connection to the endpoint the router chose (after the Service
  address is translated, as a real node's filter sees it). A refused admission drops the packets: the
  client raises :class:`ConnectionTimedOut` and its tools print their time-out, never "connection
  refused", as on a real cluster with a default-deny policy. Replies are not filtered (a request and
  its answer are one call here, as conntrack lets the answers of an admitted connection through), nor
  is a pod's traffic to itself. The default, :class:`OpenNetwork`, admits everything.

What the apps serve (the teaching images the book uses; each simulates the real image named):

================================================  ======================================================
image                                             answers
================================================  ======================================================
``nginx`` (any tag)                               nginx's welcome page on ``/`` and ``/index.html``, its
                                                  ``50x.html``, and nginx's own 404 page for other paths
``httpd``                                         ``<html><body><h1>It works!</h1></body></html>`` on ``/``
``registry.k8s.io/e2e-test-images/agnhost``       ``serve-hostname`` (port 9376): the pod's hostname, no
                                                  newline; ``netexec`` (8080): ``/hostname``,
                                                  ``/echo?msg=``; Go's ``404 page not found`` otherwise
``registry.k8s.io/hpa-example``                   ``OK!`` (the HPA walkthrough's PHP page; the CPU it burns
                                                  is declared load: :mod:`minik8s.lab.autoscaling`)
anything else listening                           an empty ``200 OK`` (``httpStatus`` scripts it)
================================================  ======================================================

A server answers only while its container runs and only on a port it listens on (see
:meth:`SimulatedRuntime.serving`). Scripted failures the probes see (``readinessFailsAfterSeconds``
and friends) are what the app answers on that path to anyone: the app cannot tell a probe from a
client. A pod whose readiness fails still answers on its own IP; only Service routing, through the
EndpointSlices kube-proxy reads, leaves it out. Each request is logged by the app that served it as
the real image logs it (nginx's access log line, httpd's), so ``kubectl logs`` shows which pod
answered. A request takes no virtual time.

Interface:
    network = SimulatedNetwork()                       # Cluster(runtime="simulated") makes one: cluster.network
    network.router = proxy_backend                     # a Router: kube-proxy's simulated back-end
    network.resolver = dns                             # a Resolver: cluster DNS
    network.filter = policy_agent                      # a PacketFilter: NetworkPolicy enforcement
    network.attach(runtime)                            # each node's SimulatedRuntime does this itself
    network.request(node, client_ip, ip, port, method, path, now, agent) -> Response | None (refused)
    network.connect(node, client_ip, ip, port, protocol) -> Endpoint | None (who answers)
        both raise ConnectionTimedOut when the filter drops the connection
    PodNetwork(network, node, pod_ip, namespace, hostname, now)   # the network as one pod sees it

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Callable, Protocol
from urllib.parse import parse_qs

from minik8s.addresses import CLUSTER_DOMAIN, dns_service_ip, service_cidr

NGINX_VERSION = "1.27.3"                 # what ``nginx:latest`` and non-version tags report
HTTPD_SERVER = "Apache/2.4.62 (Unix)"
# The files' modification time in the images (Last-Modified, and nginx's ETag is derived from it).
IMAGE_FILE_MTIME = 1732636500            # 2024-11-26 15:55:00 UTC

# Both of nginx's stock pages carry the same style sheet.
_NGINX_STYLE = """<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto;
font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
"""

NGINX_WELCOME = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
""" + _NGINX_STYLE + """</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""

NGINX_50X = """<!DOCTYPE html>
<html>
<head>
<title>Error</title>
""" + _NGINX_STYLE + """</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
<p>If you are the system administrator of this resource then you should check
the error log for details.</p>
<p><em>Faithfully yours, nginx.</em></p>
</body>
</html>
"""

HTTPD_WORKS = "<html><body><h1>It works!</h1></body></html>\n"

HTTPD_NOT_FOUND = """<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>404 Not Found</title>
</head><body>
<h1>Not Found</h1>
<p>The requested URL was not found on this server.</p>
</body></html>
"""

GO_NOT_FOUND = "404 page not found\n"
# Where nginx's reason phrases differ from the RFC's.
NGINX_REASONS = {302: "Moved Temporarily", 503: "Service Temporarily Unavailable"}


# --- the hooks ---------------------------------------------------------------------------------


class Router(Protocol):
    """kube-proxy's part: where a packet for ``dst_ip:dst_port`` goes (None: refused)."""

    def route(self, node: str, client_ip: str, dst_ip: str, dst_port: int,
              protocol: str) -> tuple[str, int] | None: ...


class Resolver(Protocol):
    """Cluster DNS's part: ``(fqdn, answers)`` for a name asked from a pod, or None (NXDOMAIN)."""

    def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None: ...


class PacketFilter(Protocol):
    """The network policy's part: may a new connection from ``client_ip`` reach ``ip:port``? (False: dropped)"""

    def admits(self, client_ip: str, ip: str, port: int, protocol: str) -> bool: ...


class ConnectionTimedOut(Exception):
    """The connection's packets were dropped: the client hears nothing until its own time-out."""


class PodRouter:
    """The network without kube-proxy: a packet goes to the address it was sent to."""

    def route(self, node: str, client_ip: str, dst_ip: str, dst_port: int,
              protocol: str) -> tuple[str, int] | None:
        return dst_ip, dst_port


class OpenNetwork:
    """The network without NetworkPolicy enforcement: every connection is admitted."""

    def admits(self, client_ip: str, ip: str, port: int, protocol: str) -> bool:
        return True


class NoDNS:
    """The network without cluster DNS: every name is NXDOMAIN."""

    def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None:
        return None


# --- what answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class App:
    """The program listening at an address, as a runtime describes it (see ``SimulatedRuntime.serving``)."""
    image: str                   # catalogue key: nginx, httpd, registry.k8s.io/e2e-test-images/agnhost, ...
    tag: str
    hostname: str
    argv: tuple[str, ...]
    port: int
    status: int | None = None    # a scripted status this path answers with (failing probe, httpStatus)


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: str
    phrase: str = ""             # the server's own reason phrase, when it is not the RFC's

    @property
    def reason(self) -> str:
        return self.phrase or reason(self.status)

    @property
    def status_line(self) -> str:
        return f"HTTP/1.1 {self.status} {self.reason}"


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Runtime(Protocol):
    """What the fabric needs from a node's runtime."""
    node_name: str

    def owns(self, ip: str) -> bool: ...

    def serving(self, ip: str, port: int, path: str | None) -> App | None: ...

    def log(self, ip: str, port: int, line: str) -> None: ...


@dataclass(frozen=True)
class Endpoint:
    """Where a connection landed: the app, the runtime of its node, the pod IP and port."""
    app: App
    runtime: Runtime
    ip: str
    port: int


@dataclass
class SimulatedNetwork:
    """The cluster's pod network: every simulated node's runtime attaches to the same one."""
    router: Router = field(default_factory=PodRouter)
    resolver: Resolver = field(default_factory=NoDNS)
    filter: PacketFilter = field(default_factory=OpenNetwork)
    dns_ip: str = field(default_factory=lambda: dns_service_ip(service_cidr("simulated")))
    domain: str = CLUSTER_DOMAIN
    runtimes: list[Runtime] = field(default_factory=list)

    def attach(self, runtime: Runtime) -> None:
        if runtime not in self.runtimes:
            self.runtimes.append(runtime)

    def detach(self, runtime: Runtime) -> None:
        if runtime in self.runtimes:
            self.runtimes.remove(runtime)

    def connect(self, node: str, client_ip: str, ip: str, port: int, protocol: str = "TCP",
                path: str | None = None) -> Endpoint | None:
        """Who answers a connection to ``ip:port``, or None (refused); raises :class:`ConnectionTimedOut`
        when the packet filter drops it."""
        if _loopback(ip):  # 127.0.0.1 inside a pod is the pod itself: no kube-proxy on that path
            target: tuple[str, int] | None = (client_ip, port)
        else:
            target = self.router.route(node, client_ip, ip, port, protocol)
        if target is None:
            return None
        endpoint_ip, endpoint_port = target
        if endpoint_ip != client_ip and not self.filter.admits(client_ip, endpoint_ip, endpoint_port, protocol):
            raise ConnectionTimedOut(f"{client_ip} -> {endpoint_ip}:{endpoint_port}/{protocol}")
        for runtime in self.runtimes:
            if runtime.owns(endpoint_ip):
                app = runtime.serving(endpoint_ip, endpoint_port, path)
                return Endpoint(app, runtime, endpoint_ip, endpoint_port) if app is not None else None
        return None

    def request(self, node: str, client_ip: str, ip: str, port: int, method: str, path: str,
                now: float = 0.0, agent: str = "-") -> Response | None:
        """One HTTP request; None when the connection is refused. The app logs it as it would."""
        endpoint = self.connect(node, client_ip, ip, port, "TCP", path.split("?", 1)[0])
        if endpoint is None:
            return None
        response = respond(endpoint.app, method, path, now)
        line = access_log(endpoint.app, "127.0.0.1" if _loopback(ip) else client_ip, method, path, response,
                          agent, now)
        if line is not None:
            endpoint.runtime.log(endpoint.ip, endpoint.port, line)
        return response

    def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None:
        return self.resolver.lookup(name, namespace, qtype)

    def has_host(self, ip: str) -> bool:
        """Is ``ip`` a node's or a running pod's address (so that it answers ping)?"""
        return any(runtime.owns(ip) for runtime in self.runtimes)


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


# --- the apps ----------------------------------------------------------------------------------


def respond(app: App, method: str, target: str, now: float) -> Response:
    """What the app at ``app`` answers to ``method target`` (HEAD: the same headers, no body)."""
    path, _, query = target.partition("?")
    if app.image == "nginx":
        response = _nginx(app, path)
    elif app.image == "httpd":
        response = _httpd(app, path)
    elif app.image == "registry.k8s.io/e2e-test-images/agnhost":
        response = _agnhost(app, path, query, now)
    elif app.image == "registry.k8s.io/hpa-example":   # index.php: a loop of square roots, then OK!
        response = Response(200, (("Content-Type", "text/html; charset=UTF-8"), ("Content-Length", "3")), "OK!")
    else:
        response = Response(200, (("Content-Length", "0"),), "")
    if app.status is not None and app.status != response.status:
        response = _scripted(app, response, app.status)
    headers = (("Date", http_date(now)),) + response.headers
    if app.image == "nginx":
        headers = (("Server", f"nginx/{_nginx_version(app.tag)}"),) + headers
    elif app.image == "httpd":
        headers = headers[:1] + (("Server", HTTPD_SERVER),) + headers[1:]
    return Response(response.status, headers, "" if method == "HEAD" else response.body, response.phrase)


def _static(body: str, content_type: str, etag: str, *, nginx: bool) -> tuple[tuple[str, str], ...]:
    modified = http_date(IMAGE_FILE_MTIME)
    if nginx:
        return (("Content-Type", content_type), ("Content-Length", str(len(body.encode()))),
                ("Last-Modified", modified), ("Connection", "keep-alive"), ("ETag", etag), ("Accept-Ranges", "bytes"))
    return (("Last-Modified", modified), ("ETag", etag), ("Accept-Ranges", "bytes"),
            ("Content-Length", str(len(body.encode()))), ("Content-Type", content_type))


def _nginx(app: App, path: str) -> Response:
    pages = {"/": NGINX_WELCOME, "/index.html": NGINX_WELCOME, "/50x.html": NGINX_50X}
    body = pages.get(path)
    if body is None:
        return _nginx_error(app, 404)
    etag = f'"{IMAGE_FILE_MTIME:x}-{len(body.encode()):x}"'
    return Response(200, _static(body, "text/html", etag, nginx=True), body)


def _nginx_error(app: App, status: int) -> Response:
    phrase = NGINX_REASONS.get(status, reason(status))
    line = f"{status} {phrase}"
    body = (f"<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n"
            f"<hr><center>nginx/{_nginx_version(app.tag)}</center>\r\n</body>\r\n</html>\r\n")
    return Response(status, (("Content-Type", "text/html"), ("Content-Length", str(len(body))),
                             ("Connection", "keep-alive")), body, phrase)


def _nginx_version(tag: str) -> str:
    return tag.split("-", 1)[0] if re.fullmatch(r"\d+\.\d+\.\d+(-\w+)?", tag) else NGINX_VERSION


def _httpd(app: App, path: str) -> Response:
    if path in ("/", "/index.html"):
        etag = f'"{len(HTTPD_WORKS):x}-{IMAGE_FILE_MTIME * 1_000_000:x}"'
        return Response(200, _static(HTTPD_WORKS, "text/html", etag, nginx=False), HTTPD_WORKS)
    return Response(404, (("Content-Length", str(len(HTTPD_NOT_FOUND))),
                          ("Content-Type", "text/html; charset=iso-8859-1")), HTTPD_NOT_FOUND)


def _agnhost(app: App, path: str, query: str, now: float) -> Response:
    sub = app.argv[1] if len(app.argv) > 1 else ""
    if sub == "serve-hostname":
        return _text(200, app.hostname)
    if sub == "netexec" and path == "/hostname":
        return _text(200, app.hostname)
    if sub == "netexec" and path == "/echo":
        return _text(200, (parse_qs(query).get("msg") or [""])[0])
    if sub == "netexec" and path == "/":
        stamp = datetime.fromtimestamp(now, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        return _text(200, f"NOW: {stamp}")
    return Response(404, (("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff"),
                          ("Content-Length", str(len(GO_NOT_FOUND)))), GO_NOT_FOUND)


def _text(status: int, body: str) -> Response:
    return Response(status, (("Content-Length", str(len(body.encode()))),
                             ("Content-Type", "text/plain; charset=utf-8")), body)


def _scripted(app: App, response: Response, status: int) -> Response:
    """A scripted status (a failing health endpoint, ``httpStatus``): the app's error page for it."""
    if app.image == "nginx" and status >= 400:
        return _nginx_error(app, status)
    return Response(status, response.headers, response.body, response.phrase)


def access_log(app: App, client_ip: str, method: str, target: str, response: Response, agent: str,
               now: float) -> str | None:
    """The line the app prints for a request: nginx's ``main`` format (the image's default), httpd's
    common format; None for apps that log nothing per request here."""
    when = datetime.fromtimestamp(int(now), tz=timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    request = f'"{method} {target} HTTP/1.1" {response.status}'
    size = len(response.body.encode())
    if app.image == "nginx":
        return f'{client_ip} - - [{when}] {request} {size} "-" "{agent}" "-"'
    if app.image == "httpd":
        return f"{client_ip} - - [{when}] {request} {size if size else '-'}"
    return None


def http_date(t: float) -> str:
    """An HTTP ``Date`` header (RFC 9110 IMF-fixdate)."""
    return datetime.fromtimestamp(int(t), tz=timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


# --- one pod's view ----------------------------------------------------------------------------


@dataclass
class PodNetwork:
    """The network as the commands in one pod see it: its address, its names, its resolver."""
    network: SimulatedNetwork | None
    node: str = ""
    pod_ip: str = ""
    namespace: str = "default"
    hostname: str = ""
    now: Callable[[], float] = lambda: 0.0

    def hosts(self, name: str) -> str | None:
        """``/etc/hosts`` as the kubelet writes it: localhost and the pod's own hostname."""
        if name == "localhost":
            return "127.0.0.1"
        if name and name == self.hostname and self.pod_ip:
            return self.pod_ip
        return None

    def resolve(self, name: str) -> str | None:
        """An address for ``name`` as libc finds it: a literal, /etc/hosts, then DNS (with the search path)."""
        if is_ip(name, 4):
            return name
        local = self.hosts(name)
        if local is not None:
            return local
        answer = self.network.lookup(name, self.namespace, "A") if self.has_dns and self.network else None
        # An A answer may be a CNAME's target (an ExternalName Service) the resolver could not follow.
        addresses = [value for value in (answer[1] if answer else []) if is_ip(value, 4)]
        return addresses[0] if addresses else None

    def query(self, fqdn: str, qtype: str) -> tuple[str, list[str]] | None:
        """One DNS question for an absolute name, as nslookup asks it."""
        if self.network is None:
            return None
        return self.network.lookup(fqdn.rstrip(".") + ".", self.namespace, qtype)

    def request(self, ip: str, port: int, method: str, path: str, agent: str = "-") -> Response | None:
        if self.network is None:
            return None
        return self.network.request(self.node, self.pod_ip, ip, port, method, path, self.now(), agent)

    def reachable(self, ip: str, port: int, protocol: str = "TCP") -> bool:
        if self.network is None:
            return False
        return self.network.connect(self.node, self.pod_ip, ip, port, protocol) is not None

    def answers_ping(self, ip: str) -> bool:
        """ICMP echo: the pod itself, other pods and the nodes answer; a Service VIP is no host and does not."""
        return _loopback(ip) or ip == self.pod_ip or (self.network is not None and self.network.has_host(ip))

    @property
    def has_dns(self) -> bool:
        """Is cluster DNS connected, and may this pod reach it (a NetworkPolicy may drop its queries)?
        Without it, asking the name server gets no answer at all."""
        return (self.network is not None and not isinstance(self.network.resolver, NoDNS)
                and self.network.filter.admits(self.pod_ip, self.network.dns_ip, 53, "UDP"))

    @property
    def nameserver(self) -> str:
        return self.network.dns_ip if self.network else ""

    def search(self) -> list[str]:
        """A ClusterFirst pod's search path (what the kubelet writes into resolv.conf)."""
        domain = self.network.domain if self.network else CLUSTER_DOMAIN
        return [f"{self.namespace}.svc.{domain}", f"svc.{domain}", domain]


def is_ip(text: str, version: int | None = None) -> bool:
    """Is ``text`` an IP address (of that version, if given)?"""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version

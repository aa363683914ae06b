"""The ingress controller (:mod:`minik8s.ingress`): routing as pure functions, checked case by case
against the "Examples" table of the upstream Ingress documentation; then the controller in a cluster
(simulated runtime, virtual clock); then end to end with the real kubectl against ``minik8s server
--runtime process``: two Services behind one Ingress, 404, 503, TLS by SNI, X-Forwarded-*, bad input."""

from __future__ import annotations

import pytest

from minik8s.ingress.routing import RouteTable, host_matches, path_matches, request_host

# The upstream docs' table (concepts/services-networking/ingress, "Examples"): kind, rule paths,
# request path, and the rule path that serves it (None: no match, the default backend).
PATH_TABLE = [
    ("Prefix", ["/"], "/anything/at/all", "/"),
    ("Exact", ["/foo"], "/foo", "/foo"),
    ("Exact", ["/foo"], "/bar", None),
    ("Exact", ["/foo"], "/foo/", None),
    ("Exact", ["/foo/"], "/foo", None),
    ("Prefix", ["/foo"], "/foo", "/foo"),
    ("Prefix", ["/foo"], "/foo/", "/foo"),
    ("Prefix", ["/foo/"], "/foo", "/foo/"),
    ("Prefix", ["/foo/"], "/foo/", "/foo/"),
    ("Prefix", ["/aaa/bb"], "/aaa/bbb", None),
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/aaa/bbb/"], "/aaa/bbb", "/aaa/bbb/"),         # ignores the trailing slash
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/", "/aaa/bbb"),          # matches the trailing slash
    ("Prefix", ["/aaa/bbb"], "/aaa/bbb/ccc", "/aaa/bbb"),       # matches a subpath
    ("Prefix", ["/aaa/bbb"], "/aaa/bbbxyz", None),              # not a string prefix
    ("Prefix", ["/", "/aaa"], "/aaa/ccc", "/aaa"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/aaa/bbb", "/aaa/bbb"),
    ("Prefix", ["/", "/aaa", "/aaa/bbb"], "/ccc", "/"),
    ("Prefix", ["/aaa"], "/ccc", None),                         # the default backend
]


def _ingress(paths: list[tuple[str, str, str]], host: str = "", name: str = "ing", created: str = "2024-01-01T00:00:00Z",
             default: str | None = None) -> dict:
    spec: dict = {"rules": [{**({"host": host} if host else {}), "http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": svc, "port": {"number": 80}}}}
        for p, t, svc in paths]}}]}
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    return {"metadata": {"namespace": "default", "name": name, "creationTimestamp": created}, "spec": spec}


@pytest.mark.parametrize("kind,paths,request_path,served_by", PATH_TABLE)
def test_path_table_from_the_upstream_docs(kind, paths, request_path, served_by):
    table = RouteTable.build([_ingress([(p, kind, "svc" + p) for p in paths])])
    route = table.match("any.example", request_path)
    assert (route.path if route else None) == served_by


def test_mixed_path_types_prefer_exact():
    table = RouteTable.build([_ingress([("/foo", "Prefix", "prefix"), ("/foo", "Exact", "exact")])])
    assert table.match("x", "/foo").backend.service == "exact"
    assert table.match("x", "/foo/bar").backend.service == "prefix"


@pytest.mark.parametrize("path_type,rule,asked,expected", [
    ("Prefix", "/foo", "/foobar", False), ("Prefix", "/foo", "/foo/bar", True), ("Prefix", "/", "/", True),
    ("Exact", "/Foo", "/foo", False), ("ImplementationSpecific", "/foo", "/foo/x", True),   # treated as Prefix
])
def test_path_matches(path_type, rule, asked, expected):
    assert path_matches(path_type, rule, asked) is expected


@pytest.mark.parametrize("rule,host,expected", [
    ("foo.bar.com", "foo.bar.com", True), ("foo.bar.com", "FOO.bar.com", True), ("foo.bar.com", "bar.com", False),
    ("*.foo.com", "bar.foo.com", True), ("*.foo.com", "baz.bar.foo.com", False), ("*.foo.com", "foo.com", False),
    ("", "anything.example", True),
])
def test_host_matches_as_the_docs_say(rule, host, expected):
    assert host_matches(rule, host) is expected


def test_hosts_exact_before_wildcard_before_any_and_port_dropped():
    table = RouteTable.build([
        _ingress([("/", "Prefix", "any")], name="a"),
        _ingress([("/", "Prefix", "wild")], host="*.example.com", name="b"),
        _ingress([("/", "Prefix", "exact")], host="shop.example.com", name="c"),
    ])
    assert table.match(request_host("shop.example.com:8080"), "/").backend.service == "exact"
    assert table.match("blog.example.com", "/").backend.service == "wild"
    assert table.match("a.blog.example.com", "/").backend.service == "any"
    assert request_host("[::1]:80") == "::1"


def test_overlapping_rules_the_older_ingress_wins_and_default_backend():
    newer = _ingress([("/api", "Prefix", "new")], host="h", name="newer", created="2024-02-01T00:00:00Z",
                     default="fallback-new")
    older = _ingress([("/api", "Prefix", "old")], host="h", name="older", created="2024-01-01T00:00:00Z",
                     default="fallback-old")
    table = RouteTable.build([newer, older])
    assert table.match("h", "/api/x").backend.service == "old"
    assert table.match("h", "/other").backend.service == "fallback-old"
    assert RouteTable.build([_ingress([("/api", "Prefix", "x")], host="h")]).match("h", "/other") is None


# --- the controller in a cluster (simulated runtime, virtual clock) --------------------------------------------

def _app(name: str, image: str, replicas: int, port: int, port_name: str) -> str:
    """A Deployment of ``image`` (listening on 80) and its Service on ``port`` (named ``port_name``)."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec: {{containers: [{{name: main, image: "{image}", ports: [{{containerPort: 80}}]}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: {name}}}
spec: {{selector: {{app: {name}}}, ports: [{{name: {port_name}, port: {port}, targetPort: 80}}]}}
---
"""


TWO_APPS = _app("web", "nginx:1.27", 2, 80, "http") + _app("api", "httpd:2.4", 1, 8080, "web") + """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop}
spec:
  rules:
  - host: shop.example
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {name: web}}}}
      - {path: /gone, pathType: Exact, backend: {service: {name: missing, port: {number: 80}}}}
"""


@pytest.fixture
def sim():
    from minik8s import Cluster

    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=3) as cluster:
        cluster.apply(TWO_APPS)
        cluster.advance(30)
        yield cluster


def test_simulated_cluster_routes_by_host_and_path(sim):
    status, body = sim.http_get("shop.example", "/")
    assert status == 200 and "Welcome to nginx!" in body
    # /api goes to httpd, path unchanged (no rewrite): httpd serves only /, so its own 404 page answers
    status, body = sim.http_get("SHOP.example:80", "/api/users")
    assert status == 404 and "The requested URL was not found on this server." in body
    assert sim.http_get("other.example", "/")[0] == 404
    assert sim.http_get("shop.example", "/gone")[0] == 503
    # round robin over the two ready nginx pods: each logs one of two requests
    sim.http_get("shop.example", "/index.html")
    logs = [sim.kubectl(f"logs {pod}") for pod in sim.kubectl("get pods -l app=web -o name").split()]
    assert all('"GET /' in log for log in logs)


def test_default_class_created_and_events(sim):
    assert "minik8s.io/ingress-controller" in sim.kubectl("get ingressclass minik8s")
    annotations = sim.kubectl("get ingressclass minik8s -o jsonpath={.metadata.annotations}")
    assert '"ingressclass.kubernetes.io/is-default-class":"true"' in annotations
    # the DefaultIngressClass admission plugin filled in the class of an Ingress created without one
    assert sim.kubectl("get ingress shop -o jsonpath={.spec.ingressClassName}") == "minik8s"
    events = sim.kubectl("get events --field-selector involvedObject.name=shop")
    assert "Scheduled for sync" in events
    assert 'service "default/missing" not found' in events


def test_other_controllers_ingresses_are_ignored(sim):
    sim.apply("""
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: nginx}
spec: {controller: k8s.io/ingress-nginx}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: theirs}
spec:
  ingressClassName: nginx
  rules:
  - host: theirs.example
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
""")
    sim.run_until_stable()
    assert sim.http_get("theirs.example", "/")[0] == 404


def test_status_names_the_proxy_once_it_listens(sim):
    http_port, https_port = sim.serve_ingress()
    status = sim.kubectl("get ingress shop -o jsonpath={.status.loadBalancer.ingress}")
    assert '"ip":"127.0.0.1"' in status and f'"port":{http_port}' in status and f'"port":{https_port}' in status
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{http_port}/", headers={"Host": "shop.example"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and b"Welcome to nginx!" in response.read()


# --- bad input: 422 with upstream's field paths and wording --------------------------------------------------

BAD_INGRESS = """
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad}
spec:
  rules:
  - host: 1.2.3.4
    http:
      paths:
      - {path: foo, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /a//b, pathType: Exact, backend: {service: {name: web, port: {name: http, number: 80}}}}
      - {path: /x, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /y, pathType: Regex, backend: {service: {name: web}}}
  - host: "*.a.*.com"
    http: {paths: [{path: /, pathType: Prefix, backend: {}}]}
"""

BAD_INGRESS_CAUSES = [
    'spec.rules[0].host: Invalid value: "1.2.3.4": must be a DNS name, not an IP address',
    'spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path',
    "spec.rules[0].http.paths[1].path: Invalid value: \"/a//b\": must not contain '//'",
    'spec.rules[0].http.paths[1].backend.service.port: Invalid value: "": cannot set both port name & port number',
    "spec.rules[0].http.paths[2].pathType: Required value: pathType must be specified",
    'spec.rules[0].http.paths[3].pathType: Unsupported value: "Regex": supported values: "Exact", '
    '"ImplementationSpecific", "Prefix"',
    "spec.rules[0].http.paths[3].backend.service.port: Required value: port name or number is required",
    "spec.rules[1].host: Invalid value: \"*.a.*.com\": a wildcard DNS-1123 subdomain must start with '*.'",
    'spec.rules[1].http.paths[0].backend: Invalid value: "": resource or service backend is required',
]


def test_bad_ingresses_are_422_with_upstream_causes():
    from minik8s import Cluster

    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=1) as cluster:
        code, _, err = cluster.run_kubectl("apply -f -", stdin=BAD_INGRESS)
        assert code == 1 and err.startswith('The Ingress "bad" is invalid: ')
        for cause in BAD_INGRESS_CAUSES:
            assert cause in err
        code, _, err = cluster.run_kubectl("apply -f -", stdin="apiVersion: networking.k8s.io/v1\nkind: Ingress\n"
                                                              "metadata: {name: empty}\nspec: {}\n")
        assert "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or `rules` must be " \
               "specified" in err
        code, _, err = cluster.run_kubectl("apply -f -", stdin="apiVersion: networking.k8s.io/v1\nkind: IngressClass\n"
                                                              "metadata: {name: c}\nspec: {controller: foo}\n")
        assert 'spec.controller: Invalid value: "foo": must be a domain-prefixed path (such as "acme.io/foo")' in err
        code, _, err = cluster.run_kubectl(["patch", "ingressclass", "minik8s", "-p",
                                            '{"spec":{"controller":"example.com/other"}}'])
        assert code == 1 and "spec.controller: Invalid value: " in err and "field is immutable" in err


# --- the proxy on real sockets, in front of a real aiohttp backend ---------------------------------------------

@pytest.fixture
def backend_server():
    """An aiohttp app on a free loopback port: /headers echoes the request headers, /stream sends three chunks
    with pauses, /upload counts the bytes it receives, /ws echoes WebSocket messages."""
    import asyncio
    import threading

    from aiohttp import web

    async def headers(request):
        return web.json_response({"headers": dict(request.headers), "path": request.path_qs})

    async def stream(request):
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(3):
            await response.write(f"part {i}\n".encode())
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    async def upload(request):
        size = 0
        async for chunk in request.content.iter_chunked(65536):
            size += len(chunk)
        return web.Response(text=str(size))

    async def ws(request):
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        async for message in socket:
            await socket.send_str("echo " + message.data)
        return socket

    app = web.Application()
    app.router.add_get("/headers", headers)
    app.router.add_get("/stream", stream)
    app.router.add_post("/upload", upload)
    app.router.add_get("/ws", ws)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    runner = web.AppRunner(app)

    async def start():
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner.addresses[0][1]

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield port
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def proxy(backend_server):
    from minik8s.ingress.proxy import Config, HTTPTransport, IngressProxy
    from minik8s.ingress.routing import Backend

    ingress = _ingress([("/", "Prefix", "echo"), ("/down", "Prefix", "down")], host="echo.example")
    p = IngressProxy(HTTPTransport())
    p.config = Config(RouteTable.build([ingress]), {Backend("default", "echo", 80): (("127.0.0.1", backend_server),),
                                                    Backend("default", "down", 80): ()})
    http_port, _ = p.serve("127.0.0.1", 0, None)
    yield f"http://127.0.0.1:{http_port}"
    p.stop()


def _get(url: str, host: str, headers: dict | None = None, data: bytes | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=data, headers={"Host": host, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_proxy_adds_forwarded_headers(proxy):
    import json

    status, body = _get(proxy + "/headers?x=1", "echo.example:8080", {"X-Forwarded-For": "203.0.113.7"})
    seen = json.loads(body)
    assert status == 200 and seen["path"] == "/headers?x=1"
    headers = seen["headers"]
    assert headers["X-Forwarded-For"] == "203.0.113.7, 127.0.0.1"
    assert headers["X-Real-IP"] == "127.0.0.1"
    assert headers["X-Forwarded-Host"] == "echo.example:8080"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["Host"] == "echo.example:8080"


def test_proxy_streams_chunks_and_bodies(proxy):
    import http.client

    connection = http.client.HTTPConnection(proxy.removeprefix("http://"), timeout=10)
    connection.request("GET", "/stream", headers={"Host": "echo.example"})
    response = connection.getresponse()
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.read() == b"part 0\npart 1\npart 2\n"
    connection.close()
    assert _get(proxy + "/upload", "echo.example", data=b"x" * 3_000_000) == (200, b"3000000")


def test_proxy_404_503_and_websocket(proxy):
    import asyncio

    import aiohttp

    assert _get(proxy + "/", "nobody.example")[0] == 404
    status, body = _get(proxy + "/down", "echo.example")
    assert status == 503 and b"503 Service Temporarily Unavailable" in body

    async def talk() -> str:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(proxy + "/ws", headers={"Host": "echo.example"}) as ws:
                await ws.send_str("hello")
                message = await ws.receive(timeout=10)
                return str(message.data)

    assert asyncio.run(talk()) == "echo hello"


# --- end to end: the real kubectl against `minik8s server --runtime process` ----------------------------------

# A pod that answers every GET with its name, the path and the X-Forwarded-Proto it was sent.
ECHO = """
import http.server, os
class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"api {self.path} {self.headers.get('X-Forwarded-Proto')}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("0.0.0.0", 8000), Echo).serve_forever()
"""

E2E_APPS = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
             "metadata": {"labels": {"app": "web"}},
             "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
         "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 80}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "api"}}, "template": {
             "metadata": {"labels": {"app": "api"}},
             "spec": {"containers": [{"name": "echo", "image": "python:3.12", "command": ["python", "-c", ECHO],
                                      "ports": [{"containerPort": 8000}]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api"},
         "spec": {"selector": {"app": "api"}, "ports": [{"name": "http", "port": 80, "targetPort": 8000}]}},
]


def _ageless(text: str) -> str:
    """Ages (``12s``, ``3m4s``) blanked: two commands a second apart print the same table."""
    import re

    return re.sub(r"\b(\d+[dhm])?\d+[smhd]\b", "AGE", text)


def _https(port: int, host: str, path: str, ca_pem: bytes | None) -> tuple[int, bytes, dict]:
    """GET over TLS with SNI ``host``: (status, body, the server certificate as Python parses it)."""
    import http.client
    import ssl

    context = ssl.create_default_context(cadata=ca_pem.decode()) if ca_pem else ssl._create_unverified_context()
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    connection.sock = None
    connection._tunnel_host = None
    import socket

    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    connection.sock = context.wrap_socket(raw, server_hostname=host)
    cert = connection.sock.getpeercert() if ca_pem else {}
    connection.request("GET", path, headers={"Host": host})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body, cert


@pytest.mark.skipif(__import__("shutil").which("kubectl") is None, reason="the real kubectl is not on PATH")
def test_two_services_behind_one_ingress_with_the_real_kubectl(tmp_path):
    import json

    from conftest import start_server, wait_for

    from minik8s.ingress.certificates import self_signed

    srv = start_server(tmp_path, "--runtime", "process", "--nodes", "1")
    try:
        line = srv.process.stdout.readline()
        assert "ingress controller (class minik8s) serving" in line, line
        http_port = int(line.split("http://127.0.0.1:")[1].split()[0])
        https_port = int(line.split("https://127.0.0.1:")[1].split()[0])

        def ok(*args: str, stdin: str | None = None) -> str:
            done = srv.kubectl(*args, stdin=stdin)
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
            return done.stdout

        ok("apply", "-f", "-", stdin=__import__("yaml").safe_dump_all(E2E_APPS))
        cert, key = self_signed(["secure.example"], "secure.example")
        (tmp_path / "tls.crt").write_bytes(cert)
        (tmp_path / "tls.key").write_bytes(key)
        ok("create", "secret", "tls", "secure-tls", f"--cert={tmp_path / 'tls.crt'}", f"--key={tmp_path / 'tls.key'}")
        ok("create", "ingress", "shop", "--rule=shop.example/*=web:80", "--rule=shop.example/api/*=api:http",
           "--rule=secure.example/*=api:80,tls=secure-tls", "--rule=shop.example/gone=missing:80")
        ok("rollout", "status", "deployment/web", "--timeout=60s")
        ok("rollout", "status", "deployment/api", "--timeout=60s")

        def get(host: str, path: str) -> tuple[int, bytes]:
            return _get(f"http://127.0.0.1:{http_port}{path}", host)

        wait_for(lambda: get("shop.example", "/api/x")[0] == 200, 60, "the api backend through the ingress")
        assert get("shop.example", "/api/x") == (200, b"api /api/x http")
        status, body = get("shop.example", "/index.html")
        assert status == 200 and b"Welcome to nginx!" in body
        assert b"nginx" in get("shop.example", "/apix")[1]   # /api/* does not match /apix: web's / does
        assert get("nobody.example", "/")[0] == 404
        assert get("shop.example", "/gone")[0] == 503

        # TLS by SNI: the Secret's certificate for its host, the fake one for others
        status, body, peer = _https(https_port, "secure.example", "/tls", cert)
        assert (status, body) == (200, b"api /tls https")
        assert ("DNS", "secure.example") in peer["subjectAltName"]
        status, body, _ = _https(https_port, "shop.example", "/api/y", None)
        assert (status, body) == (200, b"api /api/y https")

        # status and the real kubectl's columns
        table = wait_for(lambda: "127.0.0.1" in ok("get", "ingress") and ok("get", "ingress"), 20, "the address")
        header, row = table.splitlines()
        assert header.split() == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
        # the DefaultIngressClass admission plugin named the class; kubectl create ingress made one rule per host
        assert row.split()[:6] == ["shop", "minik8s", "shop.example,secure.example", "127.0.0.1", "80,", "443"]

        # our kubectl against the real one: the same generated object, table and description
        flags = ["create", "ingress", "gen", "--rule=a.example/*=web:80,tls", "--rule=a.example/x=api:http,tls=s1",
                 "--rule=b.example/y*=api:80,tls=s1", "--rule=/z=web:80", "--class=minik8s",
                 "--default-backend=web:80", "--annotation=team=shop", "--dry-run=client", "-o", "json"]
        assert json.loads(srv.kubectl(*flags, real=False).stdout) == json.loads(ok(*flags))
        bad = srv.kubectl("create", "ingress", "x", "--rule=nohost=web:80", real=False)
        assert bad.returncode == 1 and bad.stderr == srv.kubectl("create", "ingress", "x", "--rule=nohost=web:80").stderr
        for args in (("get", "ingress"), ("get", "ingressclass"), ("describe", "ingress", "shop"),
                     ("describe", "ingressclass", "minik8s")):
            ours = srv.kubectl(*args, real=False)
            assert ours.returncode == 0 and _ageless(ours.stdout) == _ageless(ok(*args)), args

        # a bad certificate: a Warning event on the Ingress, the other hosts keep working
        broken = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "broken-tls"}, "type": "kubernetes.io/tls",
                  "data": {"tls.crt": __import__("base64").b64encode(b"not a certificate").decode(),
                           "tls.key": __import__("base64").b64encode(key).decode()}}
        ok("apply", "-f", "-", stdin=json.dumps(broken))
        ok("create", "ingress", "other", "--rule=broken.example/*=web:80,tls=broken-tls")
        wait_for(lambda: "Error getting SSL certificate \"default/broken-tls\"" in ok("get", "events"), 20,
                 "the bad certificate's event")
        assert _https(https_port, "secure.example", "/still", cert)[:2] == (200, b"api /still https")
    finally:
        srv.stop()


def test_the_controller_leaves_a_seeded_clusters_names_as_they_were():
    """Its IngressClass, made at start, draws no uid from the seeded generator: pod names stay the same."""
    from minik8s import Cluster

    names = []
    for ingress in (True, False):
        with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0, ingress=ingress) as cluster:
            cluster.kubectl("create deployment web --image=nginx --replicas=2")
            cluster.run_until_stable()
            names.append(cluster.kubectl("get pods -o name"))
    assert names[0] == names[1]

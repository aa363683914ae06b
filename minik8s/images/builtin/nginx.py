"""The ``nginx`` teaching image: a static web server that behaves like nginx's default site.

Runs as ``nginx -g 'daemon off;'`` (the image's CMD) inside the ``process`` runtime:

* serves files from ``/usr/share/nginx/html`` on port 80 (``index.html`` for a folder,
  403 for a folder without one, nginx's own 404 page otherwise), so a volume mounted
  there is what it serves;
* server-side includes are on for ``.html`` files: ``<!--# echo var="hostname" -->``
  prints the host name, which is the pod's name, so the default page names its pod;
* ``/healthz`` answers ``ok`` (real nginx has no such endpoint: it is here for probes);
* one access-log line per request on stdout in nginx's ``combined`` format, notices on
  stderr, and a fast shutdown with exit code 0 on SIGTERM or SIGQUIT, as nginx does.

Standard library only, and small on purpose: every pod of the image is one Python process, so
it speaks HTTP/1.1 itself over ``socketserver`` (a request line, headers, keep-alive unless
``Connection: close`` or HTTP/1.0) rather than import ``http.server``, whose imports (``email``,
``http.client``) cost each container about 8 MiB and a third of its start-up. The sitecustomize
of the process runtime binds the pod IP and maps ``/usr/share/nginx/html`` to the container's folder.
Taught in chapter 5 (Pods) and chapter 7 (Deployments and Services).
"""

import sys

if sys.flags.no_site:   # started with -S by its image's shim: the runtime's sitecustomize still applies
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass

import os
import signal
import socket
import socketserver
import threading
import time

# What only a request needs (``mimetypes``, ``re``, ``http``, ``urllib.parse``) is imported by the first
# request: an idle pod never loads it, which keeps every pod of the image about 1 MiB smaller.

VERSION = os.environ.get("NGINX_VERSION", "1.27.3")
ROOT = "/usr/share/nginx/html"
PORT = int(os.environ.get("NGINX_PORT", "80"))
SSI = rb'<!--#\s*echo\s+var="(\w+)"\s*-->'
MAX_LINE = 65536       # longest request or header line read (nginx: large_client_header_buffers)
MAX_HEADERS = 100
NGINX_REASONS = {405: "Not Allowed"}   # where nginx's reason phrase is not the RFC's
ERROR_PAGE = ("<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
              "</center>\r\n<hr><center>nginx/{version}</center>\r\n</body>\r\n</html>\r\n")


def notice(text):
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    print(f"{stamp} [notice] 1#1: {text}", file=sys.stderr, flush=True)


def reason(code):
    from http import HTTPStatus
    return NGINX_REASONS.get(code) or HTTPStatus(code).phrase


class BadRequest(Exception):
    pass


class Handler(socketserver.StreamRequestHandler):
    """One client connection: requests one after another while it is kept alive."""

    # Headers and body go out in one write, and Nagle's algorithm is off (nginx sets TCP_NODELAY too):
    # otherwise a keep-alive client's delayed ACK would hold each response for 40 ms.
    disable_nagle_algorithm = True

    def handle(self):
        self.close_connection = False
        while not self.close_connection:
            self.handle_one_request()

    def handle_one_request(self):
        self.requestline, self.headers, self.sent = "", {}, 0
        try:
            line = self.rfile.readline(MAX_LINE + 1)
        except OSError:
            line = b""
        if not line:
            self.close_connection = True   # the client closed the connection
            return
        try:
            method, head = self.parse(line)
        except BadRequest:
            self.close_connection = True
            return self.error(400, False)
        if method not in ("GET", "HEAD"):
            return self.error(405, method == "HEAD")
        self.do_GET(head)

    def parse(self, line):
        """The request line and headers: (method, whether it is HEAD). Raises BadRequest."""
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise BadRequest()
        self.requestline = line.decode("iso-8859-1").rstrip("\r\n")
        words = self.requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
            raise BadRequest()
        method, self.path, version = words
        for _ in range(MAX_HEADERS + 1):
            raw = self.rfile.readline(MAX_LINE + 1)
            if raw in (b"\r\n", b"\n", b""):
                break
            name, colon, value = raw.decode("iso-8859-1").partition(":")
            if not colon or len(raw) > MAX_LINE:
                raise BadRequest()
            self.headers[name.strip().lower()] = value.strip()
        else:
            raise BadRequest()
        connection = self.headers.get("connection", "").lower()
        self.close_connection = connection == "close" or (version == "HTTP/1.0" and connection != "keep-alive")
        return method, method == "HEAD"

    def do_GET(self, head=False):
        from urllib.parse import unquote, urlsplit
        path = unquote(urlsplit(self.path).path)
        if path == "/healthz":
            return self.reply(200, b"ok\n", "text/plain", head)
        if ".." in path.split("/"):
            return self.error(400, head)
        target = os.path.join(ROOT, path.lstrip("/"))
        if os.path.isdir(target):
            if not path.endswith("/"):
                return self.respond(301, [("Location", path + "/"), ("Content-Length", "0")], b"", head)
            target = os.path.join(target, "index.html")
            if not os.path.isfile(target):
                return self.error(403, head)
        if not os.path.isfile(target):
            return self.error(404, head)
        with open(target, "rb") as f:
            body = f.read()
        import mimetypes
        import re
        kind = mimetypes.guess_type(target)[0] or "application/octet-stream"
        if target.endswith(".html"):
            body = re.sub(SSI, self.variable, body)
        self.reply(200, body, kind, head)

    def variable(self, match):
        values = {"hostname": os.environ.get("HOSTNAME") or socket.gethostname(),
                  "server_addr": self.server.server_address[0], "nginx_version": VERSION,
                  "remote_addr": self.client_address[0]}
        return values.get(match.group(1).decode(), "(none)").encode()

    def error(self, code, head):
        body = ERROR_PAGE.format(code=code, reason=reason(code), version=VERSION).encode()
        self.reply(code, body, "text/html", head)

    def reply(self, code, body, kind, head):
        self.respond(code, [("Content-Type", kind), ("Content-Length", str(len(body)))], body, head)

    def respond(self, code, headers, body, head):
        self.sent = 0 if head else len(body)
        self.log_request(code)
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        lines = [f"HTTP/1.1 {code} {reason(code)}", f"Server: nginx/{VERSION}", f"Date: {date}"]
        lines += [f"{name}: {value}" for name, value in headers]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        try:
            self.wfile.write(data if head else data + body)
        except OSError:
            self.close_connection = True   # the client went away

    def log_request(self, code):
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        agent = self.headers.get("user-agent", "-")
        referer = self.headers.get("referer", "-")
        line = (f'{self.client_address[0]} - - [{when}] "{self.requestline}" {int(code)} {self.sent} '
                f'"{referer}" "{agent}" "-"')
        print(line, flush=True)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main(argv):
    if "-v" in argv or "-V" in argv:
        print(f"nginx version: nginx/{VERSION}", file=sys.stderr)
        return 0
    if "-t" in argv:
        print("nginx: the configuration file /etc/nginx/nginx.conf syntax is ok", file=sys.stderr)
        print("nginx: configuration file /etc/nginx/nginx.conf test is successful", file=sys.stderr)
        return 0
    print("/docker-entrypoint.sh: Configuration complete; ready for start up", flush=True)
    try:
        server = Server(("0.0.0.0", PORT), Handler)
    except OSError as exc:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
        print(f'{stamp} [emerg] 1#1: bind() to 0.0.0.0:{PORT} failed ({exc.errno}: {exc.strerror})', file=sys.stderr)
        print(f"nginx: [emerg] bind() to 0.0.0.0:{PORT} failed ({exc.errno}: {exc.strerror})", file=sys.stderr)
        return 1
    notice('using the "epoll" event method')
    notice(f"nginx/{VERSION}")
    notice("start worker processes")

    def stop(signum, frame):
        notice(f"signal {signum} ({signal.Signals(signum).name}) received, exiting")
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGQUIT, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    notice("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

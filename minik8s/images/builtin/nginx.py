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

Standard library only (``http.server``): the sitecustomize of the process runtime binds
the pod IP and maps ``/usr/share/nginx/html`` to the container's folder.
Taught in chapter 5 (Pods) and chapter 7 (Deployments and Services).
"""

import sys

if sys.flags.no_site:   # started with -S by its image's shim: the runtime's sitecustomize still applies
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass

import mimetypes
import os
import re
import signal
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

VERSION = os.environ.get("NGINX_VERSION", "1.27.3")
ROOT = "/usr/share/nginx/html"
PORT = int(os.environ.get("NGINX_PORT", "80"))
SSI = re.compile(rb'<!--#\s*echo\s+var="(\w+)"\s*-->')
ERROR_PAGE = ("<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
              "</center>\r\n<hr><center>nginx/{version}</center>\r\n</body>\r\n</html>\r\n")


def notice(text):
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    print(f"{stamp} [notice] 1#1: {text}", file=sys.stderr, flush=True)


class Handler(BaseHTTPRequestHandler):
    server_version = "nginx/" + VERSION
    sys_version = ""
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle's algorithm the body would wait for the client's
    # delayed ACK (40 ms per request on a keep-alive connection). nginx sets TCP_NODELAY too.
    disable_nagle_algorithm = True

    def version_string(self):
        return self.server_version

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        path = unquote(urlsplit(self.path).path)
        if path == "/healthz":
            return self.reply(200, b"ok\n", "text/plain", head)
        if ".." in path.split("/"):
            return self.error(400, head)
        target = os.path.join(ROOT, path.lstrip("/"))
        if os.path.isdir(target):
            if not path.endswith("/"):
                self.sent = 0
                self.send_response(301)
                self.send_header("Location", path + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            target = os.path.join(target, "index.html")
            if not os.path.isfile(target):
                return self.error(403, head)
        if not os.path.isfile(target):
            return self.error(404, head)
        with open(target, "rb") as f:
            body = f.read()
        kind = mimetypes.guess_type(target)[0] or "application/octet-stream"
        if target.endswith(".html"):
            body = SSI.sub(self.variable, body)
        self.reply(200, body, kind, head)

    def variable(self, match):
        values = {"hostname": os.environ.get("HOSTNAME") or socket.gethostname(),
                  "server_addr": self.server.server_address[0], "nginx_version": VERSION,
                  "remote_addr": self.client_address[0]}
        return values.get(match.group(1).decode(), "(none)").encode()

    def error(self, code, head):
        reason = self.responses.get(code, ("",))[0]
        body = ERROR_PAGE.format(code=code, reason=reason, version=VERSION).encode()
        self.reply(code, body, "text/html", head)

    def reply(self, code, body, kind, head):
        self.sent = 0 if head else len(body)  # for the access log, written by send_response
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_request(self, code="-", size="-"):
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        agent = self.headers.get("User-Agent", "-") if self.headers else "-"
        referer = self.headers.get("Referer", "-") if self.headers else "-"
        line = (f'{self.client_address[0]} - - [{when}] "{self.requestline}" {int(code)} {getattr(self, "sent", 0)} '
                f'"{referer}" "{agent}" "-"')
        print(line, flush=True)

    def log_message(self, format, *args):
        pass


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
        server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    except OSError as exc:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
        print(f'{stamp} [emerg] 1#1: bind() to 0.0.0.0:{PORT} failed ({exc.errno}: {exc.strerror})', file=sys.stderr)
        print(f"nginx: [emerg] bind() to 0.0.0.0:{PORT} failed ({exc.errno}: {exc.strerror})", file=sys.stderr)
        return 1
    server.daemon_threads = True
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

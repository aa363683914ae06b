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

Standard library only, and small on purpose: every pod of the image is one Python process, so it
is built on the interpreter's C modules alone (``_socket``, ``_thread``, ``_signal``): a thread per
connection, HTTP/1.1 read by hand (a request line, headers, keep-alive unless ``Connection: close``
or HTTP/1.0). ``socketserver``, ``signal``'s enums, ``re`` and ``urllib.parse`` would each pull in
``enum``, ``functools`` and ``collections`` or more, and cost every pod about 3.5 MiB of memory no
two processes share; ``http.server`` costs 8 MiB more. The sitecustomize of the process runtime
binds the pod IP and maps ``/usr/share/nginx/html`` to the container's folder.
Taught in chapter 5 (Pods) and chapter 7 (Deployments and Services).
"""

import sys

if sys.flags.no_site:   # started with -S by its image's shim: the runtime's sitecustomize still applies
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass

import _signal
import _socket
import _thread
import os
import time

VERSION = os.environ.get("NGINX_VERSION", "1.27.3")
ROOT = "/usr/share/nginx/html"
PORT = int(os.environ.get("NGINX_PORT", "80"))
MAX_LINE = 65536       # longest request or header line read (nginx: large_client_header_buffers)
MAX_HEADERS = 100
REASONS = {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Not Allowed"}   # nginx's reason phrases for the codes this server sends
SIGNALS = {_signal.SIGINT: "SIGINT", _signal.SIGQUIT: "SIGQUIT", _signal.SIGTERM: "SIGTERM"}
HTML = (".html", ".htm")   # text/html, with server-side includes; any other type is looked up in ``mimetypes``
ERROR_PAGE = ("<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1>"
              "</center>\r\n<hr><center>nginx/{version}</center>\r\n</body>\r\n</html>\r\n")


def notice(text):
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
    print(f"{stamp} [notice] 1#1: {text}", file=sys.stderr, flush=True)


def request_path(target):
    """The path of a request target, %-escapes decoded as UTF-8."""
    if not target.startswith("/") or "%" in target:   # absolute-form or escaped: rare, so parsed in full
        from urllib.parse import unquote, urlsplit
        return unquote(urlsplit(target).path)
    return target.partition("?")[0].partition("#")[0]


class BadRequest(Exception):
    pass


class Stop(Exception):
    """Raised by the signal handler in the main thread, which is waiting in ``accept``."""


class Connection:
    """One client connection: requests one after another while it is kept alive."""

    def __init__(self, sock, address, server_address):
        self.sock, self.client, self.server_address = sock, address[0], server_address
        self.buffer = b""

    def run(self):
        # Headers and body go out in one write, and Nagle's algorithm is off (as nginx sets TCP_NODELAY):
        # otherwise a keep-alive client's delayed ACK would hold each response for 40 ms.
        try:
            self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            self.close_connection = False
            while not self.close_connection:
                self.handle_one_request()
        finally:
            self.sock.close()

    def readline(self):
        """One line, ``\n`` included, of at most MAX_LINE + 1 bytes (b"" when the client closed)."""
        while b"\n" not in self.buffer and len(self.buffer) <= MAX_LINE:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            self.buffer += chunk
        end = min(self.buffer.find(b"\n") + 1 or len(self.buffer), MAX_LINE + 1)
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def handle_one_request(self):
        self.requestline, self.headers, self.sent = "", {}, 0
        line = self.readline()
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
            raw = self.readline()
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
        path = request_path(self.path)
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
        if target.endswith(HTML):
            return self.reply(200, self.includes(body), "text/html", head)
        import mimetypes
        self.reply(200, body, mimetypes.guess_type(target)[0] or "application/octet-stream", head)

    def includes(self, body):
        """Server-side includes: each ``<!--# echo var="name" -->`` becomes the variable's value."""
        out, done = [], 0
        while (begin := body.find(b"<!--#", done)) >= 0 and (end := body.find(b"-->", begin)) >= 0:
            words = body[begin + 5:end].split()
            if len(words) == 2 and words[0] == b"echo" and words[1][:5] == b'var="' and words[1][-1:] == b'"':
                out += [body[done:begin], self.variable(words[1][5:-1].decode("latin-1"))]
            else:   # not an echo: left as it is
                out.append(body[done:end + 3])
            done = end + 3
        return b"".join(out) + body[done:]

    def variable(self, name):
        values = {"hostname": os.environ.get("HOSTNAME") or _socket.gethostname(),
                  "server_addr": self.server_address[0], "nginx_version": VERSION, "remote_addr": self.client}
        return values.get(name, "(none)").encode()

    def error(self, code, head):
        body = ERROR_PAGE.format(code=code, reason=REASONS[code], version=VERSION).encode()
        self.reply(code, body, "text/html", head)

    def reply(self, code, body, kind, head):
        self.respond(code, [("Content-Type", kind), ("Content-Length", str(len(body)))], body, head)

    def respond(self, code, headers, body, head):
        self.sent = 0 if head else len(body)
        self.log_request(code)
        date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
        lines = [f"HTTP/1.1 {code} {REASONS[code]}", f"Server: nginx/{VERSION}", f"Date: {date}"]
        lines += [f"{name}: {value}" for name, value in headers]
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        try:
            self.sock.sendall(data if head else data + body)
        except OSError:
            self.close_connection = True   # the client went away

    def log_request(self, code):
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())
        agent = self.headers.get("user-agent", "-")
        referer = self.headers.get("referer", "-")
        line = (f'{self.client} - - [{when}] "{self.requestline}" {int(code)} {self.sent} '
                f'"{referer}" "{agent}" "-"')
        print(line, flush=True)


def listen(port):
    """The listening socket (the runtime's sitecustomize makes 0.0.0.0 the pod IP)."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", port))
        sock.listen(511)   # nginx's default backlog
    except OSError:
        sock.close()
        raise
    return sock


def serve(sock):
    """Accept connections until a signal stops the server, each served by a thread of its own."""
    address = sock.getsockname()
    while True:
        try:
            fd, client = sock._accept()
        except OSError:
            continue   # e.g. the client reset the connection before it was accepted
        connection = Connection(_socket.socket(fileno=fd), client, address)
        _thread.start_new_thread(connection.run, ())


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
        sock = listen(PORT)
    except OSError as exc:
        stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime())
        print(f'{stamp} [emerg] 1#1: bind() to 0.0.0.0:{PORT} failed ({exc.errno}: {exc.strerror})', file=sys.stderr)
        print(f"nginx: [emerg] bind() to 0.0.0.0:{PORT} failed ({exc.errno}: {exc.strerror})", file=sys.stderr)
        return 1
    notice('using the "epoll" event method')
    notice(f"nginx/{VERSION}")
    notice("start worker processes")

    def stop(signum, frame):
        notice(f"signal {signum} ({SIGNALS[signum]}) received, exiting")
        raise Stop()

    for signum in SIGNALS:
        _signal.signal(signum, stop)
    try:
        serve(sock)
    except Stop:
        pass   # connections still open end with the process, as in nginx's fast shutdown
    sock.close()
    notice("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

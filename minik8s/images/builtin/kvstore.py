"""The ``minik8s/kvstore`` teaching image: a tiny HTTP key-value store that keeps its data on disk.

Made for the StatefulSet lab: each replica stores what it is given in its own
volume, so deleting a pod and getting it back (same name, same volume) shows that
the data survived. Listens on port 8080 (``PORT``); keeps one file per key under
``/data`` (``DATA_DIR``), which is where the lab mounts the PersistentVolumeClaim.

    PUT    /<key>   body = value   -> 201 Created (200 when it replaced a value)
    GET    /<key>                  -> 200 and the value, or 404
    DELETE /<key>                  -> 204, or 404
    GET    /                       -> 200, the keys one per line
    GET    /healthz                -> 200 ok

Every answer carries ``X-Pod-Name`` (the host name: the pod's name), so a client
sees which replica answered. Exits 0 on SIGTERM.
Taught in chapter 10 (StatefulSets and storage).
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
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

DATA = os.environ.get("DATA_DIR", "/data")
PORT = int(os.environ.get("PORT", "8080"))
POD = os.environ.get("HOSTNAME") or socket.gethostname()


def key_file(key):
    # One file per key; quoting keeps "/" and ".." out of file names.
    return os.path.join(DATA, quote(key, safe=""))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kvstore/1.0"
    sys_version = ""

    def key(self):
        return unquote(urlsplit(self.path).path.lstrip("/"))

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("X-Pod-Name", POD)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        key = self.key()
        if key == "healthz":
            return self.reply(200, b"ok\n")
        if not key:
            names = sorted(unquote(n) for n in os.listdir(DATA) if not n.startswith("."))
            return self.reply(200, "".join(n + "\n" for n in names).encode())
        try:
            with open(key_file(key), "rb") as f:
                return self.reply(200, f.read())
        except FileNotFoundError:
            return self.reply(404, f"key {key!r} not found\n".encode())

    def do_PUT(self):
        key = self.key()
        if not key:
            return self.reply(400, b"a key is required: PUT /<key>\n")
        value = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        existed = os.path.exists(key_file(key))
        temporary = key_file(key) + ".tmp"
        with open(temporary, "wb") as f:
            f.write(value)
        os.replace(temporary, key_file(key))  # a reader never sees half a value
        self.reply(200 if existed else 201, b"stored\n")

    do_POST = do_PUT

    def do_DELETE(self):
        try:
            os.remove(key_file(self.key()))
        except FileNotFoundError:
            return self.reply(404, b"not found\n")
        self.reply(204)

    def log_message(self, format, *args):
        print(f"{self.client_address[0]} {self.command} {self.path} {args[1] if len(args) > 1 else ''}", flush=True)


def main():
    os.makedirs(DATA, exist_ok=True)
    try:
        server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    except OSError as exc:
        print(f"kvstore: cannot listen on port {PORT}: {exc.strerror}", file=sys.stderr)
        return 1
    server.daemon_threads = True
    print(f"kvstore {POD}: serving {len(os.listdir(DATA))} keys from {DATA} on port {PORT}", flush=True)

    def stop(signum, frame):
        print(f"kvstore {POD}: shutting down", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``wget`` as busybox has it, small: enough for ``wget -qO- http://web:80/`` in a busybox pod.

    wget [-q] [-O FILE|-] [-T SECONDS] [-S] [--spider] URL

Messages and exit codes follow busybox: ``wget: server returned error: HTTP/1.1 404 Not
Found`` and ``wget: can't connect to remote host (IP): Connection refused`` exit 1.
Standard library only. Taught in chapter 5 (Pods) and chapter 8 (Services).
"""

import sys

if sys.flags.no_site:   # started with -S by its image's shim: the runtime's sitecustomize still applies
    try:
        import sitecustomize  # noqa: F401
    except ImportError:
        pass

import os
import socket
import urllib.error
import urllib.request
from urllib.parse import urlsplit


def parse(argv):
    opts = {"quiet": False, "output": None, "timeout": 10.0, "spider": False, "headers": False}
    url, i = None, 0
    while i < len(argv):
        a = argv[i]
        if a == "--spider":
            opts["spider"] = True
        elif a.startswith("--timeout="):
            opts["timeout"] = float(a.split("=", 1)[1])
        elif a.startswith("-") and len(a) > 1 and not a.startswith("--"):
            flags = a[1:]
            for j, flag in enumerate(flags):
                if flag in "OT":
                    value = flags[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else "")
                    if not flags[j + 1:]:
                        i += 1
                    if flag == "O":
                        opts["output"] = value
                    else:
                        opts["timeout"] = float(value)
                    break
                opts["quiet" if flag == "q" else "headers" if flag == "S" else "ignored"] = True
        else:
            url = a
        i += 1
    return url, opts


def main(argv):
    url, opts = parse(argv)
    if not url:
        print("BusyBox v1.37.0 (2024-09-26 21:31:42 UTC) multi-call binary.\n\nUsage: wget [-cqS] [--spider] "
              "[-O FILE] [-T SEC] URL...", file=sys.stderr)
        return 1
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if not opts["quiet"]:
        port = parts.port or 80
        print(f"Connecting to {parts.hostname}:{port} ({parts.hostname}:{port})", file=sys.stderr)
    try:
        request = urllib.request.Request(url, method="HEAD" if opts["spider"] else "GET",
                                         headers={"User-Agent": "Wget"})
        with urllib.request.urlopen(request, timeout=opts["timeout"]) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        print(f"wget: server returned error: HTTP/1.1 {exc.code} {exc.reason}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ConnectionRefusedError):
            print(f"wget: can't connect to remote host ({parts.hostname}): Connection refused", file=sys.stderr)
        elif isinstance(reason, socket.gaierror):
            print(f"wget: bad address '{parts.hostname}'", file=sys.stderr)
        else:
            print(f"wget: {reason}", file=sys.stderr)
        return 1
    except (TimeoutError, socket.timeout):
        print("wget: download timed out", file=sys.stderr)
        return 1
    if opts["spider"]:
        if not opts["quiet"]:
            print("remote file exists", file=sys.stderr)
        return 0
    output = opts["output"] or (os.path.basename(parts.path) or "index.html")
    if output == "-":
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        with open(output, "wb") as f:
            f.write(body)
        if not opts["quiet"]:
            print(f"saving to '{output}'", file=sys.stderr)
            print(f"'{output}' saved", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

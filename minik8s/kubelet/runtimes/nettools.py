"""Network clients for the simulated shell: busybox's ``wget``, ``nslookup``, ``nc``, ``ping``, and ``curl``.

A student debugging a Service runs these from a pod (``kubectl exec client -- wget -qO- http://web``);
on the ``simulated`` runtime they travel over :mod:`minik8s.kubelet.runtimes.simnet` and print what
the real tools print, byte for byte where the real output is deterministic:

* ``wget`` is busybox 1.36's: ``Connecting to web (10.96.0.5:80)``, ``writing to stdout``, the progress
  line as it looks when stderr is not a terminal (``kubectl exec`` without ``-t``), ``written to stdout``;
  ``wget: bad address 'nope'``, ``wget: can't connect to remote host (10.96.0.5): Connection refused``,
  ``wget: server returned error: HTTP/1.1 404 Not Found``, all exit 1. ``-q``, ``-O FILE``/``-O-``,
  ``-T SEC``/``--timeout=SEC`` (busybox's default is 900), ``--spider``, ``-S`` (the response headers on
  stderr). A connection a NetworkPolicy drops: ``wget: download timed out``.
* ``nslookup`` is busybox 1.36's: a name without a dot is tried under every search domain of
  ``/etc/resolv.conf`` (A, then AAAA), each answer printed as it arrives, and any NXDOMAIN among
  them makes the exit code 1, as the real applet does (a classic surprise in Kubernetes pods).
* ``nc [-z] [-v[v]] [-u] [-w SEC] HOST PORT``: busybox's ``web (10.96.0.5:80) open``; a refusal is silent
  with one ``-v`` and printed with two, as busybox does; a dropped connection with ``-w`` is
  ``nc: timed out`` (without ``-w``, the kernel gives up: ``... Connection timed out``).
* ``ping -c N HOST``: pod IPs answer (fixed round-trip times); a Service's ClusterIP does not, as with
  kube-proxy's iptables mode, where only the Service's ports are translated.
* ``curl`` (8.x): the body on stdout and, without ``-s``, the progress meter on stderr, as curl
  prints it when its output is not a terminal; ``-s``, ``-S``, ``-I``, ``-i``, ``-f``, ``-o FILE``,
  ``-w FORMAT`` (``%{http_code}``, ``%{remote_ip}``, ``%{remote_port}``, ``%{size_download}``), ``-v``
  (curl 8.11's lines for a plain HTTP request; the meter is left out with it), ``-m``,
  ``--connect-timeout``, ``-L`` (accepted; no simulated app redirects). Errors: ``curl: (6) Could not resolve host: nope`` (6),
  ``curl: (7) Failed to connect to web port 80 after 0 ms: Couldn't connect to server`` (7),
  ``curl: (22) The requested URL returned error: 404`` with ``-f`` (22); a dropped connection is
  ``curl: (28) Failed to connect to web port 80 after 2000 ms: Timeout was reached`` with
  ``--connect-timeout 2`` (curl's own default is 300 s), ``curl: (28) Connection timed out after 2000
  milliseconds`` with only ``-m 2``.
* ``hostname -i``: the pod's IP.

Simplified: a transfer takes no time, so durations print as 0 (busybox's ETA ``0:00:00``, curl's
``after 0 ms``), and curl's speed columns assume ``TRANSFER_SECONDS``; a time-out prints the time-out
asked for but the command returns at once (``kubectl exec`` does not wait on the virtual clock). Only
``http://`` URLs.

Interface:
    COMMANDS                                        # the names this module runs
    run(name, args, fs, net) -> (exit_code, stdout, stderr)

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from minik8s.kubelet.runtimes.simnet import ConnectionTimedOut, PodNetwork, Response, is_ip

COMMANDS = frozenset({"wget", "curl", "nslookup", "nc", "ping"})

WGET_AGENT = "Wget"           # busybox's User-Agent
CURL_AGENT = "curl/8.11.1"   # curlimages/curl's
TRANSFER_SECONDS = 0.001     # what curl's speed columns assume a simulated transfer took
PING_MS = "0.080"            # a simulated round trip, as ping prints it
MAX_PINGS = 1000             # ping -c beyond this would run for a quarter of an hour: it is cut short
CLUSTER_FIRST_NDOTS = 5      # the kubelet's "options ndots:5"
CURL_CONNECT_TIMEOUT = 300   # seconds: curl's default connect time-out (DEFAULT_CONNECT_TIMEOUT)
PROGRESS_BAR = 32            # busybox's bar width when stderr is no terminal (80 columns - 48)
CURL_METER = ("  % Total    % Received % Xferd  Average Speed   Time    Time     Time  Current\n"
              "                                 Dload  Upload   Total   Spent    Left  Speed\n")

Result = tuple[int, str, str]


def run(name: str, args: list[str], fs: dict[str, str], net: PodNetwork) -> Result:
    """Run one network command; ``hostname`` comes here only for ``-i``."""
    if name == "hostname":
        return 0, (net.pod_ip or "127.0.0.1") + "\n", ""
    return {"wget": _wget, "curl": _curl, "nslookup": _nslookup, "nc": _nc, "ping": _ping}[name](args, fs, net)


@dataclass
class _URL:
    host: str        # as typed, with ":port" when the URL has one (busybox prints it so)
    hostname: str
    port: int
    path: str


def _url(text: str) -> _URL | None:
    match = re.fullmatch(r"(?:http://)?([^/:?#]+)(?::(\d{1,20}))?([/?][^#]*)?(?:#.*)?", text)
    if match is None:
        return None
    hostname, port, path = match.group(1), match.group(2), match.group(3) or "/"
    if not path.startswith("/"):
        path = "/" + path
    return _URL(f"{hostname}:{port}" if port else hostname, hostname, int(port) if port else 80, path)


MAX_PORT = 65535


# --- busybox wget ------------------------------------------------------------------------------


def _wget(args: list[str], fs: dict[str, str], net: PodNetwork) -> Result:
    quiet = spider = headers = False
    output: str | None = None
    urls: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--spider":
            spider = True
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif arg == "--server-response":
            headers = True
        elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            j = 1
            while j < len(arg):
                flag = arg[j]
                if flag in "OTU":
                    value = arg[j + 1:] or (args[i + 1] if i + 1 < len(args) else "")
                    i += 0 if arg[j + 1:] else 1
                    output = value if flag == "O" else output
                    break
                if flag not in "qSc":
                    return 1, "", f"wget: unrecognized option '{arg}'\n" + WGET_USAGE
                quiet, headers = quiet or flag == "q", headers or flag == "S"
                j += 1
        elif arg.startswith("--timeout=") or arg.startswith("--output-document="):
            output = arg.split("=", 1)[1] if arg.startswith("--output") else output
        else:
            urls.append(arg)
        i += 1
    if not urls:
        return 1, "", WGET_USAGE
    url = _url(urls[0])
    if url is None:
        return 1, "", f"wget: not an http or ftp url: {urls[0]}\n"
    if url.port > MAX_PORT:
        return 1, "", f"wget: bad port '{url.host.rsplit(':', 1)[1]}'\n"
    err = ""
    ip = _resolve(url.hostname, fs, net)
    if ip is None:
        return 1, "", f"wget: bad address '{url.host}'\n"
    if not quiet:
        err += f"Connecting to {url.host} ({ip}:{url.port})\n"
    try:
        response = net.request(ip, url.port, "GET", url.path, WGET_AGENT)
    except ConnectionTimedOut:   # after -T seconds (900 by default) of silence
        return 1, "", err + "wget: download timed out\n"
    if response is None:
        return 1, "", err + f"wget: can't connect to remote host ({ip}): Connection refused\n"
    if headers:  # -S: the status line, then (if it is no error) each header and the blank line
        err += f"  {response.status_line}\n"
    if not (200 <= response.status < 300 and response.status not in (205, 206)):
        return 1, "", err + f"wget: server returned error: {response.status_line}\n"
    if headers:
        err += "".join(f"  {name}: {value}\n" for name, value in response.headers) + "  \n"
    if spider:
        return 0, "", err + ("" if quiet else "remote file exists\n")
    target = output if output is not None else (url.path.split("?", 1)[0].rsplit("/", 1)[-1] or "index.html")
    if target != "-" and output is None and target in fs:
        return 1, "", err + f"wget: can't open '{target}': File exists\n"
    out = ""
    if target == "-":
        out = response.body
    elif target != "/dev/null":
        fs[target] = response.body
    if not quiet:
        size = len(response.body.encode())
        name = target.rsplit("/", 1)[-1] if target != "-" else "-"
        err += ("writing to stdout\n" if target == "-" else f"saving to '{target}'\n")
        err += _busybox_progress(name, size) + ("written to stdout\n" if target == "-" else f"'{target}' saved\n")
    return 0, out, err


WGET_USAGE = ("BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n"
              "Usage: wget [-cqS] [--spider] [-O FILE] [-o LOGFILE] [--header STR]\n"
              "\t[--post-data STR | --post-file FILE] [-Y on/off]\n"
              "\t[-P DIR] [-U AGENT] [-T SEC] URL...\n\n"
              "Retrieve files via HTTP or FTP\n")


def _busybox_progress(name: str, size: int) -> str:
    """The one progress line busybox prints at the end of a transfer when stderr is no terminal."""
    if size == 0:
        return f"{name:<20.20} {_size5(0)} --:--:-- ETA\n"
    return f"{name:<20.20} 100% |{'*' * PROGRESS_BAR}| {_size5(size)}  0:00:00 ETA\n"


def _size5(n: int) -> str:
    """busybox's five-column size: digits while they fit, then k, M, G ..."""
    if n < 100_000:
        return f"{n:5d}"
    for unit in "kMGT":
        n //= 1024
        if n < 10_000:
            return f"{n:4d}{unit}"
    return f"{n:4d}P"


# --- curl --------------------------------------------------------------------------------------


@dataclass
class _CurlOptions:
    silent: bool = False
    show_error: bool = False
    head: bool = False
    include: bool = False
    fail: bool = False
    verbose: bool = False
    output: str | None = None
    write_out: str = ""
    max_time: str = ""
    connect_timeout: str = ""


CURL_VALUE_OPTIONS = {"-o": "output", "--output": "output", "-w": "write_out", "--write-out": "write_out",
                      "-m": "max_time", "--max-time": "max_time", "--connect-timeout": "connect_timeout", "-X": "", "--request": "",
                      "-H": "", "--header": "", "-A": "", "--user-agent": ""}
CURL_FLAGS = {"s": "silent", "S": "show_error", "I": "head", "i": "include", "f": "fail", "v": "verbose", "L": "",
              "k": ""}
CURL_LONG_FLAGS = {"--silent": "silent", "--show-error": "show_error", "--head": "head", "--include": "include",
                   "--fail": "fail", "--verbose": "verbose", "--location": "", "--insecure": ""}


def _curl_options(args: list[str]) -> tuple[_CurlOptions, list[str]] | str:
    opts, urls, i = _CurlOptions(), [], 0
    while i < len(args):
        arg = args[i]
        if arg in CURL_VALUE_OPTIONS:
            if i + 1 >= len(args):
                return f"curl: option {arg}: requires parameter\n"
            if CURL_VALUE_OPTIONS[arg]:
                setattr(opts, CURL_VALUE_OPTIONS[arg], args[i + 1])
            i += 2
            continue
        if arg in CURL_LONG_FLAGS:
            if CURL_LONG_FLAGS[arg]:
                setattr(opts, CURL_LONG_FLAGS[arg], True)
        elif arg.startswith("-") and len(arg) > 1 and not arg.startswith("--"):
            for j, flag in enumerate(arg[1:], 1):
                if "-" + flag in CURL_VALUE_OPTIONS:  # -so /dev/null, -w'%{http_code}'
                    rest = arg[j + 1:]
                    value = rest or (args[i + 1] if i + 1 < len(args) else None)
                    if value is None:
                        return f"curl: option -{flag}: requires parameter\n"
                    if CURL_VALUE_OPTIONS["-" + flag]:
                        setattr(opts, CURL_VALUE_OPTIONS["-" + flag], value)
                    i += 0 if rest else 1
                    break
                if flag not in CURL_FLAGS:
                    return f"curl: option {arg}: is unknown\n"
                if CURL_FLAGS[flag]:
                    setattr(opts, CURL_FLAGS[flag], True)
        elif arg.startswith("--"):
            return f"curl: option {arg}: is unknown\n"
        else:
            urls.append(arg)
        i += 1
    return opts, urls


def _curl(args: list[str], fs: dict[str, str], net: PodNetwork) -> Result:
    parsed = _curl_options(args)
    if isinstance(parsed, str):
        return 2, "", parsed + "curl: try 'curl --help' or 'curl --manual' for more information\n"
    opts, urls = parsed
    if not urls:
        return 2, "", "curl: no URL specified\ncurl: try 'curl --help' or 'curl --manual' for more information\n"
    meter = "" if opts.silent or opts.verbose else CURL_METER
    url = _url(urls[0])
    if url is None:
        return 3, "", _curl_error(opts, meter, 3, "URL rejected: Bad hostname")
    if url.port > MAX_PORT:
        return 3, "", _curl_error(opts, meter, 3, "URL rejected: Port number was not a decimal number between 0 and 65535")
    ip = _resolve(url.hostname, fs, net)
    if ip is None:
        return 6, "", _curl_error(opts, meter, 6, f"Could not resolve host: {url.hostname}")
    method = "HEAD" if opts.head else "GET"
    try:
        response = net.request(ip, url.port, method, url.path, CURL_AGENT)
    except ConnectionTimedOut:
        return 28, "", _curl_timed_out(opts, meter, url)
    trace = _curl_trace(url, ip, method, response) if opts.verbose else ""
    if response is None:
        return 7, "", trace + _curl_error(opts, meter, 7, f"Failed to connect to {url.hostname} port {url.port} "
                                                           "after 0 ms: Couldn't connect to server")
    if opts.fail and response.status >= 400:
        return 22, "", _curl_error(opts, meter, 22, f"The requested URL returned error: {response.status}")
    head = _head(response) if opts.head or opts.include else ""
    body = "" if opts.head else response.body
    written = head + body
    out = ""
    if opts.output is None or opts.output == "-":
        out = written
    elif opts.output != "/dev/null":
        fs[opts.output] = written
    out += _write_out(opts.write_out, response, ip, url.port, len(body.encode()))
    expected = int(dict(response.headers).get("Content-Length", len(body.encode())))
    err = meter + _curl_progress(expected, len(body.encode())) if meter else trace
    return 0, out, err


def _seconds_ms(text: str) -> int | None:
    try:
        return int(float(text) * 1000)
    except ValueError:
        return None


def _curl_timed_out(opts: _CurlOptions, meter: str, url: _URL) -> str:
    """curl's error 28 for a connection nobody answers: the connect time-out, or the whole transfer's."""
    connect = _seconds_ms(opts.connect_timeout) if opts.connect_timeout else None
    total = _seconds_ms(opts.max_time) if opts.max_time else None
    if total is not None and (connect is None or total < connect):
        return _curl_error(opts, meter, 28, f"Connection timed out after {total} milliseconds")
    waited = connect if connect is not None else CURL_CONNECT_TIMEOUT * 1000
    return _curl_error(opts, meter, 28, f"Failed to connect to {url.hostname} port {url.port} after {waited} ms: "
                                        "Timeout was reached")


def _curl_trace(url: _URL, ip: str, method: str, response: Response | None) -> str:
    """What ``curl -v`` (8.11) tells of a plain HTTP request: ``*`` notes, ``>`` sent, ``<`` received."""
    lines = [] if is_ip(url.hostname) else [f"* Host {url.hostname}:{url.port} was resolved.", "* IPv6: (none)",
                                             f"* IPv4: {ip}"]
    lines += [f"*   Trying {ip}:{url.port}..."]
    if response is None:  # (curl also names the local port it tried from: left out, it is random)
        lines += [f"* Failed to connect to {url.hostname} port {url.port} after 0 ms: Couldn't connect to server",
                  "* closing connection #0"]
        return "".join(line + "\n" for line in lines)
    host = url.host if url.port != 80 else url.hostname
    lines += [f"* Connected to {url.hostname} ({ip}) port {url.port}", "* using HTTP/1.x",
              f"> {method} {url.path} HTTP/1.1", f"> Host: {host}", f"> User-Agent: {CURL_AGENT}", "> Accept: */*",
              "> \r", "* Request completely sent off", f"< {response.status_line}\r"]
    lines += [f"< {name}: {value}\r" for name, value in response.headers]
    lines += ["< \r"]
    if response.body and method != "HEAD":
        lines += [f"{{ [{len(response.body.encode())} bytes data]"]
    lines += [f"* Connection #0 to host {url.hostname} left intact"]
    return "".join(line + "\n" for line in lines)


def _head(response: Response) -> str:
    lines = [response.status_line] + [f"{name}: {value}" for name, value in response.headers]
    return "\r\n".join(lines) + "\r\n\r\n"


def _curl_error(opts: _CurlOptions, meter: str, code: int, message: str) -> str:
    progress = meter + _curl_progress(0, 0) if meter else ""
    shown = not opts.silent or opts.show_error
    return progress + (f"curl: ({code}) {message}\n" if shown else "")


def _curl_progress(total: int, received: int) -> str:
    """curl's last progress line: total, received and sent (percent and size), speeds, times."""
    percent = 100 * received // total if total else 0
    speed = int(received / TRANSFER_SECONDS) if received else 0
    none = "--:--:--"
    return (f"{percent:3d} {_size5_curl(total)}  {percent:3d} {_size5_curl(received)}    0 {_size5_curl(0)}  "
            f"{_size5_curl(speed)}  {_size5_curl(0)} {none} {none} {none} {_size5_curl(speed)}\n")


def _size5_curl(n: int) -> str:
    """curl's five-column size: bytes, then whole k, then M with a decimal."""
    if n < 100_000:
        return f"{n:5d}"
    if n < 10_000 * 1024:
        return f"{n // 1024:4d}k"
    if n < 100 * 1024 * 1024:
        return f"{n / (1024 * 1024):4.1f}M"
    return f"{n // (1024 * 1024):4d}M"


def _write_out(template: str, response: Response, ip: str, port: int, size: int) -> str:
    values = {"http_code": f"{response.status:03d}", "response_code": f"{response.status:03d}",
              "remote_ip": ip, "remote_port": str(port), "size_download": str(size)}
    text = template.replace("\\n", "\n").replace("\\t", "\t")
    return re.sub(r"%\{(\w+)\}", lambda m: values.get(m.group(1), ""), text)


# --- busybox nslookup --------------------------------------------------------------------------


def _resolv_conf(fs: dict[str, str], net: PodNetwork) -> tuple[str, list[str], int]:
    """The name server, search path and ndots: from /etc/resolv.conf when the pod has one, else
    what the kubelet writes for a ClusterFirst pod."""
    text = fs.get("/etc/resolv.conf")
    if text is None:
        return net.nameserver, net.search(), CLUSTER_FIRST_NDOTS
    server, search, ndots = "", [], 1
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1 and not server:
            server = words[1]
        elif words[:1] in (["search"], ["domain"]):
            search = words[1:]
        elif words[:1] == ["options"]:
            ndots = next((int(w[6:]) for w in words[1:] if re.fullmatch(r"ndots:\d{1,2}", w)), ndots)
    return server, search, ndots


def _resolve(host: str, fs: dict[str, str], net: PodNetwork) -> str | None:
    """An IPv4 address for ``host`` as the C library finds it: a literal, /etc/hosts, then DNS."""
    if is_ip(host, 4) or net.hosts(host) is not None or "/etc/resolv.conf" not in fs:
        return net.resolve(host)  # no file of its own: ClusterFirst, the search path the resolver applies
    server, search, ndots = _resolv_conf(fs, net)
    if not server or server != net.nameserver or not net.has_dns:
        return None  # a name server the simulated world does not have: nothing answers
    absolute = [host.rstrip(".")]
    under = [f"{host}.{domain}" for domain in search] if not host.endswith(".") else []
    for fqdn in (under + absolute if host.count(".") < ndots else absolute + under):
        answer = net.query(fqdn, "A")
        addresses = [value for value in (answer[1] if answer else []) if is_ip(value, 4)]
        if addresses:
            return addresses[0]
    return None


def _nslookup(args: list[str], fs: dict[str, str], net: PodNetwork) -> Result:
    names = [a for a in args if not a.startswith("-")]
    if not names or len(names) > 2:
        return 1, "", NSLOOKUP_USAGE
    name = names[0]
    server, search, _ = _resolv_conf(fs, net)
    if len(names) == 2:
        server = names[1]
    if not server or not net.has_dns or server != net.nameserver:
        return 1, ";; connection timed out; no servers could be reached\n\n", ""
    out = f"Server:\t\t{server}\nAddress:\t{server}:53\n\n"
    code = 0
    if is_ip(name):
        questions = [(_ptr_name(name), "PTR")]
    else:
        fqdns = [name] if "." in name or not search else [f"{name}.{domain}" for domain in search]
        questions = [(fqdn, qtype) for qtype in ("A", "AAAA") for fqdn in fqdns]
    for fqdn, qtype in questions:
        answer = net.query(fqdn, qtype)
        if answer is None:
            out += f"** server can't find {fqdn}: NXDOMAIN\n\n"
            code = 1
            continue
        found, values = answer
        found = found.rstrip(".")
        if not values:  # the name exists, without records of this type (NODATA)
            out += f"*** Can't find {fqdn}: No answer\n"
        for value in values:
            if qtype == "PTR":
                out += f"{found}\tname = {value.rstrip('.')}\n"
            elif is_ip(value):
                out += f"Name:\t{found}\nAddress: {value}\n"
            else:
                out += f"{found}\tcanonical name = {value.rstrip('.')}\n"
        out += "\n"
    return code, out, ""


NSLOOKUP_USAGE = ("BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n"
                  "Usage: nslookup [-type=QUERY_TYPE] [-debug] HOST [DNS_SERVER]\n\n"
                  "Query DNS about HOST\n\n"
                  "QUERY_TYPE: soa,ns,a,aaaa,cname,mx,txt,any\n")


def _ptr_name(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer


# --- busybox nc and ping -----------------------------------------------------------------------


def _nc(args: list[str], fs: dict[str, str], net: PodNetwork) -> Result:
    zero, verbose, udp, rest, i, wait = False, 0, False, [], 0, False
    while i < len(args):
        arg = args[i]
        if arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                zero, udp, wait = zero or flag == "z", udp or flag == "u", wait or flag == "w"
                verbose += flag == "v"
            i += 2 if arg in ("-w", "-W", "-p", "-s") else 1  # options with a value: accepted, not modelled
            continue
        rest.append(arg)
        i += 1
    if len(rest) != 2 or not rest[1].isdigit():
        return 1, "", NC_USAGE
    if len(rest[1]) > 5 or int(rest[1]) > MAX_PORT:
        return 1, "", f"nc: bad port '{rest[1]}'\n"
    host, port = rest[0], int(rest[1])
    ip = _resolve(host, fs, net)
    if ip is None:
        return 1, "", f"nc: bad address '{host}'\n"
    try:
        reachable = net.reachable(ip, port, "UDP" if udp else "TCP")
    except ConnectionTimedOut:
        if wait:
            return 1, "", "nc: timed out\n"
        return 1, "", f"nc: {host} ({ip}:{port}): Connection timed out\n" if verbose > 1 else ""
    if not reachable:
        return 1, "", f"nc: {host} ({ip}:{port}): Connection refused\n" if verbose > 1 else ""
    return 0, "", f"{host} ({ip}:{port}) open\n" if verbose else ""


NC_USAGE = ("BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\n"
            "Usage: nc [OPTIONS] HOST PORT  - connect\n"
            "nc [OPTIONS] -l -p PORT [HOST] [PORT]  - listen\n")


def _ping(args: list[str], fs: dict[str, str], net: PodNetwork) -> Result:
    count, hosts, i = 4, [], 0
    while i < len(args):
        if args[i] in ("-c", "-W", "-w", "-s", "-i") and i + 1 < len(args):
            value = args[i + 1]
            count = min(int(value[:6]), MAX_PINGS) if args[i] == "-c" and value.isdigit() else count
            i += 2
            continue
        if not args[i].startswith("-"):
            hosts.append(args[i])
        i += 1
    if len(hosts) != 1:
        return 1, "", "BusyBox v1.36.1 (2023-05-18 22:34:17 UTC) multi-call binary.\n\nUsage: ping [OPTIONS] HOST\n"
    ip = _resolve(hosts[0], fs, net)
    if ip is None:
        return 1, "", f"ping: bad address '{hosts[0]}'\n"
    answers = net.answers_ping(ip)
    out = f"PING {hosts[0]} ({ip}): 56 data bytes\n"
    if answers:
        out += "".join(f"64 bytes from {ip}: seq={n} ttl=64 time={PING_MS} ms\n" for n in range(count))
    received = count if answers else 0
    out += (f"\n--- {hosts[0]} ping statistics ---\n"
            f"{count} packets transmitted, {received} packets received, {100 - 100 * received // max(count, 1)}% "
            "packet loss\n")
    if answers:
        out += f"round-trip min/avg/max = {PING_MS}/{PING_MS}/{PING_MS} ms\n"
    return (0 if answers else 1), out, ""

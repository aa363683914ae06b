"""The host's network, made real: network namespaces, veth pairs, bridges and packet filters (netns mode).

``minik8s server --network netns`` (``Cluster(network="netns")``) gives every pod of the ``process``
runtime what a CNI *bridge* plugin gives it on a real node, and lets kube-proxy program the kernel
instead of forwarding in user space. Everything lives on this one machine, so "nodes" are bridges:

==================  ==================================================================================
object              name and shape
==================  ==================================================================================
cluster network     ``10.<244+k>.0.0/16`` (kube-proxy's ``--cluster-cidr``); ``k`` is the machine-wide
                    block this cluster claimed (:func:`claim`), so two clusters never overlap
node *n*            bridge ``mk8s-<id>b<n>`` holding ``10.<244+k>.<n+1>.1/24``: the gateway of the
                    node's ``podCIDR`` (``10.<244+k>.<n+1>.0/24``); the host routes between bridges;
                    ``route_localnet`` on it lets pods reach the API server's loopback address via
                    the ``kubernetes`` Service
pod                 network namespace ``mk8s-<id>-<sandbox>`` (``ip netns``); a veth pair whose host
                    end ``mk8s-<id><sandbox>`` is a port of the bridge and whose other end, moved into
                    the namespace, is ``eth0`` with the pod IP and a default route via the gateway
forwarding          ``net.ipv4.ip_forward=1``; ``FORWARD`` accepts the cluster network (a host whose
                    policy is DROP, as Docker leaves it, would drop pod traffic); ``POSTROUTING``
                    masquerades pod traffic that leaves the cluster network (outbound NAT)
cluster DNS         the ``kube-dns`` ClusterIP as a /32 on node 0's bridge: the cluster's DNS server
                    (no CoreDNS pods) listens there on port 53, and pods reach it via their gateway
Services            nftables tables ``mk8s-<id>-nat`` and ``mk8s-<id>-filter`` holding kube-proxy's
                    chains (KUBE-SERVICES, KUBE-SVC-…, KUBE-SEP-…), see :mod:`minik8s.proxy.kernel`
==================  ==================================================================================

``<id>`` is a short cluster id (four hex digits): every object of a cluster carries it, so several
clusters (test runs, a notebook next to a server) coexist and each removes only its own. The id and
what the cluster changed (``ip_forward``) are recorded in ``<data dir>/netns.json``; after a
``kill -9``, ``minik8s cleanup`` (or the next start with the same data dir) reads it and removes
every leftover whose name carries the id.

Needs Linux and root or ``CAP_NET_ADMIN``: :func:`refusal` says why not.

Interface:
    refusal() -> str | None                                   # None: netns mode may run here
    plan = claim(data_dir=None)                               # NetworkPlan; plan.release() frees the block
    plan.pod_cidr(i); plan.gateway(i); plan.bridge(i); plan.cluster_cidr; plan.service_cidr
    plan.setup(); plan.add_node(i); plan.add_pod(i, sandbox_id, ip) -> netns name; plan.remove_pod(sandbox_id)
    plan.teardown()                                           # every object with the id, and the state file
    cleanup(data_dir) -> [what was removed];  leftovers(cluster_id) -> {"netns": [...], "links": [...], ...}

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from minik8s import addresses

log = logging.getLogger(__name__)

PREFIX = "mk8s-"
STATE_FILE = "netns.json"
BLOCKS = 8                          # 10.244.0.0/16 ... 10.251.0.0/16: one per cluster of this machine
CAP_NET_ADMIN = 12                  # capability bit (linux/capability.h)
UNPRIVILEGED_ENV = "MINIK8S_NETNS_UNPRIVILEGED"   # set to 1: behave as without the privilege (for tests)
COMMAND_TIMEOUT = 30.0


class NetworkError(RuntimeError):
    """A command that builds the host network failed (its stderr is the message)."""


def refusal() -> str | None:
    """Why ``--network netns`` cannot run here (None when it can)."""
    if not sys.platform.startswith("linux"):
        return "--network netns needs Linux (network namespaces)"
    if os.environ.get(UNPRIVILEGED_ENV) == "1" or not _has_net_admin():
        return ("--network netns needs root or CAP_NET_ADMIN (it creates network namespaces, veth pairs, "
                "bridges and packet-filter rules); run as root, or use the default --network loopback")
    missing = [t for t in ("ip", "nft", "iptables", "nsenter") if shutil.which(t) is None]
    if missing:
        return f"--network netns needs {', '.join(missing)} (Debian: apt-get install iproute2 nftables iptables)"
    return None


def _has_net_admin() -> bool:
    if os.geteuid() == 0:
        return True
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


def run(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    """Run one host network command; its output, or NetworkError with its stderr."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkError(f"{' '.join(argv)}: {exc}") from exc
    if check and done.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done.stdout


class Tables:
    """nftables tables one writer owns: ``load(script)`` replaces them in one transaction (only when the
    script changed); ``delete()`` removes them. ``script`` is what was last loaded."""

    def __init__(self, *names: str):
        self.names = names
        self.script = ""
        self._lock = threading.Lock()

    def load(self, script: str) -> None:
        with self._lock:
            if script != self.script:
                run("nft", "-f", "-", stdin=script)
                self.script = script

    def delete(self) -> None:
        with self._lock:
            for name in self.names:
                run("nft", "delete", "table", "ip", name, check=False)
            self.script = ""


def _id_of(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()[:4]


@dataclass
class NetworkPlan:
    """One cluster's host network: its id, its address block, and what it created."""

    cluster_id: str
    block: int
    state_file: Path | None = None
    nodes: set[int] = field(default_factory=set)
    _handle: int | None = field(default=None, repr=False)
    _forward_was: str | None = None

    @property
    def cluster_cidr(self) -> str:
        return f"10.{244 + self.block}.0.0/16"

    @property
    def service_cidr(self) -> str:
        """Where the cluster's ClusterIPs come from: ``10.96.0.0/12`` for the first block, as upstream."""
        return f"10.{96 + 16 * self.block}.0.0/12"

    def pod_cidr(self, index: int) -> str:
        return f"10.{244 + self.block}.{index + 1}.0/24"

    def gateway(self, index: int) -> str:
        return f"10.{244 + self.block}.{index + 1}.1"

    def bridge(self, index: int) -> str:
        return f"{PREFIX}{self.cluster_id}b{index}"

    def netns(self, sandbox_id: str) -> str:
        return f"{PREFIX}{self.cluster_id}-{sandbox_id[:12]}"

    def veth(self, sandbox_id: str) -> str:
        return f"{PREFIX}{self.cluster_id}{sandbox_id[:6]}"   # 15 characters: the kernel's limit

    @property
    def comment(self) -> str:
        """What marks this cluster's iptables rules (``-m comment``)."""
        return f"{PREFIX}{self.cluster_id}"

    # --- the cluster ------------------------------------------------------------------------

    def setup(self, dns_ip: str | None = None) -> None:
        """Forwarding and NAT for the cluster network (once per cluster). ``dns_ip``: the ``kube-dns``
        ClusterIP, given to the first node's bridge (as a /32) so that cluster DNS (a server of this
        process, not CoreDNS pods behind a Service) listens on it and pods reach it through their gateway."""
        self._record()
        forward = Path("/proc/sys/net/ipv4/ip_forward")
        self._forward_was = forward.read_text().strip()
        if self._forward_was != "1":
            forward.write_text("1\n")
            self._record()
        cidr, tag = self.cluster_cidr, ["-m", "comment", "--comment", self.comment]
        for rule in (["-s", cidr], ["-d", cidr]):
            run("iptables", "-I", "FORWARD", *rule, *tag, "-j", "ACCEPT")
        run("iptables", "-t", "nat", "-A", "POSTROUTING", "-s", cidr, "!", "-d", cidr, *tag, "-j", "MASQUERADE")
        if dns_ip is not None:
            self.add_node(0)
            run("ip", "addr", "add", f"{dns_ip}/32", "dev", self.bridge(0))

    def add_node(self, index: int) -> None:
        """The node's bridge, with its pod CIDR's gateway address."""
        bridge = self.bridge(index)
        if not Path(f"/sys/class/net/{bridge}").exists():
            run("ip", "link", "add", bridge, "type", "bridge")
            run("ip", "addr", "add", f"{self.gateway(index)}/24", "dev", bridge)
            run("ip", "link", "set", bridge, "up")
            # Service traffic DNATed to a loopback address (the kubernetes Service's endpoint is the API
            # server on 127.0.0.1) may arrive from pods on this bridge, as upstream's route_localnet allows.
            Path(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").write_text("1\n")
        self.nodes.add(index)

    def add_pod(self, index: int, sandbox_id: str, ip: str) -> str:
        """A pod's network namespace wired to node ``index``'s bridge; returns the namespace's name."""
        name, veth = self.netns(sandbox_id), self.veth(sandbox_id)
        self.add_node(index)
        run("ip", "netns", "add", name)
        try:
            run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
            run("ip", "link", "set", veth, "master", self.bridge(index))
            run("ip", "link", "set", veth, "up")
            inside = ("ip", "-n", name)
            run(*inside, "link", "set", "lo", "up")
            run(*inside, "addr", "add", f"{ip}/24", "dev", "eth0")
            run(*inside, "link", "set", "eth0", "up")
            run(*inside, "route", "add", "default", "via", self.gateway(index))
        except NetworkError:
            self.remove_pod(sandbox_id)
            raise
        return name

    def remove_pod(self, sandbox_id: str) -> None:
        """Deleting the namespace deletes its eth0, and with it the veth's host end."""
        run("ip", "netns", "delete", self.netns(sandbox_id), check=False)
        run("ip", "link", "delete", self.veth(sandbox_id), check=False)

    def teardown(self) -> None:
        """Remove everything this cluster made, restore ``ip_forward``, and free the address block."""
        remove(self.cluster_id, self._forward_was)
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)
        self.release()

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)
            self._handle = None

    def _record(self) -> None:
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(json.dumps({"clusterID": self.cluster_id, "block": self.block,
                                                   "ipForwardWas": self._forward_was, "pid": os.getpid()}))


def claim(data_dir: Path | None = None, lock_dir: Path = addresses.LOCK_DIR) -> NetworkPlan:
    """A network plan no other cluster of this machine uses (a machine-wide ``flock`` per block).
    With ``data_dir``, the leftovers of a crashed server of the same data dir are removed first."""
    state = Path(data_dir) / STATE_FILE if data_dir is not None else None
    if state is not None and state.exists():
        cleanup(Path(data_dir))   # type: ignore[arg-type]
    addresses.open_lock_dir(lock_dir)
    for k in range(BLOCKS):
        handle = os.open(lock_dir / f"netns-block-{k}", os.O_RDONLY | os.O_CREAT, 0o444)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        seed = str(Path(data_dir).resolve()) if data_dir is not None else os.urandom(8).hex()
        cluster_id = _id_of(f"{seed}/{os.getpid()}/{k}")
        return NetworkPlan(cluster_id, k, state, _handle=handle)
    raise NetworkError(f"{BLOCKS} clusters of this machine already use netns mode")


# --- finding and removing a cluster's objects -------------------------------------------------

def leftovers(cluster_id: str) -> dict[str, list[str]]:
    """Every host object whose name or comment carries ``cluster_id``."""
    mark = f"{PREFIX}{cluster_id}"
    spaces = [line.split()[0] for line in run("ip", "netns", "list", check=False).splitlines() if line.strip()]
    links = [entry for entry in os.listdir("/sys/class/net")] if os.path.isdir("/sys/class/net") else []
    tables = [line.split()[-1] for line in run("nft", "list", "tables", check=False).splitlines()
              if line.startswith("table ip ")]
    rules = [f"{table} {line}" for table in ("filter", "nat")
             for line in run("iptables", "-t", table, "-S", check=False).splitlines() if f'--comment {mark}' in line]
    return {"netns": [s for s in spaces if s.startswith(mark)], "links": [n for n in links if n.startswith(mark)],
            "tables": [t for t in tables if t.startswith(mark)], "rules": rules}


def remove(cluster_id: str, forward_was: str | None = None) -> list[str]:
    """Remove every object of ``cluster_id`` (see :func:`leftovers`); returns what was removed."""
    found, removed = leftovers(cluster_id), []
    for name in found["netns"]:
        for pid in run("ip", "netns", "pids", name, check=False).split():   # a crashed server's containers
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        run("ip", "netns", "delete", name, check=False)
        removed.append(f"netns {name}")
    for name in found["links"]:
        if Path(f"/sys/class/net/{name}").exists():   # a veth goes with its namespace's end
            run("ip", "link", "delete", name, check=False)
        removed.append(f"link {name}")
    for name in found["tables"]:
        run("nft", "delete", "table", "ip", name, check=False)
        removed.append(f"nftables table {name}")
    for line in found["rules"]:
        table, rule = line.split(" ", 1)
        run("iptables", "-t", table, *_argv(rule.replace("-A ", "-D ", 1)), check=False)
        removed.append(f"iptables -t {rule}")
    if forward_was == "0":
        Path("/proc/sys/net/ipv4/ip_forward").write_text("0\n")
        removed.append("net.ipv4.ip_forward=1 (restored to 0)")
    return removed


def _argv(rule: str) -> list[str]:
    import shlex

    return shlex.split(rule)


def cleanup(data_dir: Path) -> list[str]:
    """After a crash: remove what the cluster recorded in ``<data_dir>/netns.json`` left behind."""
    state = Path(data_dir) / STATE_FILE
    try:
        record = json.loads(state.read_text())
        cluster_id = str(record["clusterID"])
    except FileNotFoundError:
        return []
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise NetworkError(f"{state}: not a netns state file ({exc})") from exc
    if len(cluster_id) != 4 or not all(c in "0123456789abcdef" for c in cluster_id):
        raise NetworkError(f"{state}: bad cluster id {cluster_id!r}")
    removed = remove(cluster_id, record.get("ipForwardWas"))
    state.unlink(missing_ok=True)
    return removed


def in_cidr(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


def main(argv: list[str], default_data_dir: Path) -> int:
    """``minik8s cleanup [--data-dir DIR]``: remove a crashed netns-mode server's leftovers."""
    import argparse

    parser = argparse.ArgumentParser(prog="minik8s cleanup",
                                     description="Remove the network namespaces, links and packet-filter rules a "
                                                 "netns-mode server of DIR left behind (after kill -9).")
    parser.add_argument("--data-dir", default=str(default_data_dir), help="the server's data dir (its netns.json)")
    args = parser.parse_args(argv)
    data_dir = Path(args.data_dir).expanduser()
    if refusal() is not None and (data_dir / STATE_FILE).exists():
        print(f"error: {refusal()}", file=sys.stderr)
        return 1
    try:
        removed = cleanup(data_dir)
    except NetworkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for what in removed:
        print(f"removed {what}")
    if not removed:
        print(f"nothing to clean up for {data_dir}")
    return 0

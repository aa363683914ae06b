"""``minik8s server``: a whole cluster behind the Kubernetes REST API.

Runs a :class:`minik8s.cluster.Cluster` (control plane and nodes) with the real
clock, persisted to SQLite under ``--data-dir``, and serves its API over HTTPS
on loopback, as a real control plane does: at the first start it makes a cluster
CA, a serving certificate, an admin token and the ServiceAccount signing key
(:mod:`minik8s.pki`, wired in by :mod:`minik8s.apiserver.serving`, which
``Cluster.serve()`` shares), and every request passes the Host, Origin,
authentication (client certificates, static tokens, ServiceAccount tokens) and
authorization filters (:mod:`minik8s.apiserver.filters`). The serving certificate
also names the ``kubernetes`` Service's ClusterIP, so pods reach the API there. It writes a kubeconfig context named
``minik8s`` carrying the CA and the token, so the real kubectl, ``minik8s
kubectl`` and the official ``kubernetes`` client can use it at once while
nothing else gets in. ``--insecure`` serves plain HTTP with no credential, and
says loudly what that means. ``minik8s node stop|start|add|remove NAME`` reaches the running
server through ``control.sock`` in the data directory (:mod:`minik8s.nodecontrol`). SIGINT or
SIGTERM stops it cleanly: the control socket is removed, the HTTP server closes, the cluster stops
what it started, the database is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import pwd
import signal
import sys
from pathlib import Path

from aiohttp import web

from minik8s import kubeadm, kubeconfig, nodecontrol, pki
from minik8s.addresses import kubernetes_service_ip
from minik8s.apiserver import filters, serving
from minik8s.apiserver.serviceallocator import parse_port_range
from minik8s.apiserver.http import make_app
from minik8s.cluster import Cluster
from minik8s.kubectl.authn import parse_go_duration
from minik8s.store import StoreError, open_store
from minik8s.store.encryption import DecryptionError, EncryptionConfigError

DEFAULT_DATA_DIR = Path.home() / ".minik8s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6443, help="port to serve on (default 6443; 0 picks one)")
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="where the cluster keeps its state")
    parser.add_argument("--nodes", type=_non_negative, default=1, help="number of nodes (default 1)")
    parser.add_argument("--runtime", default="process", choices=("simulated", "process", "docker"),
                        help="container runtime (default process)")
    parser.add_argument("--network", default="loopback", choices=("loopback", "netns"),
                        help="the process runtime's pod network: loopback addresses (default) or a network "
                             "namespace per pod on a bridge per node, Services in the kernel (root or CAP_NET_ADMIN)")
    parser.add_argument("--kubeconfig", default=None, help="kubeconfig file to write (default $KUBECONFIG or "
                                                           "~/.kube/config)")
    parser.add_argument("--seed", type=int, default=None, help="seed for generated names")
    parser.add_argument("--max-pods", type=_non_negative, default=110,
                        help="most pods a node runs, as the kubelet's --max-pods (default 110)")
    parser.add_argument("--object-count-limit", type=_non_negative, default=10_000,
                        help="most objects of one kind in one namespace (default 10000; 0: no limit)")
    parser.add_argument("--tls-san", action="append", default=[], metavar="NAME",
                        help="another host name or address the server answers to (certified, and accepted "
                             "in the Host header); repeatable")
    parser.add_argument("--service-cluster-ip-range", type=_cidr, default=None, metavar="CIDR",
                        help="where Services get their ClusterIPs (default 127.96.0.0/12; 10.96.0.0/12 "
                             "with --runtime simulated)")
    parser.add_argument("--service-node-port-range", type=_port_range, default="30000-32767", metavar="RANGE",
                        help="where NodePort Services get their node ports (default 30000-32767)")
    parser.add_argument("--encryption-provider-config", default=None, metavar="FILE",
                        help="an EncryptionConfiguration (apiserver.config.k8s.io/v1): encrypt the resources it "
                             "names, Secrets usually, in the data directory (aescbc, aesgcm, identity)")
    parser.add_argument("--store", default=None, metavar="URL",
                        help="where the cluster's objects are kept: sqlite (default: state.db in the data "
                             "directory) or etcd://HOST:PORT[,HOST:PORT...] (an etcd v3 cluster's client URLs)")
    parser.add_argument("--metric-resolution", type=_duration, default=15.0, metavar="DURATION",
                        help="how often metrics-server scrapes the kubelets for metrics.k8s.io (default 15s)")
    parser.add_argument("--ingress-http-port", type=_non_negative, default=8080, metavar="PORT",
                        help="where the built-in ingress controller serves HTTP (default 8080; 0 picks one)")
    parser.add_argument("--ingress-https-port", type=_non_negative, default=8443, metavar="PORT",
                        help="where it serves HTTPS, certificates chosen by SNI (default 8443; 0 picks one)")
    parser.add_argument("--no-ingress", action="store_true", help="run no ingress controller")
    parser.add_argument("--insecure", action="store_true",
                        help="DANGEROUS: serve plain HTTP and ask no credential: anything that can reach the "
                             "port controls the cluster and every process it runs")


def _cidr(text: str) -> str:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid CIDR address: {text}") from None
    if network.num_addresses < 8:
        raise argparse.ArgumentTypeError(f"{text} is too small: a Service range needs at least 8 addresses")
    return str(network)


def _port_range(text: str) -> str:
    try:
        low, high = parse_port_range(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'"{text}" is not a port range such as 30000-32767') from None
    return f"{low}-{high}"


def _duration(text: str) -> float:
    """A Go-style duration such as ``15s``, ``500ms`` or ``1m``, in seconds (more than zero)."""
    try:
        seconds = parse_go_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'invalid duration "{text}": use a number and a unit, such as 15s') from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0s, not {text}")
    return seconds


def _non_negative(text: str) -> int:
    count = int(text)
    if count < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {count}")
    return count


async def _serve(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).expanduser()
    try:
        store = open_store(args.store, data_dir, args.encryption_provider_config)
    except (EncryptionConfigError, DecryptionError, StoreError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        cluster = Cluster(nodes=args.nodes, runtime=args.runtime, clock="real", seed=args.seed, store=store,
                          data_dir=data_dir, max_pods=args.max_pods,
                          object_count_limit=args.object_count_limit or None,
                          service_cidr=args.service_cluster_ip_range, node_port_range=args.service_node_port_range,
                          metric_resolution=args.metric_resolution, ingress=not args.no_ingress,
                          network=args.network)
    except (RuntimeError, ValueError, OSError) as exc:
        # A runtime that cannot start (no Docker engine, no rights): say why, as a command does. The
        # cluster has already stopped what it started and closed the store.
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # The kubernetes Service's ClusterIP too: pods reach the API there (load_incluster_config()).
    names = pki.server_names(args.host, [*args.tls_san, kubernetes_service_ip(cluster.service_cidr)])
    allowed_hosts = frozenset(names)
    if args.insecure:
        credentials = None
        policy = filters.Policy.insecure(allowed_hosts)
    else:
        try:
            credentials, policy = serving.secure(cluster.api, data_dir / "pki", names)
        except (OSError, ValueError) as exc:
            cluster.stop()
            print(f"error: cannot set up the cluster's certificates under {data_dir / 'pki'}: {exc}", file=sys.stderr)
            return 1
        cluster.pki = credentials   # the CSR signer reads the CA's key from its folder
        cluster.publish_root_ca()
    runner = web.AppRunner(make_app(cluster.api, policy), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port,
                       ssl_context=credentials.server_ssl_context() if credentials else None)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        cluster.stop()
        print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    port = runner.addresses[0][1]
    # The kubernetes Service's endpoints name this address (store writes: off the event loop).
    await asyncio.get_running_loop().run_in_executor(None, cluster.api.ensure_kubernetes_service, args.host, port)
    url = f"{'http' if args.insecure else 'https'}://{_connectable(args.host)}:{port}"
    if credentials is not None:   # kubeadm's bootstrap-token phase: cluster-info and RBAC for joining
        await asyncio.get_running_loop().run_in_executor(None, kubeadm.bootstrap_token_phase, cluster.client, url,
                                                         credentials.ca_pem)
    config_path = kubeconfig.path(args.kubeconfig)
    try:
        config = kubeconfig.add_context(kubeconfig.load(config_path), "minik8s", url,
                                        ca_pem=credentials.ca_pem if credentials else None,
                                        token=credentials.admin_token if credentials else None)
        kubeconfig.save(config, config_path)
    except (ValueError, OSError) as exc:
        await runner.cleanup()
        cluster.stop()
        print(f"error: cannot write the kubeconfig {config_path}: {exc}", file=sys.stderr)
        return 1
    control_path = data_dir / nodecontrol.SOCKET_NAME
    try:
        control = await nodecontrol.serve(cluster, control_path)
    except OSError as exc:   # the cluster serves on; only `minik8s node` cannot reach it
        control = None
        print(f"warning: no node control socket at {control_path}: {exc.strerror or exc}", file=sys.stderr)
    ingress = await _serve_ingress(cluster, args)
    print(f"minik8s is serving the Kubernetes API at {url}", flush=True)
    if ingress:
        print(ingress, flush=True)
    print(f'kubeconfig: context "minik8s" written to {config_path} and made current', flush=True)
    print("try: kubectl get ns   (or: minik8s kubectl get ns)", flush=True)
    if args.insecure:
        print(f"WARNING: --insecure: plain HTTP and no authentication on {args.host}:{port}. Any program that can "
              f"reach it, and any web page that can make your browser send it a request, can run commands on "
              f"this machine as {_whoami()}.", file=sys.stderr, flush=True)

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    print("minik8s: shutting down", flush=True)
    if control is not None:
        control.close()
        nodecontrol.remove(control_path)
    await runner.cleanup()
    cluster.stop()
    return 0


async def _serve_ingress(cluster: Cluster, args: argparse.Namespace) -> str | None:
    """Open the ingress controller's ports; the line to print (None: no ingress). A taken port is a
    warning, not a failure: the API serves on, and the flags say how to pick other ports."""
    if args.no_ingress:
        return None
    loop = asyncio.get_running_loop()
    try:
        http, https = await loop.run_in_executor(None, cluster.serve_ingress, args.host, args.ingress_http_port,
                                                 args.ingress_https_port)
    except OSError as exc:
        print(f"warning: the ingress controller cannot serve on {args.host} ports {args.ingress_http_port}/"
              f"{args.ingress_https_port}: {exc.strerror or exc} (choose others with --ingress-http-port and "
              f"--ingress-https-port)", file=sys.stderr, flush=True)
        return None
    host = _connectable(args.host)
    return f"ingress controller (class minik8s) serving http://{host}:{http} and https://{host}:{https}"


def _connectable(host: str) -> str:
    """The address a client on this machine uses for ``host`` (a wildcard is reached on loopback)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _whoami() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid {os.getuid()}"


def main(args: argparse.Namespace) -> int:
    return asyncio.run(_serve(args))

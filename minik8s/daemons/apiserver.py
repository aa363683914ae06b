"""``minik8s apiserver``: the API server alone, as kube-apiserver runs on a kubeadm control plane.

No controllers, no scheduler, no kubelets: only the REST API over HTTPS with its filters
(authentication, authorization, admission), the store, and the store's compactor. The other
components are processes of their own that reach it through a kubeconfig, as ``kubeadm init``
sets them up. At start, under ``--data-dir`` D:

* the PKI in ``D/pki`` (:mod:`minik8s.pki`): made at the first start, reused after, so a second
  API server given the same folder serves with the same CA and signs ServiceAccount tokens with the
  same key;
* kubeconfigs, each carrying a client certificate signed by the cluster CA, as kubeadm's
  ``kubeconfig`` phase writes them into ``/etc/kubernetes``:

  =================================  ===============================================  ====================
  file                               user (certificate CN / O)                        for
  =================================  ===============================================  ====================
  ``admin.conf``                     ``kubernetes-admin`` / ``system:masters``         kubectl
  ``controller-manager.conf``        ``system:kube-controller-manager``                ``minik8s controller-manager``
  ``scheduler.conf``                 ``system:kube-scheduler``                         ``minik8s scheduler``
  ``kubelet-<node>.conf``            ``system:node:<node>`` / ``system:nodes``         ``minik8s kubelet`` (``--node-name``)
  ``proxy.conf``                     ``system:kube-proxy``                             ``minik8s proxy``
  =================================  ===============================================  ====================

* kubeadm's ``bootstrap-token`` phase (:mod:`minik8s.kubeadm`): the ``cluster-info`` ConfigMap and
  the RBAC that lets ``minik8s join`` add nodes with bootstrap tokens (``minik8s token create``);
  the controller manager signs their certificates when given ``--cluster-signing-cert-file D/pki/ca.crt
  --cluster-signing-key-file D/pki/ca.key``;
* the store: SQLite in ``D/state.db`` unless ``--store`` names another. One SQLite file serves one
  API server: a lock file (``D/state.db.lock``) refuses a second, whose writes would be lost;
  several API servers share a store over etcd. A second API server whose data directory holds
  the same ``pki`` folder (a copy, a link, a shared mount) serves with the same CA; API servers of
  one cluster are given the same ``--service-cluster-ip-range`` (by default each claims a block of
  this machine's loopback addresses, :func:`minik8s.addresses.claim_block`).

How minik8s differs: upstream's kube-controller-manager runs each controller under its own
ServiceAccount (``--use-service-account-credentials``) with a ``system:controller:<name>`` role;
minik8s has no such per-controller roles yet, so ``minik8s apiserver`` binds
``system:kube-controller-manager`` to ``cluster-admin`` (ClusterRoleBinding
``minik8s:kube-controller-manager``).

Interface: ``add_arguments(parser)``, ``main(args) -> exit code``. Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import random
import signal
import sys
import threading
from pathlib import Path
from typing import IO

from minik8s import addresses, kubeadm, kubeconfig, pki
from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.apiserver import serving
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.compaction import Compactor
from minik8s.apiserver.http import make_app
from minik8s.client.local import LocalClient
from minik8s.clock import RealClock
from minik8s.runner import Runner
from minik8s.server import DEFAULT_DATA_DIR, _cidr, _connectable, _non_negative, _port_range
from minik8s.store import Store, StoreError, open_store
from minik8s.store.encryption import DecryptionError, EncryptionConfigError

CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
SCHEDULER_USER = "system:kube-scheduler"
PROXY_USER = "system:kube-proxy"
CONTROLLER_MANAGER_BINDING = "minik8s:kube-controller-manager"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR),
                        help="where the PKI, the kubeconfigs and the SQLite store live (default ~/.minik8s)")
    parser.add_argument("--store", default=None, metavar="SPEC",
                        help="where objects are kept: sqlite (default: <data-dir>/state.db), sqlite:///FOLDER "
                             "(FOLDER/state.db), or etcd://HOST:PORT[,HOST:PORT...] (shared by several API servers)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=_non_negative, default=6443, help="port to serve on (default 6443; 0 picks one)")
    parser.add_argument("--tls-san", action="append", default=[], metavar="NAME",
                        help="another host name or address the server answers to; repeatable")
    parser.add_argument("--service-cluster-ip-range", type=_cidr, default=None, metavar="CIDR",
                        help="where Services get their ClusterIPs (default 127.96.0.0/12, or the next free block)")
    parser.add_argument("--service-node-port-range", type=_port_range, default="30000-32767", metavar="RANGE",
                        help="where NodePort Services get their node ports (default 30000-32767)")
    parser.add_argument("--encryption-provider-config", default=None, metavar="FILE",
                        help="an EncryptionConfiguration: encrypt the resources it names in the store")
    parser.add_argument("--object-count-limit", type=_non_negative, default=10_000,
                        help="most objects of one kind in one namespace (default 10000; 0: no limit)")
    parser.add_argument("--node-name", action="append", default=[], metavar="NODE",
                        help="write kubelet-NODE.conf, the kubeconfig of node NODE's kubelet; repeatable")


class StoreLocked(Exception):
    """Another API server already keeps its state in this SQLite file."""


def lock_sqlite(db: Path) -> IO[str]:
    """Hold ``<db>.lock`` (an exclusive ``flock``) while serving from ``db``; released when the
    process ends, however it ends. Raises StoreLocked naming the holder's pid."""
    db.parent.mkdir(parents=True, exist_ok=True)
    handle = open(db.with_name(db.name + ".lock"), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise StoreLocked(f"{db} is in use by another API server (pid {holder}): one SQLite store serves one "
                          f"API server; run several API servers over etcd (--store etcd://HOST:PORT)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def _open_store(spec: str | None, data_dir: Path, encryption_config: str | None) -> tuple[Store, IO[str] | None]:
    """The store ``--store`` names, and the lock held on it (None for etcd, which any number of API
    servers share): ``sqlite`` (default, ``D/state.db``), ``sqlite:///FOLDER``, or ``etcd://HOST:PORT[,...]``."""
    if spec is not None and spec.startswith("etcd://"):
        return open_store(spec, data_dir, encryption_config), None
    if spec in (None, "", "sqlite"):
        folder = data_dir
    elif spec.startswith("sqlite://"):   # sqlite:///PATH: the state.db in folder PATH
        folder = Path(spec[len("sqlite://"):]).expanduser()
    else:
        raise ValueError(f'unsupported --store "{spec}": use sqlite, sqlite:///FOLDER or etcd://HOST:PORT[,HOST:PORT...]')
    lock = lock_sqlite(folder / "state.db")
    try:
        return open_store(None, folder, encryption_config), lock
    except BaseException:
        lock.close()
        raise


def write_kubeconfigs(data_dir: Path, credentials: pki.PKI, url: str, nodes: list[str]) -> list[Path]:
    """kubeadm's ``kubeconfig`` phase: one file per component, each with its own client certificate."""
    users: list[tuple[str, str, tuple[str, ...]]] = [
        ("admin.conf", pki.ADMIN_USER, pki.ADMIN_GROUPS),
        ("controller-manager.conf", CONTROLLER_MANAGER_USER, ()),
        ("scheduler.conf", SCHEDULER_USER, ()),
        ("proxy.conf", PROXY_USER, ()),
        *[(f"kubelet-{node}.conf", f"system:node:{node}", ("system:nodes",)) for node in nodes],
    ]
    written = []
    for file, user, groups in users:
        cert_pem, key_pem = pki.issue_client_certificate(credentials.directory, user, groups)
        context = "kubernetes-admin@kubernetes" if user == pki.ADMIN_USER else f"{user}@kubernetes"
        config = kubeconfig.for_user(url, credentials.ca_pem, context, cert_pem=cert_pem, key_pem=key_pem)
        kubeconfig.save(config, data_dir / file)
        written.append(data_dir / file)
    return written


def bind_controller_manager(api: APIServer) -> None:
    """Let ``system:kube-controller-manager`` do what its controllers do (see the module's note)."""
    bindings = resources.get("rbac.authorization.k8s.io", "v1", "clusterrolebindings")
    assert bindings is not None
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": CONTROLLER_MANAGER_BINDING},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
               "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": CONTROLLER_MANAGER_USER}]}
    try:
        LocalClient(api).create(bindings, binding)
    except StatusError as err:
        if err.code != 409:   # already there from an earlier start
            raise


class _NoInformers:
    """The API server's own loop (the compactor) reads no watch."""

    def pump(self) -> int:
        return 0


def main(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).expanduser()
    try:
        store, lock = _open_store(args.store, data_dir, args.encryption_provider_config)
    except (StoreLocked, ValueError, EncryptionConfigError, DecryptionError, StoreError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    block = addresses.claim_block("process") if args.service_cluster_ip_range is None else None
    service_cidr = args.service_cluster_ip_range or (block.service_cidr if block else addresses.service_cidr("process"))
    clock = RealClock()
    server = None
    try:
        api = APIServer(store, clock, random.Random(), service_cidr=service_cidr,
                        node_port_range=args.service_node_port_range)
        api.object_counts.limit = args.object_count_limit or None
        names = pki.server_names(args.host, [*args.tls_san, addresses.kubernetes_service_ip(service_cidr)])
        try:
            credentials, policy = serving.secure(api, data_dir / "pki", names)
        except (OSError, ValueError) as exc:
            print(f"error: cannot set up the cluster's certificates under {data_dir / 'pki'}: {exc}", file=sys.stderr)
            return 1
        bind_controller_manager(api)
        server = serving.BackgroundServer(make_app(api, policy))
        try:
            port = server.start(args.host, args.port, credentials.server_ssl_context())
        except OSError as exc:
            server = None
            print(f"error: cannot serve on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        api.ensure_kubernetes_service(args.host, port)
        url = f"https://{_connectable(args.host)}:{port}"
        written = write_kubeconfigs(data_dir, credentials, url, args.node_name)
        kubeadm.bootstrap_token_phase(LocalClient(api), url, credentials.ca_pem)   # cluster-info, join RBAC
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stopping.set())
        print(f"minik8s apiserver: serving the Kubernetes API at {url}", flush=True)
        print(f"minik8s apiserver: kubeconfigs written: {', '.join(str(p) for p in written)}", flush=True)
        compactor = Compactor(store, clock)
        Runner(_NoInformers(), clock, lambda: [compactor], name="kube-apiserver").run(stopping)
        print("minik8s apiserver: shutting down", flush=True)
        return 0
    finally:
        if server is not None:
            server.stop()
        store.close()
        if block is not None:
            block.release()
        if lock is not None:
            lock.close()

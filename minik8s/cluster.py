"""``Cluster``: a whole Kubernetes cluster inside one Python process.

The control plane (API server, store, scheduler, controller manager) and the
nodes (kubelets with a container runtime) all run here, talking to each other
only through the API, as they would across machines. One event loop drives
every component: it applies watch events to the shared informers, wakes the
components whose keys are due, and lets each reconcile (:class:`minik8s.runner.Runner`,
the loop each process of :mod:`minik8s.daemons` runs for its own components).

Two ways to let time pass:

* ``clock="real"``: a background thread runs the loop, so the cluster lives on
  its own and a notebook can poll it like a real cluster;
* ``clock="virtual"``: nothing happens until you call ``run_until_stable()``
  (react to everything that is already due) or ``advance(seconds)`` (move the
  clock, firing every timer on the way in order). With a ``seed`` the run is
  deterministic: same script, same names, same output.

Resource sanity: each node runs at most ``max_pods`` pods (the kubelet's ``--max-pods``, 110),
and each namespace holds at most ``object_count_limit`` objects of a kind (an admission quota,
:mod:`minik8s.apiserver.admission.objectcount`; ``None`` lifts it). The API server's compactor
(:mod:`minik8s.apiserver.compaction`) runs in the same loop as the other components.

Interface:
    with Cluster(nodes=3, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(yaml_text_or_path)
        print(c.kubectl("get pods"))
        c.advance(30)
        c.service_router.route(node, client_ip, ip, port, "TCP")   # simulated: where a Service packet goes
        status, body = c.http_get("shop.example", "/cart")   # through the ingress controller (minik8s.ingress)
        c.network_policy_agent.explain(client_ip, ip, port)         # simulated: which NetworkPolicy decides
        url = c.serve()        # the API over HTTPS, as minik8s server serves it (pods reach it: chapter 16)
        c.stop_kubelet("node-2"); c.start_kubelet("node-2")   # a node falls silent, comes back
        name = c.add_node(labels={"disk": "ssd"}); c.remove_node(name)   # machines join, leave (chapter 10)

Taught in chapter 2 (architecture); nodes joining, leaving and failing in chapter 10 (DaemonSets).
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any, Callable

from minik8s import addresses
from minik8s.api.errors import StatusError
from minik8s.api.selectors import validate_labels
from minik8s.api.validation.names import is_dns1123_subdomain
from minik8s.apiserver.admission import DEFAULT_OBJECT_COUNT_LIMIT
from minik8s.apiserver.apiserver import APIServer
from minik8s.apiserver.compaction import Compactor
from minik8s.client.local import LocalClient
from minik8s.clock import Clock, RealClock, VirtualClock
from minik8s.controllers.controller import Context, InformerFactory
from minik8s.controllers.events import EventRecorder
from minik8s.runner import MAX_STEPS, Component, Runner
from minik8s.store import Store

__all__ = ["Cluster", "KubectlError", "Component", "MAX_STEPS", "node_name"]

# The kubelet's --max-pods default: how many pods one node runs at most (its status.capacity.pods).
DEFAULT_MAX_PODS = 110


class KubectlError(Exception):
    """A kubectl command failed: ``message`` is what kubectl printed on stderr (on stdout when stderr is empty,
    as for ``auth can-i``'s \"no\"), ``code`` its exit code."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.message = message
        self.code = code


def _controllers() -> list[Callable[[Context], Component]]:
    """The controller manager's controllers, then the scheduler."""
    from minik8s.controllers.manager import CONTROLLERS
    from minik8s.scheduler.component import SchedulerComponent

    return [*CONTROLLERS, SchedulerComponent]


def _cluster_dns(ctx: Context, runtime: str, cidr: str) -> Component:
    """Cluster DNS on the ``kube-dns`` ClusterIP: a real server for the ``process`` runtime (whose pods
    reach loopback addresses), records and ``lookup`` only for the others (:mod:`minik8s.dns.clusterdns`)."""
    from minik8s import addresses
    from minik8s.dns.clusterdns import ClusterDNS

    ip = addresses.dns_service_ip(cidr)
    return ClusterDNS(ctx, service_ip=ip, serve=runtime == "process")


def node_name(index: int) -> str:
    """Nodes are called node-1, node-2, ..."""
    return f"node-{index + 1}"


def _kubelets(ctx: Context, count: int, runtime: str, data_dir: Path | None,
              max_pods: int = DEFAULT_MAX_PODS, network: Any = None) -> list[Component]:
    """One kubelet per node, each with its own container runtime (as each machine has its own);
    simulated nodes share one ``network``, the wire between the machines."""
    kubelets: list[Component] = []
    try:
        for index in range(count):
            kubelets.append(_kubelet(ctx, node_name(index), index, runtime, data_dir, max_pods, network))
    except BaseException:
        for kubelet in kubelets:  # the nodes made before the one that failed: leave nothing running
            kubelet.stop()  # type: ignore[attr-defined]
        raise
    return kubelets


def _kubelet(ctx: Context, name: str, index: int, runtime: str, data_dir: Path | None, max_pods: int,
             network: Any, labels: dict[str, str] | None = None, taints: list[dict[str, Any]] | None = None,
             **machine: Any) -> Any:
    """The kubelet of one machine, with the machine's own container runtime; ``machine``: more Kubelet
    options (``memory``, ``eviction_hard``)."""
    from minik8s.kubelet import Kubelet, make_runtime

    from minik8s.hostnet import NetworkPlan

    shared = {"network": network} if network is not None else {}
    if isinstance(network, NetworkPlan):   # netns mode: the process runtime wires pods to this node's bridge
        shared = {"network_plan": network}
    node_runtime = make_runtime(runtime, node_name=name, node_index=index, clock=ctx.clock, rng=ctx.rng,
                                data_dir=data_dir, **shared)
    return Kubelet(ctx, node_name=name, node_index=index, runtime=node_runtime, pods=max_pods,
                   labels=labels, taints=taints, **machine)


def _proxies(ctx: Context, kubelets: list[Any], runtime: str, router: Any, seed: int | None,
             plan: Any = None) -> list[Component]:
    """One kube-proxy per node, next to its kubelet (chapter 13). In netns mode one kube-proxy programs
    the kernel: all nodes are this machine, whose rules they would all write alike."""
    proxies: list[Component] = []
    try:
        if plan is not None:
            from minik8s.proxy import KubeProxy
            from minik8s.proxy.kernel import KernelProxier
            from minik8s.proxy.policyrules import PolicyRules

            if not kubelets:
                return []
            return [KubeProxy(ctx, kubelets[0].node_name, KernelProxier(plan, plan.cluster_cidr)), PolicyRules(ctx, plan)]
        for kubelet in kubelets:
            proxies.append(_proxy(ctx, kubelet, runtime, router, seed))
    except BaseException:
        for proxy in proxies:   # leave no forwarding thread behind
            proxy.stop()  # type: ignore[attr-defined]
        raise
    return proxies


def _proxy(ctx: Context, kubelet: Any, runtime: str, router: Any, seed: int | None) -> Any:
    """The kube-proxy next to ``kubelet``; the first node's serves the addresses all nodes share."""
    from minik8s.kubelet.node import node_ip
    from minik8s.proxy import KubeProxy, node_backend, process_node_ip

    index = kubelet.node_index
    ip = node_ip(index) if runtime == "simulated" else process_node_ip(index)
    offset = getattr(kubelet.runtime, "port_offset", 0) or 0
    backend = node_backend(runtime, kubelet.node_name, ip, offset, router, seed, shared_addresses=index == 0)
    return KubeProxy(ctx, kubelet.node_name, backend)


def _ingress(ctx: Context, runtime: str, network: Any, kubelets: list[Any]) -> Any:
    """The built-in ingress controller (the default IngressClass ``minik8s``), its proxy not yet listening."""
    from minik8s.ingress import ingress_controller

    offset = (getattr(kubelets[0].runtime, "port_offset", 0) or 0) if kubelets else 0
    return ingress_controller(ctx, runtime, network, offset)


def _network_policy_agent(ctx: Context, runtime: str, network: Any) -> Component:
    """NetworkPolicy's enforcer: the simulated network's packet filter, or a warning on every policy where
    the runtime's network has none (:mod:`minik8s.proxy.netpol`)."""
    from minik8s.proxy.netpol import NetworkPolicyAgent, NotEnforcedReporter

    if network is None:
        return NotEnforcedReporter(ctx, runtime)
    agent = NetworkPolicyAgent(ctx, network.dns_ip)
    network.filter = agent
    return agent


def _pod_network(runtime: str) -> Any:
    """The simulated runtime's pod network, one per cluster (kube-proxy and DNS plug into it); None
    for runtimes whose pods use the machine's real network."""
    if runtime != "simulated":
        return None
    from minik8s.kubelet.runtimes.simnet import SimulatedNetwork

    return SimulatedNetwork()


def _network_plan(network: str, runtime: str, data_dir: str | Path | None) -> Any:
    """netns mode's host network plan (:mod:`minik8s.hostnet`); None for the loopback network."""
    if network == "loopback":
        return None
    if network != "netns":
        raise ValueError(f'unknown network "{network}": use "loopback" or "netns"')
    if runtime != "process":
        raise ValueError(f"--network netns works with the process runtime, not {runtime}")
    from minik8s import hostnet

    why = hostnet.refusal()
    if why is not None:
        raise RuntimeError(why)
    return hostnet.claim(Path(data_dir) if data_dir else None)


class Cluster:
    def __init__(self, nodes: int = 1, runtime: str = "process", clock: str = "real", seed: int | None = None,
                 *, store: Store | None = None, data_dir: str | Path | None = None,
                 object_count_limit: int | None = DEFAULT_OBJECT_COUNT_LIMIT, max_pods: int = DEFAULT_MAX_PODS,
                 service_cidr: str | None = None, node_port_range: str = "30000-32767",
                 metric_resolution: float | None = 15.0, ingress: bool = True,
                 network: str = "loopback"):
        """``object_count_limit``: most objects of one resource per namespace (None: no cap), see
        :mod:`minik8s.apiserver.admission.objectcount`; ``max_pods``: each kubelet's ``maxPods``;
        ``service_cidr``: where Services get their ClusterIPs (default: the runtime's, see
        :mod:`minik8s.addresses`); ``node_port_range``: where NodePort Services get their ports;
        ``metric_resolution``: how often metrics-server scrapes the kubelets (seconds; None: no
        metrics-server, no ``metrics.k8s.io``);
        ``ingress``: run the built-in ingress controller (:mod:`minik8s.ingress`);
        ``network``: ``loopback`` (pod IPs on the loopback interface, no privilege needed) or ``netns``
        (the process runtime's pods in network namespaces on bridges, Services in the kernel's rules:
        :mod:`minik8s.hostnet`; Linux, root or CAP_NET_ADMIN)."""
        if clock not in ("real", "virtual"):
            raise ValueError(f'unknown clock "{clock}": use "real" or "virtual"')
        self.network_plan = _network_plan(network, runtime, data_dir)
        self.clock: Clock = VirtualClock() if clock == "virtual" else RealClock()
        self.rng = random.Random(seed)
        self.seed = seed
        self.runtime = runtime
        self.node_count = nodes
        self.data_dir = Path(data_dir) if data_dir else None
        self.store = store or Store()
        # Addresses no other cluster of this machine uses (the process runtime's are real loopback ones).
        self.address_block = addresses.claim_block(runtime)
        self.service_cidr = service_cidr or self.address_block.service_cidr
        if self.network_plan is not None and service_cidr is None:
            self.service_cidr = self.network_plan.service_cidr   # ClusterIPs the kernel's rules route
        self.api = APIServer(self.store, self.clock, self.rng, service_cidr=self.service_cidr,
                             node_port_range=node_port_range)
        self.api.object_counts.limit = object_count_limit
        self.max_pods = max_pods
        self.metric_resolution = metric_resolution
        self.client = LocalClient(self.api)
        self._wakeup = threading.Event()
        self.informers = InformerFactory(self.client, self._wakeup.set)
        # One loop drives every component (minik8s.runner), the API server's compactor first.
        self.runner = Runner(self.informers, self.clock, self._looped, self._wakeup, name="minik8s-cluster")
        self._lock = self.runner.lock
        self.recorder = EventRecorder(self.client, self.clock)
        self.context = Context(self.client, self.clock, self.rng, self.informers, self.recorder, self.data_dir,
                               runtime=runtime, load_balancer_pool=self.address_block.load_balancer_pool)
        self.components: list[Component] = []
        # Part of the API server rather than a controller: it works on the store, in the same loop.
        self.compactor = Compactor(self.store, self.clock)
        self._started = False
        self._https: Any = None   # the API served over HTTPS by serve(), if asked
        self._with_ingress = ingress
        self.ingress_ports: tuple[int, int | None] | None = None   # where the ingress proxy listens, once it does
        self.pki: Any = None
        try:
            self.start()
        except BaseException:
            self.stop()  # e.g. a runtime that cannot start: stop the controllers already running
            raise

    @property
    def virtual(self) -> bool:
        return isinstance(self.clock, VirtualClock)

    # --- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            return
        self._started = True
        self.components = [make(self.context) for make in _controllers()]
        if self.network_plan is not None:   # before DNS: it listens on the kube-dns ClusterIP of the host
            self.network_plan.setup(dns_ip=addresses.dns_service_ip(self.service_cidr))
        self.dns = _cluster_dns(self.context, self.runtime, self.service_cidr)
        self.components.append(self.dns)
        if self.metric_resolution is not None:   # metrics-server, serving metrics.k8s.io (chapter 17)
            from minik8s.metrics.server import MetricsServer
            self.metrics_server = MetricsServer(self.context, resolution=self.metric_resolution)
            self.components.append(self.metrics_server)
            self.api.serve_metrics(self.metrics_server)
        self.network = _pod_network(self.runtime)
        self.kubelets = _kubelets(self.context, self.node_count, self.runtime, self.data_dir, self.max_pods,
                                  self.network or self.network_plan)
        self._next_node = len(self.kubelets)
        for kubelet in self.kubelets:
            self._plug_in(kubelet)
        self.components += self.kubelets
        from minik8s.proxy import ServiceRouter

        # The simulated pod network asks this where a packet to a Service address goes (chapter 13).
        self.service_router = ServiceRouter(self.clock.now, seed=f"{self.seed}/kube-proxy")
        self.components += _proxies(self.context, self.kubelets, self.runtime, self.service_router, self.seed,
                                    self.network_plan)
        if self.network is not None:   # the simulated wire: kube-proxy's rules route, cluster DNS resolves
            self.network.router = self.service_router
            self.network.resolver = self.dns
        self.ingress = _ingress(self.context, self.runtime, self.network, self.kubelets) if self._with_ingress else None
        if self.ingress is not None:
            self.components.append(self.ingress)
        self.network_policy_agent = None   # netns mode: kube-proxy's PolicyRules write policies as filter rules
        if self.network_plan is None:
            self.network_policy_agent = _network_policy_agent(self.context, self.runtime, self.network)
            self.components.append(self.network_policy_agent)
        if not self.virtual:
            self.runner.start()
        self.run_until_stable()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve this cluster's API over HTTPS on ``host:port`` (0: any free port) from a background
        thread, with the filters of ``minik8s server`` (client certificates, tokens, ServiceAccount
        tokens), and point the ``kubernetes`` Service at it, so pods (and the official client in a
        notebook) can call it. The PKI lives in ``<data_dir>/pki`` or a temporary folder; the serving
        certificate names the ``kubernetes`` Service's ClusterIP. Returns the URL; ``stop()`` ends it.
        ``self.pki`` holds the credentials (``ca_pem``, ``admin_token``, ``directory``)."""
        import tempfile

        from minik8s import kubeadm, pki
        from minik8s.apiserver import kubernetesservice, serving
        from minik8s.apiserver.http import make_app

        if self._https is not None:
            raise RuntimeError("this cluster's API is already served")
        if self.data_dir is not None:
            pki_dir = self.data_dir / "pki"
        else:
            self._pki_tmp = tempfile.TemporaryDirectory(prefix="minik8s-pki-")
            pki_dir = Path(self._pki_tmp.name)
        names = pki.server_names(host, [addresses.kubernetes_service_ip(self.service_cidr)])
        self.pki, policy = serving.secure(self.api, pki_dir, names)
        server = serving.BackgroundServer(make_app(self.api, policy))
        bound = server.start(host, port, self.pki.server_ssl_context())
        self._https = server
        self.api.ensure_kubernetes_service(host, bound)
        self.publish_root_ca()
        address = kubernetesservice.advertised_address(host)
        url = f"https://{'[' + address + ']' if ':' in address else address}:{bound}"
        kubeadm.bootstrap_token_phase(self.client, url, self.pki.ca_pem)   # cluster-info, RBAC for joining
        return url

    def serve_ingress(self, host: str = "127.0.0.1", http_port: int = 0,
                      https_port: int | None = 0) -> tuple[int, int | None]:
        """Open the ingress controller's proxy on ``host`` (0: free ports; ``https_port=None``: no HTTPS);
        returns the ports. Its Ingresses' ``status.loadBalancer`` then names this address."""
        if self.ingress is None:
            raise RuntimeError("this cluster runs no ingress controller (Cluster(ingress=False))")
        if self.ingress_ports is None:
            self.ingress_ports = self.ingress.proxy.serve(host, http_port, https_port)
            self.ingress.serving(host, *self.ingress_ports)
            self._wakeup.set()
            if self.virtual:
                self.run_until_stable()
        return self.ingress_ports

    def http_get(self, host: str, path: str = "/") -> tuple[int, str]:
        """``curl -H 'Host: <host>' http://<ingress><path>``: (status, body) through the ingress controller.
        The simulated runtime's pods are reached without sockets (its pods live in the simulated network);
        the others' through the proxy on a real port (opened on first use)."""
        if self.ingress is None:
            raise RuntimeError("this cluster runs no ingress controller (Cluster(ingress=False))")
        if self.runtime == "simulated":
            return self.ingress.proxy.request_simulated(host, path)
        import urllib.error
        import urllib.request

        port, _ = self.serve_ingress()
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace")

    def publish_root_ca(self) -> None:
        """The cluster CA became known: let the root CA publisher write ``kube-root-ca.crt`` everywhere,
        and the CSR signer sign with the CA's key (read from ``self.pki``'s folder, never from the API)."""
        for component in self.components:
            republish = getattr(component, "republish", None)
            if republish is not None:
                republish()
            use_ca = getattr(component, "use_ca", None)
            if use_ca is not None and self.pki is not None:
                use_ca(self.pki.directory / "ca.crt", self.pki.directory / "ca.key")
        self._wakeup.set()
        if self.virtual:
            self.run_until_stable()

    def stop(self) -> None:
        if self._https is not None:
            self._https.stop()
            self._https = None
        self.runner.stop()
        for component in self.components:
            stop = getattr(component, "stop", None)
            if stop is not None:
                stop()
        self.informers.stop()
        self.store.close()
        self.address_block.release()
        if self.network_plan is not None:   # after the kubelets: their pods' namespaces are gone first
            self.network_plan.teardown()

    def __enter__(self) -> "Cluster":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the loop ----------------------------------------------------------------------

    def step(self) -> bool:
        """One round: apply watch events, release due timers, reconcile what is ready. True if anything ran."""
        return self.runner.step()

    def next_due(self) -> float | None:
        return self.runner.next_due()

    def run_until_stable(self, timeout: float | None = None) -> bool:
        """Return once no component has work ready (timers in the future don't count).
        With the real clock this waits for the background loop; returns False on timeout."""
        return self.runner.run_until_stable(timeout)

    def _plug_in(self, kubelet: Any) -> None:
        """Let the API server reach ``kubelet`` (logs, exec) and its pods reach cluster DNS."""
        self.api.nodes.register(kubelet.node_name, kubelet)
        kubelet.runtime.cluster_network.lookup = self.dns.lookup  # in-process DNS (simulated nslookup)
        if self.runtime == "process":  # pods' C libraries miss a DNS server off port 53: use /etc/hosts
            kubelet.runtime.cluster_network.hosts_fallback = not self.dns.on_port_53

    def _looped(self) -> list[Component]:
        """What the loop drives: the API server's compactor, then the components."""
        return [self.compactor, *self.components]

    # --- node faults (for labs and tests) ------------------------------------------------

    def _kubelet(self, node: str) -> Any:
        kubelet = next((k for k in self.kubelets if k.node_name == node), None)
        if kubelet is None:
            raise ValueError(f'no node "{node}" in this cluster (nodes: '
                             f'{", ".join(k.node_name for k in self.kubelets)})')
        return kubelet

    def stop_kubelet(self, node: str) -> None:
        """Cut ``node`` off: its kubelet stops renewing its Lease and posting status, and hears
        nothing from the API server; its containers keep running. After the grace period the node
        lifecycle controller marks it ``Unknown`` and taints it ``node.kubernetes.io/unreachable``."""
        self._kubelet(node).stop_heartbeats()
        self._wakeup.set()

    def start_kubelet(self, node: str) -> None:
        """Bring ``node`` back: it heartbeats at once, catches up with its pods, loses the taints."""
        self._kubelet(node).resume_heartbeats()
        self._wakeup.set()

    def add_node(self, name: str | None = None, labels: dict[str, str] | None = None,
                 taints: list[dict[str, Any]] | None = None, *, memory: str = "8Gi",
                 eviction_hard: dict[str, str] | None = None) -> str:
        """A machine joins: a new kubelet (same runtime) registers its Node, with ``labels`` and
        ``taints`` as the kubelet's ``--node-labels`` and ``--register-with-taints``, ``memory`` its
        capacity and ``eviction_hard`` its ``--eviction-hard`` (default ``memory.available<100Mi``), and starts
        heartbeating; a kube-proxy runs next to it. Returns the node's name (the next ``node-N``
        unless ``name`` is given)."""
        with self._lock:
            index = self._next_node
            name = name or node_name(index)
            problems = is_dns1123_subdomain(name)
            if problems:
                raise ValueError(f'invalid node name "{name}": {"; ".join(problems)}')
            bad_labels = validate_labels(labels, "metadata.labels")
            if bad_labels:   # the kubelet's registration would be refused for ever: refuse now
                raise ValueError(f'invalid node labels: {"; ".join(str(e) for e in bad_labels)}')
            if any(k.node_name == name for k in self.kubelets):
                raise ValueError(f'node "{name}" is already in this cluster')
            kubelet = _kubelet(self.context, name, index, self.runtime, self.data_dir, self.max_pods,
                               self.network or self.network_plan, labels, taints, memory=memory,
                               eviction_hard=eviction_hard)
            try:
                proxy = _proxy(self.context, kubelet, self.runtime, self.service_router, self.seed)
            except BaseException:
                kubelet.stop()
                raise
            self._next_node = index + 1
            self._plug_in(kubelet)
            self.kubelets.append(kubelet)
            self.components += [kubelet, proxy]
        self._settle()
        return name

    def remove_node(self, name: str) -> None:
        """A machine is gone for good: its kubelet and kube-proxy stop and its Node object is deleted,
        as ``kubectl delete node`` after the machine was shut down. Pods still bound to it are then
        deleted by the pod garbage collector (:mod:`minik8s.controllers.nodelifecycle`), and their
        controllers replace them elsewhere; a DaemonSet simply has one node fewer."""
        from minik8s.api import resources

        with self._lock:
            kubelet = self._kubelet(name)
            kubelet.stop_heartbeats()
            gone = [c for c in self.components if c is kubelet or getattr(c, "node_name", None) == name]
            self.components = [c for c in self.components if not any(c is g for g in gone)]
            self.kubelets.remove(kubelet)
            self.api.nodes.unregister(name)
            for component in gone:
                component.detach()  # type: ignore[attr-defined]
                component.stop()  # type: ignore[attr-defined]
        try:
            self.client.delete(resources.get("", "v1", "nodes"), name)  # type: ignore[arg-type]
        except StatusError as err:
            if err.code != 404:   # never registered (or already deleted): nothing to remove
                raise
        self._settle()

    def _settle(self) -> None:
        self._wakeup.set()
        if self.virtual:
            self.run_until_stable()

    def advance(self, seconds: float) -> None:
        """Move a virtual clock forward, firing every timer due on the way, in order."""
        if not isinstance(self.clock, VirtualClock):
            raise RuntimeError("advance() needs clock='virtual'; a real clock moves by itself")
        target = self.clock.now() + seconds
        self.run_until_stable()
        while True:
            due = self.next_due()
            if due is None or due > target:
                break
            self.clock.set(due)
            self.run_until_stable()
        self.clock.set(target)
        self.run_until_stable()

    # --- kubectl -----------------------------------------------------------------------

    def kubectl(self, args: str | list[str], stdin: str | None = None) -> str:
        """Run a kubectl command against this cluster and return what it prints.
        Raises :class:`KubectlError` with kubectl's message and exit code when it fails."""
        code, out, err = self.run_kubectl(args, stdin)
        if code != 0:   # `auth can-i` says "no" on stdout with exit code 1: that is the message then
            raise KubectlError((err or out).rstrip("\n"), code)
        return out

    def run_kubectl(self, args: str | list[str], stdin: str | None = None) -> tuple[int, str, str]:
        """Run a kubectl command; returns (exit code, stdout, stderr). With a virtual clock the cluster
        reacts to everything due before and after it, so what is printed is the settled state."""
        from minik8s.kubectl.main import run

        if self.virtual:
            self.run_until_stable()
        result = run(args, client=self.client, stdin=stdin, clock=self.clock, settle=self._settler())
        if self.virtual:
            self.run_until_stable()
        return result

    def _settler(self) -> Callable[[], None]:
        """What a waiting kubectl command (``rollout status``, ``delete``) calls between looks. With a
        virtual clock it lets time move on to the next timer, at most a second at a time, as if the
        command were waiting for real; with the real clock the cluster runs by itself meanwhile."""

        def settle() -> None:
            if not self.virtual:
                time.sleep(0.1)
                return
            self.run_until_stable()
            due = self.next_due()
            self.advance(1.0 if due is None else min(1.0, max(due - self.clock.now(), 0.0)))

        return settle

    def apply(self, manifest: str | Path) -> str:
        """``kubectl apply -f`` a path or YAML text."""
        if isinstance(manifest, Path) or (isinstance(manifest, str) and "\n" not in manifest
                                          and _is_file(manifest)):
            return self.kubectl(["apply", "-f", str(manifest)])
        return self.kubectl(["apply", "-f", "-"], stdin=str(manifest))


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except OSError:  # e.g. a long one-line JSON manifest is not a valid file name
        return False

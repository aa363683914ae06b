"""What a pod learns of the cluster's network from its kubelet: resolv.conf and the Service links.

**resolv.conf** (upstream ``pkg/kubelet/network/dns``). By ``spec.dnsPolicy``:

==========================  ==============================================================================
``ClusterFirst`` (default)  ``search <ns>.svc.<domain> svc.<domain> <domain>`` (then the node's searches),
                            ``nameserver <cluster DNS>``, ``options ndots:5``; a ``hostNetwork`` pod gets
                            ``Default`` instead
``ClusterFirstWithHostNet``  the same, ``hostNetwork`` or not
``Default``                 the node's resolv.conf (its nameservers, searches and options)
``None``                    nothing but ``dnsConfig``
==========================  ==============================================================================

``dnsConfig`` is then merged in: its nameservers and searches appended (duplicates dropped), its
options replacing those of the same name. At most 3 nameservers and 32 search domains (2048
characters) are kept; what is cut is reported with upstream's ``DNSConfigForming`` event. Without a
cluster DNS address, ClusterFirst falls back to Default with a ``MissingClusterDNS`` event. The file
is written as containerd writes it: ``search``, then ``nameserver`` lines, then ``options``.

**Service links** (upstream ``pkg/kubelet/envvars``): for each Service of the pod's namespace with a
ClusterIP (and always the ``kubernetes`` Service of ``default``), ``<NAME>_SERVICE_HOST``,
``<NAME>_SERVICE_PORT`` (the first port), ``<NAME>_SERVICE_PORT_<PORTNAME>`` per named port, and the
Docker-link variables ``<NAME>_PORT=tcp://ip:port`` and ``<NAME>_PORT_<port>_<PROTO>`` with ``_PROTO``,
``_PORT`` and ``_ADDR``. ``enableServiceLinks: false`` keeps only the ``kubernetes`` Service's.

**Service names in /etc/hosts**: a C library asks port 53 only; where the DNS server may not bind it
(no root), the ``process`` runtime writes the names a pod's search path would find into its
``/etc/hosts`` instead (``web``, ``web.default``, ``web.default.svc``, ``web.default.svc.cluster.local``).

Interface:
    ClusterNetwork(services=lambda: [Service...], domain="cluster.local", hosts_fallback=False)
    network.resolv_conf(pod, host_resolv_conf) -> (text, [(reason, message)])   # warnings become events
    network.service_env(pod) -> {name: value};  network.hosts(pod) -> [(ip, [names])]
    network.lookup(name, namespace, qtype) -> (fqdn, [answers]) | None   # None until a cluster DNS is set
    resolv_conf(pod, cluster_dns, domain, host_text) -> (text, warnings)
    service_env(services, namespace, enable_service_links=True) -> {name: value}
    service_hosts(services, namespace, domain) -> [(ip, [names])]

Taught in chapter 13 (the pod network and Services: DNS and the Service environment variables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from minik8s.addresses import CLUSTER_DOMAIN, may_bind_port

MAX_NAMESERVERS = 3            # validation.MaxDNSNameservers (glibc reads three)
MAX_SEARCH_PATHS = 32          # validation.MaxDNSSearchPaths
MAX_SEARCH_CHARS = 2048        # validation.MaxDNSSearchListChars
DEFAULT_OPTIONS = ["ndots:5"]
DNS_PORT = 53                  # what a C library asks; nothing in resolv.conf can change it
DNS_SERVICE = ("kube-system", "kube-dns")
MASTER_SERVICE = ("default", "kubernetes")

Service = dict[str, Any]


# --- resolv.conf ---------------------------------------------------------------------------

def parse_resolv_conf(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, searches, options) of a resolv.conf; the last ``search`` and ``options`` lines win."""
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text[:65536].splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if not words:
            continue
        if words[0] == "nameserver" and len(words) > 1:
            servers.append(words[1])
        elif words[0] in ("search", "domain"):
            searches = [w.rstrip(".").lower() for w in words[1:] if w != "."]
        elif words[0] == "options":
            options = words[1:]
    return servers, searches, options


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _policy(spec: dict[str, Any]) -> str:
    """Which of the base configurations a pod gets: cluster, host or none (upstream getPodDNSType)."""
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "Default" or (policy == "ClusterFirst" and spec.get("hostNetwork")):
        return "host"
    return "cluster"


def _merge_options(existing: list[str], extra: list[dict[str, Any]]) -> list[str]:
    merged: dict[str, str | None] = {}
    for option in existing:
        name, sep, value = option.partition(":")
        merged[name] = value if sep else None
    for given in extra:
        if isinstance(given, dict) and given.get("name"):
            merged[str(given["name"])] = None if given.get("value") is None else str(given["value"])
    return [name if value is None else f"{name}:{value}" for name, value in merged.items()]


def _fit_searches(searches: list[str]) -> tuple[list[str], bool]:
    kept: list[str] = []
    for domain in searches[:MAX_SEARCH_PATHS]:
        if len(" ".join([*kept, domain])) > MAX_SEARCH_CHARS:
            break
        kept.append(domain)
    return kept, len(kept) < len(searches)


def resolv_conf(pod: dict[str, Any], cluster_dns: list[str], domain: str,
                host_text: str) -> tuple[str, list[tuple[str, str]]]:
    """The pod's /etc/resolv.conf, and warnings ``(reason, message)`` for its events (module docstring)."""
    spec = pod.get("spec") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    warnings: list[tuple[str, str]] = []
    servers, searches, options = parse_resolv_conf(host_text)
    kind = _policy(spec)
    if kind == "none":
        servers, searches, options = [], [], []
    elif kind == "cluster" and cluster_dns:
        servers = list(cluster_dns)
        searches = _unique([f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *searches])
        options = list(DEFAULT_OPTIONS)
    elif kind == "cluster":
        warnings.append(("MissingClusterDNS", 'kubelet does not have ClusterDNS IP configured and cannot create Pod '
                                              'using "ClusterFirst" policy. Falling back to "Default" policy.'))
    extra = spec.get("dnsConfig") or {}
    if isinstance(extra, dict) and extra:
        servers = _unique([*servers, *[str(s) for s in extra.get("nameservers") or []]])
        searches = _unique([*searches, *[str(s) for s in extra.get("searches") or []]])
        options = _merge_options(options, list(extra.get("options") or []))
    if len(servers) > MAX_NAMESERVERS:
        servers = servers[:MAX_NAMESERVERS]
        warnings.append(("DNSConfigForming", "Nameserver limits were exceeded, some nameservers have been omitted, "
                                             f"the applied nameserver line is: {' '.join(servers)}"))
    searches, cut = _fit_searches(searches)
    if cut:
        warnings.append(("DNSConfigForming", "Search Line limits were exceeded, some search paths have been "
                                             f"omitted, the applied search line is: {' '.join(searches)}"))
    lines = [f"search {' '.join(searches)}"] if searches else []
    lines += [f"nameserver {server}" for server in servers]
    lines += [f"options {' '.join(options)}"] if options else []
    return "".join(line + "\n" for line in lines), warnings


# --- Service links -------------------------------------------------------------------------

def _has_cluster_ip(service: Service) -> bool:
    return str((service.get("spec") or {}).get("clusterIP") or "") not in ("", "None")


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def _link_variables(service: Service) -> dict[str, str]:
    spec = service.get("spec") or {}
    prefix, ip = _env_name(service["metadata"]["name"]), str(spec["clusterIP"])
    env: dict[str, str] = {}
    for i, port in enumerate(p for p in spec.get("ports") or [] if isinstance(p, dict)):
        protocol = str(port.get("protocol") or "TCP")
        number = int(port.get("port") or 0)
        address = f"[{ip}]:{number}" if ":" in ip else f"{ip}:{number}"
        url = f"{protocol.lower()}://{address}"
        if i == 0:
            env[f"{prefix}_PORT"] = url   # Docker's links single out the first port
        name = f"{prefix}_PORT_{number}_{protocol.upper()}"
        env.update({name: url, f"{name}_PROTO": protocol.lower(), f"{name}_PORT": str(number), f"{name}_ADDR": ip})
    return env


def _variables(service: Service) -> dict[str, str]:
    spec = service.get("spec") or {}
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if not ports:
        return {}
    prefix = _env_name(service["metadata"]["name"])
    env = {f"{prefix}_SERVICE_HOST": str(spec["clusterIP"]), f"{prefix}_SERVICE_PORT": str(ports[0].get("port"))}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_env_name(str(port['name']))}"] = str(port.get("port"))
    env.update(_link_variables(service))
    return env


def service_env(services: Iterable[Service], namespace: str, enable_service_links: bool = True) -> dict[str, str]:
    """The Service variables of a pod of ``namespace`` (upstream ``getServiceEnvVarMap`` + ``FromServices``)."""
    chosen: dict[str, Service] = {}
    for service in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        if not _has_cluster_ip(service):
            continue
        meta = service["metadata"]
        name = str(meta["name"])
        if (meta.get("namespace"), name) == MASTER_SERVICE:
            chosen.setdefault(name, service)   # always, links or not; the pod's own namespace wins a clash
        elif meta.get("namespace") == namespace and enable_service_links:
            chosen[name] = service
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(_variables(chosen[name]))
    return env


# --- Service names for /etc/hosts ----------------------------------------------------------

def service_hosts(services: Iterable[Service], namespace: str, domain: str = CLUSTER_DOMAIN) -> list[tuple[str, list[str]]]:
    """(ClusterIP, the names a pod of ``namespace`` resolves to it through its search path)."""
    found: list[tuple[str, list[str]]] = []
    for service in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        if not _has_cluster_ip(service):
            continue
        name, ns = str(service["metadata"]["name"]), str(service["metadata"].get("namespace") or "default")
        names = [f"{name}.{ns}", f"{name}.{ns}.svc", f"{name}.{ns}.svc.{domain}"]
        found.append((str(service["spec"]["clusterIP"]), [name, *names] if ns == namespace else names))
    return found


# --- the kubelet's view, handed to its runtime -----------------------------------------------

@dataclass
class ClusterNetwork:
    """What a runtime asks the kubelet about the cluster's network (see the module docstring).

    ``services`` lists the cluster's Services (the kubelet's informer); the cluster DNS address is the
    ``kube-dns`` Service's ClusterIP, read from the same list (upstream: the kubelet's ``--cluster-dns``)."""

    services: Callable[[], list[Service]]
    domain: str = CLUSTER_DOMAIN
    hosts_fallback: bool = field(default_factory=lambda: not may_bind_port(DNS_PORT))
    # The cluster's DNS as a function, for runtimes without sockets (the simulated one's nslookup):
    # lookup(name, namespace, qtype) -> (fqdn, [answers]) | None. Set by whoever runs cluster DNS in-process.
    lookup: Callable[[str, str, str], "tuple[str, list[str]] | None"] | None = None

    def cluster_dns(self) -> list[str]:
        for service in self.services():
            meta = service.get("metadata") or {}
            if (meta.get("namespace"), meta.get("name")) == DNS_SERVICE and _has_cluster_ip(service):
                return [str(service["spec"]["clusterIP"])]
        return []

    def resolv_conf(self, pod: dict[str, Any], host_text: str) -> tuple[str, list[tuple[str, str]]]:
        return resolv_conf(pod, self.cluster_dns(), self.domain, host_text)

    def service_env(self, pod: dict[str, Any]) -> dict[str, str]:
        namespace = (pod.get("metadata") or {}).get("namespace") or "default"
        links = (pod.get("spec") or {}).get("enableServiceLinks")
        return service_env(self.services(), namespace, links is not False)

    def hosts(self, pod: dict[str, Any]) -> list[tuple[str, list[str]]]:
        """Service names for the pod's /etc/hosts: only where cluster DNS cannot serve port 53."""
        if not self.hosts_fallback or _policy(pod.get("spec") or {}) != "cluster":
            return []
        return service_hosts(self.services(), (pod.get("metadata") or {}).get("namespace") or "default", self.domain)

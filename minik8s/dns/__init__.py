"""Cluster DNS: CoreDNS's ``kubernetes`` plugin, as a component of the cluster.

==================  =====================================================================
:mod:`.records`     the zone's records, built from Services and EndpointSlices (pure)
:mod:`.resolver`    answers to queries, and ``lookup`` with a pod's search path (pure)
:mod:`.server`      UDP and TCP on the wire, in a thread with its own asyncio loop
:mod:`.clusterdns`  the controller: informers in, a fresh resolver out; the ``kube-dns`` Service
==================  =====================================================================

Interface:
    ClusterDNS(ctx, service_ip=..., serve=...).lookup(name, namespace, qtype="A") -> (fqdn, [answers]) | None
    Resolver(build(services, endpoint_slices)).answer(query) -> response

Taught in chapter 13 (the pod network and Services: cluster DNS).
"""

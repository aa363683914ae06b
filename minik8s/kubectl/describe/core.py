"""``kubectl describe`` for the other core/v1 kinds: Service, Namespace, ConfigMap, Secret,
PersistentVolume, PersistentVolumeClaim and (storage.k8s.io) StorageClass.

A Service shows its endpoints per port (the ready addresses of its EndpointSlices, found
by their ``kubernetes.io/service-name`` label, as kubectl does since 1.30);
a Namespace its ResourceQuotas and LimitRanges; a ConfigMap its data in full; a Secret
only the size of each value (never the value, except a service account's token);
a PersistentVolume its claim, node affinity and source; a claim the pods that use it
(ephemeral volumes included) and its resize conditions; a StorageClass whether it is the
default, its provisioner, parameters and binding mode.

Interface:
    describe_service(client, svc, now) -> str
    describe_endpoints(client, ep, now) -> str;  describe_endpoint_slice(client, es, now) -> str
    describe_namespace(client, ns, now) -> str
    describe_configmap(client, cm, now) -> str
    describe_secret(client, secret, now) -> str
    describe_pv(client, pv, now) -> str
    describe_pvc(client, pvc, now) -> str
    describe_storageclass(client, sc, now) -> str

Taught in chapter 3 (kubectl and describing objects) and chapter 6 (namespaces); the
chapters on services, configuration and storage use them.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from minik8s.api.duration import age
from minik8s.api.errors import StatusError
from minik8s.api.storage import is_default_class, pod_claim_names
from minik8s.apiserver.tables import access_modes, format_labels
from minik8s.kubectl.describe.pods import _volume_source
from minik8s.kubectl.describe.writer import (ENDPOINT_SLICES, LIMITRANGES, PODS, RESOURCEQUOTAS, Obj, _annotations,
                                             _bool, _go_list, _header, _labels, _meta, _spec, _status, _Writer,
                                             describe_events, rfc1123z, search_events)


def format_slice_endpoints(slices: list[Obj], port_name: str) -> str:
    """``10.244.1.2:80,10.244.1.3:80 + 1 more...``: the ready addresses of the slices' port of this
    name, at most three shown; ``<none>`` when the Service has no slices at all."""
    if not slices:
        return "<none>"
    shown: list[str] = []
    count = 0
    for es in slices:
        for port in es.get("ports") or []:
            if (port.get("name") or "") != port_name or port.get("port") is None:
                continue
            for endpoint in es.get("endpoints") or []:
                if (endpoint.get("conditions") or {}).get("ready") is False:
                    continue
                for address in endpoint.get("addresses") or []:
                    count += 1
                    if len(shown) < 3:
                        shown.append(f"[{address}]:{port['port']}" if ":" in address else f"{address}:{port['port']}")
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if count > 3 else text


def _ingress(ingress: list[Obj]) -> str:
    return ", ".join((i.get("ip") or i.get("hostname") or "") + (f" ({i['ipMode']})" if i.get("ipMode") else "")
                     for i in ingress)


def describe_service(client: Any, svc: Obj, now: datetime) -> str:
    w, spec, meta = _Writer(), _spec(svc), _meta(svc)
    _top(w, svc)
    w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
    w.write(0, f"Type:\t{spec.get('type', 'ClusterIP')}\n")
    if spec.get("ipFamilyPolicy"):
        w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    w.write(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP', '')}\n")
    w.write(0, f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}\n")
    if spec.get("externalIPs"):
        w.write(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("loadBalancerIP"):
        w.write(0, f"Desired LoadBalancer IP:\t{spec['loadBalancerIP']}\n")
    ingress = (_status(svc).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        w.write(0, f"LoadBalancer Ingress:\t{_ingress(ingress)}\n")
    if spec.get("type") == "ExternalName":
        w.write(0, f"External Name:\t{spec.get('externalName', '')}\n")
    try:
        slices = client.list(ENDPOINT_SLICES, meta.get("namespace"),
                             label_selector=f"kubernetes.io/service-name={meta.get('name')}")["items"]
    except StatusError:
        slices = []
    for port in spec.get("ports") or []:
        name, proto = port.get("name") or "<unset>", port.get("protocol", "TCP")
        w.write(0, f"Port:\t{name}\t{port.get('port')}/{proto}\n")
        w.write(0, f"TargetPort:\t{port.get('targetPort', port.get('port'))}/{proto}\n")
        if port.get("nodePort"):
            w.write(0, f"NodePort:\t{name}\t{port['nodePort']}/{proto}\n")
        w.write(0, f"Endpoints:\t{format_slice_endpoints(slices, port.get('name') or '')}\n")
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n")
    if spec.get("externalTrafficPolicy"):
        w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        w.write(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    if spec.get("healthCheckNodePort"):
        w.write(0, f"HealthCheck NodePort:\t{spec['healthCheckNodePort']}\n")
    if spec.get("loadBalancerSourceRanges"):
        w.write(0, f"LoadBalancer Source Ranges:\t{','.join(spec['loadBalancerSourceRanges'])}\n")
    describe_events(w, search_events(client, svc), now)
    return w.text()


def _addresses(values: list[str]) -> str:
    return ",".join(values) or "<none>"


def _top(w: _Writer, obj: Obj) -> None:
    """Name, Namespace, Labels and Annotations: how most describers start."""
    _header(w, obj)
    _labels(w, "Labels", _meta(obj).get("labels"))
    _annotations(w, "Annotations", _meta(obj).get("annotations"))


def _port_table(w: _Writer, level: int, rows: list[tuple[str, str, str]]) -> None:
    w.write(level, "Name\tPort\tProtocol\n")
    w.write(level, "----\t----\t--------\n")
    for name, number, protocol in rows:
        w.write(level, f"{name}\t{number}\t{protocol}\n")


def describe_endpoints(client: Any, ep: Obj, now: datetime) -> str:
    w = _Writer()
    _top(w, ep)
    w.write(0, "Subsets:\n")
    for subset in ep.get("subsets") or []:
        w.write(1, f"Addresses:\t{_addresses([a.get('ip', '') for a in subset.get('addresses') or []])}\n")
        w.write(1, f"NotReadyAddresses:\t"
                   f"{_addresses([a.get('ip', '') for a in subset.get('notReadyAddresses') or []])}\n")
        if subset.get("ports"):
            w.write(1, "Ports:\n")
            _port_table(w, 2, [(p.get("name") or "<unset>", str(p.get("port", 0)), p.get("protocol", ""))
                               for p in subset["ports"]])
        w.write(0, "\n")
    describe_events(w, search_events(client, ep), now)
    return w.text()


def describe_endpoint_slice(client: Any, es: Obj, now: datetime) -> str:
    w = _Writer()
    _top(w, es)
    w.write(0, f"AddressType:\t{es.get('addressType', '')}\n")
    if not es.get("ports"):
        w.write(0, "Ports: <unset>\n")
    else:
        w.write(0, "Ports:\n")
        _port_table(w, 1, [(p.get("name") or "<unset>", "<unset>" if p.get("port") is None else str(p["port"]),
                            p.get("protocol", "")) for p in es["ports"]])
    if not es.get("endpoints"):
        w.write(0, "Endpoints: <none>\n")
    else:
        w.write(0, "Endpoints:\n")
        for endpoint in es["endpoints"]:
            ready = (endpoint.get("conditions") or {}).get("ready")
            w.write(1, f"- Addresses:\t{_addresses(endpoint.get('addresses') or [])}\n")
            w.write(2, "Conditions:\n")
            w.write(3, f"Ready:\t{'<unset>' if ready is None else str(ready).lower()}\n")
            w.write(2, f"Hostname:\t{endpoint.get('hostname', '<unset>')}\n")
            ref = endpoint.get("targetRef")
            if ref:
                w.write(2, f"TargetRef:\t{ref.get('kind', '')}/{ref.get('name', '')}\n")
            w.write(2, f"NodeName:\t{endpoint.get('nodeName', '<unset>')}\n")
            w.write(2, f"Zone:\t{endpoint.get('zone', '<unset>')}\n")
    describe_events(w, search_events(client, es), now)
    return w.text()


def describe_namespace(client: Any, ns: Obj, now: datetime) -> str:
    w, name = _Writer(), _meta(ns).get("name")
    _header(w, ns, namespace=False)
    _labels(w, "Labels", _meta(ns).get("labels"))
    _annotations(w, "Annotations", _meta(ns).get("annotations"))
    w.write(0, f"Status:\t{_status(ns).get('phase', '')}\n")
    quotas = sorted(client.list(RESOURCEQUOTAS, name).get("items") or [], key=lambda q: _meta(q).get("name", ""))
    w.write(0, "\n")
    if not quotas:
        w.write(0, "No resource quota.\n")
    else:
        w.write(0, "Resource Quotas\n")
        for quota in quotas:
            w.write(1, f"Name:\t{_meta(quota).get('name')}\n")
            w.write(1, "Resource\tUsed\tHard\n")
            w.write(1, "--------\t---\t---\n")
            hard, used = _status(quota).get("hard") or {}, _status(quota).get("used") or {}
            for resource_name in sorted(hard):
                w.write(1, f"{resource_name}\t{used.get(resource_name, '0')}\t{hard[resource_name]}\n")
    limits = client.list(LIMITRANGES, name).get("items") or []
    w.write(0, "\n")
    if not limits:
        w.write(0, "No LimitRange resource.\n")
    else:
        w.write(0, "Resource Limits\n Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\t"
                   "Max Limit/Request Ratio\n")
        w.write(0, " ----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
        for limit_range in limits:
            for item in _spec(limit_range).get("limits") or []:
                keys = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")
                names = sorted({n for k in keys for n in (item.get(k) or {})})
                for res_name in names:
                    values = "\t".join(str((item.get(k) or {}).get(res_name, "-")) for k in keys)
                    w.write(0, f" {item.get('type')}\t{res_name}\t{values}\n")
    return w.text()


def describe_configmap(client: Any, cm: Obj, now: datetime) -> str:
    w = _Writer()
    _header(w, cm)
    _labels(w, "Labels", _meta(cm).get("labels"))
    _annotations(w, "Annotations", _meta(cm).get("annotations"))
    w.write(0, "\nData\n====\n")
    for key, value in sorted((cm.get("data") or {}).items()):
        w.write(0, f"{key}:\n----\n{value}\n\n")
    w.write(0, "\nBinaryData\n====\n")
    for key, value in sorted((cm.get("binaryData") or {}).items()):
        w.write(0, f"{key}: {len(base64.b64decode(value))} bytes\n")
    w.write(0, "\n")
    describe_events(w, search_events(client, cm), now)
    return w.text()


def describe_secret(client: Any, secret: Obj, now: datetime) -> str:
    del client, now  # upstream shows no events for secrets
    w = _Writer()
    _header(w, secret)
    _labels(w, "Labels", _meta(secret).get("labels"))
    _annotations(w, "Annotations", _meta(secret).get("annotations"))
    w.write(0, f"\nType:\t{secret.get('type', 'Opaque')}\n")
    w.write(0, "\nData\n====\n")
    for key, value in sorted((secret.get("data") or {}).items()):
        raw = base64.b64decode(value)
        if key == "token" and secret.get("type") == "kubernetes.io/service-account-token":
            w.write(0, f"{key}:\t{raw.decode(errors='replace')}\n")
        else:
            w.write(0, f"{key}:\t{len(raw)} bytes\n")
    return w.text()


def describe_pv(client: Any, pv: Obj, now: datetime) -> str:
    w, spec, status, meta = _Writer(), _spec(pv), _status(pv), _meta(pv)
    _header(w, pv, namespace=False)
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Finalizers:\t{_go_list(meta.get('finalizers'))}\n")
    w.write(0, f"StorageClass:\t{spec.get('storageClassName', '')}\n")
    phase = "Terminating (lasts " + age(meta["deletionTimestamp"], now) + ")" if meta.get("deletionTimestamp") \
        else status.get("phase", "")
    w.write(0, f"Status:\t{phase}\n")
    claim = spec.get("claimRef")
    w.write(0, f"Claim:\t{claim.get('namespace', '')}/{claim.get('name', '')}\n" if claim else "Claim:\t\n")
    w.write(0, f"Reclaim Policy:\t{spec.get('persistentVolumeReclaimPolicy', '')}\n")
    w.write(0, f"Access Modes:\t{access_modes(spec.get('accessModes'))}\n")
    w.write(0, f"VolumeMode:\t{spec.get('volumeMode', 'Filesystem')}\n")
    w.write(0, f"Capacity:\t{(spec.get('capacity') or {}).get('storage', '')}\n")
    _node_affinity(w, spec.get("nodeAffinity"))
    w.write(0, f"Message:\t{status.get('message', '')}\n")
    w.write(0, "Source:\n")
    w.write(2, _volume_source(spec))
    describe_events(w, search_events(client, pv), now)
    return w.text()


def describe_pvc(client: Any, pvc: Obj, now: datetime) -> str:
    w, spec, status, meta = _Writer(), _spec(pvc), _status(pvc), _meta(pvc)
    _header(w, pvc)
    w.write(0, f"StorageClass:\t{spec.get('storageClassName', '')}\n")
    phase = "Terminating (lasts " + age(meta["deletionTimestamp"], now) + ")" if meta.get("deletionTimestamp") \
        else status.get("phase", "")
    w.write(0, f"Status:\t{phase}\n")
    w.write(0, f"Volume:\t{spec.get('volumeName', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, f"Finalizers:\t{_go_list(meta.get('finalizers'))}\n")
    bound = bool(spec.get("volumeName"))
    w.write(0, f"Capacity:\t{(status.get('capacity') or {}).get('storage', '') if bound else ''}\n")
    w.write(0, f"Access Modes:\t{access_modes(status.get('accessModes')) if bound else ''}\n")
    if spec.get("volumeMode"):
        w.write(0, f"VolumeMode:\t{spec['volumeMode']}\n")
    pods = client.list(PODS, meta.get("namespace")).get("items") or []
    # A pod's ephemeral volume counts too: its claim is named <pod>-<volume>.
    users = sorted(_meta(p).get("name", "") for p in pods
                   if any(name == meta.get("name") for name, _ in pod_claim_names(p)))
    w.write(0, "Used By:\t")
    w.write(0, "<none>\n" if not users else "".join(("\t" if i else "") + f"{u}\n" for i, u in enumerate(users)))
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n")
        w.write(1, "Type\tStatus\tLastProbeTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{c.get('type', '')} \t{c.get('status', '')} \t{_go_time(c.get('lastProbeTime'))} \t"
                       f"{_go_time(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
    describe_events(w, search_events(client, pvc), now)
    return w.text()


def _go_time(timestamp: str | None) -> str:
    """A ``metav1.Time`` in RFC1123Z; an unset one prints as Go's zero time, as upstream's describe does."""
    return rfc1123z(timestamp) if timestamp else "Mon, 01 Jan 0001 00:00:00 +0000"


def _node_affinity(w: _Writer, affinity: Obj | None) -> None:
    """A volume's ``spec.nodeAffinity``: each required term's expressions, one per line."""
    w.write(0, "Node Affinity:\t")
    required = (affinity or {}).get("required")
    if required is None:
        w.write(0, "<none>\n")
        return
    w.write(0, "\n")
    terms = required.get("nodeSelectorTerms") or []
    w.write(1, "Required Terms:\t" + ("<none>\n" if not terms else "\n"))
    for i, term in enumerate(terms):
        _terms(w, 2, f"Term {i}", [(e.get("key", ""), str(e.get("operator", "")).lower(), e.get("values") or [])
                                   for e in term.get("matchExpressions") or []])


def _terms(w: _Writer, level: int, title: str, requirements: list[tuple[str, str, list[str]]]) -> None:
    w.write(level, f"{title}:\t")
    if not requirements:
        w.write(0, "<none>\n")
    for i, (key, operator, values) in enumerate(requirements):
        if i:
            w.write(level, "\t")
        w.write(0, f"{key} {operator}" + (f" [{', '.join(values)}]" if values else "") + "\n")


def describe_storageclass(client: Any, sc: Obj, now: datetime) -> str:
    w, meta = _Writer(), _meta(sc)
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"IsDefaultClass:\t{'Yes' if is_default_class(sc) else 'No'}\n")
    w.write(0, f"Annotations:\t{format_labels(meta.get('annotations'))}\n")
    w.write(0, f"Provisioner:\t{sc.get('provisioner', '')}\n")
    w.write(0, f"Parameters:\t{format_labels(sc.get('parameters'))}\n")
    expansion = sc.get("allowVolumeExpansion")
    w.write(0, f"AllowVolumeExpansion:\t{'<unset>' if expansion is None else _bool(expansion)}\n")
    options = sc.get("mountOptions") or []
    w.write(0, "MountOptions:\t<none>\n" if not options else "MountOptions:\n")
    for option in options:
        w.write(1, f"{option}\n")
    if sc.get("reclaimPolicy"):
        w.write(0, f"ReclaimPolicy:\t{sc['reclaimPolicy']}\n")
    if sc.get("volumeBindingMode"):
        w.write(0, f"VolumeBindingMode:\t{sc['volumeBindingMode']}\n")
    if sc.get("allowedTopologies") is not None:
        topologies = sc["allowedTopologies"]
        w.write(0, "AllowedTopologies:\t" + ("<none>\n" if not topologies else "\n"))
        for i, term in enumerate(topologies):
            _terms(w, 1, f"Term {i}", [(e.get("key", ""), "in", e.get("values") or [])
                                       for e in term.get("matchLabelExpressions") or []])
    describe_events(w, search_events(client, sc), now)
    return w.text()

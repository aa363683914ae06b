"""``kubectl describe pod``, and the parts of a pod that other describers reuse.

A pod is described field by field (node, status, IPs, controller), then container
by container: image, ports, state and last state, restart count, resources, probes,
environment and mounts; then its conditions, volumes, QoS class, node selectors,
tolerations and events. Workloads print the same container and volume sections for
their pod template (``Pod Template:``), indented one level.

Interface:
    describe_pod(client, pod, now) -> str
    describe_pod_template(template) -> str   # the "Pod Template:" section alone
    describe_probe(probe) -> str             # "http-get http://:8080/healthz delay=0s ..."
    qos_class(pod) -> str                    # Guaranteed, Burstable or BestEffort
    _pod_template(w, template), _volume_source(volume)   # for the other describers

Taught in chapter 4 (Pods).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api import quantity
from minik8s.api.duration import age
from minik8s.kubectl.describe.writer import (Obj, _annotations, _bool, _controller, _go_bool, _go_list, _header,
                                             _int_or_string, _labels, _meta, _spec, _status, _Writer,
                                             describe_events, rfc1123z, search_events)


def describe_probe(probe: Obj) -> str:
    attrs = (f"delay={probe.get('initialDelaySeconds', 0)}s timeout={probe.get('timeoutSeconds', 1)}s "
             f"period={probe.get('periodSeconds', 10)}s #success={probe.get('successThreshold', 1)} "
             f"#failure={probe.get('failureThreshold', 3)}")
    if "exec" in probe:
        return f"exec {_go_list((probe['exec'] or {}).get('command'))} {attrs}"
    if "httpGet" in probe:
        get = probe["httpGet"]
        host, port = get.get("host", ""), _int_or_string(get.get("port"))
        where = (f"[{host}]:{port}" if ":" in host else f"{host}:{port}") if port else host
        return f"http-get {get.get('scheme', 'HTTP').lower()}://{where}{get.get('path', '')} {attrs}"
    if "tcpSocket" in probe:
        sock = probe["tcpSocket"]
        return f"tcp-socket {sock.get('host', '')}:{_int_or_string(sock.get('port'))} {attrs}"
    if "grpc" in probe:
        return f"grpc <pod>:{probe['grpc'].get('port')} {probe['grpc'].get('service', '')} {attrs}"
    return f"unknown {attrs}"


def _ports(ports: list[Obj], key: str) -> str:
    # kubectl v1.32's describeContainerPorts: "80/TCP", without the port's name.
    return ", ".join(f"{port.get(key, 0)}/{port.get('protocol', 'TCP')}" for port in ports)


def _state(w: _Writer, title: str, state: Obj) -> None:
    if state.get("running") is not None:
        w.write(2, f"{title}:\tRunning\n")
        w.write(3, f"Started:\t{rfc1123z(state['running'].get('startedAt'))}\n")
    elif state.get("waiting") is not None:
        w.write(2, f"{title}:\tWaiting\n")
        if state["waiting"].get("reason"):
            w.write(3, f"Reason:\t{state['waiting']['reason']}\n")
    elif state.get("terminated") is not None:
        term = state["terminated"]
        w.write(2, f"{title}:\tTerminated\n")
        if term.get("reason"):
            w.write(3, f"Reason:\t{term['reason']}\n")
        if term.get("message"):
            w.write(3, f"Message:\t{term['message']}\n")
        w.write(3, f"Exit Code:\t{term.get('exitCode', 0)}\n")
        if term.get("signal"):
            w.write(3, f"Signal:\t{term['signal']}\n")
        w.write(3, f"Started:\t{rfc1123z(term.get('startedAt'))}\n")
        w.write(3, f"Finished:\t{rfc1123z(term.get('finishedAt'))}\n")
    else:
        w.write(2, f"{title}:\tWaiting\n")


def _resources(w: _Writer, resources: Obj, level: int) -> None:
    for title, key in (("Limits", "limits"), ("Requests", "requests")):
        values = resources.get(key) or {}
        if values:
            w.write(level, f"{title}:\n")
        for name in sorted(values):
            w.write(level + 1, f"{name}:\t{values[name]}\n")


def _env(w: _Writer, container: Obj) -> None:
    if container.get("envFrom"):
        w.write(2, "Environment Variables from:\n")
        for source in container["envFrom"]:
            kind, ref = ("ConfigMap", source["configMapRef"]) if source.get("configMapRef") else \
                ("Secret", source.get("secretRef") or {})
            prefix = f" with prefix '{source['prefix']}'" if source.get("prefix") else ""
            w.write(3, f"{ref.get('name', '')}\t{kind}{prefix}\tOptional: {_go_bool(ref.get('optional'))}\n")
    env = container.get("env") or []
    w.write(2, "Environment:" + ("" if env else "\t<none>") + "\n")
    for var in env:
        source = var.get("valueFrom")
        if source is None:
            for i, line in enumerate(str(var.get("value", "")).split("\n")):
                w.write(3, (f"{var['name']}:\t" if i == 0 else "\t") + f"{line}\n")
        elif source.get("fieldRef"):
            ref = source["fieldRef"]
            w.write(3, f"{var['name']}:\t ({ref.get('apiVersion', 'v1')}:{ref.get('fieldPath', '')})\n")
        elif source.get("resourceFieldRef"):
            w.write(3, f"{var['name']}:\t ({source['resourceFieldRef'].get('resource', '')})\n")
        elif source.get("secretKeyRef"):
            ref = source["secretKeyRef"]
            w.write(3, f"{var['name']}:\t<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>\t"
                       f"Optional: {_go_bool(ref.get('optional'))}\n")
        elif source.get("configMapKeyRef"):
            ref = source["configMapKeyRef"]
            w.write(3, f"{var['name']}:\t<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>\t"
                       f"Optional: {_go_bool(ref.get('optional'))}\n")


def _mounts(w: _Writer, container: Obj) -> None:
    mounts = sorted(container.get("volumeMounts") or [], key=lambda m: m.get("mountPath", ""))
    w.write(2, "Mounts:" + ("" if mounts else "\t<none>") + "\n")
    for mount in mounts:
        flags = ["ro" if mount.get("readOnly") else "rw"]
        if mount.get("subPath"):
            flags.append(f'path="{mount["subPath"]}"')
        w.write(3, f"{mount.get('mountPath')} from {mount.get('name')} ({','.join(flags)})\n")


def _containers(w: _Writer, label: str, containers: list[Obj], statuses: list[Obj] | None, space: str) -> None:
    by_name = {s.get("name"): s for s in statuses or []}
    w.write(0, f"{space}{label}:" + ("" if containers else " <none>") + "\n")
    for container in containers:
        status = by_name.get(container.get("name"))
        w.write(1, f"{' ' if space else ''}{container.get('name')}:\n")
        if status is not None:
            w.write(2, f"Container ID:\t{status.get('containerID', '')}\n")
        w.write(2, f"Image:\t{container.get('image', '')}\n")
        if status is not None:
            w.write(2, f"Image ID:\t{status.get('imageID', '')}\n")
        ports = container.get("ports") or []
        ports_text, host_text = _ports(ports, "containerPort"), _ports(ports, "hostPort")
        w.write(2, (f"Ports:\t{ports_text}" if "," in ports_text else f"Port:\t{ports_text or '<none>'}") + "\n")
        w.write(2, (f"Host Ports:\t{host_text}" if "," in host_text else f"Host Port:\t{host_text or '<none>'}")
                + "\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if container.get(key):
                w.write(2, f"{title}:\n")
                for item in container[key]:
                    for line in str(item).split("\n"):
                        w.write(3, f"{line}\n")
        if status is not None:
            _state(w, "State", status.get("state") or {})
            if (status.get("lastState") or {}).get("terminated"):
                _state(w, "Last State", status["lastState"])
            w.write(2, f"Ready:\t{_bool(status.get('ready'))}\n")
            w.write(2, f"Restart Count:\t{status.get('restartCount', 0)}\n")
        _resources(w, container.get("resources") or {}, 2)
        for title, key in (("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"),
                           ("Startup", "startupProbe")):
            if container.get(key):
                w.write(2, f"{title}:\t{describe_probe(container[key])}\n")
        _env(w, container)
        _mounts(w, container)


def _go_pointer(value: Any) -> str:
    """Go's ``%v`` of a ``*bool``: ``<nil>`` when unset (set, Go prints an address; minik8s its value)."""
    return "<nil>" if value is None else _go_bool(value)


def _ephemeral_source(source: Obj) -> str:
    """An inline claim template, described as the claim it will become (not yet bound)."""
    text = ("Type:\tEphemeralVolume (an inline specification for a volume that gets created and deleted "
            "with the pod)\n")
    template = source.get("volumeClaimTemplate")
    if template is None:
        return text
    meta, spec = template.get("metadata") or {}, template.get("spec") or {}
    text += f"    StorageClass:\t{spec.get('storageClassName') or ''}\n    Volume:\t{spec.get('volumeName') or ''}\n"
    # Upstream writes these through a nested writer that indents every write, values included.
    for title, values, sep in (("Labels", meta.get("labels"), "="), ("Annotations", meta.get("annotations"), ": ")):
        entries = [f"{k}{sep}{v}" for k, v in sorted((values or {}).items())] or ["<none>"]
        text += f"    {title}:\t" + "".join(("    \t" if i else "") + f"    {e}\n" for i, e in enumerate(entries))
    text += "    Capacity:\t\n    Access Modes:\t\n"
    if spec.get("volumeMode"):
        text += f"    VolumeMode:\t{spec['volumeMode']}\n"
    return text


def _volume_source(volume: Obj) -> str:
    if "hostPath" in volume:
        src = volume["hostPath"]
        return (f"Type:\tHostPath (bare host directory volume)\n    Path:\t{src.get('path', '')}\n"
                f"    HostPathType:\t{src.get('type', '')}\n")
    if "ephemeral" in volume:
        return _ephemeral_source(volume["ephemeral"] or {})
    if "local" in volume:
        src = volume["local"] or {}
        return f"Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n    Path:\t{src.get('path', '')}\n"
    if "emptyDir" in volume:
        src = volume["emptyDir"] or {}
        return (f"Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n"
                f"    Medium:\t{src.get('medium', '')}\n    SizeLimit:\t{src.get('sizeLimit') or '<unset>'}\n")
    if "secret" in volume:
        src = volume["secret"]
        return (f"Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{src.get('secretName', '')}\n"
                f"    Optional:\t{_go_bool(src.get('optional'))}\n")
    if "configMap" in volume:
        src = volume["configMap"]
        return (f"Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{src.get('name', '')}\n"
                f"    Optional:\t{_go_bool(src.get('optional'))}\n")
    if "persistentVolumeClaim" in volume:
        src = volume["persistentVolumeClaim"]
        return ("Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n"
                f"    ClaimName:\t{src.get('claimName', '')}\n    ReadOnly:\t{_go_bool(src.get('readOnly'))}\n")
    if "projected" in volume:
        text = "Type:\tProjected (a volume that contains injected data from multiple sources)\n"
        for source in (volume["projected"] or {}).get("sources") or []:
            # Upstream prints the sources' ``optional`` pointers as they are: ``<nil>`` when unset.
            if "secret" in source:
                text += (f"    SecretName:\t{source['secret'].get('name', '')}\n"
                         f"    SecretOptionalName:\t{_go_pointer(source['secret'].get('optional'))}\n")
            elif "downwardAPI" in source:
                text += "    DownwardAPI:\ttrue\n"
            elif "configMap" in source:
                text += (f"    ConfigMapName:\t{source['configMap'].get('name', '')}\n"
                         f"    ConfigMapOptional:\t{_go_pointer(source['configMap'].get('optional'))}\n")
            elif "serviceAccountToken" in source:
                text += f"    TokenExpirationSeconds:\t{source['serviceAccountToken'].get('expirationSeconds', 3600)}\n"
        return text
    if "downwardAPI" in volume:
        text = "Type:\tDownwardAPI (a volume populated by information about the pod)\n    Items:\n"
        for item in (volume["downwardAPI"] or {}).get("items") or []:
            source = (item.get("fieldRef") or {}).get("fieldPath") or (item.get("resourceFieldRef") or {}).get(
                "resource", "")
            text += f"      {source} -> {item.get('path', '')}\n"
        return text
    return "<unknown>\n"


def _volumes(w: _Writer, volumes: list[Obj] | None, space: str) -> None:
    if not volumes:
        w.write(0, f"{space}Volumes:\t<none>\n")
        return
    w.write(0, f"{space}Volumes:\n")
    for volume in volumes:
        w.write(1, f"{' ' if space else ''}{volume.get('name')}:\n")
        w.write(2, _volume_source(volume))


def _tolerations(w: _Writer, title: str, tolerations: list[Obj] | None, initial: str = "") -> None:
    w.write(0, f"{initial}{title}:\t")
    if not tolerations:
        w.write(0, "<none>\n")
        return
    for i, tol in enumerate(sorted(tolerations, key=lambda t: t.get("key", ""))):
        text = (f"{initial}\t" if i else "") + tol.get("key", "")
        text += f"={tol['value']}" if tol.get("value") else ""
        text += f":{tol['effect']}" if tol.get("effect") else ""
        if tol.get("operator") == "Exists" and not tol.get("value"):
            text += " op=Exists" if tol.get("key") or tol.get("effect") else "op=Exists"
        if tol.get("tolerationSeconds") is not None:
            text += f" for {tol['tolerationSeconds']}s"
        w.write(0, text + "\n")


def _pod_template(w: _Writer, template: Obj) -> None:
    w.write(0, "Pod Template:\n")
    spec, meta = template.get("spec") or {}, template.get("metadata") or {}
    _labels(w, "  Labels", meta.get("labels"))
    if meta.get("annotations"):
        _annotations(w, "  Annotations", meta["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        _containers(w, "Init Containers", spec["initContainers"], None, "  ")
    _containers(w, "Containers", spec.get("containers") or [], None, "  ")
    _volumes(w, spec.get("volumes"), "  ")
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    _labels(w, "  Node-Selectors", spec.get("nodeSelector"))
    _tolerations(w, "  Tolerations", spec.get("tolerations"))


def describe_pod_template(template: Obj, aligned: bool = True) -> str:
    """The "Pod Template:" section alone, as ``kubectl rollout history --revision`` prints it
    (upstream's printTemplate reuses the describer's pod template section, unaligned)."""
    w = _Writer()
    _pod_template(w, template)
    return w.text(aligned)


def qos_class(pod: Obj) -> str:
    """Guaranteed when every container's requests equal its cpu and memory limits, BestEffort when nothing is set."""
    containers = (_spec(pod).get("containers") or []) + (_spec(pod).get("initContainers") or [])
    any_set, guaranteed = False, True
    for container in containers:
        res = container.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        requests = {**limits, **requests}  # requests default to limits
        if any(quantity.parse(v) != 0 for v in {**limits, **requests}.values()):
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or quantity.parse(limits[name]) != quantity.parse(requests.get(name, 0)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def describe_pod(client: Any, pod: Obj, now: datetime) -> str:
    w, spec, status, meta = _Writer(), _spec(pod), _status(pod), _meta(pod)
    _header(w, pod)
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("priorityClassName"):
        w.write(0, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    if spec.get("runtimeClassName"):
        w.write(0, f"Runtime Class Name:\t{spec['runtimeClassName']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node}/{status.get('hostIP', '')}\n" if node else "Node:\t<none>\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    if meta.get("deletionTimestamp") and status.get("phase") not in ("Failed", "Succeeded"):
        w.write(0, f"Status:\tTerminating (lasts {age(meta['deletionTimestamp'], now)})\n")
        w.write(0, f"Termination Grace Period:\t{meta.get('deletionGracePeriodSeconds', 0)}s\n")
    else:
        w.write(0, f"Status:\t{status.get('phase', '')}\n")
    if status.get("reason"):
        w.write(0, f"Reason:\t{status['reason']}\n")
    if status.get("message"):
        w.write(0, f"Message:\t{status['message']}\n")
    w.write(0, f"IP:\t{status.get('podIP', '')}\n")
    ips = status.get("podIPs") or []
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(1, f"IP:\t{ip.get('ip', '')}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    if _controller(pod):
        w.write(0, f"Controlled By:\t{_controller(pod)}\n")
    if status.get("nominatedNodeName"):
        w.write(0, f"NominatedNodeName:\t{status['nominatedNodeName']}\n")
    if spec.get("initContainers"):
        _containers(w, "Init Containers", spec["initContainers"], status.get("initContainerStatuses"), "")
    _containers(w, "Containers", spec.get("containers") or [], status.get("containerStatuses"), "")
    if spec.get("readinessGates"):
        w.write(0, "Readiness Gates:\n  Type\tStatus\n")
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        for gate in spec["readinessGates"]:
            w.write(1, f"{gate.get('conditionType')} \t{conds.get(gate.get('conditionType'), '<none>')} \n")
    if status.get("conditions"):
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for cond in status["conditions"]:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')} \n")
    _volumes(w, spec.get("volumes"), "")
    w.write(0, f"QoS Class:\t{qos_class(pod)}\n")
    _labels(w, "Node-Selectors", spec.get("nodeSelector"))
    _tolerations(w, "Tolerations", spec.get("tolerations"))
    describe_events(w, search_events(client, pod), now)
    return w.text()

"""``kubectl describe``: one object, its related objects and its events, for humans.

Where ``get`` prints one line per object, ``describe`` prints one object in
depth: a pod's containers with their state, last state and restart count; a
deployment's replica counts, strategy and ReplicaSets; a node's conditions,
capacity and the pods it runs. At the bottom come the Events about the object,
which is where most debugging starts ("why is my pod Pending?").

The text is laid out like upstream's describers (k8s.io/kubectl pkg/describe):
``Field:\\tvalue`` lines written through Go's tabwriter (minimum width 0,
padding 2), indented two spaces per level, so consecutive ``Field:`` lines line
up. The events table is flushed separately, as upstream does.

Interface:
    describe(client, resource, obj, *, now) -> str

``client`` is any object with ``list(resource, namespace, *, label_selector=None,
field_selector=None)`` and ``get(resource, name, namespace)`` (a
:class:`minik8s.client.base.Client`). Time comes from ``now``.

Taught in chapter 3 (kubectl and describing objects) and used in every later one.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any, Callable

from minik8s.api import quantity
from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource, by_kind
from minik8s.apiserver.tables import (access_modes, format_endpoints, format_labels, format_selector,
                                      node_roles, selector_string)
from minik8s.api.duration import age, human_duration, parse_time
from minik8s.kubectl.printing import tabwrite

Obj = dict[str, Any]


def _res(api_version: str, kind: str) -> Resource:
    found = by_kind(api_version, kind)
    assert found is not None, kind
    return found


EVENTS = _res("v1", "Event")
PODS = _res("v1", "Pod")
REPLICASETS = _res("apps/v1", "ReplicaSet")
LEASES = _res("coordination.k8s.io/v1", "Lease")
RESOURCEQUOTAS = _res("v1", "ResourceQuota")
LIMITRANGES = _res("v1", "LimitRange")
ENDPOINTS = _res("v1", "Endpoints")

# describe's tabwriter: minwidth 0, padding 2.
_MINWIDTH, _PADDING = 0, 2
_MAX_ANNOTATION = 140


class _Writer:
    """upstream's PrefixWriter: ``write(level, text)`` indents two spaces per level."""

    def __init__(self) -> None:
        self._blocks: list[list[str]] = [[]]
        self._partial = ""

    def write(self, level: int, text: str) -> None:
        self._partial += "  " * level + text
        *done, self._partial = self._partial.split("\n")
        self._blocks[-1].extend(done)

    def flush(self) -> None:
        """Align what was written so far on its own, as tabwriter.Flush does."""
        self._blocks.append([])

    def text(self) -> str:
        if self._partial:
            self.write(0, "\n")
        return "".join(tabwrite(block, _MINWIDTH, _PADDING) for block in self._blocks if block)


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def _status(obj: Obj) -> Obj:
    return obj.get("status") or {}


def rfc1123z(timestamp: str | None) -> str:
    """Go's ``time.RFC1123Z``: ``Mon, 02 Jan 2006 15:04:05 -0700``."""
    if not timestamp:
        return "<unset>"
    return parse_time(timestamp).strftime("%a, %d %b %Y %H:%M:%S %z")


def _bool(value: Any) -> str:
    return "True" if value else "False"


def _go_bool(value: Any) -> str:
    return "true" if value else "false"


def _go_list(values: list[Any] | None) -> str:
    return "[" + " ".join(str(v) for v in values or []) + "]"


def _int_or_string(value: Any) -> str:
    return "" if value is None else str(value)


def _labels(w: _Writer, title: str, labels: dict[str, str] | None, initial: str = "") -> None:
    w.write(0, f"{initial}{title}:\t")
    if not labels:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(sorted(labels)):
        w.write(0, (f"{initial}\t" if i else "") + f"{key}={labels[key]}\n")


def _annotations(w: _Writer, title: str, annotations: dict[str, str] | None) -> None:
    w.write(0, f"{title}:\t")
    # upstream hides the bulky last-applied-configuration annotation.
    keys = sorted(k for k in annotations or {} if k != "kubectl.kubernetes.io/last-applied-configuration")
    if not keys:
        w.write(0, "<none>\n")
        return
    for i, key in enumerate(keys):
        w.write(0, "\t" if i else "")
        value = (annotations or {})[key].removesuffix("\n")
        if len(value) + len(key) + 2 > _MAX_ANNOTATION or "\n" in value:
            w.write(0, f"{key}:\n")
            for line in value.split("\n"):
                short = line if len(line) <= _MAX_ANNOTATION - 2 else line[:_MAX_ANNOTATION - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def _controller(obj: Obj) -> str:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""


def _controller_uid(obj: Obj) -> str | None:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

def _event_selector(obj: Obj, uid: str | None = None) -> str:
    meta = _meta(obj)
    return (f"involvedObject.name={meta.get('name', '')},involvedObject.namespace={meta.get('namespace', '')},"
            f"involvedObject.uid={uid if uid is not None else meta.get('uid', '')}")


def search_events(client: Any, obj: Obj, uid: str | None = None) -> list[Obj]:
    """Events whose involvedObject is ``obj``, found with a field selector as upstream's searchEvents."""
    namespace = _meta(obj).get("namespace") or None
    listed = client.list(EVENTS, namespace, field_selector=_event_selector(obj, uid))
    return list(listed.get("items") or [])


def describe_events(w: _Writer, events: list[Obj], now: datetime) -> None:
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for ev in sorted(events, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or ""):
        first = age(ev.get("eventTime"), now) if ev.get("eventTime") else age(ev.get("firstTimestamp"), now)
        if ev.get("series"):
            interval = (f"{age(ev['series'].get('lastObservedTime'), now)} "
                        f"(x{ev['series'].get('count', 0)} over {first})")
        elif (ev.get("count") or 0) > 1:
            interval = f"{age(ev.get('lastTimestamp'), now)} (x{ev['count']} over {first})"
        else:
            interval = first
        source = (ev.get("source") or {}).get("component") or ev.get("reportingController") or ""
        message = (ev.get("message") or "").strip()
        field_path = (ev.get("involvedObject") or {}).get("fieldPath")
        if field_path:
            message = f"{field_path}: {message}"
        w.write(1, f"{ev.get('type', '')}\t{ev.get('reason', '')}\t{interval}\t{source}\t{message}\n")


# ---------------------------------------------------------------------------
# Containers, volumes, pod templates
# ---------------------------------------------------------------------------

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
    texts = []
    for port in ports:
        text = f"{port.get(key, 0)}/{port.get('protocol', 'TCP')}"
        texts.append(f"{text} ({port['name']})" if port.get("name") else text)
    return ", ".join(texts)


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


def _volume_source(volume: Obj) -> str:
    if "hostPath" in volume:
        src = volume["hostPath"]
        return (f"Type:\tHostPath (bare host directory volume)\n    Path:\t{src.get('path', '')}\n"
                f"    HostPathType:\t{src.get('type', '')}\n")
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
            if "secret" in source:
                text += (f"    SecretName:\t{source['secret'].get('name', '')}\n"
                         f"    Optional:\t{_go_bool(source['secret'].get('optional'))}\n")
            elif "downwardAPI" in source:
                text += "    DownwardAPI:\ttrue\n"
            elif "configMap" in source:
                text += (f"    ConfigMapName:\t{source['configMap'].get('name', '')}\n"
                         f"    Optional:\t{_go_bool(source['configMap'].get('optional'))}\n")
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


# ---------------------------------------------------------------------------
# Describers, one per kind
# ---------------------------------------------------------------------------

def _header(w: _Writer, obj: Obj, *, namespace: bool = True) -> None:
    w.write(0, f"Name:\t{_meta(obj).get('name', '')}\n")
    if namespace:
        w.write(0, f"Namespace:\t{_meta(obj).get('namespace', '')}\n")


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


def _owned_pods(client: Any, obj: Obj) -> list[Obj]:
    selector = selector_string(_spec(obj).get("selector"))
    pods = client.list(PODS, _meta(obj).get("namespace"), label_selector=selector or None).get("items") or []
    return [p for p in pods if _controller_uid(p) == _meta(obj).get("uid")]


def _pods_status(client: Any, obj: Obj) -> str:
    phases = [_status(p).get("phase") for p in _owned_pods(client, obj)]
    return (f"{phases.count('Running')} Running / {phases.count('Pending')} Waiting / "
            f"{phases.count('Succeeded')} Succeeded / {phases.count('Failed')} Failed")


def _conditions_type_status_reason(w: _Writer, obj: Obj) -> None:
    conds = _status(obj).get("conditions") or []
    if conds:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
        w.write(1, "----\t------\t------\n")
        for cond in conds:
            w.write(1, f"{cond.get('type')} \t{cond.get('status')}\t{cond.get('reason', '')}\n")


def _template_without_hash(template: Obj) -> Obj:
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    meta["labels"] = labels
    return {**template, "metadata": meta}


def _replicasets_text(replicasets: list[Obj]) -> str:
    texts = [f"{_meta(rs).get('name')} ({_status(rs).get('replicas', 0)}/{_spec(rs).get('replicas', 0)} "
             "replicas created)" for rs in replicasets]
    return ", ".join(texts) or "<none>"


def describe_deployment(client: Any, d: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(d), _status(d)
    _header(w, d)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(_meta(d).get('creationTimestamp'))}\n")
    _labels(w, "Labels", _meta(d).get("labels"))
    _annotations(w, "Annotations", _meta(d).get("annotations"))
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{spec.get('replicas', 0)} desired | {status.get('updatedReplicas', 0)} updated | "
               f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
               f"{status.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    if strategy.get("rollingUpdate") is not None:
        ru = strategy["rollingUpdate"]
        w.write(0, f"RollingUpdateStrategy:\t{_int_or_string(ru.get('maxUnavailable'))} max unavailable, "
                   f"{_int_or_string(ru.get('maxSurge'))} max surge\n")
    _pod_template(w, spec.get("template") or {})
    _conditions_type_status_reason(w, d)
    selector = selector_string(spec.get("selector"))
    listed = client.list(REPLICASETS, _meta(d).get("namespace"), label_selector=selector or None).get("items") or []
    owned = sorted((rs for rs in listed if _controller_uid(rs) == _meta(d).get("uid")),
                   key=lambda rs: _meta(rs).get("creationTimestamp", ""))
    wanted = _template_without_hash(spec.get("template") or {})
    new = [rs for rs in owned if _template_without_hash(_spec(rs).get("template") or {}) == wanted][:1]
    old = [rs for rs in owned if rs not in new]
    if old or new:
        w.write(0, f"OldReplicaSets:\t{_replicasets_text(old)}\n")
        w.write(0, f"NewReplicaSet:\t{_replicasets_text(new)}\n")
    describe_events(w, search_events(client, d), now)
    return w.text()


def describe_replicaset(client: Any, rs: Obj, now: datetime) -> str:
    w, spec = _Writer(), _spec(rs)
    _header(w, rs)
    w.write(0, f"Selector:\t{format_selector(spec.get('selector'))}\n")
    _labels(w, "Labels", _meta(rs).get("labels"))
    _annotations(w, "Annotations", _meta(rs).get("annotations"))
    if _controller(rs):
        w.write(0, f"Controlled By:\t{_controller(rs)}\n")
    w.write(0, f"Replicas:\t{_status(rs).get('replicas', 0)} current / {spec.get('replicas', 0)} desired\n")
    w.write(0, f"Pods Status:\t{_pods_status(client, rs)}\n")
    _pod_template(w, spec.get("template") or {})
    _conditions_type_status_reason(w, rs)
    describe_events(w, search_events(client, rs), now)
    return w.text()


def describe_statefulset(client: Any, sts: Obj, now: datetime) -> str:
    w, spec = _Writer(), _spec(sts)
    _header(w, sts)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(_meta(sts).get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    _labels(w, "Labels", _meta(sts).get("labels"))
    _annotations(w, "Annotations", _meta(sts).get("annotations"))
    w.write(0, f"Replicas:\t{spec.get('replicas', 0)} desired | {_status(sts).get('replicas', 0)} total\n")
    strategy = spec.get("updateStrategy") or {}
    w.write(0, f"Update Strategy:\t{strategy.get('type', '')}\n")
    rolling = strategy.get("rollingUpdate") or {}
    if rolling.get("partition") is not None:
        w.write(1, f"Partition:\t{rolling['partition']}\n")
    w.write(0, f"Pods Status:\t{_pods_status(client, sts)}\n")
    _pod_template(w, spec.get("template") or {})
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        w.write(0, "Volume Claims:\t<none>\n")
    else:
        w.write(0, "Volume Claims:\n")
        for pvc in claims:
            w.write(1, f"Name:\t{_meta(pvc).get('name', '')}\n")
            w.write(1, f"StorageClass:\t{_spec(pvc).get('storageClassName', '')}\n")
            _labels(w, "Labels", _meta(pvc).get("labels"), "  ")
            _labels(w, "Annotations", _meta(pvc).get("annotations"), "  ")
            storage = ((_spec(pvc).get("resources") or {}).get("requests") or {}).get("storage")
            w.write(1, f"Capacity:\t{storage or '<default>'}\n")
            w.write(1, f"Access Modes:\t{_go_list(_spec(pvc).get('accessModes'))}\n")
    describe_events(w, search_events(client, sts), now)
    return w.text()


def describe_daemonset(client: Any, ds: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(ds), _status(ds)
    _header(w, ds)
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    node_selector = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    w.write(0, f"Node-Selector:\t{format_labels(node_selector)}\n")
    _labels(w, "Labels", _meta(ds).get("labels"))
    _annotations(w, "Annotations", _meta(ds).get("annotations"))
    w.write(0, f"Desired Number of Nodes Scheduled: {status.get('desiredNumberScheduled', 0)}\n")
    w.write(0, f"Current Number of Nodes Scheduled: {status.get('currentNumberScheduled', 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Up-to-date Pods: {status.get('updatedNumberScheduled', 0)}\n")
    w.write(0, f"Number of Nodes Scheduled with Available Pods: {status.get('numberAvailable', 0)}\n")
    w.write(0, f"Number of Nodes Misscheduled: {status.get('numberMisscheduled', 0)}\n")
    w.write(0, f"Pods Status:\t{_pods_status(client, ds)}\n")
    _pod_template(w, spec.get("template") or {})
    describe_events(w, search_events(client, ds), now)
    return w.text()


def describe_job(client: Any, job: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(job), _status(job)
    _header(w, job)
    w.write(0, f"Selector:\t{selector_string(spec.get('selector'))}\n")
    _labels(w, "Labels", _meta(job).get("labels"))
    _annotations(w, "Annotations", _meta(job).get("annotations"))
    if _controller(job):
        w.write(0, f"Controlled By:\t{_controller(job)}\n")
    if spec.get("parallelism") is not None:
        w.write(0, f"Parallelism:\t{spec['parallelism']}\n")
    w.write(0, f"Completions:\t{spec.get('completions', '<unset>')}\n")
    if spec.get("completionMode"):
        w.write(0, f"Completion Mode:\t{spec['completionMode']}\n")
    if spec.get("suspend") is not None:
        w.write(0, f"Suspend:\t{_go_bool(spec['suspend'])}\n")
    if spec.get("backoffLimit") is not None:
        w.write(0, f"Backoff Limit:\t{spec['backoffLimit']}\n")
    if spec.get("ttlSecondsAfterFinished") is not None:
        w.write(0, f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    if status.get("completionTime"):
        w.write(0, f"Completed At:\t{rfc1123z(status['completionTime'])}\n")
    if status.get("startTime") and status.get("completionTime"):
        seconds = (parse_time(status["completionTime"]) - parse_time(status["startTime"])).total_seconds()
        w.write(0, f"Duration:\t{human_duration(seconds)}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    counts = f"{status.get('active', 0)} Active"
    if status.get("ready") is not None:
        counts += f" ({status['ready']} Ready)"
    w.write(0, f"Pods Statuses:\t{counts} / {status.get('succeeded', 0)} Succeeded / "
               f"{status.get('failed', 0)} Failed\n")
    _pod_template(w, spec.get("template") or {})
    describe_events(w, search_events(client, job), now)
    return w.text()


def describe_cronjob(client: Any, cj: Obj, now: datetime) -> str:
    w, spec, status = _Writer(), _spec(cj), _status(cj)
    _header(w, cj)
    _labels(w, "Labels", _meta(cj).get("labels"))
    _annotations(w, "Annotations", _meta(cj).get("annotations"))
    w.write(0, f"Schedule:\t{spec.get('schedule', '')}\n")
    w.write(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}\n")
    w.write(0, f"Suspend:\t{'<unset>' if spec.get('suspend') is None else _bool(spec['suspend'])}\n")
    w.write(0, f"Time Zone:\t{spec.get('timeZone') or '<unset>'}\n")
    for title, key in (("Successful Job History Limit", "successfulJobsHistoryLimit"),
                       ("Failed Job History Limit", "failedJobsHistoryLimit")):
        w.write(0, f"{title}:\t{spec.get(key, '<unset>')}\n")
    deadline = spec.get("startingDeadlineSeconds")
    w.write(0, f"Starting Deadline Seconds:\t{'<unset>' if deadline is None else f'{deadline}s'}\n")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    w.write(0, f"Selector:\t{selector_string(job_spec['selector']) if job_spec.get('selector') else '<unset>'}\n")
    w.write(0, f"Parallelism:\t{job_spec.get('parallelism', '<unset>')}\n")
    w.write(0, f"Completions:\t{job_spec.get('completions', '<unset>')}\n")
    if job_spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{job_spec['activeDeadlineSeconds']}s\n")
    _pod_template(w, job_spec.get("template") or {})
    w.write(0, f"Last Schedule Time:\t{rfc1123z(status.get('lastScheduleTime'))}\n")
    active = [ref.get("name", "") for ref in status.get("active") or []]
    w.write(0, f"Active Jobs:\t{', '.join(active) or '<none>'}\n")
    describe_events(w, search_events(client, cj), now)
    return w.text()


def _service_endpoints(endpoints: Obj | None, port_name: str) -> str:
    if endpoints is None:
        return "<none>"
    text = format_endpoints(endpoints, {port_name})
    return "" if text == "<none>" else text


def describe_service(client: Any, svc: Obj, now: datetime) -> str:
    w, spec = _Writer(), _spec(svc)
    _header(w, svc)
    _labels(w, "Labels", _meta(svc).get("labels"))
    _annotations(w, "Annotations", _meta(svc).get("annotations"))
    w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
    w.write(0, f"Type:\t{spec.get('type', 'ClusterIP')}\n")
    if spec.get("ipFamilyPolicy"):
        w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    w.write(0, f"IP Families:\t{','.join(spec.get('ipFamilies') or []) or '<none>'}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP', '')}\n")
    w.write(0, f"IPs:\t{','.join(spec.get('clusterIPs') or []) or '<none>'}\n")
    if spec.get("externalIPs"):
        w.write(0, f"External IPs:\t{','.join(spec['externalIPs'])}\n")
    if spec.get("externalName"):
        w.write(0, f"External Name:\t{spec['externalName']}\n")
    try:
        endpoints: Obj | None = client.get(ENDPOINTS, _meta(svc).get("name"), _meta(svc).get("namespace"))
    except StatusError:
        endpoints = None
    for port in spec.get("ports") or []:
        name, proto = port.get("name") or "<unset>", port.get("protocol", "TCP")
        w.write(0, f"Port:\t{name}\t{port.get('port')}/{proto}\n")
        w.write(0, f"TargetPort:\t{port.get('targetPort', port.get('port'))}/{proto}\n")
        if port.get("nodePort"):
            w.write(0, f"NodePort:\t{name}\t{port['nodePort']}/{proto}\n")
        w.write(0, f"Endpoints:\t{_service_endpoints(endpoints, port.get('name', ''))}\n")
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n")
    if spec.get("externalTrafficPolicy"):
        w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("internalTrafficPolicy"):
        w.write(0, f"Internal Traffic Policy:\t{spec['internalTrafficPolicy']}\n")
    describe_events(w, search_events(client, svc), now)
    return w.text()


def _pod_totals(pod: Obj, key: str) -> dict[str, int]:
    """Effective pod requests or limits in milli-units: sum of containers, at least each init container."""
    totals: dict[str, int] = {}
    for container in _spec(pod).get("containers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            totals[name] = totals.get(name, 0) + quantity.milli(value)
    for container in _spec(pod).get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get(key) or {}).items():
            totals[name] = max(totals.get(name, 0), quantity.milli(value))
    return totals


def _amount(name: str, milli: int) -> str:
    if name == "cpu":
        return quantity.format_milli(milli)
    return quantity.format_bytes(milli // 1000)


def _percent(part: int, whole: int) -> int:
    return int(part / whole * 100) if whole else 0


def _node_resources(w: _Writer, node: Obj, pods: list[Obj], now: datetime) -> None:
    status = _status(node)
    allocatable = status.get("allocatable") or status.get("capacity") or {}
    alloc = {name: quantity.milli(allocatable[name]) for name in ("cpu", "memory", "ephemeral-storage")
             if name in allocatable}
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    totals: dict[str, dict[str, int]] = {"requests": {}, "limits": {}}
    for pod in pods:
        cells = []
        for key in ("requests", "limits"):
            values = _pod_totals(pod, key)
            for name, milli in values.items():
                totals[key][name] = totals[key].get(name, 0) + milli
        req, lim = _pod_totals(pod, "requests"), _pod_totals(pod, "limits")
        for name in ("cpu", "memory"):
            for values in (req, lim):
                cells.append(f"{_amount(name, values.get(name, 0))} "
                             f"({_percent(values.get(name, 0), alloc.get(name, 0))}%)")
        w.write(1, f"{_meta(pod).get('namespace', '')}\t{_meta(pod).get('name', '')}\t\t" + "\t".join(cells)
                + f"\t{age(_meta(pod).get('creationTimestamp'), now)}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for name in ("cpu", "memory", "ephemeral-storage"):
        req, lim = totals["requests"].get(name, 0), totals["limits"].get(name, 0)
        w.write(1, f"{name}\t{_amount(name, req)} ({_percent(req, alloc.get(name, 0))}%)\t"
                   f"{_amount(name, lim)} ({_percent(lim, alloc.get(name, 0))}%)\n")


def describe_node(client: Any, node: Obj, now: datetime) -> str:
    w, spec, status, meta = _Writer(), _spec(node), _status(node), _meta(node)
    _header(w, node, namespace=False)
    w.write(0, f"Roles:\t{','.join(node_roles(node)) or '<none>'}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{rfc1123z(meta.get('creationTimestamp'))}\n")
    taints = sorted(spec.get("taints") or [], key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    w.write(0, "Taints:\t")
    if not taints:
        w.write(0, "<none>\n")
    for i, taint in enumerate(taints):
        value = f"={taint['value']}" if taint.get("value") else ""
        w.write(0, ("\t" if i else "") + f"{taint.get('key')}{value}:{taint.get('effect')}\n")
    w.write(0, f"Unschedulable:\t{_go_bool(spec.get('unschedulable'))}\n")
    try:
        lease = client.get(LEASES, meta.get("name"), "kube-node-lease")
        lease_spec = _spec(lease)
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lease_spec.get('holderIdentity') or '<unset>'}\n")
        w.write(1, f"AcquireTime:\t{rfc1123z(lease_spec.get('acquireTime'))}\n")
        w.write(1, f"RenewTime:\t{rfc1123z(lease_spec.get('renewTime'))}\n")
    except StatusError as err:
        w.write(0, f"Lease:\tFailed to get lease: {err}\n")
    conds = status.get("conditions") or []
    if conds:
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
        w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conds:
            w.write(1, f"{c.get('type')} \t{c.get('status')} \t{rfc1123z(c.get('lastHeartbeatTime'))} \t"
                       f"{rfc1123z(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
    w.write(0, "Addresses:\n")
    for address in status.get("addresses") or []:
        w.write(1, f"{address.get('type')}:\t{address.get('address')}\n")
    for title, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        if status.get(key):
            w.write(0, f"{title}:\n")
            for name in sorted(status[key]):
                w.write(0, f"  {name}:\t{status[key][name]}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"),
                       ("Kubelet Version", "kubeletVersion")):
        w.write(0, f"  {title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    # Ask only for the node's pods; terminal phases are dropped here rather than with
    # "!=" field selectors, which keeps the request simple for any server.
    pods = client.list(PODS, None, field_selector=f"spec.nodeName={meta.get('name')}").get("items") or []
    pods = [p for p in pods if _status(p).get("phase") not in ("Succeeded", "Failed")]
    _node_resources(w, node, pods, now)
    # Upstream looks for node events under both the node's UID and its name (kubelets use the name).
    events = search_events(client, node) + search_events(client, node, uid=meta.get("name", ""))
    describe_events(w, events, now)
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
    w.write(0, "Node Affinity:\t<none>\n" if not spec.get("nodeAffinity") else "Node Affinity:\t\n")
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
    users = sorted(_meta(p).get("name", "") for p in pods
                   if any((v.get("persistentVolumeClaim") or {}).get("claimName") == meta.get("name")
                          for v in _spec(p).get("volumes") or []))
    w.write(0, "Used By:\t")
    w.write(0, "<none>\n" if not users else "".join(("\t" if i else "") + f"{u}\n" for i, u in enumerate(users)))
    describe_events(w, search_events(client, pvc), now)
    return w.text()


def _smart_label(field: str) -> str:
    """``creationTimestamp`` -> ``Creation Timestamp``, ``uid`` -> ``UID`` (upstream's smartLabelFor, simplified)."""
    if not field.replace("-", "").isalpha():
        return field
    words, current = [], ""
    for char in field:
        if char.isupper() and current and not current[-1].isupper():
            words.append(current)
            current = ""
        current += char
    words.append(current)
    acronyms = {"API", "URL", "UID", "GUID", "IP"}
    return " ".join(w.upper() if w.upper() in acronyms else (w[0].upper() + w[1:]) for w in words if w)


def _unstructured(w: _Writer, level: int, content: Obj, prefix: str, skip: set[str]) -> None:
    for key in sorted(content):
        path, value = f"{prefix}.{key}", content[key]
        if path in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{_smart_label(key)}:\n")
            _unstructured(w, level + 1, value, path, skip)
        elif isinstance(value, list):
            w.write(level, f"{_smart_label(key)}:\n")
            for item in value:
                if isinstance(item, dict):
                    _unstructured(w, level + 1, item, path, skip)
                else:
                    w.write(level + 1, f"{item}\n")
        else:
            text = _go_bool(value) if isinstance(value, bool) else value
            w.write(level, f"{_smart_label(key)}:\t{text}\n")


def describe_generic(client: Any, obj: Obj, now: datetime) -> str:
    """Any other kind: name, labels, then every field, as upstream's generic describer prints it."""
    w, meta = _Writer(), _meta(obj)
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    skip = {".metadata.name", ".metadata.namespace", ".metadata.labels", ".metadata.annotations",
            ".metadata.managedFields"}
    _unstructured(w, 0, obj, "", skip)
    describe_events(w, search_events(client, obj), now)
    return w.text()


DESCRIBERS: dict[str, Callable[[Any, Obj, datetime], str]] = {
    "Pod": describe_pod, "Deployment": describe_deployment, "ReplicaSet": describe_replicaset,
    "StatefulSet": describe_statefulset, "DaemonSet": describe_daemonset, "Job": describe_job,
    "CronJob": describe_cronjob, "Service": describe_service, "Node": describe_node,
    "Namespace": describe_namespace, "ConfigMap": describe_configmap, "Secret": describe_secret,
    "PersistentVolume": describe_pv, "PersistentVolumeClaim": describe_pvc,
}


def describe(client: Any, resource: Resource, obj: Obj, *, now: datetime) -> str:
    """What ``kubectl describe <resource> <name>`` prints for ``obj``."""
    return DESCRIBERS.get(resource.kind, describe_generic)(client, obj, now)

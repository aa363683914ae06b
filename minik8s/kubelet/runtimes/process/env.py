"""A container's environment, as the kubelet builds it (upstream ``makeEnvironmentVariables``).

Sources, later ones winning: the image's ``Env``; the Service links the kubelet passes
(``WEB_SERVICE_HOST``..., :mod:`minik8s.kubelet.dns`); ``envFrom`` (every key of a
ConfigMap or Secret, with an optional ``prefix``); ``env`` entries in order, each a
literal ``value`` (where ``$(NAME)`` expands to an earlier variable and ``$$(NAME)``
stays literal) or a ``valueFrom``:

* ``configMapKeyRef`` / ``secretKeyRef`` (``optional: true`` skips what is missing);
* ``fieldRef``: ``metadata.name``, ``metadata.namespace``, ``metadata.uid``,
  ``metadata.labels['k']``, ``metadata.annotations['k']``, ``spec.nodeName``,
  ``spec.serviceAccountName``, ``status.podIP``, ``status.podIPs``, ``status.hostIP``;
* ``resourceFieldRef``: ``limits.cpu``/``requests.cpu`` (cores, rounded up, times
  ``divisor``) and ``limits.memory``/``requests.memory`` (bytes / divisor).

A missing ConfigMap, Secret or key fails container creation with upstream's
``CreateContainerConfigError`` wording (``configmap "x" not found``,
``couldn't find key k in ConfigMap default/x``).

Interface:
    env = container_env(pod, container, image_env, lookup, pod_ip=..., host_ip=..., services={...})
    lookup(kind, namespace, name) -> dict | None        # kind: "configmaps" | "secrets"

Taught in chapter 12 (ConfigMaps and Secrets) and chapter 4 (the Downward API).
"""

from __future__ import annotations

import base64
import math
import os
import re
from typing import Any, Callable

from minik8s.api import quantity
from minik8s.kubelet.cri import RuntimeCallError

Lookup = Callable[[str, str, str], "dict[str, Any] | None"]
_REFERENCE = re.compile(r"\$\$|\$\((\w+)\)")
_VALID_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


class ContainerConfigError(RuntimeCallError):
    """The container cannot be created from its spec (upstream's ``CreateContainerConfigError``)."""
    reason = "CreateContainerConfigError"


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: unknown references stay as written, ``$$`` is a literal ``$``."""
    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env[name] if name in env else match.group(0)

    return _REFERENCE.sub(one, text)


def _object_data(kind: str, obj: dict[str, Any]) -> dict[str, str]:
    data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    if kind == "secrets":
        data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
        data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
    else:
        data.update({str(k): base64.b64decode(str(v)).decode(errors="replace")
                     for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _key_ref(kind: str, ref: dict[str, Any], namespace: str, lookup: Lookup) -> str | None:
    label = "ConfigMap" if kind == "configmaps" else "Secret"
    name, key = str(ref.get("name", "")), str(ref.get("key", ""))
    obj = lookup(kind, namespace, name)
    if obj is None:
        if ref.get("optional"):
            return None
        raise ContainerConfigError(f'{label.lower()} "{name}" not found')
    data = _object_data(kind, obj)
    if key not in data:
        if ref.get("optional"):
            return None
        raise ContainerConfigError(f"couldn't find key {key} in {label} {namespace}/{name}")
    return data[key]


def field_value(pod: dict[str, Any], path: str, pod_ip: str, host_ip: str) -> str:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    simple = {"metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
              "metadata.uid": meta.get("uid", ""), "spec.nodeName": spec.get("nodeName", ""),
              "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
              "status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIP": host_ip,
              "status.hostIPs": host_ip}
    if path in simple:
        return str(simple[path])
    match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    if path in ("metadata.labels", "metadata.annotations"):
        items = sorted((meta.get(path.split(".")[1]) or {}).items())
        return "\n".join(f'{k}="{v}"' for k, v in items)
    raise ContainerConfigError(f'unsupported fieldRef fieldPath: "{path}"')


def resource_value(container: dict[str, Any], ref: dict[str, Any]) -> str:
    """``resourceFieldRef``: a limit (or, without one, what the node has), scaled by ``divisor``."""
    name = str(ref.get("resource", ""))
    kind, _, resource = name.partition(".")
    resources = container.get("resources") or {}
    text = (resources.get(kind) or {}).get(resource) or (resources.get("limits") or {}).get(resource)
    divisor = quantity.parse(ref.get("divisor") or "1")
    if resource == "cpu":
        amount = quantity.parse(text) if text else quantity.parse(os.cpu_count() or 1)
        return str(math.ceil(amount / divisor))
    if resource in ("memory", "ephemeral-storage"):
        amount = quantity.parse(text) if text else quantity.parse(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        return str(math.ceil(amount / divisor))
    raise ContainerConfigError(f"unsupported resourceFieldRef resource: {name}")


def container_env(pod: dict[str, Any], container: dict[str, Any], image_env: list[str], lookup: Lookup, *,
                  pod_ip: str, host_ip: str, services: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the container's process starts with (without the runtime's own variables).
    ``services``: the Service links, which ``$(VAR)`` may refer to and explicit variables override."""
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    env: dict[str, str] = {}
    for item in image_env:
        key, _, value = str(item).partition("=")
        env[key] = value
    env.update(services or {})
    for source in container.get("envFrom") or []:
        kind, ref = ("configmaps", source.get("configMapRef")) if source.get("configMapRef") else \
            ("secrets", source.get("secretRef"))
        if not isinstance(ref, dict):
            continue
        obj = lookup(kind, namespace, str(ref.get("name", "")))
        if obj is None:
            if ref.get("optional"):
                continue
            raise ContainerConfigError(f'{"configmap" if kind == "configmaps" else "secret"} '
                                       f'"{ref.get("name", "")}" not found')
        prefix = str(source.get("prefix") or "")
        for key, value in _object_data(kind, obj).items():
            if _VALID_NAME.fullmatch(prefix + key):  # upstream skips invalid names (with an event)
                env[prefix + key] = value
    for var in container.get("env") or []:
        if not isinstance(var, dict) or not var.get("name"):
            continue
        name, source = str(var["name"]), var.get("valueFrom")
        if not isinstance(source, dict):
            env[name] = expand(str(var.get("value", "")), env)
            continue
        value: str | None
        if isinstance(source.get("configMapKeyRef"), dict):
            value = _key_ref("configmaps", source["configMapKeyRef"], namespace, lookup)
        elif isinstance(source.get("secretKeyRef"), dict):
            value = _key_ref("secrets", source["secretKeyRef"], namespace, lookup)
        elif isinstance(source.get("fieldRef"), dict):
            value = field_value(pod, str(source["fieldRef"].get("fieldPath", "")), pod_ip, host_ip)
        elif isinstance(source.get("resourceFieldRef"), dict):
            value = resource_value(container, source["resourceFieldRef"])
        else:
            value = None
        if value is not None:
            env[name] = value
    return env

"""The DefaultIngressClass admission plugin: an Ingress created without a class gets the default one.

An IngressClass annotated ``ingressclass.kubernetes.io/is-default-class: "true"`` is the cluster's
default. On every Ingress create that names no class (neither ``spec.ingressClassName`` nor the
deprecated ``kubernetes.io/ingress.class`` annotation), the plugin writes the default class's name
into ``spec.ingressClassName``; with several defaults the newest wins (upstream since 1.28); with
none the Ingress stays without a class. Updates are left alone.

Interface:
    DefaultIngressClass(api)     # an admission plugin (see admission.chain)

Taught in the chapter on Ingress and NetworkPolicy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.api import resources as api_resources
from minik8s.apiserver.admission.chain import CREATE, Attributes

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

INGRESS_CLASSES = api_resources.get("networking.k8s.io", "v1", "ingressclasses")
DEFAULT_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_ANNOTATION = "kubernetes.io/ingress.class"


class DefaultIngressClass:
    def __init__(self, api: APIServer):
        self.api = api

    def mutate(self, attrs: Attributes) -> None:
        if (attrs.operation != CREATE or attrs.subresource or attrs.obj is None
                or attrs.resource.qualified != "ingresses.networking.k8s.io"):
            return
        spec: dict[str, Any] = attrs.obj.setdefault("spec", {})
        annotations = (attrs.obj.get("metadata") or {}).get("annotations") or {}
        if not isinstance(spec, dict) or spec.get("ingressClassName") or LEGACY_ANNOTATION in annotations:
            return
        classes, _ = self.api.store.list(INGRESS_CLASSES.storage_name)
        defaults = [c for c in classes
                    if ((c.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_ANNOTATION) == "true"]
        if defaults:
            newest = max(defaults, key=lambda c: (str(c["metadata"].get("creationTimestamp") or ""),
                                                  c["metadata"]["name"]))
            spec["ingressClassName"] = newest["metadata"]["name"]

"""A small kopf operator for the compatibility suite (run by ``tests/test_compat_kopf.py`` with ``kopf run``).

It handles two kinds, so that what works on built-in kinds shows apart from what needs
CustomResourceDefinitions:

* ConfigMaps labelled ``compat-kopf=yes``: on create it patches ``data.seen`` and posts an Event; on a
  change of ``data.color`` it copies the colour into an annotation; on delete (which makes kopf put its
  finalizer on every such ConfigMap) it posts an Event before the finalizer goes; a timer counts
  ``data.ticks`` up every half second.
* Pods labelled ``app=web``: a raw watch-event handler posts an Event about each.
* Widgets (``widgets.compat.minik8s.io``): on create it returns the size, which kopf stores in the
  status (``status.create_widget``); on delete it posts an Event.
"""

from __future__ import annotations

import logging

import kopf

GROUP = "compat.minik8s.io"
LABELS = {"compat-kopf": "yes"}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: object) -> None:
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 30          # re-list often enough for a short test run
    settings.peering.priority = 10


@kopf.on.create("configmaps", labels=LABELS)
def create_configmap(body: kopf.Body, patch: kopf.Patch, **_: object) -> None:
    patch.setdefault("data", {})["seen"] = "yes"
    kopf.info(body, reason="Seen", message="the compat operator saw this ConfigMap")


@kopf.on.update("configmaps", labels=LABELS, field="data.color")
def recolour_configmap(new: object, patch: kopf.Patch, **_: object) -> None:
    patch.setdefault("metadata", {}).setdefault("annotations", {})["compat.minik8s.io/color"] = str(new)


@kopf.on.delete("configmaps", labels=LABELS)
def delete_configmap(body: kopf.Body, **_: object) -> None:
    kopf.info(body, reason="Farewell", message="the compat operator let this ConfigMap go")


@kopf.timer("configmaps", labels=LABELS, interval=0.5)
def tick_configmap(body: kopf.Body, patch: kopf.Patch, **_: object) -> None:
    ticks = int((body.get("data") or {}).get("ticks", "0"))
    patch.setdefault("data", {})["ticks"] = str(ticks + 1)


@kopf.on.event("pods", labels={"app": "web"})
def watch_pod(body: kopf.Body, type: str | None, **_: object) -> None:
    if type in (None, "ADDED"):        # None: the object as first listed
        kopf.info(body, reason="Watched", message="the compat operator watches this pod")


@kopf.on.create(GROUP, "v1", "widgets")
def create_widget(spec: kopf.Spec, body: kopf.Body, **_: object) -> dict[str, object]:
    kopf.info(body, reason="Built", message=f"a widget of size {spec.get('size')}")
    return {"size": spec.get("size")}


@kopf.on.delete(GROUP, "v1", "widgets")
def delete_widget(body: kopf.Body, **_: object) -> None:
    kopf.info(body, reason="Scrapped", message="the compat operator let this widget go")

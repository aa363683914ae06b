"""``kubectl describe serviceaccount``: the identity, the Secrets it names, and its legacy token Secrets.

Upstream's describer prints three lists after the name, labels and annotations, in the
alphabetical order of their headers: ``Image pull secrets`` (``imagePullSecrets``),
``Mountable secrets`` (``secrets``) and ``Tokens`` (the ``kubernetes.io/service-account-token``
Secrets annotated with this ServiceAccount's name *and uid*); a listed Secret that does not
exist is marked ``(not found)``. Since Kubernetes 1.24 a new ServiceAccount has none of them:
Pods get short-lived tokens through TokenRequest instead.

Interface: ``describe_serviceaccount(client, sa, now) -> str``.
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api import resources
from minik8s.kubectl.describe.writer import (Obj, _annotations, _header, _labels, _meta, _Writer, describe_events,
                                             search_events)

SECRETS = resources.get("", "v1", "secrets")
TOKEN_TYPE = "kubernetes.io/service-account-token"
_HEADERS = ("Image pull secrets:", "Mountable secrets: ", "Tokens:            ")   # sorted, padded as upstream
_BLANK = " " * len(_HEADERS[0])


def _secrets(client: Any, namespace: str) -> list[Obj] | None:
    try:
        return list(client.list(SECRETS, namespace).get("items") or [])
    except Exception:   # upstream describes the account anyway when it may not list Secrets
        return None


def describe_serviceaccount(client: Any, sa: Obj, now: datetime) -> str:
    meta = _meta(sa)
    w = _Writer()
    _header(w, sa)
    _labels(w, "Labels", meta.get("labels"))
    _annotations(w, "Annotations", meta.get("annotations"))
    secrets = _secrets(client, meta.get("namespace", "default"))
    existing = {(_meta(s).get("name") or "") for s in secrets or []}
    tokens = [_meta(s).get("name", "") for s in secrets or [] if s.get("type") == TOKEN_TYPE
              and (_meta(s).get("annotations") or {}).get("kubernetes.io/service-account.name") == meta.get("name")
              and (_meta(s).get("annotations") or {}).get("kubernetes.io/service-account.uid") == meta.get("uid")]
    lists = ([r.get("name", "") for r in sa.get("imagePullSecrets") or []],
             [r.get("name", "") for r in sa.get("secrets") or []], tokens)
    for header, names in zip(_HEADERS, lists):
        if not names:
            w.write(0, f"{header}\t<none>\n")
        for index, name in enumerate(names):
            missing = " (not found)" if secrets is not None and name not in existing else ""
            w.write(0, f"{header if index == 0 else _BLANK}\t{name}{missing}\n")
    describe_events(w, search_events(client, sa), now)
    return w.text()

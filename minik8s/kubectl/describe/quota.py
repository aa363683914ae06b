"""``kubectl describe quota`` and ``kubectl describe limitrange``, laid out as upstream.

A ResourceQuota shows its scopes (each with what it matches) and, for every hard limit,
what is used against it (from ``status``, kept by the quota controller); a LimitRange
shows one row per item and resource: min, max, default request, default limit and the
largest limit-to-request ratio (``-`` where unset).

Interface:
    describe_resourcequota(client, quota, now) -> str
    describe_limitrange(client, limit_range, now) -> str

Taught in the chapter on namespaces and quotas, and chapter 16 (the classroom quota).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.kubectl.describe.writer import Obj, _header, _spec, _status, _Writer

# What each scope matches, as kubectl explains it under "Scopes:".
SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited lifespan on a node "
                   "before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually include long "
                      "running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have a best effort "
                  "quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These pods have a "
                     "burstable or guaranteed quality of service.",
}


def describe_resourcequota(client: Any, quota: Obj, now: datetime) -> str:
    w = _Writer()
    _header(w, quota)
    scopes = sorted(_spec(quota).get("scopes") or [])
    if scopes:
        w.write(0, f"Scopes:\t{', '.join(scopes)}\n")
        for scope in scopes:
            if scope in SCOPE_HELP:
                w.write(0, f" * {SCOPE_HELP[scope]}\n")
    selector = _spec(quota).get("scopeSelector") or {}
    if selector.get("matchExpressions"):
        w.write(0, "Scope Selector:\t")
        w.write(0, ", ".join(f"{e.get('scopeName')} {e.get('operator')} [{', '.join(e.get('values') or [])}]"
                             for e in selector["matchExpressions"]) + "\n")
    w.write(0, "Resource\tUsed\tHard\n")
    w.write(0, "--------\t----\t----\n")
    hard, used = _status(quota).get("hard") or {}, _status(quota).get("used") or {}
    for name in sorted(_spec(quota).get("hard") or {}):
        w.write(0, f"{name}\t{used.get(name, '0')}\t{hard.get(name, '0')}\n")
    return w.text()


def describe_limitrange(client: Any, limit_range: Obj, now: datetime) -> str:
    w = _Writer()
    _header(w, limit_range)
    w.write(0, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n")
    w.write(0, "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
    keys = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")
    for item in _spec(limit_range).get("limits") or []:
        names = sorted({n for k in keys for n in (item.get(k) or {})})
        for name in names:
            values = "\t".join(str((item.get(k) or {}).get(name, "-")) for k in keys)
            w.write(0, f"{item.get('type', '')}\t{name}\t{values}\n")
    return w.text()

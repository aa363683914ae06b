"""Health endpoints: ``/healthz``, ``/livez`` and ``/readyz``, answered as upstream's components answer.

Every Kubernetes component serves these (the API server on its own port; kube-controller-manager on
10257 and kube-scheduler on 10259 over HTTPS; the kubelet on 10248 and kube-proxy on 10256 over HTTP)
so that a supervisor, a load balancer or a liveness probe can ask "are you alive? ready?". A
component runs a list of named checks; the answer is:

* all pass: ``200`` and ``ok``; with ``?verbose`` one line per check, ``[+]ping ok``, then
  ``healthz check passed`` (``livez``/``readyz`` for the others);
* one fails: ``500`` and the checks listed anyway, the failing one as ``[-]name failed: reason
  withheld`` (the reason goes to the component's log, not to an anonymous caller), then ``healthz
  check failed``;
* ``?exclude=name`` leaves a check out; ``/healthz/name`` runs that one check alone (404 if none).

Interface:
    checks = [Check("ping", lambda: None), Check("etcd", store_ok)]   # a check returns None or why it failed
    status, body = answer("healthz", checks, "/healthz/etcd", {"verbose": ""})

Taught in chapter 2 (architecture: a cluster's processes and how they are watched).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

ENDPOINTS = ("healthz", "livez", "readyz")


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], str | None]   # None when healthy, else the reason (logged, never served)


def ping() -> str | None:
    """The check every component has: it answers, so it is alive."""
    return None


def _failure(check: Check) -> str | None:
    try:
        return check.run()
    except Exception as exc:  # noqa: BLE001 - a check that raises is a failing check, not a crash
        return f"{type(exc).__name__}: {exc}"


def answer(endpoint: str, checks: Sequence[Check], path: str, query: Mapping[str, str]) -> tuple[int, str]:
    """(HTTP status, plain-text body) for ``GET path?query`` on ``/healthz``, ``/livez`` or ``/readyz``."""
    sub = path.rstrip("/").split("/", 2)[2] if path.rstrip("/").count("/") >= 2 else ""
    if sub:   # /healthz/etcd: one check alone
        check = next((c for c in checks if c.name == sub), None)
        if check is None:
            return 404, "404 page not found\n"
        reason = _failure(check)
        if reason is None:
            return 200, "ok"
        log.warning("%s check %s failed: %s", endpoint, check.name, reason)
        return 500, "internal server error: reason withheld\n"
    excluded = {name for value in _all(query, "exclude") for name in value.split(",") if name}
    lines: list[str] = []
    failed = False
    for check in checks:
        if check.name in excluded:
            lines.append(f"[+]{check.name} excluded: ok")
            continue
        reason = _failure(check)
        if reason is None:
            lines.append(f"[+]{check.name} ok")
        else:
            failed = True
            log.warning("%s check %s failed: %s", endpoint, check.name, reason)
            lines.append(f"[-]{check.name} failed: reason withheld")
    if failed:
        return 500, "\n".join(lines) + f"\n{endpoint} check failed\n"
    if "verbose" in query:
        return 200, "\n".join(lines) + f"\n{endpoint} check passed\n"
    return 200, "ok"


def _all(query: Mapping[str, str], key: str) -> list[str]:
    getall = getattr(query, "getall", None)   # a multidict (aiohttp) holds repeated parameters
    if getall is not None:
        return list(getall(key, []))
    value = query.get(key)
    return [value] if value else []

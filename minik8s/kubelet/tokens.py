"""The kubelet's token manager: ServiceAccount tokens for the Pods' projected volumes.

A projected volume source ``serviceAccountToken: {audience, expirationSeconds, path}`` (the
``kube-api-access-*`` volume every Pod gets, see the ServiceAccount admission plugin) is filled by
the kubelet: it asks the API server for a token of the Pod's ServiceAccount *bound to the Pod*
(``POST .../serviceaccounts/<sa>/token``, a TokenRequest with ``boundObjectRef`` the Pod), writes
it, and asks again once 80% of the token's life has passed (or after 24 hours), as upstream's
token manager does. A token bound to a Pod stops working when the Pod is deleted.

Interface: ``TokenManager(client, clock)``; ``manager.token(pod, source) -> bytes``;
``manager.lookup(request) -> {"token": ...}`` (what a runtime's volume lookup answers, a refused
TokenRequest raised as the runtime error "failed to fetch token: ...");
``manager.next_refresh(pod_uid)`` (the pod worker wakes then and the runtime rewrites the volume,
``runtime.refresh_volumes(pod, sandbox_id)``); the runtimes' volume lookup calls it for ``lookup("serviceaccounts/token", namespace, sa_name, {"pod": pod,
"source": source})`` (see :mod:`minik8s.kubelet.runtimes.process.filesystem`).
Taught in chapter 16 (ServiceAccounts and RBAC).
"""

from __future__ import annotations

import datetime
import threading
from typing import Any

from minik8s.api import resources
from minik8s.api.errors import StatusError
from minik8s.clock import Clock
from minik8s.kubelet.cri import RuntimeCallError

SERVICE_ACCOUNTS = resources.get("", "v1", "serviceaccounts")
REFRESH_FRACTION = 0.8
MAX_TTL_BEFORE_REFRESH = 24 * 3600

Obj = dict[str, Any]


class TokenManager:
    def __init__(self, client: Any, clock: Clock):
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        # (pod uid, sa, audience, seconds) -> (token, refresh at)
        self._cache: dict[tuple[str, str, str, int], tuple[bytes, float]] = {}

    def token(self, pod: Obj, source: Obj) -> bytes:
        meta = pod.get("metadata") or {}
        sa = str((pod.get("spec") or {}).get("serviceAccountName") or "default")
        audience = str(source.get("audience") or "")
        seconds = int(source.get("expirationSeconds") or 3600)
        key = (str(meta.get("uid", "")), sa, audience, seconds)
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now < cached[1]:
                return cached[0]
        spec: Obj = {"expirationSeconds": seconds,
                     "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": meta.get("name", ""),
                                        "uid": meta.get("uid", "")}}
        if audience:
            spec["audiences"] = [audience]
        answer = self.client.create(SERVICE_ACCOUNTS, {
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"name": sa, "namespace": meta.get("namespace", "default")}, "spec": spec},
            meta.get("namespace", "default"), subresource="token")
        token = str(answer["status"]["token"]).encode()
        expires = _seconds(answer["status"]["expirationTimestamp"])
        life = max(expires - now, 0.0)
        refresh_at = now + min(life * REFRESH_FRACTION, MAX_TTL_BEFORE_REFRESH)
        with self._lock:
            self._cache[key] = (token, refresh_at)
        return token

    def lookup(self, request: Obj) -> Obj:
        """The answer to a runtime's ``lookup("serviceaccounts/token", ns, sa, {"pod", "source"})``."""
        try:
            return {"token": self.token(request["pod"], request["source"]).decode()}
        except StatusError as exc:
            raise RuntimeCallError(f"failed to fetch token: {exc.message}") from None

    def next_refresh(self, pod_uid: str) -> float | None:
        """When the earliest token written for this pod is due to be asked again (None: it has none)."""
        with self._lock:
            dues = [refresh for (uid, *_), (_, refresh) in self._cache.items() if uid == pod_uid]
        return min(dues) if dues else None

    def forget(self, pod_uid: str) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[0] == pod_uid]:
                del self._cache[key]


def _seconds(timestamp: str) -> float:
    return datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()

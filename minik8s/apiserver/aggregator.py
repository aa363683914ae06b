"""The aggregation layer (kube-aggregator): APIServices, and the proxy to extension API servers.

An ``apiregistration.k8s.io/v1`` APIService claims one group-version of the API
(``v1beta1.metrics.k8s.io``). A *Local* one (``spec.service`` unset) is served by
this server itself: the server registers one per group-version it serves, as
upstream's autoregister controller does (labelled
``kube-aggregator.kubernetes.io/automanaged: onstart``, priorities from upstream's
table; a group-version that appears later, such as a CRD's, gets ``"true"`` and
priority 1000/100), and removes the ones it no longer serves. Any other one names a
Service: requests under ``/apis/<group>/<version>`` are then proxied over HTTPS to a
ready endpoint of that Service (:mod:`minik8s.apiserver.serviceresolver`), trusting
``spec.caBundle`` (or nothing checked with ``insecureSkipTLSVerify``), with the
caller's identity in ``X-Remote-User`` / ``X-Remote-Group`` / ``X-Remote-Extra-*``
headers and its credential removed; responses, watches included, stream through.

The availability controller checks every remote APIService (on changes to APIServices,
Services and endpoints, and every ``RESYNC_SECONDS``) by asking the backend for
``/apis/<group>/<version>``, and records ``status.conditions[Available]``: ``True``
(``Passed``), or ``False`` with ``ServiceNotFound``, ``MissingEndpoints`` or
``FailedDiscoveryCheck``. While it is not available, requests get upstream's ``503
service unavailable``. The resource list the check fetched is what discovery shows for
that group-version (``/apis``, aggregated discovery), as upstream's discovery aggregator does.

Interface:
    local_apiservices(served, now) -> list[dict]      # the Local APIServices for ``served`` resources
    Aggregator(api):  await start(app) / await stop(app)   # the controllers, as aiohttp hooks
                      await serve(request) -> response | None   # proxy (or APIGroup) if the path is remote
                      remote_groups() / remote_discovery()      # for /apis and aggregated discovery

The aggregator presents the front-proxy client certificate (``front-proxy-client``,
:func:`minik8s.pki.ensure_front_proxy_client`) and publishes how to recognise it in the
``kube-system/extension-apiserver-authentication`` ConfigMap, as kube-apiserver does, so a
backend such as metrics-server knows whose ``X-Remote-*`` headers to trust.
How minik8s differs: that certificate is signed by the cluster CA rather than a front-proxy CA of
its own; connection upgrades (exec, port-forward) are not proxied.
Taught in chapter 2 (architecture: extending the API).
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from minik8s import pki
from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.apiserver import serviceresolver
from minik8s.apiserver.auth.context import current_user
from minik8s.clock import new_uid, rfc3339

log = logging.getLogger(__name__)

GROUP = "apiregistration.k8s.io"
APISERVICES = resources.get(GROUP, "v1", "apiservices")
CONFIG_MAPS = resources.get("", "v1", "configmaps")
# A CRD that is established or deleted changes what the server serves: its APIService follows.
CRDS = resources.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
AUTHENTICATION_INFO = "extension-apiserver-authentication"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
RESYNC_SECONDS = 30.0        # how often every remote APIService is checked, changes or not
CHECK_TIMEOUT_SECONDS = 5.0  # a backend that does not answer its discovery within this is unavailable
MAX_DISCOVERY_BYTES = 4 * 1024 * 1024

# upstream's apiVersionPriorities (group priority minimum, version priority) of the groups minik8s serves.
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1), ("apiregistration.k8s.io", "v1"): (18000, 15), ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15), ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15), ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30), ("batch", "v1"): (17400, 15), ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15), ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15), ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15), ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15), ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15), ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("metrics.k8s.io", "v1beta1"): (100, 100),   # metrics-server's APIService
}
CRD_PRIORITY = (1000, 100)   # upstream's crdregistration controller


def apiservice_name(group: str, version: str) -> str:
    return f"{version}.{group}"


def _condition(status: str, reason: str, message: str, now: float) -> dict[str, Any]:
    return {"type": "Available", "status": status, "lastTransitionTime": rfc3339(now), "reason": reason,
            "message": message}


def local_apiservices(served: Iterable[Resource], now: float) -> list[dict[str, Any]]:
    """The Local APIServices of the group-versions ``served``, as the autoregister controller makes them."""
    made = []
    for group, version in dict.fromkeys((r.group, r.version) for r in served):
        known = (group, version) in PRIORITIES
        group_priority, version_priority = PRIORITIES.get((group, version), CRD_PRIORITY)
        made.append({
            "apiVersion": APISERVICES.api_version, "kind": APISERVICES.kind,
            "metadata": {"name": apiservice_name(group, version),
                         "labels": {AUTOMANAGED: "onstart" if known else "true"}},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": group_priority,
                     "versionPriority": version_priority},
            "status": {"conditions": [_condition("True", "Local", "Local APIServices are always available", now)]},
        })
    return made


class Aggregator:
    """The autoregister and availability controllers and the proxy, for one API server."""

    def __init__(self, api: Any):
        self.api = api
        self.store = api.store
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._cancel_watches: list[Any] = []
        self._registered_generation: int | None = None
        self._discovery: dict[str, list[dict[str, Any]]] = {}   # APIService name -> its APIResource entries
        self._session: aiohttp.ClientSession | None = None
        # The front-proxy client certificate and key (files) presented to backends; None: present none.
        self.client_certificate: tuple[Path, Path] | None = None
        self._contexts: dict[tuple[str, bool], ssl.SSLContext] = {}

    # --- the controllers -------------------------------------------------------------------

    async def start(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_connect=CHECK_TIMEOUT_SECONDS))
        wake = self._wake

        def changed(_event: Any) -> None:
            loop.call_soon_threadsafe(wake.set)

        for res in (APISERVICES, CRDS, serviceresolver.SERVICES, serviceresolver.ENDPOINTS,
                    serviceresolver.ENDPOINT_SLICES):
            self._cancel_watches.append(self.store.watch(res.qualified, None, self.store.revision, changed))
        await loop.run_in_executor(None, self.register_local)
        await loop.run_in_executor(None, self.publish_authentication_info)
        self._task = asyncio.create_task(self._run())

    async def stop(self, app: web.Application) -> None:
        for cancel in self._cancel_watches:
            cancel()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            try:
                if self._registered_generation != self.api.registry.generation:
                    await loop.run_in_executor(None, self.register_local)
                await self.check_available()
            except Exception:   # a bug here must not stop the controller: log it, try again later
                log.exception("aggregator: availability check failed")
            try:
                await asyncio.wait_for(self._wake.wait(), RESYNC_SECONDS)
            except asyncio.TimeoutError:
                pass

    def register_local(self) -> None:
        """autoregister: create the missing Local APIServices, delete automanaged ones no longer served."""
        generation = self.api.registry.generation
        wanted = {s["metadata"]["name"]: s for s in local_apiservices(tuple(self.api.registry), self.api.clock.now())}
        existing, _ = self.store.list(APISERVICES.qualified)
        for obj in existing:
            name = obj["metadata"]["name"]
            automanaged = (obj["metadata"].get("labels") or {}).get(AUTOMANAGED)
            if name not in wanted and automanaged and not (obj.get("spec") or {}).get("service"):
                self.store.delete(self._key(name))
            wanted.pop(name, None)
        for name, obj in wanted.items():
            # Written as the server's own objects, with uids of their own (a seeded cluster's other
            # names do not move), as kubernetesservice and the bootstrap policy do.
            obj["metadata"]["uid"] = new_uid(random.Random(f"apiservice/{name}"))
            obj["metadata"]["creationTimestamp"] = rfc3339(self.api.clock.now())
            self.store.create(self._key(name), obj)
        self._registered_generation = generation

    @staticmethod
    def _key(name: str) -> tuple[str, str, str]:
        return (APISERVICES.qualified, "", name)

    def publish_authentication_info(self) -> None:
        """The ``kube-system/extension-apiserver-authentication`` ConfigMap: how an extension API server
        recognises the aggregator (the CA of its client certificate, its name, the headers it sets), as
        kube-apiserver's cluster-authentication-info controller publishes it."""
        ca = self.api.root_ca_pem
        if ca is None or self.client_certificate is None:
            return
        data = {"client-ca-file": ca.decode(), "requestheader-client-ca-file": ca.decode(),
                "requestheader-allowed-names": orjson.dumps([pki.FRONT_PROXY_CLIENT]).decode(),
                "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]',
                "requestheader-group-headers": '["X-Remote-Group"]',
                "requestheader-username-headers": '["X-Remote-User"]'}
        key = (CONFIG_MAPS.qualified, "kube-system", AUTHENTICATION_INFO)
        current = self.store.get(key)
        if current is None:
            self.store.create(key, {"apiVersion": "v1", "kind": "ConfigMap", "data": data, "metadata": {
                "name": AUTHENTICATION_INFO, "namespace": "kube-system",
                "uid": new_uid(random.Random(AUTHENTICATION_INFO)),
                "creationTimestamp": rfc3339(self.api.clock.now())}})
        elif current.get("data") != data:
            self.store.update(key, {**current, "data": data}, int(current["metadata"]["resourceVersion"]))

    async def check_available(self) -> None:
        """The availability controller: one pass over the remote APIServices."""
        services, _ = self.store.list(APISERVICES.qualified)
        for obj in services:
            if isinstance((obj.get("spec") or {}).get("service"), dict):
                condition = await self._check(obj)
                await asyncio.get_running_loop().run_in_executor(None, self._record, obj, condition)

    async def _check(self, obj: dict[str, Any]) -> dict[str, Any]:
        spec, name, now = obj["spec"], obj["metadata"]["name"], self.api.clock.now()
        try:
            address = self._resolve(spec)
        except serviceresolver.ResolveError as exc:
            return _condition("False", exc.reason, exc.message, now)
        except ValueError as exc:
            return _condition("False", "FailedDiscoveryCheck", str(exc), now)
        path = f"/api/{spec.get('version')}" if name == "v1." else f"/apis/{spec.get('group')}/{spec.get('version')}"
        url = f"https://{address.netloc}{path}"
        try:
            assert self._session is not None
            async with self._session.get(
                    url, ssl=self._ssl(spec), server_hostname=address.server_name,
                    headers={"X-Remote-User": "system:kube-aggregator", "X-Remote-Group": "system:masters"},
                    timeout=aiohttp.ClientTimeout(total=CHECK_TIMEOUT_SECONDS)) as reply:
                if not 200 <= reply.status < 300:
                    return _condition("False", "FailedDiscoveryCheck", f"bad status from {url}: {reply.status}", now)
                body = await reply.content.read(MAX_DISCOVERY_BYTES)
        except asyncio.TimeoutError:
            return _condition("False", "FailedDiscoveryCheck", f"timed out waiting for {url}", now)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return _condition("False", "FailedDiscoveryCheck", f"failing or missing response from {url}: {exc}", now)
        try:
            entries = orjson.loads(body).get("resources")
        except (orjson.JSONDecodeError, AttributeError):
            entries = None
        self._discovery[name] = [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []
        return _condition("True", "Passed", "all checks passed", now)

    def _record(self, obj: dict[str, Any], condition: dict[str, Any]) -> None:
        """Write the Available condition if it changed (keeping lastTransitionTime while the status holds)."""
        status = obj.get("status") or {}
        conditions = [c for c in status.get("conditions") or [] if isinstance(c, dict)]
        old = next((c for c in conditions if c.get("type") == "Available"), None)
        if old is not None and old.get("status") == condition["status"]:
            condition["lastTransitionTime"] = old.get("lastTransitionTime", condition["lastTransitionTime"])
        if old == condition:
            return
        updated = {**obj, "status": {**status, "conditions": [c for c in conditions if c is not old] + [condition]}}
        try:
            self.store.update(self._key(obj["metadata"]["name"]), updated, int(obj["metadata"]["resourceVersion"]))
        except Exception as exc:   # changed or deleted meanwhile: the next pass sees the new object
            log.debug("aggregator: status of %s not written: %r", obj["metadata"]["name"], exc)

    def _resolve(self, spec: dict[str, Any]) -> serviceresolver.Address:
        service = spec["service"]
        return serviceresolver.resolve(self.store, str(service.get("namespace", "")), str(service.get("name", "")),
                                       int(service.get("port") or 443))

    def _ssl(self, spec: dict[str, Any]) -> ssl.SSLContext:
        """The TLS client context for a backend: its caBundle (or no check), and our client certificate."""
        wanted = (str(spec.get("caBundle") or ""), bool(spec.get("insecureSkipTLSVerify")))
        if wanted not in self._contexts:
            context = serviceresolver.ssl_context(*wanted)
            if self.client_certificate is not None:
                context.load_cert_chain(*self.client_certificate)
            self._contexts[wanted] = context
        return self._contexts[wanted]

    # --- discovery -------------------------------------------------------------------------

    def _remote(self) -> list[dict[str, Any]]:
        local = {(r.group, r.version) for r in self.api.registry}
        services, _ = self.store.list(APISERVICES.qualified)
        remote = [s for s in services if isinstance((s.get("spec") or {}).get("service"), dict)
                  and ((s["spec"].get("group") or ""), s["spec"].get("version")) not in local]
        return sorted(remote, key=lambda s: (-int(s["spec"].get("groupPriorityMinimum") or 0),
                                             -int(s["spec"].get("versionPriority") or 0), s["metadata"]["name"]))

    def remote_groups(self) -> list[dict[str, Any]]:
        """``APIGroup`` entries of the groups only extension servers serve, for ``/apis``."""
        groups: dict[str, dict[str, Any]] = {}
        for service in self._remote():
            group, version = service["spec"].get("group") or "", service["spec"].get("version") or ""
            entry = {"groupVersion": f"{group}/{version}", "version": version}
            found = groups.setdefault(group, {"name": group, "versions": [], "preferredVersion": entry})
            found["versions"].append(entry)
        return list(groups.values())

    def remote_discovery(self) -> list[tuple[str, str, list[dict[str, Any]]]]:
        """(group, version, APIResource entries) of the available extension group-versions."""
        return [(s["spec"].get("group") or "", s["spec"].get("version") or "", self._discovery[s["metadata"]["name"]])
                for s in self._remote() if s["metadata"]["name"] in self._discovery and _available(s)]

    # --- the proxy -------------------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.StreamResponse | None:
        """Answer a request under ``/apis/<group>[/<version>...]`` that an extension server owns;
        None when this server serves the path itself."""
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "apis":
            return None
        group = parts[1]
        local = {(r.group, r.version) for r in self.api.registry}
        if len(parts) == 2:
            if any(g == group for g, _ in local):
                return None
            found = next((g for g in self.remote_groups() if g["name"] == group), None)
            if found is None:
                return None
            return web.Response(body=orjson.dumps({"kind": "APIGroup", "apiVersion": "v1", **found}),
                                content_type="application/json")
        if (group, parts[2]) in local:
            return None
        service = self.store.get(self._key(apiservice_name(group, parts[2])))
        if service is None or not isinstance((service.get("spec") or {}).get("service"), dict):
            return None
        if not _available(service):
            return web.Response(status=503, text="service unavailable\n",
                                headers={"X-Content-Type-Options": "nosniff"})
        try:
            address = self._resolve(service["spec"])
            context = self._ssl(service["spec"])
        except (serviceresolver.ResolveError, ValueError):
            return web.Response(status=503, text="service unavailable\n", headers={"X-Content-Type-Options": "nosniff"})
        return await self._proxy(request, address, context)

    async def _proxy(self, request: web.Request, address: serviceresolver.Address, context: Any
                     ) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() in ("accept", "content-type", "user-agent", "accept-encoding")}
        user = current_user()
        remote: list[tuple[str, str]] = [("X-Remote-User", user.name if user else "system:anonymous")]
        remote += [("X-Remote-Group", group) for group in (user.groups if user else ())]
        remote += [(f"X-Remote-Extra-{key}", value) for key, values in (user.extra if user else ()) for value in values]
        body = await request.read() if request.can_read_body else None   # bounded by the app's client_max_size
        url = f"https://{address.netloc}{request.rel_url}"
        assert self._session is not None
        upstream_headers = CIMultiDict(headers)
        for key, value in remote:
            upstream_headers.add(key, value)
        try:
            reply = await self._session.request(request.method, url, data=body, headers=upstream_headers,
                                                ssl=context, server_hostname=address.server_name,
                                                auto_decompress=False,
                                                timeout=aiohttp.ClientTimeout(sock_connect=CHECK_TIMEOUT_SECONDS))
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return web.Response(status=503, text=f"error trying to reach service: {exc}\n")
        async with reply:
            response = web.StreamResponse(status=reply.status, headers={
                k: v for k, v in reply.headers.items() if k.lower() in ("content-type", "content-encoding",
                                                                         "cache-control", "warning", "audit-id")})
            await response.prepare(request)
            try:
                async for chunk in reply.content.iter_any():   # watches stream through as they come
                    await response.write(chunk)
                await response.write_eof()
            except (aiohttp.ClientError, ConnectionError) as exc:   # either side went away: end this response
                log.debug("aggregator: proxied response ended: %r", exc)
        return response


def _available(service: dict[str, Any]) -> bool:
    return any(c.get("type") == "Available" and c.get("status") == "True"
               for c in (service.get("status") or {}).get("conditions") or [])

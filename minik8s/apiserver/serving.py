"""Serving the API over HTTPS: the credentials a secure server needs, and a server on its own thread.

``minik8s server`` and ``Cluster.serve()`` serve the same way (the code lives here once):

* :func:`secure` loads (or makes) the PKI under a folder (:mod:`minik8s.pki`) and wires it into the
  API server: ServiceAccount tokens are signed with ``sa.key``, the CA becomes ``api.root_ca_pem``
  (published to every namespace as ``kube-root-ca.crt``), and the returned filter policy
  authenticates client certificates, static tokens and ServiceAccount tokens
  (:class:`minik8s.apiserver.auth.authentication.Authenticator`); TokenReview uses the same.
* :class:`BackgroundServer` (from :mod:`minik8s.background`) runs the aiohttp application on an event loop of its own thread, for
  an in-process cluster whose API pods (or a notebook's official client) must reach over the network.

Interface:
    pki_, policy = secure(api, pki_dir, names)
    server = BackgroundServer(app); port = server.start(host, port, ssl_context); server.stop()

Taught in chapter 2 (architecture) and chapter 16 (who is asking).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from minik8s import pki
from minik8s.apiserver import filters
from minik8s.apiserver.auth.authentication import Authenticator, TokenAuthenticator
from minik8s.apiserver.auth.bootstraptoken import BootstrapTokenAuthenticator
from minik8s.background import BackgroundServer   # noqa: F401 - re-exported: Cluster.serve() uses it from here

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer


def secure(api: "APIServer", pki_dir: Path, names: list[str]) -> tuple[pki.PKI, filters.Policy]:
    """The PKI under ``pki_dir`` (made if missing), wired into ``api``; and the filters' policy."""
    credentials = pki.ensure(pki_dir, names)
    api.tokens.use_key(credentials.sa_key_pem)
    api.root_ca_pem = credentials.ca_pem
    static = TokenAuthenticator(pki.read_token_file(credentials.directory / "tokens.csv"))
    authenticator = Authenticator(static, api.tokens, BootstrapTokenAuthenticator(_secret_getter(api), api.clock.now))
    api.authenticate_token = authenticator.authenticate_token   # TokenReview asks the same authenticators
    proxy_client = pki.ensure_front_proxy_client(credentials.directory)   # for the aggregator
    # Kubelets on other machines are reached over HTTPS with this certificate (kubectl logs).
    api.nodes.use_remote(_node_getter(api), *pki.ensure_kubelet_client(credentials.directory))
    return credentials, filters.Policy(frozenset(names), authenticator, proxy_client)


def _getter(api: "APIServer", plural: str) -> Any:
    """``get(namespace, name)``: a core object, or None when it does not exist (or cannot be read)."""
    from minik8s.api import resources
    from minik8s.api.errors import StatusError

    resource = resources.get("", "v1", plural)

    def get(namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return api.get(resource, namespace, name)
        except StatusError:
            return None
    return get


def _secret_getter(api: "APIServer") -> Any:
    return _getter(api, "secrets")


def _node_getter(api: "APIServer") -> Any:
    get = _getter(api, "nodes")
    return lambda name: get(None, name)

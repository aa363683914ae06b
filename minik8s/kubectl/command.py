"""What every kubectl command shares: its environment, its errors and how they are worded.

The command modules (:mod:`.get`, :mod:`.write`, :mod:`.info`, :mod:`.pods`, :mod:`.workloads`,
:mod:`.wait`, :mod:`.nodes`) import these; :mod:`.main` parses the words and runs a command.
Keeping them here, not in :mod:`.main`, means no command module imports the module that
imports it.

Interface: ``Env``; ``CommandError``, ``UsageError``; ``server_error(StatusError) -> str``
(kubectl's wording); ``resolve(name) -> Resource`` (a resource type as a user types it).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Callable, TextIO

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource
from minik8s.client.base import Client
from minik8s.clock import Clock
from minik8s.kubectl import restmapper


class CommandError(Exception):
    """A client-side failure: kubectl prints ``error: <message>`` and exits 1."""


class UsageError(CommandError):
    """Words kubectl's command line (cobra) cannot parse: printed as ``Error: <message>``, exit 1."""


@dataclass
class Env:
    """What every command gets: its parsed flags, the client, where to print, and time."""

    args: argparse.Namespace
    client_factory: Callable[[], Client]
    out: TextIO
    err: TextIO
    stdin: str | None
    clock: Clock
    settle: Callable[[], None]
    _client: Client | None = field(default=None)
    failed: bool = False
    exit_code: int | None = None  # set by commands whose exit code is not just 0 or 1 (exec)

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    @property
    def namespace(self) -> str:
        return self.args.namespace or self.default_namespace

    default_namespace: str = "default"

    def error(self, message: str) -> None:
        """Report one failure and carry on (kubectl continues with the other objects, then exits 1)."""
        self.err.write(message.rstrip("\n") + "\n")
        self.failed = True


def server_error(err: StatusError, action: str = "") -> str:
    """kubectl's wording for an API error (k8s.io/kubectl/pkg/cmd/util's StandardErrorMessage)."""
    details = err.details or {}
    if err.code == 401:
        return f"error: You must be logged in to the server ({err.message or 'Unauthorized'})"
    if err.code == 422 and err.reason == "Invalid" and details.get("causes"):
        head = f'The {details.get("kind", "")} "{details.get("name", "")}" is invalid'
        causes = [f'{c.get("field")}: {c.get("message")}' if c.get("field") else c.get("message", "")
                  for c in details["causes"]]
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return f"{head}: \n" + "\n".join(f"* {c}" for c in causes)
    reason = f" ({err.reason})" if err.reason and err.reason != "Unknown" else ""
    return f"Error from server{reason}: {action}{err.message}"


def resolve(name: str) -> Resource:
    """A resource type as typed by a user, or kubectl's error."""
    found = restmapper.lookup(name)   # built in, or found in the server's discovery (custom resources)
    if found is None:
        raise CommandError(f'the server doesn\'t have a resource type "{name}"')
    return found

"""``minik8s scheduler``: kube-scheduler as a process of its own.

Runs :class:`minik8s.scheduler.component.SchedulerComponent` over HTTPS with the credential of
``scheduler.conf`` (user ``system:kube-scheduler``, whose bootstrap role lets it read pods and
nodes and bind pods). With ``--leader-elect`` (the default) only the replica holding the Lease
``kube-system/kube-scheduler`` schedules. ``/healthz``, ``/livez`` and ``/readyz`` are served over
HTTPS on ``--secure-port`` (upstream's 10259).

Interface: ``add_arguments(parser)``, ``main(args) -> exit code``. Taught in chapter 2 (architecture).
"""

from __future__ import annotations

import argparse

from minik8s.daemons.component import control_plane_flags, run_elected

SECURE_PORT = 10259
LOCK_NAME = "kube-scheduler"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    control_plane_flags(parser, SECURE_PORT)


def main(args: argparse.Namespace) -> int:
    from minik8s.scheduler.component import SchedulerComponent

    return run_elected("kube-scheduler", args, LOCK_NAME, "default-scheduler", lambda ctx: [SchedulerComponent(ctx)])

"""``kubectl autoscale (-f FILENAME | TYPE NAME | TYPE/NAME) [--min=MINPODS] --max=MAXPODS [--cpu-percent=CPU]``.

Creates a HorizontalPodAutoscaler for each target that has a scale subresource, named after it
(or ``--name``), as kubectl 1.32 does: an ``autoscaling/v1`` object (``targetCPUUtilizationPercentage``;
the API server stores it as ``autoscaling/v2``), sent with the field manager ``kubectl-autoscale``, and
prints ``horizontalpodautoscaler.autoscaling/NAME autoscaled``. ``--min`` and ``--cpu-percent`` left
out leave the fields out (the server then defaults to 1 pod and 80% cpu).

Interface:
    register(sub, parent)                           # adds the ``autoscale`` verb
    hpa_from_flags(target, name, min, max, cpu) -> HorizontalPodAutoscaler   # pure; CommandError on bad flags

No chapter teaches autoscaling yet; chapter 7 (Deployments) scales by hand.
"""

from __future__ import annotations

import argparse
from typing import Any

from minik8s.api import resources
from minik8s.api.resources import Resource
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.get import parse_targets
from minik8s.kubectl.printing import print_written

Obj = dict[str, Any]
HPAS_V1 = resources.get("autoscaling", "v1", "horizontalpodautoscalers")
assert HPAS_V1 is not None
FIELD_MANAGER = "kubectl-autoscale"


def hpa_from_flags(target: Resource, target_name: str, name: str, low: int, high: int, cpu: int) -> Obj:
    """The autoscaling/v1 object kubectl's ``autoscale`` builds; -1 means a flag was not given."""
    if high < 1:
        raise CommandError(f"--max=MAXPODS is required and must be at least 1, max: {high}")
    if high < low:
        raise CommandError(f"--max=MAXPODS must be larger or equal to --min=MINPODS, max: {high}, min: {low}")
    api_version = f"{target.group}/{target.version}" if target.group else target.version
    spec: Obj = {"scaleTargetRef": {"apiVersion": api_version, "kind": target.kind, "name": target_name},
                 "maxReplicas": high}
    if low > 0:
        spec["minReplicas"] = low
    if cpu >= 0:
        spec["targetCPUUtilizationPercentage"] = cpu
    return {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
            "metadata": {"creationTimestamp": None, "name": name or target_name}, "spec": spec,
            "status": {"currentReplicas": 0, "desiredReplicas": 0}}


def cmd_autoscale(env: Env) -> None:
    a = env.args
    if a.max is None:
        raise CommandError('required flag(s) "max" not set')
    if not a.resources:
        raise CommandError("You must provide one or more resources by argument or filename.")
    low, high, cpu = a.min, a.max, a.cpu_percent
    hpa_from_flags(HPAS_V1, "", "", low, high, cpu)   # the flags' errors come before any request
    for resource, names in parse_targets(a.resources):
        for target_name in names:
            env.client.get(resource, target_name, env.namespace)   # NotFound, as kubectl reads the target first
            if "scale" not in resource.subresources:
                raise CommandError(f"cannot autoscale a {resource.kind}: could not find scale subresource for "
                                   f"{resource.group}/{resource.version}, Resource={resource.plural} in "
                                   "discovery information")
            obj = hpa_from_flags(resource, target_name, a.name or "", low, high, cpu)
            if a.dry_run not in ("client", "true"):
                obj = env.client.create(HPAS_V1, obj, env.namespace, dry_run=a.dry_run == "server",
                                        field_manager=FIELD_MANAGER)
            env.out.write(print_written(HPAS_V1, obj, "autoscaled", a.output, a.dry_run))




def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser("autoscale", parents=[parent], add_help=False)
    p.add_argument("resources", nargs="*")
    p.add_argument("--min", type=int, default=-1)
    p.add_argument("--max", type=int, default=None)
    p.add_argument("--cpu-percent", type=int, default=-1)
    p.add_argument("--name", default="")
    p.add_argument("--dry-run", default=None, nargs="?", const="client")
    p.add_argument("-o", "--output", default=None)
    p.set_defaults(handler=cmd_autoscale)

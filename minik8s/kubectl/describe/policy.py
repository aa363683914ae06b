"""``kubectl describe poddisruptionbudget``, laid out as upstream's ``PodDisruptionBudgetDescriber``.

Name and namespace, whichever bound is set (``Min available`` or ``Max unavailable``),
the selector as a string, then the status counts under their short upstream names
(``Allowed disruptions``, ``Current``, ``Desired``, ``Total``) and the events.

Interface:
    describe_pdb(client, pdb, now) -> str

Taught in chapter 11 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.api.selectors import from_label_selector
from minik8s.kubectl.describe.writer import Obj, _meta, _spec, _status, _Writer, describe_events, search_events


def describe_pdb(client: Any, pdb: Obj, now: datetime) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{_meta(pdb).get('name', '')}\n")
    w.write(0, f"Namespace:\t{_meta(pdb).get('namespace', '')}\n")
    spec, status = _spec(pdb), _status(pdb)
    if spec.get("minAvailable") is not None:
        w.write(0, f"Min available:\t{spec['minAvailable']}\n")
    elif spec.get("maxUnavailable") is not None:
        w.write(0, f"Max unavailable:\t{spec['maxUnavailable']}\n")
    try:
        w.write(0, f"Selector:\t{from_label_selector(spec.get('selector'))}\n")
    except ValueError:
        w.write(0, "Selector:\t<unset>\n")
    w.write(0, "Status:\n")
    w.write(2, f"Allowed disruptions:\t{status.get('disruptionsAllowed', 0)}\n")
    w.write(2, f"Current:\t{status.get('currentHealthy', 0)}\n")
    w.write(2, f"Desired:\t{status.get('desiredHealthy', 0)}\n")
    w.write(2, f"Total:\t{status.get('expectedPods', 0)}\n")
    describe_events(w, search_events(client, pdb), now)
    return w.text()

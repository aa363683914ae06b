"""``kubectl describe priorityclass``: upstream's PriorityClassDescriber.

Interface:
    describe_priorityclass(client, pc, now) -> str

Unlike most describers it prints the annotations on one line, ``k=v,k2=v2``
(upstream formats them with ``labels.FormatLabels``), and has no Labels line.

Taught in chapter 11 (Scheduling: priority and preemption).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from minik8s.kubectl.describe.writer import Obj, _meta, _Writer, describe_events, search_events


def describe_priorityclass(client: Any, pc: Obj, now: datetime) -> str:
    w = _Writer()
    w.write(0, f"Name:\t{_meta(pc).get('name', '')}\n")
    w.write(0, f"Value:\t{pc.get('value', 0)}\n")
    w.write(0, f"GlobalDefault:\t{'true' if pc.get('globalDefault') else 'false'}\n")
    w.write(0, f"PreemptionPolicy:\t{pc.get('preemptionPolicy') or ''}\n")
    w.write(0, f"Description:\t{pc.get('description') or ''}\n")
    annotations = _meta(pc).get("annotations") or {}
    w.write(0, f"Annotations:\t{','.join(f'{k}={annotations[k]}' for k in sorted(annotations)) or '<none>'}\n")
    describe_events(w, search_events(client, pc), now)
    return w.text()

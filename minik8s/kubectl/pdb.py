"""``kubectl create poddisruptionbudget|pdb NAME --selector=SELECTOR (--min-available=N | --max-unavailable=N)``.

Builds a policy/v1 PodDisruptionBudget from flags with upstream's checks (a selector is
required, exactly one of the two bounds, each a number or a percentage) and messages. The
selector string becomes a ``metav1.LabelSelector`` as upstream's ``ParseToLabelSelector``
makes it: ``=``/``==`` go to ``matchLabels``, ``!=`` becomes ``NotIn``, set-based terms
``matchExpressions``. Prints ``poddisruptionbudget.policy/NAME created``.

Interface:
    register(sub, parent)                         # adds the flags to ``create``
    pdb_from_flags(name, selector, min, max) -> PodDisruptionBudget   # pure; CommandError on bad flags

Taught in chapter 11 (Scheduling: voluntary disruptions, cordon and drain).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from minik8s.api import resources, selectors
from minik8s.kubectl import generators
from minik8s.kubectl.command import CommandError, Env
from minik8s.kubectl.configdata import _send as send

Obj = dict[str, Any]
PDBS = resources.get("policy", "v1", "poddisruptionbudgets")
assert PDBS is not None
_AMOUNT = re.compile(r"[0-9]+%?")
_OPERATORS = {selectors.IN: "In", selectors.NOT_IN: "NotIn", selectors.NOT_EQUALS: "NotIn",
              selectors.EXISTS: "Exists", selectors.DOES_NOT_EXIST: "DoesNotExist"}


def _label_selector(text: str) -> Obj:
    try:
        parsed = selectors.parse_label_selector(text)
    except ValueError as err:
        raise CommandError(f"couldn't parse the selector string \"{text}\": {err}") from None
    labels: dict[str, str] = {}
    expressions: list[Obj] = []
    for req in parsed.requirements:
        if req.operator in (selectors.EQUALS, selectors.DOUBLE_EQUALS):
            labels[req.key] = req.values[0]
        elif req.operator in _OPERATORS:
            expression: Obj = {"key": req.key, "operator": _OPERATORS[req.operator]}
            if req.values:
                expression["values"] = list(req.values)
            expressions.append(expression)
        else:
            raise CommandError(f"{req.operator} is not a valid label selector operator")
    selector: Obj = {}
    if labels:
        selector["matchLabels"] = labels
    if expressions:
        selector["matchExpressions"] = expressions
    return selector


def _amount(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def pdb_from_flags(name: str, selector: str, min_available: str, max_unavailable: str) -> Obj:
    if not selector:
        raise CommandError("a selector must be specified")
    if not min_available and not max_unavailable:
        raise CommandError("one of min-available or max-unavailable must be specified")
    if min_available and max_unavailable:
        raise CommandError("min-available and max-unavailable cannot be both specified")
    if min_available and not _AMOUNT.fullmatch(min_available):
        raise CommandError("invalid format specified for min-available")
    if max_unavailable and not _AMOUNT.fullmatch(max_unavailable):
        raise CommandError("invalid format specified for max-unavailable")
    spec: Obj = {"selector": _label_selector(selector)}
    if min_available:
        spec["minAvailable"] = _amount(min_available)
    else:
        spec["maxUnavailable"] = _amount(max_unavailable)
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"creationTimestamp": None, "name": name}, "spec": spec,
            "status": {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0, "expectedPods": 0}}


def create_pdb(env: Env, words: list[str]) -> None:
    a = env.args
    if len(words) != 1:
        raise CommandError(f"exactly one NAME is required, got {len(words)}")
    obj = pdb_from_flags(words[0], a.selector or "", a.min_available or "", a.max_unavailable or "")
    send(env, PDBS, obj, "poddisruptionbudgets: ")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    generators.register_create(("poddisruptionbudget", "pdb"), create_pdb)
    create = sub.choices["create"]
    create.add_argument("--selector", default=None)
    create.add_argument("--min-available", default=None)
    create.add_argument("--max-unavailable", default=None)

"""Match conditions: CEL expressions that narrow which requests an admission webhook is sent.

A webhook's ``matchConditions`` (``[{name, expression}]``, at most 64) are
`CEL <https://cel.dev>`_ expressions over the request, as upstream's
``k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions`` evaluates them:
``object`` and ``oldObject`` (null when absent) and ``request`` (the
``AdmissionRequest``: ``request.operation``, ``request.userInfo.username``...). The
webhook is called only when every condition is true; one that cannot be evaluated
is an error, which the webhook's ``failurePolicy`` turns into a refusal or a skip.
minik8s evaluates them with ``cel-python`` (upstream uses cel-go); the ``authorizer``
variable is not offered.

Interface:
    compile_error(expression) -> str | None        # why an expression does not compile
    evaluate(conditions, obj, old, request) -> str | None
        # the name of the first condition that is false; None when all are true
    MatchConditionError                            # an expression failed to compile or evaluate

Taught in chapter 16 (access control: admission).
"""

from __future__ import annotations

import functools
from typing import Any

MAX_CONDITIONS = 64


class MatchConditionError(Exception):
    pass


def _celpy() -> Any:
    """cel-python, imported on first use: most clusters never define a match condition."""
    import celpy

    return celpy


@functools.lru_cache(maxsize=512)
def _program(expression: str) -> Any:
    environment = _celpy().Environment()
    return environment.program(environment.compile(expression))


def compile_error(expression: str) -> str | None:
    celpy = _celpy()
    try:
        _program(expression)
    except celpy.CELParseError as exc:
        return f"compilation failed: {str(exc).strip()}"
    return None


def evaluate(conditions: list[dict[str, Any]], obj: Any, old: Any, request: dict[str, Any]) -> str | None:
    celpy = _celpy()
    variables = {"object": celpy.json_to_cel(obj), "oldObject": celpy.json_to_cel(old),
                 "request": celpy.json_to_cel(request)}
    for condition in conditions:
        name = str(condition.get("name", ""))
        try:
            result = _program(str(condition.get("expression", ""))).evaluate(variables)
        except (celpy.CELParseError, celpy.CELEvalError, TypeError, ValueError, KeyError) as exc:
            raise MatchConditionError(f"failed to evaluate matchCondition {name!r}: {exc}") from None
        if not isinstance(result, celpy.celtypes.BoolType):
            raise MatchConditionError(f"matchCondition {name!r} did not evaluate to a bool")
        if not result:
            return name
    return None

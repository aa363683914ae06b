"""Validation of admission webhook configurations (``admissionregistration.k8s.io/v1``).

Follows upstream's ``ValidateValidatingWebhookConfiguration`` and
``ValidateMutatingWebhookConfiguration`` for what decides whether a webhook can be
called at all: a fully qualified, unique name; exactly one of ``clientConfig.url``
(https) and ``clientConfig.service``; ``sideEffects`` and ``admissionReviewVersions``
(both required in v1); ``failurePolicy``, ``timeoutSeconds``, the rules' scope and
``matchConditions`` (named, unique, compiling CEL).

Interface: ``_webhook_configuration(obj) -> Errors`` (dispatched by
:func:`minik8s.api.validation.validate`). Taught in chapter 16 (access control: admission).
"""

from __future__ import annotations

from minik8s.api import matchconditions
from minik8s.api.errors import duplicate, invalid_value, not_supported, required, too_many
from minik8s.api.validation.fields import Errors, Obj

_SIDE_EFFECTS = ("None", "NoneOnDryRun")
_REVIEW_VERSIONS = ("v1", "v1beta1")


def _webhook_configuration(obj: Obj) -> Errors:
    errs: Errors = []
    seen: set[str] = set()
    webhooks = obj.get("webhooks")
    for i, hook in enumerate(webhooks if isinstance(webhooks, list) else []):
        path = f"webhooks[{i}]"
        if not isinstance(hook, dict):
            errs.append(invalid_value(path, hook, "must be an object"))
            continue
        name = hook.get("name")
        if not name:
            errs.append(required(f"{path}.name"))
        elif not isinstance(name, str) or len(name.split(".")) < 3:
            errs.append(invalid_value(f"{path}.name", name, "should be a domain with at least three segments "
                                                            "separated by dots"))
        elif name in seen:
            errs.append(duplicate(f"{path}.name", name))
        else:
            seen.add(name)
        errs += _client_config(hook.get("clientConfig"), f"{path}.clientConfig")
        versions = hook.get("admissionReviewVersions")
        if not versions:
            errs.append(required(f"{path}.admissionReviewVersions",
                                 "must specify one of " + ", ".join(_REVIEW_VERSIONS)))
        elif not isinstance(versions, list) or not any(v in _REVIEW_VERSIONS for v in versions):
            errs.append(invalid_value(f"{path}.admissionReviewVersions", versions,
                                      "must include at least one of " + ", ".join(_REVIEW_VERSIONS)))
        effects = hook.get("sideEffects")
        if effects is None:
            errs.append(required(f"{path}.sideEffects", "must specify one of " + ", ".join(_SIDE_EFFECTS)))
        elif effects not in _SIDE_EFFECTS:
            errs.append(not_supported(f"{path}.sideEffects", effects, _SIDE_EFFECTS))
        if hook.get("failurePolicy") not in ("Fail", "Ignore"):
            errs.append(not_supported(f"{path}.failurePolicy", hook.get("failurePolicy"), ("Fail", "Ignore")))
        timeout = hook.get("timeoutSeconds")
        if not isinstance(timeout, int) or not 1 <= timeout <= 30:
            errs.append(invalid_value(f"{path}.timeoutSeconds", timeout,
                                      "the timeout value must be between 1 and 30 seconds"))
        if "reinvocationPolicy" in hook and hook["reinvocationPolicy"] not in ("Never", "IfNeeded"):
            errs.append(not_supported(f"{path}.reinvocationPolicy", hook["reinvocationPolicy"], ("Never", "IfNeeded")))
        errs += _match_conditions(hook.get("matchConditions"), f"{path}.matchConditions")
        rules = hook.get("rules")
        for j, rule in enumerate(rules if isinstance(rules, list) else []):
            if isinstance(rule, dict) and rule.get("scope") not in ("Cluster", "Namespaced", "*"):
                errs.append(not_supported(f"{path}.rules[{j}].scope", rule.get("scope"),
                                          ("Cluster", "Namespaced", "*")))
    return errs


def _match_conditions(conditions: object, path: str) -> Errors:
    if conditions is None:
        return []
    if not isinstance(conditions, list):
        return [invalid_value(path, conditions, "must be a list")]
    if len(conditions) > matchconditions.MAX_CONDITIONS:
        return [too_many(path, len(conditions), matchconditions.MAX_CONDITIONS)]
    errs: Errors = []
    names: set[str] = set()
    for i, condition in enumerate(conditions):
        here = f"{path}[{i}]"
        name = condition.get("name") if isinstance(condition, dict) else None
        expression = condition.get("expression") if isinstance(condition, dict) else None
        if not name:
            errs.append(required(f"{here}.name"))
        elif name in names:
            errs.append(duplicate(f"{here}.name", name))
        else:
            names.add(str(name))
        if not expression:
            errs.append(required(f"{here}.expression"))
        elif (why := matchconditions.compile_error(str(expression))) is not None:
            errs.append(invalid_value(f"{here}.expression", expression, why))
    return errs


def _client_config(config: object, path: str) -> Errors:
    if not isinstance(config, dict) or bool(config.get("url")) == bool(config.get("service")):
        return [required(path, "exactly one of url or service is required")]
    url = config.get("url")
    if url is not None and (not isinstance(url, str) or not url.startswith("https://")):
        return [invalid_value(f"{path}.url", url, "'https' is the only allowed URL scheme")]
    service = config.get("service")
    if isinstance(service, dict):
        errs: Errors = []
        for key in ("namespace", "name"):
            if not service.get(key):
                errs.append(required(f"{path}.service.{key}"))
        port = service.get("port")
        if not isinstance(port, int) or not 1 <= port <= 65535:
            errs.append(invalid_value(f"{path}.service.port", port, "port is not valid: must be between 1 "
                                                                    "and 65535, inclusive"))
        return errs
    return []

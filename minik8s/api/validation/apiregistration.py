"""Validation of APIServices (``apiregistration.k8s.io/v1``), after upstream's ``ValidateAPIService``:
the name is ``<version>.<group>``, the priorities are in range, and a remote one names its Service
and says how to trust it (``caBundle`` or ``insecureSkipTLSVerify``, not both).

Interface: ``_apiservice(obj) -> Errors`` (dispatched by :func:`minik8s.api.validation.validate`).
Taught in chapter 2 (architecture: extending the API).
"""

from __future__ import annotations

from minik8s.api.errors import invalid_value, required
from minik8s.api.validation.fields import Errors, Obj


def _apiservice(obj: Obj) -> Errors:
    found = obj.get("spec")
    spec: Obj = found if isinstance(found, dict) else {}
    errs: Errors = []
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    wanted = f"{spec.get('version', '')}.{spec.get('group', '')}"
    if name != wanted:
        errs.append(invalid_value("metadata.name", name, f'must be `spec.version+"."+spec.group`: "{wanted}"'))
    if not spec.get("version"):
        errs.append(required("spec.version"))
    for key, top in (("groupPriorityMinimum", 20000), ("versionPriority", 1000)):
        value = spec.get(key)
        if not isinstance(value, int) or not 0 < value <= top:
            errs.append(invalid_value(f"spec.{key}", value, f"must be positive and less than {top}"))
    service = spec.get("service")
    if isinstance(service, dict):
        for key in ("namespace", "name"):
            if not service.get(key):
                errs.append(required(f"spec.service.{key}"))
        if spec.get("insecureSkipTLSVerify") and spec.get("caBundle"):
            errs.append(invalid_value("spec.insecureSkipTLSVerify", True,
                                      "may not be true if caBundle is present"))
    else:
        if spec.get("caBundle"):
            errs.append(invalid_value("spec.caBundle", f"{len(str(spec['caBundle'])) * 3 // 4} bytes",
                                      "local APIServices may not have a caBundle"))
        if spec.get("insecureSkipTLSVerify"):
            errs.append(invalid_value("spec.insecureSkipTLSVerify", True,
                                      "local APIServices may not have insecureSkipTLSVerify"))
    return errs

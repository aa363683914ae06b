"""Generate ``minik8s/api/schema.json`` from the official ``kubernetes`` Python client.

The client ships one model class per API type (``V1Pod``, ``V1PodSpec``, ...). Each
class lists its attributes with a type string (``openapi_types``) and the JSON name
of each attribute (``attribute_map``). That is the OpenAPI schema of the API, in a
form we can walk without a network. This tool walks every model reachable from the
kinds minik8s serves and writes a compact JSON file that ``minik8s.api.schema``
loads at run time, so the server itself does not depend on the client package.

Output shape::

    {"roots": {"v1/Pod": "V1Pod", "apps/v1/Deployment": "V1Deployment", ...},
     "models": {"V1Pod": {"apiVersion": "string", "metadata": "V1ObjectMeta", ...},
                "V1Container": {"ports": "[]V1ContainerPort", ...}, ...}}

Type names: ``string``, ``integer``, ``number``, ``boolean``, ``date-time``,
``int-or-string``, ``quantity``, ``bytes`` (base64 in JSON), ``object`` (free form),
``[]T``, ``map[string]T`` or a model name.

Run: ``python tools/gen_schema.py`` (rewrites the file; commit the result).
"""

from __future__ import annotations

import json
import re
import sys
import typing
from pathlib import Path

import kubernetes.client.models as models

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minik8s.api.resources import RESOURCES  # noqa: E402

OUT = ROOT / "minik8s" / "api" / "schema.json"

# Kinds that are not in the registry but travel over the wire (request bodies,
# subresources, error bodies).
EXTRA_ROOTS = {
    "v1/Status": "V1Status",
    "v1/DeleteOptions": "V1DeleteOptions",
    "meta.k8s.io/v1/DeleteOptions": "V1DeleteOptions",
    "v1/Binding": "V1Binding",
    "policy/v1/Eviction": "V1Eviction",
    "autoscaling/v1/Scale": "V1Scale",
}

# Resource amounts are typed ``resource.Quantity`` upstream; the client flattens
# them to ``str`` (or ``Dict[str, str]``), so they are named here explicitly.
QUANTITY_FIELDS = {
    ("V1ResourceRequirements", "limits"), ("V1ResourceRequirements", "requests"),
    ("V1VolumeResourceRequirements", "limits"), ("V1VolumeResourceRequirements", "requests"),
    ("V1NodeStatus", "capacity"), ("V1NodeStatus", "allocatable"),
    ("V1ResourceQuotaSpec", "hard"), ("V1ResourceQuotaStatus", "hard"), ("V1ResourceQuotaStatus", "used"),
    ("V1LimitRangeItem", "max"), ("V1LimitRangeItem", "min"), ("V1LimitRangeItem", "default"),
    ("V1LimitRangeItem", "defaultRequest"), ("V1LimitRangeItem", "maxLimitRequestRatio"),
    ("V1PersistentVolumeSpec", "capacity"), ("V1PersistentVolumeClaimStatus", "capacity"),
    ("V1PersistentVolumeClaimStatus", "allocatedResources"), ("V1ContainerStatus", "allocatedResources"),
    ("V1EmptyDirVolumeSource", "sizeLimit"), ("V2MetricTarget", "value"), ("V2MetricTarget", "averageValue"),
    ("V2MetricValueStatus", "value"), ("V2MetricValueStatus", "averageValue"),
    ("V1PodSpec", "overhead"),
}

_LIST = re.compile(r"^List\[(.+)\]$")
_DICT = re.compile(r"^Dict\[str, (.+)\]$")


def _is_int_or_string(cls: type, attr: str) -> bool:
    """IntOrString fields are ``object`` in openapi_types but ``int | str`` for pydantic."""
    annotation = cls.model_fields[attr].annotation  # type: ignore[attr-defined]
    args = {getattr(a, "__origin__", a) for a in typing.get_args(annotation)}
    return int in args and str in args


def _normalize(type_string: str, refs: list[str]) -> str:
    if match := _LIST.match(type_string):
        return "[]" + _normalize(match.group(1), refs)
    if match := _DICT.match(type_string):
        return "map[string]" + _normalize(match.group(1), refs)
    simple = {"str": "string", "int": "integer", "float": "number", "bool": "boolean",
              "datetime": "date-time", "date": "string", "object": "object", "bytes": "bytes"}
    if type_string in simple:
        return simple[type_string]
    if not hasattr(models, type_string):
        raise SystemExit(f"unknown client type {type_string!r}")
    refs.append(type_string)
    return type_string


def _model(name: str, refs: list[str]) -> dict[str, str]:
    cls = getattr(models, name)
    fields: dict[str, str] = {}
    for attr, type_string in cls.openapi_types.items():
        json_name = cls.attribute_map[attr]
        kind = _normalize(type_string, refs)
        if kind == "object" and _is_int_or_string(cls, attr):
            kind = "int-or-string"
        if (name, json_name) in QUANTITY_FIELDS:
            kind = kind[: -len("string")] + "quantity"  # the element type, not the key
        fields[json_name] = kind
    return fields


def _root_model(api_version: str, kind: str) -> str:
    version = api_version.rsplit("/", 1)[-1].capitalize()
    # A kind served by two groups is prefixed by its group's first word: CoreV1Event, EventsV1Event.
    group = api_version.rpartition("/")[0].split(".")[0].capitalize() or "Core"
    for candidate in (f"{version}{kind}", f"{group}{version}{kind}", f"Core{version}{kind}"):
        if hasattr(models, candidate):
            return candidate
    raise SystemExit(f"no client model for {api_version} {kind}")


def generate() -> dict[str, object]:
    roots = {f"{r.api_version}/{r.kind}": _root_model(r.api_version, r.kind) for r in RESOURCES}
    roots.update(EXTRA_ROOTS)
    result: dict[str, dict[str, str]] = {}
    todo = sorted(set(roots.values()))
    while todo:
        name = todo.pop()
        if name in result:
            continue
        refs: list[str] = []
        result[name] = _model(name, refs)
        todo.extend(r for r in refs if r not in result)
    return {"roots": roots, "models": dict(sorted(result.items()))}


def write(schema: dict[str, object], path: Path = OUT) -> None:
    """One line per model keeps the file diffable and small."""
    lines = ["{", '"roots": ' + json.dumps(schema["roots"], sort_keys=True) + ",", '"models": {']
    items = list(schema["models"].items())  # type: ignore[attr-defined]
    for i, (name, fields) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(fields, separators=(',', ':'))}{comma}")
    lines += ["}", "}"]
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    write(generate())
    print(f"wrote {OUT}")

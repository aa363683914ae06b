"""Generate ``minik8s/api/openapi_definitions.json.gz``: upstream Kubernetes v1.32's OpenAPI schemas
for the kinds minik8s serves, in OpenAPI v3 form, for ``/openapi/v3`` (``kubectl explain``, clients that
generate models, schema tools).

The schemas are upstream's, not ours: they come from the ``kubernetes-validate`` package on PyPI, which
ships upstream's OpenAPI definitions per Kubernetes release rendered as JSON Schema. This script turns
them back into OpenAPI v3 components as kube-apiserver publishes them:

* ``"type": ["string", "null"]`` (JSON Schema's nullable) becomes ``"type": "string"``;
* references point at ``#/components/schemas/<name>``, and a reference with its own description is
  wrapped as ``{"allOf": [{"$ref": ...}], "description": ...}``, as upstream's v3 documents do;
* only the definitions reachable from a served kind are kept.

Usage: python tools/gen_openapi.py [WHEEL_OR_DEFINITIONS_JSON]   (default: pip download the wheel)
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from minik8s.api import resources  # noqa: E402
from minik8s.apiserver import discovery  # noqa: E402

PACKAGE = "kubernetes-validate==1.37.0"
MEMBER = "kubernetes_validate/kubernetes-json-schema/v1.32.0-local/_definitions.json"
OUT = ROOT / "minik8s" / "api" / "openapi_definitions.json.gz"


def _load(source: str | None) -> dict[str, Any]:
    if source and source.endswith(".json"):
        return json.loads(Path(source).read_text())["$defs"]
    if source is None:
        folder = tempfile.mkdtemp()
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", PACKAGE, "-d", folder], check=True)
        source = str(next(Path(folder).glob("*.whl")))
    with zipfile.ZipFile(source) as wheel:
        return json.loads(wheel.read(MEMBER))["$defs"]


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    one_of = [_convert(o) for o in node.get("oneOf", [])]
    if one_of and all(set(o) == {"type"} and isinstance(o["type"], str) for o in one_of):
        # IntOrString and Quantity, typed as upstream's OpenAPI types them
        kinds = {o["type"] for o in one_of}
        rest = {k: _convert(v) for k, v in node.items() if k != "oneOf"}
        return {**rest, "type": "string", **({"format": "int-or-string"} if "integer" in kinds else {})}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type" and isinstance(value, list):
            kinds = [v for v in value if v != "null"]
            out["type"] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "$ref" and isinstance(value, str):   # (JSONSchemaProps has a property named $ref)
            out["$ref"] = "#/components/schemas/" + value.rsplit("/", 1)[-1]
        else:
            out[key] = _convert(value)
    if isinstance(out.get("$ref"), str) and len(out) > 1:   # upstream's v3 form for a described reference
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def main() -> None:
    defs = _load(sys.argv[1] if len(sys.argv) > 1 else None)
    by_gvk = discovery.by_group_version_kind(defs)
    wanted = set()
    for res in resources.RESOURCES:
        for kind in (res.kind, res.kind + "List"):
            if (res.group, res.version, kind) in by_gvk:
                wanted.add(by_gvk[(res.group, res.version, kind)])
    for extra in ("Status", "DeleteOptions", "APIResourceList", "WatchEvent", "Scale", "Eviction", "Binding",
                  "TokenRequest", "Table"):
        wanted |= {name for name in defs if name.rsplit(".", 1)[-1] == extra}
    kept = {name: _convert(schema) for name, schema in discovery.with_references(defs, wanted).items()}
    # apiVersion/kind carry an enum in the JSON Schema rendering only: upstream's schemas have none
    for schema in kept.values():
        for field in ("apiVersion", "kind"):
            (schema.get("properties") or {}).get(field, {}).pop("enum", None)
    data = json.dumps(kept, sort_keys=True, separators=(",", ":")).encode()
    OUT.write_bytes(gzip.compress(data, mtime=0))
    print(f"{len(kept)} definitions, {len(data):,} bytes of JSON, {OUT.stat().st_size:,} gzipped -> {OUT}")


if __name__ == "__main__":
    main()

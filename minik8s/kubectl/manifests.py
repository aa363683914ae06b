"""Reading manifests for ``-f``: files, directories, ``-`` (stdin), multi-document YAML and Lists.

kubectl accepts YAML or JSON, several documents separated by ``---``, and
``kind: List`` objects whose ``items`` are each applied. Every object keeps the
name of the file it came from, because kubectl's messages name it
(``error when creating "nginx.yaml": ...``). Text is parsed by
:mod:`minik8s.api.parsing`, with the same bounds as the API server's (size, depth,
alias expansion), so a hostile manifest cannot hang or exhaust kubectl either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minik8s.api import parsing

EXTENSIONS = (".yaml", ".yml", ".json")
# The largest manifest file or stdin read (its documents are each bounded as request bodies are).
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class ManifestError(Exception):
    """A manifest that cannot be read; the message is what kubectl prints after ``error: ``."""


@dataclass
class Manifest:
    source: str  # the file name as given, or "STDIN"
    obj: dict[str, Any]


def _documents(text: str, source: str) -> list[Manifest]:
    try:
        # A manifest file may hold many objects: the size bound is per document, not per file.
        docs = parsing.safe_load_all(text, max_bytes=MAX_MANIFEST_BYTES)
    except parsing.ParseError as exc:
        raise ManifestError(f"error parsing {source}: error converting YAML to JSON: {exc}") from None
    found: list[Manifest] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError(f'error validating "{source}": error validating data: invalid object to validate')
        if not doc.get("kind"):
            raise ManifestError(f'unable to decode "{source}": Object \'Kind\' is missing in \'{_compact(doc)}\'')
        if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
            for item in doc.get("items") or []:
                if isinstance(item, dict):
                    found.append(Manifest(source, item))
            continue
        found.append(Manifest(source, doc))
    return found


def _compact(doc: Any) -> str:
    import json

    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def read(filenames: list[str], stdin: str | None, recursive: bool = False) -> list[Manifest]:
    manifests: list[Manifest] = []
    for name in filenames:
        if name == "-":
            manifests.extend(_documents(stdin or "", "STDIN"))
            continue
        path = Path(name)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            files = sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix in EXTENSIONS)
            for file in files:
                manifests.extend(_documents(file.read_text(), str(file)))
            continue
        if not path.exists():
            raise ManifestError(f'the path "{name}" does not exist')
        manifests.extend(_documents(path.read_text(), name))
    if not manifests:
        raise ManifestError("no objects passed to apply" if filenames else "must specify one of -f and -k")
    return manifests

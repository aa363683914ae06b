"""A griffe extension that lets minik8s's plain-text docstrings render well in the API reference.

Concept: minik8s docstrings are written to be read in the source, as plain text
(STYLE.md: "Docstrings are the API reference"). Two habits of that style do not
survive Markdown, which mkdocstrings renders docstrings with:

* an indented block under a line ending in ``:`` (``Interface:`` followed by
  signatures, one per line) would be joined into one paragraph;
* Sphinx roles such as ``:class:`Client``` would print the role's name.

And one habit of packages: an ``__init__.py`` re-exports names from its own
submodules (``from minik8s.kubelet.kubelet import Kubelet``) for convenience.
Those are documented where they are defined; listing them again under the
package would show every class twice.

Interface: mkdocstrings loads this file through the ``extensions`` option of its
Python handler (see ``mkdocs.yml``); griffe calls ``on_object`` for every object
once the package is loaded, and the extension rewrites ``obj.docstring.value``
before the docstring is parsed.

Invariants: the source files are never changed; a re-export is hidden only when
its target lives inside the same package; Google-style sections that griffe
understands (``Args:``, ``Returns:``, ``Raises:``, ...) are left alone; text outside
the rewritten blocks is unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Module, Object

# Section titles griffe's Google-style parser turns into parameter tables etc.; blocks under them stay as they are.
GOOGLE_SECTIONS = {
    "args", "arguments", "params", "parameters", "keyword args", "keyword arguments", "other args",
    "other arguments", "other params", "other parameters", "raises", "exceptions", "returns", "yields",
    "receives", "examples", "example", "attributes", "functions", "methods", "classes", "modules",
    "warns", "warnings", "warning", "note", "notes", "type aliases", "type parameters",
}
ROLE = re.compile(r":(?:py:)?(?:mod|class|func|meth|attr|data|exc|obj|const|ref):`~?([^`]+)`")
# Turn only a block indented at least this much more than its heading line into code.
CODE_INDENT = 4


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_heading(line: str) -> bool:
    text = line.strip()
    if not text.endswith(":") or text.startswith(("*", "-", "```")):
        return False
    return text[:-1].strip().lower() not in GOOGLE_SECTIONS


def fence_indented_blocks(text: str) -> str:
    """Put each indented block that directly follows a ``...:`` line into a fenced code block."""
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not _is_heading(line):
            continue
        base = _indent(line)
        block_end = i
        while block_end < len(lines) and (
            not lines[block_end].strip() or _indent(lines[block_end]) >= base + CODE_INDENT
        ):
            block_end += 1
        # Trailing blank lines belong after the block, not in it.
        while block_end > i and not lines[block_end - 1].strip():
            block_end -= 1
        # Only a block that starts right under the heading: after a blank line Markdown already shows code.
        if block_end == i or not lines[i].strip():
            continue
        block = lines[i:block_end]
        cut = min(_indent(b) for b in block if b.strip())
        pad = " " * base
        out += [""] + [pad + "```python"] + [pad + b[cut:] if b.strip() else "" for b in block] + [pad + "```"]
        i = block_end
    return "\n".join(out)


def plain_roles(text: str) -> str:
    """``:class:`Client``` → ```Client```: the name as code, without the Sphinx role."""
    return ROLE.sub(lambda m: f"`{m.group(1)}`", text)


class PlainTextDocstrings(Extension):
    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if not obj.is_alias and obj.docstring is not None:
            obj.docstring.value = fence_indented_blocks(plain_roles(obj.docstring.value))

    def on_package(self, *, pkg: Module, **kwargs: Any) -> None:
        # Runs once the whole package is loaded. on_object is not called for the top package itself.
        if pkg.docstring is not None:
            pkg.docstring.value = fence_indented_blocks(plain_roles(pkg.docstring.value))
        hide_own_reexports(pkg)


def hide_own_reexports(package: Module) -> None:
    """Mark names a package imports from its own submodules as not public (they have their own section)."""
    for member in package.members.values():
        if member.is_alias and member.target_path.startswith(package.path + "."):
            member.public = False
    for module in package.modules.values():
        if not module.is_alias:
            hide_own_reexports(module)

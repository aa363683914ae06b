"""MkDocs hooks for the book's site: lab notebooks as pages, and a navigation that grows with the book.

Concept: the site is built from three places. ``docs/`` holds the book (Markdown),
``labs/`` holds one Jupyter notebook per chapter, and ``minik8s/`` holds the
code whose docstrings become the API reference. MkDocs only reads ``docs/``, so
this hook brings the notebooks in, and lets ``mkdocs.yml`` name chapters and labs
that are not written yet.

Interface (MkDocs calls these; see ``hooks:`` in ``mkdocs.yml``):
    on_config   drops nav entries whose page does not exist yet (the nav lists the
                whole planned book; a chapter appears as soon as its file lands)
    on_files    adds every ``labs/*.ipynb`` as the page ``labs/<name>.ipynb``;
                mkdocs-jupyter then renders it from its committed outputs
    on_page_markdown completes each API reference page: a page whose front matter
                lists ``modules:`` patterns gets a ``::: module`` section for every module
                of the package that matches and is not on the page yet, so a new module
                shows up in the reference without editing the page; a ``:::`` line for a
                module that was moved or renamed is dropped (and logged)
    on_page_content  on every lab page: checks and rewrites the notebook's own links (see
                below), records the page's anchors so links *to* them are checked too, and
                puts a "download this notebook" button on it
    on_serve    makes ``mkdocs serve`` rebuild when a notebook changes

Module patterns (front matter ``modules:`` of a reference page): ``minik8s.kubelet.**``
is that package and every module below it; ``minik8s.*`` is the package and the plain
modules directly in it (``minik8s.cluster``), not its subpackages. Sections already on
the page keep their place and order; the hook appends the rest, sorted by name.

Links in a lab notebook: mkdocs checks and rewrites the links of Markdown pages only;
mkdocs-jupyter copies a notebook's links into the page as written. So the hook does it
for notebooks: a relative link or image in a notebook may name a page or file the way a
chapter would (``../chapters/04-pods.md#probes``, relative to ``docs/``) or the way
it works in Jupyter from ``labs/`` (``../docs/chapters/04-pods.md``); either becomes the
site's URL, its anchor is checked like a chapter's, and a target that exists in neither
place is a warning, which fails ``mkdocs build --strict``.

Invariants: only ``*.ipynb`` files directly in ``labs/`` become pages (helper
modules, solutions and data files next to them stay out of the site); a nav entry
is dropped only if its file is missing, so a mistyped entry for a file that does
exist still fails ``mkdocs build --strict`` (the file is then "not in the nav").
Why a hook and not a ``docs/labs`` symlink: a symlink would also pull every other
file of ``labs/`` into the site, and symlinks are fragile on some checkouts.
"""

from __future__ import annotations

import html as html_lib
import logging
import os
import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

log = logging.getLogger("mkdocs.hooks.minik8s")

LABS_DIR = "labs"  # relative to the folder of mkdocs.yml
PACKAGE = "minik8s"  # the package the API reference documents, a folder next to mkdocs.yml
PAGE_SUFFIXES = (".md", ".ipynb")  # nav entries ending so are pages this hook can check

# Material's "download" icon (Material Design Icons, Apache-2.0), inlined so the button needs no font or CDN.
_DOWNLOAD_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" aria-hidden="true">'
    '<path d="M5 20h14v-2H5m14-9h-4V3H9v6H5l7 7 7-7Z"/></svg>'
)


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _exists(config: MkDocsConfig, uri: str) -> bool:
    """Whether the page ``uri`` of the nav exists, in docs/ or (for labs) in labs/."""
    if (Path(config.docs_dir) / uri).is_file():
        return True
    return uri.startswith(LABS_DIR + "/") and (_root(config) / uri).is_file()


def _prune(items: list[Any], config: MkDocsConfig, missing: list[str]) -> list[Any]:
    """The nav without entries whose page is missing; sections left empty go too."""
    kept: list[Any] = []
    for item in items:
        if isinstance(item, dict):
            (title, value), = item.items()
            if isinstance(value, list):
                value = _prune(value, config, missing)
                if value:
                    kept.append({title: value})
                continue
            item_uri = value
        else:
            item_uri = item
        is_local_page = isinstance(item_uri, str) and "://" not in item_uri and item_uri.endswith(PAGE_SUFFIXES)
        if is_local_page and not _exists(config, item_uri):
            missing.append(item_uri)
            continue
        kept.append(item)
    return kept


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    if config.nav:
        missing: list[str] = []
        config.nav = _prune(config.nav, config, missing)
        if missing:
            log.info("Not written yet, left out of the nav: %s", ", ".join(missing))
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns notebooks into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    labs = _root(config) / LABS_DIR
    if not labs.is_dir():
        return files
    for notebook in sorted(labs.glob("*.ipynb")):
        uri = f"{LABS_DIR}/{notebook.name}"
        if files.get_file_from_path(uri) is None:
            # A plain File rooted at the repository (not File.generated): mkdocs-jupyter's wrapper
            # finds the notebook through src_dir, which generated files do not have.
            files.append(File(uri, str(_root(config)), config.site_dir, config.use_directory_urls))
    return files


def package_modules(root: Path, package: str = PACKAGE) -> dict[str, bool]:
    """Every module of ``package`` under ``root`` (dotted name → is it a package).

    Left out: ``__main__``, empty files, and files in folders without an ``__init__.py``
    (scripts such as the teaching images' programs, which are not part of the package's API
    and which griffe, following Python's import rules for regular packages, does not load).
    """
    modules: dict[str, bool] = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        folders = [root.joinpath(*parts[:i]) for i in range(1, len(parts))]
        if not all((folder / "__init__.py").is_file() for folder in folders):
            continue
        if not path.read_text(encoding="utf-8").strip():
            continue  # an empty __init__.py: nothing to document
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        modules[".".join(parts)] = is_package
    return modules


def matches(pattern: str, module: str, is_package: bool) -> bool:
    """Whether ``module`` is covered by a ``modules:`` pattern (see the module docstring)."""
    if pattern.endswith(".**"):
        base = pattern[:-3]
        return module == base or module.startswith(base + ".")
    if pattern.endswith(".*"):
        base = pattern[:-2]
        if module == base:
            return True
        return module.startswith(base + ".") and "." not in module[len(base) + 1:] and not is_package
    return module == pattern


def documented_on(markdown: str) -> list[str]:
    """The modules and objects a page already renders with ``::: name`` lines, in order."""
    return [line[4:].strip() for line in markdown.splitlines() if line.startswith("::: ")]


def drop_vanished(markdown: str, modules: dict[str, bool]) -> tuple[str, list[str]]:
    """Remove ``::: name`` lines for modules that no longer exist (moved or renamed); return them too.

    A line naming an object in an existing module (``::: minik8s.store.Store``) stays.
    """
    kept, gone = [], []
    for line in markdown.splitlines():
        name = line[4:].strip() if line.startswith("::: ") else ""
        if name.startswith(PACKAGE) and name not in modules and name.rpartition(".")[0] not in modules:
            gone.append(name)
            continue
        kept.append(line)
    return "\n".join(kept), gone


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    patterns = page.meta.get("modules")
    if not patterns:
        return markdown
    modules = package_modules(_root(config))
    markdown, gone = drop_vanished(markdown, modules)
    if gone:
        # Not a warning: the module's new name is added below if this page's patterns cover it.
        log.info("%s: no such module any more, left out: %s", page.file.src_uri, ", ".join(gone))
    present = set(documented_on(markdown))
    extra = [
        name for name, is_package in modules.items()
        if name not in present and any(matches(p, name, is_package) for p in patterns)
    ]
    return markdown.rstrip("\n") + "".join(f"\n\n::: {name}" for name in extra) + "\n"


class _Anchors(HTMLParser):
    """The ids of a page's elements (and ``<a name>``): what a link's ``#anchor`` may point at."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value and (key == "id" or (key == "name" and tag == "a")):
                self.ids.add(value)


# href="..." or src="..." in the notebook's HTML (Markdown cells and outputs).
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


def _notebook_link_target(path: str, files: Files) -> File | None:
    """The site's file that a notebook's relative link ``path`` names (see the module docstring)."""
    in_docs = posixpath.normpath(posixpath.join(LABS_DIR, path))  # as a chapter in docs/ would write it
    in_repo = in_docs[len("docs/"):] if in_docs.startswith("docs/") else None  # as Jupyter in labs/ resolves it
    for candidate in (in_docs, in_repo):
        if candidate and not candidate.startswith("../"):
            found = files.get_file_from_path(candidate)
            if found is not None:
                return found
    return None


def fix_notebook_links(html: str, page: Page, files: Files) -> str:
    """Rewrite a lab page's relative links to the site's URLs; warn about those that lead nowhere."""
    src = page.file.src_uri

    def replace(match: re.Match[str]) -> str:
        url = html_lib.unescape(match.group(2))
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or url.startswith(("#", "/")) or not parts.path:
            return match.group(0)  # another site, this page, a data: URI, or an absolute path (mkdocs warns)
        target = _notebook_link_target(unquote(parts.path), files)
        if target is None:
            log.warning("Doc file '%s' contains a link '%s', but the target is not found among documentation "
                        "files (write it as from docs/, e.g. ../chapters/04-pods.md).", src, url)
            return match.group(0)
        new = get_relative_url(target.url, page.file.url)
        if parts.fragment:
            new += "#" + parts.fragment
            if target.page is not None:  # checked with the chapters' anchors once every page is built
                if page.links_to_anchors is None:
                    page.links_to_anchors = {}
                page.links_to_anchors.setdefault(target, {}).setdefault(parts.fragment, url)
        return match.group(1) + html_lib.escape(new) + match.group(3)

    return _URL_ATTR.sub(replace, html)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    src = page.file.src_uri
    if not (src.startswith(LABS_DIR + "/") and src.endswith(".ipynb")):
        return html
    html = fix_notebook_links(html, page, files)
    # mkdocs-jupyter renders the notebook itself, so mkdocs never learns its anchors: without them
    # a chapter's link to a missing anchor of a lab (labs/04-pods.ipynb#nope) would pass unchecked.
    anchors = _Anchors()
    anchors.feed(html)
    anchors.close()
    page.present_anchor_ids = anchors.ids
    # mkdocs-jupyter (include_source) copies the notebook next to the page's index.html.
    name = os.path.basename(src)
    button = (
        f'<a href="{name}" download class="md-content__button md-icon" '
        f'title="Download this notebook ({name})">{_DOWNLOAD_ICON}</a>'
    )
    # mkdocs-jupyter leaves an empty MathJax loader (`<script src="">`, as no MathJax URL is configured:
    # the default would be a CDN). It loads nothing; drop it so the page has no dangling script tag.
    html = html.replace('<script src=""> </script>', "")
    return button + html


def on_serve(server: Any, config: MkDocsConfig, builder: Any) -> Any:
    labs = _root(config) / LABS_DIR
    if labs.is_dir():
        server.watch(str(labs))
    return server

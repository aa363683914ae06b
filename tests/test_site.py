"""The book's site: it builds with ``mkdocs build --strict``, and every page works in a real browser.

What a reader would hit is checked in headless Chromium (tools/site_check.py): no
console errors, no request to any host but the local server (the site must work
with no network), no figure that fails to render, and a search that finds what
the book is about. The checker is itself tested on pages that are broken on
purpose, so a passing run means something. A lab notebook is rendered from a
throwaway copy of the project, to prove labs become pages with a download link.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import site_check  # noqa: E402 - tools/ is not a package

HAVE_MKDOCS = importlib.util.find_spec("mkdocs") is not None
# A strict build of the whole book (twenty chapters, their labs rendered) takes about a minute on an idle
# machine and several when other tests share its two cores: more than the suite's 120 s default.
pytestmark = pytest.mark.timeout(600)
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
HAVE_CHROMIUM = Path(site_check.CHROMIUM).exists()

needs_mkdocs = pytest.mark.skipif(
    not HAVE_MKDOCS, reason="mkdocs is not installed (pip install -r requirements-docs.txt)"
)
needs_browser = pytest.mark.skipif(
    not (HAVE_PLAYWRIGHT and HAVE_CHROMIUM),
    reason=f"needs the playwright package and Debian's Chromium at {site_check.CHROMIUM} (apt-get install chromium)",
)


def build(project: Path, site_dir: Path) -> str:
    """``mkdocs build --strict`` of ``project`` into ``site_dir``; fails the test with mkdocs' output."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")  # Material's banner about MkDocs 2 is not a problem here
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    return output


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not HAVE_MKDOCS:
        pytest.skip("mkdocs is not installed (pip install -r requirements-docs.txt)")
    site_dir = tmp_path_factory.mktemp("site")
    build(ROOT, site_dir)
    return site_dir


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (HAVE_PLAYWRIGHT and HAVE_CHROMIUM):
        pytest.skip(f"needs the playwright package and Chromium at {site_check.CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = site_check.launch_chromium(playwright)
        yield chromium
        chromium.close()


# --- the real site ---------------------------------------------------------------------------------


@needs_mkdocs
def test_site_has_the_book_frame(site: Path) -> None:
    for page in ["index.html", "labs/index.html", "chapters/index.html", "reference/index.html"]:
        assert (site / page).is_file(), page
    home = (site / "index.html").read_text()
    assert "minik8s — a Kubernetes textbook that runs" in home
    assert 'href="labs/"' in home  # the nav and the text link "Run the labs"
    assert (site / "search" / "search_index.json").is_file()


@needs_mkdocs
def test_reference_is_rendered_from_docstrings(site: Path) -> None:
    store = (site / "reference" / "store" / "index.html").read_text()
    assert 'id="minik8s.store"' in store
    assert "optimistic concurrency" in store  # from the store module's docstring
    assert 'id="minik8s.store.Store"' in store
    # tools/griffe_plaintext.py turned the docstring's indented "Interface" block into code.
    assert '<div class="language-python highlight">' in store
    client = (site / "reference" / "client" / "index.html").read_text()
    assert ":class:" not in client  # Sphinx roles printed as plain code names


def _load_hooks() -> Any:
    spec = importlib.util.spec_from_file_location("mkdocs_hooks_under_test", ROOT / "tools" / "mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    return hooks


@needs_mkdocs
def test_reference_covers_every_module() -> None:
    """Every module of the package lands on a reference page (a new package needs a page or a pattern)."""
    import yaml

    hooks = _load_hooks()
    claimed: set[str] = set()
    patterns: list[str] = []
    for page in (ROOT / "docs" / "reference").glob("*.md"):
        text = page.read_text()
        claimed |= set(hooks.documented_on(text))
        if text.startswith("---\n"):
            patterns += yaml.safe_load(text.split("---\n")[1]).get("modules", [])
    modules = hooks.package_modules(ROOT)
    missing = [
        name for name, is_package in modules.items()
        if name not in claimed and not any(hooks.matches(p, name, is_package) for p in patterns)
    ]
    assert "minik8s.store" in modules and "minik8s.cluster" in modules
    assert not missing, f"modules on no page of docs/reference/ (add a page or a modules: pattern): {missing}"


def test_module_patterns() -> None:
    if not HAVE_MKDOCS:
        pytest.skip("mkdocs is not installed")
    matches = _load_hooks().matches
    assert matches("minik8s.kubelet.**", "minik8s.kubelet", True)
    assert matches("minik8s.kubelet.**", "minik8s.kubelet.runtimes.simulated", False)
    assert not matches("minik8s.kubelet.**", "minik8s.kubeletx", False)
    assert matches("minik8s.*", "minik8s", True)
    assert matches("minik8s.*", "minik8s.cluster", False)
    assert not matches("minik8s.*", "minik8s.controllers", True)  # a subpackage has its own page
    assert not matches("minik8s.*", "minik8s.controllers.manager", False)


@needs_mkdocs
@needs_browser
def test_every_page_works_in_the_browser(site: Path, browser: Any) -> None:
    pages = site_check.site_pages(site)
    assert "" in pages and "reference/store/" in pages and "chapters/" in pages
    with site_check.serve(site) as base_url:
        problems = site_check.check_pages(browser, base_url, pages)
    assert problems == []


@needs_mkdocs
@needs_browser
def test_search_finds_statefulsets(site: Path, browser: Any) -> None:
    with site_check.serve(site) as base_url:
        assert site_check.check_search(browser, base_url, "StatefulSet") == []


@needs_mkdocs
@needs_browser
def test_search_check_reports_a_search_that_finds_nothing(site: Path, browser: Any) -> None:
    with site_check.serve(site) as base_url:
        problems = site_check.check_search(browser, base_url, "zqxjvwordnotinthebook")
    assert len(problems) == 1 and "found nothing" in problems[0]


# --- the checker catches what it should ------------------------------------------------------------

BROKEN_PAGE = """<!doctype html>
<html><head><title>broken</title>
<script src="http://cdn.example.invalid/library.js"></script>
</head><body>
<img src="missing.svg" alt="missing file">
<img src="corrupt.svg" alt="not an SVG">
<img src="fine.svg" alt="fine">
<script>console.error("boom");</script>
</body></html>
"""
FINE_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'


@needs_browser
def test_checker_reports_cdn_requests_console_errors_and_broken_images(tmp_path: Path, browser: Any) -> None:
    (tmp_path / "index.html").write_text(BROKEN_PAGE)
    (tmp_path / "corrupt.svg").write_text("this is not svg")
    (tmp_path / "fine.svg").write_text(FINE_SVG)
    with site_check.serve(tmp_path) as base_url:
        problems = site_check.check_pages(browser, base_url, [""])
    text = "\n".join(problems)
    assert "request to another host: http://cdn.example.invalid/library.js" in text
    assert "console error: boom" in text
    assert "image did not render: missing.svg" in text
    assert "image did not render: corrupt.svg" in text
    assert "HTTP 404" in text and "missing.svg" in text
    assert "fine.svg" not in text


def test_site_pages_lists_pages_home_first(tmp_path: Path) -> None:
    for page in ["index.html", "b/index.html", "a/c/index.html", "assets/x/index.html", "search/index.html"]:
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("x")
    (tmp_path / "404.html").write_text("x")
    assert site_check.site_pages(tmp_path) == ["", "a/c/", "b/"]


# --- lab notebooks become pages --------------------------------------------------------------------


def _project_copy(dest: Path) -> Path:
    """The site's sources in ``dest`` (the package linked, not copied), with the labs' notebooks
    (chapters link to them); tests add or replace notebooks there."""
    dest.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", dest / "docs")
    shutil.copytree(ROOT / "tools", dest / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "minik8s").symlink_to(ROOT / "minik8s", target_is_directory=True)
    (dest / "labs").mkdir()
    for notebook in (ROOT / "labs").glob("*.ipynb"):
        shutil.copy(notebook, dest / "labs" / notebook.name)
    return dest


def _write_lab(path: Path, extra_markdown: str = "") -> None:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    table = "NAME   READY   STATUS    RESTARTS   AGE\nweb    1/1     Running   0          5s\n"
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            "# Lab 4: Pods\n\n## Create a pod\n\n"
            + "Read [the chapter](../chapters/04-pods.md#what-a-pod-is) (or, as Jupyter finds it, "
            + "[from labs/](../docs/chapters/04-pods.md)), [how to run labs](../labs.md#install) and "
            + "[the first lab](00-sample.ipynb#exercises); [Kubernetes](https://kubernetes.io/docs/)."
            + extra_markdown
        ),
        nbformat.v4.new_code_cell(
            "%kubectl get pods", execution_count=1,
            outputs=[nbformat.v4.new_output("stream", name="stdout", text=table)],
        ),
    ]
    nbformat.write(notebook, str(path))


@needs_mkdocs
@needs_browser
def test_lab_notebook_is_a_page_with_a_download_link(tmp_path: Path, browser: Any) -> None:
    project = _project_copy(tmp_path / "project")
    _write_lab(project / "labs" / "04-pods.ipynb")
    (project / "labs" / "helpers.py").write_text("# not a page\n")
    config = project / "mkdocs.yml"
    lab_entry = "          - 'Lab 4: Pods': labs/04-pods.ipynb\n"
    assert lab_entry in config.read_text()
    config.write_text(config.read_text().replace(lab_entry, lab_entry + "          - Planned: labs/99-planned.ipynb\n"))
    site_dir = tmp_path / "site"
    build(project, site_dir)

    page = (site_dir / "labs" / "04-pods" / "index.html").read_text()
    assert "Running" in page  # the committed output, not re-executed
    assert 'href="04-pods.ipynb" download' in page
    assert "<title>Lab 4: Pods - " in page  # the tab and the search results say which lab, not just "Lab"
    assert '<script src="">' not in page
    # the notebook's own links lead where they would in a chapter (mkdocs-jupyter copies them as written)
    assert 'href="../../chapters/04-pods/#what-a-pod-is"' in page
    assert 'href="../../chapters/04-pods/"' in page
    assert 'href="../#install"' in page  # docs/labs.md is the page labs/, one level up
    assert 'href="../00-sample/#exercises"' in page
    assert 'href="https://kubernetes.io/docs/"' in page
    assert (site_dir / "labs" / "04-pods" / "04-pods.ipynb").is_file()
    assert not (site_dir / "labs" / "helpers.py").exists()  # only notebooks come in
    home = (site_dir / "index.html").read_text()
    assert 'href="labs/04-pods/"' in home  # in the nav under "4 Pods"
    assert "labs/99-planned" not in home  # planned but not written: left out
    with site_check.serve(site_dir) as base_url:
        assert site_check.check_pages(browser, base_url, ["labs/04-pods/"]) == []


@needs_mkdocs
def test_strict_build_fails_on_broken_links_anchors_and_pages_left_out_of_the_nav(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    with open(project / "docs" / "index.md", "a") as page:
        page.write("\n[gone](no-such-page.md) and [no anchor](labs.md#no-such-heading)\n"
                   "[no anchor in a lab](labs/04-pods.ipynb#no-such-lab-heading)\n")
    (project / "docs" / "orphan.md").write_text("# Not in the nav\n")
    # a notebook's links are checked too (mkdocs itself checks Markdown pages only)
    _write_lab(project / "labs" / "04-pods.ipynb",
               "\n\n[gone from a lab](../chapters/no-such-chapter.md), "
               "[no anchor from a lab](../labs.md#no-such-section)")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=project, env=env, capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "no-such-page.md" in output
    assert "no-such-heading" in output
    assert "orphan.md" in output
    assert "'labs/04-pods.ipynb' does not contain an anchor '#no-such-lab-heading'" in output
    assert "Doc file 'labs/04-pods.ipynb' contains a link '../chapters/no-such-chapter.md'" in output
    assert "'labs.md' does not contain an anchor '#no-such-section'" in output


# --- the build helpers, without a build ------------------------------------------------------------


def test_nav_pruning_keeps_existing_pages_and_drops_empty_sections(tmp_path: Path) -> None:
    if not HAVE_MKDOCS:
        pytest.skip("mkdocs is not installed")
    hooks = _load_hooks()
    (tmp_path / "docs" / "chapters").mkdir(parents=True)
    (tmp_path / "labs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home")
    (tmp_path / "docs" / "chapters" / "04-pods.md").write_text("# Pods")
    (tmp_path / "labs" / "04-pods.ipynb").write_text("{}")
    config = SimpleNamespace(docs_dir=str(tmp_path / "docs"), config_file_path=str(tmp_path / "mkdocs.yml"))
    nav = [
        {"Home": "index.md"},
        {"Chapters": [
            {"4 Pods": ["chapters/04-pods.md", {"Lab": "labs/04-pods.ipynb"}]},
            {"5 Labels": ["chapters/05-labels.md", {"Lab": "labs/05-labels.ipynb"}]},
        ]},
        {"Upstream": "https://kubernetes.io/docs/"},
    ]
    missing: list[str] = []
    kept = hooks._prune(nav, config, missing)
    assert kept == [
        {"Home": "index.md"},
        {"Chapters": [{"4 Pods": ["chapters/04-pods.md", {"Lab": "labs/04-pods.ipynb"}]}]},
        {"Upstream": "https://kubernetes.io/docs/"},
    ]
    assert missing == ["chapters/05-labels.md", "labs/05-labels.ipynb"]


def test_indented_block_under_a_heading_becomes_code() -> None:
    griffe_plaintext = pytest.importorskip("griffe_plaintext", reason="griffe is not installed")
    text = "Interface:\n    create(key, obj) -> obj\n        # nested\n    get(key)\n\nAfter."
    assert griffe_plaintext.fence_indented_blocks(text) == (
        "Interface:\n\n```python\ncreate(key, obj) -> obj\n    # nested\nget(key)\n```\n\nAfter."
    )


def test_google_sections_and_lists_are_left_alone() -> None:
    griffe_plaintext = pytest.importorskip("griffe_plaintext", reason="griffe is not installed")
    for text in [
        "Args:\n    name: the name.\n",
        "* a bullet that ends:\n      with an indented line",
        "Two ways:\n\n    already code after a blank line",
        "No colon here\n    indented",
    ]:
        assert griffe_plaintext.fence_indented_blocks(text) == text


def test_sphinx_roles_become_code() -> None:
    griffe_plaintext = pytest.importorskip("griffe_plaintext", reason="griffe is not installed")
    text = "through a :class:`Client` (see :mod:`minik8s.client.local`, :meth:`~Store.get`)"
    assert griffe_plaintext.plain_roles(text) == "through a `Client` (see `minik8s.client.local`, `Store.get`)"


def test_package_reexports_of_its_own_submodules_are_hidden(tmp_path: Path) -> None:
    griffe_plaintext = pytest.importorskip("griffe_plaintext", reason="griffe is not installed")
    import griffe

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(
        '"""A package."""\nfrom pkg.sub import Thing\nfrom json import dumps\n__all__ = ["Thing", "dumps", "helper"]\n'
        'def helper():\n    """Defined here."""\n'
    )
    (tmp_path / "pkg" / "sub.py").write_text('class Thing:\n    """A thing.\n\n    Interface:\n        go()\n    """\n')
    package = griffe.load(
        "pkg", search_paths=[str(tmp_path)], extensions=griffe.load_extensions(griffe_plaintext.PlainTextDocstrings)
    )
    assert not package["Thing"].is_public  # documented under pkg.sub
    assert package["dumps"].is_public  # from outside the package: the package's own API
    assert package["helper"].is_public
    assert package["sub.Thing"].is_public
    assert "```python\ngo()\n```" in package["sub.Thing"].docstring.value

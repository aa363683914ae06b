"""Check the built book site in a real headless browser, as a reader would see it, with no network.

Concept: ``mkdocs build --strict`` proves the links and anchors are right, but not
that a page works in a browser: a script from a CDN, a JavaScript error, a figure
that does not load or a search that finds nothing only show up when a browser
opens the page. This module serves a built site on 127.0.0.1, opens every page in
Debian's Chromium (driven by Playwright, which never downloads a browser of its
own here) and reports every problem it sees.

Interface:
    serve(site_dir)                     context manager: base URL of a local HTTP server for the site
    site_pages(site_dir)                every page of a built site, as paths like "reference/store/"
    launch_chromium(playwright)         the system Chromium, headless, with no background network
    check_pages(browser, base_url, pages) -> list[str]   problems: console errors, page errors,
                                        requests to other hosts, failed local requests, broken images
    check_search(browser, base_url, query) -> list[str]  problems with Material's search box
    python tools/site_check.py SITE_DIR   the same from a shell; exit status 1 on any problem

Invariants: no request leaves the machine. Requests to any host but the local
server are aborted (and reported), so a CDN script fails the check instead of
being fetched.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import sys
import threading
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
# Headless, and none of Chromium's own background traffic (updates, sync, field trials).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # we run as root in a container, where the sandbox cannot start
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PAGE_TIMEOUT_MS = 15_000  # one page, including its scripts and images, from a local server
SEARCH_TIMEOUT_MS = 10_000  # the search worker builds its index on first use

# Images that failed to load: loaded eagerly first, so lazy images below the fold are checked too.
_BROKEN_IMAGES_JS = """
async () => {
  const broken = [];
  for (const img of Array.from(document.images)) {
    img.loading = "eager";
    try { await img.decode(); } catch (e) { /* a broken image rejects; naturalWidth tells */ }
    if (img.naturalWidth === 0) broken.push(img.getAttribute("src"));
  }
  return broken;
}
"""

# Material's search has answered: results are listed, or its summary line says there are none.
_SEARCH_DONE_JS = """
() => document.querySelectorAll(".md-search-result__item").length > 0
      || /no matching/i.test(document.querySelector(".md-search-result__meta")?.textContent || "")
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # the check reports failed requests itself; access logs would only be noise


@contextlib.contextmanager
def serve(site_dir: Path | str) -> Iterator[str]:
    """Serve ``site_dir`` on a free port of 127.0.0.1 and yield its base URL (ending in ``/``)."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def site_pages(site_dir: Path | str) -> list[str]:
    """Every page of a built MkDocs site (directory URLs), home page first; not the 404 page."""
    root = Path(site_dir)
    pages = []
    for index in sorted(root.rglob("index.html")):
        rel = index.parent.relative_to(root).as_posix()
        if rel.startswith(("assets", "search")):
            continue
        pages.append("" if rel == "." else rel + "/")
    return sorted(pages, key=lambda p: (p != "", p))


def launch_chromium(playwright: Any) -> Any:
    """The system's Chromium through Playwright; raises if it is not installed."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def _new_context(browser: Any, base_url: str, problems: list[str]) -> Any:
    """A browser context where every request to another host is aborted and reported."""
    local = urlsplit(base_url).netloc
    context = browser.new_context(service_workers="block")

    def route(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != local:
            problems.append(f"request to another host: {url}")
            route.abort()
        else:
            route.continue_()

    context.route("**/*", route)
    return context


def check_pages(browser: Any, base_url: str, pages: list[str]) -> list[str]:
    """Open each page and report everything a reader would notice as broken."""
    problems: list[str] = []
    context = _new_context(browser, base_url, problems)
    page = context.new_page()
    current = {"path": ""}

    def where() -> str:
        return f"/{current['path']}"

    page.on("console", lambda m: m.type == "error" and problems.append(f"{where()}: console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{where()}: uncaught error: {e}"))

    def request_failed(request: Any) -> None:
        # ERR_ABORTED is the browser cancelling what was still loading when we moved to the next page.
        if request.url.startswith(base_url) and "ERR_ABORTED" not in (request.failure or ""):
            problems.append(f"{where()}: request failed: {request.url} ({request.failure})")

    page.on("requestfailed", request_failed)
    page.on(
        "response",
        lambda r: r.url.startswith(base_url)
        and r.status >= 400
        and problems.append(f"{where()}: HTTP {r.status} for {r.url}"),
    )
    try:
        for path in pages:
            current["path"] = path
            response = page.goto(base_url + path, wait_until="load", timeout=PAGE_TIMEOUT_MS)
            if response is None or not response.ok:
                problems.append(f"{where()}: page did not load")
                continue
            for src in page.evaluate(_BROKEN_IMAGES_JS):
                problems.append(f"{where()}: image did not render: {src}")
    finally:
        context.close()
    return problems


def check_search(browser: Any, base_url: str, query: str) -> list[str]:
    """Type ``query`` into Material's search box on the home page; a problem if nothing is found."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    problems: list[str] = []
    context = _new_context(browser, base_url, problems)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"search: console error: {m.text}"))
    try:
        page.goto(base_url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
        box = page.locator("input.md-search__input")
        box.click(timeout=PAGE_TIMEOUT_MS)
        box.press_sequentially(query)  # typed key by key, as a reader would
        try:
            page.wait_for_function(_SEARCH_DONE_JS, timeout=SEARCH_TIMEOUT_MS)
        except PlaywrightTimeout:
            problems.append(f"search for {query!r} did not finish in {SEARCH_TIMEOUT_MS} ms")
        else:
            if page.locator(".md-search-result__item").count() == 0:
                meta = page.locator(".md-search-result__meta").inner_text()
                problems.append(f"search for {query!r} found nothing (the search box says {meta.strip()!r})")
    finally:
        context.close()
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python tools/site_check.py SITE_DIR   (build it first: mkdocs build --strict -d SITE_DIR)")
        return 2
    from playwright.sync_api import sync_playwright

    site_dir = Path(argv[0])
    pages = site_pages(site_dir)
    if not pages:
        print(f"no pages in {site_dir}: build the site first")
        return 2
    with serve(site_dir) as base_url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            problems = check_pages(browser, base_url, pages) + check_search(browser, base_url, "StatefulSet")
        finally:
            browser.close()
    for problem in problems:
        print(problem)
    print(f"{len(pages)} pages checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Open every page of the built site in headless Chromium and check what a reader would get.

Run ``nox -s docs`` first, then ``nox -s site`` (or ``python docs/check_site.py``). The built
site is served on 127.0.0.1 and every HTML page is opened in Debian's ``chromium``, driven by
Playwright. A page passes when:

* the browser logs no console error and no uncaught exception;
* it requests nothing from any host other than the local server (such requests are blocked and
  reported) and every local request succeeds;
* every ``<img>`` has loaded (``naturalWidth > 0``);
* every formula (``.math``) has been typeset by MathJax (it holds an ``mjx-container``), and no
  TeX command is left as plain text outside code and formulas;
* every link to another file of the site points at a file that exists;
* nothing makes the page scroll sideways, in a desktop window (1280 pixels) or on a phone (390);
* its text (outside scripts and styles) shows no path of the machine that built it (the
  repository's folder, the home and temporary folders, the Python installation, any
  ``site-packages`` or ``.nox``) and no object repr (``np.float64(``, ``<Axes``,
  ``<matplotlib.``, ``<Figure ``);
* every attention explorer (``.sa-explorer``, drawn by ``_static/explorer.js``) is drawn, with the
  network cut off, and responds: hovering a token, focusing one from the keyboard, choosing
  another layer or head and stepping through generation each change which lines are
  highlighted or how thick they are.

Exit status 0 when every page passes, 1 otherwise. Without Chromium the check is SKIPPED, with a
message saying so (exit 0), except under ``CI=true``, where a missing browser is a failure.

``--screenshots DIR`` also saves a full-page PNG of every page, to look at; ``docs/_build/shots``
is a good place (git ignores ``docs/_build``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

HERE = Path(__file__).resolve().parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # a common phone width (iPhone 12 to 15)
WIDTH_EXCESS = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
# Paths of the machine that built the site (read from this machine, so that the check holds
# wherever it runs), and Python object reprs, in a page's text.
BUILD_PATHS = sorted(
    {str(HERE.parent), str(Path.home()), tempfile.gettempdir(), sys.prefix, sys.base_prefix}
    - {"", "/"}
)
LEAK_PATTERN = "|".join(
    [
        *(re.escape(path.rstrip("/") + "/") for path in BUILD_PATHS),
        r"site-packages",
        r"\.nox\b",
        r"np\.float64\(",
        r"<Axes",
        r"<matplotlib\.",
        r"<Figure ",
    ]
)
# Waits for MathJax, then forces lazy images to load, then reports what the checks need.
INSPECT_PAGE = r"""
async () => {
  const LEAK = new RegExp(String.raw`%LEAK%`);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  const images = Array.from(document.images);
  for (const img of images) img.loading = "eager";
  await Promise.all(images.map((img) => img.decode().catch(() => null)));
  const maths = Array.from(document.querySelectorAll(".math"));
  // TeX that MathJax never saw: a backslash command in text outside code and formulas.
  // (.onlyprint: the theme's print-only header repeats the page title as plain text.)
  const skip = "pre, code, .pre, kbd, script, style, textarea, mjx-container, .math, .onlyprint";
  const rawTex = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(skip) && /\\[A-Za-z]{2,}/.test(node.textContent)) {
      rawTex.push(node.textContent.trim().slice(0, 100));
    }
  }
  // What the build machine left in the text a reader sees (hidden solutions included).
  const leaks = [];
  const leakWalker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = leakWalker.nextNode(); node; node = leakWalker.nextNode()) {
    if (node.parentElement.closest("script, style, noscript, template")) continue;
    const text = node.textContent;
    const match = text.match(LEAK);
    if (match) {
      const at = Math.max(0, match.index - 40);
      leaks.push(`${match[0]}: ...${text.slice(at, match.index + 60).replace(/\s+/g, " ")}...`);
    }
  }
  return {
    rawTex,
    leaks,
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    brokenImages: images
      .filter((img) => !(img.complete && img.naturalWidth > 0))
      .map((img) => img.getAttribute("src").slice(0, 120)),
    maths: maths.length,
    typeset: maths.filter((m) => m.querySelector("mjx-container")).length,
    links: Array.from(document.querySelectorAll("a[href]"), (a) => a.href),
  };
}
""".replace("%LEAK%", LEAK_PATTERN)

# What an attention explorer shows now: its highlighted lines (query-key:width), the opacities
# in use, which token is active and whether the static heatmap still shows.
EXPLORER_STATE = r"""
(container) => {
  const lines = Array.from(container.querySelectorAll("line.sa-x-line"));
  const on = lines.filter((line) => line.classList.contains("sa-x-on"));
  const off = lines.filter((line) => !line.classList.contains("sa-x-on"));
  const fallback = container.querySelector(".sa-explorer-fallback");
  return {
    drawn: container.classList.contains("sa-x-live"),
    fallbackShown: fallback !== null && fallback.offsetParent !== null,
    lines: lines.length,
    on: on.map((l) => `${l.dataset.q}-${l.dataset.k}:${l.getAttribute("stroke-width")}`),
    onOpacity: [...new Set(on.map((l) => l.getAttribute("stroke-opacity")))],
    offOpacity: [...new Set(off.map((l) => l.getAttribute("stroke-opacity")))],
    active: container.dataset.active || "",
  };
}
"""


@dataclass
class PageReport:
    """What one page did wrong (empty lists: nothing)."""

    page: str
    console_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    maths: int = 0
    typeset: int = 0
    broken_links: list[str] = field(default_factory=list)
    raw_tex: list[str] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)
    explorers: int = 0  # attention explorers on the page
    explorer: list[str] = field(default_factory=list)  # what they got wrong
    overflow: dict[int, int] = field(default_factory=dict)  # window width -> excess, in px

    @property
    def problems(self) -> dict[str, list[str]]:
        """Every failed check, by name."""
        found = {
            "console errors": self.console_errors,
            "requests to other hosts (blocked)": self.external_requests,
            "failed local requests": self.failed_requests,
            "images not loaded": self.broken_images,
            "links to missing files": self.broken_links,
            "TeX left as text (outside any formula)": self.raw_tex,
            "build paths or object reprs in the text": self.leaks,
            "attention explorer": self.explorer,
        }
        too_wide = [
            f"{excess} px too wide in a {width} px window"
            for width, excess in self.overflow.items()
            if excess > 0
        ]
        if too_wide:
            found["page scrolls sideways"] = too_wide
        if self.typeset < self.maths:
            found["formulas not typeset"] = [f"{self.maths - self.typeset} of {self.maths}"]
        return {name: items for name, items in found.items() if items}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site without logging every request to the terminal."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(root: Path) -> http.server.ThreadingHTTPServer:
    """Serve ``root`` on a free port of 127.0.0.1, from a background thread."""
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def site_pages(root: Path) -> list[str]:
    """Every HTML page of the site, as paths relative to ``root`` (theme assets excluded)."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*.html")
        if "_static" not in path.relative_to(root).parts
    )


def missing_target(link: str, origin: str, root: Path) -> bool:
    """Whether ``link``, on the local server ``origin``, names a file the site does not have."""
    parts = urlsplit(link)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return False  # a link elsewhere is the reader's choice, not something the page loads
    target = root / unquote(parts.path).lstrip("/")
    return not (target.is_file() or (target / "index.html").is_file())


def check_page(context, origin: str, root: Path, page: str, shots: Path | None) -> PageReport:  # type: ignore[no-untyped-def]
    """Open one page and report what went wrong on it."""
    report = PageReport(page)
    tab = context.new_page()

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error":
            report.console_errors.append(message.text)

    def on_response(response) -> None:  # type: ignore[no-untyped-def]
        if response.url.startswith(origin) and response.status >= 400:
            report.failed_requests.append(f"{response.status} {response.url}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: report.console_errors.append(f"uncaught: {error}"))
    tab.on("response", on_response)
    tab.goto(f"{origin}/{page}", wait_until="networkidle")
    found = tab.evaluate(INSPECT_PAGE)
    report.broken_images = [str(src) for src in found["brokenImages"]]
    report.maths, report.typeset = found["maths"], found["typeset"]
    report.raw_tex = [str(text) for text in found["rawTex"]]
    report.leaks = [str(text) for text in found["leaks"]]
    report.explorers = tab.locator(".sa-explorer").count()
    if report.explorers:
        report.explorer = check_explorers(tab)
    report.overflow[DESKTOP["width"]] = int(found["overflow"])
    report.broken_links = sorted(
        {link for link in found["links"] if missing_target(link, origin, root)}
    )
    if shots is not None:
        tab.screenshot(path=shots / (page.replace("/", "__") + ".png"), full_page=True)
    # The same page on a phone: the layout changes, and nothing may stick out there either.
    tab.set_viewport_size(PHONE)
    report.overflow[PHONE["width"]] = int(tab.evaluate(WIDTH_EXCESS))
    tab.close()
    return report


def check_explorers(tab) -> list[str]:  # type: ignore[no-untyped-def]
    """Drive every attention explorer of the open page with the network cut; list what failed."""
    problems = []
    tab.context.set_offline(True)  # everything the explorer needs must be on the page already
    try:
        for n, container in enumerate(tab.locator(".sa-explorer").all()):
            problems += [f"explorer {n}: {problem}" for problem in check_explorer(tab, container)]
    finally:
        tab.context.set_offline(False)
    return problems


def check_explorer(tab, container) -> list[str]:  # type: ignore[no-untyped-def]
    """Hover, focus, choose a layer and a head, step: each must change what is highlighted."""

    def state() -> dict:  # type: ignore[type-arg]
        return container.evaluate(EXPLORER_STATE)  # type: ignore[no-any-return]

    def token(side: str, i: int | str):  # type: ignore[no-untyped-def]
        return container.locator(f'.sa-x-token[data-side="{side}"][data-i="{i}"]')

    problems = []
    start = state()
    if not start["drawn"]:
        return ["not drawn by explorer.js: only the static heatmap shows"]
    if start["fallbackShown"]:
        problems.append("the static heatmap still shows beside the drawn explorer")
    if not start["on"] or start["onOpacity"] == start["offOpacity"]:
        problems.append(f"no line stands out before any hover: {start}")

    token("q", 0).hover()
    hovered = state()
    if hovered["on"] == start["on"] or not all(x.startswith("0-") for x in hovered["on"]):
        problems.append(f"hovering query 0 does not light up its lines: {hovered['on'][:5]}")
    token("k", 0).hover()
    key = state()
    if key["on"] == hovered["on"] or not all(x.split(":")[0].endswith("-0") for x in key["on"]):
        problems.append(f"hovering key 0 does not light up the lines into it: {key['on'][:5]}")
    tab.mouse.move(0, 0)
    if state()["on"] != start["on"]:
        problems.append("moving the pointer away does not restore the lines of the current step")

    focused = container.locator('.sa-x-token[data-side="q"][tabindex="0"]')
    at = int(focused.get_attribute("data-i"))
    focused.focus()
    tab.keyboard.press("ArrowUp")
    moved = state()
    if moved["active"] != f"q{max(at - 1, 0)}" or (at > 0 and moved["on"] == start["on"]):
        problems.append(f"focus and ArrowUp from query {at} do not move the highlight: {moved}")
    tab.evaluate("() => document.activeElement && document.activeElement.blur()")

    before = state()
    container.locator("select.sa-x-head").select_option("1")
    head = state()
    if head["on"] == before["on"]:
        problems.append("choosing head 1 does not change the highlighted lines")
    container.locator("select.sa-x-layer").select_option("1")
    layer = state()
    if layer["on"] == head["on"]:
        problems.append("choosing layer 1 does not change the highlighted lines")

    step = container.locator("button.sa-x-next")
    if step.count():
        step.click()
        stepped = state()
        if stepped["active"] == layer["active"] or stepped["lines"] <= layer["lines"]:
            problems.append(
                f"the next step does not move on: {layer['active']} -> {stepped['active']}"
            )
        container.locator("input.sa-x-step").press("End")
        last = state()
        if last["active"] == stepped["active"] or last["lines"] <= stepped["lines"]:
            problems.append("the End key on the slider does not go to the last step")
        container.locator("button.sa-x-prev").click()
        if state()["active"] == last["active"]:
            problems.append("the previous-step button does not go back")
    return problems


def block_other_hosts(context, origin: str, reports: dict[str, PageReport]) -> None:  # type: ignore[no-untyped-def]
    """Abort, and record against its page, every request that is not for the local server."""

    def route(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.startswith(origin) or url.startswith(("data:", "blob:", "about:")):
            route.continue_()
            return
        frame_url = route.request.frame.url if route.request.frame else ""
        page = urlsplit(frame_url).path.lstrip("/")
        reports.setdefault(page, PageReport(page)).external_requests.append(url)
        route.abort()

    context.route("**/*", route)


def print_table(reports: list[PageReport]) -> None:
    """A one-line summary of every page, then the details of each failure."""
    width = max(len(r.page) for r in reports)
    header = (
        f"{'page':<{width}}  console  external  images  maths  rawtex   links  wide  leaks"
        "  explorer  result"
    )
    print(header)
    print("-" * len(header))
    for r in reports:
        maths = f"{r.typeset}/{r.maths}" if r.maths else "-"
        result = "FAIL" if r.problems else "ok"
        counts = [r.console_errors, r.external_requests, r.broken_images]
        explorer = (len(r.explorer) or "ok") if r.explorers else "-"
        print(
            f"{r.page:<{width}}  {len(counts[0]):>7}  {len(counts[1]):>8}  {len(counts[2]):>6}"
            f"  {maths:>5}  {len(r.raw_tex):>6}  {len(r.broken_links):>6}"
            f"  {sum(excess > 0 for excess in r.overflow.values()):>4}  {len(r.leaks):>5}"
            f"  {explorer:>8}  {result}"
        )
    for r in reports:
        for name, items in r.problems.items():
            print(f"\n{r.page}: {name}")
            for item in items[:20]:
                print(f"    {item}")


def main(argv: list[str] | None = None) -> int:
    """Check the site; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE / "_build" / "html")
    parser.add_argument("--screenshots", type=Path, metavar="DIR", help="save page PNGs here")
    parser.add_argument("pages", nargs="*", help="only these pages (paths relative to the root)")
    args = parser.parse_args(argv)

    on_ci = os.environ.get("CI", "").lower() == "true"
    chromium = shutil.which("chromium")
    if chromium is None:
        why = "no 'chromium' on PATH (Debian: apt-get install chromium)"
        if on_ci:
            print(f"FAILED: browser check cannot run on CI: {why}", file=sys.stderr)
            return 1
        print(f"SKIPPED: browser check not run: {why}. Nothing was checked.")
        print("pages: 0 passed, 0 failed, 1 skipped")
        return 0
    root = args.root.resolve()
    if not (root / "index.html").is_file():
        print(f"FAILED: no built site in {root}; run 'nox -s docs' first", file=sys.stderr)
        return 1
    pages = args.pages or site_pages(root)
    if args.screenshots:
        args.screenshots.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    server = serve(root)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    reports: dict[str, PageReport] = {}
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport=DESKTOP,
            )
            block_other_hosts(context, origin, reports)
            for page in pages:
                report = check_page(context, origin, root, page, args.screenshots)
                earlier = reports.get(page)
                if earlier is not None:  # requests blocked while the page loaded
                    report.external_requests = earlier.external_requests
                reports[page] = report
            context.close()
    finally:
        server.shutdown()

    ordered = [reports[p] for p in pages] + [r for p, r in reports.items() if p not in pages]
    print_table(ordered)
    failed = [r for r in ordered if r.problems]
    print(f"\n{len(ordered)} pages checked in Chromium.")
    print(f"pages: {len(ordered) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""What every browser test shares: the bundles built from static/viewer, one Playwright and one Debian
chromium per process (two sync Playwright instances cannot share a thread), a static server with the
app's strict CSP for the bundle tests, and a real daphne with the demo data for the journeys."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
VIEWER_SRC = STATIC / "viewer"
DIST = STATIC / "dist"
CHROMIUM = os.environ.get("RADSIM_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'"
)
BUNDLES = ("viewer.js", "painter.js")


def _bundles_stale() -> bool:
    built = [DIST / name for name in BUNDLES]
    if not all(path.exists() for path in built):
        return True
    oldest = min(path.stat().st_mtime for path in built)
    inputs = [VIEWER_SRC / "build.mjs", VIEWER_SRC / "package-lock.json", *(VIEWER_SRC / "src").rglob("*")]
    return any(p.is_file() and p.stat().st_mtime > oldest for p in inputs)


@pytest.fixture(scope="session")
def bundles() -> Path:
    """static/dist built from static/viewer, rebuilt with npm when missing or older than its sources."""
    if _bundles_stale():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("static/dist is missing or stale and npm is not available: run `make viewer`")
        installed = VIEWER_SRC / "node_modules" / ".package-lock.json"
        lock = VIEWER_SRC / "package-lock.json"
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            subprocess.run([npm, "ci", "--prefix", str(VIEWER_SRC), "--no-audit", "--no-fund"], check=True,
                           timeout=600)
        subprocess.run([npm, "run", "build", "--prefix", str(VIEWER_SRC)], check=True, timeout=300)
    return DIST


class _CSPHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def base_url(bundles):
    """static/ served under the app's CSP, for the bundle test pages."""
    handler = functools.partial(_CSPHandler, directory=str(STATIC))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def open_test_page(browser, url: str, ready: str, viewport: dict, **options):
    """A bundle test page, waited on until `window.<ready>` has its object or its error. Returns
    (page, problems): every page error, console error and CSP violation, for the test to assert on."""
    page = browser.new_page(viewport=viewport, **options)
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on(
        "console",
        lambda m: problems.append(f"console.{m.type}: {m.text}")
        if m.type == "error" or "Content Security Policy" in m.text
        else None,
    )
    page.goto(url)
    page.wait_for_function(
        "([name]) => window[name] && (window[name].viewer || window[name].painter || window[name].error)",
        arg=[ready], timeout=30_000,
    )
    err = page.evaluate("([name]) => window[name].error", [ready])
    assert err is None, err
    return page, problems


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Debian chromium is missing at {CHROMIUM}: `make browser-deps` installs it")
    with sync_playwright() as p:
        yield p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_app(bundles):
    var = Path(tempfile.mkdtemp(prefix="radsim-browser-"))
    env = dict(os.environ, RADSIM_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="simulator.settings",
               PYTHONUNBUFFERED="1")
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    port = _free_port()
    log = open(var / "daphne.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "simulator.asgi:application"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/login/", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("daphne did not start:\n" + (var / "daphne.log").read_text())
            time.sleep(0.3)
    yield base, var
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture(scope="session")
def browser(playwright_instance):
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


@pytest.fixture
def new_page(browser):
    contexts = []

    def make(**options):
        context = browser.new_context(viewport={"width": 1360, "height": 900}, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield make
    for context in contexts:
        context.close()


def login(page, base: str, username: str, password: str = "radsim-demo") -> None:
    page.goto(base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(base + "/")


def whole_page_screenshot(page, path) -> None:
    """Screenshot the whole page as one tall window shows it. A plain full-page capture keeps the window's
    scroll, so sticky bars (the section links, the save bar) land over whatever the window last showed."""
    window = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": window["width"], "height": height})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    page.set_viewport_size(window)

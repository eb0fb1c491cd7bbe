"""Browser test of the RadViewer bundle (static/dist/viewer.js, built from static/viewer/).

Serves static/ with python's http.server under a strict CSP (script-src 'self'), opens
static/viewer/test-page.html in headless Debian chromium and drives window.RadViewer with
synthetic images. Pixels are checked from screenshots, not from the DOM.

Run alone: python -m pytest tests/browser/test_viewer_bundle.py -q (the page under test needs no Django; the fixtures are in conftest.py)
Set RADVIEWER_DOCS_SCREENSHOT=docs/img/viewer.png to refresh the screenshot in docs/VIEWER.md.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
import os

import pytest

pytestmark = pytest.mark.browser

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, open_test_page  # noqa: E402

def _open(browser, base_url, query=""):
    return open_test_page(browser, f"{base_url}/viewer/test-page.html{query}", "rvTest",
                          {"width": 700, "height": 680})


@pytest.fixture
def page(browser, base_url):
    page, problems = _open(browser, base_url)
    yield page
    violations = page.evaluate("window.cspViolations")
    page.close()
    assert violations == [], f"CSP violations: {violations}"
    assert problems == [], "browser errors:\n" + "\n".join(problems)


def _pixels(page):
    """Screenshot of the image area (toolbar excluded) as an RGB numpy array."""
    png = page.locator("[data-rv=viewport]").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def _text(page, which):
    return page.locator(f"[data-rv={which}]").inner_text()


def _wait_text(page, which, expected, timeout=10_000):
    # Always pass functions, never expression strings: Playwright evaluates those with eval(),
    # which the page's CSP (rightly) blocks.
    page.wait_for_function(
        "([w, e]) => document.querySelector(`[data-rv=${w}]`).textContent === e",
        arg=[which, expected],
        timeout=timeout,
    )


def _eventually(check, timeout=15.0):
    """Retry a pixel check until it holds: rendering lags on a busy machine, fixed sleeps do not."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _show_gradient(page):
    page.evaluate("rvTest.viewer.showImage(rvTest.makeGradient())")
    _wait_text(page, "wl", "W/L: 4096/2048")


def _show_stack(page, n=10):
    page.evaluate(f"rvTest.viewer.showStack(rvTest.makeStack({n}), 0)")
    _wait_text(page, "slice", f"Slice 1/{n}")
    page.locator("[data-rv=root]").focus()


def _assert_image_like(px):
    gray = px.mean(axis=2)
    assert gray.std() > 20, f"canvas looks uniform (std {gray.std():.1f})"
    assert len({int(v) for v in gray[::8, ::8].ravel()}) > 20, "too few distinct grey levels"


def test_gradient_renders_non_uniform_pixels(page):
    _show_gradient(page)

    def image_like():
        px = _pixels(page)
        _assert_image_like(px)
        return px

    px = _eventually(image_like)
    assert "synthetic gradient" in _text(page, "label")
    # diagonal gradient: the bottom-right quarter of the image is brighter than the top-left
    h, w = px.shape[:2]
    gray = px.mean(axis=2)
    tl = gray[h // 2 - 100 : h // 2 - 60, w // 2 - 100 : w // 2 - 60].mean()
    br = gray[h // 2 + 60 : h // 2 + 100, w // 2 + 60 : w // 2 + 100].mean()
    assert br > tl + 40, (tl, br)
    events = page.evaluate("rvTest.events")
    assert events[-1]["type"] == "viewed" and events[-1]["index"] == 0
    assert events[-1]["windowWidth"] == 4096 and events[-1]["windowCenter"] == 2048

    shot = os.environ.get("RADVIEWER_DOCS_SCREENSHOT")
    if shot:
        _show_stack(page)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("2")
        _wait_text(page, "wl", "W/L: 1500/-600")
        page.wait_for_timeout(300)
        out = ROOT / shot
        out.parent.mkdir(parents=True, exist_ok=True)
        page.locator("#viewer").screenshot(path=str(out))


def test_lung_preset_sets_overlay_and_event(page):
    _show_stack(page)
    page.evaluate("rvTest.viewer.setPreset('lung')")
    _wait_text(page, "wl", "W/L: 1500/-600")
    ev = page.evaluate("rvTest.events.filter(e => e.type === 'windowed').pop()")
    assert ev == {"type": "windowed", "index": 0, "windowCenter": -600, "windowWidth": 1500}
    # hotkey 3 = bone, toolbar button = liver
    page.keyboard.press("3")
    _wait_text(page, "wl", "W/L: 2500/480")
    page.locator("[data-action='preset:liver']").click()
    _wait_text(page, "wl", "W/L: 150/90")
    with pytest.raises(Exception, match="unknown preset"):
        page.evaluate("rvTest.viewer.setPreset('nope')")


def test_ct_window_presets_are_offered_only_for_ct(page):
    """The presets are CT windows in HU: on a radiograph (12-bit pixel values) 'Lung' would turn the film
    white, so the toolbar hides them, keys 1-4 do nothing and the API says why."""
    presets = page.locator("[data-action^='preset:']")
    _show_gradient(page)
    assert presets.count() == 5 and all(not presets.nth(i).is_visible() for i in range(5))
    page.locator("[data-rv=root]").focus()
    page.keyboard.press("2")
    page.wait_for_timeout(200)
    assert _text(page, "wl") == "W/L: 4096/2048"
    with pytest.raises(Exception, match="is a CT window in HU and this image is OT"):
        page.evaluate("rvTest.viewer.setPreset('lung')")
    page.evaluate("rvTest.viewer.setPreset('default')")  # the image's own window stays on offer
    _show_stack(page)
    assert all(presets.nth(i).is_visible() for i in range(5))
    page.keyboard.press("2")
    _wait_text(page, "wl", "W/L: 1500/-600")


def test_i_inverts_pixels(page):
    _show_gradient(page)
    page.locator("[data-rv=root]").focus()
    page.wait_for_timeout(200)
    before = _pixels(page)
    page.keyboard.press("i")
    page.wait_for_function("() => rvTest.viewer.viewport.getProperties().invert === true")

    def inverted():
        px = _pixels(page)
        diff = abs(px - before).mean(axis=2)
        assert (diff > 60).mean() > 0.3, f"only {(diff > 60).mean():.0%} of pixels changed"
        return px

    after = _eventually(inverted)
    # the bright disc (top right of the image) turns dark
    h, w = before.shape[:2]
    side = min(h, w)
    y, x = h // 2 - int(0.18 * side), w // 2 + int(0.18 * side)
    assert before[y, x].mean() > 200 and after[y, x].mean() < 60, (before[y, x], after[y, x])


def test_arrow_down_moves_to_slice_2_and_pixels_follow(page):
    _show_stack(page)
    assert "slice 1 of 10" in _text(page, "label")
    first = _pixels(page)
    _assert_image_like(first)
    page.keyboard.press("ArrowDown")
    _wait_text(page, "slice", "Slice 2/10")
    assert "slice 2 of 10" in _text(page, "label")
    page.keyboard.press("End")
    _wait_text(page, "slice", "Slice 10/10")
    def moved():
        assert abs(_pixels(page) - first).mean() > 1, "slice 10 looks identical to slice 1"

    _eventually(moved)
    page.keyboard.press("Home")
    _wait_text(page, "slice", "Slice 1/10")
    # mouse wheel scrolls the stack
    box = page.locator("[data-rv=viewport]").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, 120)
    _wait_text(page, "slice", "Slice 2/10")
    page.wait_for_function("() => rvTest.events.filter(e => e.type === 'scrolled').pop()?.index === 1")
    ev = page.evaluate("rvTest.events.filter(e => e.type === 'scrolled').pop()")
    assert ev["index"] == 1 and ev["windowWidth"] == 400 and ev["windowCenter"] == 40


def test_append_image_grows_stack(page):
    _show_stack(page)
    page.keyboard.press("2")  # lung window is kept while the stack grows
    _wait_text(page, "wl", "W/L: 1500/-600")
    page.evaluate("rvTest.viewer.appendImage(Object.assign(rvTest.makeSlice(0, 10), {label: 'streamed slice 11'}))")
    _wait_text(page, "slice", "Slice 1/11")
    assert page.evaluate("rvTest.viewer.numberOfImages") == 11
    page.keyboard.press("End")
    _wait_text(page, "slice", "Slice 11/11")
    assert _text(page, "label") == "streamed slice 11"
    assert _text(page, "wl") == "W/L: 1500/-600"
    page.keyboard.press("ArrowUp")
    _wait_text(page, "slice", "Slice 10/11")


def test_streaming_from_empty_and_cine(page):
    page.evaluate("rvTest.viewer.showStack([])")
    assert page.locator("[data-rv=empty]").is_visible()
    for k in range(3):
        page.evaluate(f"rvTest.viewer.appendImage(rvTest.makeSlice({k}, 3))")
    _wait_text(page, "slice", "Slice 1/3")
    page.locator("[data-rv=root]").focus()
    page.keyboard.press("c")
    page.wait_for_function("() => document.querySelector('[data-rv=slice]').textContent !== 'Slice 1/3'", timeout=5_000)
    page.keyboard.press("c")
    assert page.evaluate("rvTest.viewer.cinePlaying") is False


def test_view_hotkeys_zoom_rotate_flip_reset(page):
    _show_gradient(page)
    page.locator("[data-rv=root]").focus()
    page.keyboard.press("+")
    _wait_text(page, "zoom", "Zoom: 1.25x")
    page.keyboard.press("=")
    _wait_text(page, "zoom", "Zoom: 1.00x")
    page.wait_for_timeout(200)
    base = _pixels(page)
    for key in ("r", "h", "v", "l"):
        page.keyboard.press(key)
    page.evaluate("rvTest.viewer.setWindow(400, 40)")
    _wait_text(page, "wl", "W/L: 400/40")
    page.keyboard.press(" ")
    _wait_text(page, "wl", "W/L: 4096/2048")

    def restored():
        assert abs(_pixels(page) - base).mean() < 3, "space did not restore the original view"

    _eventually(restored)
    page.keyboard.press("z")
    assert page.evaluate("rvTest.viewer.primaryTool") == "Zoom"
    # '=' fits without undoing a rotation; an untouched view stays fitted when the element resizes
    page.keyboard.press("r")
    page.keyboard.press("+")
    page.keyboard.press("=")
    _wait_text(page, "zoom", "Zoom: 1.00x")
    assert round(page.evaluate("rvTest.viewer.viewport.getRotation()")) == 90
    page.evaluate("() => { document.getElementById('viewer').style.width = '420px'; }")
    page.wait_for_function("() => document.querySelector('[data-rv=viewport]').clientWidth < 430")
    _wait_text(page, "zoom", "Zoom: 1.00x")


def test_mouse_tools_window_zoom_pan(page):
    _show_stack(page)
    box = page.locator("[data-rv=viewport]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()  # left drag = window/level
    for i in range(1, 11):
        page.mouse.move(cx + 5 * i, cy + 3 * i)
    page.mouse.up()
    page.wait_for_function("() => rvTest.events.some(e => e.type === 'windowed')")
    windowed = page.evaluate("rvTest.events.filter(e => e.type === 'windowed')")
    assert len(windowed) == 1, "one drag should give one analytics event"
    assert (windowed[0]["windowWidth"], windowed[0]["windowCenter"]) != (400, 40)
    assert _text(page, "wl") == f"W/L: {windowed[0]['windowWidth']}/{windowed[0]['windowCenter']}"
    page.keyboard.down("Control")  # ctrl+wheel = zoom, not scroll
    page.mouse.wheel(0, -240)
    page.keyboard.up("Control")
    page.wait_for_function("() => document.querySelector('[data-rv=zoom]').textContent !== 'Zoom: 1.00x'")
    assert _text(page, "slice") == "Slice 1/10"
    before = page.evaluate("rvTest.viewer.viewport.getCamera().focalPoint")
    page.mouse.move(cx, cy)
    page.mouse.down(button="middle")  # middle drag = pan
    for i in range(1, 11):
        page.mouse.move(cx + 8 * i, cy)
    page.mouse.up(button="middle")
    after = page.evaluate("rvTest.viewer.viewport.getCamera().focalPoint")
    assert abs(after[0] - before[0]) > 10, (before, after)


def test_a_window_drag_with_a_pause_is_still_one_event(page):
    # a learner who stops mid-drag (or a busy machine between two mouse moves) has not finished windowing
    _show_stack(page)
    box = page.locator("[data-rv=viewport]").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 20, cy + 10, steps=4)
    page.wait_for_timeout(600)  # longer than the viewer's 250 ms coalescing delay
    page.mouse.move(cx + 40, cy + 20, steps=4)
    page.mouse.up()
    page.wait_for_function("() => rvTest.events.some(e => e.type === 'windowed')")
    page.wait_for_timeout(600)  # and nothing more arrives after the drag
    windowed = page.evaluate("rvTest.events.filter(e => e.type === 'windowed')")
    assert len(windowed) == 1, windowed
    assert _text(page, "wl") == f"W/L: {windowed[0]['windowWidth']}/{windowed[0]['windowCenter']}"


def test_rgb_image_and_destroy_recreate(page):
    page.evaluate(
        """() => { const n = 128, px = new Uint8Array(n * n * 3);
        for (let i = 0; i < n * n; i++) { px[3*i] = (i % n) * 2; px[3*i+1] = (i / n | 0) * 2; px[3*i+2] = 128; }
        return rvTest.viewer.showImage({width: n, height: n, pixelData: px, photometric: 'RGB', label: 'rgb'}); }"""
    )
    _wait_text(page, "label", "rgb")
    def coloured():
        px = _pixels(page)
        chroma = px.max(axis=2) - px.min(axis=2)
        assert (chroma > 60).mean() > 0.3, "RGB image shows no colour"

    _eventually(coloured)
    page.evaluate("() => rvTest.viewer.destroy()")
    assert page.locator("[data-rv=root]").count() == 0
    page.evaluate(
        """async () => { const v = await RadViewer.create(document.getElementById('viewer'), {readOnly: true});
        rvTest.viewer = v; await v.showStack(rvTest.makeStack(4), 2); }"""
    )
    _wait_text(page, "slice", "Slice 3/4")
    _assert_image_like(_pixels(page))


def test_cpu_rendering_fallback_without_webgl(playwright_instance, base_url):
    """With WebGL switched off in the browser the viewer falls back to Cornerstone's CPU path."""
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--disable-3d-apis", "--disable-webgl"])
    try:
        page, problems = _open(b, base_url)
        assert page.evaluate("rvTest.viewer.renderer") == "cpu"
        _show_stack(page)
        page.wait_for_timeout(200)
        _assert_image_like(_pixels(page))
        page.keyboard.press("2")
        _wait_text(page, "wl", "W/L: 1500/-600")
        page.keyboard.press("ArrowDown")
        _wait_text(page, "slice", "Slice 2/10")
        assert page.evaluate("window.cspViolations") == []
        assert problems == [], problems
    finally:
        b.close()

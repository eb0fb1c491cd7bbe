"""Browser test of the RadPainter bundle (static/dist/painter.js, built from static/viewer/).

Serves static/ with python's http.server under a strict CSP (script-src 'self'; style-src 'self'),
opens static/viewer/painter-test-page.html (a synthetic 256x256 preview, two findings) in headless
Debian chromium and paints with real mouse and keyboard input. Masks are compared exactly with
arrays computed here; on-screen checks use screenshots.

Run alone: python -m pytest tests/browser/test_painter_bundle.py -q (the page under test needs no Django; the fixtures are in conftest.py)
Set RADPAINTER_DOCS_SCREENSHOT=docs/img/painter.png to refresh the screenshot in docs/PAINTER.md.
"""

from __future__ import annotations

import base64
import io
import os

import pytest

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

pytestmark = pytest.mark.browser

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, open_test_page  # noqa: E402

N = 256
K1, K2 = "nodule:left", "effusion:right"
RED, BLUE = (255, 80, 80), (80, 170, 255)


def _open(browser, base_url, query="", **options):
    page, problems = open_test_page(browser, f"{base_url}/viewer/painter-test-page.html{query}", "rpTest",
                                    {"width": 1030, "height": 720}, **options)
    page.locator("[data-rp=root]").focus()
    return page, problems


@pytest.fixture
def page(browser, base_url):
    page, problems = _open(browser, base_url)
    yield page
    violations = page.evaluate("window.cspViolations")
    page.close()
    assert violations == [], f"CSP violations: {violations}"
    assert problems == [], "browser errors:\n" + "\n".join(problems)


# ---------------------------------------------------------------- helpers
class Geo:
    """Screen geometry of the fitted view, computed here from the stage box (not from the painter):
    the 256x256 image is fitted to the stage and centred; mask pixel (i, j) covers
    [i, i+1) x [j, j+1) in mask coordinates."""

    def __init__(self, page):
        box = page.locator("[data-rp=overlay]").bounding_box()
        self.box = box
        self.s = min(box["width"], box["height"]) / N
        self.ox = box["x"] + (box["width"] - N * self.s) / 2
        self.oy = box["y"] + (box["height"] - N * self.s) / 2

    def xy(self, u, v):
        """Page coordinates of mask point (u, v); pixel centres are (i + 0.5, j + 0.5)."""
        return self.ox + u * self.s, self.oy + v * self.s

    def local(self, u, v):
        """Coordinates inside a screenshot of the overlay canvas."""
        x, y = self.xy(u, v)
        return int(round(x - self.box["x"])), int(round(y - self.box["y"]))


def mask(page, key=K1):
    arr = page.evaluate("(k) => Array.from(rpTest.painter.getMask(k))", key)
    return np.array(arr, dtype=np.uint8).reshape(N, N)


def set_mask(page, key, m):
    page.evaluate("([k, a]) => rpTest.painter.setMask(k, Uint8Array.from(a))", [key, [int(v) for v in m.ravel()]])


def disc(cx, cy, size):
    """The painter's brush: pixels whose centres lie within size/2 of the (snapped) centre."""
    jj, ii = np.mgrid[0:N, 0:N]
    return ((ii + 0.5 - cx) ** 2 + (jj + 0.5 - cy) ** 2 <= (size / 2) ** 2 + 1e-9).astype(np.uint8)


def set_size(page, size):
    page.locator("[data-rp=size]").fill(str(size))
    page.locator("[data-rp=root]").focus()
    assert page.locator("[data-rp=size-value]").inner_text() == f"{size} px"


def drag(page, points, modifiers=(), button="left"):
    for k in modifiers:
        page.keyboard.down(k)
    page.mouse.move(*points[0])
    page.mouse.down(button=button)
    for p in points[1:]:
        page.mouse.move(*p, steps=4)
    page.mouse.up(button=button)
    for k in modifiers:
        page.keyboard.up(k)


def cursor_diameter(page):
    box = page.locator("[data-rp=cursor]").bounding_box()
    assert box is not None, "cursor circle not shown"
    assert abs(box["width"] - box["height"]) < 0.01
    return box["width"]


def settled(page):
    """Wait until the page has drawn what the last input changed: two animation frames (the overlay redraws
    in the input's handler and the image viewport on the next frame), instead of a fixed sleep."""
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")


def stage_pixels(page):
    png = page.locator("[data-rp=overlay]").screenshot()
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def changes(page):
    return page.evaluate("rpTest.changes")


def decode_png(data_url):
    assert data_url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert img.size == (N, N)
    assert img.mode in ("1", "L"), img.mode
    gray = np.asarray(img.convert("L"))
    assert set(np.unique(gray)) <= {0, 255}
    return (gray == 255).astype(np.uint8)


def check_alignment_zoomed(page):
    """Zoom in about the spine's left edge (image column 120 starts at u = 120) and check that the
    image edge and a painted one-pixel mask square land exactly where the geometry says: the overlay
    is in step with Cornerstone's camera (a half-pixel slip would be ~9 screen px at 8x)."""
    g = Geo(page)
    # wheel events carry whole css pixels: zoom about the rounded point and predict from that
    qx, qy = (round(c) for c in g.xy(120, 210.5))
    uq, vq = (qx - g.ox) / g.s, (qy - g.oy) / g.s
    page.mouse.move(qx, qy)
    for _ in range(4):  # 8x at device scale 1 (chromium scales wheel deltas down on HiDPI)
        if page.evaluate("rpTest.painter.zoom") >= 7.9:
            break
        z0 = page.evaluate("rpTest.painter.zoom")
        page.mouse.wheel(0, -1200)
        page.wait_for_function("(z) => rpTest.painter.zoom > z", arg=z0)
    z = page.evaluate("rpTest.painter.zoom")
    sz = z * g.s

    def screen(u, v):  # css px inside the stage
        return qx - g.box["x"] + (u - uq) * sz, qy - g.box["y"] + (v - vq) * sz

    page.locator("[data-rp=opacity]").fill("100")
    page.locator("[data-rp=root]").focus()
    page.mouse.move(g.box["x"] + 5, g.box["y"] - 20)
    settled(page)
    shot = stage_pixels(page)
    scale = shot.shape[1] / g.box["width"]  # device pixels per css px
    ex, ey = screen(120, 210.5)
    row = shot[int(ey * scale)].mean(axis=1)
    left, right = row[int((ex - 6) * scale)], row[int((ex + 6) * scale)]
    assert right > left + 25, (left, right)
    edge = next(x for x in range(int((ex - 8) * scale), int((ex + 8) * scale)) if row[x] > (left + right) / 2) / scale
    tol = 0.2 * sz  # the prediction carries the wheel event's rounding; a half-pixel slip is 0.5 * sz
    assert abs(edge - ex) <= tol, (edge, ex)
    for _ in range(12):
        page.keyboard.press("[")
    cx, cy = screen(120.5, 210.5)
    page.mouse.click(g.box["x"] + cx, g.box["y"] + cy)
    m = mask(page)
    assert m.sum() == 1 and m[210, 120] == 1, np.argwhere(m)
    page.mouse.move(g.box["x"] + 5, g.box["y"] - 20)
    settled(page)
    shot = stage_pixels(page)
    red = (shot[..., 0] > 200) & (shot[..., 1] < 120) & (shot[..., 2] < 120)
    ys, xs = np.nonzero(red)
    x0, x1 = xs.min() / scale, (xs.max() + 1) / scale
    y0, y1 = ys.min() / scale, (ys.max() + 1) / scale
    (wx0, wy0), (wx1, wy1) = screen(120, 210), screen(121, 211)
    # the mask pixel's left side sits on the image's own edge (measured, not predicted) ...
    assert abs(x0 - edge) <= 1.5, (x0, edge)
    # ... it is one image pixel wide and high, and where the geometry puts it
    assert abs((x1 - x0) - sz) <= 1.5 and abs((y1 - y0) - sz) <= 1.5, (x0, x1, y0, y1, sz)
    assert abs(x0 - wx0) <= tol and abs(y0 - wy0) <= tol, (x0, y0, wx0, wy0)


# ---------------------------------------------------------------- tests
def test_loads_with_two_findings_and_background(page):
    items = page.locator(".rp-finding")
    assert items.count() == 2
    assert items.nth(0).get_attribute("data-key") == K1 and items.nth(0).get_attribute("aria-selected") == "true"
    sw = page.eval_on_selector_all(".rp-swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert sw == ["rgb(255, 80, 80)", "rgb(80, 170, 255)"]
    assert page.evaluate("rpTest.painter.getActive()") == K1
    assert page.locator("[data-rp=zoom]").inner_text().startswith("Zoom: 1.00x")
    px = stage_pixels(page)
    gray = px.mean(axis=2)
    assert gray.std() > 20, "background preview not rendered"
    assert mask(page).sum() == 0 and mask(page, K2).sum() == 0


def test_brush_stroke_sets_expected_pixels_and_shows_colour(page):
    g = Geo(page)
    page.mouse.move(g.box["x"] + 5, g.box["y"] - 20)  # off the stage: no cursor circle in the shot
    before = stage_pixels(page)
    for _ in range(3):
        page.keyboard.press("[")  # 8 -> 5
    assert page.locator("[data-rp=size-value]").inner_text() == "5 px"
    drag(page, [g.xy(60.5, 100.5), g.xy(90.5, 100.5), g.xy(120.5, 100.5)])
    expected = np.zeros((N, N), np.uint8)
    for i in range(60, 121):
        expected |= disc(i + 0.5, 100.5, 5)
    got = mask(page)
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} pixels differ"
    assert changes(page) == [{"key": K1, "action": "stroke"}]
    assert mask(page, K2).sum() == 0
    # on screen: the stroke is red-tinted, everything outside the mask is untouched (no darkening)
    page.mouse.move(g.box["x"] + 5, g.box["y"] - 20)
    settled(page)
    after = stage_pixels(page)
    x, y = g.local(90.5, 100.5)
    r, gg, b = after[y, x]
    assert r > gg + 40 and r > b + 40, after[y, x]
    x, y = g.local(90.5, 140.5)
    assert np.array_equal(after[y - 20 : y + 20, x - 40 : x + 40], before[y - 20 : y + 20, x - 40 : x + 40])
    # opacity 0 shows the plain image, 100 % the pure finding colour
    page.locator("[data-rp=opacity]").fill("0")
    settled(page)
    x, y = g.local(90.5, 100.5)
    assert np.abs(stage_pixels(page)[y, x] - before[y, x]).max() <= 2
    page.locator("[data-rp=opacity]").fill("100")
    settled(page)
    assert np.abs(stage_pixels(page)[y, x] - np.array(RED)).max() <= 2


def test_single_pixel_click_sets_exactly_one_pixel(page):
    g = Geo(page)
    for _ in range(12):
        page.keyboard.press("[")
    assert page.locator("[data-rp=size-value]").inner_text() == "1 px"
    page.mouse.click(*g.xy(37.5, 201.5))
    m = mask(page)
    assert m.sum() == 1 and m[201, 37] == 1
    page.mouse.click(*g.xy(38.5, 201.5))
    m = mask(page)
    assert m.sum() == 2 and m[201, 38] == 1
    assert [c["action"] for c in changes(page)] == ["stroke", "stroke"]
    page.keyboard.press("Control+z")
    m = mask(page)
    assert m.sum() == 1 and m[201, 37] == 1


def test_cursor_circle_is_true_to_size_and_follows_zoom(page):
    g = Geo(page)
    p = g.xy(100.5, 80.5)
    page.mouse.move(*p)
    d8 = cursor_diameter(page)
    assert abs(d8 - 8 * g.s) < 1, (d8, 8 * g.s)
    page.keyboard.press("]")
    page.keyboard.press("]")
    page.keyboard.press("]")  # 8 -> 9 -> 10 -> 12
    assert page.locator("[data-rp=size-value]").inner_text() == "12 px"
    d12 = cursor_diameter(page)
    assert abs(d12 - 12 * g.s) < 1 and abs(d12 / d8 - 1.5) < 0.02, (d8, d12)
    page.keyboard.press("[")  # 12 -> 10
    d10 = cursor_diameter(page)
    assert abs(d10 - 10 * g.s) < 1
    # four wheel notches at the cursor = 2x, about the cursor
    page.mouse.wheel(0, -400)
    page.wait_for_function("() => document.querySelector('[data-rp=zoom]').textContent.startsWith('Zoom: 2.00x')")
    page.mouse.move(p[0] + 1, p[1])
    page.mouse.move(*p)
    d10z = cursor_diameter(page)
    assert abs(d10z - 2 * d10) < 1, (d10, d10z)
    # the image point under the cursor stayed put: a 1-pixel click 10 pixels to its right hits pixel (110, 80)
    for _ in range(12):
        page.keyboard.press("[")
    page.mouse.move(p[0] + 10 * 2 * g.s, p[1])
    assert abs(cursor_diameter(page) - 2 * g.s) < 1
    page.mouse.click(p[0] + 10 * 2 * g.s, p[1])
    m = mask(page)
    assert m.sum() == 1 and m[80, 110] == 1, np.argwhere(m)
    # Reset view (button) goes back to the fitted view
    page.locator("[data-action=reset-view]").click()
    page.wait_for_function("() => document.querySelector('[data-rp=zoom]').textContent.startsWith('Zoom: 1.00x')")


def test_shift_drag_erases_a_hole_inside_a_disc(page):
    g = Geo(page)
    set_size(page, 41)
    page.mouse.click(*g.xy(128.5, 128.5))
    filled = disc(128.5, 128.5, 41)
    assert np.array_equal(mask(page), filled)
    set_size(page, 5)
    drag(page, [g.xy(122.5, 128.5), g.xy(134.5, 128.5)], modifiers=["Shift"])
    hole = np.zeros((N, N), np.uint8)
    for i in range(122, 135):
        hole |= disc(i + 0.5, 128.5, 5)
    expected = filled & (1 - hole)
    got = mask(page)
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} pixels differ"
    assert got[128, 128] == 0 and got[128, 110] == 1 and got[120, 128] == 1 and got[136, 128] == 1
    # Alt+click erases too, and so does the eraser tool (e)
    page.keyboard.down("Alt")
    page.mouse.click(*g.xy(128.5, 115.5))
    page.keyboard.up("Alt")
    expected &= 1 - disc(128.5, 115.5, 5)
    page.keyboard.press("e")
    page.mouse.click(*g.xy(128.5, 141.5))
    expected &= 1 - disc(128.5, 141.5, 5)
    assert np.array_equal(mask(page), expected)
    assert [c["action"] for c in changes(page)] == ["stroke", "erase", "erase", "erase"]


def test_polygon_fills_inside_escape_cancels_double_click_closes(page):
    g = Geo(page)
    page.keyboard.press("p")
    for u, v in [(40.25, 40.25), (80.25, 40.25), (80.25, 80.25), (40.25, 80.25)]:
        page.mouse.click(*g.xy(u, v))
    assert mask(page).sum() == 0, "polygon must not fill before it is closed"
    page.keyboard.press("Enter")
    expected = np.zeros((N, N), np.uint8)
    expected[40:80, 40:80] = 1
    assert np.array_equal(mask(page), expected)
    # Esc cancels a polygon in progress
    page.mouse.click(*g.xy(150.25, 30.25))
    page.mouse.click(*g.xy(200.25, 30.25))
    page.mouse.click(*g.xy(200.25, 60.25))
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")
    assert np.array_equal(mask(page), expected)
    # a triangle closed by double-clicking its last vertex
    page.mouse.click(*g.xy(150.25, 150.25))
    page.mouse.click(*g.xy(200.25, 150.25))
    page.mouse.dblclick(*g.xy(150.25, 200.25))
    jj, ii = np.mgrid[0:N, 0:N]
    cx, cy = ii + 0.5, jj + 0.5
    tri = ((cx >= 150.25) & (cy >= 150.25) & (cx + cy < 350.5)).astype(np.uint8)
    got = mask(page) & (1 - expected)
    assert np.array_equal(got, tri), f"{int((got != tri).sum())} pixels differ"
    # closing by clicking the first vertex again, with Shift held: cuts the polygon out
    inner = [(50.25, 50.25), (60.25, 50.25), (60.25, 60.25), (50.25, 60.25)]
    for u, v in inner:
        page.mouse.click(*g.xy(u, v))
    page.keyboard.down("Shift")
    page.mouse.click(*g.xy(*inner[0]))
    page.keyboard.up("Shift")
    expected[50:60, 50:60] = 0
    assert np.array_equal(mask(page) & (1 - tri), expected)
    assert [c["action"] for c in changes(page)] == ["polygon", "polygon", "polygon"]


def test_fill_fills_inside_of_a_closed_ring_only(page):
    g = Geo(page)
    jj, ii = np.mgrid[0:N, 0:N]
    d2 = (ii - 128) ** 2 + (jj - 128) ** 2
    ring = ((d2 >= 20**2) & (d2 <= 26**2)).astype(np.uint8)
    start = ring.copy()
    start[10, 10] = 1  # a stray pixel outside the ring
    set_mask(page, K1, start)
    page.keyboard.press("f")
    page.mouse.click(*g.xy(130.5, 131.5))
    expected = start | (d2 < 20**2).astype(np.uint8)
    got = mask(page)
    assert np.array_equal(got, expected), f"{int((got != expected).sum())} pixels differ"
    assert got[128, 160] == 0 and got[0, 0] == 0
    # clicking a painted pixel without a modifier changes nothing; shift+click clears its connected region
    page.mouse.click(*g.xy(128.5, 128.5))
    assert np.array_equal(mask(page), expected)
    page.keyboard.down("Shift")
    page.mouse.click(*g.xy(128.5, 128.5))
    page.keyboard.up("Shift")
    only_dot = np.zeros((N, N), np.uint8)
    only_dot[10, 10] = 1
    assert np.array_equal(mask(page), only_dot)
    assert [c["action"] for c in changes(page)] == ["set", "fill", "fill"]


def test_undo_redo_restore_exact_arrays_one_step_per_edit(page):
    g = Geo(page)
    states = [mask(page)]
    drag(page, [g.xy(30.5, 30.5), g.xy(90.5, 60.5), g.xy(120.5, 30.5)])  # one long stroke, many moves
    states.append(mask(page))
    page.keyboard.press("p")
    for u, v in [(140.25, 140.25), (220.25, 150.25), (180.25, 220.25)]:
        page.mouse.click(*g.xy(u, v))
    page.keyboard.press("Enter")
    states.append(mask(page))
    page.keyboard.press("b")
    drag(page, [g.xy(180.5, 150.5), g.xy(180.5, 200.5)], modifiers=["Shift"])
    states.append(mask(page))
    assert all(not np.array_equal(a, b) for a, b in zip(states, states[1:]))
    page.keyboard.press("Control+z")
    assert np.array_equal(mask(page), states[2])
    page.locator("[data-action=undo]").click()
    assert np.array_equal(mask(page), states[1])
    page.keyboard.press("Control+z")
    assert np.array_equal(mask(page), states[0])
    assert page.locator("[data-action=undo]").is_disabled()
    page.keyboard.press("Control+y")
    assert np.array_equal(mask(page), states[1])
    page.locator("[data-action=redo]").click()
    assert np.array_equal(mask(page), states[2])
    page.keyboard.press("Control+Shift+z")
    assert np.array_equal(mask(page), states[3])
    page.keyboard.press("Control+z")
    assert np.array_equal(mask(page), states[2])
    # a new edit drops the redo branch
    page.mouse.click(*g.xy(20.5, 200.5))
    assert page.locator("[data-action=redo]").is_disabled()
    assert page.evaluate("rpTest.painter.redo()") is False
    acts = [c["action"] for c in changes(page)]
    assert acts == ["stroke", "polygon", "erase", "undo", "undo", "undo", "redo", "redo", "redo", "undo", "stroke"]
    # unsubscribe works
    page.evaluate("() => { const off = rpTest.painter.onChange(() => { throw new Error('called'); }); off(); rpTest.painter.clear('nodule:left'); }")
    assert changes(page)[-1] == {"key": K1, "action": "clear"}
    assert mask(page).sum() == 0


def test_png_round_trip_is_exact_with_holes_and_single_pixels(page):
    g = Geo(page)
    set_size(page, 21)
    page.mouse.click(*g.xy(64.5, 64.5))
    set_size(page, 1)
    page.keyboard.down("Shift")
    page.mouse.click(*g.xy(64.5, 64.5))  # a one-pixel hole
    page.keyboard.up("Shift")
    for i, j in [(200, 30), (202, 30), (0, 0), (255, 255), (255, 0)]:
        page.mouse.click(*g.xy(i + 0.5, j + 0.5))  # isolated single pixels, corners included
    m1 = mask(page)
    assert m1[64, 64] == 0 and m1[64, 65] == 1 and m1[30, 200] == 1 and m1[30, 201] == 0 and m1[255, 255] == 1
    rng = np.random.default_rng(7)
    m2 = (rng.random((N, N)) < 0.3).astype(np.uint8)  # worst case: noise
    set_mask(page, K2, m2)
    for key, expected in ((K1, m1), (K2, m2)):
        url = page.evaluate("(k) => rpTest.painter.toPngDataUrl(k)", key)
        assert np.array_equal(decode_png(url), expected), key
        assert np.array_equal(mask(page, key), expected)
    # the browser decodes it identically too: RadPainter.maskFromPng (loading stored masks back)
    for key, expected in ((K1, m1), (K2, m2)):
        back = page.evaluate("async (k) => Array.from(await RadPainter.maskFromPng(rpTest.painter.toPngDataUrl(k)))", key)
        assert np.array_equal(np.array(back, dtype=np.uint8).reshape(N, N), expected), key
    assert len(page.evaluate("(k) => rpTest.painter.toPngDataUrl(k)", K1)) < 16_000


def test_switching_findings_paints_into_the_other_mask_only(page):
    g = Geo(page)
    set_size(page, 3)
    drag(page, [g.xy(50.5, 50.5), g.xy(70.5, 50.5)])
    m1 = mask(page, K1)
    assert m1.sum() > 0
    page.locator(f".rp-finding[data-key='{K2}']").click()  # the finding list, real mouse
    assert page.evaluate("rpTest.painter.getActive()") == K2
    assert page.locator("[data-rp=size-value]").inner_text() == "8 px", "brush size is remembered per finding"
    assert page.locator("[data-rp=active]").inner_text() == "Pleural effusion (right)"
    page.locator("[data-rp=root]").focus()
    drag(page, [g.xy(180, 150), g.xy(180, 190)])  # even brush sizes centre on pixel corners
    assert np.array_equal(mask(page, K1), m1), "painting finding 2 changed finding 1"
    m2 = mask(page, K2)
    expected = np.zeros((N, N), np.uint8)
    for j in range(150, 191):
        expected |= disc(180, j, 8)
    assert np.array_equal(m2, expected), f"{int((m2 != expected).sum())} pixels differ"
    assert (m1 & m2).sum() == 0
    page.keyboard.press("1")
    assert page.evaluate("rpTest.painter.getActive()") == K1
    assert page.locator("[data-rp=size-value]").inner_text() == "3 px"
    page.keyboard.press("Control+z")  # per painter: undoes the last edit, which was on finding 2
    assert mask(page, K2).sum() == 0 and np.array_equal(mask(page, K1), m1)
    page.keyboard.press("Control+y")
    # both masks stay visible on screen, each in its colour
    page.mouse.move(g.box["x"] + 5, g.box["y"] - 20)
    settled(page)
    px = stage_pixels(page)
    x, y = g.local(60.5, 50.5)
    assert px[y, x][0] > px[y, x][2] + 40, px[y, x]
    x, y = g.local(180.5, 170.5)
    assert px[y, x][2] > px[y, x][0] + 40, px[y, x]
    assert set(page.evaluate("Object.keys(rpTest.painter.getMasks())")) == {K1, K2}



def test_two_masks_show_in_their_colours(page):
    """Also the docs screenshot: a left-lung nodule (brush, plus a satellite dot) and a right
    effusion (polygon), both visible in their colours while the nodule is the active finding."""
    g = Geo(page)
    page.keyboard.press("2")
    page.keyboard.press("p")
    for u, v in [(34, 150), (70, 170), (104, 176), (112, 196), (80, 204), (46, 196), (30, 176)]:
        page.mouse.click(*g.xy(u, v))
    page.keyboard.press("Enter")
    page.keyboard.press("1")
    page.keyboard.press("b")
    set_size(page, 15)
    page.mouse.click(*g.xy(178.5, 92.5))
    set_size(page, 5)
    page.mouse.click(*g.xy(196.5, 120.5))
    m1, m2 = mask(page, K1), mask(page, K2)
    assert m1[92, 178] == 1 and m1[120, 196] == 1 and m2[185, 75] == 1 and (m1 & m2).sum() == 0
    page.mouse.move(*g.xy(150.5, 140.5))
    settled(page)
    px = stage_pixels(page)
    for (u, v), colour in (((178.5, 92.5), RED), ((75.5, 185.5), BLUE)):
        x, y = g.local(u, v)
        hue = np.array(colour) - np.mean(colour)
        seen = px[y, x] - px[y, x].mean()
        assert float(np.dot(hue, seen)) > 0.15 * float(np.dot(hue, hue)), (colour, px[y, x])  # tinted towards it
    shot = os.environ.get("RADPAINTER_DOCS_SCREENSHOT")
    if shot:
        out = ROOT / shot
        out.parent.mkdir(parents=True, exist_ok=True)
        page.locator("#painter").screenshot(path=str(out))


def test_middle_drag_and_space_drag_pan(page):
    g = Geo(page)
    cx, cy = g.xy(128, 128)
    e0, f0 = page.evaluate("[rpTest.painter._xf.e, rpTest.painter._xf.f]")
    drag(page, [(cx, cy), (cx + 40, cy + 10)], button="middle")
    e1, f1 = page.evaluate("[rpTest.painter._xf.e, rpTest.painter._xf.f]")
    assert abs((e1 - e0) - 40) < 1.5 and abs((f1 - f0) - 10) < 1.5, (e0, e1, f0, f1)
    assert mask(page).sum() == 0, "panning must not paint"
    page.keyboard.down(" ")
    drag(page, [(cx, cy), (cx - 40, cy - 10)])
    page.keyboard.up(" ")
    assert abs(page.evaluate("rpTest.painter._xf.e") - e0) < 1.5
    assert abs(page.evaluate("rpTest.painter._xf.f") - f0) < 1.5
    assert mask(page).sum() == 0 and changes(page) == []
    # after a pan the brush still lands under the cursor
    drag(page, [(cx, cy), (cx + 80, cy)], button="middle")
    for _ in range(12):
        page.keyboard.press("[")
    page.mouse.click(cx + 80 + 0.5 * g.s, cy + 0.5 * g.s)
    m = mask(page)
    assert m.sum() == 1 and m[128, 128] == 1, np.argwhere(m)
    page.keyboard.press("r")
    assert abs(page.evaluate("rpTest.painter._xf.e") - e0) < 0.5


def test_overlay_stays_aligned_with_the_image_when_zoomed(page):
    check_alignment_zoomed(page)


def test_overlay_alignment_on_a_hidpi_screen(browser, base_url):
    page, problems = _open(browser, base_url, device_scale_factor=2)
    try:
        check_alignment_zoomed(page)
        assert page.evaluate("window.cspViolations") == []
        assert problems == [], problems
    finally:
        page.close()


def test_cpu_rendering_fallback_still_paints(playwright_instance, base_url):
    """Without WebGL Cornerstone renders on the CPU; our own labelmaps paint all the same."""
    b = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, "--disable-3d-apis", "--disable-webgl"])
    try:
        page, problems = _open(b, base_url)
        assert page.evaluate("rpTest.painter.renderer") == "cpu"
        g = Geo(page)
        for _ in range(12):
            page.keyboard.press("[")
        page.mouse.click(*g.xy(77.5, 99.5))
        m = mask(page)
        assert m.sum() == 1 and m[99, 77] == 1
        page.evaluate("rpTest.painter.clear('nodule:left')")
        page.keyboard.press("]")
        check_alignment_zoomed(page)
        assert page.evaluate("window.cspViolations") == []
        assert problems == [], problems
    finally:
        b.close()


def test_api_validation_and_destroy(page):
    with pytest.raises(Exception, match="unknown finding"):
        page.evaluate("rpTest.painter.setActive('nope')")
    with pytest.raises(Exception, match="expected 65536"):
        page.evaluate("rpTest.painter.setMask('nodule:left', new Uint8Array(10))")
    got = page.evaluate(
        """async () => { const old = rpTest.painter; old.destroy();
        const m = new Uint8Array(256 * 256); m[5] = 1; m[300] = 7;
        const p = await RadPainter.create(document.getElementById('painter'), {
          width: 256, height: 256, background: rpTest.makeChest(), findings: rpTest.findings,
          masks: { 'effusion:right': m } });
        rpTest.painter = p;
        const back = p.getMask('effusion:right');
        return { n: document.querySelectorAll('.rp-root').length, sum: back.reduce((a, b) => a + b, 0), v: back[300],
                 undo: p.undo(), active: p.getActive() }; }"""
    )
    assert got == {"n": 1, "sum": 2, "v": 1, "undo": False, "active": K1}

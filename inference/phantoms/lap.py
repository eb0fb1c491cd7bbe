"""Laparoscopy: a procedural 2.5D endoscopic scene of the gallbladder region, rendered as smooth clips.

The scene lives in a world plane (u, v in mm, v downward) with a height field per organ: liver above,
gallbladder under the liver edge, omentum and bowel below. Albedo comes from organ colours and
world-space textures (lobular noise, branching vessels), so textures move with the camera. Shading:
a head light at the scope tip (diffuse + wet specular highlights that slide as the camera moves),
inverse-square depth falloff, vignetting, drifting cautery smoke. Instruments (grasper, hook, clip
applier) enter from the edges in screen space, cast soft shadows and carry their own masks.
Everything that changes over a clip is a smooth function of the frame index.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage

from ..conditions import ConditionError

N_FRAMES = 300  # 10 s at 30 frames/s
FPS = 30.0
WORLD = 192.0  # mm, texture extent
TEX = 512
SCENE_POOL = 16
INSTRUMENTS = ("grasper", "hook", "clip_applier")


def _fbm(rng, n, octaves=5, base=4):
    out = np.zeros((n, n), np.float32)
    amp, tot = 1.0, 0.0
    for o in range(octaves):
        c = base * 2 ** o
        g = rng.standard_normal((c + 3, c + 3)).astype(np.float32)
        up = ndimage.zoom(g, n / c, order=3, mode="wrap")[:n, :n]
        out += amp * up
        tot += amp
        amp *= 0.5
    out /= tot
    return (out - out.mean()) / (out.std() + 1e-6)


def _vessels(rng, n, count, width_px, colour_depth=1.0):
    """Branching vessel texture in [0, 1] (1 = vessel core)."""
    from PIL import Image, ImageDraw

    im = Image.new("F", (n, n), 0.0)
    dr = ImageDraw.Draw(im)

    def branch(x, y, ang, w, length, depth):
        if w < 0.6 or depth > 6:
            return
        steps = int(length / 6) + 2
        pts = [(x, y)]
        for _ in range(steps):
            ang += rng.normal(0, 0.25)
            x += 6 * math.cos(ang)
            y += 6 * math.sin(ang)
            pts.append((x, y))
        dr.line(pts, fill=float(min(1.0, w / 3.0) * colour_depth), width=max(1, int(round(w))))
        for _ in range(2):
            j = int(rng.integers(1, len(pts)))
            bx, by = pts[j]
            branch(bx, by, ang + rng.choice([-1, 1]) * rng.uniform(0.4, 1.1), w * 0.68, length * 0.7, depth + 1)

    for _ in range(count):
        branch(rng.uniform(0, n), rng.uniform(0, n), rng.uniform(0, 2 * math.pi), width_px, n * 0.35, 0)
    a = np.asarray(im, np.float32)
    return ndimage.gaussian_filter(a, 0.8)


@functools.lru_cache(maxsize=SCENE_POOL * 2)
def scene(scene_id: int):
    """World layout and textures of one scene (cached)."""
    rng = np.random.default_rng([scene_id, 5151])
    s = {
        "edge_a": rng.uniform(8, 16), "edge_f": rng.uniform(0.02, 0.035), "edge_p": rng.uniform(0, 6.28),
        "edge_v": rng.uniform(-22, -8),
        "gb_u": rng.uniform(-10, 14), "gb_rot": rng.uniform(-0.75, -0.35), "gb_a": rng.uniform(32, 40),
        "gb_b": rng.uniform(13, 17), "om_v": rng.uniform(30, 42), "liver_tint": rng.uniform(-0.06, 0.06),
        "fat_tint": rng.uniform(-0.06, 0.06),
        "tex_lob": _fbm(rng, TEX, 5, 6), "tex_fine": _fbm(rng, TEX, 3, 48), "tex_fat": _fbm(rng, TEX, 4, 20),
        "ves_om": _vessels(rng, TEX, 14, 4.0), "ves_gb": _vessels(rng, TEX, 10, 2.2),
        "ves_bowel": _vessels(rng, TEX, 16, 2.0),
    }
    return s


def _sample(tex, u, v):
    n = tex.shape[0]
    ci = (u / WORLD + 0.5) * n
    ri = (v / WORLD + 0.5) * n
    return ndimage.map_coordinates(tex, [ri.ravel(), ci.ravel()], order=1, mode="mirror").reshape(u.shape)


def _smooth(x, a, b):
    t = np.clip((x - a) / (b - a), 0, 1)
    return t * t * (3 - 2 * t)


def _camera(rng_clip: np.random.Generator, t: float):
    ph = rng_clip.uniform(0, 2 * math.pi, 6)
    fr = rng_clip.uniform(0.05, 0.16, 6)
    cx = 10.0 * math.sin(2 * math.pi * fr[0] * t + ph[0]) + 4.0 * math.sin(2 * math.pi * fr[3] * t + ph[3])
    cy = 7.0 * math.sin(2 * math.pi * fr[1] * t + ph[1])
    rot = 0.12 * math.sin(2 * math.pi * fr[2] * t + ph[2])
    dist = 1.0 + 0.15 * math.sin(2 * math.pi * fr[4] * t + ph[4])  # scope in/out
    return cx, cy, rot, dist


def render_lap(cond, seed: int, size: int):
    fi = cond.frame_index
    if fi is not None and not (0 <= int(fi) < N_FRAMES):
        raise ConditionError(f"frame_index {fi!r} is outside 0-{N_FRAMES - 1}")
    if fi is None:
        fi = int(np.random.default_rng([seed, 62]).integers(N_FRAMES))
    fi = int(fi)
    t = fi / FPS
    sc = scene(int(seed) % SCENE_POOL)
    keys = {f.key: f for f in cond.findings}
    sev = {f.key: ("mild", "moderate", "severe").index(f.severity) for f in cond.findings}
    clip = np.random.default_rng([seed, 63])
    cx, cy, rot, dist = _camera(np.random.default_rng([seed, 64]), t)

    # screen -> world
    S = size
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    xs = (xx + 0.5) / S - 0.5
    ys = (yy + 0.5) / S - 0.5
    fov = 120.0 * dist
    # perspective tilt: the top of the image is farther away, so it covers more world
    persp = 1.0 + 0.5 * (-ys)
    cr, sr = math.cos(rot), math.sin(rot)
    u = cx + fov * persp * (cr * xs - sr * ys)
    v = cy + fov * persp * (sr * xs + cr * ys) * 0.95
    depth = 70.0 * dist * (1.0 + 0.55 * (-ys + 0.5))  # mm from the scope tip

    # ---------------------------------------------------------------- organ geometry (world)
    edge = sc["edge_v"] + sc["edge_a"] * np.sin(u * sc["edge_f"] * 2 * math.pi / 6 + sc["edge_p"])
    liver = v < edge
    h = np.zeros_like(u)
    h += np.where(liver, 10.0 * _smooth(edge - v, 0, 30), 0.0)
    # gallbladder (pear shaped, under the liver edge)
    dist_gb = "gallbladder_distended" in keys
    ga = sc["gb_a"] * (1.0 + (0.18, 0.28, 0.4)[sev.get("gallbladder_distended", 1)] * dist_gb)
    gb_b = sc["gb_b"] * (1.0 + (0.3, 0.45, 0.6)[sev.get("gallbladder_distended", 1)] * dist_gb)
    gu = sc["gb_u"]
    gv = float(sc["edge_v"] + sc["edge_a"] * math.sin(gu * sc["edge_f"] * 2 * math.pi / 6 + sc["edge_p"])) + 6.0
    du, dv = u - gu, v - gv
    cg, sg = math.cos(sc["gb_rot"]), math.sin(sc["gb_rot"])
    a_ax = cg * du + sg * dv
    b_ax = -sg * du + cg * dv
    taper = 0.55 + 0.45 * np.clip((a_ax / ga + 1) / 2, 0, 1)  # fundus wide, neck narrow
    rr = (a_ax / ga) ** 2 + (b_ax / (gb_b * taper)) ** 2
    gb = rr < 1.0
    gb_h = np.sqrt(np.clip(1 - rr, 0, 1)) * gb_b * (1.1 if dist_gb else 0.8)
    h = np.where(gb, np.maximum(h, 4.0 + gb_h), h)
    # omentum below, bowel loops at the bottom
    om_v = sc["om_v"]
    lower = v > edge + 4
    bowel = lower & (v > om_v + 18 + 8 * np.sin(u / 17.0 + 1.0))
    omentum = lower & ~bowel & ~gb
    loops = np.sin(u / 9.0 + 3 * np.sin(v / 21.0)) * np.sin(v / 11.0)
    h = np.where(bowel, 6.0 + 5.0 * np.abs(loops), h)
    fat = _sample(sc["tex_fat"], u, v)
    h = np.where(omentum, 3.0 + 1.8 * fat, h)
    appendix = np.zeros_like(liver)
    if "appendix_inflamed" in keys:
        p0 = np.array([-42.0, om_v - 6.0])
        d = np.array([math.cos(0.35), math.sin(0.35)])
        w = (6.0, 7.5, 9.0)[sev["appendix_inflamed"]]
        q = np.stack([u - p0[0], v - p0[1]], -1)
        tt = np.clip(q @ d / 45.0, 0, 1)
        bend = 6.0 * np.sin(tt * math.pi)
        px = p0[0] + tt * 45.0 * d[0] - bend * d[1]
        py = p0[1] + tt * 45.0 * d[1] + bend * d[0]
        dd = np.sqrt((u - px) ** 2 + (v - py) ** 2)
        appendix = dd < w * (0.7 + 0.3 * (1 - tt))
        h = np.where(appendix, np.maximum(h, 9.0 + np.sqrt(np.clip(w ** 2 - dd ** 2, 0, None))), h)

    # ---------------------------------------------------------------- albedo
    lob = _sample(sc["tex_lob"], u, v)
    fine = _sample(sc["tex_fine"], u, v)
    col = np.zeros((S, S, 3), np.float32)
    liver_c = np.array([0.47, 0.13, 0.10]) * (1 + sc["liver_tint"])
    col[liver] = liver_c
    col[liver] *= (1.0 + 0.08 * lob[liver] + 0.05 * fine[liver])[:, None]
    om_c = np.array([0.86, 0.70, 0.36]) * (1 + sc["fat_tint"])
    ves_om = _sample(sc["ves_om"], u, v)
    col[omentum] = om_c * (1.0 + 0.07 * fat[omentum])[:, None]
    vcol = np.array([0.55, 0.08, 0.08])
    a = np.clip(ves_om * 1.4, 0, 1)[..., None]
    col = np.where(omentum[..., None], col * (1 - a) + vcol * a, col)
    bowel_c = np.array([0.80, 0.50, 0.48])
    vb = _sample(sc["ves_bowel"], u, v)
    bcol = bowel_c * (0.9 + 0.1 * loops)[..., None]
    bcol = bcol * (1 - 0.6 * vb[..., None]) + np.array([0.6, 0.12, 0.15]) * 0.6 * vb[..., None]
    col = np.where(bowel[..., None], bcol, col)
    # gallbladder: normal blue-green-grey; inflamed: red, oedematous, hyperaemic vessels, fibrin
    vg = _sample(sc["ves_gb"], u, v)
    infl = sev.get("gallbladder_inflamed", -1) + 1 if "gallbladder_inflamed" in keys else 0
    gb_c = np.array([0.42, 0.55, 0.45]) if not infl else np.array([0.78, 0.24 - 0.04 * infl, 0.20])
    if dist_gb and not infl:
        gb_c = np.array([0.50, 0.62, 0.55])  # tense, paler
    gcol = gb_c * (1.0 + 0.05 * fine)[..., None]
    vamt = np.clip(vg * (0.6 + 0.5 * infl), 0, 1)[..., None]
    gcol = gcol * (1 - vamt) + np.array([0.6, 0.06, 0.08]) * vamt
    if infl:
        fib = np.clip((fine - 1.2 + 0.25 * infl) * 1.5, 0, 1)[..., None]  # fibrin patches
        gcol = gcol * (1 - fib) + np.array([0.85, 0.80, 0.62]) * fib
    col = np.where(gb[..., None], gcol, col)
    if appendix.any():
        ap = np.array([0.72, 0.22, 0.20]) * (1.0 + 0.08 * fine)[..., None]
        col = np.where(appendix[..., None], ap, col)

    masks = {}
    wet = np.full((S, S), 0.35, np.float32)
    wet[gb] = 0.8 if not dist_gb else 1.0
    wet[liver] = 0.6

    # gallstone (spilled on the omentum / bulging at the neck)
    if "gallstone" in keys:
        f = keys["gallstone"]
        r = float(f.size_mm or (6.0, 12.0, 20.0)[sev["gallstone"]]) / 2.0
        su = gu + math.cos(sc["gb_rot"]) * ga * 0.2 + 4.0
        sv = gv + gb_b + r + 10.0
        du2, dv2 = u - su, v - sv
        ang = np.arctan2(dv2, du2)
        facet = r * (1.0 + 0.1 * np.cos(5 * ang + seed % 7))
        dd = np.sqrt(du2 ** 2 + dv2 ** 2)
        stone = dd < facet
        h = np.where(stone, np.maximum(h, 8.0 + np.sqrt(np.clip(facet ** 2 - dd ** 2, 0, None))), h)
        scol = np.array([0.62, 0.52, 0.22]) * (0.85 + 0.15 * np.cos(5 * ang))[..., None]
        col = np.where(stone[..., None], scol, col)
        wet[stone] = 0.9
        masks["gallstone:none"] = stone
    # adhesions: filmy white bands from the gallbladder to the omentum
    adh = np.zeros_like(liver)
    adh_alpha = np.zeros((S, S), np.float32)
    if "adhesions" in keys:
        arng = np.random.default_rng([int(seed) % SCENE_POOL, 77])
        for i in range((2, 3, 5)[sev["adhesions"]]):
            p0 = np.array([gu + arng.uniform(-ga * 0.6, ga * 0.6), gv + arng.uniform(-4, gb_b * 0.6)])
            p1 = np.array([p0[0] + arng.uniform(-25, 25), om_v + arng.uniform(5, 25)])
            d = p1 - p0
            ll = float(d @ d)
            tt = np.clip(((u - p0[0]) * d[0] + (v - p0[1]) * d[1]) / ll, 0, 1)
            dd = np.sqrt((u - p0[0] - tt * d[0]) ** 2 + (v - p0[1] - tt * d[1]) ** 2)
            w = arng.uniform(2.5, 5.5) * (1.0 + 0.6 * np.sin(tt * math.pi))
            band = dd < w
            adh |= band
            fibres = 0.55 + 0.35 * np.sin(dd * 3.0 + fine * 2.0)
            adh_alpha = np.maximum(adh_alpha, band * np.clip(fibres * (1 - dd / w) * 1.3, 0, 0.9))
        col = col * (1 - adh_alpha[..., None]) + np.array([0.92, 0.88, 0.84]) * adh_alpha[..., None]
        h = h + 3.0 * adh_alpha
        masks["adhesions:none"] = adh_alpha > 0.15
    # bleeding: a glossy pool that grows over the clip, with a trickle
    if "bleeding" in keys:
        bs = sev["bleeding"]
        bu, bv = gu - ga * 0.55, gv + 2.0
        grow = 1.0 + 0.6 * (fi / N_FRAMES)
        r0 = (7.0, 11.0, 16.0)[bs] * grow
        nb = _sample(sc["tex_lob"], u * 3.0, v * 3.0)
        dd = np.sqrt((u - bu) ** 2 + ((v - bv) * 0.8) ** 2) + 2.5 * nb
        trick = (np.abs(u - bu - 0.08 * (v - bv)) < 1.6 + 0.4 * bs) & (v > bv) & (v < bv + r0 * 2.8)
        pool = (dd < r0) | trick
        col = np.where(pool[..., None], np.array([0.42, 0.02, 0.03]) * (0.9 + 0.1 * fine)[..., None], col)
        h = np.where(pool, h + 1.5, h)
        wet[pool] = 1.3
        masks["bleeding:none"] = pool
    if infl:
        masks["gallbladder_inflamed:none"] = gb.copy()
    if dist_gb:
        masks["gallbladder_distended:none"] = gb.copy()
    if appendix.any():
        masks["appendix_inflamed:none"] = appendix

    # ---------------------------------------------------------------- shading
    px_mm = fov / S
    hs = ndimage.gaussian_filter(h, 0.8)
    gy, gx = np.gradient(hs, px_mm)
    gx = gx + 0.25 * np.gradient(fine, axis=1) / px_mm * 0.5
    n = np.stack([-gx, -gy, np.ones_like(gx)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    # head light at the scope tip: light and view direction from the pixel toward the camera
    lv = np.stack([-xs * 0.8, -ys * 0.8, np.ones_like(xs)], -1)
    lv /= np.linalg.norm(lv, axis=-1, keepdims=True)
    ndl = np.clip((n * lv).sum(-1), 0, 1)
    spec = ndl ** 60 * wet * 0.8 + 0.35 * (ndl ** 200) * (fine > 1.7) * wet
    fall = np.clip((78.0 / depth) ** 2, 0, 1.6)
    img = col * (0.25 + 0.85 * ndl)[..., None] * fall[..., None] + spec[..., None] * np.array([1.0, 0.97, 0.92])
    # ------------------------------------------------------------------ instruments (screen space)
    n_inst = 1 + int(clip.integers(0, 3))
    chosen = list(clip.choice(INSTRUMENTS, size=n_inst, replace=False))
    entries = [(-0.15, 1.1), (1.15, 1.05), (1.15, 0.35)]
    clip.shuffle(entries)
    inst_all = np.zeros((S, S), bool)
    inst_col = np.zeros((S, S, 3), np.float32)
    for k, name in enumerate(chosen):
        e = np.array(entries[k])
        ph = clip.uniform(0, 2 * math.pi, 3)
        fq = clip.uniform(0.08, 0.22, 2)
        tip = np.array([0.5 + 0.18 * math.sin(2 * math.pi * fq[0] * t + ph[0]) + (e[0] - 0.5) * 0.25,
                        0.5 + 0.14 * math.sin(2 * math.pi * fq[1] * t + ph[1]) + (e[1] - 0.5) * 0.2])
        d = tip - e
        L = float(np.linalg.norm(d))
        dn = d / L
        nrm = np.array([-dn[1], dn[0]])
        qx, qy = (xx + 0.5) / S - e[0], (yy + 0.5) / S - e[1]
        along = qx * dn[0] + qy * dn[1]
        across = qx * nrm[0] + qy * nrm[1]
        w = 0.045 * (1.25 - 0.35 * np.clip(along / L, 0, 1))
        shaft = (along > 0) & (along < L) & (np.abs(across) < w)
        parts = shaft.copy()
        # tip geometry in the instrument frame (a = along beyond the tip, c = across)
        a_t = along - L
        c_t = across
        jl = 0.085
        if name == "grasper":
            open_ang = 0.15 + 0.2 * (0.5 + 0.5 * math.sin(2 * math.pi * 0.3 * t + ph[2]))
            for sgn in (-1, 1):
                ang = sgn * open_ang
                ja = a_t * math.cos(ang) + c_t * math.sin(ang)
                jc = -a_t * math.sin(ang) + c_t * math.cos(ang)
                parts |= (ja > 0) & (ja < jl) & (np.abs(jc) < 0.014 * (1.2 - ja / jl))
        elif name == "hook":
            parts |= (a_t > 0) & (a_t < 0.07) & (np.abs(c_t) < 0.008)
            parts |= (a_t > 0.055) & (a_t < 0.072) & (c_t > -0.004) & (c_t < 0.035)
        else:  # clip applier: two short parallel jaws holding a titanium clip
            for sgn in (-1, 1):
                parts |= (a_t > 0) & (a_t < 0.06) & (np.abs(c_t - sgn * 0.016) < 0.008)
            parts |= (a_t > 0.01) & (a_t < 0.05) & (np.abs(c_t) < 0.004)
        parts &= ~inst_all
        tipzone = parts & ~shaft
        cyl = np.clip(1 - (across / np.maximum(w, 1e-3)) ** 2, 0, 1)
        shade = 0.35 + 0.65 * np.sqrt(cyl)
        base = np.where(tipzone, 0.62, 0.10)  # black coated shaft, steel jaws
        c = base * shade + 0.9 * np.exp(-((across / np.maximum(w, 1e-3) + 0.35) ** 2) / 0.02) * (shaft | tipzone)
        inst_col[parts] = np.stack([c, c, c * 1.02], -1)[parts]
        masks[f"instrument:{name}"] = parts
        inst_all |= parts
    # soft shadows of the instruments on the tissue
    if inst_all.any():
        sh = ndimage.gaussian_filter(np.roll(inst_all.astype(np.float32), (int(0.04 * S), int(0.03 * S)), (0, 1)),
                                     0.02 * S)
        img = img * (1 - 0.45 * sh)[..., None]
    img = np.where(inst_all[..., None], inst_col, img)
    # ------------------------------------------------------------------ camera effects
    smoke_level = 0.15 + 0.25 * (0.5 + 0.5 * math.sin(2 * math.pi * 0.05 * t + seed % 5)) if "hook" in chosen else 0.06
    sm = _sample(sc["tex_fat"], xs * 150 + 6.0 * t, ys * 150 - 3.0 * t)
    haze = np.clip(smoke_level * (0.6 + 0.4 * sm), 0, 0.8)[..., None]
    img = img * (1 - haze) + np.array([0.78, 0.76, 0.74]) * haze
    r2 = xs ** 2 + ys ** 2
    vig = np.clip(1.0 - 1.6 * r2 ** 1.5, 0.0, 1.0)
    img = img * vig[..., None]
    noise = np.random.default_rng([seed, 79, fi]).normal(0, 0.012, (S, S, 3)).astype(np.float32)
    img = np.clip(img * 1.05 + noise, 0, 1)
    pixels = np.round(img * 255).astype(np.uint8)
    # visible regions only (instruments occlude)
    for k in list(masks):
        if not k.startswith("instrument:"):
            masks[k] = masks[k] & ~inst_all
    masks["anatomy:liver"] = liver & ~gb & ~inst_all
    masks["anatomy:gallbladder"] = gb & ~inst_all
    for f in cond.findings:
        masks.setdefault(f"{f.key}:{f.laterality}", np.zeros((S, S), bool))
    return pixels, {k: np.ascontiguousarray(m, dtype=bool) for k, m in masks.items()}, {"frame_index": fi}

"""Axial CT of the same body: slabs of the label volume in HU (pulmonary-arterial contrast phase).

A slice at `slice_index` covers [z - spacing/2, z + spacing/2]; the voxel layers inside are
averaged in HU (partial volume across the slab), the square 384 mm field is resampled to the
output size with linear interpolation (partial volume in plane), a patient table is added, then
correlated quantum noise. Output int16 HU.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

from ..conditions import ConditionError
from .anatomy import FOV_Y, HEART, HU_CONTRAST, L, get_body, label_set

SLICE_SPACING_MM = 5.0
Z_FIRST_MM = 40.0
N_SLICES = 64  # slices 0..63 cover z 40..355 mm: lung apices to the upper abdomen


def slice_z(index: int) -> float:
    return Z_FIRST_MM + index * SLICE_SPACING_MM


def slice_of(z: float) -> int:
    return int(np.clip(round((z - Z_FIRST_MM) / SLICE_SPACING_MM), 0, N_SLICES - 1))


def voxel_for(size: int) -> float:
    return 6.0 if size <= 64 else 3.0 if size <= 256 else 2.0


def _slab(vol_layers: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.tensordot(weights, vol_layers, axes=(0, 0))


def _layers(grid, z: float, spacing: float):
    lo, hi = z - spacing / 2, z + spacing / 2
    zc = grid.z
    v = grid.voxel
    # overlap of each voxel layer [zc-v/2, zc+v/2] with the slab
    ov = np.clip(np.minimum(zc + v / 2, hi) - np.maximum(zc - v / 2, lo), 0, None)
    idx = np.nonzero(ov > 1e-6)[0]
    if len(idx) == 0:
        idx = np.array([int(np.clip(z / v, 0, len(zc) - 1))])
        w = np.ones(1)
    else:
        w = ov[idx] / ov[idx].sum()
    return idx, w.astype(np.float32)


def _to_square(img: np.ndarray, grid, fill: float) -> np.ndarray:
    """(ny, nx) slice over y in +-FOV_Y/2 -> square 384 mm field (rows = y from anterior)."""
    pad = int(round((384.0 - FOV_Y) / 2 / grid.voxel))
    return np.pad(img, ((pad, pad), (0, 0)), constant_values=fill)


@functools.lru_cache(maxsize=8)
def _slice_weights(voxel: float) -> np.ndarray:
    from .anatomy import Grid

    g = Grid(voxel)
    W = np.zeros((N_SLICES, g.shape[0]))
    for i in range(N_SLICES):
        layers, w = _layers(g, slice_z(i), SLICE_SPACING_MM)
        W[i, layers] = w
    return W


def widest_lung_slice(seed: int, sex: str, age_band: str) -> int:
    """The slice through the largest cross-section of this patient's lungs (about the hila): the one slice
    where most lung findings can be shown, so the CT mask painter draws over it."""
    body = get_body(seed, sex, age_band, 6.0)
    lungs = label_set(L.RUL, L.RML, L.RLL, L.LUL, L.LLL)[body.labels]
    return int(np.argmax(_slice_weights(body.grid.voxel) @ lungs.sum(axis=(1, 2))))


def _best_slice(body, app, findings, seed: int) -> int:
    """The slice that shows the most findings (then the most of them), nearest the first one's centre."""
    g = body.grid
    n_layers = g.shape[0]
    W = _slice_weights(g.voxel)
    areas = []
    for f in findings:
        m = app.masks.get(f"{f.key}:{f.laterality}")
        per_layer = m.sum(axis=(1, 2)).astype(np.float64) if m is not None else np.zeros(n_layers)
        areas.append(W @ per_layer)
    areas = np.array(areas)
    visible = (areas > 0.5).sum(0)
    frac = (areas / np.maximum(areas.max(1, keepdims=True), 1e-6)).sum(0)
    first = findings[0]
    c = app.centres.get(f"{first.key}:{first.laterality}")
    zc = c[2] if c is not None else slice_z(N_SLICES // 2)
    if first.key == "pneumoperitoneum":
        zc = body.params.z_dome_r + 25.0
    dist = np.abs(np.array([slice_z(i) for i in range(N_SLICES)]) - zc) / 1000.0
    score = visible * 10.0 + frac - dist
    return int(np.argmax(score))


def ct_slice(cond, seed: int, size: int):
    """-> pixels (int16 HU), masks, extra conditions, label slice (nearest, for tests/calibration)."""
    from .chest import Plane, apply_findings, stomach_gas

    voxel = voxel_for(size)
    body = get_body(seed, cond.sex, cond.age_band, voxel)
    canon = get_body(seed, cond.sex, cond.age_band, 6.0)
    idx = cond.slice_index
    if idx is not None and not (0 <= int(idx) < N_SLICES):
        raise ConditionError(f"slice_index {idx!r} is outside 0-{N_SLICES - 1}")
    has_mask = any(f.mask_png_b64 for f in cond.findings)
    z_plane = slice_z(idx if idx is not None else N_SLICES // 2)
    app = apply_findings(body, cond.findings, "supine", seed, Plane("ct", z_mm=z_plane), canon)
    if idx is None:
        if cond.findings and not has_mask:
            idx = _best_slice(body, app, cond.findings, seed)
        else:
            idx = int(np.random.default_rng([seed, 61]).integers(4, N_SLICES - 4))
    lab = app.labels
    stomach_gas(lab, body, "supine")
    g = body.grid
    layers, w = _layers(g, slice_z(idx), SLICE_SPACING_MM)
    hu = _slab(HU_CONTRAST[lab[layers]], w)
    # supine lungs: the dependent (posterior) parenchyma is denser (-890 anterior to -800 posterior)
    parenchyma = _slab(label_set(L.RUL, L.RML, L.RLL, L.LUL, L.LLL, L.EMPHYSEMA)[lab[layers]].astype(np.float32), w)
    yn = np.clip((g.y - g.y[0]) / (g.y[-1] - g.y[0]), 0, 1)[:, None]
    hu = hu + parenchyma * (90.0 * yn ** 2 - 40.0)
    mid = layers[int(np.argmax(w))]
    hu_sq = _to_square(hu, g, -1000.0)
    n = hu_sq.shape[0]
    mat = np.array([n / size, n / size])
    off = 0.5 * mat - 0.5
    out = ndimage.affine_transform(hu_sq, mat, offset=off, output_shape=(size, size), order=1, mode="nearest")
    # patient table (carbon couch) under the back
    px = 384.0 / size
    yy = -192.0 + (np.arange(size) + 0.5) * px
    xx = -192.0 + (np.arange(size) + 0.5) * px
    ytab = body.params.b0 + 52.0 + 0.0006 * xx ** 2
    table = (np.abs(yy[:, None] - ytab[None, :]) < max(2.5, 0.6 * px)) & (np.abs(xx)[None, :] < 175)
    out = np.where(table & (out < -500), 250.0, out)
    # correlated quantum noise, stronger in bigger patients
    rng = np.random.default_rng([seed, 78])
    sigma = {"slim": 11.0, "average": 14.0, "obese": 20.0}[body.params.habitus] * (px / 1.5) ** -0.5
    nz = ndimage.gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), 0.7)
    nz *= sigma / max(1e-6, float(nz.std()))
    body_mask = out > -950
    out = out + nz * np.where(body_mask, 1.0, 0.35)
    pixels = np.clip(np.round(out), -1024, 3071).astype(np.int16)

    masks3d = dict(app.masks)
    masks3d["anatomy:lungs"] = label_set(L.RUL, L.RML, L.RLL, L.LUL, L.LLL, L.AIRWAY, L.AIRWAY_WALL, L.PULM_VESSEL,
                                         L.EDEMA, L.EMPHYSEMA, L.BULLA, L.CONSOLIDATION, L.ATELECTASIS, L.NODULE,
                                         L.COLLAPSED, L.PLEURA, L.SEPTAL)[lab]
    masks3d["anatomy:heart"] = label_set(*HEART)[lab]
    masks = {}
    for k, vol in masks3d.items():
        sl = _slab(vol[layers].astype(np.float32), w)
        if sl.max() < 0.05:
            masks[k] = np.zeros((size, size), bool)
            continue
        sq = _to_square(sl, g, 0.0)
        r = ndimage.affine_transform(sq, mat, offset=off, output_shape=(size, size), order=1, mode="constant")
        # partial volume: a finding thinner than the slab or smaller than a pixel keeps its strongest pixels
        masks[k] = r >= min(0.5, 0.999 * float(r.max())) if r.max() > 0.05 else np.zeros((size, size), bool)
    lab_sq = _to_square(lab[mid], g, 0)
    lab_out = ndimage.affine_transform(lab_sq, mat, offset=off, output_shape=(size, size), order=0, mode="nearest")
    return pixels, masks, {"slice_index": int(idx)}, lab_out


def render_ct(cond, seed: int, size: int):
    pixels, masks, extra, _ = ct_slice(cond, seed, size)
    return pixels, masks, extra

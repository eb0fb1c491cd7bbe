"""Chest radiograph: Beer-Lambert ray sums through the label volume (a digitally reconstructed radiograph).

Physics, in order: divergent beam (per-slab magnification; the AP film magnifies the heart), line
integral of the linear attenuation, primary fluence exp(-integral), scatter as a broad blur of the
primary (scatter-to-primary ratio after an anti-scatter grid), heel effect (fluence falls toward the
anode side), quantum noise on the detected fluence, logarithm, the usual detector processing (edge
enhancement and dynamic-range compression), and a fixed tone curve to 12 bits MONOCHROME2 (lungs
dark, bone bright). Nothing depends on the image content except through physics, so a finding
changes pixels only where (and a little around where) it sits.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .anatomy import MU, FOV_Y, Grid

# source-image distance and the detector plane (y, mm) per view
SID = {"PA": 1800.0, "AP": 1000.0}
DETECTOR_Y = {"PA": -FOV_Y / 2, "AP": FOV_Y / 2}
N_SLABS = 4
# log-attenuation -> display, fixed (an automatic exposure control keeps the lung fields in range)
D_LO, D_HI, GAMMA = 1.2, 4.6, 1.0
EDGE, DRC = 0.5, 0.05
KNEE = 0.72
COARSE_MM = 30.0


def _zoom_about_centre(img: np.ndarray, m: float, order: int = 1) -> np.ndarray:
    """Magnify a 2D image by m about its centre, keeping its shape."""
    if abs(m - 1.0) < 1e-4:
        return img
    c = (np.array(img.shape) - 1) / 2.0
    scale = 1.0 / m
    offset = c - scale * c
    return ndimage.affine_transform(img, [scale, scale], offset=offset, order=order, mode="constant", cval=0.0,
                                    prefilter=False)


def project(grid: Grid, labels: np.ndarray, view: str, masks3d: dict[str, np.ndarray]):
    """Line integrals (z, x) and projected binary masks, with slab-wise beam divergence."""
    ny = labels.shape[1]
    mu = MU[labels]
    edges = np.linspace(0, ny, N_SLABS + 1).astype(int)
    sid, det = SID[view], DETECTOR_Y[view]
    # reference magnification: the mid-plane (y=0)
    m_ref = sid / (sid - abs(0.0 - det))
    line = np.zeros((labels.shape[0], labels.shape[2]), np.float32)
    keys = list(masks3d)
    bits = np.zeros(line.shape, np.uint32)
    for i in range(N_SLABS):
        a, b = edges[i], edges[i + 1]
        yc = float(grid.y[a:b].mean())
        m = (sid / (sid - abs(yc - det))) / m_ref
        part = mu[:, a:b, :].sum(axis=1) * grid.voxel
        line += _zoom_about_centre(part, m)
        # all masks of the slab packed as bits: one nearest-neighbour magnification per slab
        packed = np.zeros(line.shape, np.uint32)
        for j, k in enumerate(keys):
            packed |= masks3d[k][:, a:b, :].any(axis=1).astype(np.uint32) << j
        if packed.any():
            bits |= _zoom_about_centre(packed, m, order=0)
    proj_masks = {k: ((bits >> j) & 1).astype(bool) for j, k in enumerate(keys)}
    return line, proj_masks


def expose(line: np.ndarray, size: int, rng_noise: np.random.Generator, *, exposure: float = 1.0,
           heel: float = 0.08, spr: float = 0.2, photons: float = 150000.0) -> np.ndarray:
    """Line integrals at output size -> 12-bit MONOCHROME2 pixels (uint16 0..4095)."""
    px_mm = 384.0 / size
    primary = np.exp(-line)
    scatter = spr * ndimage.gaussian_filter(primary, sigma=45.0 / px_mm, mode="nearest") * 0.6
    zz = np.linspace(-0.5, 0.5, size, dtype=np.float32)[:, None]
    heel_f = 1.0 + heel * zz  # anode toward the head: fluence lower at the top
    signal = (primary + scatter) * heel_f * exposure
    # quantum noise (per pixel photon count scales with pixel area) plus a little electronic noise
    n_ph = photons * (px_mm / 1.5) ** 2
    noise = rng_noise.standard_normal((size, size), dtype=np.float32)
    signal = signal + noise * np.sqrt(np.maximum(signal, 1e-6) / n_ph) + 0.0004 * rng_noise.standard_normal(
        (size, size), dtype=np.float32)
    dens = -np.log(np.maximum(signal, 1e-4))
    # detector processing: edge enhancement and dynamic range compression
    fine = ndimage.gaussian_filter(dens, sigma=max(0.6, 2.0 / px_mm), mode="nearest")
    coarse = ndimage.gaussian_filter(dens, sigma=COARSE_MM / px_mm, mode="nearest")
    dens = dens + EDGE * (dens - fine) - DRC * (coarse - AEC_REF)
    t = np.clip((dens - D_LO) / (D_HI - D_LO), 0.0, None) ** GAMMA
    # film-like shoulder: dense regions (spine, abdomen) roll off instead of clipping
    t = np.where(t < KNEE, t, KNEE + (1.0 - KNEE) * np.tanh((t - KNEE) / (1.0 - KNEE)))
    return np.round(t * 4095.0).astype(np.uint16)


LUNG_ANATOMY = None


def _lung_table():
    global LUNG_ANATOMY
    if LUNG_ANATOMY is None:
        from .anatomy import LUNGISH, L, label_set

        LUNG_ANATOMY = label_set(*LUNGISH, L.CONSOLIDATION, L.ATELECTASIS, L.NODULE, L.EMPHYSEMA, L.BULLA,
                                 L.EDEMA, L.COLLAPSED, L.PLEURA, L.SEPTAL)
    return LUNG_ANATOMY


AEC_REF = 3.0  # line integral the exposure control aims for behind the lungs


def _aec(body, view: str) -> float:
    cache = body.__dict__.setdefault("_aec", {})
    if view not in cache:
        line, pm = project(body.grid, body.labels, view, {"l": _lung_table()[body.labels]})
        lung = pm["l"]
        cache[view] = float(np.exp(np.median(line[lung]) - AEC_REF)) if lung.any() else 1.0
    return cache[view]


def voxel_for(size: int) -> float:
    return 6.0 if size <= 64 else 4.0 if size <= 128 else 3.0 if size <= 256 else 2.0


def render_cxr(cond, seed: int, size: int):
    """-> (uint16 pixels, masks, resolved extras for the conditions)."""
    from .anatomy import HEART, get_body, label_set
    from .chest import Plane, apply_findings, stomach_gas

    body = get_body(seed, cond.sex, cond.age_band, voxel_for(size))
    canon = get_body(seed, cond.sex, cond.age_band, 6.0)
    posture = "erect" if cond.view == "PA" else "semi"
    app = apply_findings(body, cond.findings, posture, seed, Plane("cxr", cond.view), canon)
    lab = app.labels
    stomach_gas(lab, body, posture)
    masks3d = dict(app.masks)
    masks3d["anatomy:lungs"] = _lung_table()[lab]
    masks3d["anatomy:heart"] = label_set(*HEART)[lab]
    line, pm = project(body.grid, lab, cond.view, masks3d)
    # patient positioning: small shift / scale / rotation, drawn from the seed only (not the findings);
    # none when the caller drew a mask (the mask is in the unjittered frame)
    pose = np.random.default_rng([seed, 55])
    jit = pose.uniform(-1, 1, 4)
    if any(f.mask_png_b64 for f in cond.findings):
        jit[:] = 0.0
    n = line.shape[0]
    theta = np.deg2rad(2.5 * jit[0])
    scale = 1.0 + 0.04 * jit[1]
    shift = np.array([0.025 * jit[2], 0.025 * jit[3]]) * n
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    M = rot * (n / size) / scale
    c_out = np.array([(size - 1) / 2.0] * 2)
    c_in = np.array([(n - 1) / 2.0] * 2) + shift
    offset = c_in - M @ c_out
    line_s = ndimage.affine_transform(line, M, offset=offset, output_shape=(size, size), order=1, mode="nearest")
    # automatic exposure control: the chambers sit behind the lungs of the patient as built (findings
    # do not steer it, so they change only their own pixels); +-8% exposure scatter between films
    exposure = float(np.exp(pose.normal(0, 0.08))) * _aec(body, cond.view)
    pixels = expose(line_s, size, np.random.default_rng([seed, 77]), exposure=exposure)
    masks = {}
    for k, m2 in pm.items():
        if m2.any():
            r = ndimage.affine_transform(m2.astype(np.float32), M, offset=offset, output_shape=(size, size), order=1,
                                         mode="constant", cval=0.0)
            if r.max() <= 0.5:  # a lesion smaller than a pixel keeps its brightest pixel
                r = r >= r.max() * 0.999 if r.max() > 0.05 else r > 1.0
            else:
                r = r > 0.5
        else:
            r = np.zeros((size, size), bool)
        masks[k] = r
    return pixels, masks, {}

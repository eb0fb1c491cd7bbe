"""Chest findings, inserted physically into a copy of the body's label volume.

Each finding writes its own tissue label (fluid, air, lesion, collapsed lung ...) and keeps its own
3D mask, so several findings coexist and every renderer projects or slices the same truth. Findings
that change the shape of the chest (cardiomegaly, tension pneumothorax, atelectasis, emphysema) warp
the volume first; the tissue replacements follow.

Gravity matters: the film posture decides where fluid settles and air rises (erect PA: fluid
inferior, air apical; semi-erect AP; supine CT: fluid posterior, air anterior).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..conditions import MASK_SIZE, Finding
from ..vocabulary import FINDING_IDS
from .anatomy import (
    FOV_X, FOV_Y, HEART, LEFT_LOBES, LOBES, LUNG_LOBES, LUNGISH, RIGHT_LOBES, Body, L, artery_of, cage_depth,
    diaphragm_z, heart_local, label_set,
)

GRAVITY = {"erect": np.array([0.0, 0.0, 1.0]), "semi": np.array([0.0, 0.55, 0.83]), "supine": np.array([0.0, 1.0, 0.0])}
SEV = {"mild": 0, "moderate": 1, "severe": 2}
LOBE_NAMES = {v: k for k, v in LOBES.items()}
ZONES = ("upper zone", "middle zone", "lower zone")
DEFAULT_SIZE = {"nodule": (6.0, 30.0), "mass": (32.0, 70.0), "gallstone": (4.0, 25.0)}

# labels each finding may own in the final volume (a finding's mask = its 3D region AND these labels)
OWN = {
    "nodule": (L.NODULE,), "mass": (L.MASS,), "consolidation": (L.CONSOLIDATION, L.AIRWAY),
    "effusion": (L.EFFUSION,), "pneumothorax": (L.PTX_AIR,), "tension_pneumothorax": (L.PTX_AIR,),
    "cardiomegaly": HEART, "edema": (L.EDEMA, L.SEPTAL, L.PULM_VESSEL),
    "atelectasis": (L.ATELECTASIS,), "emphysema": (L.EMPHYSEMA, L.BULLA), "pneumoperitoneum": (L.FREE_AIR,),
    "rib_fracture": (L.FRACTURE, L.BONE, L.MARROW, L.RIB_PV), "pulmonary_embolism": (L.CLOT,),
}


def sides(laterality: str) -> list[str]:
    return {"left": ["left"], "right": ["right"], "bilateral": ["right", "left"]}.get(laterality, [])


def side_lobes(side: str):
    return RIGHT_LOBES if side == "right" else LEFT_LOBES


def finding_rng(seed: int, f: Finding, salt: int = 0) -> np.random.Generator:
    lat = ("none", "left", "right", "bilateral").index(f.laterality) if f.laterality in (
        "none", "left", "right", "bilateral") else 0
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, 4099, FINDING_IDS.get(f.key, 0), lat, salt])


_LOBE_WORDS = {"right upper lobe": "RUL", "right middle lobe": "RML", "right lower lobe": "RLL",
               "left upper lobe": "LUL", "left lower lobe": "LLL", "lingula": "LUL"}


def parse_lobe(location: str):
    loc = (location or "").strip()
    code = _LOBE_WORDS.get(loc.lower(), loc.upper())
    return LOBES.get(code)


def zone_lobe(location: str, side: str):
    """Lobe for a zone word ("upper zone" -> RUL/LUL, "middle zone" -> RML/LUL, "lower zone" -> RLL/LLL)."""
    z = zone_of(location)
    if z is None:
        return None
    if side == "right":
        return (L.RUL, L.RML, L.RLL)[z]
    return (L.LUL, L.LUL, L.LLL)[z]


def zone_of(location: str) -> int | None:
    loc = (location or "").lower()
    for i, z in enumerate(("upper", "mid", "lower")):
        if loc.startswith(z):
            return i
    return None


@dataclass
class Plane:
    """Where the 2D masks of the request live: a frontal film or one axial CT slice."""

    kind: str  # "cxr" | "ct"
    view: str = "PA"
    z_mm: float = 0.0  # CT slice level

    def mask_to_mm(self, mask: np.ndarray):
        """Centroid (a, b) in mm of a MASK_SIZE mask and its equivalent diameter (mm).

        cxr: (x, z); ct: (x, y)."""
        rr, cc = np.nonzero(mask)
        if len(rr) == 0:
            return None
        px = 384.0 / MASK_SIZE
        x = -FOV_X / 2 + (cc.mean() + 0.5) * px
        v = (rr.mean() + 0.5) * px
        if self.kind == "ct":
            v = v - 192.0  # square FOV centred on y=0
        diam = 2.0 * math.sqrt(len(rr) / math.pi) * px
        return x, v, diam

    def columns(self, body: Body, mask: np.ndarray) -> np.ndarray:
        """Boolean volume: voxels whose projection (cxr) or slice position (ct) falls in the mask."""
        g = body.grid
        nz, ny, nx = g.shape
        px = 384.0 / MASK_SIZE
        ci = np.clip(((g.x + FOV_X / 2) / px).astype(int), 0, MASK_SIZE - 1)
        out = np.zeros(g.shape, bool)
        if self.kind == "cxr":
            ri = np.clip((g.z / px).astype(int), 0, MASK_SIZE - 1)
            m2 = mask[np.ix_(ri, ci)]
            out |= m2[:, None, :]
        else:
            ri = np.clip(((g.y + 192.0) / px).astype(int), 0, MASK_SIZE - 1)
            m2 = mask[np.ix_(ri, ci)]
            iz = int(np.clip(self.z_mm / g.voxel, 0, nz - 1))
            lo, hi = max(0, iz - int(round(12 / g.voxel))), min(nz, iz + int(round(12 / g.voxel)) + 1)
            out[lo:hi] = m2[None]
        return out


# ------------------------------------------------------------------------------------------- warps
def warp_x(lab: np.ndarray, body: Body, shift_mm: float, centre_x: float, width: float = 70.0) -> np.ndarray:
    """Shift the mediastinum sideways by shift_mm (+ = toward the patient's left), tapering to 0 at the
    chest walls, the spine and the neck/abdomen."""
    g, p = body.grid, body.params
    Z, Y, X = g.full()
    wz = np.clip((Z - p.z_top) / 60.0, 0, 1) * np.clip((p.z_dome_r + 60 - Z) / 60.0, 0, 1)
    wy = np.clip((p.y_vb - 22.0 - Y) / 30.0, 0, 1)
    wx = np.exp(-(((X - centre_x) / width) ** 2))
    dx = shift_mm * wz * wy * wx  # (nz, ny, nx)
    src = np.clip(np.round((X - dx + FOV_X / 2) / g.voxel - 0.5).astype(np.int32), 0, lab.shape[2] - 1)
    zi = np.arange(lab.shape[0])[:, None, None]
    yi = np.arange(lab.shape[1])[None, :, None]
    return _keep_bones(lab, lab[zi, yi, src])


def warp_z(lab: np.ndarray, body: Body, side: str, centre_mm: float, lateral_mm: float) -> np.ndarray:
    """Move a hemidiaphragm down (+) or up (-): centre_mm under the dome, lateral_mm at the costophrenic
    angle (less than centre = flattened)."""
    g, p = body.grid, body.params
    Z, Y, X = g.full()
    xd = -0.45 * p.a0 if side == "right" else 0.45 * p.a0
    zdome = p.z_dome_r if side == "right" else p.z_dome_l
    sidew = 1.0 / (1.0 + np.exp((X - p.xm) / 10.0)) if side == "right" else 1.0 / (1.0 + np.exp(-(X - p.xm) / 10.0))
    r = np.clip(np.abs(X - xd) / (0.55 * p.a0), 0, 1)
    amount = (centre_mm + (lateral_mm - centre_mm) * r) * sidew
    wz = np.clip((Z - (zdome - 110.0)) / 80.0, 0, 1) * np.clip((zdome + 170.0 - Z) / 100.0, 0, 1)
    dz = amount * wz
    src = np.clip(np.round((Z - dz) / g.voxel - 0.5).astype(np.int32), 0, lab.shape[0] - 1)
    yi = np.arange(lab.shape[1])[None, :, None]
    xi = np.arange(lab.shape[2])[None, None, :]
    return _keep_bones(lab, lab[src, yi, xi])


_BONY = label_set(L.BONE, L.MARROW, L.BONE_SHELL, L.RIB_PV, L.CARTILAGE, L.CANAL)


def _keep_bones(orig: np.ndarray, warped: np.ndarray) -> np.ndarray:
    """Soft tissue moves, the skeleton does not."""
    keep = _BONY[orig] | _BONY[warped]
    return np.where(keep, orig, warped)


def scale_heart(lab: np.ndarray, body: Body, s: float) -> tuple[np.ndarray, np.ndarray]:
    g, p = body.grid, body.params
    r = float(p.heart_ax.max()) * s + 6
    c = p.heart_c
    sl, Z, Y, X = g.box(c - r, c + r)
    u, v, w = heart_local(p, X, Y, Z, s)
    inside = u * u + v * v + w * w < 1.0
    # source voxel: scaled back toward the centre
    sx = c[0] + (X - c[0]) / s
    sy = c[1] + (Y - c[1]) / s
    sz = c[2] + (Z - c[2]) / s
    ix = np.clip(np.round((sx + FOV_X / 2) / g.voxel - 0.5).astype(int), 0, lab.shape[2] - 1)
    iy = np.clip(np.round((sy + FOV_Y / 2) / g.voxel - 0.5).astype(int), 0, lab.shape[1] - 1)
    iz = np.clip(np.round(sz / g.voxel - 0.5).astype(int), 0, lab.shape[0] - 1)
    src = body.labels[iz, iy, ix]
    sub = lab[sl]
    ok = inside & np.isin(src, HEART) & label_set(*LUNGISH, L.FAT, L.SOFT, *HEART, L.DIAPHRAGM, L.ESOPHAGUS)[sub]
    sub[ok] = src[ok]
    m = np.zeros(lab.shape, bool)
    m[sl] = inside & np.isin(sub, HEART)
    return lab, m


# ----------------------------------------------------------------------------------------- helpers
def _lung_side(body: Body, lab: np.ndarray, side: str) -> np.ndarray:
    xm = body.params.xm
    lungish = label_set(*LUNGISH)[lab]
    X = body.grid.x[None, None, :]
    return lungish & ((X < xm) if side == "right" else (X >= xm))


def _noise3(shape, rng, scale_vox: float) -> np.ndarray:
    """Smooth noise field in [-1, 1] (coarse random grid, trilinear upsampled)."""
    cs = tuple(max(2, int(math.ceil(n / scale_vox)) + 1) for n in shape)
    coarse = rng.uniform(-1, 1, cs).astype(np.float32)
    return ndimage.zoom(coarse, [n / c for n, c in zip(shape, cs)], order=1)[: shape[0], : shape[1], : shape[2]]


def _height(body: Body, posture: str) -> np.ndarray:
    """Height against gravity (mm, larger = higher), broadcastable."""
    Z, Y, X = body.grid.full()
    g = GRAVITY[posture]
    return -(g[1] * Y + g[2] * Z)


def _pick_in_lobe(canon: Body, lobe: int, need: float, rng, zone: int | None = None):
    lab = canon.labels
    m = (lab == lobe)
    depth = canon.lung_depth.astype(np.float32)
    if zone is not None:
        zi = np.nonzero(m.any(axis=(1, 2)))[0]
        if len(zi):
            lo, hi = zi.min(), zi.max() + 1
            edges = np.linspace(lo, hi, 4).astype(int)
            zmask = np.zeros(lab.shape[0], bool)
            zmask[edges[zone]:edges[zone + 1]] = True
            m &= zmask[:, None, None]
    cand = m & (depth >= need)
    if not cand.any():
        cand = m & (depth >= 0.6 * depth[m].max()) if m.any() else (lab == lobe)
    if not cand.any():
        cand = np.isin(lab, LUNG_LOBES)
    zi, yi, xi = np.nonzero(cand)
    i = int(rng.integers(len(zi)))
    g = canon.grid
    return np.array([g.x[xi[i]], g.y[yi[i]], g.z[zi[i]]]) + rng.uniform(-0.4, 0.4, 3) * g.voxel


def _sphere_mask(body: Body, c, r, spicules=None):
    g = body.grid
    rr = r * (1.6 if spicules is not None else 1.15) + g.voxel
    sl, Z, Y, X = g.box(c - rr, c + rr)
    dx, dy, dz = X - c[0], Y - c[1], Z - c[2]
    dist = np.sqrt(dx * dx + dy * dy + dz * dz) + 1e-6
    # lobulated outline
    ang = np.arctan2(dy, dx) * 3 + np.arctan2(dz, np.sqrt(dx * dx + dy * dy)) * 2
    rad = r * (1.0 + 0.08 * np.sin(ang + c[0] * 0.1))
    if spicules is not None:
        for u in spicules:
            cosang = (dx * u[0] + dy * u[1] + dz * u[2]) / dist
            rad = np.maximum(rad, r * (1.0 + 0.55 * np.clip((cosang - 0.96) / 0.04, 0, 1) ** 2))
    m = np.zeros(g.shape, bool)
    m[sl] = dist < np.maximum(rad, 0.55 * g.voxel)
    return m


# ------------------------------------------------------------------------------------------- apply
@dataclass
class Applied:
    labels: np.ndarray
    masks: dict  # "key:laterality" -> bool volume
    centres: dict  # "key:laterality" -> (x, y, z) mm of the finding's centre (for slice choice)


def resolve(f: Finding, seed: int, modality: str) -> Finding:
    """Fill in what the caller left open (lobe, size) deterministically from the seed."""
    rng = finding_rng(seed, f, 1)
    loc, size = f.location, f.size_mm
    sev = SEV.get(f.severity, 1)
    if f.key in ("nodule", "mass"):
        if size is None:
            lo, hi = DEFAULT_SIZE[f.key]
            span = (hi - lo) / 3
            size = round(float(rng.uniform(lo + span * sev, lo + span * (sev + 1))), 1)
        if not loc:
            s = sides(f.laterality)[0]
            loc = LOBE_NAMES[int(rng.choice(side_lobes(s)))]
    elif f.key in ("consolidation", "atelectasis") and not loc and f.laterality in ("left", "right"):
        lobes = side_lobes(f.laterality)
        p = [0.3, 0.2, 0.5] if f.laterality == "right" else [0.4, 0.6]
        if f.key == "atelectasis":
            p = [0.2, 0.2, 0.6] if f.laterality == "right" else [0.35, 0.65]
        loc = LOBE_NAMES[int(rng.choice(lobes, p=p))]
    elif f.key == "rib_fracture" and not loc:
        loc = f"rib {int(rng.integers(4, 10))}"
    return Finding(key=f.key, laterality=f.laterality, location=loc, size_mm=size, severity=f.severity)


def apply_findings(body: Body, findings, posture: str, seed: int, plane: Plane, canon: Body | None = None) -> Applied:
    """findings: resolved `Finding`s (masks allowed). Returns labels, 3D masks and centres."""
    g, p = body.grid, body.params
    lab = body.labels.copy()
    masks: dict = {}
    centres: dict = {}
    canon = canon or body
    if posture == "semi":
        # the portable AP film is taken lying back: shallower inspiration, broader heart
        for sd in ("right", "left"):
            lab = warp_z(lab, body, sd, -10.0, -6.0)
        lab, _ = scale_heart(lab, body, 1.06)
    order = ["cardiomegaly", "emphysema", "tension_pneumothorax", "atelectasis", "consolidation", "edema",
             "nodule", "mass", "effusion", "pneumothorax", "pneumoperitoneum", "rib_fracture", "pulmonary_embolism"]
    fs = sorted(findings, key=lambda f: order.index(f.key) if f.key in order else 99)
    Z, Y, X = g.full()
    cd = None

    def cdepth():
        nonlocal cd
        if cd is None:
            cd = cage_depth(p, g)
        return cd

    for f in fs:
        k = f"{f.key}:{f.laterality}"
        rng = finding_rng(seed, f, 2)
        sev = SEV.get(f.severity, 1)
        m = np.zeros(g.shape, bool)
        fmask = f.mask_array() if f.mask_png_b64 else None
        cols = plane.columns(body, fmask) if fmask is not None else None
        centre = None

        if f.key == "cardiomegaly":
            s = (1.22, 1.34, 1.48)[sev]
            lab, m = scale_heart(lab, body, s)
            centre = p.heart_c

        elif f.key == "emphysema":
            for sd in ("right", "left"):
                lab = warp_z(lab, body, sd, (16.0, 26.0, 36.0)[sev], (6.0, 9.0, 12.0)[sev])
            lobes = np.isin(lab, LUNG_LOBES)
            lab[lobes] = L.EMPHYSEMA
            m |= lobes
            # vessel pruning in the periphery
            dh = np.minimum(np.linalg.norm(np.stack(np.broadcast_arrays(X - p.hilum_r[0], Y - p.hilum_r[1], Z - p.hilum_r[2])), axis=0),
                            np.linalg.norm(np.stack(np.broadcast_arrays(X - p.hilum_l[0], Y - p.hilum_l[1], Z - p.hilum_l[2])), axis=0))
            prune = (lab == L.PULM_VESSEL) & (dh > (110.0, 90.0, 70.0)[sev])
            lab[prune] = L.EMPHYSEMA
            m |= prune
            # bullae, upper zones
            for _ in range((1, 3, 6)[sev]):
                sd = rng.choice(["right", "left"])
                lobe = L.RUL if sd == "right" else L.LUL
                c = _pick_in_lobe(canon, lobe, 10.0, rng, zone=0)
                bm = _sphere_mask(body, c, rng.uniform(10, 22)) & label_set(L.EMPHYSEMA, L.PULM_VESSEL)[lab]
                lab[bm] = L.BULLA
                m |= bm
            centre = np.array([0.0, 0.0, p.z_dome_r - 100])

        elif f.key == "tension_pneumothorax":
            sd = f.laterality
            shift = (16.0, 24.0, 32.0)[sev] * (1 if sd == "right" else -1)  # away from the affected side
            lab = warp_x(lab, body, shift, p.xm)
            lab = warp_z(lab, body, sd, (22.0, 28.0, 36.0)[sev], (8.0, 10.0, 14.0)[sev])
            hil = (p.hilum_r if sd == "right" else p.hilum_l) + np.array([shift, 0.0, 0.0])
            lung = _lung_side(body, lab, sd)
            dh = np.sqrt((X - hil[0]) ** 2 + (Y - hil[1]) ** 2 + (Z - hil[2]) ** 2)
            core_r = (52.0, 44.0, 36.0)[sev]
            air = lung & (dh > core_r)
            core = lung & (dh <= core_r) & ~label_set(L.AIRWAY)[lab]
            lab[core] = L.COLLAPSED
            lab[air] = L.PTX_AIR
            m = air
            centre = np.array([hil[0] + (-40 if sd == "right" else 40), 0.0, p.z_dome_r - 90])

        elif f.key == "atelectasis":
            sd = f.laterality
            lobe = parse_lobe(f.location) or zone_lobe(f.location, sd) or (L.RLL if sd == "right" else L.LLL)
            if sev >= 1:
                sign = -1 if sd == "right" else 1
                lab = warp_x(lab, body, sign * (6.0, 12.0)[sev - 1], p.xm)
                if lobe in (L.RLL, L.LLL):
                    lab = warp_z(lab, body, sd, -(12.0, 22.0)[sev - 1], -(8.0, 14.0)[sev - 1])
            lm = body.lobe_map
            region = label_set(*LUNGISH)[lab] & (lm == lobe) & ~label_set(L.AIRWAY)[lab]
            if cols is not None:
                region &= cols
            if sev == 0 and cols is None:
                # plate (discoid) atelectasis: a thin horizontal band in the lower zone
                zi = np.nonzero(region.any(axis=(1, 2)))[0]
                z0 = g.z[zi].min() + 0.6 * (g.z[zi].max() - g.z[zi].min()) if len(zi) else p.z_dome_r - 30
                z0 += rng.uniform(-10, 10)
                band = region & (np.abs(Z - z0) < max(3.5, 0.55 * g.voxel)) & (cdepth() < 70)
                lab[band] = L.ATELECTASIS
                m = band
                centre = np.array([float(X[0, 0, np.nonzero(band.any(axis=(0, 1)))[0]].mean()) if band.any() else 0.0,
                                   0.0, z0])
            elif region.any():
                xs = -1 if sd == "right" else 1
                anchors = {
                    L.RLL: (xs * 45.0, 0.55 * p.b0, p.z_dome_r + 10), L.LLL: (xs * 45.0, 0.55 * p.b0, p.z_dome_l + 10),
                    L.RUL: (xs * 30.0, -5.0, p.z_top + 40), L.LUL: (xs * 35.0, -45.0, p.carina[2] - 10),
                    L.RML: (xs * 40.0, -40.0, p.heart_c[2]),
                }
                a = np.array(anchors.get(lobe, (xs * 40.0, 0.0, p.carina[2])))
                da = np.sqrt((X - a[0]) ** 2 + (Y - a[1]) ** 2 + (Z - a[2]) ** 2)
                vals = da[region]
                thr = np.quantile(vals, (0.5, 0.34, 0.22)[sev])
                col = region & (da <= thr)
                rest = region & ~col
                lab[rest] = int(side_lobes(sd)[0] if lobe != side_lobes(sd)[0] else side_lobes(sd)[-1])
                lab[col] = L.ATELECTASIS
                m = col
                zi, yi, xi = np.nonzero(col)
                centre = np.array([g.x[xi].mean(), g.y[yi].mean(), g.z[zi].mean()])

        elif f.key == "consolidation":
            for sd in sides(f.laterality):
                lobe = parse_lobe(f.location) if f.laterality != "bilateral" else None
                lobe = lobe or zone_lobe(f.location, sd)
                if lobe is None or lobe not in side_lobes(sd):
                    lobe = L.RLL if sd == "right" else L.LLL
                region = label_set(*LUNGISH)[lab] & (body.lobe_map == lobe)
                if cols is not None:
                    region = label_set(*LUNGISH)[lab] & cols & _lung_side(body, lab, sd)
                elif sev < 2 and region.any():
                    zi, yi, xi = np.nonzero(region)
                    j = int(rng.integers(len(zi)))
                    c = np.array([g.x[xi[j]], g.y[yi[j]], g.z[zi[j]]])
                    dd = np.sqrt((X - c[0]) ** 2 + (Y - c[1]) ** 2 + (Z - c[2]) ** 2)
                    sub = region.copy()
                    jitter = rng.uniform(-6, 6, g.shape).astype(np.float32)
                    dd = dd + jitter
                    thr = np.quantile(dd[region], (0.35, 0.7)[sev])
                    region = sub & (dd <= thr)
                air = region & (lab == L.AIRWAY)  # air bronchograms survive
                solid = region & ~air
                lab[solid] = L.CONSOLIDATION
                m |= region
            if m.any():
                zi, yi, xi = np.nonzero(m)
                centre = np.array([g.x[xi].mean(), g.y[yi].mean(), g.z[zi].mean()])

        elif f.key == "edema":
            lungish = label_set(*LUNGISH)[lab]
            dh = np.minimum(np.sqrt((X - p.hilum_r[0]) ** 2 + (Y - p.hilum_r[1]) ** 2 + (Z - p.hilum_r[2]) ** 2),
                            np.sqrt((X - p.hilum_l[0]) ** 2 + (Y - p.hilum_l[1]) ** 2 + (Z - p.hilum_l[2]) ** 2))
            R = (55.0, 85.0, 120.0)[sev]
            nz = _noise3(g.shape, rng, 18.0 / g.voxel) * 18.0
            haze = lungish & (dh + nz < R) & ~label_set(L.AIRWAY, L.PULM_VESSEL)[lab]
            if cols is not None:
                haze = lungish & cols & ~label_set(L.AIRWAY)[lab]
            lab[haze] = L.EDEMA
            m |= haze
            # Kerley B lines: thickened interlobular septa, 1-2 cm horizontal lines running in from the lateral
            # pleura just above the costophrenic angles (each a small plate seen edge-on by the beam)
            for sign in (-1.0, 1.0):
                side = (X * sign) > 0.5 * p.a0
                for i in range((2, 3, 4)[sev]):
                    y0 = float(rng.uniform(-0.3, 0.2)) * p.b0
                    z_angle = float(diaphragm_z(p, np.float32(sign * 0.95 * p.a0), np.float32(y0)))
                    zl = z_angle - 12.0 - i * float(rng.uniform(7, 11))
                    length = float(rng.uniform(10, 20))
                    sep = label_set(*LUNGISH)[lab] & side & (np.abs(Z - zl) < max(0.8, 0.45 * g.voxel)) & (
                        np.abs(Y - y0) < 7.0) & (cdepth() < length) & (cdepth() > 0)
                    lab[sep] = L.SEPTAL
                    m |= sep
            # cephalisation: upper-lobe vessels dilate
            up = (lab == L.PULM_VESSEL) & (Z < p.carina[2] + 10)
            dil = ndimage.binary_dilation(up, iterations=1) & label_set(*LUNG_LOBES, L.EDEMA)[lab] & (Z < p.carina[2] + 10)
            lab[dil] = L.PULM_VESSEL
            m |= dil
            centre = np.array([0.0, 0.0, p.carina[2] + 30])

        elif f.key in ("nodule", "mass"):
            sd = sides(f.laterality)[0]
            size = float(f.size_mm or DEFAULT_SIZE[f.key][0])
            r = size / 2.0
            lobe = parse_lobe(f.location) or zone_lobe(f.location, sd)
            if lobe is None or lobe not in side_lobes(sd):
                lobe = side_lobes(sd)[0]
            prng = finding_rng(seed, f, 3)
            c = None
            if fmask is not None:
                got = plane.mask_to_mm(fmask)
                if got is not None:
                    a, b, diam = got
                    r = max(2.0, diam / 2.0)
                    if plane.kind == "cxr":
                        x, z = a, b
                        col = canon.labels[canon.grid.to_index((x, 0.0, z))[0], :, canon.grid.to_index((x, 0.0, z))[2]]
                        lungy = np.nonzero(np.isin(col, LUNGISH))[0]
                        y = float(canon.grid.y[lungy].mean()) if len(lungy) else 0.0
                        c = np.array([x, y, z])
                    else:
                        c = np.array([a, b, plane.z_mm])
            if c is None:
                zone = zone_of(f.location) if parse_lobe(f.location) is not None else None
                c = _pick_in_lobe(canon, lobe, 0.8 * r, prng, zone)
            spic = None
            if f.key == "mass" and (sev == 2 or prng.random() < 0.4):
                spic = prng.normal(size=(14, 3))
                spic /= np.linalg.norm(spic, axis=1, keepdims=True)
            sm = _sphere_mask(body, c, r, spic)
            allowed = label_set(*LUNGISH, L.PLEURA) if f.key == "nodule" else label_set(
                *LUNGISH, L.FAT, L.SOFT, L.PULM_ARTERY, L.SVC, L.ESOPHAGUS)
            sm &= allowed[lab]
            if fmask is not None:
                sm &= plane.columns(body, fmask) if plane.kind == "cxr" else True
            lab[sm] = L.NODULE if f.key == "nodule" else L.MASS
            m = sm
            centre = c

        elif f.key == "effusion":
            for sd in sides(f.laterality):
                cav = _lung_side(body, lab, sd) | (label_set(L.PTX_AIR, L.COLLAPSED, L.CONSOLIDATION, L.ATELECTASIS,
                                                             L.NODULE, L.MASS)[lab] & ((X < p.xm) if sd == "right" else (X >= p.xm)))
                if not cav.any():
                    continue
                h = np.broadcast_to(_height(body, posture), g.shape)
                near_wall = np.exp(-np.clip(cdepth(), 0, None) / 22.0)
                lat = np.clip(np.abs(X - p.xm) / p.a0, 0, 1) ** 2
                # meniscus: fluid climbs the lateral chest wall
                hh = h - ((25.0 * near_wall + 45.0 * lat) if posture != "supine" else 12.0 * near_wall)
                frac = (0.07, 0.2, 0.42)[sev]
                thr = np.quantile(hh[cav], frac)
                fluid = cav & (hh <= thr)
                if cols is not None:
                    fluid |= cav & cols
                lab[fluid] = L.EFFUSION
                m |= fluid
            if m.any():
                zi, yi, xi = np.nonzero(m)
                centre = np.array([g.x[xi].mean(), g.y[yi].mean(), g.z[zi].mean()])

        elif f.key == "pneumothorax":
            sd = f.laterality
            lung = _lung_side(body, lab, sd)
            if lung.any():
                h = np.broadcast_to(_height(body, posture), g.shape)
                hl = h[lung]
                up = np.clip((h - hl.min()) / max(1.0, hl.max() - hl.min()), 0, 1)
                t0 = (9.0, 20.0, 36.0)[sev]
                depth = cdepth()
                if posture == "supine":
                    zd = diaphragm_z(p, X, Y)
                    depth = np.minimum(depth, zd - Z + 8.0)
                t = t0 * (0.35 + 1.3 * up ** 1.5)
                air = lung & (depth < t)
                if cols is not None:
                    air = lung & cols
                lab[air] = L.PTX_AIR
                # the visceral pleural line: the lung surface facing the air
                line = ndimage.binary_dilation(air, iterations=1) & _lung_side(body, lab, sd)
                lab[line] = L.PLEURA
                m = air
                zi, yi, xi = np.nonzero(air) if air.any() else ([0], [0], [0])
                centre = np.array([g.x[xi].mean(), g.y[yi].mean(), g.z[zi].mean()])

        elif f.key == "pneumoperitoneum":
            zd = diaphragm_z(p, X, Y)
            abdo = label_set(L.LIVER, L.BOWEL, L.SPLEEN, L.MESENTERY, L.BOWEL_GAS)[lab]
            t = (5.0, 11.0, 20.0)[sev] + max(0.0, 0.55 * g.voxel - 3)
            below = Z - (zd + 5.0)
            if posture == "supine":
                air = abdo & (cdepth() < t + 2) & (Y < -10) & (below > 0)
            else:
                air = abdo & (below >= -0.01) & (below < t)
                air &= np.abs(X - p.xm) > 35  # under the domes, not under the heart
                # air collects at the top: only where the diaphragm is near its highest point
                air &= zd < np.minimum(p.z_dome_r, p.z_dome_l) + (30.0, 45.0, 65.0)[sev]
            lab[air] = L.FREE_AIR
            m = air
            centre = np.array([-0.45 * p.a0, 0.0, p.z_dome_r + 8])

        elif f.key == "rib_fracture":
            sd = f.laterality
            try:
                n = int("".join(ch for ch in f.location if ch.isdigit()) or 6)
            except ValueError:
                n = 6
            n = int(np.clip(n, 1, 12))
            sign = -1 if sd == "right" else 1
            ribs = [n] if sev < 2 else [n, min(12, n + 1), min(12, n + 2)]
            phf = rng.uniform(0.8, 1.6)
            for rn in ribs:
                rv = body.rib_index == sign * rn
                zi, yi, xi = np.nonzero(rv)
                if len(zi) == 0:
                    continue
                ph = np.arctan2(np.abs(g.x[xi]), g.y[yi])
                arc = (ph - phf) * np.sqrt(g.x[xi] ** 2 + g.y[yi] ** 2)
                gap = np.abs(arc) < max((1.5, 2.5, 3.5)[sev], 0.6 * g.voxel)
                lab[zi[gap], yi[gap], xi[gap]] = L.FRACTURE
                m[zi[gap], yi[gap], xi[gap]] = True
                if sev >= 1:
                    dist = (arc > 0) & ~gap & (arc < 60)
                    step = max((3.0, 5.0)[min(sev - 1, 1)], g.voxel)
                    dz = int(round(step / g.voxel))
                    zs, ys, xs = zi[dist], yi[dist], xi[dist]
                    fragment = lab[zs, ys, xs]  # cortex and marrow move together
                    lab[zs, ys, xs] = L.MUSCLE
                    zn = np.clip(zs + dz, 0, g.shape[0] - 1)
                    okk = label_set(L.MUSCLE, L.SOFT, L.FAT, *LUNGISH)[lab[zn, ys, xs]]
                    lab[zn[okk], ys[okk], xs[okk]] = fragment[okk]
                    m[zs, ys, xs] = True
                    m[zn[okk], ys[okk], xs[okk]] = True
            if m.any():
                zi, yi, xi = np.nonzero(m)
                centre = np.array([g.x[xi].mean(), g.y[yi].mean(), g.z[zi].mean()])

        elif f.key == "pulmonary_embolism":
            vessel = label_set(L.PULM_ARTERY, L.PULM_VESSEL)
            for sd in sides(f.laterality):
                segs = [s for s in body.tree if (s[3] in side_lobes(sd))]
                if sev == 2:
                    pts = p.pa_right if sd == "right" else p.pa_left
                    q0, q1, ra = pts[1][0], pts[2][0], 8.0
                else:
                    low = [s for s in segs if s[3] in (L.RLL, L.LLL)] or segs
                    gen_r = (2.6, 4.0)[sev]
                    cands = [s for s in low if s[2] >= gen_r * 0.7] or low
                    s0 = cands[int(rng.integers(len(cands)))]
                    q0, q1, ra = artery_of(s0[0], s0[1], s0[2])
                from .anatomy import seg_dist  # local: keeps the import list short
                lo = np.minimum(q0, q1) - ra - 3
                hi = np.maximum(q0, q1) + ra + 3
                sl, Zs, Ys, Xs = g.box(lo, hi)
                dd = seg_dist(Xs, Ys, Zs, q0, q1)
                sub = lab[sl]
                core_r = max(ra * 0.6, 0.55 * g.voxel)
                clot = vessel[sub] & (dd < core_r)
                sub[clot] = L.CLOT
                m[sl] |= clot
                centre = 0.5 * (q0 + q1)

        masks[k] = m
        if centre is not None:
            centres[k] = np.asarray(centre, float)
    # a finding's mask: its region where its own tissue survived later findings
    for f in fs:
        k = f"{f.key}:{f.laterality}"
        own = label_set(*OWN.get(f.key, ()))
        masks[k] = masks[k] & own[lab]
    return Applied(lab, masks, centres)


def stomach_gas(lab: np.ndarray, body: Body, posture: str) -> None:
    """Gas rises to the top of the stomach (fundus when erect, antrum/body anteriorly when supine)."""
    g = body.grid
    content = lab == L.STOMACH_CONTENT
    if not content.any():
        return
    h = np.broadcast_to(_height(body, posture), g.shape)
    hv = h[content]
    thr = np.quantile(hv, 0.72)
    lab[content & (h >= thr)] = L.STOMACH_GAS

"""One virtual patient, one 3D body.

The body is described in millimetres (patient coordinates, see below) by a handful of seeded
parameters plus a procedural airway/vessel tree, then rasterised into a uint8 label volume at the
voxel size a renderer needs. Every label carries a CT number (HU, plain and contrast-enhanced) and an
X-ray linear attenuation coefficient, so the radiograph and the CT of one patient come from the same
voxels.

Coordinates (mm): x from the patient's right (-) to left (+), 0 = midline; y from anterior (-) to
posterior (+), 0 = centre of the chest; z from the top of the field (0, lower neck) downwards to the
upper abdomen (FOV_Z). Volumes are indexed [z, y, x], so a sum over axis 1 is a frontal projection
with the patient's right on the viewer's left (radiological convention).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FOV_X = 384.0
FOV_Y = 288.0
FOV_Z = 384.0
BODY_POOL = 16  # distinct body shapes per (sex, age band); a seed picks one (cached)


class L:
    """Tissue labels (uint8)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    SOFT = 3
    BONE = 4  # cortical bone
    MARROW = 5  # trabecular bone
    CARTILAGE = 6
    RUL = 7
    RML = 8
    RLL = 9
    LUL = 10
    LLL = 11
    AIRWAY = 12
    AIRWAY_WALL = 13
    PULM_VESSEL = 14
    PULM_ARTERY = 15
    AORTA = 16
    MYOCARDIUM = 17
    BLOOD_R = 18
    BLOOD_L = 19
    LIVER = 20
    SPLEEN = 21
    STOMACH_WALL = 22
    STOMACH_GAS = 23
    STOMACH_CONTENT = 24
    BREAST = 25
    CANAL = 26
    KIDNEY = 27
    BOWEL = 28
    SVC = 29
    ESOPHAGUS = 30
    DIAPHRAGM = 31
    TRACHEA = 32  # trachea and main bronchi lumen
    BOWEL_GAS = 33
    MESENTERY = 34  # intra-abdominal fat
    BONE_SHELL = 35  # thin cortex of vertebral bodies and sternum (partial volume)
    RIB_PV = 36  # rib at coarse voxel sizes: cortex, marrow and surroundings averaged
    # finding tissues
    NODULE = 40
    MASS = 41
    CONSOLIDATION = 42
    EFFUSION = 43
    PTX_AIR = 44
    PLEURA = 45
    EDEMA = 46
    SEPTAL = 47
    ATELECTASIS = 48
    EMPHYSEMA = 49
    BULLA = 50
    FREE_AIR = 51
    CLOT = 52
    COLLAPSED = 53
    FRACTURE = 54


LOBES = {"RUL": L.RUL, "RML": L.RML, "RLL": L.RLL, "LUL": L.LUL, "LLL": L.LLL}
RIGHT_LOBES = (L.RUL, L.RML, L.RLL)
LEFT_LOBES = (L.LUL, L.LLL)
LUNG_LOBES = RIGHT_LOBES + LEFT_LOBES
# voxels that are "lung" for the purpose of findings (parenchyma and what runs through it)
LUNGISH = LUNG_LOBES + (L.PULM_VESSEL, L.AIRWAY, L.AIRWAY_WALL, L.EDEMA, L.EMPHYSEMA, L.COLLAPSED, L.SEPTAL)
HEART = (L.MYOCARDIUM, L.BLOOD_R, L.BLOOD_L)

# (label, plain HU, contrast-enhanced HU [CT pulmonary angiogram phase])
_HU = [
    (L.AIR, -1000, -1000), (L.FAT, -100, -100), (L.MUSCLE, 50, 55), (L.SOFT, 40, 45),
    (L.BONE, 1100, 1100), (L.MARROW, 180, 180), (L.CARTILAGE, 120, 120),
    (L.RUL, -850, -840), (L.RML, -850, -840), (L.RLL, -840, -830), (L.LUL, -850, -840), (L.LLL, -840, -830),
    (L.AIRWAY, -1000, -1000), (L.AIRWAY_WALL, 30, 40), (L.PULM_VESSEL, 40, 230), (L.PULM_ARTERY, 40, 320),
    (L.AORTA, 42, 220), (L.MYOCARDIUM, 45, 110), (L.BLOOD_R, 40, 330), (L.BLOOD_L, 40, 230),
    (L.LIVER, 60, 80), (L.SPLEEN, 50, 110), (L.STOMACH_WALL, 40, 70), (L.STOMACH_GAS, -1000, -1000),
    (L.STOMACH_CONTENT, 15, 15), (L.BREAST, -45, -40), (L.CANAL, 12, 15), (L.KIDNEY, 32, 160),
    (L.BOWEL, -20, -10), (L.SVC, 40, 150), (L.ESOPHAGUS, 40, 55), (L.DIAPHRAGM, 50, 60), (L.TRACHEA, -1000, -1000), (L.BOWEL_GAS, -1000, -1000), (L.MESENTERY, -95, -95), (L.BONE_SHELL, 600, 600), (L.RIB_PV, 480, 480),
    (L.NODULE, 38, 70), (L.MASS, 40, 65), (L.CONSOLIDATION, 32, 60), (L.EFFUSION, 8, 10),
    (L.PTX_AIR, -1000, -1000), (L.PLEURA, 20, 25), (L.EDEMA, -480, -470), (L.SEPTAL, 10, 15),
    (L.ATELECTASIS, 45, 90), (L.EMPHYSEMA, -955, -950), (L.BULLA, -995, -995), (L.FREE_AIR, -1000, -1000),
    (L.CLOT, 45, 45), (L.COLLAPSED, -620, -600), (L.FRACTURE, 45, 50),
]
HU_PLAIN = np.full(256, -1000.0, np.float32)
HU_CONTRAST = np.full(256, -1000.0, np.float32)
for _lab, _p, _c in _HU:
    HU_PLAIN[_lab] = _p
    HU_CONTRAST[_lab] = _c

# X-ray linear attenuation (1/mm) at an effective energy of ~60 keV: water 0.0206/mm, scaled by
# density (HU); bone gets the photo-electric excess of calcium.
MU_WATER = 0.0206
MU = (MU_WATER * np.clip(1.0 + HU_PLAIN / 1000.0, 0.0, None)).astype(np.float32)
for _lab in (L.BONE, L.MARROW, L.BONE_SHELL, L.RIB_PV):
    MU[_lab] = MU_WATER * (1.0 + HU_PLAIN[_lab] / 1000.0 * 1.4)
MU[L.CARTILAGE] = MU_WATER * 1.15


# --------------------------------------------------------------------------------------------- grid
@dataclass(frozen=True)
class Grid:
    voxel: float

    @property
    def shape(self) -> tuple[int, int, int]:
        return (int(round(FOV_Z / self.voxel)), int(round(FOV_Y / self.voxel)), int(round(FOV_X / self.voxel)))

    @functools.cached_property
    def x(self) -> np.ndarray:
        n = self.shape[2]
        return (-FOV_X / 2 + (np.arange(n) + 0.5) * self.voxel).astype(np.float32)

    @functools.cached_property
    def y(self) -> np.ndarray:
        n = self.shape[1]
        return (-FOV_Y / 2 + (np.arange(n) + 0.5) * self.voxel).astype(np.float32)

    @functools.cached_property
    def z(self) -> np.ndarray:
        n = self.shape[0]
        return ((np.arange(n) + 0.5) * self.voxel).astype(np.float32)

    def full(self):
        """Broadcastable coordinate arrays Z (nz,1,1), Y (1,ny,1), X (1,1,nx)."""
        return self.z[:, None, None], self.y[None, :, None], self.x[None, None, :]

    def box(self, lo, hi):
        """Slices and broadcast coordinates of the voxels whose centres lie in [lo, hi] (x, y, z mm)."""
        v = self.voxel
        nz, ny, nx = self.shape

        def rng(a, b, off, n):
            i0 = max(0, int(math.floor((a - off) / v - 0.5)))
            i1 = min(n, int(math.ceil((b - off) / v + 0.5)) + 1)
            return i0, max(i0, i1)

        x0, x1 = rng(lo[0], hi[0], -FOV_X / 2, nx)
        y0, y1 = rng(lo[1], hi[1], -FOV_Y / 2, ny)
        z0, z1 = rng(lo[2], hi[2], 0.0, nz)
        sl = (slice(z0, z1), slice(y0, y1), slice(x0, x1))
        return sl, self.z[z0:z1, None, None], self.y[None, y0:y1, None], self.x[None, None, x0:x1]

    def to_index(self, p) -> tuple[int, int, int]:
        v = self.voxel
        nz, ny, nx = self.shape
        ix = int(np.clip((p[0] + FOV_X / 2) / v, 0, nx - 1))
        iy = int(np.clip((p[1] + FOV_Y / 2) / v, 0, ny - 1))
        iz = int(np.clip(p[2] / v, 0, nz - 1))
        return iz, iy, ix


# ------------------------------------------------------------------------------------------- params
@dataclass
class BodyParams:
    sex: str
    age_band: str
    habitus: str
    a0: float  # rib cage inner half-width at its widest (mm)
    b0: float  # rib cage inner half-depth
    fat: float  # subcutaneous fat thickness
    z_top: float  # top of the rib cage
    z_w: float  # level where the cage reaches full width
    rib_z1: float  # posterior end of the first rib
    rib_s: float  # rib spacing
    rib_jit: np.ndarray  # (12,) per-rib z jitter
    z_dome_r: float  # right hemidiaphragm dome
    z_dome_l: float
    heart_c: np.ndarray
    heart_ax: np.ndarray
    heart_rot: float  # radians, long axis tilt in the x-z plane
    xm: float  # mediastinal centre
    hilum_r: np.ndarray
    hilum_l: np.ndarray
    carina: np.ndarray
    aorta: list  # [(point, radius)]
    pa_trunk: list
    pa_right: list
    pa_left: list
    bone_hu_scale: float
    y_vb: float  # vertebral body centre (y)
    abd_waves: np.ndarray  # (n, 4): wave vector (x, y, z) and phase of the bowel/mesentery pattern


def _ageidx(age_band: str) -> int:
    return ("18-39", "40-59", "60-79", "80+").index(age_band)


def make_params(body_id: int, sex: str, age_band: str) -> BodyParams:
    rng = np.random.default_rng([int(body_id), 0 if sex == "F" else 1, _ageidx(age_band), 7919])
    age = _ageidx(age_band)
    habitus = str(rng.choice(["slim", "average", "obese"], p=[0.25, 0.55, 0.20]))
    hs = {"slim": 0.95, "average": 1.0, "obese": 1.06}[habitus]
    male = sex == "M"
    a0 = (148.0 if male else 136.0) * hs * rng.uniform(0.95, 1.05)
    b0 = (100.0 if male else 92.0) * hs * rng.uniform(0.94, 1.06) + 3.0 * age
    fat = {"slim": 8.0, "average": 18.0, "obese": 34.0}[habitus] * rng.uniform(0.8, 1.2) + (4.0 if not male else 0.0)
    rib_s = (23.5 if male else 22.0) * rng.uniform(0.96, 1.04)
    z_top = 26.0 + rng.uniform(-4, 4)
    rib_z1 = z_top + 10.0
    z_dome_r = rib_z1 + 9.3 * rib_s + rng.uniform(-10, 10) + (4.0 if age >= 2 else 0.0)
    z_dome_l = z_dome_r + rng.uniform(8, 22)
    hscale = rng.uniform(0.92, 1.06) * (1.0 + 0.03 * age)
    heart_ax = np.array([74.0, 56.0, 50.0]) * hscale * (a0 / 145.0) ** 0.5
    heart_c = np.array([12.0 + rng.uniform(-6, 6), -12.0 + rng.uniform(-5, 5), z_dome_r - 40.0 + rng.uniform(-5, 5)])
    xm = rng.uniform(-3, 3)
    carina = np.array([xm - 2.0, -6.0, rib_z1 + 4.6 * rib_s])
    hilum_r = np.array([-52.0 + rng.uniform(-4, 4), 8.0, carina[2] + 22.0])
    hilum_l = np.array([54.0 + rng.uniform(-4, 4), 14.0, carina[2] + 8.0])
    unfold = 1.0 + 0.12 * max(0, age - 1)
    r_ao = 14.0 + 1.2 * age
    arch_z = carina[2] - 52.0
    aorta = [
        (np.array([4.0, -22.0, heart_c[2] - 30.0]), r_ao),
        (np.array([-16.0 * unfold, -24.0, arch_z + 30.0]), r_ao + 1.0),
        (np.array([-6.0, -8.0, arch_z]), r_ao),
        (np.array([24.0 * unfold, 22.0, arch_z + 6.0]), r_ao - 1.0),
        (np.array([27.0, 46.0, arch_z + 45.0]), r_ao - 2.0),
        (np.array([24.0, 50.0, FOV_Z + 10.0]), r_ao - 2.5),
    ]
    bif = np.array([6.0, -6.0, carina[2] + 2.0])
    pa_trunk = [(np.array([12.0, -38.0, heart_c[2] - 20.0]), 13.0), (bif, 13.0)]
    pa_right = [(bif, 11.0), (np.array([-24.0, -2.0, carina[2] + 10.0]), 10.0), (hilum_r, 9.0)]
    pa_left = [(bif, 11.0), (np.array([34.0, 8.0, carina[2] - 4.0]), 10.0), (hilum_l, 9.0)]
    return BodyParams(
        sex=sex, age_band=age_band, habitus=habitus, a0=a0, b0=b0, fat=fat, z_top=z_top, z_w=z_top + 140.0,
        rib_z1=rib_z1, rib_s=rib_s, rib_jit=rng.uniform(-2.0, 2.0, 12), z_dome_r=z_dome_r, z_dome_l=z_dome_l,
        heart_c=heart_c, heart_ax=heart_ax, heart_rot=math.radians(rng.uniform(22, 34)), xm=xm, hilum_r=hilum_r,
        hilum_l=hilum_l, carina=carina, aorta=aorta, pa_trunk=pa_trunk, pa_right=pa_right, pa_left=pa_left,
        bone_hu_scale=(1.0, 0.97, 0.9, 0.8)[age], y_vb=b0 - 38.0,
        abd_waves=np.concatenate([rng.normal(0, 1, (7, 3)) / rng.uniform(9, 22, (7, 1)), rng.uniform(0, 6.3, (7, 1))], 1),
    )


# ----------------------------------------------------------------------------------- shape helpers
def cage_axes(p: BodyParams, z):
    """Inner rib cage semi-axes (a, b) at height z (arrays)."""
    t = np.clip((p.z_w - z) / (p.z_w - p.z_top), 0.0, 1.0)
    shape = np.sqrt(np.clip(1.0 - t * t, 0.0, 1.0))
    a = np.maximum(p.a0 * shape, 1.0)
    b = np.maximum(p.b0 * (0.55 + 0.45 * shape), 1.0) * (z > p.z_top)
    return a, np.maximum(b, 1.0)


def diaphragm_z(p: BodyParams, x, y):
    """Height of the upper surface of the diaphragm (mm, z grows downward)."""
    def side(zd, xd):
        return (zd + 100.0 * ((x - xd) / (0.75 * p.a0)) ** 2 + 32.0 * ((y + 0.05 * p.b0) / p.b0) ** 2
                + 48.0 * np.clip(y / p.b0, 0.0, 1.2) ** 2)
    w = 1.0 / (1.0 + np.exp(-(x - p.xm) / 12.0))
    zz = (1.0 - w) * side(p.z_dome_r, -0.45 * p.a0) + w * side(p.z_dome_l, 0.45 * p.a0)
    return np.minimum(zz, p.z_dome_r + 125.0)


def _rot_xz(dx, dz, ang):
    c, s = math.cos(ang), math.sin(ang)
    return c * dx + s * dz, -s * dx + c * dz


def heart_local(p: BodyParams, X, Y, Z, scale=1.0):
    """Normalised heart coordinates (u, v, w); inside the heart where u^2+v^2+w^2 < 1."""
    dx, dy, dz = X - p.heart_c[0], Y - p.heart_c[1], Z - p.heart_c[2]
    rx, rz = _rot_xz(dx, dz, p.heart_rot)
    ax = p.heart_ax * scale
    return rx / ax[0], dy / ax[1], rz / ax[2]


def paint_ellipsoid(lab, grid, c, axes, label, allowed=None, rot=0.0, inside_fn=None):
    r = float(max(axes))
    sl, Z, Y, X = grid.box(np.asarray(c) - r, np.asarray(c) + r)
    dx, dy, dz = X - c[0], Y - c[1], Z - c[2]
    if rot:
        dx, dz = _rot_xz(dx, dz, rot)
    m = (dx / axes[0]) ** 2 + (dy / axes[1]) ** 2 + (dz / axes[2]) ** 2 < 1.0
    sub = lab[sl]
    if allowed is not None:
        m &= np.isin(sub, allowed)
    sub[m] = label
    return sl, m


def seg_dist(X, Y, Z, p0, p1):
    d = p1 - p0
    ll = float(d @ d) or 1e-6
    t = np.clip(((X - p0[0]) * d[0] + (Y - p0[1]) * d[1] + (Z - p0[2]) * d[2]) / ll, 0.0, 1.0)
    return np.sqrt((X - p0[0] - t * d[0]) ** 2 + (Y - p0[1] - t * d[1]) ** 2 + (Z - p0[2] - t * d[2]) ** 2)


def paint_capsule(lab, grid, p0, p1, r, label, allowed=None, min_r=0.0):
    r = max(r, min_r)
    lo = np.minimum(p0, p1) - r
    hi = np.maximum(p0, p1) + r
    sl, Z, Y, X = grid.box(lo, hi)
    if lab[sl].size == 0:
        return
    m = seg_dist(X, Y, Z, p0, p1) < r
    sub = lab[sl]
    if allowed is not None:
        m &= allowed[sub]
    sub[m] = label


def paint_polyline(lab, grid, pts, label, allowed=None, extra=0.0):
    for (p0, r0), (p1, r1) in zip(pts[:-1], pts[1:]):
        paint_capsule(lab, grid, p0, p1, 0.5 * (r0 + r1) + extra, label, allowed)


def label_set(*labels) -> np.ndarray:
    t = np.zeros(256, bool)
    t[list(labels)] = True
    return t


# ---------------------------------------------------------------------------------------- the body
@dataclass
class Body:
    params: BodyParams
    grid: Grid
    labels: np.ndarray  # uint8 (nz, ny, nx)
    lung_depth: np.ndarray  # uint8 mm from the nearest non-lung voxel, 0 outside lungs
    rib_index: np.ndarray  # int8, rib number 1..12 (0 = not rib); sign: + left, - right
    tree: list  # airway segments [(p0, p1, r, lobe_label)]
    lobe_map: np.ndarray  # uint8, nearest lobe label for every voxel

    @property
    def key(self):
        return (self.params.sex, self.params.age_band)


def _paint_base(p: BodyParams, grid: Grid):
    """Everything but the airway/vessel tree. Returns labels and rib index volume."""
    Z, Y, X = grid.full()
    shape = grid.shape
    lab = np.zeros(shape, np.uint8)
    a, b = cage_axes(p, Z)
    # ellipse "radius" and distance outside the inner cage surface along the ray from the axis
    R = np.sqrt(X * X + Y * Y) + 1e-3
    rho = np.sqrt((X / a) ** 2 + (Y / b) ** 2)
    d = (rho - 1.0) * (R / np.maximum(rho, 1e-3))
    phi = np.arctan2(np.abs(X), Y)  # 0 posterior midline, pi anterior midline
    above = Z < p.z_top
    d = np.where(above, 999.0, d).astype(np.float32)
    # chest wall: muscle thicker posteriorly (paraspinal) and anteriorly up top (pectoralis)
    musc = 10.0 + 34.0 * np.exp(-((phi / 0.45) ** 2)) + 14.0 * np.exp(-(((phi - 2.3) / 0.5) ** 2)) * np.clip((p.z_w + 60 - Z) / 60.0, 0, 1)
    wall = 9.0
    skin = wall + musc + p.fat
    lab[d < skin] = L.FAT
    lab[d < wall + musc] = L.MUSCLE
    lab[d < 0.0] = L.SOFT
    # neck and shoulder girdle
    neck_c = p.b0 - 58.0
    neck = (((X / 60.0) ** 2 + ((Y - neck_c) / 64.0) ** 2) < 1.0) & (Z < p.z_top + 70)
    neck_in = (((X / 50.0) ** 2 + ((Y - neck_c) / 54.0) ** 2) < 1.0) & (Z < p.z_top + 70)
    lab[neck & (lab == L.AIR)] = L.FAT
    lab[neck_in & ((lab == L.AIR) | (lab == L.FAT))] = L.MUSCLE
    for s in (-1, 1):
        c = np.array([s * (p.a0 + 4.0), 12.0, p.z_top + 42.0])
        paint_ellipsoid(lab, grid, c, (62.0 + p.fat, 62.0 + p.fat, 52.0 + p.fat), L.FAT, allowed=[L.AIR])
        paint_ellipsoid(lab, grid, c, (58.0, 58.0, 46.0), L.MUSCLE, allowed=[L.AIR, L.FAT])
    if p.sex == "F":
        for s in (-1, 1):
            zc = p.z_w + 45.0
            _, bb = cage_axes(p, np.float32(zc))
            c = np.array([s * 0.55 * p.a0, -(float(bb) + 22.0 + p.fat), zc])
            # the lower half is round (the curved inferolateral edge a film shows); above its centre the breast
            # thins linearly into the chest wall over 100 mm, so it prints no upper margin
            ax = np.array([62.0, 40.0 + 0.5 * p.fat, 55.0])
            rise = 100.0
            sl, Zb, Yb, Xb = grid.box(c - (ax[0], ax[1], rise), c + ax)
            lower = ((Xb - c[0]) / ax[0]) ** 2 + ((Yb - c[1]) / ax[1]) ** 2 + ((Zb - c[2]) / ax[2]) ** 2 < 1.0
            taper = np.clip(1.0 - (c[2] - Zb) / rise, 1e-3, 1.0)
            upper = ((Xb - c[0]) / (ax[0] * taper)) ** 2 + ((Yb - c[1]) / (ax[1] * taper)) ** 2 < 1.0
            m = np.where(Zb < c[2], upper, lower)
            sub = lab[sl]
            sub[m & ((sub == L.AIR) | (sub == L.FAT))] = L.BREAST

    # thoracic and abdominal cavities
    zd = diaphragm_z(p, X, Y).astype(np.float32)
    cavity = d < -1.5
    thorax = cavity & (Z < zd)
    dia = cavity & (Z >= zd) & (Z < zd + 5.0)
    abdo = cavity & (Z >= zd + 5.0)
    side_r = X < p.xm
    lab[thorax & side_r] = L.RUL  # placeholders, lobes split later
    lab[thorax & ~side_r] = L.LUL
    lab[dia] = L.DIAPHRAGM
    lab[abdo] = L.BOWEL

    # mediastinum (fat) between the lungs
    wm = np.where(Z < p.carina[2] - 60, 20.0, 27.0)
    # lens-shaped cross-section: narrow at the anterior junction line and behind, widest mid-depth
    y_front = -p.b0 - 5.0
    y_back = p.y_vb - 20.0
    t = np.clip((Y - y_front) / (y_back - y_front), 0.0, 1.0)
    wm = wm * np.sqrt(np.clip(4.0 * t * (1.0 - t), 0.12, 1.0))
    wm = np.where(Y > p.y_vb - 45, np.minimum(wm, 10.0), wm)  # posterior mediastinum: oesophagus, azygos
    med = thorax & (np.abs(X - p.xm) < wm) & (Y < p.y_vb + 5)
    lab[med] = L.FAT

    # heart with chambers
    u, v, w = heart_local(p, X, Y, Z)
    rr = u * u + v * v + w * w
    heart = rr < 1.0
    lab[heart & (lab != L.BONE)] = L.MYOCARDIUM
    inner = rr < (1.0 - 11.0 / float(p.heart_ax.mean())) ** 2
    s_sep = (X - p.heart_c[0]) * 0.62 + (Y - p.heart_c[1]) * 0.78  # septum plane: left blood posterior-left
    lab[inner & (s_sep > 5.0)] = L.BLOOD_L
    lab[inner & (s_sep < -5.0)] = L.BLOOD_R
    # pericardial fat pad in the cardiophrenic angles
    fat_pad = ~heart & (heart_local(p, X, Y, Z, 1.08)[0] ** 2 + heart_local(p, X, Y, Z, 1.08)[1] ** 2
                        + heart_local(p, X, Y, Z, 1.08)[2] ** 2 < 1.0) & thorax
    lab[fat_pad] = L.FAT

    # great vessels
    anyl = label_set(*range(256))
    not_bone = ~label_set(L.BONE, L.MARROW)
    paint_polyline(lab, grid, p.aorta, L.AORTA, not_bone)
    paint_polyline(lab, grid, p.pa_trunk, L.PULM_ARTERY, not_bone & ~label_set(L.AORTA))
    paint_polyline(lab, grid, p.pa_right, L.PULM_ARTERY, not_bone & ~label_set(L.AORTA))
    paint_polyline(lab, grid, p.pa_left, L.PULM_ARTERY, not_bone & ~label_set(L.AORTA))
    svc = [(np.array([-30.0, -12.0, p.z_top]), 10.0), (np.array([-32.0, -14.0, p.heart_c[2] - 45.0]), 11.0),
           (np.array([-34.0, -10.0, p.heart_c[2] - 20.0]), 11.0)]
    paint_polyline(lab, grid, svc, L.SVC, not_bone & ~label_set(L.AORTA, L.PULM_ARTERY))
    ivc = [(np.array([-22.0, 20.0, p.heart_c[2] + 30.0]), 12.0), (np.array([-22.0, 30.0, FOV_Z + 10]), 11.0)]
    paint_polyline(lab, grid, ivc, L.SVC, label_set(L.BOWEL, L.DIAPHRAGM, L.FAT, L.SOFT, L.RUL, L.LUL))
    eso = [(np.array([p.xm + 4.0, p.y_vb - 34.0, 0.0]), 7.5), (np.array([p.xm + 8.0, p.y_vb - 30.0, p.z_dome_l]), 8.0),
           (np.array([60.0, 5.0, p.z_dome_l + 50.0]), 9.0)]
    paint_polyline(lab, grid, eso, L.ESOPHAGUS, ~label_set(L.BONE, L.MARROW, L.AORTA, L.PULM_ARTERY,
                                                           L.MYOCARDIUM, L.BLOOD_L, L.BLOOD_R))
    # trachea and main bronchi (wall, then lumen)
    trachea = [(np.array([p.xm, -14.0, 0.0]), 9.5), (np.array([p.xm - 1.0, -10.0, p.carina[2] - 30]), 9.5),
               (p.carina, 8.5)]
    rmb = [(p.carina, 7.5), (p.hilum_r + np.array([10.0, -6.0, -6.0]), 6.5)]
    lmb = [(p.carina, 7.0), (p.hilum_l + np.array([-10.0, -8.0, -4.0]), 6.0)]
    soft_ok = ~label_set(L.BONE, L.MARROW, L.AORTA, L.PULM_ARTERY, L.CANAL)
    for pts in (trachea, rmb, lmb):
        paint_polyline(lab, grid, pts, L.AIRWAY_WALL, soft_ok, extra=2.5)
    for pts in (trachea, rmb, lmb):
        paint_polyline(lab, grid, pts, L.TRACHEA, anyl & soft_ok)

    # abdominal organs
    abd = label_set(L.BOWEL)
    zlb = p.z_dome_r + 150.0 - 0.5 * (X + p.a0)
    liver = abdo & (X < 50.0) & (Z < zlb) & (Y < p.y_vb - 8) & (lab == L.BOWEL)
    lab[liver] = L.LIVER
    st_c = np.array([0.5 * p.a0, -8.0, p.z_dome_l + 58.0])
    paint_ellipsoid(lab, grid, st_c, (48.0, 42.0, 58.0), L.STOMACH_WALL, allowed=[L.BOWEL, L.LIVER], rot=-0.5)
    paint_ellipsoid(lab, grid, st_c, (43.0, 37.0, 53.0), L.STOMACH_CONTENT, allowed=[L.STOMACH_WALL], rot=-0.5)
    paint_ellipsoid(lab, grid, np.array([0.72 * p.a0, 0.55 * p.b0, p.z_dome_l + 55.0]), (30.0, 42.0, 52.0),
                    L.SPLEEN, allowed=[L.BOWEL])
    for s in (-1, 1):
        paint_ellipsoid(lab, grid, np.array([s * 62.0, p.y_vb - 2.0, p.z_dome_r + 135.0 + (8 if s < 0 else 0)]),
                        (28.0, 24.0, 55.0), L.KIDNEY, allowed=[L.BOWEL, L.LIVER, L.SPLEEN])
    del abd
    # mesenteric fat and bowel gas between the loops (an analytic pattern: same at every voxel size)
    bw = lab == L.BOWEL
    zi, yi, xi = np.nonzero(bw)
    if len(zi):
        xx, yy, zz = grid.x[xi], grid.y[yi], grid.z[zi]
        f = np.zeros(len(zi), np.float32)
        for kx, ky, kz, ph in p.abd_waves:
            f += np.sin(kx * xx + ky * yy + kz * zz + ph)
        fat_m = f > -0.3 + (0.0 if p.habitus != "obese" else -0.8)
        gas_m = f < -2.6
        lab[zi[fat_m], yi[fat_m], xi[fat_m]] = L.MESENTERY
        lab[zi[gas_m], yi[gas_m], xi[gas_m]] = L.BOWEL_GAS

    # ---------------------------------------------------------------- bones
    rib_idx = np.zeros(shape, np.int8)
    bone_free = ~label_set(L.AIRWAY, L.AIRWAY_WALL)
    # ribs: in the wall zone; posterior end at the spine level, sloping down anteriorly
    zone = (d > -0.5) & (d < wall) & ~above
    zi, yi, xi = np.nonzero(zone)
    zz, yy, xx = grid.z[zi], grid.y[yi], grid.x[xi]
    ph = phi[zi, yi, xi] if phi.shape == shape else np.arctan2(np.abs(xx), yy)
    # each rib rises a little from its head, then falls around the cage: its lateral arc is about 1.5 rib
    # spaces and its anterior end 3-4 spaces below its posterior end (the anterior 6th rib crosses the dome
    # where the posterior 10th does), so posterior and anterior ribs cross as arcs rather than stack as a lattice
    drop_k = np.array([40, 66, 82, 92, 98, 100, 100, 96, 90, 80, 68, 56], np.float32)
    end_k = np.array([0.95, 0.92, 0.9, 0.88, 0.86, 0.84, 0.8, 0.72, 0.66, 0.6, 0.5, 0.42], np.float32) * math.pi
    zpost = p.rib_z1 + np.arange(12) * p.rib_s + p.rib_jit
    best = np.zeros(zz.shape, np.int8)
    rib_core = np.zeros(zz.shape, bool)
    shell_r = max(1.8, 0.75 * grid.voxel) if grid.voxel <= 3.0 else 99.0
    fphi = (ph / math.pi) ** 1.4
    rise = 10.0 * np.sin(ph * 1.2)
    dd = d[zi, yi, xi]
    # a rib's cross-section is an ellipse (rounded, so its projected edges are soft as on a film); its height
    # and depth change smoothly along it (no step that would print a seam across every rib)
    half_h = 5.5 + 1.0 * np.clip((ph - 0.9) / 0.6, 0, 1)
    half_t = 0.5 * (7.5 - 3.5 * np.clip((ph - 1.7) / 0.9, 0, 1))  # anterior ribs are thinner
    t_rel = (dd - (half_t - 0.5)) / half_t
    core_h, core_t = half_h - shell_r, half_t - shell_r
    for k in range(12):
        zc = zpost[k] + drop_k[k] * fphi - rise
        hit = (ph > 0.18) & (ph < end_k[k]) & (((zz - zc) / half_h) ** 2 + t_rel ** 2 < 1.0)
        core = hit & (core_t > 0) & (((zz - zc) / np.maximum(core_h, 1e-3)) ** 2
                                     + ((dd - (half_t - 0.5)) / np.maximum(core_t, 1e-3)) ** 2 < 1.0)
        best = np.where(hit & (best == 0), np.int8(k + 1), best)
        rib_core |= core
    rib_vox = best > 0
    sgn = np.where(xx < 0, -1, 1).astype(np.int8)
    ok = bone_free[lab[zi, yi, xi]] & rib_vox
    # cortex and marrow where the voxels resolve them; the anterior ribs (flat, their cortices a fraction of a
    # voxel, which is why a film shows them fainter than the posterior ribs) and every rib at coarse voxels
    # are one averaged tissue
    thin = (ph > 1.9) | (core_t <= 0) | (grid.voxel > 3.0)
    lab[zi[ok], yi[ok], xi[ok]] = np.where(thin[ok], L.RIB_PV, L.BONE)
    okc = ok & rib_core
    lab[zi[okc], yi[okc], xi[okc]] = L.MARROW
    rib_idx[zi[ok], yi[ok], xi[ok]] = best[ok] * sgn[ok]
    # costal cartilages of ribs 1-7: from the rib end to the sternum
    for k in range(7):
        hit = (ph >= end_k[k]) & (np.abs(zz - (zpost[k] + drop_k[k] * fphi - rise) + 8.0 * (ph - end_k[k])) < 5.0)
        hit &= (lab[zi, yi, xi] == L.MUSCLE) | (lab[zi, yi, xi] == L.SOFT)
        lab[zi[hit], yi[hit], xi[hit]] = L.CARTILAGE
    del zi, yi, xi, zz, yy, xx

    shell = max(2.5, 0.9 * grid.voxel)
    # spine: vertebral bodies with discs, canal, posterior elements
    yv = p.y_vb
    for k in range(-4, 15):
        zc = p.rib_z1 + k * p.rib_s + p.rib_s * 0.2
        hh = 0.5 * p.rib_s - 2.5
        rx, ry = 13.0 + 0.6 * max(k, 0), 12.0 + 0.5 * max(k, 0)
        if k < 0:
            rx, ry = 11.0, 9.0
        sl, Zs, Ys, Xs = grid.box((-rx - 40, yv - ry, zc - hh - 8), (rx + 40, yv + 60, zc + hh + 8))
        sub = lab[sl]
        q = (Xs / rx) ** 2 + ((Ys - yv) / ry) ** 2
        inz = np.abs(Zs - zc) < hh
        body = (q < 1.0) & inz
        core = (q < (1.0 - shell / rx) ** 2) & (np.abs(Zs - zc) < hh - shell)
        sub[body] = L.BONE_SHELL
        sub[core] = L.MARROW
        yc_can = yv + ry + 8.0
        can = (Xs / 8.5) ** 2 + ((Ys - yc_can) / 8.0) ** 2
        arch = (can < 2.6) & (can >= 1.0) & (np.abs(Zs - zc) < hh + 2)
        sub[arch] = L.MARROW
        spin = (np.abs(Xs) < 4.0) & (Ys > yc_can + 8) & (Ys < yc_can + 36) & (np.abs(Zs - zc - (Ys - yc_can) * 0.35) < 5)
        sub[spin] = L.MARROW
        trans = (np.abs(Xs) > 8) & (np.abs(Xs) < 30 + 0 * Xs) & (np.abs(Ys - yc_can + 4) < 5) & (np.abs(Zs - zc) < 5)
        sub[trans & (sub != L.AIR)] = L.MARROW
    # spinal canal along the whole length
    sl, Zs, Ys, Xs = grid.box((-10, yv - 40, 0), (10, yv + 60, FOV_Z))
    r_can = 13.0 + 0.5 * 7
    can_all = (Xs / 8.0) ** 2 + ((Ys - (yv + r_can + 8.0 - 3.0)) / 7.5) ** 2 < 1.0
    lab[sl][can_all & np.ones_like(Zs, bool)] = L.CANAL
    # sternum
    for z0, z1, hw in ((p.z_top + 34, p.z_top + 80, 26.0), (p.z_top + 80, p.z_w + 60, 15.0)):
        zc = 0.5 * (z0 + z1)
        _, bb = cage_axes(p, np.float32(zc))
        yc = -float(bb) - 4.0
        sl, Zs, Ys, Xs = grid.box((-hw, yc - 8, z0), (hw, yc + 8, z1))
        sub = lab[sl]
        m = (np.abs(Xs - p.xm) < hw) & (np.abs(Ys - yc) < 6.5) & (Zs >= z0) & (Zs < z1)
        sub[m] = L.BONE_SHELL
        core = (np.abs(Xs - p.xm) < hw - shell) & (np.abs(Ys - yc) < 6.5 - shell) & (Zs >= z0 + shell) & (Zs < z1 - shell)
        sub[core] = L.MARROW
    # clavicles
    for s in (-1, 1):
        zc = p.z_top + 36.0
        _, bb = cage_axes(p, np.float32(zc))
        yf = -float(bb) - 14.0
        pts = [(np.array([s * 24.0, yf + 4, zc + 4]), 8.0), (np.array([s * 70.0, yf - 4, zc]), 7.0),
               (np.array([s * 125.0, yf + 18, zc - 10]), 6.5), (np.array([s * (p.a0 + 22), yf + 48, zc - 12]), 7.5)]
        paint_polyline(lab, grid, pts, L.BONE, bone_free)
        # scapula: thin plate over the posterolateral ribs, its medial border near the lateral lung edge (the
        # shoulders rolled forward, as a PA film is positioned to clear the scapulae from the lung fields)
        A = np.array([s * 0.92 * p.a0, p.z_top + 32.0])
        B = np.array([s * (p.a0 + 18.0), p.z_top + 40.0])
        C = np.array([s * 1.02 * p.a0, p.z_top + 165.0])
        lo = (min(A[0], B[0], C[0]) - 5, 0.0, p.z_top + 25)
        hi = (max(A[0], B[0], C[0]) + 5, FOV_Y / 2, p.z_top + 180)
        sl, Zs, Ys, Xs = grid.box(lo, hi)
        sub = lab[sl]
        den = (B[1] - C[1]) * (A[0] - C[0]) + (C[0] - B[0]) * (A[1] - C[1])
        l1 = ((B[1] - C[1]) * (Xs - C[0]) + (C[0] - B[0]) * (Zs - C[1])) / den
        l2 = ((C[1] - A[1]) * (Xs - C[0]) + (A[0] - C[0]) * (Zs - C[1])) / den
        l3 = 1 - l1 - l2
        tri = (l1 > 0) & (l2 > 0) & (l3 > 0)
        aa, bb2 = cage_axes(p, Zs)
        ys = bb2 * np.sqrt(np.clip(1 - (Xs / aa) ** 2, 0.05, 1)) + 22.0
        thick = np.where(l2 < 0.08, 7.0, 3.5)  # thicker lateral border
        m = tri & (np.abs(Ys - ys) < thick)
        sub[m & bone_free[sub]] = L.BONE
        # humeral head
        paint_ellipsoid(lab, grid, np.array([s * (p.a0 + 30.0), 2.0, p.z_top + 44.0]), (24.0, 24.0, 26.0), L.BONE,
                        allowed=[L.MUSCLE, L.FAT, L.AIR])
        paint_ellipsoid(lab, grid, np.array([s * (p.a0 + 30.0), 2.0, p.z_top + 44.0]), (24.0 - shell,) * 2 + (26.0 - shell,),
                        L.MARROW, allowed=[L.BONE])
    return lab, rib_idx


def _split_lobes(p: BodyParams, grid: Grid, lab: np.ndarray, rng_jit: np.ndarray) -> None:
    Z, Y, X = grid.full()
    b = p.b0
    # oblique fissures: posterior-superior (spine level T4) to anterior-inferior (diaphragm)
    zr_post, zr_ant = p.rib_z1 + 3.2 * p.rib_s + rng_jit[0], p.z_dome_r + 5 + rng_jit[1]
    zl_post, zl_ant = p.rib_z1 + 2.9 * p.rib_s + rng_jit[2], p.z_dome_l + 5 + rng_jit[3]
    tt = np.clip((b - Y) / (2 * b), 0, 1)
    right = lab == L.RUL
    left = lab == L.LUL
    zf_r = zr_post + (zr_ant - zr_post) * tt ** 0.9
    zf_l = zl_post + (zl_ant - zl_post) * tt ** 0.9
    lower_r = right & (Z > zf_r)
    lab[lower_r] = L.RLL
    z_h = p.rib_z1 + 4.6 * p.rib_s + 18.0 + rng_jit[4] + 0.08 * (Y + b)  # horizontal fissure, 4th anterior rib
    lab[right & ~lower_r & (Z > z_h)] = L.RML
    lab[left & (Z > zf_l)] = L.LLL


def _lobe_points(grid: Grid, lab: np.ndarray):
    out = {}
    for name, code in LOBES.items():
        zi, yi, xi = np.nonzero(lab == code)
        out[code] = np.stack([grid.x[xi], grid.y[yi], grid.z[zi]], 1).astype(np.float64)
    return out


def _grow(start, pts, r, gen, lobe, segs, rng, max_gen=8):
    if len(pts) < 4 or r < 0.7 or gen > max_gen:
        return
    c = pts.mean(0)
    v = c - start
    dist = float(np.linalg.norm(v))
    if dist < 3.0:
        return
    frac = 0.55 if gen == 0 else 0.42
    end = start + v * frac
    segs.append((start, end, r, lobe))
    q = pts - c
    qs = q[:: max(1, len(q) // 300)]
    w, vecs = np.linalg.eigh(qs.T @ qs)
    u = vecs[:, -1]  # principal axis of the territory
    s = q @ u
    cut = float(s.std() * rng.uniform(-0.2, 0.2))
    a, bpts = pts[s < cut], pts[s >= cut]
    # the larger daughter keeps the larger radius (asymmetric branching)
    ra = r * (0.86 if len(a) >= len(bpts) else 0.74)
    rb = r * (0.86 if len(bpts) > len(a) else 0.74)
    _grow(end, a, ra, gen + 1, lobe, segs, rng, max_gen)
    _grow(end, bpts, rb, gen + 1, lobe, segs, rng, max_gen)


def build_tree(p: BodyParams, body_id: int) -> list:
    """Airway tree (segments) by recursive bisection of each lobe's territory (coarse grid)."""
    grid = Grid(6.0)
    lab, rib = _paint_base(p, grid)
    base = (lab.copy(), rib)
    rng = np.random.default_rng([int(body_id), 0 if p.sex == "F" else 1, _ageidx(p.age_band), 31])
    jit = rng.uniform(-8, 8, 5)
    _split_lobes(p, grid, lab, jit)
    pts = _lobe_points(grid, lab)
    segs = []
    r0 = {L.RUL: 4.2, L.RML: 3.2, L.RLL: 4.8, L.LUL: 4.6, L.LLL: 4.6}
    for code, P in pts.items():
        hil = p.hilum_r if code in RIGHT_LOBES else p.hilum_l
        _grow(hil.copy(), P + rng.uniform(-3, 3, P.shape), r0[code], 0, code, segs, rng)
    return segs, jit, base


def vessel_radius(r, scale, extra):
    """A vessel beside an airway of radius r: `extra` mm wider at the hilum, tapering with the airway toward
    the periphery, where vessels fall below what a film resolves (lung markings fade toward the pleura)."""
    return r * scale + extra * min(1.0, r / 2.5)


def artery_of(p0, p1, r):
    """The pulmonary artery segment that runs beside an airway segment: (q0, q1, radius)."""
    ra = vessel_radius(r, 1.25, 0.6)
    d = p1 - p0
    n = np.cross(d, np.array([0.0, 1.0, 0.2]))
    nn = np.linalg.norm(n)
    n = n / nn if nn > 1e-6 else np.array([1.0, 0.0, 0.0])
    off = n * (r + ra + 1.0)
    return p0 + off, p1 + off, ra


def cage_depth(p: BodyParams, grid: Grid, sl=None) -> np.ndarray:
    """Distance (mm) inside the inner rib-cage surface (negative outside), full volume or a box."""
    Z, Y, X = grid.full()
    if sl is not None:
        Z, Y, X = Z[sl[0]], Y[:, sl[1]], X[:, :, sl[2]]
    a, b = cage_axes(p, Z)
    R = np.sqrt(X * X + Y * Y) + 1e-3
    rho = np.sqrt((X / a) ** 2 + (Y / b) ** 2)
    return ((1.0 - rho) * (R / np.maximum(rho, 1e-3))).astype(np.float32)


def _paint_tree(p: BodyParams, grid: Grid, lab: np.ndarray, segs) -> None:
    lungs = label_set(*LUNG_LOBES)
    wall_ok = label_set(*LUNG_LOBES, L.FAT, L.SOFT, L.AIRWAY_WALL)
    vmin = 0.42 * grid.voxel
    # arteries run beside the bronchi
    for p0, p1, r, lobe in segs:
        q0, q1, ra = artery_of(p0, p1, r)
        if ra < vmin:
            continue
        paint_capsule(lab, grid, q0, q1, ra, L.PULM_VESSEL, lungs)
    # veins: a second, sparser set draining toward the left atrium (low lobes), offset the other way
    for p0, p1, r, lobe in segs:
        rv = vessel_radius(r, 1.1, 0.4)
        if rv < vmin * 1.15:
            continue
        d = p1 - p0
        n = np.cross(d, np.array([0.3, 0.0, 1.0]))
        nn = np.linalg.norm(n)
        n = n / nn if nn > 1e-6 else np.array([0.0, 1.0, 0.0])
        sh = np.array([0.0, 6.0, 10.0])
        paint_capsule(lab, grid, p0 - n * (r + rv + 3.0) + sh, p1 - n * (r + rv + 3.0) + sh * 0.5, rv, L.PULM_VESSEL,
                      lungs)
    # bronchial walls only around a lumen that the voxels actually hold: a wall without its air would print as
    # a solid rod (a lumen under a voxel across can rasterise to nothing while its wider wall does not)
    walls = np.zeros(lab.shape, np.uint8)
    lumen = np.zeros(lab.shape, np.uint8)
    for p0, p1, r, lobe in segs:
        if r < vmin * 0.9:
            continue
        paint_capsule(walls, grid, p0, p1, r + vessel_radius(r, 0.2, 0.4), 1)
        paint_capsule(lumen, grid, p0, p1, r, 1)
    lumen = lumen.astype(bool) & wall_ok[lab]  # not through the vessels
    walls = walls.astype(bool) & wall_ok[lab] & ndimage.binary_dilation(lumen)
    lab[walls] = L.AIRWAY_WALL
    lab[lumen] = L.AIRWAY


@functools.lru_cache(maxsize=256)
def _tree_cached(body_id: int, sex: str, age_band: str):
    p = make_params(body_id, sex, age_band)
    segs, jit, base6 = build_tree(p, body_id)
    return p, segs, jit, base6


_BODY_CACHE: dict = {}
_BODY_CACHE_MAX = 300
_BODY_CACHE_BYTES = 768 * 2**20  # evict oldest bodies beyond this (a 3 mm body is ~6 MB, 2 mm ~21 MB)


def get_body(body_id: int, sex: str, age_band: str, voxel: float) -> Body:
    """The cached body (do not modify its arrays; copy them)."""
    key = (int(body_id) % BODY_POOL, sex, age_band, float(voxel))
    hit = _BODY_CACHE.pop(key, None)
    if hit is not None:
        _BODY_CACHE[key] = hit  # most recently used last
        return hit
    p, segs, jit, base6 = _tree_cached(key[0], sex, age_band)
    grid = Grid(float(voxel))
    if float(voxel) == 6.0:
        lab, rib = base6[0].copy(), base6[1]
    else:
        lab, rib = _paint_base(p, grid)
    _split_lobes(p, grid, lab, jit)
    _paint_tree(p, grid, lab, segs)
    lung = np.isin(lab, LUNGISH)
    depth = ndimage.distance_transform_edt(lung) * grid.voxel
    lobes = np.isin(lab, LUNG_LOBES)
    idx = ndimage.distance_transform_edt(~lobes, return_distances=False, return_indices=True)
    lobe_map = lab[idx[0], idx[1], idx[2]]
    del idx
    body = Body(params=p, grid=grid, labels=lab, lung_depth=np.clip(np.round(depth), 0, 255).astype(np.uint8), rib_index=rib, tree=segs,
                lobe_map=lobe_map)
    for arr in (lab, body.lung_depth, rib, lobe_map):
        arr.flags.writeable = False
    def nbytes(b):
        return b.labels.nbytes + b.lung_depth.nbytes + b.rib_index.nbytes + b.lobe_map.nbytes

    total = sum(nbytes(b) for b in _BODY_CACHE.values()) + nbytes(body)
    while _BODY_CACHE and (len(_BODY_CACHE) >= _BODY_CACHE_MAX or total > _BODY_CACHE_BYTES):
        total -= nbytes(_BODY_CACHE.pop(next(iter(_BODY_CACHE))))
    _BODY_CACHE[key] = body
    return body

"""Phantom vs real: the same measurements on the real images shipped in pydicom-data and on phantoms.

    python -m inference.phantoms calibrate [--seeds 8] [--grid docs/img/phantoms/grid.png]

Real data (pydicom-data): RG1_UNCR.dcm, a PA chest CR (MONOCHROME1, 15 bit), and explicit_VR-UN.dcm,
a contrast-enhanced upper-abdominal CT slice (the package has no chest CT: its other CTs are a head
and a JPEG-lossless neck file). Both kinds of image go through the same code: radiographs are made
MONOCHROME2 and normalised to their own 1st-99.5th percentile, then measured in lung / mediastinum
regions; CT is measured in HU by tissue classes found by HU range inside the body outline.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..conditions import Conditions, Finding

# Regions on the real PA film, as fractions of (rows, cols), chosen once by looking at the film.
REAL_LUNGS = [((0.22, 0.60), (0.17, 0.38)), ((0.22, 0.60), (0.62, 0.84))]
REAL_MEDIASTINUM = ((0.25, 0.48), (0.45, 0.55))


def _real_file(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name)
    if path is None:
        raise FileNotFoundError(f"{name} not found: install pydicom-data")
    return path


def _norm_film(img: np.ndarray) -> np.ndarray:
    lo, hi = np.percentile(img, [1, 99.5])
    return np.clip((img - lo) / (hi - lo), 0, 1).astype(np.float32)


def _resize(img: np.ndarray, n: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img.astype(np.float32), mode="F").resize((n, n), Image.BOX))


def _box(shape, frac):
    (r0, r1), (c0, c1) = frac
    m = np.zeros(shape, bool)
    m[int(r0 * shape[0]):int(r1 * shape[0]), int(c0 * shape[1]):int(c1 * shape[1])] = True
    return m


def film_stats(img: np.ndarray, lungs: np.ndarray, mediastinum: np.ndarray) -> dict:
    """img MONOCHROME2 in [0, 1] at 512 px."""
    lung = float(img[lungs].mean())
    med = float(img[mediastinum].mean())
    contrast = med - lung
    # rib modulation: vertical profiles through the lung regions, high-passed
    prof = []
    for c in np.nonzero(lungs.any(0))[0][::4]:
        rows = np.nonzero(lungs[:, c])[0]
        if len(rows) < 40:
            continue
        p = img[rows, c]
        hp = p - ndimage.gaussian_filter1d(p, 10)
        prof.append(np.percentile(hp, 90) - np.percentile(hp, 10))
    ribs = float(np.median(prof)) if prof else float("nan")
    resid = img - ndimage.median_filter(img, 3)
    noise = float(np.std(resid[ndimage.binary_erosion(lungs, iterations=2)]))
    return {"lung": lung, "mediastinum": med, "contrast": contrast, "rib_p90_p10": ribs,
            "rib_over_contrast": ribs / contrast, "noise": noise, "noise_over_contrast": noise / contrast}


def real_cxr() -> tuple[np.ndarray, dict]:
    import pydicom

    ds = pydicom.dcmread(_real_file("RG1_UNCR.dcm"))
    a = ds.pixel_array.astype(np.float32)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        a = a.max() - a
    img = _norm_film(_resize(a, 512))
    lungs = _box(img.shape, REAL_LUNGS[0]) | _box(img.shape, REAL_LUNGS[1])
    med = _box(img.shape, REAL_MEDIASTINUM)
    return img, film_stats(img, lungs, med)


def phantom_cxr(seed: int, findings=()) -> tuple[np.ndarray, dict]:
    from . import render

    s = render(Conditions(modality="cxr", view="PA", sex=("F", "M")[seed % 2], findings=tuple(findings)),
               seed=seed, size=512)
    img = _norm_film(s.pixels.astype(np.float32))
    return img, film_stats(img, *phantom_regions(s.masks))


def phantom_regions(masks: dict) -> tuple[np.ndarray, np.ndarray]:
    """(lungs, upper mediastinum) of a phantom film from its anatomy masks, drawn as on the real film;
    sized for 512 px and scaled to other sizes."""
    n = masks["anatomy:lungs"].shape[0]
    lungs = ndimage.binary_erosion(masks["anatomy:lungs"] & ~masks["anatomy:heart"],
                                   iterations=max(1, round(8 * n / 512)))
    # upper mediastinum: the central band between the lung apices and the top of the heart
    heart_rows = np.nonzero(masks["anatomy:heart"].any(1))[0]
    lung_rows = np.nonzero(masks["anatomy:lungs"].any(1))[0]
    r0 = lung_rows.min() + int(0.15 * (heart_rows.min() - lung_rows.min()))
    cols = np.nonzero(masks["anatomy:lungs"].any(0))[0]
    cmid = (cols.min() + cols.max()) // 2
    half = max(2, round(26 * n / 512))
    med = np.zeros(lungs.shape, bool)
    med[r0:heart_rows.min(), cmid - half:cmid + half] = True
    return lungs, med


def ct_stats(hu: np.ndarray) -> dict:
    body = hu > -500
    lab, n = ndimage.label(body)
    if n:
        sizes = ndimage.sum(body, lab, range(1, n + 1))
        body = ndimage.binary_fill_holes(lab == (1 + int(np.argmax(sizes))))
    inner = ndimage.binary_erosion(body, iterations=4)
    sm = ndimage.median_filter(hu, 3)
    fat = inner & (sm > -190) & (sm < -30)
    soft = inner & (sm > 0) & (sm < 100)
    homog = ndimage.binary_erosion(soft, iterations=3)
    mean = ndimage.uniform_filter(hu.astype(np.float64), 5)
    sq = ndimage.uniform_filter(hu.astype(np.float64) ** 2, 5)
    local_sd = np.sqrt(np.clip(sq - mean ** 2, 0, None))
    lung = inner & (sm < -600)
    return {
        "air_outside": float(np.median(hu[~ndimage.binary_dilation(body, iterations=10)])),
        "fat": float(np.median(hu[fat])) if fat.any() else float("nan"),
        "soft_tissue": float(np.median(hu[soft])) if soft.any() else float("nan"),
        "bone_p99_5": float(np.percentile(hu[inner], 99.5)),
        "lung": float(np.median(hu[lung])) if lung.sum() > 50 else float("nan"),
        "noise_sd_soft": float(np.median(local_sd[homog])) if homog.any() else float("nan"),
        "fat_fraction": float(fat.sum() / max(1, inner.sum())),
    }


def real_ct() -> tuple[np.ndarray, dict, float]:
    import pydicom

    ds = pydicom.dcmread(_real_file("explicit_VR-UN.dcm"))
    hu = ds.pixel_array.astype(np.float32) * float(ds.get("RescaleSlope", 1) or 1) + float(
        ds.get("RescaleIntercept", 0) or 0)
    return hu, ct_stats(hu), float(ds.PixelSpacing[0])


def phantom_ct(seed: int, level: str) -> tuple[np.ndarray, dict, dict]:
    from .anatomy import LUNG_LOBES, L, get_body
    from .ct import ct_slice, slice_of

    sex = ("F", "M")[seed % 2]
    p = get_body(seed, sex, "40-59", 6.0).params
    z = p.z_dome_r + 70.0 if level == "abdomen" else p.carina[2] + 25.0
    c = Conditions(modality="ct", view="axial", sex=sex, slice_index=slice_of(z))
    pixels, masks, extra, lab = ct_slice(c, seed, 256)
    hu = pixels.astype(np.float32)
    truth = {}
    for name, labels in (("lung", LUNG_LOBES), ("fat", (L.FAT,)), ("muscle", (L.MUSCLE,)), ("liver", (L.LIVER,))):
        m = ndimage.binary_erosion(np.isin(lab, labels), iterations=1)
        truth[name] = float(np.median(hu[m])) if m.sum() > 10 else float("nan")
    return hu, ct_stats(hu), truth


def _fmt(x, nd=3):
    return "n/a" if x != x else f"{x:.{nd}f}"


def main(args) -> int:
    seeds = list(range(max(1, int(getattr(args, "seeds", 8)))))
    _, rs = real_cxr()
    ps = [phantom_cxr(s)[1] for s in seeds]
    keys = ["lung", "mediastinum", "contrast", "rib_p90_p10", "rib_over_contrast", "noise", "noise_over_contrast"]
    print(f"## Chest radiograph (PA, 512 px, each film normalised to its 1st-99.5th percentile; {len(seeds)} phantoms)\n")
    print("| measure | real RG1_UNCR | phantom mean | phantom min | phantom max |")
    print("|---|---|---|---|---|")
    for k in keys:
        v = np.array([p[k] for p in ps])
        print(f"| {k} | {_fmt(rs[k])} | {_fmt(v.mean())} | {_fmt(v.min())} | {_fmt(v.max())} |")
    hu_r, cr, spacing = real_ct()
    pa = [phantom_ct(s, "abdomen") for s in seeds]
    pc = [phantom_ct(s, "chest") for s in seeds]
    print(f"\n## CT (HU; real pixel {spacing:.2f} mm, phantom 256 px = 1.50 mm; {len(seeds)} phantoms)\n")
    print("| measure | real explicit_VR-UN (upper abdomen) | phantom upper abdomen | phantom chest (carina) |")
    print("|---|---|---|---|")
    for k in ["air_outside", "fat", "soft_tissue", "bone_p99_5", "lung", "noise_sd_soft", "fat_fraction"]:
        va = np.array([p[1][k] for p in pa])
        vc = np.array([p[1][k] for p in pc])
        nd = 3 if k == "fat_fraction" else 0
        print(f"| {k} | {_fmt(cr[k], nd)} | {_fmt(np.nanmean(va), nd)} | {_fmt(np.nanmean(vc), nd)} |")
    print("\nPhantom HU by ground-truth label (median over eroded label regions, mean over phantoms):\n")
    print("| tissue | published range | phantom (abdomen slice) | phantom (chest slice) |")
    print("|---|---|---|---|")
    ranges = {"lung": "-900..-700", "fat": "-120..-80", "muscle": "20..60", "liver": "40..80 (contrast 80-110)"}
    for k in ("lung", "fat", "muscle", "liver"):
        va = np.array([p[2][k] for p in pa])
        vc = np.array([p[2][k] for p in pc])
        print(f"| {k} | {ranges[k]} | {_fmt(np.nanmean(va), 0)} | {_fmt(np.nanmean(vc), 0)} |")
    if getattr(args, "grid", None):
        path = picture_grid(args.grid)
        print(f"\nwrote {path}")
    return 0


# ---------------------------------------------------------------------------------- picture grid
def _label(tile: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(tile)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, im.width, 13], fill=(0, 0, 0))
    d.text((3, 1), text[:34], fill=(255, 255, 0))
    return np.asarray(im)


def picture_grid(path: str, tile: int = 192) -> str:
    from pathlib import Path

    from PIL import Image

    from . import render
    from .cli import window
    from ..vocabulary import FINDINGS

    def rgb(a):
        return np.stack([a] * 3, -1) if a.ndim == 2 else a

    def fit(a):
        return np.asarray(Image.fromarray(a).resize((tile, tile), Image.BILINEAR))

    rows = []
    real_img, _ = real_cxr()
    hu_r, _, _ = real_ct()
    cxr_tiles = [_label(rgb(fit((real_img * 255).astype(np.uint8))), "REAL CR (RG1)")]
    for key in [None] + [k for k, v in FINDINGS.items() if "cxr" in v.modalities]:
        kind = FINDINGS.get(key)
        f = () if key is None else (Finding(key, kind.lateralities[0], severity="moderate"),)
        s = render(Conditions(modality="cxr", view="PA", sex="M", findings=f), seed=5, size=256)
        cxr_tiles.append(_label(rgb(fit((s.pixels >> 4).astype(np.uint8))), f"cxr {key or 'normal'}"))
    ct_tiles = [_label(rgb(fit(window(hu_r, 400, 40))), "REAL CT abdomen 400/40"),
                _label(rgb(fit(window(hu_r, 1500, -600))), "REAL CT abdomen 1500/-600")]
    for key in [None] + [k for k, v in FINDINGS.items() if "ct" in v.modalities]:
        kind = FINDINGS.get(key)
        f = () if key is None else (Finding(key, kind.lateralities[0], severity="moderate"),)
        s = render(Conditions(modality="ct", view="axial", sex="M", findings=f), seed=5, size=256)
        w = (400, 40) if key in ("cardiomegaly", "pulmonary_embolism", "pneumoperitoneum", "rib_fracture",
                                  "effusion", None) else (1500, -600)
        ct_tiles.append(_label(rgb(fit(window(s.pixels, *w))), f"ct {key or 'normal'} {w[0]}/{w[1]}"))
    lap_tiles = []
    for key in [None] + [k for k, v in FINDINGS.items() if "lap" in v.modalities]:
        f = () if key is None else (Finding(key, "none", severity="severe"),)
        s = render(Conditions(modality="lap", view="scope", findings=f, frame_index=60), seed=5, size=256)
        lap_tiles.append(_label(fit(s.pixels), f"lap {key or 'normal'}"))
    cols = 8
    for group in (cxr_tiles, ct_tiles, lap_tiles):
        for i in range(0, len(group), cols):
            row = group[i:i + cols]
            row += [np.zeros_like(row[0])] * (cols - len(row))
            rows.append(np.concatenate(row, 1))
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, 0)).save(out, optimize=True)
    return str(out)

"""How much a finding stands out from the anatomy around it, per finding, on chest radiographs.

For each finding, the same virtual patient is rendered with and without it (same pose, same exposure, same
detector noise), so the difference is the finding alone:

- signal: mean |difference| over the finding's mask, in the image's native units (12-bit radiograph levels);
- clutter: standard deviation of the finding-free image in a ring around the mask (what the finding has to
  be told apart from: ribs, vessels, edges), in the same units;
- ratio: signal / clutter. Compare findings of similar extent: a focal finding well below 1 drowns in the
  ribs and vessels around it; for a large finding the ring crosses unlike anatomy and the ratio says little.

    python -m inference.phantoms conspicuity --size 256 --seeds 8
    python -m inference.phantoms conspicuity --against-real   # nodules on the real film vs the phantom's

The real film has no finding-free twin, so the comparison with it uses one image only: a nodule's local
contrast, (mean over its disc - mean over the ring from r to 2r) / SD of that ring, on films normalised as
in the calibration (1st-99.5th percentile, 512 px). Its two parts, the disc-ring difference and the ring SD,
are also given over each film's mediastinum - lung contrast, so that films of different tone compare.

It imports no Django; the figures go in docs/PHANTOMS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from ..conditions import ConditionError, Conditions, Finding
from ..vocabulary import FINDINGS
from .api import check_size, render

SEED0 = 50_000_000  # away from reader (10M, 20M), evaluation (30M, 40M) and generator training seeds
RING_PX = {64: 3, 128: 5, 256: 8, 512: 16}  # 12-18 mm of anatomy around the finding


# Metastases on the real PA film RG1_UNCR (pydicom-data), placed once by eye: centre row and column as
# fractions of the film's height and width, radius as a fraction of its width; each about 20-30 mm across if the
# film is a 35 cm cassette (the file records no pixel spacing).
REAL_NODULES = ((0.350, 0.752, 0.035), (0.438, 0.797, 0.035), (0.586, 0.791, 0.035), (0.586, 0.254, 0.043),
                (0.396, 0.186, 0.027), (0.470, 0.293, 0.027))


@dataclass(frozen=True)
class NoduleContrast:
    """One nodule on one film. `local`: (disc mean - ring mean) / ring SD. The same two parts in units of
    the film's own mediastinum - lung contrast: `signal` (disc - ring) and `clutter` (ring SD), which tell a
    faint nodule (low signal) from a busy lung (high clutter)."""
    local: float
    signal: float
    clutter: float


def disc_parts(img: np.ndarray, row: float, col: float, radius: float) -> tuple[float, float]:
    """(mean in the disc - mean in the ring r..2r, SD of the ring), all in pixels of `img`."""
    yy, xx = np.mgrid[:img.shape[0], :img.shape[1]]
    d = np.hypot(yy - row, xx - col)
    disc, ring = d <= radius, (d > radius) & (d <= 2 * radius)
    return float(img[disc].mean() - img[ring].mean()), float(img[ring].std())


def _nodule(img: np.ndarray, row: float, col: float, radius: float, film_contrast: float) -> NoduleContrast:
    difference, ring_sd = disc_parts(img, row, col, radius)
    return NoduleContrast(difference / ring_sd, difference / film_contrast, ring_sd / film_contrast)


def real_nodule_contrasts() -> list[NoduleContrast]:
    from .calibrate import real_cxr

    img, stats = real_cxr()  # MONOCHROME2, normalised, 512 x 512
    n = img.shape[0]
    return [_nodule(img, r * n, c * n, rad * n, stats["contrast"]) for r, c, rad in REAL_NODULES]


def phantom_nodule_contrasts(*, seeds: int, severity: str = "severe",
                             size: int = 512) -> list[NoduleContrast]:
    from .calibrate import _norm_film, phantom_regions

    f = finding_for("nodule", severity)
    out = []
    for seed in range(SEED0, SEED0 + seeds):
        s = render(Conditions(modality="cxr", view="PA", findings=(f,)), seed=seed, size=size)
        mask = s.masks[f"nodule:{f.laterality}"]
        if not mask.any():
            continue
        rows, cols = np.nonzero(mask)
        img = _norm_film(s.pixels.astype(np.float32))
        lungs, mediastinum = phantom_regions(s.masks)
        film_contrast = float(img[mediastinum].mean() - img[lungs].mean())
        out.append(_nodule(img, rows.mean(), cols.mean(), float(np.sqrt(mask.sum() / np.pi)), film_contrast))
    return out


def check_key(key: str) -> str:
    if key not in FINDINGS or "cxr" not in FINDINGS[key].modalities:
        raise ConditionError(f"unknown chest radiograph finding {key!r}")
    return key


@lru_cache(maxsize=16)
def _finding_free(seed: int, size: int):
    """The patient without findings: one render per patient, shared by every finding measured on it."""
    return render(Conditions(modality="cxr", view="PA"), seed=seed, size=size)


def finding_for(key: str, severity: str) -> Finding:
    lats = FINDINGS[key].lateralities
    lat = "right" if "right" in lats else lats[0]
    return Finding(key=key, laterality=lat, severity=severity)


def measure(key: str, *, size: int = 256, seeds: int = 8, severity: str = "moderate") -> dict:
    """Median signal, clutter and ratio of one chest-radiograph finding over `seeds` virtual patients."""
    check_key(key)
    size = check_size(size)
    if seeds <= 0:
        raise ConditionError(f"seeds {seeds!r} must be positive")
    f = finding_for(key, severity)
    rows = []
    for seed in range(SEED0, SEED0 + seeds):
        with_f = render(Conditions(modality="cxr", view="PA", findings=(f,)), seed=seed, size=size)
        without = _finding_free(seed, size)
        mask = with_f.masks[f"{f.key}:{f.laterality}"]
        if not mask.any():
            continue
        diff = np.abs(with_f.pixels.astype(np.float64) - without.pixels.astype(np.float64))
        ring = ndimage.binary_dilation(mask, iterations=RING_PX[size]) & ~mask
        clutter = float(without.pixels[ring].astype(np.float64).std()) if ring.any() else float("nan")
        signal = float(diff[mask].mean())
        rows.append((int(mask.sum()), signal, clutter, signal / clutter if clutter > 0 else float("inf")))
    if not rows:
        raise ConditionError(f"{key} drew no mask in {seeds} patients")
    a = np.array(rows)
    return {"finding": key, "severity": severity, "size": size, "patients": len(rows),
            "mask_px": int(np.median(a[:, 0])), "signal": round(float(np.median(a[:, 1])), 1),
            "clutter": round(float(np.median(a[:, 2])), 1), "ratio": round(float(np.median(a[:, 3])), 3)}


def main(args) -> int:
    if args.against_real:
        # the comparison is fixed: the real film's nodules against moderate and severe phantom nodules, 512 px
        given = [flag for flag, value in (("--finding", args.finding), ("--size", args.size),
                                          ("--severity", args.severity)) if value is not None]
        if given:
            raise ConditionError(f"--against-real compares 512 px films of moderate and severe nodules; it takes "
                                 f"--seeds only, not {', '.join(given)}")
        return against_real(args.seeds)
    size, severity = args.size or 256, args.severity or "moderate"
    keys = args.finding or [k for k, v in FINDINGS.items() if "cxr" in v.modalities]
    for key in keys:  # every name checked before any work
        check_key(key)
    print(f"chest radiograph PA, {size} px, severity {severity}, median over {args.seeds} patients "
          f"(seeds from {SEED0}); signal and clutter in 12-bit levels")
    print(f"{'finding':22s} {'mask px':>8s} {'signal':>8s} {'clutter':>8s} {'ratio':>7s}")
    for key in keys:
        r = measure(key, size=size, seeds=args.seeds, severity=severity)
        print(f"{key:22s} {r['mask_px']:8d} {r['signal']:8.1f} {r['clutter']:8.1f} {r['ratio']:7.3f}")
    return 0


def against_real(seeds: int) -> int:
    if seeds <= 0:
        raise ConditionError(f"seeds {seeds!r} must be positive")
    print("local contrast of 20-30 mm lung nodules on PA films (disc vs ring r..2r, in ring SDs; 512 px, "
          "normalised to the 1st-99.5th percentile);")
    print("signal = disc - ring mean, clutter = ring SD, both over the film's mediastinum - lung contrast "
          "(medians)")
    heads = ("nodules", "median", "min", "max", "signal", "clutter")
    print(f"{'film':44s} " + " ".join(f"{h:>7s}" for h in heads))
    rows = [("real RG1_UNCR (metastases placed by eye)", real_nodule_contrasts())]
    for severity in ("moderate", "severe"):
        rows.append((f"phantom, {severity} nodule (seeds {SEED0}..)",
                     phantom_nodule_contrasts(seeds=seeds, severity=severity)))
    for label, nodules in rows:
        local = [n.local for n in nodules]
        print(f"{label:44s} {len(nodules):7d} {np.median(local):7.2f} {min(local):7.2f} {max(local):7.2f} "
              f"{np.median([n.signal for n in nodules]):7.3f} {np.median([n.clutter for n in nodules]):7.3f}")
    return 0

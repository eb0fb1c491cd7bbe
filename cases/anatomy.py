"""The case patient's own anatomy, from the phantom simulator: the painter's background, the lungs that a
lung lesion's mask must lie in, and where the simulator itself would put a finding in this patient (the
painter's one-click "typical placement": the generator follows a drawn mask far better than it places a
finding on its own, docs/MODEL_CARD.md)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from inference.conditions import MASK_SIZE, ConditionError, Conditions, Finding

# findings drawn inside the lung parenchyma; pleural and mediastinal findings are not held to it
LUNG_LESIONS = {"nodule", "mass", "consolidation", "atelectasis"}
LUNG_MARGIN_PX = 4  # a lesion may touch the lung edge (the painter's brush is not a scalpel)
MIN_INSIDE_FRACTION = 0.9


def painter_slice(*, modality: str, sex: str, age_band: str, seed: int) -> int | None:
    """The CT slice the mask painter shows and its masks are drawn on: the one through the patient's widest
    lungs, where most lung findings show (the apex, slice 0, shows almost none). None for other modalities."""
    if modality != "ct":
        return None
    from inference.phantoms.ct import widest_lung_slice

    return widest_lung_slice(seed, sex, age_band)


@lru_cache(maxsize=32)
def study_anatomy(*, modality: str, view: str, sex: str, age_band: str, seed: int):
    """A render of the patient with no findings at the mask size: (pixels, lungs mask or None).
    Cached: every autosave of a draft with a lung-lesion mask asks for the same render. Read-only arrays."""
    from inference.phantoms import render

    slice_index = painter_slice(modality=modality, sex=sex, age_band=age_band, seed=seed)
    frame_index = 0 if modality == "lap" else None
    sample = render(Conditions(modality=modality, view=view, sex=sex, age_band=age_band,
                               slice_index=slice_index, frame_index=frame_index), seed=seed, size=MASK_SIZE)
    lungs = sample.masks.get("anatomy:lungs")
    for array in (sample.pixels, lungs):
        if array is not None:
            array.flags.writeable = False  # shared by every caller of the cache
    return sample.pixels, lungs


def mask_problems(*, modality: str, view: str, sex: str, age_band: str, seed: int, findings: list[dict]) -> list[str]:
    """One message per lung lesion whose drawn mask lies mostly outside this patient's lungs."""
    lesions = [f for f in findings if f.get("key") in LUNG_LESIONS and f.get("mask_png_b64")]
    if not lesions or modality not in ("cxr", "ct"):
        return []
    _, lungs = study_anatomy(modality=modality, view=view, sex=sex, age_band=age_band, seed=seed)
    if lungs is None:
        return []
    allowed = ndimage.binary_dilation(lungs, iterations=LUNG_MARGIN_PX)
    problems = []
    for finding in lesions:
        mask = Finding(**finding).mask_array()
        painted = int(mask.sum())
        if painted == 0:
            continue
        inside = float((mask & allowed).sum()) / painted
        if inside < MIN_INSIDE_FRACTION:
            problems.append(
                f"the {finding['key']} mask ({finding.get('laterality', 'none')}) lies {100 * (1 - inside):.0f}% "
                "outside the lungs: paint it over the lung"
            )
    return problems


def anatomy_pixels_header(pixels: np.ndarray, slice_index: int | None = None) -> dict:
    headers = {"X-Width": str(pixels.shape[1]), "X-Height": str(pixels.shape[0]), "X-Dtype": str(pixels.dtype)}
    if slice_index is not None:  # which CT slice the painter shows: its caption says so
        from inference.phantoms.ct import N_SLICES, slice_z

        headers.update({"X-Slice": str(slice_index), "X-Slices": str(N_SLICES),
                        "X-Slice-Z-Mm": f"{slice_z(slice_index):g}"})
    return headers


def typical_mask(*, modality: str, view: str, sex: str, age_band: str, seed: int, key: str, laterality: str,
                 location: str = "", severity: str = "moderate", size_mm: float | None = None) -> np.ndarray:
    """The mask of one finding as the simulator renders it in this patient (bool, MASK_SIZE square,
    read-only): the same body, view and slice as the painter's background, and the same question the
    generator's typical placement asks (inference/placement.py, which caches it).

    Raises ConditionError with a message for the educator when the finding is not valid for the study or
    does not show in it (a CT finding away from the slice shown)."""
    from inference.placement import typical_placement

    if modality not in ("cxr", "ct"):
        raise ConditionError(f"{modality} studies have no mask painter")
    finding = Finding(key=key, laterality=laterality, location=location, severity=severity, size_mm=size_mm)
    conditions = Conditions(modality=modality, view=view, sex=sex, age_band=age_band, findings=(finding,),
                            slice_index=painter_slice(modality=modality, sex=sex, age_band=age_band, seed=seed))
    # validates the finding: a clear ConditionError
    mask = typical_placement(conditions, seed=seed, size=MASK_SIZE).masks.get(f"{key}:{laterality}")
    if mask is None:
        where = "on the slice shown" if modality == "ct" else "in this view"
        raise ConditionError(f"the simulator draws no {key.replace('_', ' ')} ({laterality}) {where}: paint it by hand")
    return mask

"""Typical placement: a mask for every finding the educator did not draw, from the phantom simulator.

The generator follows a drawn mask far better than it places a focal finding on its own (docs/MODEL_CARD.md:
a mass asked for without a mask shows in few images), so the app asks the simulator where it would put each
undrawn finding in one virtual patient and hands the generator that mask. The patient is a seed: the same
study and seed give the same masks, so an image stays reproducible from its provenance. Imports no Django.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import numpy as np

from .conditions import MASK_SIZE, Conditions, mask_to_png_b64


@dataclasses.dataclass(frozen=True)
class Placement:
    conditions: Conditions  # the request's conditions with the placed masks filled in
    placed: tuple[str, ...]  # "key:laterality" of every finding that received a typical mask
    masks: dict  # "key:laterality" -> bool mask at the render size, for every placed finding


def fill_masks(conditions: Conditions, masks: dict) -> tuple[Conditions, tuple[str, ...]]:
    """Give each finding without a drawn mask its mask from `masks` ("key:laterality" -> bool square array
    of any size, resampled nearest to MASK_SIZE); findings with no or an empty mask there stay as they are.
    Returns the new conditions and the names of the findings that got a mask."""
    from PIL import Image

    findings, filled = [], []
    for f in conditions.findings:
        name = f"{f.key}:{f.laterality}"
        mask = masks.get(name)
        if f.mask_png_b64 or mask is None or not mask.any():
            findings.append(f)
            continue
        big = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((MASK_SIZE, MASK_SIZE), Image.NEAREST))
        findings.append(dataclasses.replace(f, mask_png_b64=mask_to_png_b64(big > 0)))
        filled.append(name)
    return dataclasses.replace(conditions, findings=tuple(findings)), tuple(filled)


@lru_cache(maxsize=128)
def _place(conditions: Conditions, seed: int, size: int) -> Placement:
    from .phantoms import render

    if all(f.mask_png_b64 for f in conditions.findings):
        return Placement(conditions=conditions, placed=(), masks={})
    # one render of the whole condition: findings that change the anatomy (a tension pneumothorax shifting the
    # mediastinum) place the others as they would be in that patient; drawn masks are honoured by the renderer.
    # A finding it draws nothing of in this view or slice is left to the model.
    sample = render(conditions, seed=seed, size=size)
    placed_conditions, placed = fill_masks(conditions, sample.masks)
    masks = {}
    for name in placed:
        masks[name] = np.array(sample.masks[name], dtype=bool)
        masks[name].flags.writeable = False  # shared by every caller of the cache
    return Placement(conditions=placed_conditions, placed=placed, masks=masks)


def typical_placement(conditions: Conditions, *, seed: int, size: int) -> Placement:
    """Fill every finding without a drawn mask with the simulator's mask of it in virtual patient `seed`,
    rendered at the generator's resolution `size` (or the smallest phantom size above it): a finer render,
    only to be resampled down by the model, would cost several times as much. Findings the simulator draws
    nothing of here are left to the model. Cached: every student of a fixed-seed study asks the same."""
    from .phantoms.api import SIZES

    conditions.validate()
    render_size = min((s for s in SIZES if s >= int(size)), default=SIZES[-1])
    return _place(conditions, int(seed), render_size)

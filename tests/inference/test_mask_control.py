"""Mask control on the shipped weights: what the educator draws in the left upper zone is generated there.

Judged two ways, both deterministic (fixed weights, fixed seeds, real MiniLM):
- by the independent reader, for a mass (the 64 px reader does not see nodules at all: docs/READERS.md);
- for a nodule, by what changes: the same request with and without the drawn nodule differs more inside the
  drawing than at the mirrored place in the other lung, and more than twice as much as elsewhere.
"""

import dataclasses

import numpy as np
import pytest

from inference.conditions import MASK_SIZE, Conditions, Finding, mask_to_png_b64
from inference.phantoms import image_from_pixels, reader
from inference.weights_info import DEFAULT_WEIGHTS

pytestmark = pytest.mark.skipif(
    not (DEFAULT_WEIGHTS["cxr"].exists() and reader.default_path("cxr", 64).exists()),
    reason="needs the shipped generator and reader weights",
)

SEEDS = (1, 2, 3, 4, 5, 6)
# patient's left is the image's right; the upper zone is the upper third of the lung field
LEFT_UPPER = (0.36, 0.66)  # centre (y, x) as fractions of the image


def _disc(r: float) -> np.ndarray:
    yy, xx = np.mgrid[:MASK_SIZE, :MASK_SIZE]
    cy, cx = LEFT_UPPER[0] * MASK_SIZE, LEFT_UPPER[1] * MASK_SIZE
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= (r * MASK_SIZE) ** 2


@pytest.fixture(scope="module")
def generate():
    import torch

    from inference.pipeline import GenerationRequest, get_generator

    torch.set_num_threads(1)
    generator = get_generator()

    def run(conditions: Conditions, seed: int) -> np.ndarray:
        result = generator.generate(GenerationRequest(conditions=conditions, seed=seed))
        return image_from_pixels(result.pixels, "cxr")

    return run


def test_a_mass_drawn_in_the_left_upper_zone_is_found_there_by_the_reader(generate):
    model, size = reader.load(str(reader.default_path("cxr", 64)))
    conditions = Conditions(prompt="mass in the left upper zone", findings=(
        Finding("mass", "left", location="upper zone", size_mm=45.0, severity="moderate",
                mask_png_b64=mask_to_png_b64(_disc(0.08))),))
    names, keys = reader.label_names("cxr"), reader.finding_keys("cxr")
    found_there = 0
    for seed in SEEDS:
        probs, masks = reader.predict(model, generate(conditions, seed)[None, None])
        mass = masks[0, keys.index("mass")]
        if probs[0, names.index("mass:left")] > 0.5 and mass.any():
            ys, xs = np.nonzero(mass)
            found_there += bool(xs.mean() / size > 0.5 and ys.mean() / size < 0.5)
    assert found_there >= len(SEEDS) - 1, f"mass found in the left upper zone in {found_there} of {len(SEEDS)}"


def test_a_drawn_nodule_changes_the_image_where_it_is_drawn(generate):
    drawn = _disc(0.05)
    plain = Conditions(prompt="nodule in the left upper zone")
    with_nodule = dataclasses.replace(plain, findings=(
        Finding("nodule", "left", location="upper zone", size_mm=25.0, severity="severe",
                mask_png_b64=mask_to_png_b64(drawn)),))
    small = drawn.reshape(64, 4, 64, 4).any(axis=(1, 3))  # the drawing at the image's 64 px
    mirror = small[:, ::-1]  # the same place in the right lung
    for seed in SEEDS:
        change = np.abs(generate(with_nodule, seed) - generate(plain, seed))
        inside, opposite, elsewhere = change[small].mean(), change[mirror].mean(), change[~small].mean()
        assert inside > opposite and inside > 2 * elsewhere, (
            f"seed {seed}: change inside the drawing {inside:.4f}, at the mirrored place {opposite:.4f}, "
            f"elsewhere {elsewhere:.4f}")

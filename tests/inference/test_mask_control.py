"""Mask control, judged by the independent reader: a nodule the educator draws in the left upper zone is
generated there. Runs the shipped generator and the shipped reader (real MiniLM), so it is the product's own
behaviour, not a toy's. Deterministic: fixed seeds, fixed weights."""

import numpy as np
import pytest

from inference.conditions import MASK_SIZE, Conditions, Finding, mask_to_png_b64
from inference.phantoms import reader
from inference.weights_info import DEFAULT_WEIGHTS

pytestmark = pytest.mark.skipif(
    not (DEFAULT_WEIGHTS["cxr"].exists() and reader.default_path("cxr", 64).exists()),
    reason="needs the shipped generator and reader weights",
)

SEEDS = (1, 2, 3, 4, 5, 6)


def _disc(cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:MASK_SIZE, :MASK_SIZE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_a_nodule_drawn_in_the_left_upper_zone_is_found_there():
    import torch

    from inference.pipeline import GenerationRequest, get_generator

    torch.set_num_threads(1)
    generator = get_generator()
    model, size = reader.load(str(reader.default_path("cxr", 64)))
    # patient's left is the image's right; upper zone = upper third of the lung field
    drawn = _disc(cy=0.36 * MASK_SIZE, cx=0.64 * MASK_SIZE, r=0.05 * MASK_SIZE)
    conditions = Conditions(prompt="nodule in the left upper zone", findings=(
        Finding("nodule", "left", location="upper zone", size_mm=28.0, severity="severe",
                mask_png_b64=mask_to_png_b64(drawn)),))
    names, keys = reader.label_names("cxr"), reader.finding_keys("cxr")
    found_there = 0
    for seed in SEEDS:
        result = generator.generate(GenerationRequest(conditions=conditions, seed=seed))
        x = (result.pixels.astype(np.float32) / 4095.0)[None, None]
        probs, masks = reader.predict(model, x)
        nodule = masks[0, keys.index("nodule")]
        on_left = probs[0, names.index("nodule:left")] > 0.5
        if on_left and nodule.any():
            ys, xs = np.nonzero(nodule)
            cy, cx = ys.mean() / size, xs.mean() / size
            found_there += bool(cx > 0.5 and cy < 0.5)  # image right half (patient's left), upper half
    assert found_there >= len(SEEDS) - 1, f"nodule found in the left upper zone in {found_there} of {len(SEEDS)}"

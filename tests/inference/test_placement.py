"""Typical placement: undrawn findings get the simulator's mask of them in one virtual patient, drawn masks are
kept, and what the simulator does not draw in this view or slice is left to the model."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from inference.conditions import ConditionError, Conditions, Finding, mask_to_png_b64
from inference.phantoms import render
from inference.placement import typical_placement

CHEST = Conditions(findings=(Finding("effusion", "right"), Finding("mass", "left", size_mm=50)), prompt="chest")


def _centroid_x(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[1].mean()) / mask.shape[1]


def test_undrawn_findings_get_the_simulators_mask_on_their_side():
    placement = typical_placement(CHEST, seed=7, size=64)
    assert placement.placed == ("effusion:right", "mass:left")
    truth = render(CHEST, seed=7, size=64).masks
    for name in placement.placed:
        assert np.array_equal(placement.masks[name], truth[name])  # exactly the simulator's own mask
    # a PA film shows the patient's right on the image's left
    assert _centroid_x(placement.masks["effusion:right"]) < 0.5 < _centroid_x(placement.masks["mass:left"])
    for finding in placement.conditions.findings:
        drawn = finding.mask_array()
        small = np.asarray(Image.fromarray(drawn.astype(np.uint8) * 255).resize((64, 64), Image.NEAREST)) > 0
        assert np.array_equal(small, placement.masks[f"{finding.key}:{finding.laterality}"])


def test_a_drawn_mask_is_kept_and_only_undrawn_findings_are_placed():
    drawn = np.zeros((256, 256), bool)
    drawn[60:100, 170:210] = True
    b64 = mask_to_png_b64(drawn)
    conditions = Conditions(findings=(Finding("effusion", "right"), Finding("mass", "left", mask_png_b64=b64)))
    placement = typical_placement(conditions, seed=7, size=64)
    assert placement.placed == ("effusion:right",) and set(placement.masks) == {"effusion:right"}
    assert placement.conditions.findings[1].mask_png_b64 == b64
    assert placement.conditions.findings[0].mask_png_b64


def test_a_finding_the_slice_does_not_show_is_left_to_the_model():
    conditions = Conditions(modality="ct", view="axial", slice_index=0,
                            findings=(Finding("nodule", "left", location="LUL"), Finding("effusion", "right")))
    placement = typical_placement(conditions, seed=3, size=64)
    assert placement.placed == ("effusion:right",)
    assert placement.conditions.findings[0].mask_png_b64 == ""


def test_same_patient_same_masks_another_patient_other_masks():
    a = typical_placement(CHEST, seed=7, size=64)
    assert typical_placement(CHEST, seed=7, size=64) is a  # cached: every student of the study asks the same
    b = typical_placement(CHEST, seed=8, size=64)
    assert not np.array_equal(a.masks["mass:left"], b.masks["mass:left"])


def test_nothing_to_place_returns_the_conditions_as_they_are():
    normal = Conditions(prompt="normal chest")
    assert typical_placement(normal, seed=1, size=64).conditions == normal
    assert typical_placement(normal, seed=1, size=64).placed == ()


def test_a_small_model_is_placed_at_the_smallest_phantom_size():
    placement = typical_placement(CHEST, seed=7, size=16)
    assert placement.masks["effusion:right"].shape == (64, 64)


def test_bad_conditions_are_rejected_clearly():
    with pytest.raises(ConditionError, match="unknown finding 'dragon'"):
        typical_placement(Conditions(findings=(Finding("dragon", "left"),)), seed=1, size=64)

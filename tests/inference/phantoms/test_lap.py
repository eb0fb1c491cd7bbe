"""Laparoscopy phantom: shapes, determinism, smooth clips, instrument and finding masks."""

import numpy as np
import pytest
from scipy import ndimage

from inference.conditions import ConditionError, Conditions, Finding
from inference.phantoms import render, sample


def lap(*findings, seed=4, frame=10, size=128):
    return render(Conditions(modality="lap", view="scope", findings=tuple(findings), frame_index=frame),
                  seed=seed, size=size)


def test_lap_sample_shapes():
    s = sample(2, "lap", 64)
    assert s.image.shape == (64, 64, 3) and s.image.dtype == np.float32
    assert s.pixels.shape == (64, 64, 3) and s.pixels.dtype == np.uint8
    assert np.allclose(s.image, s.pixels / 255.0)
    assert s.conditions.frame_index is not None
    assert any(k.startswith("instrument:") for k in s.masks)
    for k, m in s.masks.items():
        assert m.shape == (64, 64) and m.dtype == bool, k


def test_lap_deterministic():
    a = lap(Finding("bleeding", "none"))
    b = lap(Finding("bleeding", "none"))
    assert a.pixels.tobytes() == b.pixels.tobytes()


def test_frames_form_a_smooth_clip():
    frames = [lap(frame=i).pixels.astype(float) for i in (100, 101, 160)]
    near = np.abs(frames[1] - frames[0]).mean()
    far = np.abs(frames[2] - frames[0]).mean()
    assert near < 0.35 * far


def test_instrument_masks_cover_grey_metal():
    s = lap()
    inst = np.zeros(s.pixels.shape[:2], bool)
    for k, m in s.masks.items():
        if k.startswith("instrument:"):
            inst |= m
    assert inst.sum() > 50
    rgb = s.pixels.astype(float)
    sat = rgb.max(-1) - rgb.min(-1)
    assert np.median(sat[inst]) < np.median(sat[~inst])  # metal is grey, tissue is coloured


@pytest.mark.parametrize("key", ["gallbladder_inflamed", "bleeding", "gallstone", "adhesions", "appendix_inflamed"])
def test_finding_changes_lie_in_its_mask(key):
    base = lap(frame=30)
    withf = lap(Finding(key, "none", severity="severe"), frame=30)
    m = withf.masks[f"{key}:none"]
    assert m.sum() > 20
    d = np.abs(withf.pixels.astype(float) - base.pixels.astype(float)).max(-1)
    changed = d > 40
    assert changed.sum() > 20
    near = ndimage.binary_dilation(m, iterations=4)
    assert (changed & near).sum() >= 0.95 * changed.sum()


def test_bad_frame_rejected():
    with pytest.raises(ConditionError, match="5000"):
        lap(frame=5000)

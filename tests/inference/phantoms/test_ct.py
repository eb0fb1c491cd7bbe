"""CT phantom: HU per tissue, agreement with the radiograph of the same patient, masks."""

import numpy as np
import pytest
from scipy import ndimage

from inference.conditions import ConditionError, Conditions, Finding
from inference.phantoms import render, sample
from inference.phantoms.anatomy import LUNG_LOBES, L
from inference.phantoms.ct import ct_slice, slice_z

SEED = 11


def ct(*findings, seed=SEED, size=128, slice_index=None, sex="M"):
    c = Conditions(modality="ct", view="axial", sex=sex, findings=tuple(findings), slice_index=slice_index)
    return render(c, seed=seed, size=size)


def test_ct_determinism_and_shapes():
    a = ct(Finding("nodule", "right"), slice_index=None)
    b = ct(Finding("nodule", "right"), slice_index=None)
    assert a.pixels.tobytes() == b.pixels.tobytes()
    assert a.pixels.dtype == np.int16 and a.pixels.shape == (128, 128)
    s = sample(5, "ct", 64)
    assert s.image.shape == (64, 64) and s.image.dtype == np.float32
    assert s.pixels.dtype == np.int16
    expect = (np.clip(s.pixels.astype(np.float32), -1024, 1024) + 1024) / 2048
    assert np.allclose(s.image, expect)
    assert s.conditions.slice_index is not None
    assert all(m.shape == (64, 64) and m.dtype == bool for m in s.masks.values())


@pytest.mark.parametrize("slice_index", [22, 34])
def test_tissue_hu_ranges(slice_index):
    c = Conditions(modality="ct", view="axial", sex="F", slice_index=slice_index)
    pixels, masks, extra, lab = ct_slice(c, SEED, 128)
    hu = pixels.astype(float)

    def med(labels):
        m = ndimage.binary_erosion(np.isin(lab, labels), iterations=1)
        assert m.sum() > 5, labels
        return float(np.median(hu[m]))

    assert -900 <= med(LUNG_LOBES) <= -700
    assert -120 <= med([L.FAT]) <= -80
    assert 20 <= med([L.MUSCLE]) <= 60
    assert hu[lab == L.BONE].max() > 700
    assert hu[:2, :2].mean() < -950  # air


def test_lung_and_mediastinal_windows_separate_tissues():
    pixels, masks, extra, lab = ct_slice(Conditions(modality="ct", view="axial", slice_index=36), SEED, 128)
    hu = pixels.astype(float)
    blood = np.isin(lab, [L.BLOOD_R, L.BLOOD_L, L.AORTA, L.PULM_ARTERY])
    assert blood.sum() > 20
    assert np.median(hu[blood]) > 150  # contrast-enhanced vessels bright in the 400/40 window


def test_nodule_same_lobe_in_cxr_and_ct():
    for lat in ("left", "right"):
        f = Finding("nodule", lat, size_mm=18.0)
        x = render(Conditions(modality="cxr", view="PA", sex="M", findings=(f,)), seed=SEED, size=128)
        c = ct(f, size=128)
        assert x.conditions.findings[0].location == c.conditions.findings[0].location
        assert x.conditions.findings[0].location[0] == lat[0].upper()
        m_x, m_c = x.masks[f"nodule:{lat}"], c.masks[f"nodule:{lat}"]
        assert m_x.any() and m_c.any()
        # same side: columns are patient-right on the viewer's left in both
        col_x = np.nonzero(m_x)[1].mean()
        col_c = np.nonzero(m_c)[1].mean()
        assert (col_x > 64) == (lat == "left") and (col_c > 64) == (lat == "left")
        # same height: film row (z) vs slice level
        z_film = (np.nonzero(m_x)[0].mean() + 0.5) * 384 / 128
        assert abs(z_film - slice_z(c.conditions.slice_index)) < 25


def test_ct_changes_lie_in_the_mask():
    f = Finding("nodule", "left", size_mm=20.0)
    withf = ct(f)
    base = ct(slice_index=withf.conditions.slice_index)
    mask = withf.masks["nodule:left"]
    d = np.abs(withf.pixels.astype(float) - base.pixels.astype(float))
    changed = d > 200
    assert mask.sum() > 5 and changed.sum() > 5
    assert (changed & ndimage.binary_dilation(mask, iterations=2)).sum() >= 0.97 * changed.sum()


def test_pulmonary_embolism_is_a_filling_defect():
    s = ct(Finding("pulmonary_embolism", "right", severity="severe"), size=256)
    clot = s.masks["pulmonary_embolism:right"]
    assert clot.sum() > 3
    hu = s.pixels.astype(float)
    ring = ndimage.binary_dilation(clot, iterations=3) & ~ndimage.binary_dilation(clot, iterations=1)
    assert np.median(hu[clot]) < 120
    assert np.percentile(hu[ring], 90) > 200  # enhanced blood around the clot


def test_pe_not_on_radiograph_and_bad_slice():
    with pytest.raises(ConditionError, match="pulmonary_embolism"):
        render(Conditions(modality="cxr", findings=(Finding("pulmonary_embolism", "left"),)), seed=1, size=64)
    with pytest.raises(ConditionError, match="999"):
        ct(slice_index=999)


def test_auto_slice_shows_the_findings():
    shown = total = 0
    for seed in range(30):
        s = sample(seed, "ct", 64)
        for f in s.conditions.findings:
            total += 1
            shown += bool(s.masks[f"{f.key}:{f.laterality}"].any())
    assert total > 15 and shown >= 0.85 * total

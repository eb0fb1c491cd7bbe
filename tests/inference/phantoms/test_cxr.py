"""Chest radiograph phantom: determinism, masks, physics, API shapes."""

import numpy as np
import pytest
from scipy import ndimage

from inference.conditions import ConditionError, Conditions, Finding, mask_to_png_b64
from inference.phantoms import random_conditions, render, sample

SEED = 11


def cxr(*findings, seed=SEED, size=128, view="PA", sex="M"):
    return render(Conditions(modality="cxr", view=view, sex=sex, findings=tuple(findings)), seed=seed, size=size)


def centroid(mask):
    rr, cc = np.nonzero(mask)
    return rr.mean(), cc.mean()


def test_same_seed_same_bytes():
    f = Finding("effusion", "right", severity="moderate")
    a, b = cxr(f, Finding("nodule", "left")), cxr(f, Finding("nodule", "left"))
    assert a.pixels.tobytes() == b.pixels.tobytes()
    assert a.masks.keys() == b.masks.keys()
    for k in a.masks:
        assert a.masks[k].tobytes() == b.masks[k].tobytes()
    assert a.report == b.report
    c = cxr(f, Finding("nodule", "left"), seed=SEED + 1)
    assert c.pixels.tobytes() != a.pixels.tobytes()


def test_sample_shapes_and_dtypes():
    s = sample(3, "cxr", 64)
    assert s.image.shape == (64, 64) and s.image.dtype == np.float32
    assert 0.0 <= s.image.min() and s.image.max() <= 1.0
    assert s.pixels.dtype == np.uint16 and s.pixels.max() <= 4095
    assert np.allclose(s.image, s.pixels / 4095.0)
    assert "anatomy:lungs" in s.masks and "anatomy:heart" in s.masks
    for k, m in s.masks.items():
        assert m.dtype == bool and m.shape == (64, 64), k
    for f in s.conditions.findings:
        assert f"{f.key}:{f.laterality}" in s.masks
        assert f.mask_png_b64 == ""
    s.conditions.validate()
    assert isinstance(s.report, str) and s.report


def test_image_looks_like_a_chest_film():
    s = cxr(size=128)
    lungs, heart = s.masks["anatomy:lungs"], s.masks["anatomy:heart"]
    assert lungs.sum() > 0.15 * lungs.size
    lung_px = np.median(s.pixels[lungs & ~heart])
    heart_px = np.median(s.pixels[heart])
    assert lung_px + 600 < heart_px  # lungs dark, mediastinum bright (MONOCHROME2)
    assert s.pixels[:3, :3].mean() < lung_px  # air outside the body darkest


@pytest.mark.parametrize("key,lat", [("nodule", "left"), ("mass", "right"), ("effusion", "right"),
                                     ("consolidation", "left"), ("pneumothorax", "right")])
def test_changes_lie_in_the_mask(key, lat):
    base = cxr(size=128)
    withf = cxr(Finding(key, lat, severity="moderate"), size=128)
    mask = withf.masks[f"{key}:{lat}"]
    assert mask.sum() > 10
    d = np.abs(withf.pixels.astype(float) - base.pixels.astype(float))
    changed = d > 0.2 * d.max()
    near = ndimage.binary_dilation(mask, iterations=6)
    assert changed.sum() > 0.3 * min(mask.sum(), 200)
    assert (changed & near).sum() >= 0.97 * changed.sum()
    # and the mask itself is where the image changed
    assert d[mask].mean() > 4 * d[~near].mean()


def test_effusion_is_dependent_on_erect_pa():
    s = cxr(Finding("effusion", "right", severity="moderate"))
    eff = s.masks["effusion:right"]
    lungs = s.masks["anatomy:lungs"]
    right_half = np.zeros_like(lungs)
    right_half[:, : lungs.shape[1] // 2] = True  # patient's right is the viewer's left
    lr, _ = centroid(lungs & right_half)
    er, _ = centroid(eff)
    assert er > lr + 10  # fluid sits low
    rows = np.nonzero((lungs | eff) & right_half)[0]
    assert np.nonzero(eff)[0].max() >= rows.max() - 3  # it reaches the costophrenic angle


def test_tension_pneumothorax_shifts_mediastinum_away():
    base = cxr()
    for lat, sign in (("right", +1), ("left", -1)):
        t = cxr(Finding("tension_pneumothorax", lat, severity="severe"))
        _, c0 = centroid(base.masks["anatomy:heart"])
        _, c1 = centroid(t.masks["anatomy:heart"])
        assert sign * (c1 - c0) > 3, (lat, c0, c1)  # image column grows toward the patient's left


def test_cardiomegaly_ctr():
    def ctr(s):
        h, lungs = s.masks["anatomy:heart"], s.masks["anatomy:lungs"]
        hc = np.nonzero(h.any(0))[0]
        lc = np.nonzero(lungs.any(0))[0]
        return (hc.max() - hc.min() + 1) / (lc.max() - lc.min() + 1)

    assert ctr(cxr()) < 0.5
    assert ctr(cxr(Finding("cardiomegaly", "none", severity="moderate"))) > 0.5


def test_drawn_mask_places_the_lesion():
    m = np.zeros((256, 256), bool)
    yy, xx = np.mgrid[:256, :256]
    m[(yy - 90) ** 2 + (xx - 70) ** 2 < 14 ** 2] = True  # patient's right upper zone
    f = Finding("nodule", "right", mask_png_b64=mask_to_png_b64(m))
    s = cxr(f, size=256)
    got = s.masks["nodule:right"]
    inter = (got & m).sum()
    assert inter / (got | m).sum() > 0.4
    assert s.conditions.findings[0].mask_png_b64 == ""


def test_bad_input_rejected():
    with pytest.raises(ConditionError, match="banana"):
        cxr(Finding("banana", "left"))
    with pytest.raises(ConditionError, match="'none'"):
        cxr(Finding("nodule", "none"))
    with pytest.raises(ConditionError, match="100"):
        render(Conditions(modality="cxr"), seed=1, size=100)
    with pytest.raises(ConditionError, match="-5"):
        cxr(Finding("nodule", "left", size_mm=-5))


def test_random_conditions_cover_the_vocabulary():
    rng = np.random.default_rng(0)
    conds = [random_conditions(rng, "cxr") for _ in range(300)]
    n_normal = sum(1 for c in conds if not c.findings)
    assert 30 <= n_normal <= 95
    assert max(len(c.findings) for c in conds) == 2
    keys = {f.key for c in conds for f in c.findings}
    assert "pulmonary_embolism" not in keys and {"nodule", "effusion", "pneumothorax"} <= keys


def test_location_and_size_are_honoured():
    rows = {}
    for loc in ("upper zone", "lower zone"):
        s = cxr(Finding("nodule", "right", location=loc, size_mm=15.0))
        rows[loc] = np.nonzero(s.masks["nodule:right"])[0].mean()
        assert np.nonzero(s.masks["nodule:right"])[1].mean() < 64  # patient's right = viewer's left
    assert rows["upper zone"] + 15 < rows["lower zone"]
    small = cxr(Finding("nodule", "left", size_mm=8.0), size=256).masks["nodule:left"].sum()
    big = cxr(Finding("mass", "left", size_mm=60.0), size=256).masks["mass:left"].sum()
    assert big > 10 * small
    # the rendered conditions say what was drawn (resolved lobe and size), and re-render identically
    s = cxr(Finding("nodule", "left"))
    f = s.conditions.findings[0]
    assert f.location in ("LUL", "LLL") and f.size_mm
    again = render(s.conditions, seed=SEED, size=128)
    assert again.pixels.tobytes() == s.pixels.tobytes()


def _ctr(s):
    h, lungs = s.masks["anatomy:heart"], s.masks["anatomy:lungs"]
    hc, lc = np.nonzero(h.any(0))[0], np.nonzero(lungs.any(0))[0]
    return (hc.max() - hc.min() + 1) / (lc.max() - lc.min() + 1)


def test_ap_film_magnifies_the_heart():
    assert _ctr(cxr(view="AP")) > _ctr(cxr(view="PA")) + 0.01


def test_pneumothorax_space_has_no_lung_markings():
    from inference.phantoms.anatomy import LUNGISH, L, get_body
    from inference.phantoms.chest import Plane, apply_findings, resolve

    body = get_body(SEED, "M", "40-59", 4.0)
    f = resolve(Finding("pneumothorax", "left", severity="moderate"), SEED, "cxr")
    app = apply_findings(body, [f], "erect", SEED, Plane("cxr"))
    region = app.masks["pneumothorax:left"]
    assert region.sum() > 100
    assert set(np.unique(app.labels[region])) == {L.PTX_AIR}
    # the visceral pleural line borders it, and no vessel lies between it and the chest wall
    assert (app.labels == L.PLEURA).sum() > 20
    assert not np.isin(app.labels[region], LUNGISH).any()


def test_volume_changes():
    def lung_area(s, half=None):
        m = s.masks["anatomy:lungs"]
        if half == "right":
            m = m[:, : m.shape[1] // 2]
        if half == "left":
            m = m[:, m.shape[1] // 2:]
        return m.sum()

    base = cxr()
    emph = cxr(Finding("emphysema", "bilateral", severity="severe"))
    atel = cxr(Finding("atelectasis", "right", location="RLL", severity="severe"))
    assert lung_area(emph) > 1.03 * lung_area(base)  # hyperinflation, low flat domes
    assert lung_area(atel, "right") < 0.97 * lung_area(base, "right")  # volume loss
    free = cxr(Finding("pneumoperitoneum", "none", severity="moderate")).masks["pneumoperitoneum:none"]
    assert free.any() and centroid(free)[0] > centroid(base.masks["anatomy:lungs"])[0]  # under the domes

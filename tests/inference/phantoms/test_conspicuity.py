"""Conspicuity: the finding alone is measured (same patient with and without it), and bad input is refused."""

import numpy as np
import pytest

from inference.conditions import ConditionError, Conditions
from inference.phantoms import render
from inference.phantoms.cli import main as cli
from inference.phantoms.conspicuity import (REAL_NODULES, SEED0, disc_parts, finding_for, measure,
                                            phantom_nodule_contrasts, real_nodule_contrasts)


def test_the_difference_is_the_finding_alone():
    """Same seed with and without a finding: the change is the finding's (scatter spreads a little of it)."""
    f = finding_for("mass", "severe")
    with_f = render(Conditions(modality="cxr", view="PA", findings=(f,)), seed=SEED0, size=64)
    without = render(Conditions(modality="cxr", view="PA"), seed=SEED0, size=64)
    from scipy import ndimage

    diff = np.abs(with_f.pixels.astype(float) - without.pixels.astype(float))
    mask = with_f.masks["mass:right"]
    assert (diff[mask] > 0).all()
    assert diff[~ndimage.binary_dilation(mask, iterations=2)].max() < 0.05 * diff[mask].mean()


def test_a_severe_mass_stands_out_more_than_a_mild_nodule():
    mass = measure("mass", size=64, seeds=2, severity="severe")
    nodule = measure("nodule", size=64, seeds=2, severity="mild")
    assert mass["patients"] == nodule["patients"] == 2
    assert mass["mask_px"] > nodule["mask_px"] > 0
    assert mass["ratio"] > 1.0 > nodule["ratio"] > 0.0
    assert np.isclose(mass["ratio"], mass["signal"] / mass["clutter"], rtol=0.5)  # medians of per-patient ratios


def test_bad_input_is_refused(capsys):
    with pytest.raises(ConditionError, match="unknown chest radiograph finding 'gallstone'"):
        measure("gallstone")
    with pytest.raises(ConditionError, match="seeds 0"):
        measure("nodule", seeds=0)
    assert cli(["conspicuity", "--finding", "nodule", "--finding", "xray"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "unknown chest radiograph finding 'xray'" in out.err
    assert cli(["conspicuity", "--size", "100"]) == 2
    assert "size 100" in capsys.readouterr().err


def test_cli_prints_one_row_per_finding(capsys):
    assert cli(["conspicuity", "--size", "64", "--seeds", "1", "--finding", "mass", "--finding", "effusion"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("chest radiograph PA, 64 px") and rows[1].split()[0] == "finding"
    assert [r.split()[0] for r in rows[2:]] == ["mass", "effusion"]


def test_disc_parts_measure_a_disc_against_its_ring():
    rng = np.random.default_rng(0)
    img = rng.normal(0.0, 1.0, (64, 64))
    yy, xx = np.mgrid[:64, :64]
    img[np.hypot(yy - 30, xx - 34) <= 6] += 3.0
    difference, ring_sd = disc_parts(img, 30, 34, 6)
    assert 2.5 < difference < 3.5 and 0.8 < ring_sd < 1.2  # the step added, over unit noise
    difference, ring_sd = disc_parts(img, 12, 12, 5)
    assert abs(difference) < 1.0 and 0.8 < ring_sd < 1.2  # no disc there


def test_against_real_compares_the_films_metastases_with_phantom_nodules(capsys):
    real = real_nodule_contrasts()
    assert len(real) == len(REAL_NODULES)
    assert np.median([n.local for n in real]) > 0.5  # placed on the metastases
    for n in real:  # local contrast is its two parts' quotient, whatever unit they are given in
        assert n.clutter > 0 and np.isclose(n.local, n.signal / n.clutter)
    phantom = phantom_nodule_contrasts(seeds=1, size=64)
    assert len(phantom) == 1 and np.isfinite(phantom[0].local) and phantom[0].clutter > 0
    assert np.isclose(phantom[0].local, phantom[0].signal / phantom[0].clutter)
    assert cli(["conspicuity", "--against-real", "--seeds", "0"]) == 2
    assert "seeds 0" in capsys.readouterr().err
    # its comparison is fixed: options it would ignore are refused, not dropped silently
    assert cli(["conspicuity", "--against-real", "--size", "64", "--finding", "mass"]) == 2
    assert "takes --seeds only, not --finding, --size" in capsys.readouterr().err

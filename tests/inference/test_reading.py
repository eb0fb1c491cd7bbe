"""The reader's reading of one image, shown under an educator's preview: the shipped 64 px chest reader on
phantom renders, whose truth is known (the generator's own figures live in docs/MODEL_CARD.md)."""

import numpy as np
import pytest

from inference.conditions import Conditions, Finding
from inference.phantoms import render
from inference.reading import read_generated

SEED = 30_000_101  # a held-out patient (inference.evaluate's range): the reader never trained on it


def chest(*findings):
    return Conditions(modality="cxr", findings=tuple(findings))


@pytest.fixture(scope="module")
def effusion_film():
    return render(chest(Finding(key="effusion", laterality="right", severity="severe")), seed=SEED, size=64)


def test_a_finding_that_is_drawn_is_seen_and_nothing_else_is_called(effusion_film):
    r = read_generated(effusion_film.pixels, effusion_film.conditions)
    assert r["available"] and r["reader"] == "reader-cxr-64.safetensors"
    (f,) = r["findings"]
    assert f["key"] == "effusion" and f["seen"] and f["called"] == ["effusion:right"]
    assert r["extra"] == []
    assert 0.9 <= f["reader_sensitivity"] <= 1.0  # the card's figure for severe effusions


def test_a_finding_on_the_other_side_is_not_seen_and_the_drawn_one_is_extra(effusion_film):
    r = read_generated(effusion_film.pixels, chest(Finding(key="effusion", laterality="left", severity="severe")))
    (f,) = r["findings"]
    assert not f["seen"] and f["called"] == ["effusion:right"]
    assert r["extra"] == ["effusion:right"]


def test_a_finding_asked_of_a_normal_film_is_not_seen():
    normal = render(chest(), seed=SEED, size=64)
    r = read_generated(normal.pixels, chest(Finding(key="cardiomegaly", severity="severe")))
    (f,) = r["findings"]
    assert not f["seen"] and f["called"] == []
    assert read_generated(normal.pixels, chest())["findings"] == []


def test_no_reader_for_the_size_is_said_plainly():
    r = read_generated(np.zeros((128, 128), np.uint16), chest())
    assert r == {"available": False, "reason": "no reader for cxr images of 128 px"}

"""A lung lesion's painted mask must lie in this patient's lungs; masks survive exactly."""

import numpy as np
import pytest
from django.core.exceptions import ValidationError

from cases.anatomy import study_anatomy
from cases.services import case_create
from inference.conditions import MASK_SIZE, Finding, mask_to_png_b64
from tests.factories import CASE_INPUT, STUDY_INPUT


def _disc(cx, cy, r):
    y, x = np.mgrid[0:MASK_SIZE, 0:MASK_SIZE]
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


def _study(mask, key="nodule"):
    finding = {"key": key, "laterality": "left", "severity": "mild", "mask_png_b64": mask_to_png_b64(mask)}
    return STUDY_INPUT.__class__(**{**vars(STUDY_INPUT), "findings": [finding]})


@pytest.mark.django_db
def test_a_nodule_painted_in_the_lung_is_accepted_and_kept_exactly(world):
    _, lungs = study_anatomy(modality="cxr", view="PA", sex=CASE_INPUT.patient_sex, age_band="60-79",
                             seed=STUDY_INPUT.seed)
    ys, xs = np.nonzero(lungs & (np.arange(MASK_SIZE)[None, :] > 140))  # the patient's left lung
    cy, cx = int(np.median(ys)), int(np.median(xs))
    mask = _disc(cx, cy, 8)
    mask[cy, cx] = False  # a hole
    mask[cy - 6, cx + 6] = True
    version = case_create(author=world.elena, content=CASE_INPUT, studies=[_study(mask)])
    stored = Finding(**version.studies.get().findings[0]).mask_array()
    assert np.array_equal(stored, mask)


@pytest.mark.django_db
def test_a_nodule_painted_outside_the_lungs_is_refused_with_its_field(world):
    outside = _disc(10, 128, 8)  # beyond the chest wall, in the soft tissue of the arm
    with pytest.raises(ValidationError) as caught:
        case_create(author=world.elena, content=CASE_INPUT, studies=[_study(outside)])
    message = " ".join(caught.value.message_dict["findings"])
    assert "nodule mask (left) lies" in message and "outside the lungs" in message


@pytest.mark.django_db
def test_pleural_findings_are_not_held_to_the_lungs(world):
    base = _disc(190, 215, 25)
    study = _study(base, key="effusion")
    case_create(author=world.elena, content=CASE_INPUT, studies=[study])


@pytest.mark.django_db
def test_anatomy_background_for_the_painter(world, client):
    client.force_login(world.elena)
    url = f"/cases/{world.case.pk}/studies/{world.study.pk}/anatomy"
    response = client.get(url)
    assert response.status_code == 200 and response["X-Width"] == str(MASK_SIZE)
    pixels = np.frombuffer(response.content, dtype="<u2")
    assert pixels.size == MASK_SIZE * MASK_SIZE and pixels.std() > 100
    assert client.get(f"/cases/{world.case.pk}/studies/999999/anatomy").status_code == 404
    client.force_login(world.olga)
    assert client.get(url).status_code == 404
    client.force_login(world.sam)
    assert client.get(url).status_code == 403


@pytest.mark.django_db
def test_a_ct_painter_shows_the_slice_through_the_widest_lungs_and_places_findings_on_it(world, client):
    from cases.services import StudyInput

    ct = StudyInput(title="CT chest", modality="ct", view="axial", slice_count=40, prompt="axial CT of the chest",
                    findings=[{"key": "atelectasis", "laterality": "left", "severity": "moderate"}],
                    seed_policy="fixed", seed=STUDY_INPUT.seed)
    version = case_create(author=world.elena, content=CASE_INPUT, studies=[ct])
    study = version.studies.get()
    client.force_login(world.elena)
    response = client.get(f"/cases/{version.case.pk}/studies/{study.pk}/anatomy")
    assert response.status_code == 200 and response["X-Dtype"] == "int16" and response["X-Slices"] == "64"
    shown = int(response["X-Slice"])
    hu = np.frombuffer(response.content, dtype="<i2").reshape(MASK_SIZE, MASK_SIZE)
    _, lungs = study_anatomy(modality="ct", view="axial", sex=CASE_INPUT.patient_sex, age_band=version.age_band,
                             seed=STUDY_INPUT.seed)
    assert np.median(hu[lungs]) < -700  # the lungs mask is of the slice shown
    # the slice through the widest lungs: more lung than 6 slices either side, and twice the apex (slice 0)
    from inference.conditions import Conditions
    from inference.phantoms import render

    def lung_pixels(index):
        sample = render(Conditions(modality="ct", view="axial", sex=CASE_INPUT.patient_sex,
                                   age_band=version.age_band, slice_index=index), seed=STUDY_INPUT.seed, size=64)
        return int(sample.masks["anatomy:lungs"].sum())

    widest = lung_pixels(shown)
    assert widest >= max(lung_pixels(shown - 6), lung_pixels(shown + 6)) and lung_pixels(0) < widest / 2
    # this patient's left atelectasis shows on it (not on the apex), so typical placement has a mask to give
    typical = client.get(f"/cases/{version.case.pk}/studies/{study.pk}/typical-mask",
                         {"key": "atelectasis", "laterality": "left", "severity": "moderate"})
    assert typical.status_code == 200 and typical.json()["pixels"] > 0

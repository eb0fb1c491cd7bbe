"""The painter's one-click typical placement: the simulator's own mask of a finding in the case patient,
on the side and in the lobe asked for, refused clearly when the finding cannot be placed."""

import base64
import io

import numpy as np
import pytest
from PIL import Image

from cases.anatomy import study_anatomy
from inference.conditions import MASK_SIZE


def _url(world) -> str:
    return f"/cases/{world.case.pk}/studies/{world.study.pk}/typical-mask"


def _mask(response) -> np.ndarray:
    assert response.status_code == 200, response.content
    data = response.json()
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(data["mask_png_b64"]))).convert("L")) > 0
    assert mask.shape == (MASK_SIZE, MASK_SIZE) and int(mask.sum()) == data["pixels"] > 0
    return mask


@pytest.mark.django_db
def test_a_left_effusion_is_placed_at_the_base_of_the_patients_left_lung(world, client):
    client.force_login(world.elena)
    mask = _mask(client.get(_url(world), {"key": "effusion", "laterality": "left", "severity": "moderate"}))
    ys, xs = np.nonzero(mask)
    # PA view: the patient's left is the image's right; an effusion lies dependent, in the lower half
    assert xs.mean() > MASK_SIZE / 2 and ys.mean() > MASK_SIZE / 2, (xs.mean(), ys.mean())


@pytest.mark.django_db
def test_a_right_upper_lobe_nodule_lies_in_this_patients_right_lung(world, client):
    client.force_login(world.elena)
    mask = _mask(client.get(_url(world), {"key": "nodule", "laterality": "right", "location": "RUL",
                                          "size_mm": "20"}))
    version = world.study.version
    _, lungs = study_anatomy(modality="cxr", view=world.study.view, sex=version.patient_sex,
                             age_band=version.age_band, seed=world.study.seed)
    ys, xs = np.nonzero(mask)
    assert xs.mean() < MASK_SIZE / 2 and ys.mean() < MASK_SIZE / 2, (xs.mean(), ys.mean())
    assert (mask & lungs).sum() >= 0.9 * mask.sum()


@pytest.mark.django_db
@pytest.mark.parametrize("params,message", [
    ({"key": "tumour", "laterality": "left"}, "unknown finding 'tumour'"),
    ({"key": "effusion", "laterality": "middle"}, "middle"),
    ({"key": "nodule", "laterality": "left", "size_mm": "big"}, "size_mm"),
    ({"key": "nodule", "laterality": "left", "size_mm": "-3"}, "size_mm"),
    ({"laterality": "left"}, "key"),
])
def test_bad_findings_get_a_clear_error(world, client, params, message):
    client.force_login(world.elena)
    response = client.get(_url(world), params)
    assert response.status_code == 400 and message in response.json()["error"], response.content


@pytest.mark.django_db
def test_only_the_cases_editors_may_ask(world, client):
    params = {"key": "effusion", "laterality": "right"}
    client.force_login(world.olga)  # another organisation
    assert client.get(_url(world), params).status_code == 404
    client.force_login(world.sam)  # a student
    assert client.get(_url(world), params).status_code == 403
    client.force_login(world.elena)
    assert client.get(f"/cases/{world.case.pk}/studies/999999/typical-mask", params).status_code == 404
    assert client.post(_url(world), params).status_code == 405


def test_laparoscopy_has_no_typical_placement():
    from cases.anatomy import typical_mask
    from inference.conditions import ConditionError

    with pytest.raises(ConditionError, match="lap studies have no mask painter"):
        typical_mask(modality="lap", view="laparoscope", sex="F", age_band="40-59", seed=1, key="bleeding",
                     laterality="none")

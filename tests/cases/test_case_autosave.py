import pytest

from cases.models import CaseVersion
from cases.services import case_draft_start
from tests.factories import CASE_FORM as FORM


@pytest.mark.django_db
def test_autosave_saves_a_valid_draft_and_reports_field_errors_otherwise(world, client):
    draft = case_draft_start(case=world.case, author=world.elena)
    client.force_login(world.elena)
    url = f"/cases/{world.case.pk}/autosave/"
    response = client.post(url, dict(FORM, title="Autosaved title"))
    assert response.status_code == 200 and response.json()["saved"] is True
    draft.refresh_from_db()
    assert draft.title == "Autosaved title"

    response = client.post(url, dict(FORM, title="Broken", vital_spo2="140", finding_0_key="pulmonary_embolism"))
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert "vital_spo2" in errors and response.json()["saved"] is False
    draft.refresh_from_db()
    assert draft.title == "Autosaved title"  # nothing half-saved


@pytest.mark.django_db
def test_autosave_refuses_published_versions_and_strangers(world, client):
    client.force_login(world.elena)
    assert client.post(f"/cases/{world.case.pk}/autosave/", FORM).status_code == 409
    assert CaseVersion.objects.get(case=world.case).title == world.version.title
    client.force_login(world.olga)
    assert client.post(f"/cases/{world.case.pk}/autosave/", FORM).status_code == 404
    client.force_login(world.sam)
    assert client.post(f"/cases/{world.case.pk}/autosave/", FORM).status_code == 403

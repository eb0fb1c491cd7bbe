"""The HTTP journey of each role, page by page (the browser journey drives the same pages)."""

import pytest

from cases.models import Case, CaseStatus
from simulator.encounters.models import Encounter

FORM = {
    "title": "Cough and fever", "patient_age": "58", "patient_sex": "M",
    "presenting_complaint": "Three days of productive cough and fever.", "history": "Smoker.",
    "diagnosis": "Right lower lobe pneumonia", "diagnosis_synonyms": "pneumonia, CAP",
    "teaching_point": "Air bronchograms mean airspace disease.", "study_title": "Chest X-ray PA",
    "study_view": "PA", "study_prompt": "right lower lobe consolidation", "seed_policy": "fixed", "seed": "3",
    "finding_0_key": "consolidation", "finding_0_laterality": "right", "finding_0_severity": "moderate",
}


@pytest.mark.django_db
def test_educator_creates_and_publishes_a_case(world, client):
    client.force_login(world.elena)
    response = client.post("/cases/new/", FORM)
    case = Case.objects.get(title="Cough and fever")
    assert response.status_code == 302 and response.url == f"/cases/{case.pk}/edit/"
    assert case.status == CaseStatus.DRAFT and case.studies.get().findings[0]["laterality"] == "right"
    response = client.post(f"/cases/{case.pk}/publish/", {"cohorts": [world.cohort_a.pk]})
    case.refresh_from_db()
    assert case.status == CaseStatus.PUBLISHED and list(case.cohorts.all()) == [world.cohort_a]
    page = client.get(f"/cases/{case.pk}/edit/").content.decode()
    assert "Published to A" in page and "read-only" in page


@pytest.mark.django_db
def test_impossible_finding_is_shown_beside_the_form_and_nothing_is_saved(world, client):
    client.force_login(world.elena)
    bad = dict(FORM, finding_0_key="cardiomegaly", finding_0_laterality="left")
    response = client.post("/cases/new/", bad)
    assert response.status_code == 200
    assert "laterality &#x27;left&#x27; is impossible for &#x27;cardiomegaly&#x27;" in response.content.decode()
    assert not Case.objects.filter(title="Cough and fever").exists()


@pytest.mark.django_db
def test_form_errors_keep_what_was_typed(world, client):
    client.force_login(world.elena)
    response = client.post("/cases/new/", dict(FORM, patient_age="200"))
    page = response.content.decode()
    assert response.status_code == 200 and "Three days of productive cough" in page
    assert "less than or equal to 120" in page


@pytest.mark.django_db
def test_publishing_needs_a_cohort(world, client):
    client.force_login(world.elena)
    client.post("/cases/new/", FORM)
    case = Case.objects.get(title="Cough and fever")
    response = client.post(f"/cases/{case.pk}/publish/", {}, follow=True)
    assert "Choose at least one cohort" in response.content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.DRAFT


@pytest.mark.django_db
def test_student_home_lists_only_cases_of_their_cohorts(world, client):
    client.force_login(world.sam)
    assert world.case.title in client.get("/").content.decode()
    client.force_login(world.omar)
    page = client.get("/").content.decode()
    assert world.case.title not in page and "No case has been published" in page


@pytest.mark.django_db
def test_student_opens_case_and_submits_a_diagnosis(world, client):
    client.force_login(world.sam)
    response = client.post(f"/cases/{world.case.pk}/open/")
    encounter = Encounter.objects.get(student=world.sam)
    assert response.url == f"/encounters/{encounter.pk}/"
    page = client.get(response.url).content.decode()
    assert "Order Chest X-ray PA" in page and world.case.presenting_complaint in page
    response = client.post(f"/encounters/{encounter.pk}/diagnosis/", {"answer": "effusion"}, follow=True)
    page = response.content.decode()
    assert "Correct" in page and world.case.teaching_point in page


@pytest.mark.django_db
def test_instructor_sees_cohort_sessions_and_replays_one(world, client, sam_encounter):
    from simulator.encounters.services import diagnosis_submit

    diagnosis_submit(encounter=sam_encounter, answer="pneumonia")
    client.force_login(world.ivan)
    page = client.get(f"/review/cohorts/{world.cohort_a.pk}/").content.decode()
    assert "sam" in page and "incorrect" in page
    page = client.get(f"/review/encounters/{sam_encounter.pk}/").content.decode()
    assert "Opened the case" in page and "Submitted a diagnosis" in page and "“pneumonia”" in page


@pytest.mark.django_db
def test_pages_send_a_strict_content_security_policy(world, client):
    client.force_login(world.sam)
    csp = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_only_page_assets_are_served_as_static_files():
    from django.contrib.staticfiles import finders

    assert finders.find("css/app.css") and finders.find("js/encounter.js")
    assert finders.find("viewer/package.json") is None
    assert finders.find("viewer/node_modules/@cornerstonejs/core/package.json") is None

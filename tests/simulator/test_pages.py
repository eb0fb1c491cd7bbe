"""The HTTP journey of each role, page by page (the browser journey drives the same pages)."""

import pytest
from django.test import Client

from cases.models import CaseVersion, VersionStatus
from simulator.encounters.models import Encounter
from tests.factories import CASE_FORM as FORM



def _create(client, **changes):
    return client.post("/cases/new/", dict(FORM, **changes))


@pytest.mark.django_db
def test_educator_creates_and_publishes_a_case(world, client):
    client.force_login(world.elena)
    response = _create(client)
    version = CaseVersion.objects.get(title="Cough and fever")
    assert response.status_code == 302 and response.url == f"/cases/{version.case_id}/edit/"
    assert version.status == VersionStatus.DRAFT and version.number == 1
    assert version.history == {"smoking": "20 pack-years", "onset": "Three days ago"}
    assert version.vitals == {"heart_rate": 104, "temperature": 38.6}
    assert version.differentials == ["disease:pleural_effusion", "disease:pulmonary_embolism"]
    assert version.kg_version and version.studies.get().findings[0]["laterality"] == "right"
    client.post(f"/cases/{version.case_id}/publish/", {"cohorts": [world.cohort_a.pk]})
    version.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED and list(version.case.cohorts.all()) == [world.cohort_a]
    page = client.get(f"/cases/{version.case_id}/edit/").content.decode()
    assert "published to A" in page and "cannot change" in page


@pytest.mark.django_db
def test_editing_a_published_case_makes_a_new_version_and_students_keep_theirs(world, client, sam_encounter):
    client.force_login(world.emil)  # a co-author from the same organisation
    case_id = world.case.pk
    client.post(f"/cases/{case_id}/draft/")
    draft = CaseVersion.objects.get(case_id=case_id, status=VersionStatus.DRAFT)
    assert draft.number == 2 and draft.studies.count() == 1
    client.post(f"/cases/{case_id}/edit/", dict(FORM, title="Breathless after a fall (revised)",
                                                diagnosis_id="disease:pleural_effusion",
                                                diagnosis="Right pleural effusion", differentials="",
                                                finding_0_key="effusion"))
    draft.refresh_from_db()
    assert draft.title.endswith("(revised)") and draft.author == world.emil
    client.post(f"/cases/{case_id}/publish/", {"cohorts": [world.cohort_a.pk]})
    versions = dict(CaseVersion.objects.filter(case_id=case_id).values_list("number", "status"))
    assert versions == {1: "archived", 2: "published"}
    sam_encounter.refresh_from_db()
    assert sam_encounter.version.number == 1  # pinned to the version it started on
    client.force_login(world.tara)
    assert "(revised)" in client.get("/").content.decode()


@pytest.mark.django_db
def test_archive_and_clone(world, client):
    client.force_login(world.elena)
    client.post(f"/cases/{world.case.pk}/archive/")
    client.force_login(world.sam)
    assert world.version.title not in client.get("/").content.decode()
    assert client.post(f"/cases/{world.case.pk}/open/").status_code == 404
    client.force_login(world.elena)
    response = client.post(f"/cases/{world.case.pk}/clone/")
    clone = CaseVersion.objects.get(title=f"{world.version.title} (copy)")
    assert response.url == f"/cases/{clone.case_id}/edit/" and clone.status == "draft"
    assert clone.case.cloned_from == world.version and clone.studies.count() == 1


@pytest.mark.django_db
def test_case_list_filters(world, client):
    client.force_login(world.elena)
    _create(client)
    page = client.get("/cases/?status=draft").content.decode()
    assert "Cough and fever" in page and world.version.title not in page
    page = client.get("/cases/?diagnosis=effusion").content.decode()
    assert "Cough and fever" not in page and world.version.title in page
    assert "Cough and fever" not in client.get("/cases/?modality=ct").content.decode()
    client.force_login(world.olga)  # another organisation sees none of it
    assert world.version.title not in client.get("/cases/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("changes,message", [
    ({"finding_0_key": "cardiomegaly", "finding_0_laterality": "left"},
     "laterality &#x27;left&#x27; is impossible for &#x27;cardiomegaly&#x27;"),
    ({"finding_0_key": "pulmonary_embolism"}, "not visible in modality &#x27;cxr&#x27;"),
    ({"diagnosis_id": "disease:made_up"}, "is not a disease of the knowledge graph"),
    ({"differentials": "finding:pleural_effusion"}, "Not diseases of the knowledge graph"),
    ({"patient_age": "200"}, "less than or equal to 120"),
    ({"vital_spo2": "140"}, "less than or equal to 100"),
    ({"study_modality": "ct", "study_view": "axial", "finding_0_key": ""}, "needs a slice count"),
    ({"finding_0_key": "nodule", "finding_0_laterality": "left", "finding_0_size_mm": "-3"},
     "greater than or equal to 0.1"),
])
def test_bad_input_is_shown_beside_the_form_and_nothing_is_saved(world, client, changes, message):
    client.force_login(world.elena)
    response = _create(client, **changes)
    page = response.content.decode()
    assert response.status_code == 200 and message in page
    assert "Three days of productive cough" in page  # what was typed is kept
    assert not CaseVersion.objects.filter(title="Cough and fever").exists()


@pytest.mark.django_db
def test_the_editor_names_the_nodes_a_saved_case_links(world, client):
    client.force_login(world.elena)
    _create(client)
    version = CaseVersion.objects.get(title="Cough and fever")
    names = client.get(f"/cases/{version.case_id}/edit/").context["kg_names"]
    assert names["disease:lobar_pneumonia"]["label"] == "Lobar pneumonia"
    assert set(names) == {"disease:lobar_pneumonia", "disease:pleural_effusion", "disease:pulmonary_embolism"}
    # a form sent back with an error keeps the names of what was picked, and skips ids the graph lacks
    page = _create(client, patient_age="200", differentials="disease:pleural_effusion,disease:no_such")
    assert set(page.context["kg_names"]) == {"disease:lobar_pneumonia", "disease:pleural_effusion"}


@pytest.mark.django_db
def test_warning_when_no_finding_belongs_to_the_diagnosis(world, client):
    client.force_login(world.elena)
    _create(client, finding_0_key="cardiomegaly", finding_0_laterality="none")
    version = CaseVersion.objects.get(title="Cough and fever")
    page = client.get(f"/cases/{version.case_id}/edit/").content.decode()
    assert "is linked to Lobar pneumonia" in page or "linked to" in page


@pytest.mark.django_db
def test_publishing_needs_a_cohort(world, client):
    client.force_login(world.elena)
    _create(client)
    version = CaseVersion.objects.get(title="Cough and fever")
    response = client.post(f"/cases/{version.case_id}/publish/", {}, follow=True)
    assert "Choose at least one cohort" in response.content.decode()
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT


@pytest.mark.django_db
def test_drafts_are_invisible_to_students(world, client):
    client.force_login(world.elena)
    _create(client)
    version = CaseVersion.objects.get(title="Cough and fever")
    version.case.cohorts.add(world.cohort_a)  # even when a cohort is attached
    client = Client()  # no cookie (or flash message) of the educator's
    client.force_login(world.sam)
    assert "Cough and fever" not in client.get("/").content.decode()
    assert client.post(f"/cases/{version.case_id}/open/").status_code == 404


@pytest.mark.django_db
def test_student_home_lists_only_cases_of_their_cohorts(world, client):
    client.force_login(world.sam)
    assert world.version.title in client.get("/").content.decode()
    client.force_login(world.omar)
    page = client.get("/").content.decode()
    assert world.version.title not in page and "No case has been published" in page


@pytest.mark.django_db
def test_student_opens_case_and_submits_a_diagnosis(world, client):
    client.force_login(world.sam)
    response = client.post(f"/cases/{world.case.pk}/open/")
    encounter = Encounter.objects.get(student=world.sam)
    assert response.url == f"/encounters/{encounter.pk}/"
    page = client.get(response.url).content.decode()
    assert "Order Chest X-ray PA" in page and world.version.presenting_complaint in page
    assert "Fell down three stairs" in page and "98 /min" in page
    # a KG synonym of the linked disease is accepted even though the educator did not list it
    response = client.post(f"/encounters/{encounter.pk}/diagnosis/", {"answer": "pleural fluid"}, follow=True)
    encounter.refresh_from_db()
    page = response.content.decode()
    assert world.version.teaching_point in page
    assert encounter.correct is ("pleural fluid" in [s.lower() for s in __import__("cases.kg", fromlist=["x"])
                                 .default_graph().node("disease:pleural_effusion").synonyms])


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
def test_knowledge_graph_is_searchable_by_any_synonym(world, client):
    client.force_login(world.sam)
    page = client.get("/kg/?q=collapsed+lung").content.decode()
    assert "Primary spontaneous pneumothorax" in page
    page = client.get("/kg/?q=PTX").content.decode()
    assert "/kg/nodes/disease:pneumothorax/" in page
    page = client.get("/kg/nodes/disease:pneumothorax/").content.decode()
    assert "J93" in page and "has finding" in page
    assert client.get("/kg/nodes/disease:nothing/").status_code == 404
    results = client.get("/kg/search.json?q=CAP&type=disease").json()["results"]
    assert results[0]["id"] == "disease:community_acquired_pneumonia"
    assert client.get("/kg/search.json?q=x&type=planet").status_code == 400


@pytest.mark.django_db
def test_suggestions_come_from_the_graph_and_only_for_educators(world, client):
    client.force_login(world.elena)
    data = client.get("/kg/suggest/disease:tension_pneumothorax.json").json()
    assert data["disease"]["id"] == "disease:tension_pneumothorax" and data["findings"]
    assert client.get("/kg/suggest/finding:pleural_effusion.json").status_code == 404
    client.force_login(world.sam)
    assert client.get("/kg/suggest/disease:tension_pneumothorax.json").status_code == 403


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


@pytest.mark.django_db
def test_a_finding_error_is_shown_beside_its_row(world, client):
    client.force_login(world.elena)
    page = _create(client, finding_1_key="pulmonary_embolism", finding_1_laterality="left").content.decode()
    row_1 = page.index('name="finding_1_key"')
    row_2 = page.index('name="finding_2_key"')
    error = page.index("not visible in modality")
    assert row_1 < error < row_2

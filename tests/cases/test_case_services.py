"""The case lifecycle services, directly."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from cases.models import CaseVersion, VersionStatus
from cases.selectors import case_draft, case_published_version, cases_editable_by, versions_playable_by
from cases.services import (
    CaseContent,
    case_archive,
    case_clone,
    case_create,
    case_draft_start,
    case_publish,
    case_version_update,
)
from tests.factories import CASE_INPUT, STUDY_INPUT


@pytest.mark.django_db
def test_draft_start_is_idempotent_and_copies_studies(world):
    first = case_draft_start(case=world.case, author=world.emil)
    again = case_draft_start(case=world.case, author=world.elena)
    assert first.pk == again.pk and first.number == 2 and first.author == world.emil
    assert first.studies.get().findings == world.study.findings


@pytest.mark.django_db
def test_publishing_a_new_version_archives_the_old_one(world):
    draft = case_draft_start(case=world.case, author=world.elena)
    case_version_update(version=draft, content=CaseContent(**{**vars(CASE_INPUT), "title": "v2"}),
                        studies=[STUDY_INPUT], author=world.elena)
    case_publish(version=draft, cohorts=[world.cohort_a, world.cohort_b])
    assert case_published_version(case=world.case).title == "v2"
    assert CaseVersion.objects.get(case=world.case, number=1).status == VersionStatus.ARCHIVED
    assert case_draft(case=world.case) is None
    assert [v.title for v in versions_playable_by(user=world.omar)] == ["v2"]  # cohort B now too


@pytest.mark.django_db
def test_published_versions_cannot_be_edited_or_published_again(world):
    with pytest.raises(ValidationError, match="Only a draft can be edited"):
        case_version_update(version=world.version, content=CASE_INPUT, studies=[STUDY_INPUT], author=world.elena)
    with pytest.raises(ValidationError, match="Only a draft can be published"):
        case_publish(version=world.version, cohorts=[world.cohort_a])


@pytest.mark.django_db
def test_publishing_to_another_organisations_cohort_is_refused(world):
    from simulator.accounts.models import Cohort

    foreign = Cohort.objects.create(organisation=world.south, name="S")
    draft = case_draft_start(case=world.case, author=world.elena)
    with pytest.raises(ValidationError, match="Not cohorts of your organisation: S"):
        case_publish(version=draft, cohorts=[foreign])
    assert case_draft(case=world.case).pk == draft.pk


@pytest.mark.django_db
def test_the_database_allows_one_draft_per_case(world):
    case_draft_start(case=world.case, author=world.elena)
    with pytest.raises(IntegrityError), transaction.atomic():
        CaseVersion.objects.create(case=world.case, number=9, author=world.elena, title="x", patient_age=1,
                                   patient_sex="F", presenting_complaint="x", diagnosis="x")


@pytest.mark.django_db
def test_archive_withdraws_and_clone_copies_into_the_cloners_organisation(world):
    case_archive(case=world.case)
    assert list(versions_playable_by(user=world.sam)) == []
    with pytest.raises(ValidationError, match="Only a published case"):
        case_archive(case=world.case)
    copy = case_clone(version=world.version, author=world.olga)
    assert copy.case.organisation == world.south and copy.status == VersionStatus.DRAFT
    assert copy.title.endswith("(copy)") and copy.diagnosis_id == world.version.diagnosis_id
    assert [v.pk for v in cases_editable_by(user=world.olga)] == [copy.pk]


@pytest.mark.django_db
def test_a_case_needs_a_study_and_valid_vitals(world):
    with pytest.raises(ValidationError, match="at least one imaging study"):
        case_create(author=world.elena, content=CASE_INPUT, studies=[])
    with pytest.raises(ValidationError) as caught:
        case_create(author=world.elena, content=CaseContent(**{**vars(CASE_INPUT), "vitals": {"spo2": 140}}),
                    studies=[STUDY_INPUT])
    assert "SpO₂ must be a number from 50 to 100" in str(caught.value)


def test_load_kg_checks_a_candidate_file(tmp_path, capsys):
    call_command("load_kg")
    assert "Knowledge graph 1.0.0" in capsys.readouterr().out
    bad = tmp_path / "kg.json"
    bad.write_text('{"schema_version": 1, "kg_version": "1.0.1", "nodes": [], "edges": [{"type": "x"}]}')
    with pytest.raises(CommandError, match="invalid"):
        call_command("load_kg", str(bad))
    with pytest.raises(CommandError, match="no knowledge graph file"):
        call_command("load_kg", str(tmp_path / "missing.json"))


@pytest.mark.django_db
def test_a_study_the_generator_cannot_draw_is_not_published(world):
    from cases.services import StudyInput

    ct = StudyInput(title="CT chest", modality="ct", view="axial", slice_count=40,
                    findings=[{"key": "pulmonary_embolism", "laterality": "right"}])
    version = case_create(author=world.elena, content=CASE_INPUT, studies=[ct])
    with pytest.raises(ValidationError, match="cannot draw CT chest yet: its weights draw cxr"):
        case_publish(version=version, cohorts=[world.cohort_a])
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT

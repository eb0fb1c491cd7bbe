import pytest
from django.core.exceptions import ValidationError

from simulator.encounters.models import EventKind
from simulator.encounters.services import diagnosis_submit, encounter_start, order_create
from simulator.imaging.models import GenerationJob, JobStatus


@pytest.mark.django_db
def test_opening_twice_resumes_the_same_encounter(world):
    first = encounter_start(case=world.case, student=world.sam)
    again = encounter_start(case=world.case, student=world.sam)
    assert first.pk == again.pk
    assert first.cohort == world.cohort_a
    assert list(first.events.values_list("kind", flat=True)) == [EventKind.OPENED]


@pytest.mark.django_db
def test_order_creates_one_job_and_reuses_it(world, sam_encounter, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        order = order_create(encounter=sam_encounter, study_id=world.study.pk)
    assert len(callbacks) == 1  # the enqueue waits for the commit
    assert order.job.status == JobStatus.QUEUED
    assert order.job.conditions["findings"][0]["key"] == "effusion"
    assert order.job.seed == world.study.seed
    # undrawn findings go where the painter's Typical placement shows them: the study's own patient
    assert order.job.placement_seed == world.study.seed
    assert order_create(encounter=sam_encounter, study_id=world.study.pk).pk == order.pk
    assert GenerationJob.objects.count() == 1


@pytest.mark.django_db
def test_per_student_seeds_differ_but_are_stable(world):
    from cases.selectors import study_seed

    world.study.seed_policy = "per_student"
    world.study.save()
    sam, tara = study_seed(study=world.study, student_id=world.sam.pk), study_seed(study=world.study,
                                                                                    student_id=world.tara.pk)
    assert sam != tara
    assert sam == study_seed(study=world.study, student_id=world.sam.pk)
    # each student's image is a variant, but the findings sit in the same place for all of them
    sam_job = order_create(encounter=encounter_start(case=world.case, student=world.sam), study_id=world.study.pk).job
    tara_job = order_create(encounter=encounter_start(case=world.case, student=world.tara),
                            study_id=world.study.pk).job
    assert sam_job.seed == sam and tara_job.seed == tara
    assert sam_job.placement_seed == tara_job.placement_seed == world.study.seed


@pytest.mark.django_db
def test_diagnosis_is_scored_logged_and_final(world, sam_encounter):
    encounter = diagnosis_submit(encounter=sam_encounter, answer="pleural effusion")
    assert encounter.correct is True and encounter.score_rule == "exact match"
    event = encounter.events.get(kind=EventKind.SUBMITTED)
    assert event.data == {"answer": "pleural effusion", "correct": True, "rule": "exact match"}
    with pytest.raises(ValidationError, match="already submitted"):
        diagnosis_submit(encounter=encounter, answer="pneumonia")
    with pytest.raises(ValidationError, match="finished"):
        order_create(encounter=encounter, study_id=world.study.pk)


@pytest.mark.django_db
def test_empty_diagnosis_is_refused_and_nothing_changes(world, sam_encounter):
    with pytest.raises(ValidationError, match="Type your diagnosis"):
        diagnosis_submit(encounter=sam_encounter, answer="   ")
    sam_encounter.refresh_from_db()
    assert sam_encounter.status == "in_progress" and not sam_encounter.events.filter(kind="submitted").exists()

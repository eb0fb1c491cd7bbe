"""Writes of the student simulation. Callers authorise first (accounts.access)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cases.models import Case, Study
from cases.selectors import case_published_version, study_conditions, study_placement_seed, study_seed
from simulator.imaging.models import GenerationJob, JobStatus
from simulator.imaging.services import generation_job_create

from .models import Encounter, EncounterEvent, EncounterStatus, EventKind, Order
from .scoring import accepted_synonyms, case_sides, score_diagnosis


def encounter_event_log(*, encounter: Encounter, kind: str, data: dict | None = None) -> EncounterEvent:
    return EncounterEvent.objects.create(encounter=encounter, kind=kind, data=data or {})


@transaction.atomic
def encounter_start(*, case: Case, student) -> Encounter:
    """The student's encounter with the case, created on first open and pinned to the version published
    then (precondition: case.play allowed)."""
    existing = Encounter.objects.filter(case=case, student=student).first()
    if existing is not None:
        return existing
    version = case_published_version(case=case)
    if version is None:
        raise ValidationError("This case is not published.")
    cohort = case.cohorts.filter(members=student).order_by("pk").first()
    encounter = Encounter.objects.create(case=case, version=version, student=student, cohort=cohort)
    encounter_event_log(encounter=encounter, kind=EventKind.OPENED,
                        data={"case": version.title, "version": version.number})
    return encounter


@transaction.atomic
def order_create(*, encounter: Encounter, study_id: int) -> Order:
    """Order a study of the encounter's case: a generation job starts after commit.

    Raises ValidationError for a study that is not part of the case or an encounter already closed.
    Ordering a study twice returns the existing order unless it failed or was cancelled."""
    if encounter.status != EncounterStatus.IN_PROGRESS:
        raise ValidationError("This case is finished; no more studies can be ordered.")
    study = Study.objects.filter(pk=study_id, version_id=encounter.version_id).first()
    if study is None:
        raise ValidationError(f"Study {study_id} is not part of this case.")
    existing = (
        Order.objects.filter(encounter=encounter, study=study)
        .exclude(job__status__in=[JobStatus.FAILED, JobStatus.CANCELLED])
        .select_related("job")
        .first()
    )
    if existing is not None:
        return existing
    job = generation_job_create(
        conditions=study_conditions(study=study),
        seed=study_seed(study=study, student_id=encounter.student_id),
        placement_seed=study_placement_seed(study=study),
        requested_by=encounter.student,
        encounter=encounter,
    )
    order = Order.objects.create(encounter=encounter, study=study, job=job)
    encounter_event_log(
        encounter=encounter, kind=EventKind.ORDERED, data={"study": study.title, "study_id": study.pk, "job": job.pk}
    )
    return order


def encounter_job_finished(*, job: GenerationJob) -> None:
    """Log the outcome of an encounter's job (called inside the job's final transaction)."""
    if job.status == JobStatus.DONE:
        encounter_event_log(
            encounter=job.encounter,
            kind=EventKind.STUDY_READY,
            data={"job": job.pk, "model_version": job.model_version, "seed": job.seed, "sampler": job.sampler,
                  "steps": job.steps},
        )
    elif job.status == JobStatus.FAILED:
        encounter_event_log(encounter=job.encounter, kind=EventKind.STUDY_FAILED, data={"job": job.pk,
                                                                                          "error": job.error})


def encounter_image_shown(*, encounter: Encounter, job: GenerationJob) -> EncounterEvent | None:
    """The student's viewer displayed a finished image; logged once per job."""
    if job.encounter_id != encounter.pk or job.status != JobStatus.DONE:
        raise ValidationError("That image is not ready in this case.")
    if encounter.events.filter(kind=EventKind.IMAGE_SHOWN, data__job=job.pk).exists():
        return None
    return encounter_event_log(
        encounter=encounter,
        kind=EventKind.IMAGE_SHOWN,
        data={"job": job.pk, "model_version": job.model_version, "seed": job.seed},
    )


@transaction.atomic
def diagnosis_submit(*, encounter: Encounter, answer: str) -> Encounter:
    answer = answer.strip()
    if not answer:
        raise ValidationError({"answer": "Type your diagnosis."})
    if len(answer) > 300:
        raise ValidationError({"answer": "Keep the diagnosis under 300 characters."})
    if encounter.status == EncounterStatus.SUBMITTED:
        raise ValidationError("You already submitted a diagnosis for this case.")
    version = encounter.version
    verdict = score_diagnosis(answer, diagnosis=version.diagnosis, synonyms=accepted_synonyms(version=version),
                              sides=case_sides(version=version))
    encounter.answer = answer
    encounter.correct = verdict.correct
    encounter.score_rule = verdict.rule
    encounter.status = EncounterStatus.SUBMITTED
    encounter.submitted_at = timezone.now()
    encounter.save()
    encounter_event_log(
        encounter=encounter,
        kind=EventKind.SUBMITTED,
        data={"answer": answer, "correct": verdict.correct, "rule": verdict.rule},
    )
    return encounter

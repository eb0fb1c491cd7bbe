"""Writes of authored content."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inference.conditions import ConditionError

from .models import Case, CaseStatus, Study
from .selectors import study_conditions


@dataclass(frozen=True)
class CaseInput:
    title: str
    patient_age: int
    patient_sex: str
    presenting_complaint: str
    history: str
    diagnosis: str
    diagnosis_synonyms: str
    teaching_point: str


@dataclass(frozen=True)
class StudyInput:
    title: str
    modality: str
    view: str
    prompt: str
    findings: list[dict]
    seed_policy: str
    seed: int


def _apply(obj, values: dict) -> None:
    for name, value in values.items():
        setattr(obj, name, value)


def _study_save(*, study: Study) -> Study:
    study.full_clean()
    try:
        study_conditions(study=study)
    except ConditionError as exc:
        raise ValidationError({"findings": str(exc)}) from None
    study.save()
    return study


@transaction.atomic
def case_create(*, author, case: CaseInput, study: StudyInput) -> Case:
    """A new draft case with one study. Raises ValidationError naming the bad field."""
    new_case = Case(author=author, organisation=author.organisation, status=CaseStatus.DRAFT)
    _apply(new_case, vars(case))
    new_case.full_clean()
    new_case.save()
    new_study = Study(case=new_case)
    _apply(new_study, vars(study))
    _study_save(study=new_study)
    return new_case


@transaction.atomic
def case_update(*, case: Case, data: CaseInput, study: StudyInput) -> Case:
    if case.status != CaseStatus.DRAFT:
        raise ValidationError("Only drafts can be edited; a published case is frozen for its students.")
    _apply(case, vars(data))
    case.full_clean()
    case.save()
    first_study = case.studies.first() or Study(case=case)
    _apply(first_study, vars(study))
    _study_save(study=first_study)
    return case


@transaction.atomic
def case_publish(*, case: Case, cohorts) -> Case:
    """Publish to cohorts of the case's organisation. Raises ValidationError when impossible."""
    cohorts = list(cohorts)
    if not cohorts:
        raise ValidationError({"cohorts": "Choose at least one cohort."})
    foreign = [c.name for c in cohorts if c.organisation_id != case.organisation_id]
    if foreign:
        raise ValidationError({"cohorts": f"Not cohorts of your organisation: {', '.join(foreign)}"})
    if case.status == CaseStatus.ARCHIVED:
        raise ValidationError("An archived case cannot be published.")
    if not case.studies.exists():
        raise ValidationError("A case needs at least one study before it is published.")
    for study in case.studies.all():
        try:
            study_conditions(study=study)
        except ConditionError as exc:
            raise ValidationError({"findings": f"{study.title}: {exc}"}) from None
    case.status = CaseStatus.PUBLISHED
    case.published_at = case.published_at or timezone.now()
    case.save(update_fields=["status", "published_at", "updated_at"])
    case.cohorts.add(*cohorts)
    return case

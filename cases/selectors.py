"""Reads of authored content. The simulator reads cases only through these."""

from __future__ import annotations

import hashlib

from django.db.models import QuerySet

from inference.conditions import Conditions, Finding

from .models import Case, CaseStatus, SeedPolicy, Study


def cases_playable_by(*, user) -> QuerySet[Case]:
    """Published cases of the cohorts the user belongs to."""
    return (
        Case.objects.filter(status=CaseStatus.PUBLISHED, cohorts__members=user)
        .distinct()
        .order_by("title")
    )


def cases_editable_by(*, user) -> QuerySet[Case]:
    return Case.objects.filter(organisation=user.organisation).order_by("-updated_at")


def study_conditions(*, study: Study) -> Conditions:
    """The generator's conditions for a study; raises ConditionError if the study cannot be drawn."""
    case = study.case
    findings = tuple(Finding(**finding) for finding in study.findings)
    return Conditions(
        modality=study.modality,
        view=study.view,
        prompt=study.prompt,
        findings=findings,
        sex=case.patient_sex,
        age_band=case.age_band,
    ).validate()


def study_seed(*, study: Study, student_id: int | None) -> int:
    """Fixed studies give every student the same image; per-student ones a stable variant each."""
    if study.seed_policy == SeedPolicy.PER_STUDENT and student_id is not None:
        digest = hashlib.sha256(f"{study.pk}:{study.seed}:{student_id}".encode()).digest()
        return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
    return study.seed

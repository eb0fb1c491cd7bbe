"""Reads of authored content. The simulator reads cases only through these."""

from __future__ import annotations

import hashlib

from django.db.models import OuterRef, QuerySet, Subquery

from inference.conditions import Conditions, Finding

from .models import Case, CaseVersion, SeedPolicy, Study, VersionStatus


def versions_playable_by(*, user) -> QuerySet[CaseVersion]:
    """The published version of every case published to one of the user's cohorts."""
    return (
        CaseVersion.objects.filter(status=VersionStatus.PUBLISHED, case__cohorts__members=user)
        .select_related("case")
        .distinct()
        .order_by("title")
    )


def case_latest_version(*, case: Case) -> CaseVersion | None:
    return case.versions.order_by("-number").first()


def case_published_version(*, case: Case) -> CaseVersion | None:
    return case.versions.filter(status=VersionStatus.PUBLISHED).first()


def case_draft(*, case: Case) -> CaseVersion | None:
    return case.versions.filter(status=VersionStatus.DRAFT).first()


def cases_editable_by(*, user, modality: str = "", diagnosis: str = "", status: str = "", author_id: int | None = None
                      ) -> list[CaseVersion]:
    """The latest version of every case of the user's organisation, filtered."""
    latest = CaseVersion.objects.filter(case=OuterRef("case")).order_by("-number").values("pk")[:1]
    versions = (
        CaseVersion.objects.filter(case__organisation=user.organisation, pk=Subquery(latest))
        .select_related("case", "author")
        .prefetch_related("studies", "case__cohorts")
        .order_by("-updated_at")
    )
    if modality:
        versions = versions.filter(studies__modality=modality)
    if diagnosis:
        versions = versions.filter(diagnosis__icontains=diagnosis)
    if status:
        versions = versions.filter(status=status)
    if author_id:
        versions = versions.filter(author_id=author_id)
    return list(versions.distinct())


def study_conditions(*, study: Study) -> Conditions:
    """The generator's conditions for a study; raises ConditionError if the study cannot be drawn."""
    version = study.version
    findings = tuple(Finding(**finding) for finding in study.findings)
    return Conditions(
        modality=study.modality,
        view=study.view,
        prompt=study.prompt,
        findings=findings,
        sex=version.patient_sex,
        age_band=version.age_band,
    ).validate()


def study_placement_seed(*, study: Study) -> int:
    """The virtual patient in which undrawn findings are placed: the one the mask painter shows (its
    Typical placement button asks the simulator the same question), the same for every student."""
    return study.seed


def study_seed(*, study: Study, student_id: int | None) -> int:
    """Fixed studies give every student the same image; per-student ones a stable variant each."""
    if study.seed_policy == SeedPolicy.PER_STUDENT and student_id is not None:
        digest = hashlib.sha256(f"{study.pk}:{study.seed}:{student_id}".encode()).digest()
        return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF
    return study.seed

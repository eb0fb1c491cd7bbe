"""Writes of authored content: drafts, publication, archive, clone.

Published versions never change: editing one starts a new draft version, and students keep the
version their encounter started on."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inference.conditions import ConditionError
from inference.weights_info import weights_modalities

from .anatomy import mask_problems
from .kg import default_graph
from .models import HISTORY_FIELDS, VITAL_FIELDS, Case, CaseVersion, Study, VersionStatus
from .selectors import case_draft, case_latest_version, case_published_version, study_conditions

CONTENT_FIELDS = (
    "title", "patient_age", "patient_sex", "presenting_complaint", "history", "vitals", "exam", "diagnosis_id",
    "diagnosis", "diagnosis_synonyms", "differentials", "teaching_point", "kg_version",
)
STUDY_FIELDS = ("title", "modality", "view", "prompt", "findings", "seed_policy", "seed", "slice_count",
                "frame_count")


@dataclass(frozen=True)
class CaseContent:
    title: str
    patient_age: int
    patient_sex: str
    presenting_complaint: str
    diagnosis: str
    history: dict = field(default_factory=dict)
    vitals: dict = field(default_factory=dict)
    exam: str = ""
    diagnosis_id: str = ""
    diagnosis_synonyms: str = ""
    differentials: list = field(default_factory=list)
    teaching_point: str = ""
    kg_version: str = ""


@dataclass(frozen=True)
class StudyInput:
    title: str
    modality: str = "cxr"
    view: str = "PA"
    prompt: str = ""
    findings: list = field(default_factory=list)
    seed_policy: str = "fixed"
    seed: int = 0
    slice_count: int | None = None
    frame_count: int | None = None


def _check_content(content: CaseContent) -> None:
    errors = {}
    unknown = set(content.history) - {name for name, _ in HISTORY_FIELDS}
    if unknown:
        errors["history"] = f"Unknown history field(s): {', '.join(sorted(unknown))}"
    for name, label, unit, (low, high) in VITAL_FIELDS:
        value = content.vitals.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            errors[name] = f"{label} must be a number from {low} to {high} {unit}."
    unknown = set(content.vitals) - {name for name, *_ in VITAL_FIELDS}
    if unknown:
        errors["vitals"] = f"Unknown vital sign(s): {', '.join(sorted(unknown))}"
    graph = default_graph()
    if content.diagnosis_id and getattr(graph.get(content.diagnosis_id), "type", None) != "disease":
        errors["diagnosis"] = f"{content.diagnosis_id!r} is not a disease of the knowledge graph."
    bad = [d for d in content.differentials if getattr(graph.get(d), "type", None) != "disease"]
    if bad:
        errors["differentials"] = f"Not diseases of the knowledge graph: {', '.join(bad)}"
    elif content.diagnosis_id and content.diagnosis_id in content.differentials:
        errors["differentials"] = "The diagnosis cannot also be its own differential."
    if errors:
        raise ValidationError(errors)


def _write_version(version: CaseVersion, content: CaseContent, studies: list[StudyInput]) -> CaseVersion:
    _check_content(content)
    for name in CONTENT_FIELDS:
        setattr(version, name, getattr(content, name))
    version.full_clean()
    version.save()
    version.studies.all().delete()
    if not studies:
        raise ValidationError({"studies": "A case needs at least one imaging study."})
    for index, study_input in enumerate(studies):
        study = Study(version=version, **{name: getattr(study_input, name) for name in STUDY_FIELDS})
        study.full_clean()
        try:
            study_conditions(study=study)
        except ConditionError as exc:
            raise ValidationError({"findings": f"{study.title}: {exc}"}) from None
        problems = mask_problems(modality=study.modality, view=study.view, sex=version.patient_sex,
                                 age_band=version.age_band, seed=study.seed, findings=study.findings)
        if problems:
            raise ValidationError({"findings": [f"{study.title}: {p}" for p in problems]})
        if study.modality == "ct" and not study.slice_count:
            raise ValidationError({"slice_count": f"{study.title}: a CT study needs a slice count."})
        if study.modality == "lap" and not study.frame_count:
            raise ValidationError({"frame_count": f"{study.title}: a laparoscopy clip needs a frame count."})
        study.save()
    return version


@transaction.atomic
def case_create(*, author, content: CaseContent, studies: list[StudyInput]) -> CaseVersion:
    """A new case whose first version is a draft. Raises ValidationError naming the bad field."""
    case = Case.objects.create(organisation=author.organisation, created_by=author)
    version = CaseVersion(case=case, number=1, author=author, status=VersionStatus.DRAFT)
    return _write_version(version, content, studies)


@transaction.atomic
def case_version_update(*, version: CaseVersion, content: CaseContent, studies: list[StudyInput],
                        author) -> CaseVersion:
    version = CaseVersion.objects.select_for_update().get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError("Only a draft can be edited; start a new draft from the published version.")
    version.author = author
    return _write_version(version, content, studies)


def _copy_version(source: CaseVersion, *, case: Case, number: int, author) -> CaseVersion:
    copy = CaseVersion(case=case, number=number, author=author, status=VersionStatus.DRAFT,
                       **{name: getattr(source, name) for name in CONTENT_FIELDS})
    copy.full_clean()
    copy.save()
    for study in source.studies.all():
        Study.objects.create(version=copy, **{name: getattr(study, name) for name in STUDY_FIELDS})
    return copy


@transaction.atomic
def case_draft_start(*, case: Case, author) -> CaseVersion:
    """The case's draft: the existing one, or a new version copied from the latest."""
    case = Case.objects.select_for_update().get(pk=case.pk)
    draft = case_draft(case=case)
    if draft is not None:
        return draft
    latest = case_latest_version(case=case)
    return _copy_version(latest, case=case, number=latest.number + 1, author=author)


@transaction.atomic
def case_publish(*, version: CaseVersion, cohorts) -> CaseVersion:
    """Publish a draft to cohorts of its organisation; the previously published version is archived."""
    cohorts = list(cohorts)
    case = Case.objects.select_for_update().get(pk=version.case_id)
    version = CaseVersion.objects.get(pk=version.pk)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError("Only a draft can be published.")
    if not cohorts:
        raise ValidationError({"cohorts": "Choose at least one cohort."})
    foreign = [c.name for c in cohorts if c.organisation_id != case.organisation_id]
    if foreign:
        raise ValidationError({"cohorts": f"Not cohorts of your organisation: {', '.join(foreign)}"})
    if not version.studies.exists():
        raise ValidationError("A case needs at least one study before it is published.")
    drawable = weights_modalities(settings.GENERATION_WEIGHTS or None)
    undrawable = [s.title for s in version.studies.all() if s.modality not in drawable]
    if undrawable:
        names = ", ".join(sorted(drawable)) or "nothing"
        raise ValidationError(f"The generator cannot draw {', '.join(undrawable)} yet: its weights draw {names}. "
                              "Students would get no image.")
    for study in version.studies.all():
        try:
            study_conditions(study=study)
        except ConditionError as exc:
            raise ValidationError({"findings": f"{study.title}: {exc}"}) from None
    previous = case_published_version(case=case)
    if previous is not None:
        previous.status = VersionStatus.ARCHIVED
        previous.save(update_fields=["status", "updated_at"])
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at", "updated_at"])
    case.cohorts.set(cohorts)
    return version


@transaction.atomic
def case_archive(*, case: Case) -> Case:
    """Withdraw the case from students; encounters already started keep their version."""
    published = case_published_version(case=case)
    if published is None:
        raise ValidationError("Only a published case can be archived.")
    published.status = VersionStatus.ARCHIVED
    published.save(update_fields=["status", "updated_at"])
    return case


@transaction.atomic
def case_clone(*, version: CaseVersion, author) -> CaseVersion:
    """A new case, in the author's organisation, starting as a draft copy of `version`."""
    case = Case.objects.create(organisation=author.organisation, created_by=author, cloned_from=version)
    copy = _copy_version(version, case=case, number=1, author=author)
    copy.title = f"{version.title} (copy)"[:200]
    copy.save(update_fields=["title"])
    return copy

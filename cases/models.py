from django.conf import settings
from django.db import models

from inference.vocabulary import AGE_BANDS, MODALITIES, SEXES


class CaseStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Case(models.Model):
    """A virtual patient, as its educator wrote it."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_cases")
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="cases")
    title = models.CharField(max_length=200)
    patient_age = models.PositiveSmallIntegerField()
    patient_sex = models.CharField(max_length=1, choices=[(s, s) for s in SEXES])
    presenting_complaint = models.CharField(max_length=500)
    history = models.TextField(blank=True, help_text="What the patient can tell; the only source of answers.")
    diagnosis = models.CharField(max_length=200)
    diagnosis_synonyms = models.CharField(
        max_length=500, blank=True, help_text="Other accepted answers, comma-separated (e.g. PTX, collapsed lung)."
    )
    teaching_point = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=CaseStatus.choices, default=CaseStatus.DRAFT)
    cohorts = models.ManyToManyField("accounts.Cohort", related_name="cases", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(patient_age__gte=0, patient_age__lte=120), name="case_age_range"
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def age_band(self) -> str:
        age = self.patient_age
        if age < 40:
            return AGE_BANDS[0]
        if age < 60:
            return AGE_BANDS[1]
        if age < 80:
            return AGE_BANDS[2]
        return AGE_BANDS[3]


class SeedPolicy(models.TextChoices):
    FIXED = "fixed", "One image for every student"
    PER_STUDENT = "per_student", "A variant per student"


class Study(models.Model):
    """An imaging study the student can order; the generator draws it from these conditions."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="studies")
    title = models.CharField(max_length=200, default="Chest X-ray")
    modality = models.CharField(max_length=10, choices=[(m, m) for m in MODALITIES], default="cxr")
    view = models.CharField(max_length=20, default="PA")
    prompt = models.TextField(blank=True)
    # [{"key", "laterality", "location", "size_mm", "severity", "mask_png_b64"}], see inference.conditions.Finding
    findings = models.JSONField(default=list, blank=True)
    seed_policy = models.CharField(max_length=20, choices=SeedPolicy.choices, default=SeedPolicy.FIXED)
    seed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "studies"

    def __str__(self) -> str:
        return f"{self.title} ({self.case})"

"""Authored content. A `Case` is a lineage (who owns it, where it is published); its content lives in
`CaseVersion`s: one draft at a time, published versions are immutable, and every student encounter
pins the version it started on."""

from django.conf import settings
from django.db import models

from inference.vocabulary import AGE_BANDS, MODALITIES, SEXES

# The structured history the virtual patient may answer from, and nothing else.
HISTORY_FIELDS = (
    ("onset", "Onset"),
    ("character", "Character"),
    ("duration", "Duration"),
    ("past_history", "Past medical history"),
    ("medications", "Medications"),
    ("allergies", "Allergies"),
    ("smoking", "Smoking"),
    ("social", "Social history"),
    ("family", "Family history"),
)
# name, label, unit, plausible range (what a monitor could show)
VITAL_FIELDS = (
    ("heart_rate", "Heart rate", "/min", (20, 250)),
    ("resp_rate", "Respiratory rate", "/min", (4, 70)),
    ("bp_systolic", "Systolic BP", "mmHg", (40, 260)),
    ("bp_diastolic", "Diastolic BP", "mmHg", (20, 160)),
    ("temperature", "Temperature", "°C", (30, 43)),
    ("spo2", "SpO₂", "%", (50, 100)),
)


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Case(models.Model):
    organisation = models.ForeignKey("accounts.Organisation", on_delete=models.PROTECT, related_name="cases")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="created_cases")
    cohorts = models.ManyToManyField("accounts.Cohort", related_name="cases", blank=True)
    cloned_from = models.ForeignKey("CaseVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="clones")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        latest = self.versions.order_by("-number").first()
        return latest.title if latest else f"case {self.pk}"


class CaseVersion(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="authored_versions")
    title = models.CharField(max_length=200)
    patient_age = models.PositiveSmallIntegerField()
    patient_sex = models.CharField(max_length=1, choices=[(s, s) for s in SEXES])
    presenting_complaint = models.CharField(max_length=500)
    history = models.JSONField(default=dict, blank=True)  # {HISTORY_FIELDS name: text}
    vitals = models.JSONField(default=dict, blank=True)  # {VITAL_FIELDS name: number}
    exam = models.TextField(blank=True)
    diagnosis_id = models.CharField(max_length=120, blank=True)  # a KG disease node id
    diagnosis = models.CharField(max_length=200)  # its label when saved (or free text without a KG node)
    diagnosis_synonyms = models.CharField(
        max_length=500, blank=True, help_text="Other accepted answers, comma-separated (e.g. PTX, collapsed lung)."
    )
    differentials = models.JSONField(default=list, blank=True)  # KG disease ids
    teaching_point = models.TextField(blank=True)
    kg_version = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["case", "number"], name="case_version_number"),
            models.UniqueConstraint(fields=["case"], condition=models.Q(status="draft"), name="one_draft_per_case"),
            models.UniqueConstraint(fields=["case"], condition=models.Q(status="published"),
                                    name="one_published_per_case"),
            models.CheckConstraint(condition=models.Q(patient_age__lte=120), name="case_age_range"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (v{self.number})"

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

    @property
    def history_items(self) -> list[tuple[str, str]]:
        return [(label, self.history[name]) for name, label in HISTORY_FIELDS if self.history.get(name)]

    @property
    def vital_items(self) -> list[tuple[str, str]]:
        return [(label, f"{self.vitals[name]} {unit}") for name, label, unit, _ in VITAL_FIELDS
                if self.vitals.get(name) not in (None, "")]


class SeedPolicy(models.TextChoices):
    FIXED = "fixed", "One image for every student"
    PER_STUDENT = "per_student", "A variant per student"


class Study(models.Model):
    """An imaging study the student can order; the generator draws it from these conditions."""

    version = models.ForeignKey(CaseVersion, on_delete=models.CASCADE, related_name="studies")
    title = models.CharField(max_length=200, default="Chest X-ray")
    modality = models.CharField(max_length=10, choices=[(m, m) for m in MODALITIES], default="cxr")
    view = models.CharField(max_length=20, default="PA")
    prompt = models.TextField(blank=True)
    # [{"key", "laterality", "location", "size_mm", "severity", "mask_png_b64"}], see inference.conditions.Finding
    findings = models.JSONField(default=list, blank=True)
    seed_policy = models.CharField(max_length=20, choices=SeedPolicy.choices, default=SeedPolicy.FIXED)
    seed = models.PositiveIntegerField(default=0)
    slice_count = models.PositiveSmallIntegerField(null=True, blank=True)  # CT stacks
    frame_count = models.PositiveSmallIntegerField(null=True, blank=True)  # laparoscopy clips

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "studies"
        constraints = [
            models.CheckConstraint(condition=models.Q(slice_count__isnull=True) | models.Q(slice_count__gte=1,
                                                                                           slice_count__lte=200),
                                   name="study_slice_count_range"),
            models.CheckConstraint(condition=models.Q(frame_count__isnull=True) | models.Q(frame_count__gte=1,
                                                                                           frame_count__lte=600),
                                   name="study_frame_count_range"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.version})"

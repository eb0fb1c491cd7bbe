from django.conf import settings
from django.db import models


class EncounterStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"


class Encounter(models.Model):
    """One student working one case; what happened is in its event log."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="encounters")
    version = models.ForeignKey("cases.CaseVersion", on_delete=models.PROTECT, related_name="encounters")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="encounters")
    cohort = models.ForeignKey("accounts.Cohort", on_delete=models.PROTECT, related_name="encounters")
    status = models.CharField(max_length=20, choices=EncounterStatus.choices, default=EncounterStatus.IN_PROGRESS)
    answer = models.CharField(max_length=300, blank=True)
    correct = models.BooleanField(null=True)
    score_rule = models.CharField(max_length=200, blank=True)  # which matching rule decided
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["case", "student"], name="one_encounter_per_case")]

    def __str__(self) -> str:
        return f"{self.student} on {self.case}"


class EventKind(models.TextChoices):
    OPENED = "opened", "Opened the case"
    ORDERED = "ordered", "Ordered a study"
    STUDY_READY = "study_ready", "Study generated"
    STUDY_FAILED = "study_failed", "Study failed"
    IMAGE_SHOWN = "image_shown", "Image shown"
    SUBMITTED = "submitted", "Submitted a diagnosis"


class EncounterEvent(models.Model):
    """Append-only log of an encounter; instructor replay reads exactly this."""

    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    at = models.DateTimeField(auto_now_add=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]


class Order(models.Model):
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="orders")
    study = models.ForeignKey("cases.Study", on_delete=models.PROTECT, related_name="orders")
    job = models.OneToOneField("imaging.GenerationJob", on_delete=models.PROTECT, related_name="order")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

from django.conf import settings
from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED = (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


class GenerationJob(models.Model):
    """One generated image: its frozen request, its progress and, when done, its provenance."""

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    encounter = models.ForeignKey(
        "encounters.Encounter", null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.QUEUED)
    conditions = models.JSONField()  # inference.conditions.Conditions.to_json(), frozen at request time
    seed = models.PositiveIntegerField()
    # the virtual patient whose typical placement fills undrawn findings' masks; null: the model places them
    placement_seed = models.PositiveIntegerField(null=True, blank=True)
    steps = models.PositiveSmallIntegerField()
    sampler = models.CharField(max_length=20)
    guidance = models.FloatField()
    step = models.PositiveSmallIntegerField(default=0)  # last finished sampler step
    model_version = models.CharField(max_length=100, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    pixels_sha256 = models.CharField(max_length=64, blank=True)
    image = models.FileField(upload_to="jobs/", blank=True)  # 16-bit PNG of the native pixels
    display = models.FileField(upload_to="jobs/", blank=True)  # 8-bit PNG as shown
    # an educator's preview only: the independent reader's reading against the conditions (inference/reading.py);
    # never filled for a student's image, whose reading would give the diagnosis away
    reading = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(steps__gte=1, steps__lte=100), name="job_steps_range"),
            models.CheckConstraint(condition=models.Q(guidance__gte=0, guidance__lte=10), name="job_guidance_range"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"

    @property
    def group_name(self) -> str:
        return job_group_name(self.pk)


def job_group_name(job_id: int) -> str:
    return f"imaging.job.{job_id}"

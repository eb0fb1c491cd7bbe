from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    EDUCATOR = "educator", "Educator"  # authors cases
    INSTRUCTOR = "instructor", "Instructor"  # teaches cohorts, reviews sessions
    STUDENT = "student", "Student"  # plays cases


class Organisation(models.Model):
    name = models.CharField(max_length=200, unique=True)

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.STUDENT)
    organisation = models.ForeignKey(Organisation, null=True, blank=True, on_delete=models.PROTECT)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username


class Cohort(models.Model):
    """A group of students with their instructors; cases are published to cohorts."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="cohorts")
    name = models.CharField(max_length=200)
    members = models.ManyToManyField(User, related_name="cohorts", blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="cohort_unique_name")]

    def __str__(self) -> str:
        return self.name

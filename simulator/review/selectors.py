"""Instructor replay and cohort views: reads over the encounter event log."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from simulator.encounters.models import Encounter


def encounters_reviewable_by(*, user) -> QuerySet[Encounter]:
    return (
        Encounter.objects.filter(cohort__members=user)
        .select_related("version", "student", "cohort")
        .annotate(event_count=Count("events"))
        .order_by("-started_at")
        .distinct()
    )


def encounters_of_cohort(*, cohort) -> QuerySet[Encounter]:
    return (
        Encounter.objects.filter(cohort=cohort)
        .select_related("version", "student")
        .annotate(event_count=Count("events"))
        .order_by("-started_at")
    )

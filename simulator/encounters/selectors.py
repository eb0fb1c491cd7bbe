from __future__ import annotations

from django.db.models import QuerySet

from .models import Encounter, EncounterEvent


def encounters_of_student(*, student) -> QuerySet[Encounter]:
    return Encounter.objects.filter(student=student).select_related("version")


def encounter_timeline(*, encounter: Encounter) -> QuerySet[EncounterEvent]:
    return encounter.events.all()

"""Authorise once, at the edge. Each helper fetches an object and applies the permission matrix:
Http404 when the role may do this but not to this object (or it does not exist), PermissionDenied
when the role may never do it. Views call these; consumers call `decision_for_*` to pick a close code."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .permissions import Decision, decide


def _role(user) -> str:
    return getattr(user, "role", "") if user.is_authenticated else ""


def case_relations(user, case) -> set[str]:
    relations = set()
    if case.created_by_id == user.pk or case.versions.filter(author=user).exists():
        relations.add("author")
    if user.organisation_id and case.organisation_id == user.organisation_id:
        relations.add("org")
    if case.versions.filter(status="published").exists() and case.cohorts.filter(members=user).exists():
        relations.add("cohort")
    return relations


def encounter_relations(user, encounter) -> set[str]:
    relations = set()
    if encounter.student_id == user.pk:
        relations.add("owner")
    if encounter.cohort.members.filter(pk=user.pk).exists():
        relations.add("cohort")
    return relations


def job_relations(user, job) -> set[str]:
    relations = set()
    if job.requested_by_id == user.pk:
        relations.add("owner")
    if job.encounter_id and job.encounter.cohort.members.filter(pk=user.pk).exists():
        relations.add("cohort")
    return relations


def cohort_relations(user, cohort) -> set[str]:
    return {"member"} if cohort.members.filter(pk=user.pk).exists() else set()


def enforce(decision: int) -> None:
    if decision == Decision.FORBIDDEN:
        raise PermissionDenied("Your role cannot do this.")
    if decision == Decision.NOT_FOUND:
        raise Http404("Not found.")


def require_role_for(user, action: str) -> None:
    """For object-less actions (creating a case, listing what one may review)."""
    enforce(decide(action, _role(user), {"any", "member"}) if _role(user) else Decision.FORBIDDEN)


def decision_for_case(user, case_id: int, action: str) -> int:
    """The matrix decision for a case, without raising (for sockets)."""
    from cases.models import Case

    role = _role(user)
    if not role:
        return Decision.FORBIDDEN
    case = Case.objects.filter(pk=case_id).first()
    return decide(action, role, case_relations(user, case) if case else set())


def case_get_for_user(user, case_id: int, action: str):
    from cases.models import Case

    case = Case.objects.filter(pk=case_id).first()
    role = _role(user)
    if case is None:
        enforce(decide(action, role, set()) if role else Decision.FORBIDDEN)
        raise Http404("Not found.")
    enforce(decide(action, role, case_relations(user, case)))
    return case


def decision_for_encounter(user, encounter_id: int, action: str):
    """(decision, encounter or None) without raising: consumers turn it into a close code."""
    from simulator.encounters.models import Encounter

    role = _role(user)
    if not role:
        return Decision.FORBIDDEN, None
    encounter = Encounter.objects.select_related("case", "cohort").filter(pk=encounter_id).first()
    if encounter is None:
        decision = decide(action, role, set())
        return decision, None
    decision = decide(action, role, encounter_relations(user, encounter))
    return decision, (encounter if decision == Decision.ALLOW else None)


def encounter_get_for_user(user, encounter_id: int, action: str):
    decision, encounter = decision_for_encounter(user, encounter_id, action)
    enforce(decision)
    if encounter is None:
        raise Http404("Not found.")
    return encounter


def job_get_for_user(user, job_id: int):
    from simulator.imaging.models import GenerationJob

    role = _role(user)
    job = GenerationJob.objects.select_related("encounter__cohort").filter(pk=job_id).first()
    if job is None:
        enforce(decide("job.view", role, set()) if role else Decision.FORBIDDEN)
        raise Http404("Not found.")
    enforce(decide("job.view", role, job_relations(user, job)) if role else Decision.FORBIDDEN)
    return job


def cohort_get_for_user(user, cohort_id: int, action: str):
    from .models import Cohort

    role = _role(user)
    cohort = Cohort.objects.filter(pk=cohort_id).first()
    if cohort is None:
        enforce(decide(action, role, set()) if role else Decision.FORBIDDEN)
        raise Http404("Not found.")
    enforce(decide(action, role, cohort_relations(user, cohort)) if role else Decision.FORBIDDEN)
    return cohort

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from simulator.accounts.access import cohort_get_for_user, encounter_get_for_user, require_role_for
from simulator.encounters.selectors import encounter_timeline

from .selectors import encounters_of_cohort


@login_required
@require_GET
def cohort_list(request):
    require_role_for(request.user, "cohort.review")
    return render(request, "review/cohorts.html", {"cohorts": request.user.cohorts.order_by("name")})


@login_required
@require_GET
def cohort_sessions(request, cohort_id: int):
    cohort = cohort_get_for_user(request.user, cohort_id, "cohort.review")
    return render(request, "review/sessions.html", {
        "cohort": cohort, "encounters": encounters_of_cohort(cohort=cohort)})


@login_required
@require_GET
def encounter_replay(request, encounter_id: int):
    encounter = encounter_get_for_user(request.user, encounter_id, "encounter.replay")
    events = list(encounter_timeline(encounter=encounter))
    start = encounter.started_at
    return render(request, "review/replay.html", {
        "encounter": encounter,
        "events": [(event, (event.at - start).total_seconds()) for event in events],
    })

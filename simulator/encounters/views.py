from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from simulator.accounts.access import case_get_for_user, encounter_get_for_user

from .services import diagnosis_submit, encounter_start


@login_required
@require_POST
def case_open(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.play")
    encounter = encounter_start(case=case, student=request.user)
    return redirect("encounter_detail", encounter_id=encounter.pk)


@login_required
@require_http_methods(["GET"])
def encounter_detail(request, encounter_id: int):
    encounter = encounter_get_for_user(request.user, encounter_id, "encounter.act")
    return render(request, "encounters/encounter.html", {
        "encounter": encounter,
        "case": encounter.version,  # the version this encounter started on, whatever was published since
        "studies": encounter.version.studies.all(),
    })


@login_required
@require_POST
def diagnosis_submit_view(request, encounter_id: int):
    encounter = encounter_get_for_user(request.user, encounter_id, "encounter.act")
    try:
        diagnosis_submit(encounter=encounter, answer=request.POST.get("answer", ""))
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    return redirect("encounter_detail", encounter_id=encounter.pk)

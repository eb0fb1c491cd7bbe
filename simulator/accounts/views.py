from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from cases.selectors import cases_editable_by, versions_playable_by
from simulator.encounters.selectors import encounters_of_student
from simulator.review.selectors import encounters_reviewable_by

from .models import Role


@login_required
def home(request):
    user = request.user
    context = {"role": user.role}
    if user.role == Role.STUDENT:
        encounters = {e.case_id: e for e in encounters_of_student(student=user)}
        context["cases"] = [(v, encounters.get(v.case_id)) for v in versions_playable_by(user=user)]
    elif user.role == Role.EDUCATOR:
        context["versions"] = cases_editable_by(user=user)[:10]
    elif user.role == Role.INSTRUCTOR:
        context["cohorts"] = user.cohorts.all()
        context["encounters"] = encounters_reviewable_by(user=user)[:20]
    return render(request, "home.html", context)

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from simulator.accounts.access import case_get_for_user, require_role_for

from .forms import CaseForm, PublishForm
from .services import CaseInput, StudyInput, case_create, case_publish, case_update


def _inputs(form: CaseForm) -> tuple[CaseInput, StudyInput]:
    data = form.cleaned_data
    case = CaseInput(**{name: data[name] for name in CaseInput.__dataclass_fields__})
    study = StudyInput(
        title=data["study_title"], modality="cxr", view=data["study_view"], prompt=data["study_prompt"],
        findings=form.findings(), seed_policy=data["seed_policy"], seed=data["seed"],
    )
    return case, study


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            if field == "findings":
                target = None
            for error in errors:
                form.add_error(target, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request):
    require_role_for(request.user, "case.create")
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        case_input, study_input = _inputs(form)
        try:
            case = case_create(author=request.user, case=case_input, study=study_input)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Draft “{case.title}” saved.")
            return redirect("case_edit", case_id=case.pk)
    return render(request, "cases/case_form.html", {"form": form, "case": None})


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    form = CaseForm(request.POST or None, initial=CaseForm.initial_from(case))
    if request.method == "POST" and form.is_valid():
        case_input, study_input = _inputs(form)
        try:
            case_update(case=case, data=case_input, study=study_input)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Draft saved.")
            return redirect("case_edit", case_id=case.pk)
    publish_form = PublishForm(organisation=case.organisation, initial={"cohorts": case.cohorts.all()})
    return render(request, "cases/case_form.html", {"form": form, "case": case, "publish_form": publish_form})


@login_required
@require_http_methods(["POST"])
def case_publish_view(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    form = PublishForm(request.POST, organisation=case.organisation)
    if form.is_valid():
        try:
            case_publish(case=case, cohorts=form.cleaned_data["cohorts"])
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        else:
            names = ", ".join(c.name for c in form.cleaned_data["cohorts"])
            messages.success(request, f"Published to {names}.")
    else:
        messages.error(request, "Choose at least one cohort to publish to.")
    return redirect("case_edit", case_id=case.pk)

import numpy as np
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from inference.conditions import ConditionError, mask_to_png_b64
from simulator.accounts.access import case_get_for_user, require_role_for

from .anatomy import anatomy_pixels_header, painter_slice, study_anatomy, typical_mask
from .forms import FINDING_ROWS, CaseFilterForm, CaseForm, PublishForm, TypicalMaskForm
from .kg_services import kg_names, kg_version, version_warnings
from .models import Study
from .selectors import case_draft, case_latest_version, cases_editable_by
from .services import case_archive, case_clone, case_create, case_draft_start, case_publish, case_version_update


def _finding_row_field(form, message: str) -> str | None:
    """The findings row a message is about (it names the finding key), so the error shows beside it."""
    for i in range(FINDING_ROWS):
        key = form.cleaned_data.get(f"finding_{i}_key")
        if key and (f"'{key}'" in message or f" {key} mask" in message):
            return f"finding_{i}_key"
    return None


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                if field == "findings":
                    target = _finding_row_field(form, error)
                form.add_error(target, error)
    else:
        for error in exc.messages:
            form.add_error(None, error)


@login_required
@require_http_methods(["GET"])
def case_list(request):
    require_role_for(request.user, "case.create")
    filters = CaseFilterForm(request.GET or None, organisation=request.user.organisation)
    criteria = filters.cleaned_data if filters.is_valid() else {}
    versions = cases_editable_by(
        user=request.user, modality=criteria.get("modality", ""), diagnosis=criteria.get("diagnosis", ""),
        status=criteria.get("status", ""), author_id=getattr(criteria.get("author"), "pk", None),
    )
    return render(request, "cases/case_list.html", {"versions": versions, "filters": filters})


@login_required
@require_http_methods(["GET", "POST"])
def case_new(request):
    require_role_for(request.user, "case.create")
    form = CaseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = case_create(author=request.user, content=form.content(kg_version=kg_version()),
                                  studies=form.studies())
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Draft “{version.title}” saved.")
            return redirect("case_edit", case_id=version.case_id)
    return render(request, "cases/case_form.html", {
        "form": form, "version": None, "kg_names": kg_names(node_ids=form.linked_node_ids())})


@login_required
@require_http_methods(["GET", "POST"])
def case_edit(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    version = case_draft(case=case) or case_latest_version(case=case)
    form = CaseForm(request.POST or None, initial=CaseForm.initial_from(version))
    if request.method == "POST" and form.is_valid():
        try:
            case_version_update(version=version, content=form.content(kg_version=kg_version()),
                                studies=form.studies(), author=request.user)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Draft saved.")
            return redirect("case_edit", case_id=case.pk)
    return render(request, "cases/case_form.html", {
        "form": form,
        "kg_names": kg_names(node_ids=form.linked_node_ids()),
        "version": version,
        "case": case,
        "versions": case.versions.order_by("-number"),
        "warnings": version_warnings(version=version),
        "study": version.studies.first(),
        "publish_form": PublishForm(organisation=case.organisation, initial={"cohorts": case.cohorts.all()}),
    })


def _editable_study(request, case_id: int, study_id: int) -> Study:
    case = case_get_for_user(request.user, case_id, "case.edit")
    study = Study.objects.filter(pk=study_id, version__case=case).select_related("version").first()
    if study is None:
        raise Http404("No such study in this case.")
    return study


@login_required
@require_GET
def study_anatomy_pixels(request, case_id: int, study_id: int):
    """The case patient's anatomy (no findings) as raw samples: the mask painter's background."""
    study = _editable_study(request, case_id, study_id)
    version = study.version
    patient = dict(modality=study.modality, sex=version.patient_sex, age_band=version.age_band, seed=study.seed)
    pixels, _ = study_anatomy(view=study.view, **patient)
    pixels = np.ascontiguousarray(pixels)
    response = HttpResponse(pixels.astype(pixels.dtype.newbyteorder("<")).tobytes(),
                            content_type="application/octet-stream")
    for name, value in anatomy_pixels_header(pixels, painter_slice(**patient)).items():
        response[name] = value
    return response


@login_required
@require_GET
def study_typical_mask(request, case_id: int, study_id: int):
    """Where the simulator puts one finding in this patient, as a mask the painter can start from."""
    study = _editable_study(request, case_id, study_id)
    form = TypicalMaskForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in form.errors.items())
        return JsonResponse({"error": errors}, status=400)
    version = study.version
    try:
        mask = typical_mask(modality=study.modality, view=study.view, sex=version.patient_sex,
                            age_band=version.age_band, seed=study.seed, **form.finding())
    except ConditionError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"mask_png_b64": mask_to_png_b64(mask), "pixels": int(mask.sum())})


@login_required
@require_POST
def case_autosave(request, case_id: int):
    """Save the draft from the editor's form in the background; errors come back per field and nothing
    is saved until the draft is valid (the page keeps what was typed)."""
    case = case_get_for_user(request.user, case_id, "case.edit")
    version = case_draft(case=case)
    if version is None:
        return JsonResponse({"saved": False, "errors": {"__all__": ["This version is published; start a new "
                                                                    "draft to edit it."]}}, status=409)
    form = CaseForm(request.POST)
    if form.is_valid():
        try:
            version = case_version_update(version=version, content=form.content(kg_version=kg_version()),
                                          studies=form.studies(), author=request.user)
        except ValidationError as exc:
            _add_errors(form, exc)
    if form.errors:
        return JsonResponse({"saved": False, "errors": form.errors.get_json_data()}, status=422)
    return JsonResponse({"saved": True, "saved_at": version.updated_at.isoformat(),
                         "warnings": version_warnings(version=version)})


@login_required
@require_POST
def case_draft_start_view(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    draft = case_draft_start(case=case, author=request.user)
    messages.success(request, f"Version {draft.number} is a new draft; students keep the published version "
                              "until you publish this one.")
    return redirect("case_edit", case_id=case.pk)


@login_required
@require_POST
def case_publish_view(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    form = PublishForm(request.POST, organisation=case.organisation)
    draft = case_draft(case=case)
    if draft is None:
        messages.error(request, "There is no draft to publish.")
    elif form.is_valid():
        try:
            case_publish(version=draft, cohorts=form.cleaned_data["cohorts"])
        except ValidationError as exc:
            for error in exc.messages:
                messages.error(request, error)
        else:
            names = ", ".join(c.name for c in form.cleaned_data["cohorts"])
            messages.success(request, f"Version {draft.number} published to {names}.")
    else:
        messages.error(request, "Choose at least one cohort to publish to.")
    return redirect("case_edit", case_id=case.pk)


@login_required
@require_POST
def case_archive_view(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    try:
        case_archive(case=case)
    except ValidationError as exc:
        for error in exc.messages:
            messages.error(request, error)
    else:
        messages.success(request, "Archived: students no longer see this case; started sessions are kept.")
    return redirect("case_edit", case_id=case.pk)


@login_required
@require_POST
def case_clone_view(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    copy = case_clone(version=case_latest_version(case=case), author=request.user)
    messages.success(request, f"Cloned as a new draft case “{copy.title}”.")
    return redirect("case_edit", case_id=copy.case_id)


"""Case bundle download and upload; the format and its checks live in cases/bundles.py."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from simulator.accounts.access import case_get_for_user, require_role_for
from simulator.body_limit import BODY_OVER_LIMIT

from .bundles import (MAX_BUNDLE_BYTES, BundleError, build_bundle, bundle_filename, bundle_version,
                      import_bundle)
from .kg_services import kg_version

# The zip plus multipart overhead: a larger request is refused before it is read (by its Content-Length, or
# for a chunked upload by simulator/body_limit.py, which stops keeping its bytes at this size).
MAX_REQUEST_BYTES = MAX_BUNDLE_BYTES + 64 * 1024


class BundleUploadForm(forms.Form):
    bundle = forms.FileField(label="Case bundle (.radsim.zip)")


@login_required
@require_http_methods(["GET"])
def case_export(request, case_id: int):
    case = case_get_for_user(request.user, case_id, "case.edit")
    version = bundle_version(case)
    if version is None:
        raise Http404("Not found.")
    data = build_bundle(version, kg_version=kg_version(), exported_at=timezone.now().isoformat())
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{bundle_filename(version)}"'
    return response


@csrf_exempt  # only so that the size check below runs before the CSRF check parses the body;
@login_required  # _case_import is csrf_protect-ed
@require_http_methods(["GET", "POST"])
def case_import(request):
    require_role_for(request.user, "case.create")
    if request.method == "POST" and _over_limit(request):
        limit = MAX_BUNDLE_BYTES // (1024 * 1024)
        problems = [f"The upload is larger than {limit} MiB; nothing was imported."]
        return render(request, "cases/case_import.html", {"form": BundleUploadForm(), "problems": problems},
                      status=413)
    return _case_import(request)


def _over_limit(request) -> bool:
    if getattr(request, "scope", {}).get(BODY_OVER_LIMIT):  # a chunked upload past the cap (ASGI only)
        return True
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > MAX_REQUEST_BYTES
    except ValueError:
        return False


@csrf_protect
def _case_import(request):
    problems: list[str] = []
    if request.method == "POST":
        form = BundleUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["bundle"]
            data = upload.read(MAX_BUNDLE_BYTES + 1)  # one byte over is enough to refuse
            try:
                version = import_bundle(author=request.user, data=data)
            except BundleError as exc:
                problems = exc.problems
            else:
                messages.success(request, f"Imported “{version.title}” as a new draft.")
                return redirect("case_edit", case_id=version.case_id)
        if problems:
            form = BundleUploadForm()  # keep nothing from a rejected upload
        status = 422 if problems else 400
    else:
        form, status = BundleUploadForm(), 200
    return render(request, "cases/case_import.html", {"form": form, "problems": problems}, status=status)

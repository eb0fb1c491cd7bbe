"""Access-checked reads of a job: its state (the polling fallback of the socket) and its image."""

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from simulator.accounts.access import job_get_for_user

from .models import JobStatus
from .selectors import job_pixels_array
from .services import job_state


@login_required
@require_GET
def job_state_view(request, job_id: int):
    job = job_get_for_user(request.user, job_id)
    return JsonResponse(job_state(job))


def _done_job(request, job_id: int):
    job = job_get_for_user(request.user, job_id)
    if job.status != JobStatus.DONE:
        raise Http404("The image is not ready.")
    return job


@login_required
@require_GET
def job_display(request, job_id: int):
    job = _done_job(request, job_id)
    response = FileResponse(job.display.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_GET
def job_pixels(request, job_id: int):
    """The native pixels as raw little-endian bytes (browsers flatten 16-bit PNGs to 8 bits).

    uint16 12-bit for radiographs, int16 HU for CT, uint8 RGB for laparoscopy; the shape is in
    the job state's `pixels` and in the X-Width / X-Height / X-Dtype headers."""
    job = _done_job(request, job_id)
    pixels = job_pixels_array(job=job)
    response = HttpResponse(pixels.astype(pixels.dtype.newbyteorder("<")).tobytes(),
                            content_type="application/octet-stream")
    response["X-Width"], response["X-Height"] = str(pixels.shape[1]), str(pixels.shape[0])
    response["X-Dtype"] = str(pixels.dtype)
    response["Cache-Control"] = "private, max-age=3600"
    return response

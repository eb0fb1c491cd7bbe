"""Writes for generation jobs: create, enqueue, run, cancel."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import threading

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image

from inference.conditions import ConditionError, Conditions

from .events import job_event_on_commit, job_event_send
from .models import FINISHED, GenerationJob, JobStatus

log = logging.getLogger(__name__)

_generator_lock = threading.Lock()


def job_state(job: GenerationJob) -> dict:
    """The JSON a client sees for a job (socket state frames and the polling view)."""
    state = {
        "id": job.pk,
        "status": job.status,
        "step": job.step,
        "steps": job.steps,
        "seed": job.seed,
        "sampler": job.sampler,
        "guidance": job.guidance,
        "model_version": job.model_version,
        "error": job.error,
    }
    if job.status == JobStatus.DONE:
        state["display_url"] = f"/imaging/jobs/{job.pk}/display.png"
        state["pixels_url"] = f"/imaging/jobs/{job.pk}/pixels"
        state["pixels"] = job.provenance.get("pixels", {})
        if job.encounter_id is None and job.reading:
            state["reading"] = job.reading
    return state


@transaction.atomic
def generation_job_create(
    *, conditions: Conditions, seed: int, requested_by, encounter=None, steps: int | None = None,
    placement_seed: int | None = None,
) -> GenerationJob:
    """A queued job, enqueued once the surrounding transaction commits. With a `placement_seed`, findings
    without a drawn mask are drawn where the simulator puts them in that patient (inference/placement.py)."""
    conditions.validate()
    job = GenerationJob(
        requested_by=requested_by,
        encounter=encounter,
        conditions=conditions.to_json(),
        seed=seed,
        placement_seed=placement_seed,
        steps=steps or settings.GENERATION_STEPS,
        sampler=settings.GENERATION_SAMPLER,
        guidance=settings.GENERATION_GUIDANCE,
    )
    job.full_clean()
    job.save()
    transaction.on_commit(lambda: generation_job_enqueue(job_id=job.pk))
    return job


MAX_PREVIEW_VARIANTS = 4


@transaction.atomic
def preview_jobs_create(*, study, seeds: list[int], requested_by) -> list[GenerationJob]:
    """Draft previews for an educator: one job per seed, drawn from the study as saved."""
    from cases.selectors import study_conditions, study_placement_seed

    if not 1 <= len(seeds) <= MAX_PREVIEW_VARIANTS:
        raise ConditionError(f"ask for 1 to {MAX_PREVIEW_VARIANTS} variants, not {len(seeds)}")
    conditions, placement_seed = study_conditions(study=study), study_placement_seed(study=study)
    return [generation_job_create(conditions=conditions, seed=seed, requested_by=requested_by,
                                  placement_seed=placement_seed) for seed in seeds]


def generation_job_enqueue(*, job_id: int) -> None:
    worker = settings.GENERATION_WORKER
    if worker == "inprocess":
        from . import runner

        runner.submit(job_id)
    elif worker == "celery":
        from .tasks import generation_job_run_task

        generation_job_run_task.delay(job_id)


def generation_job_claim(*, job_id: int) -> bool:
    """Atomically take a queued job; False when another worker has it or it was cancelled."""
    claimed = GenerationJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    return claimed == 1


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _preview_data_url(array: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(_png_bytes(array)).decode("ascii")


# DICOM modality codes: the viewer offers its CT window presets only for CT
DICOM_MODALITY = {"cxr": "DX", "ct": "CT", "lap": "ES"}


def _pixels_meta(pixels: np.ndarray, modality: str) -> dict:
    meta = {
        "modality": DICOM_MODALITY[modality],
        "width": int(pixels.shape[1]),
        "height": int(pixels.shape[0]),
        "dtype": str(pixels.dtype),
        "photometric": "RGB" if pixels.ndim == 3 else "MONOCHROME2",
    }
    if modality == "ct":
        meta.update(window_center=40, window_width=400, rescale_intercept=0, unit="HU")
    elif modality == "cxr":
        meta.update(window_center=2048, window_width=4096, rescale_intercept=0, bits_stored=12)
    return meta


def generation_job_run(*, job_id: int) -> GenerationJob | None:
    """Claim and run one job to the end. Returns None when the job was not ours to run.

    Progress and previews go to watchers as they happen (no transaction is open);
    the final state is saved atomically and announced after commit."""
    if not generation_job_claim(job_id=job_id):
        return None
    job = GenerationJob.objects.get(pk=job_id)
    job_event_send(job.pk, "imaging.started", {"job_state": job_state(job)})

    from inference.pipeline import GenerationCancelled, GenerationRequest, get_generator

    try:
        conditions = Conditions.from_json(job.conditions)
        request = GenerationRequest(
            conditions=conditions, seed=job.seed, steps=job.steps, sampler=job.sampler, guidance=job.guidance,
            placement_seed=job.placement_seed,
        )
        request.validate()

        def on_step(preview) -> bool:
            # one query per step: record progress unless a cancel was asked (then 0 rows change)
            going_on = GenerationJob.objects.filter(pk=job.pk, cancel_requested=False).update(step=preview.step)
            job_event_send(
                job.pk,
                "imaging.progress",
                {"step": preview.step, "total": preview.total, "preview": _preview_data_url(preview.image)},
            )
            return going_on == 1

        with _generator_lock:  # one generation at a time per process
            generator = get_generator(settings.GENERATION_WEIGHTS or None, threads=settings.GENERATION_THREADS)
            result = generator.generate(request, on_step=on_step)
    except GenerationCancelled:
        return _finish(job, status=JobStatus.CANCELLED, error="Cancelled.")
    except ConditionError as exc:
        return _finish(job, status=JobStatus.FAILED, error=str(exc))
    except Exception as exc:
        log.exception("generation job %s failed", job.pk)
        return _finish(job, status=JobStatus.FAILED, error=f"The generator failed: {type(exc).__name__}")

    pixels = np.ascontiguousarray(result.pixels)
    job.model_version = result.model_version
    job.pixels_sha256 = hashlib.sha256(pixels.tobytes()).hexdigest()
    provenance = dict(result.provenance)
    provenance["pixels"] = _pixels_meta(pixels, conditions.modality)
    provenance["pixels_sha256"] = job.pixels_sha256
    job.provenance = provenance
    native = pixels.astype(np.uint16) if pixels.dtype == np.int16 else pixels
    if pixels.dtype == np.int16:  # HU stored shifted into uint16, like a CT's rescale intercept
        native = (pixels.astype(np.int32) + 1024).clip(0, 65535).astype(np.uint16)
        job.provenance["pixels"]["stored_offset"] = 1024
    job.image.save(f"job-{job.pk}.png", ContentFile(_png_bytes(native)), save=False)
    job.display.save(f"job-{job.pk}-display.png", ContentFile(_png_bytes(result.display)), save=False)
    if job.encounter_id is None:  # an educator's preview: what the reader sees in it
        job.reading = _reading(pixels, conditions, job_id=job.pk)
    return _finish(job, status=JobStatus.DONE)


def _reading(pixels: np.ndarray, conditions: Conditions, *, job_id: int) -> dict:
    """The reader's reading of a preview; a reader that fails loses the reading, never the image."""
    from inference.reading import read_generated

    try:
        return read_generated(pixels, conditions)
    except Exception as exc:
        log.exception("reading of generation job %s failed", job_id)
        return {"available": False, "reason": f"the reader failed: {type(exc).__name__}"}


@transaction.atomic
def _finish(job: GenerationJob, *, status: str, error: str = "") -> GenerationJob:
    job.status = status
    job.error = error
    job.finished_at = timezone.now()
    if status == JobStatus.DONE:
        job.step = job.steps
    job.save()
    if job.encounter_id:
        from simulator.encounters.services import encounter_job_finished

        encounter_job_finished(job=job)
    event = {JobStatus.DONE: "imaging.done", JobStatus.FAILED: "imaging.failed"}.get(status, "imaging.cancelled")
    job_event_on_commit(job.pk, event, {"job_state": job_state(job)})
    return job


def generation_job_cancel(*, job: GenerationJob) -> GenerationJob:
    """Ask a job to stop: a queued one stops now, a running one between two sampler steps."""
    if job.status in FINISHED:
        return job
    GenerationJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    if GenerationJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(status=JobStatus.CANCELLED):
        job.refresh_from_db()
        return _finish(job, status=JobStatus.CANCELLED, error="Cancelled before it started.")
    job.refresh_from_db()
    return job

"""Celery entry points: take an id, call one service; running twice is harmless (the claim is atomic)."""

from celery import shared_task


@shared_task(name="imaging.generation_job_run", acks_late=True)
def generation_job_run_task(job_id: int) -> str:
    from .services import generation_job_run

    job = generation_job_run(job_id=job_id)
    return job.status if job is not None else "not claimed"

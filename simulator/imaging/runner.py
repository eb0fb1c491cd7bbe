"""The in-process generation worker of the embedded default: one thread in the web process.

One thread, because the generator and daphne share two cores (FIELD-NOTES: OpenMP threads that
fight slow a forward 2-16x); jobs queue behind each other. Scale-out replaces this with Celery.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import close_old_connections

log = logging.getLogger(__name__)

_executor: ThreadPoolExecutor | None = None


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generator")
    return _executor


def _run(job_id: int) -> None:
    from .services import generation_job_run

    close_old_connections()
    try:
        generation_job_run(job_id=job_id)
    except Exception:  # the service records failures; this only keeps the worker thread alive
        log.exception("generation job %s crashed the worker", job_id)
    finally:
        close_old_connections()


def submit(job_id: int) -> Future:
    return _get_executor().submit(_run, job_id)

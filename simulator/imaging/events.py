"""Socket events for generation jobs: one group per job, one message per job per frame.

Never one message per socket: the in-memory layer scans every channel on each group_send
(docs/ARCHITECTURE.md). State changes go out only after their transaction commits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .models import job_group_name

log = logging.getLogger(__name__)

# The event loop that owns the in-memory channel layer's queues (daphne's loop, or a test's).
# Threads of the in-process worker hand their sends to it; asyncio queues are not thread-safe.
_layer_loop: asyncio.AbstractEventLoop | None = None
_layer_loop_lock = threading.Lock()


def bind_layer_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by consumers on connect, from the loop that serves sockets."""
    global _layer_loop
    with _layer_loop_lock:
        _layer_loop = loop


def job_event_send(job_id: int, event_type: str, payload: dict) -> None:
    """Send one event to everyone watching the job, now (call from sync code, not inside an atomic block)."""
    message = {"type": event_type, "job": job_id, **payload}
    layer = get_channel_layer()
    group = job_group_name(job_id)
    loop = _layer_loop
    if loop is not None and not loop.is_closed() and _is_in_memory(layer):
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            loop.create_task(layer.group_send(group, message))
            return
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        try:
            future.result(timeout=5)
        except Exception:  # a watcher that went away must not fail the job
            log.warning("could not deliver %s for job %s", event_type, job_id, exc_info=True)
        return
    async_to_sync(layer.group_send)(group, message)


def job_event_on_commit(job_id: int, event_type: str, payload: dict) -> None:
    """Send after the surrounding transaction commits (Zulip's send_event_on_commit)."""
    json.dumps(payload)  # an event that cannot be serialised fails here, where it was built
    transaction.on_commit(lambda: job_event_send(job_id, event_type, payload))


def _is_in_memory(layer) -> bool:
    return type(layer).__name__ == "InMemoryChannelLayer"

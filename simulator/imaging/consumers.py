"""Websocket for a student's studies in one encounter: order a study, watch it stream in.

Client -> server:  {"type": "order", "study": <id>}  |  {"type": "cancel", "job": <id>}
                   {"type": "viewed", "job": <id>}   (the viewer displayed the finished image)
Server -> client:  {"type": "state", "jobs": [...]} first, then per job
                   "queued" | "started" | "progress" (step, total, preview data URL) | "done" | "failed" | "cancelled",
                   and {"type": "error", "error": "..."} for a message it could not take.
Close codes: 4401 not logged in, 4403 wrong role, 4404 not yours / not found.
"""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from inference.conditions import ConditionError
from simulator.accounts.access import decision_for_case, decision_for_encounter, job_get_for_user
from simulator.accounts.permissions import Decision

from .events import bind_layer_loop
from .models import FINISHED, GenerationJob, job_group_name
from .services import MAX_PREVIEW_VARIANTS, generation_job_cancel, job_state, preview_jobs_create

MAX_MESSAGE_BYTES = 4096


class ClientError(Exception):
    pass


def _error_text(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


class JobStreamConsumer(AsyncJsonWebsocketConsumer):
    """What every imaging socket shares: strict frame parsing with error frames, watching job groups,
    and forwarding the worker's events. Subclasses authorise in `connect` and map message types to
    handlers in `handlers()`."""

    watched: set[int]

    def handlers(self) -> dict:
        raise NotImplementedError

    async def disconnect(self, code):
        for job_id in getattr(self, "watched", set()):
            await self.channel_layer.group_discard(job_group_name(job_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        try:
            if text_data is None:
                raise ClientError("send JSON text frames")
            if len(text_data) > MAX_MESSAGE_BYTES:
                raise ClientError(f"message over {MAX_MESSAGE_BYTES} bytes")
            try:
                content = json.loads(text_data)
            except json.JSONDecodeError:
                raise ClientError("message is not JSON") from None
            if not isinstance(content, dict):
                raise ClientError("message must be a JSON object")
            await self.receive_json(content)
        except ClientError as exc:
            await self.send_json({"type": "error", "error": str(exc)})

    async def receive_json(self, content, **kwargs):
        kind = content.get("type")
        handlers = self.handlers()
        handler = handlers.get(kind)
        if handler is None:
            expected = ", ".join(handlers)
            raise ClientError(f"unknown message type {kind!r} (expected {expected})")
        await handler(content)

    @staticmethod
    def _id(content: dict, field: str) -> int:
        value = content.get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ClientError(f"'{field}' must be a positive integer id")
        return value

    async def _watch(self, job_id: int):
        if job_id not in self.watched:
            self.watched.add(job_id)
            await self.channel_layer.group_add(job_group_name(job_id), self.channel_name)

    # -- events from the worker (one group message per job per frame) ----------------------------------

    async def imaging_started(self, event):
        await self.send_json({"type": "started", "job": event["job_state"]})

    async def imaging_progress(self, event):
        await self.send_json(
            {"type": "progress", "job": event["job"], "step": event["step"], "total": event["total"],
             "preview": event["preview"]}
        )

    async def imaging_done(self, event):
        await self.send_json({"type": "done", "job": event["job_state"]})

    async def imaging_failed(self, event):
        await self.send_json({"type": "failed", "job": event["job_state"]})

    async def imaging_cancelled(self, event):
        await self.send_json({"type": "cancelled", "job": event["job_state"]})


class EncounterImagingConsumer(JobStreamConsumer):
    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        self.encounter_id = self.scope["url_route"]["kwargs"]["encounter_id"]
        decision, encounter = await database_sync_to_async(decision_for_encounter)(
            user, self.encounter_id, "encounter.view"
        )
        if decision != Decision.ALLOW:
            await self.close(code=4000 + decision)
            return
        self.can_act = (await database_sync_to_async(decision_for_encounter)(
            user, self.encounter_id, "encounter.act"))[0] == Decision.ALLOW
        self.watched: set[int] = set()
        bind_layer_loop(asyncio.get_running_loop())
        await self.accept()
        jobs = await self._encounter_jobs()
        for job in jobs:
            if job["status"] not in FINISHED:
                await self._watch(job["id"])
        await self.send_json({"type": "state", "encounter": self.encounter_id, "jobs": jobs})

    def handlers(self) -> dict:
        return {"order": self._acting(self._order), "cancel": self._acting(self._cancel),
                "viewed": self._acting(self._viewed)}

    def _acting(self, handler):
        async def guarded(content):
            if not self.can_act:
                raise ClientError("only the student of this case can do that")
            await handler(content)

        return guarded

    async def _order(self, content):
        study_id = self._id(content, "study")
        try:
            state = await self._order_create(study_id)
        except ValidationError as exc:
            raise ClientError(_error_text(exc)) from None
        await self._watch(state["id"])
        # state after joining the group: nothing between queueing and joining is lost
        state = await self._job_state(state["id"])
        await self.send_json({"type": "queued", "job": state})

    async def _cancel(self, content):
        job_id = self._id(content, "job")
        state = await self._job_cancel(job_id)
        await self.send_json({"type": "job", "job": state})

    async def _viewed(self, content):
        job_id = self._id(content, "job")
        try:
            await self._image_shown(job_id)
        except ValidationError as exc:
            raise ClientError(_error_text(exc)) from None

    # -- database --------------------------------------------------------------------------------------

    @database_sync_to_async
    def _encounter_jobs(self) -> list[dict]:
        jobs = GenerationJob.objects.filter(encounter_id=self.encounter_id).order_by("created_at")
        return [dict(job_state(job), study=getattr(getattr(job, "order", None), "study_id", None)) for job in jobs]

    @database_sync_to_async
    def _job_state(self, job_id: int) -> dict:
        job = GenerationJob.objects.get(pk=job_id)
        return dict(job_state(job), study=job.order.study_id)

    @database_sync_to_async
    def _order_create(self, study_id: int) -> dict:
        from simulator.encounters.models import Encounter
        from simulator.encounters.services import order_create

        encounter = Encounter.objects.get(pk=self.encounter_id)
        order = order_create(encounter=encounter, study_id=study_id)
        return job_state(order.job)

    def _own_job(self, job_id: int) -> GenerationJob:
        try:
            job = job_get_for_user(self.scope["user"], job_id)
        except (Http404, PermissionDenied):
            raise ClientError(f"job {job_id} is not part of this case") from None
        if job.encounter_id != self.encounter_id:
            raise ClientError(f"job {job_id} is not part of this case")
        return job

    @database_sync_to_async
    def _job_cancel(self, job_id: int) -> dict:
        return job_state(generation_job_cancel(job=self._own_job(job_id)))

    @database_sync_to_async
    def _image_shown(self, job_id: int) -> None:
        from simulator.encounters.services import encounter_image_shown

        job = self._own_job(job_id)
        encounter_image_shown(encounter=job.encounter, job=job)


MAX_SEED = 2**31 - 1


class CasePreviewConsumer(JobStreamConsumer):
    """The educator's previews of a draft's study, streamed like a student's order.

    Client -> server: {"type": "preview", "seeds": [s, ...]} (1-4 seeds) | {"type": "cancel", "job": <id>}
    Server -> client: {"type": "queued", "jobs": [...]}, then the same job events as students get."""

    async def connect(self):
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return
        self.case_id = self.scope["url_route"]["kwargs"]["case_id"]
        decision = await database_sync_to_async(decision_for_case)(user, self.case_id, "case.edit")
        if decision != Decision.ALLOW:
            await self.close(code=4000 + decision)
            return
        self.watched = set()
        bind_layer_loop(asyncio.get_running_loop())
        await self.accept()
        await self.send_json({"type": "state", "case": self.case_id, "max_variants": MAX_PREVIEW_VARIANTS})

    def handlers(self) -> dict:
        return {"preview": self._preview, "cancel": self._cancel}

    async def _preview(self, content):
        seeds = content.get("seeds")
        if not isinstance(seeds, list) or not seeds:
            raise ClientError("'seeds' must be a list of 1 to 4 integers")
        if len(seeds) > MAX_PREVIEW_VARIANTS:
            raise ClientError(f"at most {MAX_PREVIEW_VARIANTS} variants at a time")
        if any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED for s in seeds):
            raise ClientError(f"each seed must be an integer from 0 to {MAX_SEED}")
        try:
            states = await self._preview_create(seeds)
        except (ValidationError, ConditionError) as exc:
            message = _error_text(exc) if isinstance(exc, ValidationError) else str(exc)
            raise ClientError(message) from None
        for state in states:
            await self._watch(state["id"])
        await self.send_json({"type": "queued", "jobs": states})

    async def _cancel(self, content):
        job_id = self._id(content, "job")
        if job_id not in self.watched:
            raise ClientError(f"job {job_id} is not a preview of this socket")
        state = await database_sync_to_async(
            lambda: job_state(generation_job_cancel(job=GenerationJob.objects.get(pk=job_id))))()
        await self.send_json({"type": "job", "job": state})

    @database_sync_to_async
    def _preview_create(self, seeds: list[int]) -> list[dict]:
        from cases.models import Case
        from cases.selectors import case_draft, case_latest_version

        case = Case.objects.get(pk=self.case_id)
        version = case_draft(case=case) or case_latest_version(case=case)
        study = version.studies.first()
        if study is None:
            raise ValidationError("Save the case with an imaging study first.")
        jobs = preview_jobs_create(study=study, seeds=seeds, requested_by=self.scope["user"])
        return [job_state(job) for job in jobs]

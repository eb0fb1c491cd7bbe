"""The encounter imaging socket: protocol, streaming from the in-process worker, errors, auth."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from PIL import Image

from simulator.encounters.models import EncounterEvent, EventKind
from simulator.imaging import runner
from simulator.imaging.models import GenerationJob, JobStatus
from simulator.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def communicator(encounter, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/encounters/{encounter.pk}/imaging/")
    comm.scope["user"] = user
    return comm


async def connected(encounter, user) -> tuple[WebsocketCommunicator, dict]:
    comm = communicator(encounter, user)
    ok, code = await comm.connect()
    assert ok, f"refused with {code}"
    state = await comm.receive_json_from(timeout=5)
    assert state["type"] == "state"
    return comm, state


async def run_worker(job_id: int):
    """Run the job on the real in-process worker thread and wait for it."""
    await asyncio.wrap_future(runner.submit(job_id))


async def test_order_streams_progress_previews_then_the_final_image(world, sam_encounter):
    comm, state = await connected(sam_encounter, world.sam)
    assert state["jobs"] == []
    await comm.send_json_to({"type": "order", "study": world.study.pk})
    queued = await comm.receive_json_from(timeout=5)
    assert queued["type"] == "queued" and queued["job"]["status"] == "queued"
    job_id = queued["job"]["id"]

    worker = asyncio.ensure_future(run_worker(job_id))
    frames = []
    while True:
        frame = await comm.receive_json_from(timeout=60)
        frames.append(frame)
        if frame["type"] in ("done", "failed", "cancelled"):
            break
    await worker

    kinds = [f["type"] for f in frames]
    assert kinds[0] == "started" and kinds[-1] == "done", kinds
    progress = [f for f in frames if f["type"] == "progress"]
    steps = (await database_sync_to_async(GenerationJob.objects.get)(pk=job_id)).steps
    assert [p["step"] for p in progress] == list(range(1, steps + 1))
    assert len(progress) >= 3
    for p in progress:
        assert p["total"] == steps
        header, data = p["preview"].split(",", 1)
        assert header == "data:image/png;base64"
        image = Image.open(io.BytesIO(base64.b64decode(data)))
        assert image.size[0] >= 32
    # previews change as the sample is denoised
    assert progress[0]["preview"] != progress[-1]["preview"]
    done = frames[-1]["job"]
    assert done["status"] == "done" and "@" in done["model_version"]
    assert done["pixels"]["width"] >= 64 and done["pixels_url"].endswith("/pixels")
    # the reader's reading of an image would tell the student what it shows: only educators' previews get one
    assert "reading" not in done
    job = await database_sync_to_async(GenerationJob.objects.get)(pk=job_id)
    assert job.reading == {}

    await comm.send_json_to({"type": "viewed", "job": job_id})
    await comm.receive_nothing(timeout=0.3)
    kinds = await database_sync_to_async(
        lambda: list(EncounterEvent.objects.filter(encounter=sam_encounter).values_list("kind", flat=True))
    )()
    assert kinds == [EventKind.OPENED, EventKind.ORDERED, EventKind.STUDY_READY, EventKind.IMAGE_SHOWN]
    await comm.disconnect()

    # a student who comes back gets the finished job in the first frame
    comm, state = await connected(sam_encounter, world.sam)
    assert [j["status"] for j in state["jobs"]] == ["done"]
    assert state["jobs"][0]["study"] == world.study.pk
    await comm.disconnect()


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("this is not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "launch"}', "unknown message type"),
        ('{"type": "order"}', "'study' must be a positive integer"),
        ('{"type": "order", "study": "7"}', "'study' must be a positive integer"),
        ('{"type": "order", "study": true}', "'study' must be a positive integer"),
        ('{"type": "order", "study": 999999}', "is not part of this case"),
        ('{"type": "cancel", "job": 999999}', "is not part of this case"),
        ('{"type": "viewed", "job": -3}', "'job' must be a positive integer"),
    ],
)
async def test_malformed_messages_get_an_error_frame_and_the_socket_stays_open(world, sam_encounter, raw, expected):
    comm, _ = await connected(sam_encounter, world.sam)
    await comm.send_to(text_data=raw)
    frame = await comm.receive_json_from(timeout=5)
    assert frame["type"] == "error" and expected in frame["error"]
    # still usable afterwards
    await comm.send_json_to({"type": "order", "study": world.study.pk})
    assert (await comm.receive_json_from(timeout=5))["type"] == "queued"
    await comm.disconnect()


async def test_binary_and_oversized_frames_are_refused_politely(world, sam_encounter):
    comm, _ = await connected(sam_encounter, world.sam)
    await comm.send_to(bytes_data=b"\x00\x01")
    assert "JSON text" in (await comm.receive_json_from(timeout=5))["error"]
    await comm.send_to(text_data='{"type": "order", "pad": "' + "x" * 5000 + '"}')
    assert "over" in (await comm.receive_json_from(timeout=5))["error"]
    await comm.disconnect()


async def test_a_study_of_another_case_cannot_be_ordered(world, sam_encounter):
    from cases.services import case_create
    from tests.factories import CASE_INPUT, STUDY_INPUT

    other = await database_sync_to_async(case_create)(author=world.elena, content=CASE_INPUT,
                                                      studies=[STUDY_INPUT])
    other_study = await database_sync_to_async(lambda: other.studies.get().pk)()
    comm, _ = await connected(sam_encounter, world.sam)
    await comm.send_json_to({"type": "order", "study": other_study})
    frame = await comm.receive_json_from(timeout=5)
    assert frame["type"] == "error" and "not part of this case" in frame["error"]
    assert await database_sync_to_async(GenerationJob.objects.count)() == 0
    await comm.disconnect()


async def test_instructor_may_watch_but_not_order(world, sam_encounter):
    comm, _ = await connected(sam_encounter, world.ivan)
    await comm.send_json_to({"type": "order", "study": world.study.pk})
    frame = await comm.receive_json_from(timeout=5)
    assert frame["type"] == "error" and "only the student" in frame["error"]
    await comm.disconnect()


async def test_refusals_close_with_codes(world, sam_encounter):
    from django.contrib.auth.models import AnonymousUser

    cases = [(AnonymousUser(), 4401), (world.omar, 4404), (world.tara, 4404), (world.bea, 4404), (world.elena, 4403)]
    for user, code in cases:
        comm = communicator(sam_encounter, user)
        ok, got = await comm.connect()
        assert not ok and got == code, (user, got)


async def test_cancel_before_the_worker_starts(world, sam_encounter):
    comm, _ = await connected(sam_encounter, world.sam)
    await comm.send_json_to({"type": "order", "study": world.study.pk})
    job_id = (await comm.receive_json_from(timeout=5))["job"]["id"]
    await comm.send_json_to({"type": "cancel", "job": job_id})
    frames = [await comm.receive_json_from(timeout=5), await comm.receive_json_from(timeout=5)]
    assert {f["type"] for f in frames} == {"job", "cancelled"}
    assert all(f["job"]["status"] == "cancelled" for f in frames)
    await run_worker(job_id)  # a worker that picks it up later does nothing
    job = await database_sync_to_async(GenerationJob.objects.get)(pk=job_id)
    assert job.status == JobStatus.CANCELLED and job.step == 0
    # ordering again makes a new job
    await comm.send_json_to({"type": "order", "study": world.study.pk})
    again = await comm.receive_json_from(timeout=5)
    assert again["type"] == "queued" and again["job"]["id"] != job_id
    await comm.disconnect()


async def test_cancel_while_running_stops_between_steps(world, sam_encounter, settings):
    settings.GENERATION_STEPS = 12
    comm, _ = await connected(sam_encounter, world.sam)
    await comm.send_json_to({"type": "order", "study": world.study.pk})
    job_id = (await comm.receive_json_from(timeout=5))["job"]["id"]
    worker = asyncio.ensure_future(run_worker(job_id))
    while (frame := await comm.receive_json_from(timeout=60))["type"] != "progress":
        pass
    await comm.send_json_to({"type": "cancel", "job": job_id})
    kinds = []
    while not kinds or kinds[-1] != "cancelled":
        kinds.append((await comm.receive_json_from(timeout=60))["type"])
    await worker
    job = await database_sync_to_async(GenerationJob.objects.get)(pk=job_id)
    assert job.status == JobStatus.CANCELLED and job.step < 12
    await comm.disconnect()


async def test_a_job_that_cannot_be_generated_fails_with_a_clear_message(world, sam_encounter):
    job = await database_sync_to_async(GenerationJob.objects.create)(
        requested_by=world.sam, encounter=sam_encounter, conditions={"modality": "xray"}, seed=1, steps=4,
        sampler="ddim", guidance=1.0,
    )
    comm, _ = await connected(sam_encounter, world.sam)
    await run_worker(job.pk)
    frames = [await comm.receive_json_from(timeout=10) for _ in range(2)]
    assert [f["type"] for f in frames] == ["started", "failed"]
    assert "unknown modality 'xray'" in frames[-1]["job"]["error"]
    await comm.disconnect()


async def test_full_stack_checks_session_and_origin(world, sam_encounter):
    """Through simulator.asgi.application: AuthMiddlewareStack reads the session cookie and
    AllowedHostsOriginValidator refuses sockets opened from another site."""
    from django.test import Client

    from simulator.asgi import application

    client = Client()
    await sync_to_async(client.force_login)(world.sam)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    path = f"/ws/encounters/{sam_encounter.pk}/imaging/"

    good = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1:8000"),
                                                             (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)])
    ok, _ = await good.connect()
    assert ok and (await good.receive_json_from(timeout=5))["type"] == "state"
    await good.disconnect()

    foreign = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://evil.example"),
                                                                (b"host", b"127.0.0.1:8000"), (b"cookie", cookie)])
    ok, _ = await foreign.connect()
    assert not ok

    anonymous = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://127.0.0.1:8000"),
                                                                  (b"host", b"127.0.0.1:8000")])
    ok, code = await anonymous.connect()
    assert not ok and code == 4401

"""The educator's preview socket: variants stream like a student's study; only the case's editors."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from cases.services import case_draft_start
from simulator.imaging import runner
from simulator.imaging.models import GenerationJob
from simulator.routing import websocket_urlpatterns

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def open_preview(case, user):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/cases/{case.pk}/preview/")
    comm.scope["user"] = user
    ok, code = await comm.connect()
    return comm, ok, code


async def test_four_variants_stream_and_finish(world):
    await database_sync_to_async(case_draft_start)(case=world.case, author=world.emil)
    comm, ok, _ = await open_preview(world.case, world.emil)  # a co-author
    assert ok and (await comm.receive_json_from(timeout=5))["max_variants"] == 4
    await comm.send_json_to({"type": "preview", "seeds": [1, 2, 3, 4]})
    queued = await comm.receive_json_from(timeout=5)
    assert queued["type"] == "queued" and [j["seed"] for j in queued["jobs"]] == [1, 2, 3, 4]
    ids = [j["id"] for j in queued["jobs"]]
    workers = [asyncio.wrap_future(runner.submit(i)) for i in ids]
    done, progress, readings = set(), 0, []
    while len(done) < 4:
        frame = await comm.receive_json_from(timeout=90)
        if frame["type"] == "progress":
            progress += 1
        if frame["type"] == "done":
            done.add(frame["job"]["id"])
            readings.append(frame["job"]["reading"])
    await asyncio.gather(*workers)
    assert done == set(ids) and progress >= 4 * 3
    jobs = await database_sync_to_async(lambda: list(GenerationJob.objects.filter(pk__in=ids)))()
    assert len({j.pixels_sha256 for j in jobs}) == 4  # four different images
    assert all(j.encounter_id is None and j.requested_by_id == world.emil.pk for j in jobs)
    # under each variant, the reader's reading of the study's one finding (the right effusion)
    for r in readings:
        assert r["available"] and r["reader"] == "reader-cxr-64.safetensors"
        assert [(f["key"], f["laterality"]) for f in r["findings"]] == [("effusion", "right")]
        assert isinstance(r["findings"][0]["seen"], bool) and isinstance(r["extra"], list)
    assert sorted(map(str, readings)) == sorted(str(j.reading) for j in jobs)  # stored with the job
    await comm.disconnect()


@pytest.mark.parametrize("message,error", [
    ({"type": "preview"}, "'seeds' must be a list"),
    ({"type": "preview", "seeds": [1, 2, 3, 4, 5]}, "at most 4 variants"),
    ({"type": "preview", "seeds": [-1]}, "integer from 0"),
    ({"type": "preview", "seeds": ["7"]}, "integer from 0"),
    ({"type": "cancel", "job": 12345}, "not a preview of this socket"),
    ({"type": "order", "study": 1}, "unknown message type 'order'"),
])
async def test_bad_preview_requests_get_error_frames(world, message, error):
    comm, ok, _ = await open_preview(world.case, world.elena)
    await comm.receive_json_from(timeout=5)
    await comm.send_json_to(message)
    frame = await comm.receive_json_from(timeout=5)
    assert frame["type"] == "error" and error in frame["error"]
    await comm.disconnect()


async def test_only_editors_of_the_case_may_preview(world):
    for user, code in [(world.olga, 4404), (world.sam, 4403), (world.ivan, 4403)]:
        _, ok, got = await open_preview(world.case, user)
        assert not ok and got == code, (user, got)

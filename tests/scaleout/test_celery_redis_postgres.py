"""The scale-out path for real: PostgreSQL holds the job, a Celery worker process takes the task from
Redis, runs the generator and publishes progress through channels_redis; this test listens on the job's
group like a consumer in another daphne process would. Needs the local PostgreSQL and Redis servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
PG = "postgres://postgres@127.0.0.1:5432"
REDIS = "redis://127.0.0.1:6379/3"

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def scaleout_env(tmp_path):
    name = f"radsim_scaleout_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG + "/postgres", autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is needed for the scale-out test: {exc}")
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="simulator.settings",
        DATABASE_URL=f"{PG}/{name}",
        REDIS_URL=REDIS,
        RADSIM_VAR_DIR=str(tmp_path),
        RADSIM_CHANNEL_PREFIX=f"t{uuid.uuid4().hex[:8]}",
        RADSIM_CELERY_QUEUE=f"generate-{uuid.uuid4().hex[:8]}",
        RADSIM_GENERATION_STEPS="6",
        PYTHONUNBUFFERED="1",
    )
    for command in (["migrate", "--noinput", "-v0"], ["seed_demo"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    yield env
    with psycopg.connect(PG + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage_shell(env: dict, code: str) -> str:
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip()


CREATE_JOB = """
from cases.models import CaseVersion
from simulator.accounts.models import User
from simulator.encounters.services import encounter_start, order_create
from django.conf import settings
settings.GENERATION_WORKER = "off"  # the test enqueues once it listens
student = User.objects.get(username="student1")
version = CaseVersion.objects.filter(status="published").order_by("pk").first()
encounter = encounter_start(case=version.case, student=student)
print(order_create(encounter=encounter, study_id=version.studies.get().pk).job_id)
"""


def test_celery_worker_generates_and_streams_through_redis(scaleout_env):
    from celery import Celery
    from channels_redis.core import RedisChannelLayer

    env = scaleout_env
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "simulator", "worker", "-Q", env["RADSIM_CELERY_QUEUE"],
         "--pool", "solo", "--concurrency", "1", "--loglevel", "warning", "--without-heartbeat",
         "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        job_id = int(manage_shell(env, CREATE_JOB).splitlines()[-1])
        layer = RedisChannelLayer(hosts=[REDIS], prefix=env["RADSIM_CHANNEL_PREFIX"])
        client = Celery(broker=REDIS)

        async def listen() -> list[dict]:
            channel = await layer.new_channel()
            await layer.group_add(f"imaging.job.{job_id}", channel)
            client.send_task("imaging.generation_job_run", args=[job_id], queue=env["RADSIM_CELERY_QUEUE"])
            received = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                message = await asyncio.wait_for(layer.receive(channel), timeout=deadline - time.monotonic())
                received.append(message)
                if message["type"] in ("imaging.done", "imaging.failed"):
                    break
            await layer.flush()
            return received

        messages = asyncio.run(listen())
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()

    kinds = [m["type"] for m in messages]
    assert kinds[0] == "imaging.started", output
    assert kinds[-1] == "imaging.done", (kinds, messages[-1], output)
    assert [m["step"] for m in messages if m["type"] == "imaging.progress"] == [1, 2, 3, 4, 5, 6]
    assert messages[-1]["job_state"]["model_version"]

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        status, sha, step = conn.execute(
            "SELECT status, pixels_sha256, step FROM imaging_generationjob WHERE id = %s", (job_id,)
        ).fetchone()
        events = [row[0] for row in conn.execute(
            "SELECT kind FROM encounters_encounterevent ORDER BY id").fetchall()]
    assert (status, step, len(sha)) == ("done", 6, 64)
    assert events == ["opened", "ordered", "study_ready"]

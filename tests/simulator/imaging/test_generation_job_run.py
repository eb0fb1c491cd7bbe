"""Running a job: provenance, bit-for-bit regeneration, the pixel endpoints, claims and events."""

import hashlib

import numpy as np
import pytest

from inference.conditions import Conditions
from simulator.imaging.models import GenerationJob, JobStatus
from simulator.imaging.selectors import job_pixels_array
from simulator.imaging.services import generation_job_claim, generation_job_create, generation_job_run


def _job(world, seed=11, encounter=None):
    from cases.selectors import study_conditions

    return generation_job_create(conditions=study_conditions(study=world.study), seed=seed,
                                 requested_by=world.sam, encounter=encounter)


@pytest.mark.django_db(transaction=True)
def test_a_job_records_provenance_and_regenerates_bit_for_bit(world, sam_encounter):
    first = generation_job_run(job_id=_job(world, encounter=sam_encounter).pk)
    assert first.status == JobStatus.DONE
    provenance = first.provenance
    for key in ("model_version", "sampler", "steps", "guidance", "seed", "conditions"):
        assert key in provenance, key
    assert provenance["seed"] == 11 and provenance["model_version"] == first.model_version
    assert Conditions.from_json(provenance["conditions"]).findings[0].key == "effusion"

    # regenerate from what the job recorded: same device, same bytes
    again = generation_job_create(conditions=Conditions.from_json(provenance["conditions"]),
                                  seed=provenance["seed"], requested_by=world.tara)
    again = generation_job_run(job_id=again.pk)
    assert again.pixels_sha256 == first.pixels_sha256
    pixels = job_pixels_array(job=again)
    assert hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest() == first.pixels_sha256
    assert pixels.dtype == np.uint16 and pixels.max() <= 4095

    other_seed = generation_job_run(job_id=_job(world, seed=12).pk)
    assert other_seed.pixels_sha256 != first.pixels_sha256


@pytest.mark.django_db(transaction=True)
def test_a_placed_job_records_its_placement_and_regenerates_bit_for_bit(world):
    from cases.selectors import study_conditions

    conditions = study_conditions(study=world.study)
    assert not conditions.findings[0].mask_png_b64  # the demo effusion has no drawn mask

    def run(placement_seed):
        job = generation_job_create(conditions=conditions, seed=11, requested_by=world.tara,
                                    placement_seed=placement_seed)
        return generation_job_run(job_id=job.pk)

    placed, again, unplaced = run(world.study.seed), run(world.study.seed), run(None)
    assert placed.status == JobStatus.DONE
    assert placed.provenance["placement"] == {"seed": world.study.seed, "placed": ["effusion:right"]}
    assert unplaced.provenance["placement"] is None
    assert placed.pixels_sha256 == again.pixels_sha256 != unplaced.pixels_sha256


@pytest.mark.django_db(transaction=True)
def test_pixels_endpoint_returns_raw_samples_to_those_allowed(world, sam_encounter, client):
    job = generation_job_run(job_id=_job(world, encounter=sam_encounter).pk)
    client.force_login(world.sam)
    response = client.get(f"/imaging/jobs/{job.pk}/pixels")
    assert response.status_code == 200 and response["X-Dtype"] == "uint16"
    width, height = int(response["X-Width"]), int(response["X-Height"])
    samples = np.frombuffer(response.content, dtype="<u2").reshape(height, width)
    assert np.array_equal(samples, job_pixels_array(job=job))
    assert client.get(f"/imaging/jobs/{job.pk}/display.png")["Content-Type"] == "image/png"
    state = client.get(f"/imaging/jobs/{job.pk}/").json()
    assert state["status"] == "done" and state["pixels"]["width"] == width
    assert state["pixels"]["modality"] == "DX"  # a radiograph: the viewer offers it no CT window presets
    client.force_login(world.omar)
    assert client.get(f"/imaging/jobs/{job.pk}/pixels").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_an_unfinished_job_has_no_image_yet(world, sam_encounter, client):
    job = _job(world, encounter=sam_encounter)
    client.force_login(world.sam)
    assert client.get(f"/imaging/jobs/{job.pk}/pixels").status_code == 404
    assert client.get(f"/imaging/jobs/{job.pk}/").json()["status"] == "queued"


@pytest.mark.django_db(transaction=True)
def test_only_one_worker_claims_a_job(world):
    job = _job(world)
    assert generation_job_claim(job_id=job.pk) is True
    assert generation_job_claim(job_id=job.pk) is False
    assert generation_job_run(job_id=job.pk) is None  # a second delivery does nothing
    assert GenerationJob.objects.get(pk=job.pk).status == JobStatus.RUNNING


@pytest.mark.django_db
def test_the_done_event_waits_for_the_commit(world, django_capture_on_commit_callbacks, monkeypatch):
    from simulator.imaging import services

    sent = []
    monkeypatch.setattr(services, "job_event_send", lambda *a, **k: sent.append(a[1]))
    monkeypatch.setattr("simulator.imaging.events.job_event_send", lambda *a, **k: sent.append(a[1]))
    job = _job(world)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services._finish(job, status=JobStatus.FAILED, error="x")
    assert sent == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()
    assert sent == ["imaging.failed"]

"""The app's entry point: determinism, previews, cancellation, request validation, native pixels, provenance."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tests.inference.dit_testutils import disc, save_tiny_weights
from PIL import Image

from inference.conditions import ConditionError, Conditions, Finding, mask_to_png_b64
from inference.pipeline import (
    DEFAULT_GUIDANCE,
    DEFAULT_WEIGHTS,
    GenerationCancelled,
    GenerationRequest,
    Generator,
    RequestError,
    StepPreview,
    get_generator,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def generator(tiny_weights, fake_text):
    return Generator(tiny_weights, text_encoder=fake_text, dtype="fp32")


def _request(**kw):
    conditions = kw.pop(
        "conditions", Conditions(findings=(Finding("nodule", "right", size_mm=15),), prompt="nodule")
    )
    return GenerationRequest(conditions=conditions, **{"seed": 7, "steps": 4, **kw})


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("sampler", ["ddim", "dpmpp2m"])
def test_same_request_same_bytes_different_seed_different(tiny_weights, fake_text, sampler, dtype):
    gen = Generator(tiny_weights, text_encoder=fake_text, dtype=dtype)
    a = gen.generate(_request(sampler=sampler))
    b = gen.generate(_request(sampler=sampler))
    c = gen.generate(_request(sampler=sampler, seed=8))
    assert a.pixels.tobytes() == b.pixels.tobytes()
    assert a.display.tobytes() == b.display.tobytes()
    assert a.pixels.tobytes() != c.pixels.tobytes()


def test_guidance_changes_the_image(generator):
    a = generator.generate(_request(guidance=1.0))
    b = generator.generate(_request(guidance=3.0))
    assert a.pixels.tobytes() != b.pixels.tobytes()


def test_previews_after_every_step(generator):
    seen: list[StepPreview] = []
    result = generator.generate(_request(steps=5), on_step=seen.append)
    assert [p.step for p in seen] == [1, 2, 3, 4, 5]
    assert all(p.total == 5 for p in seen)
    assert all(p.image.dtype == np.uint8 and p.image.shape == (16, 16) for p in seen)
    # the last x0 prediction is the final image
    assert np.abs(seen[-1].image.astype(int) - result.display.astype(int)).max() <= 1


def test_on_step_returning_false_cancels(generator):
    calls = []

    def stop_at_two(preview):
        calls.append(preview.step)
        return preview.step < 2

    with pytest.raises(GenerationCancelled):
        generator.generate(_request(steps=6), on_step=stop_at_two)
    assert calls == [1, 2]
    # None (no return value) keeps going
    assert generator.generate(_request(steps=3), on_step=lambda p: None).pixels.shape == (16, 16)


def test_native_pixels_and_provenance(generator, tiny_weights):
    result = generator.generate(_request())
    assert result.pixels.dtype == np.uint16 and result.pixels.max() <= 4095
    assert result.display.dtype == np.uint8 and result.display.shape == (16, 16)
    assert result.model_version.startswith("tiny-test@") and len(result.model_version.split("@")[1]) == 12
    prov = result.provenance
    import hashlib

    sha = hashlib.sha256(Path(tiny_weights).read_bytes()).hexdigest()
    assert prov["weights_sha256"] == sha and result.model_version == f"tiny-test@{sha[:12]}"
    assert (
        prov["seed"] == 7 and prov["steps"] == 4 and prov["sampler"] == "dpmpp2m" and prov["guidance"] == DEFAULT_GUIDANCE
    )
    assert Conditions.from_json(prov["conditions"]) == _request().conditions
    assert {"torch", "dtype", "device"} <= set(prov)


def test_ct_and_lap_native_types(tmp_path, fake_text):
    ct = Generator(save_tiny_weights(tmp_path / "ct.safetensors", modalities=("ct",)), text_encoder=fake_text)
    r = ct.generate(_request(conditions=Conditions(modality="ct", view="axial")))
    assert r.pixels.dtype == np.int16 and r.pixels.min() >= -1024 and r.pixels.max() <= 1024
    lap = Generator(
        save_tiny_weights(tmp_path / "lap.safetensors", modalities=("lap",), in_channels=3),
        text_encoder=fake_text,
    )
    r = lap.generate(_request(conditions=Conditions(modality="lap", view="scope")))
    assert r.pixels.dtype == np.uint8 and r.pixels.shape == (16, 16, 3) and r.display.shape == (16, 16, 3)
    with pytest.raises(RequestError, match="generates ct, not 'cxr'"):
        ct.generate(_request())


def test_drawn_mask_changes_the_image(generator):
    mask = mask_to_png_b64(disc(256, 64, 64, 40))
    plain = generator.generate(_request())
    drawn = generator.generate(
        _request(
            conditions=Conditions(
                findings=(Finding("nodule", "right", size_mm=15, mask_png_b64=mask),), prompt="nodule"
            )
        )
    )
    assert plain.pixels.tobytes() != drawn.pixels.tobytes()


def test_a_placement_seed_places_undrawn_findings_and_says_so(generator):
    conditions = Conditions(findings=(Finding("effusion", "right"),), prompt="right effusion")
    plain = generator.generate(_request(conditions=conditions))
    placed = generator.generate(_request(conditions=conditions, placement_seed=3))
    again = generator.generate(_request(conditions=conditions, placement_seed=3))
    assert plain.provenance["placement"] is None
    assert placed.provenance["placement"] == {"seed": 3, "placed": ["effusion:right"]}
    assert placed.pixels.tobytes() == again.pixels.tobytes() != plain.pixels.tobytes()
    # provenance keeps the conditions as asked: (conditions, seed, placement seed) regenerate the image
    assert Conditions.from_json(placed.provenance["conditions"]) == conditions


def test_a_placement_seed_leaves_drawn_masks_alone(generator):
    mask = mask_to_png_b64(disc(256, 64, 64, 40))
    conditions = Conditions(findings=(Finding("nodule", "right", size_mm=15, mask_png_b64=mask),), prompt="nodule")
    drawn = generator.generate(_request(conditions=conditions))
    with_seed = generator.generate(_request(conditions=conditions, placement_seed=3))
    assert with_seed.provenance["placement"] == {"seed": 3, "placed": []}
    assert with_seed.pixels.tobytes() == drawn.pixels.tobytes()


def _png_b64(array) -> str:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    "request_kw, message",
    [
        ({"conditions": Conditions(findings=(Finding("dragon", "left"),))}, "unknown finding 'dragon'"),
        (
            {
                "conditions": Conditions(
                    findings=(Finding("nodule", "left", mask_png_b64=_png_b64(np.zeros((64, 64), np.uint8))),)
                )
            },
            "expected 256x256",
        ),
        ({"guidance": 11}, "guidance must be in 0..10"),
        ({"guidance": -0.5}, "guidance must be in 0..10"),
        ({"guidance": float("nan")}, "guidance"),
        ({"steps": 0}, "steps must be an integer in 1..100"),
        ({"steps": 101}, "steps must be an integer in 1..100"),
        ({"steps": 2.5}, "steps must be an integer"),
        ({"sampler": "euler"}, "unknown sampler 'euler'"),
        ({"seed": -1}, "seed"),
        ({"placement_seed": -1}, "placement_seed must be empty or an integer"),
        ({"placement_seed": True}, "placement_seed must be empty or an integer"),
        ({"placement_seed": "3"}, "placement_seed must be empty or an integer"),
        ({"conditions": Conditions(findings=(Finding("nodule", "left", location=5),))}, "location must be text"),
        ({"conditions": Conditions(findings=(Finding("nodule", "left", size_mm="big"),))}, "size_mm .* must be a number"),
        ({"conditions": Conditions(slice_index=-2)}, "slice_index must be a whole number"),
        ({"conditions": Conditions(prompt=None)}, "prompt must be text"),
    ],
)
def test_bad_requests_are_rejected_clearly(generator, request_kw, message):
    request = _request(**request_kw)
    with pytest.raises(ConditionError, match=message):
        request.validate()
    with pytest.raises(ConditionError, match=message):
        generator.generate(request)


def test_bounds_are_accepted(generator):
    _request(steps=1, guidance=0).validate()
    _request(steps=100, guidance=10, sampler="ddim").validate()
    assert generator.generate(_request(steps=1, guidance=0)).pixels.shape == (16, 16)
    assert issubclass(RequestError, ConditionError)


def test_default_weights_real_text_encoder():
    """The shipped default weights load, generate and are deterministic (with the real MiniLM)."""
    assert DEFAULT_WEIGHTS["cxr"].is_file()
    gen = get_generator()
    assert get_generator() is gen
    request = GenerationRequest(
        Conditions(prompt="left effusion", findings=(Finding("effusion", "left"),)), seed=3, steps=2
    )
    a, b = gen.generate(request), gen.generate(request)
    assert a.pixels.shape == (64, 64) and a.pixels.dtype == np.uint16
    assert a.pixels.tobytes() == b.pixels.tobytes()
    assert a.model_version.startswith("cxr-dit-s-64@")


def test_importing_pipeline_does_not_import_django():
    code = (
        "import sys, inference.pipeline, inference.placement, inference.train, inference.sample;"
        "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'));"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cross_attention_weights_generate_with_guidance(tmp_path, fake_text):
    weights = save_tiny_weights(tmp_path / "cross.safetensors", text_mode="cross")
    generator = Generator(weights, text_encoder=fake_text)
    long_prompt = Conditions(prompt="a much longer prompt with many more tokens in it", findings=())
    a = generator.generate(_request(conditions=long_prompt, guidance=2.0))
    b = generator.generate(_request(conditions=Conditions(prompt="short"), guidance=2.0))
    assert a.pixels.tobytes() != b.pixels.tobytes()

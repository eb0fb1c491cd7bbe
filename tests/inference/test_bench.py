"""The benchmark's baseline is a fair one: diffusers' loop on the same weights, request and noise gives the same
image as our pipeline in fp32 (timings themselves live in BENCHMARKS.md, never in tests)."""

import pytest
from tests.inference.dit_testutils import save_tiny_weights

pytest.importorskip("diffusers")

from inference import bench  # noqa: E402
from inference.pipeline import Generator  # noqa: E402


def test_diffusers_baseline_draws_the_same_image(tmp_path, fake_text, capsys):
    weights = save_tiny_weights(tmp_path / "tiny.safetensors")
    fast = Generator(weights, dtype="bf16", text_encoder=fake_text)
    fp32 = Generator(weights, dtype="fp32", text_encoder=fake_text)
    out = bench.versus_diffusers(fast, fp32, runs=1)
    assert out["max_abs_diff_12bit"] <= 1
    assert "speed-up vs diffusers loop" in capsys.readouterr().out


def test_every_section_runs_on_tiny_weights(tmp_path, fake_text, capsys):
    weights = save_tiny_weights(tmp_path / "tiny.safetensors")
    gen = Generator(weights, text_encoder=fake_text)
    bench.latency(gen, runs=1)
    bench.concurrent(gen, n=2)
    bench.placement(gen, runs=1)
    printed = capsys.readouterr().out
    assert "first preview" in printed and "images/s" in printed and "typical placement" in printed

"""bf16 is chosen only where the CPU multiplies in bf16: emulated bf16 (oneDNN on plain AVX-512) is about twice
as slow as fp32, so generation, DiT training and reader training all ask inference.precision."""

import sys
from pathlib import Path

import pytest
import torch

from inference import precision
from inference.pipeline import Generator
from tests.inference.dit_testutils import save_tiny_weights


def _cpuinfo_flags() -> set[str]:
    info = Path("/proc/cpuinfo")
    if not info.exists():
        pytest.skip("needs /proc/cpuinfo")
    for line in info.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    pytest.skip("no flags line in /proc/cpuinfo")


@pytest.mark.skipif(sys.platform != "linux", reason="reads the CPU flags the kernel reports")
def test_native_bf16_means_the_hardware_instructions():
    flags = _cpuinfo_flags()
    assert precision.cpu_has_native_bf16() == bool(flags & {"avx512_bf16", "amx_bf16"})


def test_auto_dtype_follows_the_hardware(tmp_path, fake_text, monkeypatch):
    weights = save_tiny_weights(tmp_path / "tiny.safetensors")
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda native=native: native)
        assert precision.fast_autocast_dtype("cpu") == expected
        assert Generator(weights, text_encoder=fake_text).dtype == expected
    assert Generator(weights, dtype="bf16", text_encoder=fake_text).dtype == torch.bfloat16  # asked for: kept


def test_training_uses_bf16_only_when_asked_and_native(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert precision.training_dtype("cpu", bf16=True) == torch.bfloat16
    assert precision.training_dtype("cpu", bf16=False) == torch.float32
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert precision.training_dtype("cpu", bf16=True) == torch.float32


def test_fp32_autocast_is_a_no_op():
    with precision.autocast("cpu", torch.float32):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with precision.autocast("cpu", torch.bfloat16):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16

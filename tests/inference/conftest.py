"""Fixtures for inference tests: a fast fake text encoder and tiny saved DiT weights."""

import pytest
from dit_testutils import FakeTextEncoder, save_tiny_weights


@pytest.fixture
def fake_text():
    return FakeTextEncoder()


@pytest.fixture
def tiny_weights(tmp_path):
    """A saved randomised tiny DiT (float32) -> path of its .safetensors."""
    return save_tiny_weights(tmp_path / "tiny.safetensors")

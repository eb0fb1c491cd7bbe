"""Fixtures for inference tests: a fast fake text encoder and tiny saved DiT weights."""

import pytest
import torch
from tests.inference.dit_testutils import FakeTextEncoder, save_tiny_weights


@pytest.fixture(autouse=True)
def _one_torch_thread(request):
    """Two shared cores: two OpenMP threads fight any other busy process (docs/MODEL_CARD.md), so the model
    tests run on one thread. Not applied to the phantom tests below this folder."""
    if "phantoms" in request.node.path.parts:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def fake_text():
    return FakeTextEncoder()


@pytest.fixture
def tiny_weights(tmp_path):
    """A saved randomised tiny DiT (float32) -> path of its .safetensors."""
    return save_tiny_weights(tmp_path / "tiny.safetensors")

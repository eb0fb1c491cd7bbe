"""Helpers shared by the inference tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from inference.models import DiT, DiTConfig
from inference.text import TextEmbedding

TINY = dict(image_size=16, patch_size=4, hidden=32, depth=2, heads=2)


class FakeTextEncoder:
    """Deterministic hash-seeded embeddings; same interface as inference.text.TextEncoder."""

    dim = 384

    def __init__(self):
        self.calls = 0

    def _vec(self, text: str, n: int) -> torch.Tensor:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        return torch.randn(n, self.dim, generator=torch.Generator().manual_seed(seed))

    def encode(self, texts, *, tokens=False):
        self.calls += 1
        texts = list(texts)
        lengths = [len(t.split()) + 2 for t in texts]
        L = max(lengths)
        tok = torch.zeros(len(texts), L, self.dim)
        mask = torch.zeros(len(texts), L, dtype=torch.bool)
        for i, (t, n) in enumerate(zip(texts, lengths)):
            tok[i, :n] = self._vec(t, n)
            mask[i, :n] = True
        pooled = torch.nn.functional.normalize(torch.stack([self._vec(t, 1)[0] for t in texts]), dim=-1)
        return TextEmbedding(pooled=pooled, tokens=tok if tokens else None, mask=mask if tokens else None)


def tiny_config(**overrides) -> DiTConfig:
    return DiTConfig(**{**TINY, **overrides})


def randomize(model: torch.nn.Module, seed: int = 0, scale: float = 0.05) -> torch.nn.Module:
    """adaLN-Zero makes a fresh DiT output zeros; perturb every weight so tests see a real function."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g))
    return model


def tiny_model(seed: int = 0, **overrides) -> DiT:
    torch.manual_seed(seed)
    return randomize(DiT(tiny_config(**overrides)), seed=seed).eval()


def save_tiny_weights(path, **overrides):
    from inference.checkpoints import save_weights

    model = tiny_model(**overrides)
    return save_weights(path, model.state_dict(), model.config, name="tiny-test")


def disc(size: int, cy: float, cx: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r

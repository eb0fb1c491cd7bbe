"""Helpers shared by the inference tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from inference.models import DiT, DiTConfig
from inference.text import TextEmbedding

TINY = {"image_size": 16, "patch_size": 4, "hidden": 32, "depth": 2, "heads": 2}


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


@dataclass
class SyntheticSample:
    image: np.ndarray  # float32 [0, 1] (size, size)
    masks: dict  # "key:laterality" -> bool (size, size)
    conditions: object
    report: str


def synthetic_source(seed: int, modality: str, size: int, *, enrich: float = 0.0,
                     enrich_findings: tuple = ()) -> SyntheticSample:
    """A stand-in for inference.phantoms.sample: a bright disc where the finding is (it takes the real
    source's enrichment keywords and has no findings list to enrich from)."""
    from inference.conditions import Conditions, Finding

    rng = np.random.default_rng(seed)
    image = np.full((size, size), 0.2, np.float32) + 0.02 * rng.standard_normal((size, size)).astype(
        np.float32
    )
    masks, findings = {}, []
    if rng.random() < 0.7:
        key = ("nodule", "mass", "consolidation")[rng.integers(3)]
        side = ("left", "right")[rng.integers(2)]
        cx = size * (0.7 if side == "left" else 0.3)  # patient's left is the image right
        mask = disc(size, size * rng.uniform(0.3, 0.7), cx, size * (0.1 if key == "nodule" else 0.2))
        image[mask] = 0.9
        masks[f"{key}:{side}"] = mask
        findings.append(Finding(key, side))
    conditions = Conditions(modality=modality, findings=tuple(findings))
    report = "; ".join(f"{f.laterality} {f.key}" for f in findings) or "normal chest"
    return SyntheticSample(np.clip(image, 0, 1), masks, conditions, report)

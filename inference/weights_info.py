"""What a weights file can draw, read from its JSON sidecar without importing torch (the web side asks
before it publishes a study that no weights could generate)."""

from __future__ import annotations

import json
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
DEFAULT_WEIGHTS = {"cxr": WEIGHTS_DIR / "cxr-dit-s-64.safetensors"}
# Classifier-free guidance for the shipped weights, chosen by `python -m inference.evaluate --guidance 1 1.5 2 3`
# (docs/MODEL_CARD.md): best agreement per false finding before diversity drops.
DEFAULT_GUIDANCE = 2.0


def weights_modalities(weights: str | Path | None = None) -> frozenset[str]:
    """The modalities the given weights (default: the shipped ones) were trained for."""
    path = Path(weights) if weights else DEFAULT_WEIGHTS["cxr"]
    sidecar = path.with_suffix(".json")
    try:
        config = json.loads(sidecar.read_text())["config"]
    except (OSError, KeyError, json.JSONDecodeError):
        return frozenset()
    return frozenset(config.get("modalities", ()))

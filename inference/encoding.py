"""`Conditions` -> model input tensors. Runs once per request (or per training sample), never per step.

Keys of the returned dict (N = number of conditions, S = MAX_FINDINGS slots, H = W = image_size):
    finding_ids       (N, S) long   FINDING_IDS of each slot; 0 = empty slot
    laterality_ids    (N, S) long   index into LATERALITIES
    severity_ids      (N, S) long   index into SEVERITIES
    location_ids      (N, S) long   index into models.LOCATIONS (0 = unspecified, last = other)
    finding_features  (N, S, 6)     [has_size, size_mm/100, has_mask, mask area, mask centroid y, x]
    masks             (N, S, H, W)  float in [0, 1]; slot i = mask of finding i; all zero = the model places it
    sex_ids, age_ids, modality_ids, view_ids   (N,) long
    text              (N, 384)      pooled MiniLM embedding of the prompt
    text_tokens       (N, L, 384)   only with text_tokens=True (cross-attention models)
    text_mask         (N, L) bool   idem
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .conditions import MAX_FINDINGS, Conditions
from .models import ALL_VIEWS, LOCATIONS, N_FINDING_FEATURES
from .vocabulary import AGE_BANDS, FINDING_IDS, LATERALITIES, MODALITIES, SEVERITIES, SEXES

STRUCTURED_KEYS = (
    "finding_ids",
    "laterality_ids",
    "severity_ids",
    "location_ids",
    "finding_features",
    "masks",
    "sex_ids",
    "age_ids",
    "modality_ids",
    "view_ids",
)


def location_id(location: str) -> int:
    text = " ".join(str(location or "").strip().lower().split())
    if not text:
        return 0
    try:
        return LOCATIONS.index(text)
    except ValueError:
        return len(LOCATIONS) - 1


def resize_mask(mask, image_size: int) -> torch.Tensor:
    """(h, w) bool/0-1 array -> (image_size, image_size) float coverage in [0, 1] (area resampling)."""
    m = torch.as_tensor(np.asarray(mask, dtype=np.float32))
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"mask must be a square 2D array, got shape {tuple(m.shape)}")
    if m.shape[0] == image_size:
        return m
    mode = "area" if m.shape[0] > image_size else "nearest"
    return F.interpolate(m[None, None], size=(image_size, image_size), mode=mode)[0, 0]


def mask_features(mask: torch.Tensor) -> list[float]:
    """[has_mask, area fraction, centroid y, centroid x] with centroids in [-1, 1]."""
    total = float(mask.sum())
    if total <= 0:
        return [0.0, 0.0, 0.0, 0.0]
    size = mask.shape[0]
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    cy = float((mask.sum(1) * coords).sum()) / total
    cx = float((mask.sum(0) * coords).sum()) / total
    return [1.0, total / mask.numel(), cy, cx]


def encode_structured(
    conds: Sequence[Conditions],
    *,
    image_size: int,
    masks: Sequence[Mapping[str, np.ndarray] | None] | None = None,
) -> dict[str, torch.Tensor]:
    """Everything but the text. `masks` optionally overrides the masks embedded in the conditions: one dict
    per condition mapping "key:laterality" to a square bool array of any size (used by training)."""
    N, S = len(conds), MAX_FINDINGS
    out = {
        "finding_ids": torch.zeros(N, S, dtype=torch.long),
        "laterality_ids": torch.zeros(N, S, dtype=torch.long),
        "severity_ids": torch.zeros(N, S, dtype=torch.long),
        "location_ids": torch.zeros(N, S, dtype=torch.long),
        "finding_features": torch.zeros(N, S, N_FINDING_FEATURES),
        "masks": torch.zeros(N, S, image_size, image_size),
        "sex_ids": torch.zeros(N, dtype=torch.long),
        "age_ids": torch.zeros(N, dtype=torch.long),
        "modality_ids": torch.zeros(N, dtype=torch.long),
        "view_ids": torch.zeros(N, dtype=torch.long),
    }
    for n, cond in enumerate(conds):
        if len(cond.findings) > S:
            raise ValueError(f"{len(cond.findings)} findings, at most {S}")
        override = masks[n] if masks is not None else None
        for s, finding in enumerate(cond.findings):
            out["finding_ids"][n, s] = FINDING_IDS[finding.key]
            out["laterality_ids"][n, s] = LATERALITIES.index(finding.laterality)
            out["severity_ids"][n, s] = SEVERITIES.index(finding.severity)
            out["location_ids"][n, s] = location_id(finding.location)
            if override is not None:
                raw = override.get(f"{finding.key}:{finding.laterality}")
            else:
                raw = finding.mask_array()
            mask = resize_mask(raw, image_size) if raw is not None else None
            has_size = finding.size_mm is not None
            feats = [float(has_size), float(finding.size_mm) / 100 if has_size else 0.0]
            if mask is not None:
                out["masks"][n, s] = mask
                feats += mask_features(mask)
            else:
                feats += [0.0, 0.0, 0.0, 0.0]
            out["finding_features"][n, s] = torch.tensor(feats)
        out["sex_ids"][n] = SEXES.index(cond.sex)
        out["age_ids"][n] = AGE_BANDS.index(cond.age_band)
        out["modality_ids"][n] = MODALITIES.index(cond.modality)
        out["view_ids"][n] = ALL_VIEWS.index(f"{cond.modality}:{cond.view}") + 1
    return out


def encode_conditions(
    conds: Sequence[Conditions],
    *,
    image_size: int,
    text_encoder,
    text_tokens: bool = False,
    texts: Sequence[str] | None = None,
    masks: Sequence[Mapping[str, np.ndarray] | None] | None = None,
) -> dict[str, torch.Tensor]:
    """Encode validated conditions for the DiT. `texts` overrides the prompts (training uses reports)."""
    out = encode_structured(conds, image_size=image_size, masks=masks)
    out.update(
        encode_texts(
            [c.prompt for c in conds] if texts is None else list(texts),
            text_encoder=text_encoder,
            text_tokens=text_tokens,
        )
    )
    return out


def encode_texts(texts: Sequence[str], *, text_encoder, text_tokens: bool = False) -> dict[str, torch.Tensor]:
    emb = text_encoder.encode(list(texts), tokens=text_tokens)
    out = {"text": emb.pooled.float()}
    if text_tokens:
        out["text_tokens"] = emb.tokens.float()
        out["text_mask"] = emb.mask.bool()
    return out


def concat_conditions(parts: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Concatenate encoded conditions along the batch (pads text tokens to the longest)."""
    out = {}
    for key in parts[0]:
        tensors = [p[key] for p in parts]
        if key in ("text_tokens", "text_mask"):
            L = max(t.shape[1] for t in tensors)
            tensors = [
                torch.cat([t, t.new_zeros((t.shape[0], L - t.shape[1], *t.shape[2:]))], dim=1)
                for t in tensors
            ]
        out[key] = torch.cat(tensors, dim=0)
    return out


def repeat_conditions(cond: dict[str, torch.Tensor], times: int) -> dict[str, torch.Tensor]:
    return {k: torch.cat([v] * times, dim=0) for k, v in cond.items()}

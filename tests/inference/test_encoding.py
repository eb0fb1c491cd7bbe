"""Conditions -> tensors: shapes, finding ids, resized masks, text, and the dropped (null) condition path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.inference.dit_testutils import disc, tiny_model

from inference.conditions import MASK_SIZE, MAX_FINDINGS, Conditions, Finding, mask_to_png_b64
from inference.encoding import encode_conditions, location_id, resize_mask
from inference.models import LOCATIONS
from inference.vocabulary import FINDING_IDS, LATERALITIES, SEVERITIES


def _conds():
    mask = disc(MASK_SIZE, cy=64, cx=192, r=24)  # upper right of the image
    return [
        Conditions(
            prompt="large left effusion",
            findings=(
                Finding(
                    "nodule",
                    "left",
                    location="RUL",
                    size_mm=18,
                    severity="mild",
                    mask_png_b64=mask_to_png_b64(mask),
                ),
                Finding("effusion", "bilateral", severity="severe"),
            ),
        ),
        Conditions(view="AP", sex="M", age_band="80+"),
    ]


def test_shapes_and_ids(fake_text):
    enc = encode_conditions(_conds(), image_size=32, text_encoder=fake_text)
    S = MAX_FINDINGS
    assert enc["finding_ids"].shape == (2, S)
    assert enc["masks"].shape == (2, S, 32, 32)
    assert enc["finding_features"].shape == (2, S, 6)
    assert enc["text"].shape == (2, 384)
    assert enc["finding_ids"][0, :3].tolist() == [FINDING_IDS["nodule"], FINDING_IDS["effusion"], 0]
    assert enc["finding_ids"][1].sum() == 0  # a normal study: all slots empty
    assert enc["laterality_ids"][0, :2].tolist() == [
        LATERALITIES.index("left"),
        LATERALITIES.index("bilateral"),
    ]
    assert enc["severity_ids"][0, :2].tolist() == [SEVERITIES.index("mild"), SEVERITIES.index("severe")]
    assert enc["location_ids"][0, 0] == LOCATIONS.index("rul")
    assert enc["finding_features"][0, 0, :2].tolist() == pytest.approx([1.0, 0.18])
    assert enc["view_ids"][0] != enc["view_ids"][1]
    assert enc["sex_ids"].tolist() == [0, 1]
    assert "text_tokens" not in enc


def test_mask_is_resized_into_its_slot(fake_text):
    enc = encode_conditions(_conds(), image_size=32, text_encoder=fake_text)
    m = enc["masks"][0, 0]
    assert m.max() == 1.0 and m.min() == 0.0
    # the disc (centre row 64, col 192 of 256) lands at row 8, col 24 of 32
    assert m[8, 24] == 1.0 and m[24, 8] == 0.0
    assert 0.02 < m.mean() < 0.04  # pi * 3^2 / 32^2 ~ 0.028 (area resampling keeps coverage)
    assert enc["masks"][0, 1:].abs().sum() == 0  # undrawn finding: zero channel, the model chooses
    has_mask, _area, cy, cx = enc["finding_features"][0, 0, 2:].tolist()
    assert has_mask == 1.0 and cy < 0 < cx


def test_small_mask_survives_downsampling():
    mask = np.zeros((256, 256), bool)
    mask[100:102, 100:102] = True  # 2x2 pixels at 256 -> a fraction of one pixel at 16
    out = resize_mask(mask, 16)
    assert out.sum() > 0 and out.max() < 1


def test_unknown_location_maps_to_other():
    assert location_id("") == 0
    assert location_id("  Upper   Zone ") == LOCATIONS.index("upper zone")
    assert location_id("somewhere odd") == len(LOCATIONS) - 1


def test_text_tokens_for_cross_attention(fake_text):
    enc = encode_conditions(_conds(), image_size=16, text_encoder=fake_text, text_tokens=True)
    assert enc["text_tokens"].shape[:2] == enc["text_mask"].shape
    assert enc["text_mask"].dtype == torch.bool


def test_text_is_encoded_once_per_request(fake_text):
    encode_conditions(_conds(), image_size=16, text_encoder=fake_text)
    assert fake_text.calls == 1


@pytest.mark.parametrize("text_mode", ["pooled", "cross"])
def test_dropped_condition_ignores_the_condition(fake_text, text_mode):
    """drop=True rows use the null condition: findings, masks, patient and text no longer matter."""
    model = tiny_model(text_mode=text_mode)
    conds = _conds()
    enc = encode_conditions(conds, image_size=16, text_encoder=fake_text, text_tokens=text_mode == "cross")
    x = torch.randn(2, 1, 16, 16)
    t = torch.tensor([500, 500])
    with torch.no_grad():
        kept = model(x[:1].expand(2, -1, -1, -1), t, enc, drop=torch.tensor([False, False]))
        dropped = model(x[:1].expand(2, -1, -1, -1), t, enc, drop=torch.tensor([True, True]))
    assert not torch.allclose(kept[0], kept[1])  # different conditions -> different outputs
    torch.testing.assert_close(dropped[0], dropped[1])  # null condition: identical outputs
    assert not torch.allclose(dropped[0], kept[0])


def test_training_mode_drops_conditions_at_random():
    model = tiny_model(cond_drop_prob=0.5).train()
    enc = {
        k: v for k, v in encode_conditions([Conditions()] * 64, image_size=16, text_encoder=_Zero()).items()
    }
    torch.manual_seed(0)
    prepared = model.prepare(enc)
    null = model.y_embedder.null
    dropped = (prepared.c - null).abs().sum(1) < 1e-6
    assert 10 < int(dropped.sum()) < 54


class _Zero:
    def encode(self, texts, *, tokens=False):
        from inference.text import TextEmbedding

        return TextEmbedding(pooled=torch.zeros(len(texts), 384))


def test_minilm_text_encoder_loads_offline_and_pools():
    from inference.text import get_text_encoder

    enc = get_text_encoder()
    assert get_text_encoder() is enc  # once per process
    emb = enc.encode(["left pleural effusion", "left pleural effusion", "normal chest"])
    assert emb.pooled.shape == (3, 384)
    torch.testing.assert_close(emb.pooled.norm(dim=-1), torch.ones(3))
    torch.testing.assert_close(emb.pooled[0], emb.pooled[1])
    assert (emb.pooled[0] @ emb.pooled[2]) < 0.99
    tok = enc.encode(["a b c"], tokens=True)
    assert tok.tokens.shape[0] == 1 and tok.tokens.shape[-1] == 384 and tok.mask.all()

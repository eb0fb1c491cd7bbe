"""End to end: a tiny DiT trained for a few seconds on the synthetic disc source puts the lesion where the
drawn mask says (training, export, pipeline, masks and sampler all have to work for this to pass)."""

from __future__ import annotations

import pytest
from tests.inference.dit_testutils import FakeTextEncoder, disc, synthetic_source

from inference.conditions import Conditions, Finding, mask_to_png_b64
from inference.pipeline import GenerationRequest, Generator
from inference.train import TrainConfig, export, train


@pytest.mark.slow
def test_drawn_mask_places_the_lesion(tmp_path):
    text = FakeTextEncoder()
    cfg = TrainConfig(
        name="learn",
        model={"preset": "dit-xs", "image_size": 16, "patch_size": 2, "hidden": 32, "depth": 1, "heads": 2},
        batch_size=16,
        max_steps=100,
        lr=3e-3,
        warmup_steps=20,
        ema_decay=0.9,
        mask_prob=1.0,
        checkpoint_every=1000,
        data_workers=0,
        run_dir=str(tmp_path / "run"),
    )
    train(cfg, data_source=synthetic_source, text_encoder=text, progress=False)
    generator = Generator(export(tmp_path / "run", out_dir=tmp_path / "w"), text_encoder=text, dtype="fp32")
    for side, cx in (("left", 192), ("right", 64)):  # patient's left is on the image right
        mask = mask_to_png_b64(disc(256, 128, cx, 40))
        conditions = Conditions(findings=(Finding("mass", side, mask_png_b64=mask),))
        image = generator.generate(GenerationRequest(conditions, seed=0, steps=20)).display.astype(float)
        masked, other = (image[:, 8:], image[:, :8]) if cx > 128 else (image[:, :8], image[:, 8:])
        assert masked.mean() > other.mean() + 15, (side, masked.mean(), other.mean())

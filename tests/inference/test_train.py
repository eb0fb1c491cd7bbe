"""A short training run on a synthetic source writes checkpoints, resumes exactly, and exports weights."""

from __future__ import annotations

import json

from pathlib import Path

import numpy as np
import pytest
import torch
from tests.inference.dit_testutils import FakeTextEncoder, synthetic_source

from inference import train as train_module
from inference.checkpoints import latest_checkpoint, load_weights
from inference.train import PhantomBatches, TrainConfig, export, train

TINY_MODEL = {"preset": "dit-xs", "image_size": 16, "hidden": 32, "depth": 2, "heads": 2}


def _cfg(tmp_path, name="run", **kw):
    base = {
        "name": name,
        "model": dict(TINY_MODEL),
        "batch_size": 4,
        "max_steps": 4,
        "checkpoint_every": 2,
        "data_workers": 0,
        "run_dir": str(tmp_path / name),
        "warmup_steps": 2,
        "log_every": 1,
    }
    return TrainConfig(**{**base, **kw})


def _weights(path):
    return load_weights(path)[0]


def test_train_checkpoints_and_resumes_exactly(tmp_path):
    text = FakeTextEncoder()
    straight = train(
        _cfg(tmp_path, "straight"), data_source=synthetic_source, text_encoder=text, progress=False
    )
    assert straight.name == "ckpt-0000004.safetensors"
    meta = json.loads(straight.with_suffix(".json").read_text())
    assert meta["step"] == 4 and meta["train_args"]["batch_size"] == 4 and meta["config"]["hidden"] == 32
    log = [json.loads(line) for line in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [1, 2, 3, 4] and all(r["loss"] > 0 for r in log)

    half = train(
        _cfg(tmp_path, "split", max_steps=2), data_source=synthetic_source, text_encoder=text, progress=False
    )
    assert half.name == "ckpt-0000002.safetensors"
    with pytest.raises(SystemExit, match="--resume"):
        train(_cfg(tmp_path, "split"), data_source=synthetic_source, text_encoder=text, progress=False)
    resumed = train(
        _cfg(tmp_path, "split"), resume=True, data_source=synthetic_source, text_encoder=text, progress=False
    )
    assert resumed.name == "ckpt-0000004.safetensors"
    # same data stream, optimizer, EMA and RNG after the resume: identical weights
    a, b = _weights(straight), _weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and training moved the EMA away from the initialisation
    assert any(not torch.equal(a[k], _weights(half)[k]) for k in a)
    # the resume went on from its checkpoint's step, not back: the summary still tells the invocations apart
    from inference.train import summarise

    invocations = [line.split(" in ")[0] for line in summarise(tmp_path / "split")[:-1]]
    assert invocations == ["invocation 1: steps 1-2", "invocation 2: steps 3-4"]


def test_masks_are_fed_with_probability():
    def batch(p):
        ds = PhantomBatches(
            synthetic_source,
            modality="cxr",
            size=16,
            batch_size=16,
            seed=0,
            start_batch=0,
            mask_prob=p,
            report_prob=1.0,
        )
        return ds.make_batch(0)

    with_masks, without = batch(1.0), batch(0.0)
    has_finding = with_masks["cond"]["finding_ids"][:, 0] > 0
    assert has_finding.any()
    assert (with_masks["cond"]["masks"][has_finding].flatten(1).sum(1) > 0).all()
    assert without["cond"]["masks"].sum() == 0
    assert torch.equal(with_masks["cond"]["finding_ids"], without["cond"]["finding_ids"])  # same samples
    assert with_masks["images"].shape == (16, 1, 16, 16)
    assert with_masks["images"].min() >= -1 and with_masks["images"].max() <= 1
    assert any(t != "" for t in with_masks["texts"])


def test_cli_with_a_data_worker_then_export(tmp_path, monkeypatch):
    monkeypatch.setattr(train_module, "default_data_source", synthetic_source)
    import inference.text

    monkeypatch.setattr(inference.text, "get_text_encoder", FakeTextEncoder)
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({"_comment": "test", **_cfg(tmp_path, "cli", data_workers=1).__dict__}))
    assert train_module.main(["--config", str(config), "--max-steps", "2", "--no-progress"]) == 0
    assert latest_checkpoint(tmp_path / "cli").name == "ckpt-0000002.safetensors"

    path = export(tmp_path / "cli", name="tiny-export", out_dir=tmp_path / "weights")
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["name"] == "tiny-export" and meta["step"] == 2 and meta["dtype"] == "float16"

    from inference.conditions import Conditions, Finding
    from inference.pipeline import GenerationRequest, Generator

    generator = Generator(path, text_encoder=FakeTextEncoder())
    result = generator.generate(
        GenerationRequest(Conditions(findings=(Finding("nodule", "left"),)), seed=1, steps=2)
    )
    assert result.model_version.startswith("tiny-export@")


def test_unknown_config_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown training config field"):
        TrainConfig.from_dict({"nmae": "typo"})
    with pytest.raises(ValueError, match="unknown model preset"):
        TrainConfig(model={"preset": "dit-huge"}).model_config()


def test_cosine_schedule_warms_up_then_decays_to_min_lr():
    cfg = TrainConfig(lr=2e-4, min_lr=2e-5, warmup_steps=10, max_steps=110, lr_schedule="cosine")
    assert cfg.learning_rate(0) == pytest.approx(2e-5)  # first warm-up step: lr / warmup_steps
    assert cfg.learning_rate(10) == pytest.approx(2e-4)
    assert cfg.learning_rate(60) == pytest.approx((2e-4 + 2e-5) / 2)  # half-way down the cosine
    assert cfg.learning_rate(110) == pytest.approx(2e-5) == cfg.learning_rate(500)
    rates = [cfg.learning_rate(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    constant = TrainConfig(lr=2e-4, warmup_steps=10, max_steps=110)
    assert constant.learning_rate(60) == constant.learning_rate(110) == pytest.approx(2e-4)


def test_the_logged_learning_rate_follows_the_schedule(tmp_path):
    cfg = _cfg(tmp_path, "cosine", max_steps=6, lr_schedule="cosine", min_lr=1e-5)
    train(cfg, data_source=synthetic_source, text_encoder=FakeTextEncoder(), progress=False)
    log = [json.loads(line) for line in (tmp_path / "cosine" / "log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in log] == pytest.approx([cfg.learning_rate(r["step"] - 1) for r in log])
    assert log[-1]["lr"] < log[1]["lr"]


def test_bad_schedules_are_rejected():
    with pytest.raises(ValueError, match="unknown lr_schedule 'linear'"):
        TrainConfig(lr_schedule="linear")
    with pytest.raises(ValueError, match="min_lr 0.01 must lie between 0 and lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)


def test_shipped_config_parses():
    cfg = TrainConfig.load(Path(train_module.__file__).parent / "configs" / "cxr-64-cpu.json")
    model_cfg = cfg.model_config()
    assert model_cfg.prediction_type == "v_prediction" and model_cfg.beta_schedule == "squaredcos_cap_v2"
    assert model_cfg.image_size == 64 and model_cfg.num_tokens == 256 and model_cfg.cond_drop_prob == 0.1


def test_summary_splits_invocations_at_a_resume(tmp_path):
    import json

    from inference.train import summarise

    rows = [(1, 0.9, 0), (25, 0.5, 60), (50, 0.4, 120), (25, 0.45, 1000), (50, 0.3, 1060), (75, 0.2, 1120)]
    (tmp_path / "log.jsonl").write_text("".join(
        json.dumps({"step": s, "loss": loss, "time": t}) + "\n" for s, loss, t in rows))
    assert summarise(tmp_path, window=25) == [
        "invocation 1: steps 1-50 in 2.0 min (2.45 s per step)",
        "invocation 2: steps 25-75 in 2.0 min (2.40 s per step)",
        "mean logged loss, steps 25-50: 0.3750; steps 50-75: 0.2500",
    ]
    # a run shorter than two windows is split in halves instead of windows reaching past its ends
    assert summarise(tmp_path, window=250)[-1] == "mean logged loss, steps 25-50: 0.3750; steps 50-75: 0.2500"


def test_lesion_masks_follow_the_findings_whatever_is_fed():
    ds = PhantomBatches(synthetic_source, modality="cxr", size=16, batch_size=16, seed=0, start_batch=0,
                        mask_prob=0.0, report_prob=1.0)
    batch = ds.make_batch(0)
    has_finding = batch["cond"]["finding_ids"][:, 0] > 0
    lesions = batch["lesions"].flatten(1).sum(1)
    assert batch["lesions"].shape == (16, 1, 16, 16)
    assert (lesions[has_finding] > 0).all() and (lesions[~has_finding] == 0).all()


def test_finding_loss_weight_changes_training(tmp_path):
    text = FakeTextEncoder()
    plain = train(_cfg(tmp_path, "plain", max_steps=2), data_source=synthetic_source, text_encoder=text,
                  progress=False)
    weighted = train(_cfg(tmp_path, "weighted", max_steps=2, finding_loss_weight=5.0),
                     data_source=synthetic_source, text_encoder=text, progress=False)
    a, b = _weights(plain), _weights(weighted)
    assert any(not torch.equal(a[k], b[k]) for k in a)


def test_warm_start_from_exported_weights(tmp_path):
    text = FakeTextEncoder()
    first = train(_cfg(tmp_path, "first", max_steps=2), data_source=synthetic_source, text_encoder=text,
                  progress=False)
    exported = export(first, name="first", out_dir=tmp_path / "weights")
    warm = _cfg(tmp_path, "warm", max_steps=0, init_from=str(exported))
    ckpt = train(warm, data_source=synthetic_source, text_encoder=text, progress=False)
    a, b = _weights(exported), _weights(ckpt)
    assert all(torch.allclose(a[k], b[k]) for k in a)  # step 0 of the warm run is the exported EMA
    other = _cfg(tmp_path, "bad", model={**TINY_MODEL, "depth": 1}, init_from=str(exported))
    with pytest.raises(SystemExit, match="model config differs"):
        train(other, data_source=synthetic_source, text_encoder=text, progress=False)


def test_a_warm_start_records_the_streams_its_weights_were_trained_on(tmp_path):
    """So the memorisation check can replay every stage's data, not only the last stage's."""
    text = FakeTextEncoder()
    first = train(_cfg(tmp_path, "first", seed=3, max_steps=2), data_source=synthetic_source, text_encoder=text,
                  progress=False)
    exported = export(first, name="first", out_dir=tmp_path / "weights")
    first_stream = train_module.data_stream(load_weights(exported)[2]["train_args"], 2)
    assert train_module.data_streams(load_weights(exported)[2]) == [first_stream]
    assert first_stream == {"seed": 3, "batch_size": 4, "enrich": 0.0, "enrich_findings": [], "steps": 2}
    warm_cfg = _cfg(tmp_path, "warm", seed=4, max_steps=2, init_from=str(exported))
    warm = export(train(warm_cfg, data_source=synthetic_source, text_encoder=text, progress=False),
                  name="warm", out_dir=tmp_path / "weights")
    streams = train_module.data_streams(load_weights(warm)[2])
    assert streams == [first_stream, dict(first_stream, seed=4)]
    # resumed after the starting weights are gone (an export overwrote them), the run keeps what they saw
    exported.unlink()
    resumed = train(_cfg(tmp_path, "warm", seed=4, max_steps=4, init_from=str(exported)), resume=True,
                    data_source=synthetic_source, text_encoder=text, progress=False)
    assert load_weights(resumed)[2]["train_args"]["earlier_streams"] == [first_stream]


# measured beside the shipped recipe, never shippable at this width (DECISIONS.md: pooled text, not cross-attention)
OVER_THE_LIMIT = {"cxr-64-text-cross.json"}
RECIPES = sorted(p.name for p in (Path(train_module.__file__).parent / "configs").glob("*.json"))


@pytest.mark.parametrize("name", RECIPES)
def test_every_shipped_config_parses(name):
    from inference.models import DiT, count_parameters

    cfg = TrainConfig.load(Path(train_module.__file__).parent / "configs" / name)
    # every recipe that could ship must export under the 16 MiB weights limit (float16: 2 bytes per parameter)
    fits = 2 * count_parameters(DiT(cfg.model_config())) < train_module.MAX_EXPORT_BYTES
    assert fits != (name in OVER_THE_LIMIT)


def test_an_enriched_recipe_streams_more_of_its_findings_and_keeps_the_rest_of_each_phantom():
    """`enrich` adds one of the recipe's `enrich_findings` to about that share of the training phantoms, never
    beside a finding it excludes (no pneumothorax with a tension pneumothorax), and leaves the rest as the plain
    stream would draw it; the evaluation's memorisation check replays the same stream."""
    from inference.phantoms import reader
    from inference.phantoms.api import random_conditions, training_conditions

    findings = ("pneumothorax", "atelectasis")
    gained, enriched_seed = 0, None
    for seed in range(2000, 2300):
        plain = random_conditions(np.random.default_rng(seed), "cxr")
        rich = training_conditions(seed, "cxr", 0.5, findings)
        assert rich.findings[:len(plain.findings)] == plain.findings and rich.view == plain.view
        keys = [f.key for f in rich.findings]
        assert not {"pneumothorax", "tension_pneumothorax"} <= set(keys)
        if len(rich.findings) > len(plain.findings):
            gained += 1
            enriched_seed = enriched_seed or seed
            assert keys[-1] in findings and keys[-1] not in keys[:-1]
    assert 0.35 < gained / 300 < 0.55
    one = train_module.default_data_source(enriched_seed, "cxr", 64, enrich=0.5, enrich_findings=findings)
    drawn = training_conditions(enriched_seed, "cxr", 0.5, findings)
    # the render resolves each finding's place (a lobe, a size) but keeps what was drawn
    assert [(f.key, f.laterality) for f in one.conditions.findings] == [(f.key, f.laterality) for f in drawn.findings]
    replay = reader.render_set("cxr", 64, enriched_seed, 1, progress=False, enrich=0.5, findings=findings)
    assert np.array_equal(replay.images()[0], np.asarray(one.image, np.float32)[None])


@pytest.mark.parametrize("enrichment, message", [
    ({"enrich": 1.5, "enrich_findings": ["atelectasis"]}, "must lie in 0..1"),
    ({"enrich": 0.5, "enrich_findings": ["gallstone"]}, "'gallstone' are not cxr findings"),
    ({"enrich": 0.5, "enrich_findings": ["atelectsis"]}, "'atelectsis' are not cxr findings"),
    ({"enrich": 0.5}, "names no findings"),
])
def test_a_recipe_with_an_unusable_enrichment_is_refused(enrichment, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(modality="cxr", **enrichment)

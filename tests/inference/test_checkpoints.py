"""Weights and training checkpoints: safetensors + JSON sidecar round trips; no pickle."""

from __future__ import annotations

import json

import pytest
import torch
from tests.inference.dit_testutils import tiny_config, tiny_model

from inference.checkpoints import (
    file_sha256,
    latest_checkpoint,
    load_checkpoint,
    load_model,
    load_weights,
    save_checkpoint,
    save_weights,
)
from inference.models import DiT


def test_weights_round_trip(tmp_path):
    model = tiny_model(text_mode="cross")
    path = save_weights(
        tmp_path / "w", model.state_dict(), model.config, name="tiny-x", train_args={"lr": 1e-3}, step=42
    )
    assert path.suffix == ".safetensors" and path.with_suffix(".json").is_file()
    loaded, meta = load_model(path)
    assert loaded.config == model.config
    assert meta["step"] == 42 and meta["train_args"] == {"lr": 1e-3}
    assert meta["model_version"] == f"tiny-x@{file_sha256(path)[:12]}"
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    assert not loaded.training


def test_fp16_export_is_half_the_size(tmp_path):
    model = tiny_model()
    full = save_weights(tmp_path / "full", model.state_dict(), model.config)
    half = save_weights(tmp_path / "half", model.state_dict(), model.config, dtype=torch.float16)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    state, _, _ = load_weights(half)
    assert all(v.dtype == torch.float32 for v in state.values())  # upcast on load


def test_refuses_pickles_and_missing_sidecars(tmp_path):
    model = tiny_model()
    torch.save(model.state_dict(), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="only .safetensors"):
        load_weights(tmp_path / "model.pt")
    path = save_weights(tmp_path / "w", model.state_dict(), model.config)
    path.with_suffix(".json").unlink()
    with pytest.raises(FileNotFoundError, match="sidecar"):
        load_weights(path)


def test_config_mismatch_fails_loudly(tmp_path):
    model = tiny_model()
    path = save_weights(tmp_path / "w", model.state_dict(), model.config)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["config"]["depth"] = 3
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(RuntimeError, match="Missing key"):
        load_model(path)


def test_training_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model, ema = DiT(tiny_config()), DiT(tiny_config())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(2, 1, 16, 16), torch.tensor([1, 2]), _cond(2)).square().mean().backward()
    opt.step()
    rng_before = torch.get_rng_state()
    path = save_checkpoint(
        tmp_path, step=5, model=model, ema=ema, optimizer=opt, config=model.config, train_args={"name": "t"}
    )
    assert latest_checkpoint(tmp_path) == path
    model2, ema2 = DiT(tiny_config()), DiT(tiny_config())
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    torch.rand(10)  # move the RNG on; loading restores it
    meta = load_checkpoint(path, model=model2, ema=ema2, optimizer=opt2)
    assert meta["step"] == 5
    assert torch.equal(torch.get_rng_state(), rng_before)
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for idx in s1["state"]:
        for key in s1["state"][idx]:
            assert torch.equal(torch.as_tensor(s1["state"][idx][key]), torch.as_tensor(s2["state"][idx][key]))
    # exported-weights loader reads the EMA from a training checkpoint
    state, _, _ = load_weights(path)
    assert all(torch.equal(state[k], v) for k, v in ema.state_dict().items())


def test_keeps_only_the_newest_checkpoints(tmp_path):
    model = DiT(tiny_config())
    opt = torch.optim.AdamW(model.parameters())
    for step in (1, 2, 3, 4):
        save_checkpoint(
            tmp_path,
            step=step,
            model=model,
            ema=model,
            optimizer=opt,
            config=model.config,
            train_args={},
            keep=2,
        )
    names = sorted(p.name for p in tmp_path.glob("ckpt-*.safetensors"))
    assert names == ["ckpt-0000003.safetensors", "ckpt-0000004.safetensors"]


def _cond(n):
    from inference.conditions import Conditions
    from inference.encoding import encode_structured

    cond = encode_structured([Conditions()] * n, image_size=16)
    cond["text"] = torch.zeros(n, 384)
    return cond

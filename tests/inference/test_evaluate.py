"""The evaluation command: its scores, its memorisation check and its errors, on tiny weights (the real
figures come from `python -m inference.evaluate` on the shipped weights and live in docs/MODEL_CARD.md)."""

import json

import numpy as np
import pytest
from tests.inference.dit_testutils import save_tiny_weights

from inference import evaluate as ev
from inference.phantoms import reader


@pytest.fixture
def tiny_pair(tmp_path, monkeypatch, fake_text):
    """A randomised 64 px DiT and an untrained reader for it; the fake text encoder stands in for MiniLM."""
    import inference.text

    monkeypatch.setattr(inference.text, "get_text_encoder", lambda: fake_text)
    weights = save_tiny_weights(tmp_path / "tiny64.safetensors", image_size=64, patch_size=8)
    model = reader.build("cxr", width=8)
    reader_path = tmp_path / "reader.safetensors"
    reader.save(model, 64, str(reader_path))
    return str(weights), str(reader_path)


def test_memorisation_flags_copies_of_training_images():
    rng = np.random.default_rng(0)
    training = rng.random((50, 1, 8, 8)).astype(np.float32)
    fresh = rng.random((10, 1, 8, 8)).astype(np.float32)
    copies = training[:3] + 1e-4
    out = ev.memorisation(np.concatenate([fresh, copies]), training)
    assert out["memorised"] == 3 and out["checked"] == 13
    assert ev.memorisation(fresh, training)["memorised"] == 0


def test_evaluate_reports_every_figure(tiny_pair):
    weights, reader_path = tiny_pair
    r = ev.evaluate(weights=weights, reader_path=reader_path, samples=6, steps=2, guidance=1.5,
                    diversity_groups=2, diversity_seeds=2, memorisation_refs=32, workers=1, progress=False)
    for arm in ("with_masks", "without_masks", "typical_placement", "reader_ceiling"):
        assert 0.0 <= r[arm]["agreement"] <= 1.0 and 0.0 <= r[arm]["false_findings"] <= 1.0
    assert r["without_masks"]["dice"] is None  # no mask was given: nothing to compare against
    assert r["typical_placement"]["findings_scored"] == r["with_masks"]["findings_scored"]
    assert r["placement_seeds"][0] == ev.PLACEMENT_SEED0
    assert r["memorisation"]["checked"] == 18 and r["memorisation"]["reference_images"] == 32
    assert r["diversity"]["groups"] == 2 and r["diversity"]["generated_rms"] > 0
    assert r["eval_seeds"][0] == ev.EVAL_SEED0
    json.dumps(r)  # the --json output
    assert "agreement" in ev._summary(r)


def test_show_prints_a_saved_result_as_the_table(tiny_pair, tmp_path, capsys):
    weights, reader_path = tiny_pair
    r = ev.evaluate(weights=weights, reader_path=reader_path, samples=2, steps=2, diversity_groups=1,
                    diversity_seeds=2, memorisation_refs=8, workers=1, progress=False)
    saved = tmp_path / "eval.json"
    saved.write_text(json.dumps(r))
    assert ev.main(["--show", str(saved)]) == 0
    assert capsys.readouterr().out.strip() == ev._summary(r).strip()
    assert "typical_placement" in ev._summary(r)
    # a result saved before the typical-placement arm existed still shows
    for key in ("typical_placement", "placement_seeds"):
        r.pop(key)
    saved.write_text(json.dumps(r))
    assert ev.main(["--show", str(saved)]) == 0
    assert "with masks / without masks / ceiling" in capsys.readouterr().out
    saved.write_text("{not json")
    assert ev.main(["--show", str(saved)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_evaluate_is_deterministic(tiny_pair):
    weights, reader_path = tiny_pair
    kw = dict(weights=weights, reader_path=reader_path, samples=3, steps=2, diversity_groups=1,
              diversity_seeds=2, memorisation_refs=16, workers=1, progress=False)
    a, b = ev.evaluate(**kw), ev.evaluate(**kw)
    a.pop("seconds"), b.pop("seconds")
    assert a == b


def test_evaluate_rejects_a_reader_of_another_size(tiny_pair, tmp_path):
    weights, _ = tiny_pair
    other = tmp_path / "reader128.safetensors"
    reader.save(reader.build("cxr", width=8, size=128), 128, str(other))
    with pytest.raises(ev.ConditionError, match="reads 128 px images"):
        ev.evaluate(weights=weights, reader_path=str(other), samples=2, progress=False)


def test_cli_errors(capsys, tiny_pair):
    weights, _ = tiny_pair
    assert ev.main(["--samples", "0"]) == 2
    assert "--samples 0" in capsys.readouterr().err
    assert ev.main(["--weights", weights, "--reader", "/nonexistent/r.safetensors", "--samples", "2"]) == 2
    assert "no reader for cxr" in capsys.readouterr().err

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


def test_memorisation_replays_the_start_of_every_stream_the_weights_were_trained_on():
    from types import SimpleNamespace

    from inference.train import PhantomBatches

    stage = {"batch_size": 16, "enrich": 0.0, "enrich_findings": []}
    meta = {"step": 1, "train_args": dict(stage, seed=2, batch_size=4,
                                          earlier_streams=[dict(stage, seed=0, steps=10)])}
    generator = SimpleNamespace(meta=meta, config=SimpleNamespace(modalities=("cxr",), image_size=64))
    images = ev._render_training_images(generator, 9, workers=1)
    first = reader.render_set("cxr", 64, PhantomBatches.sample_seed(0, 0, 0, 16), 5, 1, progress=False).images()
    last = reader.render_set("cxr", 64, PhantomBatches.sample_seed(2, 0, 0, 4), 4, 1, progress=False).images()
    assert np.array_equal(images, np.concatenate([first, last]))  # 5 + 4: the last stage saw only 4 images


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
    assert "agreement by severity" in ev._summary(r)


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
    for arm in ("with_masks", "without_masks", "reader_ceiling"):  # and before agreement by severity
        for figures in r[arm]["per_finding"].values():
            figures.pop("agreement_by_severity")
    saved.write_text(json.dumps(r))
    assert ev.main(["--show", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "with masks / without masks / ceiling" in out and "by severity" not in out
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


@pytest.mark.skipif(not reader.default_path("cxr", 256).exists(), reason="needs the shipped 256 px chest reader")
def test_a_256_px_generator_is_judged_by_the_shipped_256_px_reader(tmp_path, monkeypatch, fake_text):
    """What the GPU recipe's weights will meet: no reader named, the one of their own size is used."""
    import inference.text

    monkeypatch.setattr(inference.text, "get_text_encoder", lambda: fake_text)
    weights = save_tiny_weights(tmp_path / "tiny256.safetensors", image_size=256, patch_size=16)
    out = ev.evaluate(weights=str(weights), samples=2, diversity_groups=1, diversity_seeds=2,
                      memorisation_refs=4, workers=1, progress=False)
    assert out["reader"] == "reader-cxr-256.safetensors" and out["image_size"] == 256
    assert out["with_masks"]["findings_scored"] > 0


def test_cli_errors(capsys, tiny_pair):
    weights, _ = tiny_pair
    assert ev.main(["--samples", "0"]) == 2
    assert "--samples 0" in capsys.readouterr().err
    assert ev.main(["--weights", weights, "--reader", "/nonexistent/r.safetensors", "--samples", "2"]) == 2
    assert "no reader for cxr" in capsys.readouterr().err


def _result(agreed: list[int], false: list[int], *, version: str = "m@a", seed0: int = ev.EVAL_SEED0) -> dict:
    """A saved evaluation with one finding per condition: agreed[i] and false[i] are condition i's outcomes."""
    n = len(agreed)
    arm = {"agreement": round(sum(agreed) / n, 4), "false_findings": round(sum(false) / n, 4),
           "outcomes": {"findings": [[i, "effusion", x] for i, x in enumerate(agreed)], "false": list(false)}}
    ceiling = {"agreement": 1.0, "false_findings": 0.0,
               "outcomes": {"findings": [[i, "effusion", 1] for i in range(n)], "false": [0] * n}}
    return {"model_version": version, "sampler": "dpmpp2m", "steps": 20, "guidance": 2.0, "modality": "cxr",
            "samples": n, "eval_seeds": [seed0, seed0 + n], "reader": "reader-cxr-64.safetensors",
            "placement_seeds": [ev.PLACEMENT_SEED0, ev.PLACEMENT_SEED0 + n],
            "with_masks": arm, "without_masks": arm, "typical_placement": arm, "reader_ceiling": ceiling}


def test_evaluate_records_the_outcome_of_every_condition(tiny_pair):
    weights, reader_path = tiny_pair
    r = ev.evaluate(weights=weights, reader_path=reader_path, samples=4, steps=2, diversity_groups=1,
                    diversity_seeds=2, memorisation_refs=8, workers=1, progress=False)
    for arm in ("with_masks", "without_masks", "typical_placement", "reader_ceiling"):
        rows, false = r[arm]["outcomes"]["findings"], r[arm]["outcomes"]["false"]
        assert len(rows) == r[arm]["findings_scored"] and len(false) == 4
        assert sum(x for _i, _k, x in rows) / len(rows) == pytest.approx(r[arm]["agreement"], abs=1e-4)
        assert sum(false) / 4 == pytest.approx(r[arm]["false_findings"], abs=1e-4)
    # a run compared with itself changes nothing
    same = ev.compare(r, r)
    assert all(v["agreement_change"] == 0 and v["findings_gained"] == v["findings_lost"] == 0
               for v in same["arms"].values())


def test_compare_gives_paired_changes_with_intervals():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 200).tolist()
    # B keeps A's outcome on 180 conditions and gets the other 20 right: a clear gain with some churn
    b = [1 if i < 20 else x for i, x in enumerate(a)]
    false_a = [0] * 200
    c = ev.compare(_result(a, false_a), _result(b, false_a, version="m@b"))
    v = c["arms"]["with_masks"]
    assert v["findings_lost"] == 0 and v["findings_gained"] == 20 - sum(a[:20])
    assert v["agreement_change"] == pytest.approx(v["findings_gained"] / 200, abs=1e-4)
    lo, hi = v["agreement_interval"]
    assert 0 < lo <= v["agreement_change"] <= hi
    assert v["false_change"] == 0 and v["false_interval"] == [0, 0]
    assert v["gained_lost_by_finding"] == {"effusion": [v["findings_gained"], 0]}
    # pure churn: B swaps half of A's successes for as many failures; the interval straddles zero
    ones = [i for i, x in enumerate(a) if x][:30]
    zeros = [i for i, x in enumerate(a) if not x][:30]
    churn = [1 if i in zeros else 0 if i in ones else x for i, x in enumerate(a)]
    c = ev.compare(_result(a, false_a), _result(churn, false_a))
    v = c["arms"]["with_masks"]
    assert v["findings_gained"] == v["findings_lost"] == 30 and v["agreement_change"] == 0
    assert v["agreement_interval"][0] < 0 < v["agreement_interval"][1]
    assert "+0.000" in ev._compare_summary(c)


def test_compare_refuses_results_that_are_not_paired():
    a = _result([1, 0, 1], [0, 0, 1])
    with pytest.raises(ev.ConditionError, match="differ in eval_seeds"):
        ev.compare(a, _result([1, 1, 1], [0, 0, 0], seed0=ev.EVAL_SEED0 + 5))
    other_reader = dict(_result([1, 1, 1], [0, 0, 0]), reader="reader-cxr-128.safetensors")
    with pytest.raises(ev.ConditionError, match="differ in reader"):
        ev.compare(a, other_reader)
    old = _result([1, 1, 1], [0, 0, 0])
    old["with_masks"] = {k: v for k, v in old["with_masks"].items() if k != "outcomes"}
    with pytest.raises(ev.ConditionError, match="evaluate it again"):
        ev.compare(a, old)


def test_compare_cli(tmp_path, capsys):
    a, b = _result([0, 1, 0, 1], [1, 0, 0, 0]), _result([1, 1, 0, 1], [0, 0, 0, 0], version="m@b")
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "ab.json").write_text(json.dumps([a, b]))  # what `--guidance 1 2 --out` writes
    assert ev.main(["--compare", str(tmp_path / "a.json"), f"{tmp_path / 'ab.json'}:1"]) == 0
    out = capsys.readouterr().out
    assert "A: m@a" in out and "B: m@b" in out and "+0.250" in out and "1/0" in out
    assert "gained/lost by finding, with_masks: effusion +1/-0" in out
    assert ev.main(["--compare", str(tmp_path / "a.json"), str(tmp_path / "ab.json")]) == 2
    assert "name one as" in capsys.readouterr().err
    assert ev.main(["--compare", str(tmp_path / "a.json"), f"{tmp_path / 'ab.json'}:7"]) == 2
    assert "there is no '7'" in capsys.readouterr().err
    assert ev.main(["--compare", str(tmp_path / "a.json"), str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_generator_is_judged_at_the_readers_operating_points():
    """A reader card's operating points decide its calls in the generator's evaluation too (one judge)."""
    from inference.conditions import Conditions, Finding

    model = reader.build("cxr", width=8)
    images = np.random.default_rng(0).random((2, 1, 64, 64)).astype(np.float32)
    conditions = [Conditions(findings=(Finding("cardiomegaly"),)), Conditions()]
    keys = reader.finding_keys("cxr")
    model.operating_points = {k: {"threshold": 1.0, "min_area": None} for k in keys}  # never calls
    silent = ev._scores(model, images, conditions, None)
    assert silent["false_findings"] == 0.0 and silent["agreement"] == 0.0
    model.operating_points = {k: {"threshold": -1.0, "min_area": None} for k in keys}  # calls everything
    loud = ev._scores(model, images, conditions, None)
    assert loud["false_findings"] == 1.0 and loud["agreement"] == 1.0


def test_agreement_is_also_counted_per_severity():
    """A reader that calls a left effusion on every image agrees with the left ones, mild or severe, and not
    with the right one: the per-severity rows say which severities the generator (or the judge) misses."""
    import torch
    from inference.conditions import Conditions, Finding

    names = reader.label_names("cxr")

    class LeftEffusionEverywhere(torch.nn.Module):
        modality = "cxr"

        def forward(self, x):
            logits = torch.full((x.shape[0], len(names)), -10.0)
            logits[:, names.index("effusion:left")] = 10.0
            return logits, torch.full((x.shape[0], len(reader.finding_keys("cxr")), 64, 64), -10.0)

    images = np.zeros((3, 1, 64, 64), np.float32)
    conditions = [Conditions(findings=(Finding("effusion", "left", severity="mild"),)),
                  Conditions(findings=(Finding("effusion", "left", severity="severe"),)),
                  Conditions(findings=(Finding("effusion", "right", severity="severe"),))]
    got = ev._scores(LeftEffusionEverywhere(), images, conditions, None)["per_finding"]["effusion"]
    assert got["agreement"] == 0.6667
    assert got["agreement_by_severity"] == {"mild": {"n": 1, "agreement": 1.0}, "severe": {"n": 2, "agreement": 0.5}}


def test_false_findings_are_named_per_condition_with_what_was_asked(tiny_pair, tmp_path):
    weights, reader_path = tiny_pair
    r = ev.evaluate(weights=weights, reader_path=reader_path, samples=4, steps=2, diversity_groups=1,
                    diversity_seeds=2, memorisation_refs=8, workers=1, progress=False, review_dir=str(tmp_path))
    for arm in ("with_masks", "without_masks", "typical_placement", "reader_ceiling"):
        a = r[arm]
        labels = a["outcomes"]["false_labels"]
        assert [int(bool(x)) for x in labels] == a["outcomes"]["false"]
        counted = {}
        for x in labels:
            for name in x:
                counted[name] = counted.get(name, 0) + 1
        assert counted == a["false_by_label"]
        # every false call is counted once per finding asked for in its image (or once as "normal")
        for name, row in a["false_alongside"].items():
            assert sum(row.values()) >= a["false_by_label"][name]
        if arm == "without_masks":  # nothing conditioned to lie on
            assert a["false_places"] is None and a["false_elsewhere"] is None
        else:
            assert sum(a["false_places"].values()) == sum(a["false_by_label"].values())
            assert a["false_elsewhere"] <= a["false_findings"]
    for arm in ev.ARMS:
        assert (tmp_path / f"{arm}-g{r['guidance']:g}.png").is_file()


def test_a_false_call_is_placed_on_the_asked_finding_or_elsewhere():
    keys = reader.finding_keys("cxr")
    masks = np.zeros((len(keys), 64, 64), bool)
    asked = np.zeros((64, 64), bool)
    asked[10:30, 5:25] = True  # a consolidation asked for on the patient's right (the image's left half)
    masks[keys.index("mass"), 12:22, 8:18] = True  # the reader draws a mass inside it
    assert ev.false_call_place(masks, "mass:right", keys, asked) == "on_asked"
    # the same call on the other side draws nothing there
    assert ev.false_call_place(masks, "mass:left", keys, asked) == "unlocated"
    masks[keys.index("nodule"), 40:44, 45:49] = True  # a nodule on the patient's left, far from it
    assert ev.false_call_place(masks, "nodule:left", keys, asked) == "elsewhere"
    masks[keys.index("cardiomegaly"), 20:40, 20:40] = True  # a quarter over the asked mask: not half
    assert ev.false_call_place(masks, "cardiomegaly", keys, asked) == "elsewhere"


def test_review_sheet_outlines_the_false_call_and_shows_the_phantom(tmp_path, monkeypatch):
    from PIL import Image

    from inference.conditions import Conditions, Finding

    model = reader.build("cxr", width=8)
    keys = reader.finding_keys("cxr")

    def predict(_model, x):  # the reader draws a 10 px square nodule at rows/cols 20..29
        masks = np.zeros((len(x), len(keys), 64, 64), bool)
        masks[:, keys.index("nodule"), 20:30, 20:30] = True
        return np.zeros((len(x), len(reader.label_names("cxr")))), masks

    monkeypatch.setattr(reader, "predict", predict)
    generated = np.full((3, 1, 64, 64), 0.5, np.float32)
    phantoms = np.zeros((3, 1, 64, 64), np.float32)
    conds = [Conditions(modality="cxr", findings=(Finding(key="effusion", laterality="left"),))] * 3
    path = tmp_path / "sheet.png"
    assert ev.write_review_sheet(path, model, generated, phantoms, conds, [[], ["nodule:right"], []]) == 1
    sheet = np.asarray(Image.open(path).convert("RGB")).astype(int)
    s, gap = 64 * ev.REVIEW_SCALE, 6
    plain, marked, phantom = (sheet[:s, k * (s + gap):k * (s + gap) + s] for k in range(3))
    assert (plain == 128).all()  # the generated image as stored
    red = (marked[..., 0] == 255) & (marked[..., 1] == 40)
    assert red[60, 60:90].all() and not red[61:89, 61:89].any()  # the square's outline only, at 3x
    assert (phantom == 0).all()
    assert ev.write_review_sheet(tmp_path / "none.png", model, generated, phantoms, conds, [[], [], []]) == 0

    def predict_wide(_model, x):  # one nodule map across both halves: a sided call outlines its own half
        masks = np.zeros((len(x), len(keys), 64, 64), bool)
        masks[:, keys.index("nodule"), 20:30, 10:54] = True
        return np.zeros((len(x), len(reader.label_names("cxr")))), masks

    monkeypatch.setattr(reader, "predict", predict_wide)
    assert ev.write_review_sheet(path, model, generated, phantoms, conds, [["nodule:right"], [], []]) == 1
    marked = np.asarray(Image.open(path).convert("RGB")).astype(int)[:s, s + gap:2 * s + gap]
    red = (marked[..., 0] == 255) & (marked[..., 1] == 40)
    assert red[60, 30:96].all() and not red[:, 96:].any()  # the right half (image left) ends at column 32

"""Reader models: labels carry laterality, the network learns, files round-trip, the shipped reader holds up."""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from inference.conditions import Conditions, Finding  # noqa: E402
from inference.phantoms import reader, render, sample  # noqa: E402
from inference.phantoms.cli import main as cli  # noqa: E402


def test_labels_name_the_side():
    names = reader.label_names("cxr")
    assert "nodule:left" in names and "nodule:right" in names
    assert "cardiomegaly" in names and "cardiomegaly:left" not in names
    assert "edema" in names  # always bilateral: one label
    c = Conditions(findings=(Finding("nodule", "left"), Finding("effusion", "bilateral"), Finding("cardiomegaly")))
    y = reader.labels_for(c, "cxr")
    on = {names[i] for i in np.nonzero(y)[0]}
    assert on == {"nodule:left", "effusion:left", "effusion:right", "cardiomegaly"}


def test_mask_targets_are_the_phantom_masks():
    c = Conditions(findings=(Finding("effusion", "right", severity="severe"),))
    s = render(c, seed=3, size=64)
    m = reader.masks_for(s.masks, s.conditions, "cxr", 64)
    i = reader.finding_keys("cxr").index("effusion")
    assert m.shape == (len(reader.finding_keys("cxr")), 64, 64)
    assert np.array_equal(m[i] > 0, s.masks["effusion:right"])
    assert m.sum() == m[i].sum()


def test_reader_shapes():
    model = reader.build("cxr", width=8)
    logits, seg = model(torch.zeros(2, 1, 64, 64))
    assert logits.shape == (2, len(reader.label_names("cxr")))
    assert seg.shape == (2, len(reader.finding_keys("cxr")), 64, 64)
    lap = reader.build("lap", width=8)
    logits, seg = lap(torch.zeros(1, 3, 64, 64))
    assert logits.shape == (1, len(reader.label_names("lap")))



def test_a_larger_reader_keeps_the_64_px_unet_and_answers_at_full_resolution():
    """Above 64 px the image enters through a patch embedding; masks come back at the image's own size."""
    model = reader.build("cxr", width=8, size=256)
    logits, seg = model(torch.zeros(2, 1, 256, 256))
    assert logits.shape == (2, len(reader.label_names("cxr")))
    assert seg.shape == (2, len(reader.finding_keys("cxr")), 256, 256)
    assert model.embed.stride == (4, 4)
    # the U-Net itself is the 64 px one: its encoder and decoder weights have the same shapes
    small = reader.build("cxr", width=8, size=64).state_dict()
    big = model.state_dict()
    assert all(big[k].shape == v.shape for k, v in small.items() if not k.startswith(("e1.0.", "seg.", "cls.0.")))
    ct = reader.build("ct", width=8, size=128)
    assert ct(torch.zeros(1, 1, 128, 128))[1].shape == (1, len(reader.finding_keys("ct")), 128, 128)
    for bad in (32, 96, 192):
        with pytest.raises(ValueError, match="64 times a power of two"):
            reader.build("cxr", size=bad)


@pytest.mark.parametrize("size", [64, 256])
def test_the_decoder_readout_feeds_the_labels_and_the_encoder_readout_does_not(size):
    """Labels read from the decoder's full-resolution output as well as the encoder's deepest levels; a reader
    saved before that (readout "encoder") keeps its own label path."""
    torch.manual_seed(0)
    x = torch.rand(1, 1, size, size)
    for readout, moves in (("encoder+decoder", True), ("encoder", False)):
        model = reader.build("ct", width=8, size=size, readout=readout).eval()
        with torch.no_grad():
            before = model(x)[0]
            model.d1[3].weight.mul_(3.0)  # the decoder's last convolution
            after = model(x)[0]
        assert (not torch.allclose(before, after)) is moves
    with pytest.raises(ValueError, match="readout 'pixels'"):
        reader.build("ct", readout="pixels")


def test_a_reader_card_without_a_readout_loads_as_an_encoder_reader(tmp_path):
    model = reader.build("cxr", width=8, readout="encoder")
    path = tmp_path / "r.safetensors"
    reader.save(model, 64, str(path))
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["readout"] == "encoder"
    del card["readout"]  # as the cards of readers trained before the decoder readout
    path.with_suffix(".json").write_text(json.dumps(card))
    loaded, _ = reader.load(str(path))
    assert loaded.readout == "encoder"


def test_a_pixel_in_a_patch_reaches_its_own_mask_pixel():
    """The sub-pixel head is not a blurred 64 px map: neighbouring full-resolution pixels get their own logits."""
    torch.manual_seed(0)
    model = reader.build("cxr", width=8, size=128).eval()
    x = torch.zeros(1, 1, 128, 128, requires_grad=True)
    _, seg = model(x)
    seg[0, 0, 40, 40].backward()
    g = x.grad[0, 0].abs()
    assert g[40, 40] > 0 and g[41, 41] > 0  # the pixel and its patch neighbour both feed it ...
    _, seg = model(x.detach())
    assert not torch.equal(seg[0, 0, 40, 40], seg[0, 0, 40, 41])  # ... and the two map to different logits


@pytest.mark.parametrize("size,images,steps,drop", [(64, 8, 25, 0.6), (128, 6, 15, 0.7)])
def test_reader_learns_a_fixed_batch_and_round_trips(tmp_path, size, images, steps, drop):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = reader.build("cxr", width=8, size=size)
    data = reader.render_set("cxr", size, 100, images, progress=False)
    assert data.pixels.dtype == np.uint16 and data.packed_masks.shape[-1] == size // 8
    x, y, m = torch.from_numpy(data.images()), torch.from_numpy(data.y), torch.from_numpy(data.masks()).float()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(steps):
        loss = reader.loss_fn(model, x, y, m)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < drop * first
    path = tmp_path / "r.safetensors"
    reader.save(model, size, str(path))
    loaded, loaded_size = reader.load(str(path))
    assert loaded_size == size and loaded.patch == size // 64
    with torch.no_grad():
        assert torch.equal(model.eval()(x[:1])[1], loaded(x[:1])[1])


def test_render_set_is_seed_ordered_and_matches_sample():
    data = reader.render_set("cxr", 64, 40, 3, progress=False)
    for i, seed in enumerate(range(40, 43)):
        s = sample(seed, "cxr", 64)
        assert np.array_equal(data.images()[i, 0], s.image)
        assert np.array_equal(data.masks(i), reader.masks_for(s.masks, s.conditions, "cxr", 64))
        assert np.array_equal(data.y[i], reader.labels_for(s.conditions, "cxr", s.masks, reader.VISIBLE_PIXELS["cxr"]))


def test_enriched_training_phantoms_gain_one_hard_finding_and_keep_the_rest():
    """`enrich` adds one of the modality's hardest small findings to about that share of training phantoms;
    without it the training phantoms are `sample()`'s. Held-out scoring never enriches."""
    from inference.phantoms.api import random_conditions
    from inference.phantoms.api import training_conditions as api_training_conditions

    def training_conditions(seed, modality, enrich=0.0):
        return api_training_conditions(seed, modality, enrich, reader.ENRICHED_FINDINGS[modality])

    seeds = range(1000, 1400)
    gained = 0
    for seed in seeds:
        plain = random_conditions(np.random.default_rng(seed), "cxr")
        assert training_conditions(seed, "cxr") == plain
        rich = training_conditions(seed, "cxr", enrich=0.5)
        assert rich == training_conditions(seed, "cxr", enrich=0.5)  # deterministic
        assert rich.findings[:len(plain.findings)] == plain.findings and rich.sex == plain.sex
        extra = rich.findings[len(plain.findings):]
        assert len(extra) <= 1
        if extra:
            gained += 1
            assert extra[0].key in reader.ENRICHED_FINDINGS["cxr"]
            assert extra[0].key not in {f.key for f in plain.findings}
    assert 0.35 < gained / len(seeds) < 0.55
    data = reader.render_set("cxr", 64, 1000, 8, progress=False, enrich=0.5)
    for i, seed in enumerate(range(1000, 1008)):
        c = training_conditions(seed, "cxr", enrich=0.5)
        assert np.array_equal(data.y[i], reader.labels_for(c, "cxr"))


def test_save_load_round_trip(tmp_path):
    model = reader.build("cxr", width=8)
    path = tmp_path / "r.safetensors"
    reader.save(model, 64, str(path), {"finding_accuracy": 0.5})
    loaded, size = reader.load(str(path))
    assert size == 64 and loaded.labels == model.labels
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        assert torch.equal(model.eval()(x)[0], loaded(x)[0])
    assert json.loads(path.with_suffix(".json").read_text())["heldout"] == {"finding_accuracy": 0.5}


def test_score_of_a_perfect_and_a_silent_reader():
    """The scores mean what the card says: a silent reader gets balanced accuracy 0.5, not the negative rate."""
    data = reader.render_set("cxr", 64, 500, 24, progress=False)

    class Silent(torch.nn.Module):
        modality = "cxr"

        def forward(self, x):
            n = x.shape[0]
            return (torch.full((n, len(reader.label_names("cxr"))), -10.0),
                    torch.full((n, len(reader.finding_keys("cxr")), 64, 64), -10.0))

    class Oracle(Silent):
        def forward(self, x):
            images = data.images()
            i = [int(np.nonzero((images == x[j].numpy()).all((1, 2, 3)))[0][0]) for j in range(x.shape[0])]
            return (torch.from_numpy(data.y[i] * 20 - 10), torch.from_numpy(data.masks(i).astype(np.float32) * 20 - 10))

    silent = reader.score(Silent(), data)
    assert silent["finding_accuracy"] <= 0.5 and silent["lesion_dice"] == 0.0
    perfect = reader.score(Oracle(), data)
    assert perfect["finding_accuracy"] == perfect["exact_match"] == 1.0
    assert perfect["lesion_dice"] == 1.0
    for k, figures in perfect["per_finding"].items():  # the oracle ranks every image with a finding first
        assert figures["auc"] == (1.0 if 0 < figures["n_present"] < len(data) else None), k
    assert all(f["auc"] in (0.5, None) for f in silent["per_finding"].values())  # one score for all: ties
    for k, figures in perfect["per_finding"].items():  # every present finding falls in its severity's row
        by_severity = figures["sensitivity_by_severity"]
        assert sum(row["n"] for row in by_severity.values()) == figures["n_present"], k
        assert all(row["sensitivity"] == 1.0 for row in by_severity.values()), k
        assert all(row["sensitivity"] == 0.0 for row in silent["per_finding"][k]["sensitivity_by_severity"].values())


def test_sensitivity_by_severity_counts_each_severity_apart():
    found = np.array([True, False, False, True, True, False])
    severities = ["mild", "mild", None, "severe", "severe", "moderate"]
    assert reader.sensitivity_by_severity(found, severities) == {
        "mild": {"n": 2, "sensitivity": 0.5}, "moderate": {"n": 1, "sensitivity": 0.0},
        "severe": {"n": 2, "sensitivity": 1.0}}
    # a left nodule called on the right is not found; a finding never present has no row
    assert reader.finding_found(np.array([[False, True]]), np.array([[True, False]])).tolist() == [False]
    assert reader.sensitivity_by_severity(np.zeros(3, bool), [None] * 3) == {}


def test_auc_counts_ranked_pairs():
    positive = np.array([True, True, False, False, False])
    assert reader.auc(np.array([0.9, 0.8, 0.1, 0.2, 0.3]), positive) == 1.0
    assert reader.auc(np.array([0.1, 0.2, 0.9, 0.8, 0.7]), positive) == 0.0
    # 0.5 beats 0.4 and 0.1 but loses to 0.6; 0.2 beats 0.1 only: 3 of 6 pairs, a tie counts half
    assert reader.auc(np.array([0.5, 0.2, 0.6, 0.4, 0.1]), positive) == 0.5
    assert reader.auc(np.array([0.5, 0.5, 0.5, 0.1, 0.9]), positive) == 0.5
    assert reader.auc(np.array([0.3, 0.4]), np.array([True, True])) is None


def test_cli_rejects_bad_reader_arguments(capsys):
    assert cli(["reader", "train", "--modality", "xray"]) == 2
    assert "unknown modality 'xray'" in capsys.readouterr().err
    assert cli(["reader", "train", "--out", "r.pt"]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
    assert cli(["reader", "eval", "--weights", "/nonexistent/r.safetensors"]) == 2
    assert "no reader at" in capsys.readouterr().err
    assert cli(["reader", "eval", "--count", "-3"]) == 2
    assert "count -3" in capsys.readouterr().err
    assert cli(["reader", "train", "--enrich", "1.5", "--out", "r.safetensors"]) == 2
    assert "--enrich 1.5 must lie in 0..1" in capsys.readouterr().err
    assert cli(["reader", "train", "--modality", "lap", "--enrich", "0.3", "--out", "r.safetensors"]) == 2
    assert "no findings to add for modality 'lap'" in capsys.readouterr().err


SHIPPED = [("cxr", 64, 64), ("ct", 64, 64), ("lap", 64, 64), ("ct", 256, 32), ("cxr", 256, 32)]


@pytest.mark.parametrize("modality,size,count", SHIPPED, ids=[f"{m}-{s}" for m, s, _ in SHIPPED])
def test_shipped_reader_reads_held_out_phantoms(modality, size, count):
    """A small held-out check of each shipped reader (its card holds the full 2,000-image figures)."""
    path = reader.default_path(modality, size)
    if not path.exists():
        pytest.skip(f"no shipped {path.name}")
    model, loaded_size = reader.load(str(path))
    assert loaded_size == size
    card = json.loads(path.with_suffix(".json").read_text())["heldout"]
    figures = reader.evaluate(model, size, count=count, seed0=reader.HELDOUT_SEED0 + 5000)
    assert figures["finding_accuracy"] >= card["finding_accuracy"] - 0.1
    assert figures["lesion_dice"] >= card["lesion_dice"] - 0.1


def test_only_visible_findings_are_labelled():
    c = Conditions(modality="ct", view="axial", findings=(Finding("nodule", "left"),))
    empty = {"nodule:left": np.zeros((64, 64), bool)}
    drawn = {"nodule:left": np.ones((64, 64), bool)}
    names = reader.label_names("ct")
    assert reader.labels_for(c, "ct", empty).sum() == 0  # another slice
    assert reader.labels_for(c, "ct", drawn)[names.index("nodule:left")] == 1
    assert reader.labels_for(c, "ct")[names.index("nodule:left")] == 1  # what was asked for
    tiny = {"nodule:left": np.zeros((64, 64), bool)}
    tiny["nodule:left"][10, 10:13] = True
    cxr = Conditions(findings=(Finding("nodule", "left"),))
    assert reader.labels_for(cxr, "cxr", tiny, min_pixels=6).sum() == 0
    assert reader.labels_for(cxr, "cxr", tiny, min_pixels=1).sum() == 1
    # radiographs project every finding: the shipped chest reader is trained on what was asked for
    assert reader.labels_for(cxr, "cxr", empty, min_pixels=reader.VISIBLE_PIXELS["cxr"]).sum() == 1


@pytest.mark.parametrize("size", [64, 128])
def test_selected_masks_are_the_same_as_the_full_maps(size):
    """Training computes only the drawn findings' maps; they must equal those maps from the full forward pass."""
    torch.manual_seed(1)
    model = reader.build("cxr", width=8, size=size).eval()
    x = torch.rand(3, 1, size, size)
    images, findings = torch.tensor([0, 2, 2]), torch.tensor([4, 0, 11])
    with torch.no_grad():
        logits, full = model(x)
        logits2, some = model(x, (images, findings))
    assert torch.equal(logits, logits2)
    assert some.shape == (3, size, size)
    assert torch.allclose(some, full[images, findings], atol=1e-5)


# ---- operating points -------------------------------------------------------------------------------------

def _masks_from_phantoms(modality, conditions):
    """(n, findings, 64, 64) bool finding masks of rendered phantoms, as the segmenter would draw them."""
    return np.stack([reader.masks_for(render(c, seed=5, size=64).masks, c, modality, 64) > 0 for c in conditions])


@pytest.mark.parametrize("modality,view", [("cxr", "PA"), ("ct", "axial")])
def test_a_left_lesion_is_counted_on_the_left_label(modality, view):
    """The side halves follow the radiological convention the renderers draw in (patient's left on the right)."""
    names = reader.label_names(modality)
    left = Conditions(modality=modality, view=view, findings=(Finding("effusion", "left", severity="severe"),))
    right = Conditions(modality=modality, view=view, findings=(Finding("effusion", "right", severity="severe"),))
    areas = reader.label_areas(_masks_from_phantoms(modality, [left, right]), modality)
    # a severe effusion reaches a little past the midline behind the heart on a radiograph
    assert areas[0, names.index("effusion:left")] > 5 * areas[0, names.index("effusion:right")]
    assert areas[1, names.index("effusion:right")] > 5 * areas[1, names.index("effusion:left")]


def test_unsided_labels_count_the_whole_image():
    masks = np.zeros((1, len(reader.finding_keys("cxr")), 64, 64), bool)
    masks[0, reader.finding_keys("cxr").index("cardiomegaly"), 20:30, 10:50] = True
    areas = reader.label_areas(masks, "cxr")
    assert areas[0, reader.label_names("cxr").index("cardiomegaly")] == 400
    assert areas.sum() == 400


def _fake_reader(points=None):
    model = reader.build("cxr", width=8)
    if points is not None:
        model.operating_points = points
    return model


def test_a_reader_without_operating_points_calls_at_one_half():
    n_labels, n_keys = len(reader.label_names("cxr")), len(reader.finding_keys("cxr"))
    probs = np.full((2, n_labels), 0.3, np.float32)
    probs[1] = 0.7
    masks = np.ones((2, n_keys, 64, 64), bool)  # the segmenter draws everywhere: no area rule without points
    calls = reader.decide(_fake_reader(), probs, masks)
    assert not calls[0].any() and calls[1].all()


def test_operating_points_set_the_threshold_and_the_area_rule():
    names, keys = reader.label_names("cxr"), reader.finding_keys("cxr")
    probs = np.full((1, len(names)), 0.2, np.float32)
    masks = np.zeros((1, len(keys), 64, 64), bool)
    masks[0, keys.index("rib_fracture"), 10:12, 40:43] = True  # 6 pixels in the image's right half
    points = {"mass": {"threshold": 0.1, "min_area": None}, "rib_fracture": {"threshold": 0.9, "min_area": 6}}
    on = {names[i] for i in np.nonzero(reader.decide(_fake_reader(points), probs, masks)[0])[0]}
    assert on == {"mass:left", "mass:right", "rib_fracture:left"}
    points["rib_fracture"]["min_area"] = 7
    on = {names[i] for i in np.nonzero(reader.decide(_fake_reader(points), probs, masks)[0])[0]}
    assert on == {"mass:left", "mass:right"}


def test_calibration_finds_the_threshold_that_separates_and_the_area_that_sees():
    """Nodule probabilities separate at 0.03 (far from 0.5); rib fracture probabilities carry nothing, its drawn
    area does: calibration must take the threshold for the one and the area rule for the other."""
    rng = np.random.default_rng(0)
    names, keys, cols = reader.label_names("cxr"), reader.finding_keys("cxr"), reader.label_columns("cxr")
    n = 400
    y = np.zeros((n, len(names)), np.float32)
    probs = rng.uniform(0.0, 0.02, (n, len(names))).astype(np.float32)
    masks = np.zeros((n, len(keys), 64, 64), bool)
    nodule_right, fracture_left = rng.random(n) < 0.2, rng.random(n) < 0.2
    y[nodule_right, names.index("nodule:right")] = 1
    probs[nodule_right, names.index("nodule:right")] = rng.uniform(0.04, 0.3, nodule_right.sum())
    y[fracture_left, names.index("rib_fracture:left")] = 1
    probs[:, cols["rib_fracture"]] = rng.uniform(0, 1, (n, 2))
    masks[fracture_left, keys.index("rib_fracture"), 30:33, 40:43] = True  # 9 px on the patient's left
    masks[~fracture_left, keys.index("rib_fracture"), 30, 40:42] = True  # 2 px of noise elsewhere
    points = reader.choose_operating_points("cxr", probs, masks, y)
    assert 0.02 <= points["nodule"]["threshold"] < 0.04 and points["nodule"]["min_area"] is None
    assert points["rib_fracture"]["threshold"] == 1.0 and 2 < points["rib_fracture"]["min_area"] <= 9
    model = _fake_reader(points)
    calls = reader.decide(model, probs, masks)
    for key, truth in (("nodule", y[:, cols["nodule"]] > 0), ("rib_fracture", y[:, cols["rib_fracture"]] > 0)):
        assert reader.finding_sensitivity_specificity(calls[:, cols[key]], truth) == (1.0, 1.0), key
    assert "effusion" not in points  # never present in this set: the default stays


def test_operating_points_round_trip_through_the_card(tmp_path):
    model = _fake_reader({"nodule": {"threshold": 0.12, "min_area": None}})
    model.calibration = {"images": 10, "seeds": [reader.CALIBRATION_SEED0, reader.CALIBRATION_SEED0 + 10]}
    path = tmp_path / "r.safetensors"
    reader.save(model, 64, str(path), {"finding_accuracy": 0.5})
    before = path.read_bytes()
    loaded, _ = reader.load(str(path))
    assert loaded.operating_points == model.operating_points and loaded.calibration == model.calibration
    loaded.operating_points = {"nodule": {"threshold": 0.2, "min_area": 3}}
    reader.write_card(loaded, 64, str(path), {"finding_accuracy": 0.6})
    again, _ = reader.load(str(path))
    assert again.operating_points["nodule"] == {"threshold": 0.2, "min_area": 3}
    assert path.read_bytes() == before  # the card changed, the weights did not
    assert json.loads(path.with_suffix(".json").read_text())["heldout"] == {"finding_accuracy": 0.6}


def test_a_specificity_floor_gives_up_sensitivity_for_fewer_false_calls():
    rng = np.random.default_rng(1)
    names = reader.label_names("cxr")
    n, col = 1000, names.index("cardiomegaly")
    y = np.zeros((n, len(names)), np.float32)
    y[: n // 5, col] = 1
    probs = np.zeros((n, len(names)), np.float32)
    probs[:, col] = np.clip(y[:, col] * 0.3 + rng.normal(0.2, 0.1, n), 0, 1)  # overlapping classes
    masks = np.zeros((n, len(reader.finding_keys("cxr")), 64, 64), bool)
    loose = reader.choose_operating_points("cxr", probs, masks, y)["cardiomegaly"]["threshold"]
    strict = reader.choose_operating_points("cxr", probs, masks, y, min_specificity=0.99)["cardiomegaly"]
    assert strict["threshold"] > loose
    spec = reader.finding_sensitivity_specificity(probs[:, [col]] > strict["threshold"], y[:, [col]] > 0)[1]
    assert spec >= 0.99
    # where every threshold calls every film, the floor is kept by calling none rather than by breaking it
    probs[:, col] = 0.95
    points = reader.choose_operating_points("cxr", probs, masks, y, min_specificity=0.5)
    assert not reader.decide(_fake_reader(points), probs, masks)[:, col].any()


def test_cli_operating_points_studies_floors_and_writes_one(tmp_path, capsys):
    model = reader.build("cxr", width=8)
    path = tmp_path / "r.safetensors"
    reader.save(model, 64, str(path))
    before = path.with_suffix(".json").read_text()
    args = ["reader", "operating-points", "--weights", str(path), "--calibration-count", "16", "--count", "8",
            "--workers", "1"]
    assert cli(args + ["--min-specificity", "0", "0.99"]) == 0
    study = json.loads(capsys.readouterr().out)
    assert [r["min_specificity"] for r in study["rows"]] == [None, 0.0, 0.99]
    assert study["rows"][0]["operating_points"] == {} and study["calibration"]["images"] == 16
    assert path.with_suffix(".json").read_text() == before  # a study writes nothing
    assert cli(args + ["--min-specificity", "0.99", "--write"]) == 0
    chosen = json.loads(capsys.readouterr().out)["rows"][-1]
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["heldout"] == chosen["heldout"] and card["operating_points"] == chosen["operating_points"]
    assert card["calibration"]["min_specificity"] == 0.99
    assert cli(["reader", "eval", "--weights", str(path), "--count", "8", "--workers", "1", "--write"]) == 0
    printed = json.loads(capsys.readouterr().out)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["heldout"] == printed and card["operating_points"] == chosen["operating_points"]
    for bad, message in ((["--calibration-count", "0"], "calibration count 0"),
                         (["--min-specificity", "1.5"], "min specificity 1.5"),
                         (["--min-specificity", "0", "0.9", "--write"], "one --min-specificity")):
        assert cli(["reader", "operating-points", "--weights", str(path)] + bad) == 2
        assert message in capsys.readouterr().err

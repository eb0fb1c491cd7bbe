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


def test_reader_learns_a_fixed_batch():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = reader.build("cxr", width=8)
    data = reader.render_set("cxr", 64, 100, 8, progress=False)
    x, y, m = torch.from_numpy(data.x), torch.from_numpy(data.y), torch.from_numpy(data.m).float()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(25):
        loss = reader.loss_fn(model, x, y, m)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.6 * first


def test_render_set_is_seed_ordered_and_matches_sample():
    data = reader.render_set("cxr", 64, 40, 3, progress=False)
    for i, seed in enumerate(range(40, 43)):
        s = sample(seed, "cxr", 64)
        assert np.array_equal(data.x[i, 0], s.image)
        assert np.array_equal(data.y[i], reader.labels_for(s.conditions, "cxr", s.masks, reader.VISIBLE_PIXELS["cxr"]))


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
            i = [int(np.nonzero((data.x == x[j].numpy()).all((1, 2, 3)))[0][0]) for j in range(x.shape[0])]
            return (torch.from_numpy(data.y[i] * 20 - 10), torch.from_numpy(data.m[i].astype(np.float32) * 20 - 10))

    silent = reader.score(Silent(), data)
    assert silent["finding_accuracy"] <= 0.5 and silent["lesion_dice"] == 0.0
    perfect = reader.score(Oracle(), data)
    assert perfect["finding_accuracy"] == perfect["exact_match"] == 1.0
    assert perfect["lesion_dice"] == 1.0


def test_cli_rejects_bad_reader_arguments(capsys):
    assert cli(["reader", "train", "--modality", "xray"]) == 2
    assert "unknown modality 'xray'" in capsys.readouterr().err
    assert cli(["reader", "train", "--out", "r.pt"]) == 2
    assert "must end in .safetensors" in capsys.readouterr().err
    assert cli(["reader", "eval", "--weights", "/nonexistent/r.safetensors"]) == 2
    assert "no reader at" in capsys.readouterr().err
    assert cli(["reader", "eval", "--count", "-3"]) == 2
    assert "count -3" in capsys.readouterr().err


@pytest.mark.skipif(not reader.default_path("cxr", 64).exists(), reason="no shipped cxr reader")
def test_shipped_reader_reads_held_out_phantoms():
    """A small held-out check of the shipped reader (its card holds the full 2,000-image figures)."""
    model, size = reader.load(str(reader.default_path("cxr", 64)))
    card = json.loads(reader.default_path("cxr", 64).with_suffix(".json").read_text())["heldout"]
    figures = reader.evaluate(model, size, count=64, seed0=reader.HELDOUT_SEED0 + 5000)
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

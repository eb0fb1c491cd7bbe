"""`python -m inference.sample`: conditions in, PNG out, model version printed; bad input exits 2."""

from __future__ import annotations

import json

from PIL import Image

from inference import sample
from inference.conditions import Conditions, Finding


def test_writes_png_and_prints_model_version(tiny_weights, tmp_path, capsys):
    out = tmp_path / "x.png"
    code = sample.main(
        [
            "--weights",
            str(tiny_weights),
            "--finding",
            "nodule:left:severe:12",
            "--prompt",
            "nodule",
            "--seed",
            "3",
            "--steps",
            "2",
            "--sampler",
            "ddim",
            "--out",
            str(out),
            "--scale",
            "2",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "tiny-test@" in printed
    assert Image.open(out).size == (32, 32)


def test_conditions_file(tiny_weights, tmp_path, capsys):
    path = tmp_path / "c.json"
    path.write_text(json.dumps(Conditions(findings=(Finding("effusion", "bilateral"),)).to_json()))
    assert (
        sample.main(
            [
                "--weights",
                str(tiny_weights),
                "--conditions",
                str(path),
                "--steps",
                "1",
                "--out",
                str(tmp_path / "y.png"),
            ]
        )
        == 0
    )


def test_bad_finding_exits_2(tiny_weights, capsys):
    assert sample.main(["--weights", str(tiny_weights), "--finding", "dragon:left"]) == 2
    assert "unknown finding 'dragon'" in capsys.readouterr().err
    assert sample.main(["--weights", str(tiny_weights), "--finding", "nodule:left", "--guidance", "12"]) == 2

"""CLI: render writes the files; bad parameters exit 2 with one line naming the value."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.phantoms.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_render_writes_image_native_masks_and_conditions(tmp_path):
    rc = main(["render", "--modality", "cxr", "--finding", "effusion:right:moderate", "--finding", "nodule:left:mild",
               "--seed", "7", "--size", "64", "--out", str(tmp_path)])
    assert rc == 0
    img = np.array(Image.open(tmp_path / "image.png"))
    nat = np.array(Image.open(tmp_path / "native16.png"))
    assert img.shape == (64, 64) and img.dtype == np.uint8
    assert nat.dtype == np.uint16 and nat.max() <= 4095
    assert (tmp_path / "mask_effusion_right.png").exists() and (tmp_path / "mask_nodule_left.png").exists()
    meta = json.loads((tmp_path / "conditions.json").read_text())
    assert meta["conditions"]["findings"][0]["key"] in ("effusion", "nodule")


def test_render_ct_writes_two_windows(tmp_path):
    assert main(["render", "--modality", "ct", "--finding", "nodule:right", "--seed", "3", "--size", "64",
                 "--out", str(tmp_path)]) == 0
    for name in ("image_lung.png", "image_mediastinal.png", "native16.png", "mask_nodule_right.png"):
        assert (tmp_path / name).exists(), name
    nat = np.array(Image.open(tmp_path / "native16.png")).astype(int) - 1024
    assert nat.min() < -900 and nat.max() > 100


@pytest.mark.parametrize("args,needle", [
    (["--modality", "cxr", "--finding", "banana:left"], "banana"),
    (["--modality", "cxr", "--finding", "nodule:none"], "'none'"),
    (["--modality", "cxr", "--finding", "nodule:left:mild:-5"], "-5"),
    (["--modality", "xray"], "xray"),
    (["--modality", "cxr", "--finding", "nodule:left:mild:big"], "big"),
    (["--modality", "cxr", "--finding", "pulmonary_embolism:left"], "pulmonary_embolism"),
    (["--modality", "cxr", "--size", "100"], "100"),
])
def test_bad_parameters_exit_2(tmp_path, capsys, args, needle):
    rc = main(["render", *args, "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err and err.count("\n") == 1 and err.startswith("error:")
    assert not (tmp_path / "x").exists()


def test_exit_status_from_the_shell(tmp_path):
    p = subprocess.run([sys.executable, "-m", "inference.phantoms", "render", "--modality", "cxr", "--finding",
                        "nodule:sideways", "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 2
    assert "sideways" in p.stderr and "Traceback" not in p.stderr


def test_dataset_shards(tmp_path):
    assert main(["dataset", "--modality", "cxr", "--size", "64", "--count", "5", "--shard-size", "3",
                 "--out", str(tmp_path)]) == 0
    shards = sorted(tmp_path.glob("shard_*.npz"))
    assert len(shards) == 2
    d = np.load(shards[0])
    assert d["image"].shape == (3, 64, 64) and d["pixels"].dtype == np.uint16
    assert d["finding_masks"].shape == (3, 2, 64, 64)
    assert len(d["conditions"]) == 3

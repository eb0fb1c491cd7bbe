"""Command line: render | dataset | bench | calibrate | conspicuity | reader.

    python -m inference.phantoms render --modality cxr --finding effusion:right:moderate --seed 7 --size 256 --out DIR
    python -m inference.phantoms dataset --modality cxr --size 64 --count 1000 --out DIR
    python -m inference.phantoms bench
    python -m inference.phantoms calibrate
    python -m inference.phantoms conspicuity --size 256 --seeds 8
    python -m inference.phantoms reader train|operating-points|eval --modality cxr --size 64

A finding is key[:laterality[:severity[:size_mm[:location]]]], e.g. nodule:left:mild:12:LUL.
Bad parameters print one line naming the bad value on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ..conditions import ConditionError, Conditions, Finding
from ..vocabulary import FINDINGS, SEVERITIES, VIEWS
from .api import check_size
from .reader import DEFAULT_READOUT, READOUTS


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2
        sys.stderr.write(f"error: {message}\n")
        raise SystemExit(2)


def parse_finding(spec: str) -> Finding:
    parts = spec.split(":")
    key = parts[0].strip()
    kind = FINDINGS.get(key)
    if kind is None:
        raise ConditionError(f"unknown finding {key!r}")
    lat = parts[1] if len(parts) > 1 and parts[1] else kind.lateralities[0]
    sev = parts[2] if len(parts) > 2 and parts[2] else "moderate"
    size = None
    if len(parts) > 3 and parts[3]:
        try:
            size = float(parts[3])
        except ValueError:
            raise ConditionError(f"size {parts[3]!r} for {key!r} is not a number") from None
    loc = parts[4] if len(parts) > 4 else ""
    if len(parts) > 5:
        raise ConditionError(f"finding {spec!r} has too many ':' fields (key:laterality:severity:size:location)")
    return Finding(key=key, laterality=lat, severity=sev, size_mm=size, location=loc)


def _conditions(args) -> Conditions:
    if args.modality not in VIEWS:
        raise ConditionError(f"unknown modality {args.modality!r}")
    view = args.view or VIEWS[args.modality][0]
    findings = tuple(parse_finding(s) for s in (args.finding or []))
    return Conditions(modality=args.modality, view=view, findings=findings, sex=args.sex, age_band=args.age,
                      slice_index=args.slice, frame_index=args.frame).validate()


def _save_png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    if arr.dtype == np.uint16:
        Image.fromarray(arr).save(path)
    else:
        Image.fromarray(arr).save(path)


def window(hu: np.ndarray, width: float, level: float) -> np.ndarray:
    lo = level - width / 2
    return (np.clip((hu.astype(np.float32) - lo) / width, 0, 1) * 255).round().astype(np.uint8)


def cmd_render(args) -> int:
    from . import render

    cond = _conditions(args)
    s = render(cond, seed=args.seed, size=args.size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if cond.modality == "cxr":
        _save_png(out / "image.png", (s.pixels >> 4).astype(np.uint8))
        _save_png(out / "native16.png", s.pixels.astype(np.uint16))
        written += ["image.png", "native16.png"]
    elif cond.modality == "ct":
        _save_png(out / "image_lung.png", window(s.pixels, 1500, -600))
        _save_png(out / "image_mediastinal.png", window(s.pixels, 400, 40))
        _save_png(out / "native16.png", (s.pixels.astype(np.int32) + 1024).clip(0, 65535).astype(np.uint16))
        written += ["image_lung.png", "image_mediastinal.png", "native16.png"]
    else:
        _save_png(out / "image.png", s.pixels)
        _save_png(out / "native.png", s.pixels)
        written += ["image.png", "native.png"]
    for k, m in s.masks.items():
        name = "mask_" + k.replace(":", "_") + ".png"
        _save_png(out / name, (m.astype(np.uint8) * 255))
        written.append(name)
    meta = {"seed": args.seed, "size": args.size, "report": s.report, "conditions": s.conditions.to_json()}
    (out / "conditions.json").write_text(json.dumps(meta, indent=2))
    written.append("conditions.json")
    print(f"{s.report}\nwrote {len(written)} files to {out}: {', '.join(written)}")
    return 0


def cmd_dataset(args) -> int:
    from tqdm import tqdm

    from ..vocabulary import FINDING_IDS
    from . import sample

    if args.modality not in VIEWS:
        raise ConditionError(f"unknown modality {args.modality!r}")
    if args.count <= 0:
        raise ConditionError(f"count {args.count!r} must be positive")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shard, n_shard = [], 0

    def flush():
        nonlocal shard, n_shard
        if not shard:
            return
        size = args.size
        n = len(shard)
        fm = np.zeros((n, 2, size, size), bool)
        an = np.zeros((n, 2, size, size), bool)
        ids = np.zeros((n, 2), np.int16)
        for i, s in enumerate(shard):
            for j, f in enumerate(s.conditions.findings[:2]):
                fm[i, j] = s.masks.get(f"{f.key}:{f.laterality}", fm[i, j])
                ids[i, j] = FINDING_IDS[f.key]
            if args.modality != "lap":
                an[i, 0] = s.masks["anatomy:lungs"]
                an[i, 1] = s.masks["anatomy:heart"]
        np.savez_compressed(
            out / f"shard_{n_shard:05d}.npz",
            seeds=np.array([s._seed for s in shard], np.int64),
            image=np.stack([s.image for s in shard]).astype(np.float16),
            pixels=np.stack([s.pixels for s in shard]),
            finding_ids=ids, finding_masks=fm, anatomy_masks=an,
            conditions=np.array([json.dumps(s.conditions.to_json()) for s in shard]),
            reports=np.array([s.report for s in shard]),
        )
        n_shard += 1
        shard = []

    for i in tqdm(range(args.count), desc=f"{args.modality} {args.size}px", unit="img"):
        seed = args.start_seed + i
        s = sample(seed, args.modality, args.size)
        s._seed = seed
        shard.append(s)
        if len(shard) >= args.shard_size:
            flush()
    flush()
    print(f"wrote {n_shard} shard(s) of up to {args.shard_size} samples to {out}")
    return 0


def cmd_bench(args) -> int:
    import os

    from . import sample

    mods = [args.modality] if args.modality else ["cxr", "ct", "lap"]
    sizes = args.sizes or [64, 128, 256]
    print(f"samples/s on one core (pid {os.getpid()}); cold = first use of each virtual body (built and cached), "
          f"warm = bodies cached (steady state of a long training stream)")
    for mod in mods:
        for size in sizes:
            n = args.count if size <= 64 else max(8, args.count // (2 if size <= 128 else 4))
            t0 = time.perf_counter()
            for s in range(n):
                sample(s, mod, size)
            t1 = time.perf_counter()
            for s in range(n):
                sample(s, mod, size)
            t2 = time.perf_counter()
            print(f"{mod:4s} {size:4d}px  cold {n / (t1 - t0):7.1f}/s   warm {n / (t2 - t1):7.1f}/s   (n={n})")
    return 0


def cmd_reader(args) -> int:
    from . import reader

    if args.modality not in VIEWS:
        raise ConditionError(f"unknown modality {args.modality!r}")
    check_size(args.size)
    if args.count is not None and args.count <= 0:
        raise ConditionError(f"count {args.count!r} must be positive")
    if args.calibration_count <= 0:
        raise ConditionError(f"calibration count {args.calibration_count!r} must be positive")
    for floor in args.min_specificity:
        if not 0 <= floor <= 1:
            raise ConditionError(f"min specificity {floor!r} must lie in 0..1")
    if args.write and args.action == "operating-points" and len(args.min_specificity) != 1:
        raise ConditionError("--write stores one set of operating points: give one --min-specificity")
    if args.action == "train":
        if not args.out:
            raise ConditionError("reader train needs --out PATH.safetensors")
        if not args.out.endswith(".safetensors"):
            raise ConditionError(f"--out {args.out!r} must end in .safetensors")
        model = reader.train(args.modality, args.size, args.count or 24000, args.epochs, width=args.width,
                             workers=args.workers, threads=args.threads, readout=args.readout, enrich=args.enrich)
        figures = reader.evaluate(model, args.size, args.eval_count, workers=args.workers)
        reader.save(model, args.size, args.out, figures)
    else:
        path = args.weights or str(reader.default_path(args.modality, args.size))
        if not Path(path).exists():
            raise ConditionError(f"no reader at {path!r}; train one with `reader train --out {path}`")
        model, size = reader.load(path)
        if args.action == "operating-points":
            return _reader_operating_points(reader, model, size, path, args)
        figures = reader.evaluate(model, size, args.count or 2000, workers=args.workers)
        if args.write:  # the card records what this command printed
            reader.write_card(model, size, path, figures)
    print(json.dumps(figures, indent=2))
    return 0


def _reader_operating_points(reader, model, size: int, path: str, args) -> int:
    """Operating points per specificity floor on calibration seeds, held-out figures at each; --write keeps
    the one asked for in the reader's card (its weights stay as they are)."""
    study = reader.operating_point_study(model, size, args.min_specificity, args.calibration_count,
                                         args.count or 2000, workers=args.workers)
    if args.write:
        chosen = study["rows"][-1]
        model.operating_points = chosen["operating_points"]
        model.calibration = study["calibration"] | {"min_specificity": chosen["min_specificity"]}
        reader.write_card(model, size, path, chosen["heldout"])
    print(json.dumps(study, indent=2))
    sys.stderr.write("min_specificity  finding_accuracy  exact_match  false_call_rate  lesion_dice\n")
    for row in study["rows"]:
        h = row["heldout"]
        floor = "(p > 0.5)" if row["min_specificity"] is None else row["min_specificity"]
        sys.stderr.write(f"{floor!s:>15}  {h['finding_accuracy']:16.4f}  {h['exact_match']:11.4f}  "
                         f"{h['false_call_rate']:15.4f}  {h['lesion_dice']:11.4f}\n")
    return 0


def main(argv=None) -> int:
    p = _Parser(prog="python -m inference.phantoms", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    r = sub.add_parser("render", help="render one image with its masks and conditions")
    r.add_argument("--modality", required=True)
    r.add_argument("--finding", action="append", help="key[:laterality[:severity[:size_mm[:location]]]]")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--size", type=int, default=256)
    r.add_argument("--view")
    r.add_argument("--sex", default="F")
    r.add_argument("--age", default="40-59")
    r.add_argument("--slice", type=int)
    r.add_argument("--frame", type=int)
    r.add_argument("--out", required=True)
    d = sub.add_parser("dataset", help="write .npz shards of training samples")
    d.add_argument("--modality", required=True)
    d.add_argument("--size", type=int, default=64)
    d.add_argument("--count", type=int, required=True)
    d.add_argument("--shard-size", type=int, default=256)
    d.add_argument("--start-seed", type=int, default=0)
    d.add_argument("--out", required=True)
    b = sub.add_parser("bench", help="samples per second per core")
    b.add_argument("--modality")
    b.add_argument("--sizes", type=int, nargs="*")
    b.add_argument("--count", type=int, default=200)
    c = sub.add_parser("calibrate", help="phantom vs real (pydicom-data) statistics")
    c.add_argument("--grid", help="also write the picture grid PNG to this path")
    c.add_argument("--seeds", type=int, default=8)
    cs = sub.add_parser("conspicuity", help="how far each chest finding stands out from the anatomy around it")
    cs.add_argument("--size", type=int, help="image size (default 256)")
    cs.add_argument("--seeds", type=int, default=8)
    cs.add_argument("--severity", choices=SEVERITIES, help="(default moderate)")
    cs.add_argument("--finding", action="append", help="a chest radiograph finding key (default: all)")
    cs.add_argument("--against-real", action="store_true",
                    help="compare the local contrast of nodules on the real film (pydicom-data) and the phantom's")
    rd = sub.add_parser("reader", help="train / evaluate a reader, or study its operating points")
    rd.add_argument("action", choices=["train", "operating-points", "eval"],
                    help="operating-points: choose them on calibration seeds and score them on held-out ones")
    rd.add_argument("--modality", default="cxr")
    rd.add_argument("--size", type=int, default=64)
    rd.add_argument("--count", type=int, help="images to train on (train) or to score (eval)")
    rd.add_argument("--epochs", type=int, default=8)
    rd.add_argument("--width", type=int, default=16)
    rd.add_argument("--readout", default=DEFAULT_READOUT, choices=READOUTS,
                    help="features the labels are read from (train; encoder: as the readers shipped before)")
    rd.add_argument("--enrich", type=float, default=0.0,
                    help="train: share of training phantoms given one more of the hardest small findings")
    rd.add_argument("--workers", type=int, default=2, help="processes rendering phantoms")
    rd.add_argument("--threads", type=int, default=2, help="torch threads for training")
    rd.add_argument("--eval-count", type=int, default=2000, help="held-out images scored after training")
    rd.add_argument("--calibration-count", type=int, default=2000,
                    help="phantoms the operating points are chosen on (operating-points)")
    rd.add_argument("--min-specificity", type=float, nargs="+", default=[0.995],
                    help="operating-points: each finding's specificity floor on the calibration seeds (one study row each)")
    rd.add_argument("--write", action="store_true",
                    help="eval: record the figures in the reader's card; operating-points: keep the points "
                         "and their figures there (one --min-specificity)")
    rd.add_argument("--weights", help="reader to evaluate (default: the shipped one for --modality/--size)")
    rd.add_argument("--out", help="where to write the trained reader (.safetensors; a .json card goes beside it)")
    args = p.parse_args(argv)
    try:
        if args.cmd == "render":
            return cmd_render(args)
        if args.cmd == "dataset":
            return cmd_dataset(args)
        if args.cmd == "bench":
            return cmd_bench(args)
        if args.cmd == "reader":
            return cmd_reader(args)
        if args.cmd == "conspicuity":
            from .conspicuity import main as conspicuity

            return conspicuity(args)
        if args.cmd == "calibrate":
            from .calibrate import main as cal

            return cal(args)
    except ConditionError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0

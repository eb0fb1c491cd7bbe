"""Generate one image from conditions (thin CLI).

    python -m inference.sample --finding nodule:left:severe --prompt "left upper zone nodule" --seed 1 --out out.png
    python -m inference.sample --conditions case.json --steps 20 --sampler ddim --guidance 2
    python -m inference.sample --benchmark --threads 1      # per-step timing of the default weights

Prints the model version (and the timing with --benchmark). The PNG is the 8-bit display image, upsampled
with --scale for viewing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

from .conditions import ConditionError, Conditions, Finding
from .sampler import SAMPLERS
from .weights_info import DEFAULT_GUIDANCE


def parse_finding(text: str) -> Finding:
    """key[:laterality[:severity[:size_mm]]]"""
    parts = text.split(":")
    kwargs = {"key": parts[0]}
    if len(parts) > 1 and parts[1]:
        kwargs["laterality"] = parts[1]
    if len(parts) > 2 and parts[2]:
        kwargs["severity"] = parts[2]
    if len(parts) > 3 and parts[3]:
        kwargs["size_mm"] = float(parts[3])
    return Finding(**kwargs)


def build_conditions(args) -> Conditions:
    if args.conditions:
        return Conditions.from_json(Path(args.conditions).read_text())
    conditions = Conditions(
        modality=args.modality,
        view=args.view or {"cxr": "PA", "ct": "axial", "lap": "scope"}[args.modality],
        prompt=args.prompt,
        findings=tuple(parse_finding(f) for f in args.finding),
        sex=args.sex,
        age_band=args.age,
    )
    return conditions.validate()


SHEET_ROWS = (
    (),
    (("effusion", "right"),),
    (("pneumothorax", "left"),),
    (("tension_pneumothorax", "right"),),
    (("consolidation", "right"),),
    (("nodule", "left"),),
    (("mass", "right"),),
    (("cardiomegaly", "none"),),
    (("edema", "bilateral"),),
    (("atelectasis", "left"),),
    (("emphysema", "bilateral"),),
    (("pneumoperitoneum", "none"),),
    (("rib_fracture", "right"),),
)


def _sheet(generator, request, *, seeds: int, out: str, scale: int) -> int:
    """One PNG: a row per chest finding (no masks: the model places them), one column per seed."""
    import dataclasses

    import numpy as np
    from PIL import Image

    from .conditions import Conditions, Finding

    rows = []
    for findings in SHEET_ROWS:
        conditions = dataclasses.replace(
            request.conditions, findings=tuple(Finding(k, laterality=side) for k, side in findings), prompt=""
        )
        Conditions.validate(conditions)
        row = [generator.generate(dataclasses.replace(request, conditions=conditions, seed=seed)).display
               for seed in range(1, seeds + 1)]
        rows.append(np.concatenate(row, axis=1))
        names = ", ".join(f"{k} {side}" for k, side in findings) or "normal"
        print(f"row {len(rows)}: {names}")
    image = Image.fromarray(np.concatenate(rows, axis=0))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    image.save(out)
    print(f"wrote {out}: {len(rows)} rows x {seeds} seeds, {request.steps} {request.sampler} steps, "
          f"guidance {request.guidance}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.sample", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--weights", default=None, help=".safetensors weights (default: the shipped cxr weights)"
    )
    parser.add_argument("--conditions", default=None, help="conditions JSON file (Conditions.to_json)")
    parser.add_argument(
        "--finding", action="append", default=[], help="key[:laterality[:severity[:size_mm]]]"
    )
    parser.add_argument("--modality", default="cxr", choices=["cxr", "ct", "lap"])
    parser.add_argument("--view", default=None)
    parser.add_argument("--prompt", default="")
    parser.add_argument("--sex", default="F")
    parser.add_argument("--age", default="40-59")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--placement-seed", type=int, default=None, metavar="SEED",
        help="place findings given without a mask where the simulator puts them in virtual patient SEED "
        "(the app's default, with the study's seed); without it the model places them",
    )
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sampler", default="dpmpp2m", choices=list(SAMPLERS))
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--out", default="sample.png")
    parser.add_argument("--scale", type=int, default=4, help="nearest-neighbour upscaling of the PNG")
    parser.add_argument(
        "--benchmark", action="store_true", help="time the steps (3 warm-up runs, 5 timed runs)"
    )
    parser.add_argument(
        "--sheet", type=int, default=0, metavar="SEEDS",
        help="write a sample sheet instead: a row per chest finding (normal first), SEEDS columns of seeds",
    )
    args = parser.parse_args(argv)

    from .pipeline import GenerationRequest, Generator

    try:
        conditions = build_conditions(args)
        request = GenerationRequest(
            conditions=conditions,
            seed=args.seed,
            steps=args.steps,
            sampler=args.sampler,
            guidance=args.guidance,
            placement_seed=args.placement_seed,
        ).validate()
    except (ConditionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    generator = Generator(args.weights, threads=args.threads, dtype=args.dtype)
    load_s = time.perf_counter() - t0
    print(
        f"model {generator.model_version} ({generator.dtype}, {__import__('torch').get_num_threads()} threads, "
        f"loaded in {load_s:.2f} s)"
    )
    if args.benchmark:
        return _benchmark(generator, request)
    if args.sheet:
        return _sheet(generator, request, seeds=args.sheet, out=args.out, scale=args.scale)
    t0 = time.perf_counter()
    result = generator.generate(request)
    elapsed = time.perf_counter() - t0
    from PIL import Image

    image = Image.fromarray(result.display)
    if args.scale > 1:
        image = image.resize((image.width * args.scale, image.height * args.scale), Image.NEAREST)
    image.save(args.out)
    print(
        f"wrote {args.out}: {request.steps} {request.sampler} steps, guidance {request.guidance}, "
        f"seed {request.seed}, {elapsed:.2f} s"
    )
    print(json.dumps({k: v for k, v in result.provenance.items() if k != "conditions"}))
    return 0


def _benchmark(generator, request) -> int:
    import statistics

    for _ in range(3):
        generator.generate(request)
    runs = []
    for _ in range(5):
        stamps: list[float] = []
        t0 = time.perf_counter()
        generator.generate(request, on_step=lambda _p, stamps=stamps: stamps.append(time.perf_counter()))
        total = time.perf_counter() - t0
        steps = [b - a for a, b in itertools.pairwise(stamps)]
        runs.append((total, statistics.median(steps) if steps else total))
    totals = sorted(r[0] for r in runs)
    per_step = sorted(r[1] for r in runs)
    print(
        f"{request.steps} steps {request.sampler} guidance {request.guidance}: "
        f"median {statistics.median(totals):.3f} s per image (min {totals[0]:.3f}), "
        f"median {1000 * statistics.median(per_step):.1f} ms per step (min {1000 * per_step[0]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Train the knowledge-conditioned DiT on rendered phantoms (thin CLI).

    python -m inference.train --config inference/configs/cxr-64-cpu.json [--resume] [--max-minutes M]
    python -m inference.train export --run runs/cxr-dit-s-64 [--name cxr-dit-s-64]   # EMA -> inference/weights/
    python -m inference.train init --config inference/configs/cxr-64-cpu.json      # seeded untrained weights

Each batch is rendered by `data_source(seed, modality, size)` (default `inference.phantoms.sample`) in a
DataLoader worker, so the renderer does not stall the optimiser. The sample's finding masks are fed as the mask
channels with probability `mask_prob` (otherwise zeros: "the model chooses"); the text is the report with
probability `report_prob`, otherwise the conditions' prompt. Checkpoints (model, EMA, optimizer, RNG, step) go to
the run dir every `checkpoint_every` steps and at the end; `--resume` continues from the newest one.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .checkpoints import latest_checkpoint, load_checkpoint, save_checkpoint, save_weights
from .encoding import encode_structured, encode_texts
from .models import DIT_CONFIGS, DiT, DiTConfig, count_parameters, dit_config
from .precision import autocast, training_dtype
from .sampler import NoiseSchedule

MAX_EXPORT_BYTES = 16 * 1024 * 1024
LR_SCHEDULES = ("constant", "cosine")
from .weights_info import WEIGHTS_DIR  # noqa: E402


@dataclass
class TrainConfig:
    name: str = "cxr-dit-s-64"  # run and export name
    model: dict = field(
        default_factory=lambda: {"preset": "dit-s"}
    )  # preset from DIT_CONFIGS + DiTConfig overrides
    modality: str = "cxr"
    seed: int = 0
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 100
    # "constant" after warm-up, or "cosine": from lr down to min_lr at max_steps (set max_steps to the steps the
    # time budget allows, or the run stops before the decay ends)
    lr_schedule: str = "constant"
    min_lr: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    max_steps: int = 100_000
    max_minutes: float = 35.0  # wall-clock budget; the run checkpoints and stops when it is spent
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    run_dir: str = ""  # default: runs/<name>
    mask_prob: float = 0.5  # feed the finding masks as mask channels (else zeros: "the model chooses")
    # weight of the loss on pixels inside any finding's mask (1 = plain MSE): findings are a few percent of the
    # pixels, so plain MSE learns the anatomy long before the lesions
    finding_loss_weight: float = 1.0
    report_prob: float = 0.5  # text = report (else the prompt of the conditions)
    # a share of the training phantoms gains one of these findings (those the generator draws worst), drawn
    # from a stream of its own so the rest of each phantom is the one the plain recipe would render
    enrich: float = 0.0
    enrich_findings: list = field(default_factory=list)
    bf16: bool = True  # bf16 autocast for the forward pass where the device has native bf16 (fp32 elsewhere)
    threads: int | None = None  # torch threads of the training process (None: torch's default)
    data_workers: int = 1  # DataLoader worker processes rendering phantoms (0: render in the main process)
    device: str = "cpu"  # "cuda" for the GPU recipe; the renderer and the text encoder stay on the CPU
    log_every: int = 25
    # warm start: begin model and EMA from these exported weights (fresh optimiser, step 0 of this run)
    init_from: str = ""

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = {k: v for k, v in data.items() if not k.startswith("_")}  # "_comment" keys document the file
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training config field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def __post_init__(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"unknown lr_schedule {self.lr_schedule!r} (known: {', '.join(LR_SCHEDULES)})")
        if not 0.0 <= self.min_lr <= self.lr:
            raise ValueError(f"min_lr {self.min_lr} must lie between 0 and lr ({self.lr})")
        from .phantoms.api import check_enrichment

        check_enrichment(self.modality, self.enrich, self.enrich_findings)

    def learning_rate(self, step: int) -> float:
        """The learning rate of the step that follows `step` completed steps."""
        warm = min(1.0, (step + 1) / max(1, self.warmup_steps))
        if self.lr_schedule == "constant" or step < self.warmup_steps:
            return self.lr * warm
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.max_steps - self.warmup_steps))
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def model_config(self) -> DiTConfig:
        overrides = dict(self.model)
        preset = overrides.pop("preset", "dit-s")
        if preset not in DIT_CONFIGS:
            raise ValueError(f"unknown model preset {preset!r} (known: {', '.join(DIT_CONFIGS)})")
        if "modalities" in overrides:
            overrides["modalities"] = tuple(overrides["modalities"])
        overrides.setdefault("modalities", (self.modality,))
        overrides.setdefault("in_channels", 3 if self.modality == "lap" else 1)
        return dit_config(preset, **overrides)

    @property
    def run_path(self) -> Path:
        return Path(self.run_dir or f"runs/{self.name}")


def default_data_source(seed: int, modality: str, size: int, enrich: float = 0.0, enrich_findings: tuple = ()):
    from .phantoms import sample  # imported lazily: the renderer lives in inference/phantoms/

    return sample(seed, modality, size, enrich=enrich, enrich_findings=enrich_findings)


class PhantomBatches(IterableDataset):
    """An endless, deterministic stream of batches: batch b always holds the same samples (resume-safe)."""

    def __init__(
        self,
        source: Callable,
        *,
        modality: str,
        size: int,
        batch_size: int,
        seed: int,
        start_batch: int,
        mask_prob: float,
        report_prob: float,
    ):
        self.source, self.modality, self.size = source, modality, size
        self.batch_size, self.seed, self.start_batch = batch_size, seed, start_batch
        self.mask_prob, self.report_prob = mask_prob, report_prob

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        b = self.start_batch + worker
        while True:  # DataLoader hands batches out round-robin over workers: order stays b, b+1, ...
            yield self.make_batch(b)
            b += workers

    @staticmethod
    def sample_seed(recipe_seed: int, b: int, i: int, batch_size: int) -> int:
        """The phantom seed of sample i of batch b (evaluation replays it for the memorisation check)."""
        return recipe_seed * 1_000_000_007 + b * batch_size + i

    def make_batch(self, b: int) -> dict:
        rng = np.random.default_rng([self.seed, b])
        images, conds, masks, texts, lesions = [], [], [], [], []
        for i in range(self.batch_size):
            sample = self.source(self.sample_seed(self.seed, b, i, self.batch_size), self.modality, self.size)
            image = np.asarray(sample.image, dtype=np.float32)
            image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)  # (C, H, W)
            images.append(torch.from_numpy(np.ascontiguousarray(image)) * 2 - 1)  # [0, 1] -> [-1, 1]
            conds.append(sample.conditions)
            lesion = np.zeros(image.shape[-2:], bool)
            for key, m in sample.masks.items():
                if not key.startswith("anatomy:"):
                    lesion |= np.asarray(m, bool)
            lesions.append(torch.from_numpy(lesion))
            masks.append(dict(sample.masks) if rng.random() < self.mask_prob else {})
            texts.append(sample.report if rng.random() < self.report_prob else sample.conditions.prompt)
        return {
            "images": torch.stack(images),  # (B, C, H, W)
            "cond": encode_structured(conds, image_size=self.size, masks=masks),
            "texts": texts,
            "lesions": torch.stack(lesions)[:, None],  # (B, 1, H, W) bool: where the findings are
        }


def _worker_init(_):
    torch.set_num_threads(1)


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.mul_(decay).add_(p.detach(), alpha=1 - decay)


EARLIER_STREAMS_FILE = "earlier-streams.json"  # in a warm-started run dir: what its starting weights saw


def data_stream(train_args: dict, steps: int) -> dict:
    """What replays one training run's data: recipe seed, batch, enrichment and the steps it took."""
    return {"seed": int(train_args.get("seed", 0)), "batch_size": int(train_args.get("batch_size", 16)),
            "enrich": float(train_args.get("enrich", 0.0)),
            "enrich_findings": list(train_args.get("enrich_findings", ())), "steps": int(steps)}


def data_streams(meta: dict) -> list[dict]:
    """Every data stream that trained the weights with sidecar `meta`, oldest first (stages warm-started
    from one another each add theirs); untrained weights have none."""
    args = meta.get("train_args") or {}
    if not args or args.get("untrained"):
        return []
    return [*args.get("earlier_streams", []), data_stream(args, meta.get("step", 0))]


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    data_source: Callable | None = None,
    text_encoder=None,
    progress: bool = True,
) -> Path:
    """Run (or resume) training; returns the path of the last checkpoint."""
    from tqdm import tqdm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model_cfg = cfg.model_config()
    run_dir = cfg.run_path
    device = torch.device(cfg.device)
    model = DiT(model_cfg).to(device)
    ema = copy.deepcopy(model).requires_grad_(False).eval()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    earlier: list[dict] = []  # the streams the starting weights were trained on (memorisation replays them)
    existing = latest_checkpoint(run_dir)
    if resume and existing is not None:
        step = int(load_checkpoint(existing, model=model, ema=ema, optimizer=optimizer)["step"])
        print(f"resumed from {existing} at step {step}", file=sys.stderr)
        if (run_dir / EARLIER_STREAMS_FILE).exists():  # init_from may since have been overwritten by an export
            earlier = json.loads((run_dir / EARLIER_STREAMS_FILE).read_text())
    elif existing is not None:
        raise SystemExit(f"{run_dir} already holds checkpoints: pass --resume, or choose another run_dir")
    elif cfg.init_from:
        from .checkpoints import load_weights

        state, init_cfg, init_meta = load_weights(cfg.init_from)
        if init_cfg != model_cfg:
            raise SystemExit(f"init_from {cfg.init_from}: its model config differs from this recipe's")
        model.load_state_dict(state, strict=True)
        ema.load_state_dict(state, strict=True)
        print(f"warm start from {init_meta['model_version']}", file=sys.stderr)
        earlier = data_streams(init_meta)
    run_dir.mkdir(parents=True, exist_ok=True)
    if earlier:  # kept beside the checkpoints: a resume reads it back (a resume rewrites what it read)
        (run_dir / EARLIER_STREAMS_FILE).write_text(json.dumps(earlier, indent=2) + "\n")
    (run_dir / "train-config.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    if text_encoder is None:
        from .text import get_text_encoder

        text_encoder = get_text_encoder()
    schedule = NoiseSchedule(
        model_cfg.num_train_timesteps, model_cfg.beta_schedule, model_cfg.prediction_type
    )
    dataset = PhantomBatches(
        data_source or functools.partial(default_data_source, enrich=cfg.enrich,
                                         enrich_findings=tuple(cfg.enrich_findings)),
        modality=cfg.modality,
        size=model_cfg.image_size,
        batch_size=cfg.batch_size,
        seed=cfg.seed,
        start_batch=step,
        mask_prob=cfg.mask_prob,
        report_prob=cfg.report_prob,
    )
    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=cfg.data_workers,
        worker_init_fn=_worker_init,
        prefetch_factor=4 if cfg.data_workers else None,
        generator=torch.Generator().manual_seed(cfg.seed),
    )  # leaves the global RNG alone (resume)
    train_args = dict(asdict(cfg), earlier_streams=earlier)
    cross = model_cfg.text_mode == "cross"
    precision = training_dtype(device, cfg.bf16)
    print(
        f"{cfg.name}: {count_parameters(model) / 1e6:.2f}M parameters, {model_cfg.num_tokens} tokens, "
        f"depth {model_cfg.depth}, batch {cfg.batch_size}, {cfg.modality} {model_cfg.image_size}px, "
        f"{str(precision).replace('torch.', '')} on {device}",
        file=sys.stderr,
    )
    deadline = time.monotonic() + cfg.max_minutes * 60

    def checkpoint(at_step: int) -> None:
        save_checkpoint(run_dir, step=at_step, model=model, ema=ema, optimizer=optimizer, config=model_cfg,
                        train_args=train_args, keep=cfg.keep_checkpoints)

    last_saved = step
    log = open(run_dir / "log.jsonl", "a")  # noqa: SIM115 (closed in the finally below)
    model.train()
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not progress, dynamic_ncols=True)
    start_step = step
    try:
        for batch in loader:
            if step >= cfg.max_steps or time.monotonic() > deadline:
                break
            x0 = batch["images"].to(device, non_blocking=True)  # (B, C, H, W)
            cond = dict(
                batch["cond"], **encode_texts(batch["texts"], text_encoder=text_encoder, text_tokens=cross)
            )
            cond = {k: v.to(device, non_blocking=True) for k, v in cond.items()}
            t = torch.randint(0, model_cfg.num_train_timesteps, (x0.shape[0],)).to(device)
            noise = torch.randn_like(x0)
            x_t = schedule.add_noise(x0, noise, t)
            target = schedule.target(x0, noise, t)
            for group in optimizer.param_groups:
                group["lr"] = cfg.learning_rate(step)
            with autocast(device, precision):
                out = model(x_t, t, cond)  # condition dropout happens inside (model.train())
            if cfg.finding_loss_weight != 1.0:
                weight = 1.0 + (cfg.finding_loss_weight - 1.0) * batch["lesions"].to(device, torch.float32)
                loss = (weight * (out.float() - target) ** 2).mean()
            else:
                loss = F.mse_loss(out.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            update_ema(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))
            step += 1
            bar.update(1)
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss is {loss.item()} at step {step}")
            first_of_invocation = step == start_step + 1  # the summary splits invocations here
            if step % cfg.log_every == 0 or first_of_invocation:
                bar.set_postfix(loss=f"{loss.item():.4f}")
                row = {"step": step, "loss": loss.item(), "grad_norm": float(grad_norm),
                       "lr": optimizer.param_groups[0]["lr"], "time": time.time()}
                if first_of_invocation:
                    row["first_of_invocation"] = True
                log.write(json.dumps(row) + "\n")
                log.flush()
            if step % cfg.checkpoint_every == 0:
                checkpoint(step)
                last_saved = step
    finally:
        bar.close()
        log.close()
    if step != last_saved or latest_checkpoint(run_dir) is None:
        checkpoint(step)
    return latest_checkpoint(run_dir)


def export(
    run: str | Path,
    *,
    name: str | None = None,
    out_dir: str | Path = WEIGHTS_DIR,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """EMA weights of the newest checkpoint in `run` (a run dir or a checkpoint file) -> <out_dir>/<name>.safetensors."""
    from .checkpoints import load_weights

    run = Path(run)
    ckpt = latest_checkpoint(run) if run.is_dir() else run
    if ckpt is None:
        raise FileNotFoundError(f"no checkpoint in {run}")
    state, config, meta = load_weights(ckpt)  # EMA tensors of a training checkpoint
    name = name or meta.get("name") or run.name
    path = save_weights(
        Path(out_dir) / f"{name}.safetensors",
        state,
        config,
        name=name,
        dtype=dtype,
        train_args=meta.get("train_args", {}),
        step=meta.get("step", 0),
    )
    _check_size(path)
    return path


def init_weights(
    cfg: TrainConfig,
    *,
    name: str | None = None,
    out_dir: str | Path = WEIGHTS_DIR,
    dtype: torch.dtype = torch.float16,
) -> Path:
    """The seeded, untrained initialisation of `cfg`'s model (placeholder weights until training lands)."""
    torch.manual_seed(cfg.seed)
    model_cfg = cfg.model_config()
    model = DiT(model_cfg)
    name = name or cfg.name
    path = save_weights(
        Path(out_dir) / f"{name}.safetensors",
        model.state_dict(),
        model_cfg,
        name=name,
        dtype=dtype,
        train_args=dict(asdict(cfg), untrained=True),
        step=0,
    )
    _check_size(path)
    return path


def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_EXPORT_BYTES:
        raise ValueError(f"{path.name} is {size / 2**20:.1f} MiB, over the 16 MiB limit for shipped weights")


def summarise(run_dir: str | Path, *, window: int = 250) -> list[str]:
    """Lines describing a run from its log.jsonl: each invocation's steps and minutes (a resume starts a new
    one), and the mean logged loss over the first and last `window` steps of the last invocation."""
    rows = [json.loads(line) for line in open(Path(run_dir) / "log.jsonl") if line.strip()]
    if not rows:
        return ["no steps logged"]
    runs, current = [], [rows[0]]
    for row in rows[1:]:
        # a resume marks its first row; older logs show it only when the resume went back to its checkpoint
        if row.get("first_of_invocation") or row["step"] < current[-1]["step"]:
            runs.append(current)
            current = []
        current.append(row)
    runs.append(current)
    def span(r: list[dict]) -> str:
        seconds, steps = r[-1]["time"] - r[0]["time"], r[-1]["step"] - r[0]["step"]
        rate = f" ({seconds / steps:.2f} s per step)" if steps else ""
        return f"steps {r[0]['step']}-{r[-1]['step']} in {seconds / 60:.1f} min{rate}"

    lines = [f"invocation {i}: {span(r)}" for i, r in enumerate(runs, 1)]
    last = runs[-1]
    lo, hi = last[0]["step"], last[-1]["step"]
    window = max(1, min(window, (hi - lo) // 2))  # a short run: its first and last halves

    def mean(a: int, b: int) -> float:
        losses = [r["loss"] for r in last if a <= r["step"] <= b]
        return sum(losses) / len(losses)

    lines.append(f"mean logged loss, steps {lo}-{lo + window}: {mean(lo, lo + window):.4f}; "
                 f"steps {hi - window}-{hi}: {mean(hi - window, hi):.4f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        parser = argparse.ArgumentParser(prog="python -m inference.train export")
        parser.add_argument("--run", required=True, help="run dir (newest checkpoint) or checkpoint file")
        parser.add_argument("--name", default=None)
        parser.add_argument("--out-dir", default=str(WEIGHTS_DIR))
        args = parser.parse_args(argv[1:])
        path = export(args.run, name=args.name, out_dir=args.out_dir)
        print(f"exported {path} ({path.stat().st_size / 2**20:.2f} MiB)")
        return 0
    if argv and argv[0] == "summary":
        parser = argparse.ArgumentParser(prog="python -m inference.train summary")
        parser.add_argument("--run", required=True, help="run dir holding log.jsonl")
        parser.add_argument("--window", type=int, default=250, help="steps averaged at each end")
        args = parser.parse_args(argv[1:])
        print("\n".join(summarise(args.run, window=args.window)))
        return 0
    if argv and argv[0] == "init":
        parser = argparse.ArgumentParser(prog="python -m inference.train init")
        parser.add_argument("--config", required=True)
        parser.add_argument("--name", default=None)
        parser.add_argument("--out-dir", default=str(WEIGHTS_DIR))
        args = parser.parse_args(argv[1:])
        path = init_weights(TrainConfig.load(args.config), name=args.name, out_dir=args.out_dir)
        print(f"wrote untrained initialisation {path} ({path.stat().st_size / 2**20:.2f} MiB)")
        return 0
    parser = argparse.ArgumentParser(prog="python -m inference.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="training config JSON (inference/configs/*.json)")
    parser.add_argument(
        "--resume", action="store_true", help="continue from the newest checkpoint in the run dir"
    )
    parser.add_argument("--max-minutes", type=float, default=None, help="override the wall-clock budget")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--run-dir", default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    cfg = TrainConfig.load(args.config)
    if args.max_minutes is not None:
        cfg.max_minutes = args.max_minutes
    if args.max_steps is not None:
        cfg.max_steps = args.max_steps
    if args.run_dir:
        cfg.run_dir = args.run_dir
    ckpt = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(f"checkpoint {ckpt}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

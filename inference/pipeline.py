"""The generation pipeline the app calls: `get_generator().generate(GenerationRequest(...), on_step=...)`.

One request: validate -> (with a placement seed) the simulator's typical mask for each undrawn finding ->
encode the conditions and the prompt once -> embed them once (`DiT.prepare`, cond and uncond rows batched) ->
seeded initial noise -> per step one batched forward, guidance, `sampler.step` and a preview of the predicted
x0 -> native pixels + display image + provenance. Imports nothing of Django.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .conditions import ConditionError, Conditions
from .precision import autocast, fast_autocast_dtype
from .sampler import SAMPLERS, guide, make_sampler

from .weights_info import DEFAULT_GUIDANCE, DEFAULT_WEIGHTS  # one table of shipped weights
MAX_STEPS = 100
MAX_GUIDANCE = 10.0
MAX_SEED = 2**63 - 1


class RequestError(ConditionError):
    """A generation request that cannot run (bad steps, guidance, sampler, seed or modality)."""


class GenerationCancelled(Exception):
    """`on_step` returned False: the generation stopped before the last step."""


@dataclass(frozen=True)
class GenerationRequest:
    conditions: Conditions
    seed: int
    steps: int = 20
    sampler: str = "dpmpp2m"  # or "ddim"
    guidance: float = DEFAULT_GUIDANCE
    # None: a finding without a drawn mask is placed by the model. A seed: by the simulator, where it puts the
    # finding in that virtual patient (inference/placement.py); the model draws undrawn focal findings rarely
    placement_seed: int | None = None

    def validate(self) -> GenerationRequest:
        if not isinstance(self.conditions, Conditions):
            raise RequestError(
                f"conditions must be a Conditions object, got {type(self.conditions).__name__}"
            )
        if (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, (int, np.integer))
            or not 0 <= self.seed <= MAX_SEED
        ):
            raise RequestError(f"seed must be an integer in 0..2**63-1, got {self.seed!r}")
        if self.placement_seed is not None and (
            isinstance(self.placement_seed, bool)
            or not isinstance(self.placement_seed, (int, np.integer))
            or not 0 <= self.placement_seed <= MAX_SEED
        ):
            raise RequestError(
                f"placement_seed must be empty or an integer in 0..2**63-1, got {self.placement_seed!r}"
            )
        if (
            isinstance(self.steps, bool)
            or not isinstance(self.steps, (int, np.integer))
            or not 1 <= self.steps <= MAX_STEPS
        ):
            raise RequestError(f"steps must be an integer in 1..{MAX_STEPS}, got {self.steps!r}")
        if self.sampler not in SAMPLERS:
            raise RequestError(f"unknown sampler {self.sampler!r} (known: {', '.join(SAMPLERS)})")
        try:
            guidance = float(self.guidance)
        except (TypeError, ValueError):
            raise RequestError(
                f"guidance must be a number in 0..{MAX_GUIDANCE:g}, got {self.guidance!r}"
            ) from None
        if not 0.0 <= guidance <= MAX_GUIDANCE:  # also rejects NaN
            raise RequestError(f"guidance must be in 0..{MAX_GUIDANCE:g}, got {self.guidance!r}")
        self.conditions.validate()
        return self


@dataclass
class StepPreview:
    step: int  # 1-based
    total: int
    image: np.ndarray  # uint8 (H, W) or (H, W, 3): the predicted x0 at this step, display-ready


@dataclass
class GenerationResult:
    pixels: np.ndarray  # native: uint16 12-bit MONOCHROME2 (cxr), int16 HU (ct), uint8 RGB (lap)
    display: np.ndarray  # uint8 display image
    model_version: str  # "<config name>@<first 12 hex of sha256 of the weights file>"
    provenance: dict


# ------------------------------------------------------------------------------------- pixel conversion


def to_unit(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) model space [-1, 1] -> float32 numpy [0, 1], (H, W) or (H, W, 3)."""
    x = ((x.float().clamp(-1, 1) + 1) / 2).cpu().numpy()
    return x[0] if x.shape[0] == 1 else np.ascontiguousarray(x.transpose(1, 2, 0))


def to_display(unit: np.ndarray) -> np.ndarray:
    return np.round(unit * 255).astype(np.uint8)


def to_native(unit: np.ndarray, modality: str) -> np.ndarray:
    if modality == "cxr":  # 12-bit MONOCHROME2 stored in uint16
        return np.round(unit * 4095).astype(np.uint16)
    if modality == "ct":  # [0, 1] <-> [-1024, 1024] HU
        return np.round(unit * 2048 - 1024).astype(np.int16)
    if modality == "lap":  # RGB
        return to_display(unit)
    raise ValueError(f"unknown modality {modality!r}")


# ------------------------------------------------------------------------------------------ generator


def _resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == "auto":
        # bf16 only where the hardware has it: emulated bf16 is about 2x slower than fp32 (inference/precision.py)
        return fast_autocast_dtype(device)
    table = {
        "fp32": torch.float32,
        "float32": torch.float32,
        "bf16": torch.bfloat16,
        "bfloat16": torch.bfloat16,
        "fp16": torch.float16,
        "float16": torch.float16,
    }
    if dtype not in table:
        raise ValueError(f"unknown dtype {dtype!r} (auto, fp32, bf16, fp16)")
    return table[dtype]


class Generator:
    """Loads the DiT and the text encoder once; `generate` runs one request (thread-safe, one at a time)."""

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        device: str | torch.device = "cpu",
        threads: int | None = None,
        dtype: str | torch.dtype = "auto",
        text_encoder=None,
    ):
        from .checkpoints import load_model

        if threads is not None:
            # process-wide: the web server passes 1 so the worker does not fight daphne for the cores
            torch.set_num_threads(int(threads))
        self.device = torch.device(device)
        self.dtype = _resolve_dtype(dtype, self.device)
        self.weights = Path(weights) if weights is not None else DEFAULT_WEIGHTS["cxr"]
        self.model, self.meta = load_model(self.weights, device=self.device)
        self.config = self.model.config
        self.model_version: str = self.meta["model_version"]
        if text_encoder is None:
            from .text import get_text_encoder

            text_encoder = get_text_encoder()
        self.text_encoder = text_encoder
        self._lock = threading.Lock()

    def _autocast(self):
        return autocast(self.device, self.dtype)

    def _forward(self, x: torch.Tensor, t, prepared, guidance: float, rows: int) -> torch.Tensor:
        n = x.shape[0]
        x_in = torch.cat([x] * rows, dim=0) if rows > 1 else x
        t_in = torch.full((x_in.shape[0],), int(t), dtype=torch.long, device=self.device)
        with self._autocast():
            out = self.model.forward_prepared(x_in, t_in, prepared).float()
        if rows == 2:
            return guide(out, guidance)
        assert out.shape[0] == n
        return out

    @torch.inference_mode()
    def generate(
        self, request: GenerationRequest, on_step: Callable[[StepPreview], bool | None] | None = None
    ) -> GenerationResult:
        from .encoding import encode_conditions

        request.validate()
        conditions = request.conditions
        cfg = self.config
        if conditions.modality not in cfg.modalities:
            raise RequestError(
                f"model {self.model_version} generates {', '.join(cfg.modalities)}, not {conditions.modality!r}"
            )
        placed: tuple[str, ...] = ()
        model_conditions = conditions
        if request.placement_seed is not None:
            from .placement import typical_placement

            placement = typical_placement(conditions, seed=int(request.placement_seed), size=cfg.image_size)
            model_conditions, placed = placement.conditions, placement.placed
        guidance = float(request.guidance)
        with self._lock:
            # --- once per request: conditions, text, condition embeddings ---
            cond = encode_conditions(
                [model_conditions],
                image_size=cfg.image_size,
                text_encoder=self.text_encoder,
                text_tokens=cfg.text_mode == "cross",
            )
            cond = {k: v.to(self.device) for k, v in cond.items()}
            if guidance == 1.0:  # guidance 1 is the conditional model alone
                rows, drop = 1, torch.tensor([False])
            elif guidance == 0.0:  # guidance 0 is the unconditional model alone
                rows, drop = 1, torch.tensor([True])
            else:  # batched [cond; uncond] in one forward
                rows, drop = 2, torch.tensor([False, True])
                cond = {k: torch.cat([v, v], dim=0) for k, v in cond.items()}
            with self._autocast():
                prepared = self.model.prepare(cond, drop.to(self.device))
            sampler = make_sampler(
                request.sampler,
                prediction_type=cfg.prediction_type,
                num_train_timesteps=cfg.num_train_timesteps,
                beta_schedule=cfg.beta_schedule,
            )
            sampler.set_timesteps(request.steps)
            # --- seeded initial noise: same request -> same bytes ---
            noise_gen = torch.Generator(device="cpu").manual_seed(int(request.seed))
            shape = (1, cfg.in_channels, cfg.image_size, cfg.image_size)
            x = torch.randn(shape, generator=noise_gen, dtype=torch.float32).to(self.device)
            total = len(sampler.timesteps)
            for i, t in enumerate(sampler.timesteps):
                model_output = self._forward(x, t, prepared, guidance, rows)
                out = sampler.step(model_output, t, x)
                x = out.prev_sample
                if on_step is not None:
                    preview = StepPreview(
                        step=i + 1, total=total, image=to_display(to_unit(out.pred_original_sample[0]))
                    )
                    if on_step(preview) is False:
                        raise GenerationCancelled(f"cancelled after step {i + 1} of {total}")
        unit = to_unit(x[0])
        return GenerationResult(
            pixels=to_native(unit, conditions.modality),
            display=to_display(unit),
            model_version=self.model_version,
            provenance={
                "model_version": self.model_version,
                "weights_sha256": self.meta["sha256"],
                "sampler": request.sampler,
                "steps": int(request.steps),
                "guidance": guidance,
                "seed": int(request.seed),
                "conditions": conditions.to_json(),
                "conditions_digest": conditions.digest(),
                # the request's conditions are kept as asked; these findings got the simulator's typical mask
                "placement": {"seed": int(request.placement_seed), "placed": list(placed)}
                if request.placement_seed is not None else None,
                "prediction_type": cfg.prediction_type,
                "image_size": cfg.image_size,
                "torch": torch.__version__,
                "dtype": str(self.dtype).replace("torch.", ""),
                "device": str(self.device),
            },
        )


_GENERATORS: dict[tuple, Generator] = {}
_GENERATORS_LOCK = threading.Lock()


def get_generator(weights: str | Path | None = None, **kwargs) -> Generator:
    """The process-wide generator for `weights` (None = the shipped default cxr weights)."""
    key = (str(Path(weights).resolve()) if weights is not None else None, tuple(sorted(kwargs.items())))
    with _GENERATORS_LOCK:
        if key not in _GENERATORS:
            _GENERATORS[key] = Generator(weights, **kwargs)
        return _GENERATORS[key]


def generate(
    conditions: Conditions,
    *,
    seed: int,
    steps: int = 20,
    sampler: str = "dpmpp2m",
    guidance: float = DEFAULT_GUIDANCE,
    placement_seed: int | None = None,
    on_step: Callable[[StepPreview], bool | None] | None = None,
) -> GenerationResult:
    """Convenience: `get_generator().generate(GenerationRequest(...), on_step)`."""
    request = GenerationRequest(
        conditions=conditions, seed=seed, steps=steps, sampler=sampler, guidance=guidance,
        placement_seed=placement_seed,
    )
    return get_generator().generate(request, on_step)

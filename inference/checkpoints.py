"""Weights and training checkpoints: safetensors + a JSON config sidecar. No pickle is ever loaded.

Weights file (what the app loads):  <name>.safetensors  (model tensors)  +  <name>.json:
    {"format": "radsim-dit-weights/1", "name": ..., "config": DiTConfig, "train_args": {...}, "step": int}
Training checkpoint (in a run dir):  ckpt-<step>.safetensors  (model.*, ema.*, opt.*, rng.*)  +  ckpt-<step>.json
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .models import DiT, DiTConfig

WEIGHTS_FORMAT = "radsim-dit-weights/1"
CHECKPOINT_FORMAT = "radsim-dit-checkpoint/1"
_CKPT_RE = re.compile(r"^ckpt-(\d+)\.safetensors$")


def sidecar_path(path: str | Path) -> Path:
    return Path(path).with_suffix(".json")


def _require_safetensors(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path.name}: only .safetensors weights are loaded (no pickle files)")
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if not sidecar_path(path).is_file():
        raise FileNotFoundError(f"config sidecar {sidecar_path(path).name} is missing next to {path.name}")
    return path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_version(name: str, sha256: str) -> str:
    """ "<config name>@<first 12 hex of the weights sha256>"."""
    return f"{name}@{sha256[:12]}"


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def save_weights(
    path: str | Path,
    state_dict: dict[str, torch.Tensor],
    config: DiTConfig,
    *,
    name: str | None = None,
    dtype: torch.dtype | None = None,
    train_args: dict | None = None,
    step: int = 0,
) -> Path:
    """Write `<path>.safetensors` + `<path>.json`; `dtype` (e.g. float16) shrinks the file for shipping."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in state_dict.items():
        value = value.detach().cpu()
        if dtype is not None and value.is_floating_point():
            value = value.to(dtype)
        tensors[key] = value.contiguous()
    save_file(tensors, str(path), metadata={"format": WEIGHTS_FORMAT})
    _write_json(
        sidecar_path(path),
        {
            "format": WEIGHTS_FORMAT,
            "name": name or path.stem,
            "config": config.to_dict(),
            "train_args": train_args or {},
            "step": int(step),
            "dtype": str(dtype or "as saved").replace("torch.", ""),
        },
    )
    return path


def read_sidecar(path: str | Path) -> dict:
    data = json.loads(sidecar_path(path).read_text())
    if data.get("format") not in (WEIGHTS_FORMAT, CHECKPOINT_FORMAT):
        raise ValueError(f"{sidecar_path(path).name}: unknown format {data.get('format')!r}")
    return data


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], DiTConfig, dict]:
    """(state dict in float32, DiTConfig, sidecar dict incl. "sha256" and "model_version")."""
    path = _require_safetensors(path)
    meta = read_sidecar(path)
    config = DiTConfig.from_dict(meta["config"])
    tensors = load_file(str(path))
    if meta["format"] == CHECKPOINT_FORMAT:  # a training checkpoint: use its EMA weights
        tensors = {k[len("ema.") :]: v for k, v in tensors.items() if k.startswith("ema.")}
    state = {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}
    sha = file_sha256(path)
    meta = dict(
        meta, sha256=sha, model_version=model_version(meta.get("name") or path.stem, sha), path=str(path)
    )
    return state, config, meta


def load_model(path: str | Path, *, device: str | torch.device = "cpu") -> tuple[DiT, dict]:
    """Build the DiT from the sidecar config and load the weights strictly; returns (model in eval mode, meta)."""
    state, config, meta = load_weights(path)
    model = DiT(config)
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)
    return model.to(device).eval(), meta


# --------------------------------------------------------------------------------------------- training


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / f"ckpt-{step:07d}.safetensors"


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in run_dir.iterdir() if (m := _CKPT_RE.match(p.name))]
    found = [(s, p) for s, p in found if sidecar_path(p).is_file()]
    return max(found)[1] if found else None


def save_checkpoint(
    run_dir: str | Path,
    *,
    step: int,
    model: torch.nn.Module,
    ema: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    config: DiTConfig,
    train_args: dict,
    keep: int = 3,
) -> Path:
    """Model, EMA, optimizer state and RNG state at `step`; keeps the newest `keep` checkpoints."""
    path = checkpoint_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().cpu().clone() for k, v in model.state_dict().items()}
    tensors.update({f"ema.{k}": v.detach().cpu().clone() for k, v in ema.state_dict().items()})
    opt_state = optimizer.state_dict()
    scalars = {}
    for idx, state in opt_state["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"opt.{idx}.{key}"] = value.detach().cpu().clone().contiguous()
            else:
                scalars[f"{idx}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"format": CHECKPOINT_FORMAT})
    tmp.replace(path)
    _write_json(
        sidecar_path(path),
        {
            "format": CHECKPOINT_FORMAT,
            "name": train_args.get("name") or Path(run_dir).name,
            "config": config.to_dict(),
            "train_args": train_args,
            "step": int(step),
            "optimizer": {"param_groups": opt_state["param_groups"], "scalars": scalars},
        },
    )
    old = sorted(p for p in Path(run_dir).iterdir() if _CKPT_RE.match(p.name))[:-keep] if keep else []
    for p in old:
        p.unlink(missing_ok=True)
        sidecar_path(p).unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    ema: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict:
    """Restore model, EMA, optimizer and RNG state in place; returns the sidecar (with "step")."""
    path = _require_safetensors(path)
    meta = read_sidecar(path)
    if meta["format"] != CHECKPOINT_FORMAT:
        raise ValueError(f"{path.name} is exported weights, not a training checkpoint")
    tensors = load_file(str(path))
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}, strict=True)
    if optimizer is not None:
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, idx, name = key.split(".", 2)
                state.setdefault(int(idx), {})[name] = value
        for key, value in meta["optimizer"]["scalars"].items():
            idx, name = key.split(".", 1)
            state.setdefault(int(idx), {})[name] = value
        groups = [
            {
                k: tuple(v) if k == "betas" else v for k, v in group.items()
            }  # JSON turned the tuple into a list
            for group in meta["optimizer"]["param_groups"]
        ]
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    return meta

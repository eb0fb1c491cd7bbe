"""Which floating-point type a device computes fastest in: one rule for generation, DiT training and readers.

bf16 pays only where the hardware multiplies in bf16. oneDNN also "supports" bf16 on plain AVX-512 by
emulation, and there it is about twice as slow as fp32, for generation and for training alike (measured on a
Xeon with AVX-512 but without AVX512_BF16 or AMX: BENCHMARKS.md). So "native" means the AVX512_BF16 or AMX
instructions, not oneDNN's flag.
Imports no Django.
"""

from __future__ import annotations

import torch


def cpu_has_native_bf16() -> bool:
    """True where this CPU multiplies bf16 in hardware (AVX512_BF16 or AMX tiles)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: fp32 is never the slow choice
        return False


def fast_autocast_dtype(device: torch.device | str, allow_fp16: bool = True) -> torch.dtype:
    """The autocast type that is fastest on `device`: bf16 where native, else fp16 on a GPU without bf16 (when
    `allow_fp16`: training leaves it out, fp16 gradients need loss scaling), else fp32."""
    device = torch.device(device)
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16 if allow_fp16 else torch.float32
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def training_dtype(device: torch.device | str, bf16: bool = True) -> torch.dtype:
    """What a training run's forward pass runs in: bf16 when asked for and native on `device`, else fp32."""
    return fast_autocast_dtype(device, allow_fp16=False) if bf16 else torch.float32


def autocast(device: torch.device | str, dtype: torch.dtype):
    """An autocast context in `dtype`; a no-op for fp32."""
    device = torch.device(device)
    return torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

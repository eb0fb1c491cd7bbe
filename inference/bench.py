"""Generator benchmarks for BENCHMARKS.md (thin CLI; run on a quiet machine, every figure moves with load).

    python -m inference.bench --threads 1        # what the web server's in-process worker gets
    python -m inference.bench --threads 2 --only diffusers

Sections (each prints its own lines):
- latency: request -> first step preview, request -> final image (the app's `Generator.generate`);
- diffusers: the same weights, request and noise through diffusers' scheduler loop, written the way its docs
  write it (call the model every step, guidance by batching cond and uncond), fp32 as diffusers runs by default;
  the outputs are compared (max abs difference) and the time is given as a ratio to ours;
- concurrent: 8 requests submitted at once from 8 threads to one generator;
- peak: the matmul peak of this CPU at these threads in the type the generator runs in (bf16 where the CPU has
  it natively, else fp32: inference/precision.py), and the fraction of it one sampling step reaches;
- resolution: per-step time of the 256 px routes (patch 16, patch 8) with untrained weights of the same width;
- placement: the typical placement a study's first request pays before its first step (a phantom render at the
  generator's size; later requests of the same study hit the cache), and the latency with it.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import threading
import time

import numpy as np
import torch

from .conditions import Conditions, Finding
from .pipeline import GenerationRequest, Generator
from .weights_info import DEFAULT_GUIDANCE

SECTIONS = ("latency", "diffusers", "concurrent", "peak", "resolution", "placement")


def _request(guidance: float = DEFAULT_GUIDANCE, steps: int = 20, seed: int = 7) -> GenerationRequest:
    conditions = Conditions(modality="cxr", view="PA", prompt="left upper lobe nodule",
                            findings=(Finding("nodule", "left", location="LUL"),))
    return GenerationRequest(conditions=conditions, seed=seed, steps=steps, sampler="dpmpp2m", guidance=guidance)


def _timed(generator: Generator, request: GenerationRequest) -> tuple[float, float]:
    """(seconds to the first preview, seconds to the final image)."""
    stamps: list[float] = []
    t0 = time.perf_counter()
    generator.generate(request, on_step=lambda _p: stamps.append(time.perf_counter()))
    return stamps[0] - t0, time.perf_counter() - t0


def latency(generator: Generator, runs: int) -> dict:
    request = _request()
    for _ in range(3):
        _timed(generator, request)
    first, final = zip(*(_timed(generator, request) for _ in range(runs)))
    out = {"first_preview_ms": 1000 * statistics.median(first), "final_s": statistics.median(final),
           "final_min_s": min(final)}
    print(f"latency  {generator.dtype}, 20 dpmpp2m steps, guidance {DEFAULT_GUIDANCE:g}, {runs} runs: first preview "
          f"{out['first_preview_ms']:.0f} ms (median), final {out['final_s']:.3f} s (median, min {out['final_min_s']:.3f})")
    return out


def diffusers_loop(generator: Generator, request: GenerationRequest) -> np.ndarray:
    """The baseline a diffusers user writes: scheduler.step over model(x, t, cond) each step, fp32."""
    import diffusers

    from .encoding import encode_conditions
    from .sampler import diffusers_config

    cfg = generator.config
    model = generator.model
    scheduler = diffusers.DPMSolverMultistepScheduler(**diffusers_config(
        "dpmpp2m", prediction_type=cfg.prediction_type, beta_schedule=cfg.beta_schedule,
        num_train_timesteps=cfg.num_train_timesteps))
    scheduler.set_timesteps(request.steps)
    cond = encode_conditions([request.conditions], image_size=cfg.image_size, text_encoder=generator.text_encoder,
                             text_tokens=cfg.text_mode == "cross")
    cond2 = {k: torch.cat([v, v]) for k, v in cond.items()}
    drop = torch.tensor([False, True])
    noise_gen = torch.Generator().manual_seed(int(request.seed))
    x = torch.randn((1, cfg.in_channels, cfg.image_size, cfg.image_size), generator=noise_gen)
    with torch.no_grad():
        for t in scheduler.timesteps:
            out = model(torch.cat([x, x]), torch.full((2,), int(t)), cond2, drop)
            c, u = out.chunk(2)
            x = scheduler.step(u + request.guidance * (c - u), t, x).prev_sample
    return np.round(((x[0, 0].clamp(-1, 1) + 1) / 2).numpy() * 4095).astype(np.int32)


def versus_diffusers(generator: Generator, fp32: Generator, runs: int) -> dict:
    request = _request()
    ref = diffusers_loop(generator, request)
    same = np.abs(fp32.generate(request).pixels.astype(np.int32) - ref).max()
    times = {}
    for name, fn in (("diffusers loop (fp32)", lambda: diffusers_loop(generator, request)),
                     ("ours fp32", lambda: fp32.generate(request)),
                     (f"ours {str(generator.dtype).replace('torch.', '')} (default)", lambda: generator.generate(request))):
        fn()
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        times[name] = statistics.median(ts)
    base = times["diffusers loop (fp32)"]
    print(f"diffusers  same weights, request and noise, 20 steps, guidance {DEFAULT_GUIDANCE:g}, median of {runs}: "
          f"max |ours fp32 - diffusers| = {same} of 4095 grey levels")
    for name, t in times.items():
        print(f"  {name:28s} {t:.3f} s per image   speed-up vs diffusers loop {base / t:.2f}x")
    return {"max_abs_diff_12bit": int(same), **{k: v for k, v in times.items()}}


def concurrent(generator: Generator, n: int = 8) -> dict:
    request = _request()
    generator.generate(request)
    done: list[float] = []
    barrier = threading.Barrier(n + 1)

    def worker(i):
        barrier.wait()
        generator.generate(dataclasses.replace(request, seed=100 + i))
        done.append(time.perf_counter())

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    barrier.wait()
    t0 = time.perf_counter()
    for th in threads:
        th.join()
    wall = max(done) - t0
    print(f"concurrent  {n} requests at once to one generator: {n / wall:.2f} images/s "
          f"(all done in {wall:.2f} s; the generator runs them one after another)")
    one, many = _step_ms(generator, 1), _step_ms(generator, n)
    print(f"concurrent  what batching would give (not used, see DECISIONS.md): one guided step for 1 image "
          f"{one:.1f} ms, for {n} images in one batch {many:.1f} ms ({n * one / many:.2f}x the images per second)")
    return {"images_per_s": n / wall, "wall_s": wall, "batched_speedup": n * one / many}


def _guided_step(generator: Generator, model, size: int, images: int = 1, runs: int = 10) -> tuple[float, float]:
    """(median ms, FLOPs) of one guided forward (cond and uncond rows) of `model` for `images` images."""
    from torch.utils.flop_counter import FlopCounterMode

    cond = {k: torch.cat([v] * (2 * images)) for k, v in _encoded(generator, size).items()}
    drop = torch.tensor([False] * images + [True] * images)
    x = torch.randn(2 * images, model.config.in_channels, size, size)
    t = torch.full((2 * images,), 500)
    with torch.inference_mode(), generator._autocast():
        prepared = model.prepare(cond, drop)
        with FlopCounterMode(display=False) as counter:
            model.forward_prepared(x, t, prepared)
        for _ in range(3):
            model.forward_prepared(x, t, prepared)
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            model.forward_prepared(x, t, prepared)
            ts.append(time.perf_counter() - t0)
    return 1000 * statistics.median(ts), float(counter.get_total_flops())


def _step_ms(generator: Generator, images: int) -> float:
    return _guided_step(generator, generator.model, generator.config.image_size, images)[0]


def matmul_peak(threads: int, dtype: torch.dtype = torch.bfloat16) -> float:
    """GFLOP/s of a large square matmul in `dtype` at the current thread count (best of 5)."""
    a = torch.randn(2048, 2048, dtype=dtype)
    b = torch.randn(2048, 2048, dtype=dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9)
    return best


def peak(generator: Generator, threads: int) -> dict:
    ms, flops = _guided_step(generator, generator.model, generator.config.image_size, runs=20)
    step = ms / 1000
    dtype = generator.dtype
    top = matmul_peak(threads, dtype)
    achieved = flops / step / 1e9
    name = str(dtype).replace("torch.", "")
    print(f"peak  {name} matmul peak {top:.0f} GFLOP/s at {threads} thread(s); one guided step (batch 2) is "
          f"{flops / 1e9:.2f} GFLOP in {1000 * step:.1f} ms = {achieved:.0f} GFLOP/s = {achieved / top:.0%} of peak")
    return {"dtype": name, "matmul_peak_gflops": top, "step_gflop": flops / 1e9, "step_ms": 1000 * step,
            "fraction": achieved / top}


def resolution(generator: Generator) -> dict:
    """Per-step time (guided, batch 2) of 256 px models built like the shipped one, by patch size."""
    from .models import DiT

    base = generator.config
    out = {}
    for label, size, patch in (("shipped 64 px, patch 4", 64, 4), ("256 px, patch 16", 256, 16),
                               ("256 px, patch 8", 256, 8)):
        cfg = dataclasses.replace(base, image_size=size, patch_size=patch)
        ms = _guided_step(generator, DiT(cfg).eval(), size)[0]
        out[label] = ms
        print(f"resolution  {label:24s} {cfg.num_tokens:5d} tokens  {ms:7.1f} ms per guided step  "
              f"~{20 * ms / 1000:.2f} s for 20 steps")
    return out


def placement(generator: Generator, runs: int) -> dict:
    """Typical placement of the bench request's undrawn nodule: uncached (a new patient seed each run, as a
    study's first request) and cached, and request -> first preview with it uncached."""
    from .placement import typical_placement

    conditions, size = _request().conditions, generator.config.image_size
    typical_placement(conditions, seed=0, size=size)  # imports and first-touch costs out of the timing
    uncached, cached = [], []
    for seed in range(1, runs + 1):
        t0 = time.perf_counter()
        typical_placement(conditions, seed=seed, size=size)
        uncached.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        typical_placement(conditions, seed=seed, size=size)
        cached.append(time.perf_counter() - t0)
    first = [_timed(generator, dataclasses.replace(_request(), placement_seed=runs + 1 + k))[0] for k in range(runs)]
    out = {"uncached_ms": 1000 * statistics.median(uncached), "cached_us": 1e6 * statistics.median(cached),
           "first_preview_uncached_ms": 1000 * statistics.median(first)}
    print(f"placement  typical placement of 1 finding at {size} px, median of {runs}: uncached (a study's first "
          f"request) {out['uncached_ms']:.0f} ms, cached {out['cached_us']:.0f} us; first preview of a first request "
          f"{out['first_preview_uncached_ms']:.0f} ms")
    return out


def _encoded(generator: Generator, size: int) -> dict:
    from .encoding import encode_conditions

    return encode_conditions([_request().conditions], image_size=size, text_encoder=generator.text_encoder,
                             text_tokens=generator.config.text_mode == "cross")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m inference.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--weights", default=None)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--only", nargs="*", choices=SECTIONS)
    p.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"],
                   help="the generator's compute type (auto: bf16 only where the CPU has it natively)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import os

    from .precision import cpu_has_native_bf16

    print(f"bench: {args.threads} torch thread(s), pid {os.getpid()}, load average {os.getloadavg()[0]:.2f}, "
          f"CPU {'with' if cpu_has_native_bf16() else 'without'} native bf16")
    generator = Generator(args.weights, threads=args.threads, dtype=args.dtype)
    print(f"model {generator.model_version}, {generator.config.image_size} px, {generator.dtype}")
    sections = args.only or SECTIONS
    if "latency" in sections:
        latency(generator, args.runs)
    if "diffusers" in sections:
        versus_diffusers(generator, Generator(args.weights, threads=args.threads, dtype="fp32",
                                              text_encoder=generator.text_encoder), max(3, args.runs // 2))
    if "concurrent" in sections:
        concurrent(generator)
    if "peak" in sections:
        peak(generator, args.threads)
    if "resolution" in sections:
        resolution(generator)
    if "placement" in sections:
        placement(generator, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

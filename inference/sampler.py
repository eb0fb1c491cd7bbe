"""Noise schedule and samplers (scheduler objects, not nn.Modules), diffusers-style.

- `NoiseSchedule`: the training schedule, defined once (1000 steps, `squaredcos_cap_v2` by default):
  `add_noise` and `target` (eps or v) for training, `alphas_cumprod` for the samplers.
- `DDIMSampler` (eta = 0) and `DPMSolverPP2MSampler` (DPM-Solver++, multistep, order 2, midpoint):
  `set_timesteps(n)`, iterate over `.timesteps`, `step(model_output, t, sample)` returns `StepOutput` with
  `prev_sample` and `pred_original_sample` (the x0 prediction used for previews).

Both agree with diffusers' `DDIMScheduler` / `DPMSolverMultistepScheduler` configured with
`diffusers_config(...)` (see tests/inference/test_sampler_agreement.py). Timesteps use "trailing" spacing,
so the first step starts at t = 999 (pure noise) and the last step lands on a clean image.
One deliberate difference: for step counts that do not divide 1000, our DDIM steps to the next timestep of
its own list, whereas diffusers' DDIM steps to `t - 1000 // n`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

PREDICTION_TYPES = ("epsilon", "v_prediction")
BETA_SCHEDULES = ("squaredcos_cap_v2", "scaled_linear", "linear")


def make_betas(
    beta_schedule: str, num_train_timesteps: int, beta_start: float = 0.0001, beta_end: float = 0.02
):
    """(T,) float32 betas, computed exactly as diffusers does."""
    if beta_schedule == "linear":
        return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float32)
    if beta_schedule == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) ** 2
    if beta_schedule == "squaredcos_cap_v2":  # Nichol & Dhariwal cosine schedule, betas capped at 0.999

        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [
            min(1 - alpha_bar((i + 1) / num_train_timesteps) / alpha_bar(i / num_train_timesteps), 0.999)
            for i in range(num_train_timesteps)
        ]
        return torch.tensor(betas, dtype=torch.float32)
    raise ValueError(f"unknown beta schedule {beta_schedule!r} (known: {', '.join(BETA_SCHEDULES)})")


class NoiseSchedule:
    """The forward (noising) process the model was trained with."""

    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "squaredcos_cap_v2",
        prediction_type: str = "v_prediction",
    ):
        if prediction_type not in PREDICTION_TYPES:
            raise ValueError(
                f"unknown prediction type {prediction_type!r} (known: {', '.join(PREDICTION_TYPES)})"
            )
        self.num_train_timesteps = num_train_timesteps
        self.beta_schedule = beta_schedule
        self.prediction_type = prediction_type
        self.betas = make_betas(beta_schedule, num_train_timesteps)  # (T,)
        self.alphas_cumprod = torch.cumprod(1.0 - self.betas, dim=0)  # (T,) alpha-bar_t

    def _coefficients(self, t: torch.Tensor, ndim: int):
        a = self.alphas_cumprod.to(t.device)[t].float()  # (N,)
        shape = (-1,) + (1,) * (ndim - 1)
        return a.sqrt().reshape(shape), (1 - a).sqrt().reshape(shape)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps"""
        sa, sb = self._coefficients(t, x0.ndim)
        return sa * x0 + sb * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the model learns to predict: eps, or v = sqrt(a_t) eps - sqrt(1 - a_t) x0."""
        if self.prediction_type == "epsilon":
            return noise
        sa, sb = self._coefficients(t, x0.ndim)
        return sa * noise - sb * x0


@dataclass
class StepOutput:
    prev_sample: torch.Tensor  # x_{t-1}: the input of the next step (the final image after the last step)
    pred_original_sample: torch.Tensor  # x0 predicted at this step (for previews)


class _Sampler:
    name = ""

    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "squaredcos_cap_v2",
        prediction_type: str = "v_prediction",
    ):
        self.schedule = NoiseSchedule(num_train_timesteps, beta_schedule, prediction_type)
        self.prediction_type = prediction_type
        self.num_train_timesteps = num_train_timesteps
        self.alphas_cumprod = self.schedule.alphas_cumprod
        self.num_inference_steps: int | None = None
        self._timesteps: torch.Tensor | None = None
        self._step_index = 0

    @classmethod
    def from_model_config(cls, config) -> _Sampler:
        return cls(config.num_train_timesteps, config.beta_schedule, config.prediction_type)

    @property
    def timesteps(self) -> torch.Tensor:
        if self._timesteps is None:
            raise RuntimeError(f"{type(self).__name__}: call set_timesteps(n) before reading .timesteps")
        return self._timesteps

    def _trailing_timesteps(self, n: int) -> torch.Tensor:
        if not 1 <= n <= self.num_train_timesteps:
            raise ValueError(f"number of steps must be 1..{self.num_train_timesteps}, got {n}")
        ratio = self.num_train_timesteps / n
        # same arithmetic as diffusers' timestep_spacing="trailing"
        import numpy as np

        ts = np.round(np.arange(self.num_train_timesteps, 0, -ratio)).astype(np.int64) - 1
        return torch.from_numpy(ts)

    def _check_step(self, t) -> int:
        if self._timesteps is None:
            raise RuntimeError(f"{type(self).__name__}: call set_timesteps(n) before step()")
        if self._step_index >= len(self._timesteps):
            raise RuntimeError(
                f"{type(self).__name__}: all {len(self._timesteps)} steps are done; call set_timesteps"
            )
        expected = int(self._timesteps[self._step_index])
        if int(t) != expected:
            raise ValueError(
                f"step {self._step_index} expects t={expected}, got t={int(t)}: iterate over .timesteps"
            )
        return self._step_index

    def _x0_eps(self, model_output, sample, alpha_t, sigma_t):
        """Convert the model output to (x0, eps) given sqrt(alpha-bar) and sqrt(1 - alpha-bar)."""
        if self.prediction_type == "epsilon":
            x0 = (sample - sigma_t * model_output) / alpha_t
            eps = model_output
        else:  # v_prediction
            x0 = alpha_t * sample - sigma_t * model_output
            eps = alpha_t * model_output + sigma_t * sample
        return x0, eps


class DDIMSampler(_Sampler):
    """Deterministic DDIM (eta = 0), final step to alpha-bar = 1 (diffusers: set_alpha_to_one=True)."""

    name = "ddim"

    def set_timesteps(self, n: int) -> None:
        self._timesteps = self._trailing_timesteps(n)
        self.num_inference_steps = n
        self._step_index = 0

    def step(self, model_output: torch.Tensor, t, sample: torch.Tensor) -> StepOutput:
        i = self._check_step(t)
        t = int(t)
        prev_t = int(self._timesteps[i + 1]) if i + 1 < len(self._timesteps) else -1
        # 1. alpha-bar at t and at the previous (less noisy) timestep
        alpha_prod_t = self.alphas_cumprod[t]
        alpha_prod_t_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)
        beta_prod_t = 1 - alpha_prod_t
        # 2. predicted x0 and eps, formula (12) of the DDIM paper
        x0, eps = self._x0_eps(model_output, sample, alpha_prod_t ** (0.5), beta_prod_t ** (0.5))
        # 3. "direction pointing to x_t" and x_{t-1} (eta = 0)
        direction = (1 - alpha_prod_t_prev) ** (0.5) * eps
        prev_sample = alpha_prod_t_prev ** (0.5) * x0 + direction
        self._step_index += 1
        return StepOutput(prev_sample=prev_sample, pred_original_sample=x0)


class DPMSolverPP2MSampler(_Sampler):
    """DPM-Solver++(2M), midpoint, data prediction; first order on the first and the last step
    (diffusers: algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero")."""

    name = "dpmpp2m"

    def set_timesteps(self, n: int) -> None:
        self._timesteps = self._trailing_timesteps(n)
        self.num_inference_steps = n
        # sigma = sqrt((1 - a) / a) at each timestep, then 0 at the end (float32, as diffusers)
        sig = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5
        self.sigmas = torch.cat([sig[self._timesteps], torch.zeros(1)]).float()  # (n + 1,)
        self._previous_x0: torch.Tensor | None = None
        self._step_index = 0

    @staticmethod
    def _alpha_sigma(sigma: torch.Tensor):
        alpha_t = 1 / ((sigma**2 + 1) ** 0.5)
        return alpha_t, sigma * alpha_t

    def step(self, model_output: torch.Tensor, t, sample: torch.Tensor) -> StepOutput:
        i = self._check_step(t)
        alpha_s0, sigma_s0 = self._alpha_sigma(self.sigmas[i])
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[i + 1])
        x0, _ = self._x0_eps(model_output, sample, alpha_s0, sigma_s0)
        # lambda = log(alpha / sigma): half log-SNR; h = step size in lambda
        lambda_t = torch.log(alpha_t) - torch.log(sigma_t)
        lambda_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)
        h = lambda_t - lambda_s0
        last = i == len(self._timesteps) - 1
        sample = sample.float()
        if self._previous_x0 is None or last:
            # first-order update (DPM-Solver++ 1 = DDIM)
            prev_sample = (sigma_t / sigma_s0) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * x0
        else:
            alpha_s1, sigma_s1 = self._alpha_sigma(self.sigmas[i - 1])
            lambda_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)
            r0 = (lambda_s0 - lambda_s1) / h
            D0, D1 = x0, (1.0 / r0) * (x0 - self._previous_x0)
            prev_sample = (
                (sigma_t / sigma_s0) * sample
                - (alpha_t * (torch.exp(-h) - 1.0)) * D0
                - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * D1
            )
        self._previous_x0 = x0
        self._step_index += 1
        return StepOutput(prev_sample=prev_sample.to(model_output.dtype), pred_original_sample=x0)


SAMPLERS: dict[str, type[_Sampler]] = {"ddim": DDIMSampler, "dpmpp2m": DPMSolverPP2MSampler}


def make_sampler(
    name: str,
    *,
    prediction_type: str = "v_prediction",
    num_train_timesteps: int = 1000,
    beta_schedule: str = "squaredcos_cap_v2",
) -> _Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r} (known: {', '.join(SAMPLERS)})")
    return SAMPLERS[name](num_train_timesteps, beta_schedule, prediction_type)


def diffusers_config(
    name: str,
    *,
    prediction_type: str = "v_prediction",
    beta_schedule: str = "squaredcos_cap_v2",
    num_train_timesteps: int = 1000,
) -> dict:
    """The diffusers scheduler config equivalent to our sampler `name` (for tests and for exporting)."""
    common = {
        "num_train_timesteps": num_train_timesteps,
        "beta_schedule": beta_schedule,
        "prediction_type": prediction_type,
        "timestep_spacing": "trailing",
    }
    if name == "ddim":
        return dict(common, clip_sample=False, set_alpha_to_one=True, steps_offset=0, thresholding=False)
    if name == "dpmpp2m":
        return dict(
            common,
            algorithm_type="dpmsolver++",
            solver_order=2,
            solver_type="midpoint",
            lower_order_final=True,
            final_sigmas_type="zero",
            thresholding=False,
        )
    raise ValueError(f"unknown sampler {name!r}")


def guide(model_output: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance on a batched [cond; uncond] output: uncond + g * (cond - uncond)."""
    cond, uncond = model_output.chunk(2, dim=0)
    return uncond + guidance * (cond - uncond)

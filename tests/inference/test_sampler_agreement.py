"""Our samplers agree with diffusers' DDIMScheduler / DPMSolverMultistepScheduler (dpmsolver++, order 2)
configured equivalently, on the same model and initial noise, to 1e-4 in fp32."""

from __future__ import annotations

import pytest
import torch
from tests.inference.dit_testutils import tiny_model

from inference.conditions import Conditions, Finding
from inference.encoding import encode_structured
from inference.sampler import DDIMSampler, DPMSolverPP2MSampler, NoiseSchedule, diffusers_config, make_sampler

import diffusers  # noqa: E402  (a test dependency: pip install -e ".[test]")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ATOL = 1e-4


def reference_scheduler(name: str, prediction_type: str):
    cls = diffusers.DDIMScheduler if name == "ddim" else diffusers.DPMSolverMultistepScheduler
    return cls(**diffusers_config(name, prediction_type=prediction_type))


def fake_model(prediction_type: str):
    """A smooth deterministic 'network': a plausible x0 guess expressed as eps or v."""
    alphas_cumprod = NoiseSchedule().alphas_cumprod

    def model(x: torch.Tensor, t) -> torch.Tensor:
        t = int(t)
        a = alphas_cumprod[t]
        alpha, sigma = a.sqrt(), (1 - a).sqrt()
        x0 = 0.8 * torch.tanh(1.5 * x) + 0.1 * torch.sin(torch.tensor(t / 97.0)) * torch.cos(3 * x)
        eps = (x - alpha * x0) / sigma
        return eps if prediction_type == "epsilon" else alpha * eps - sigma * x0

    return model


def dit_model(prediction_type: str):
    dit = tiny_model(seed=3, prediction_type=prediction_type)
    cond = encode_structured([Conditions(findings=(Finding("effusion", "left"),))], image_size=16)
    cond["text"] = torch.randn(1, 384, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        prepared = dit.prepare(cond, torch.tensor([False]))

    def model(x: torch.Tensor, t) -> torch.Tensor:
        with torch.no_grad():
            return dit.forward_prepared(x, torch.full((x.shape[0],), int(t)), prepared)

    return model


def run_both(name: str, prediction_type: str, model, steps: int, shape=(1, 1, 16, 16)):
    noise = torch.randn(shape, generator=torch.Generator().manual_seed(42))
    ours = make_sampler(name, prediction_type=prediction_type)
    ref = reference_scheduler(name, prediction_type)
    ours.set_timesteps(steps)
    ref.set_timesteps(steps)
    assert ours.timesteps.tolist() == ref.timesteps.tolist()
    x_ours, x_ref = noise.clone(), noise.clone()
    worst = 0.0
    for t in ours.timesteps:
        out_ours = ours.step(model(x_ours, t), t, x_ours)
        out_ref = ref.step(model(x_ref, t), t, x_ref)
        if name == "ddim":
            torch.testing.assert_close(
                out_ours.pred_original_sample, out_ref.pred_original_sample, atol=ATOL, rtol=0
            )
        else:  # diffusers keeps the converted x0 of the last step in model_outputs
            torch.testing.assert_close(
                out_ours.pred_original_sample, ref.model_outputs[-1], atol=ATOL, rtol=0
            )
        x_ours, x_ref = out_ours.prev_sample, out_ref.prev_sample
        worst = max(worst, (x_ours - x_ref).abs().max().item())
        torch.testing.assert_close(x_ours, x_ref, atol=ATOL, rtol=0)
    return x_ours, worst


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("name", ["ddim", "dpmpp2m"])
@pytest.mark.parametrize("steps", [1, 4, 20, 25])
def test_agrees_with_diffusers_fake_model(name, prediction_type, steps):
    final, worst = run_both(name, prediction_type, fake_model(prediction_type), steps)
    assert worst < ATOL
    assert torch.isfinite(final).all()


@pytest.mark.parametrize("prediction_type", ["epsilon", "v_prediction"])
@pytest.mark.parametrize("name", ["ddim", "dpmpp2m"])
def test_agrees_with_diffusers_tiny_dit(name, prediction_type):
    final, worst = run_both(name, prediction_type, dit_model(prediction_type), 10)
    assert worst < ATOL
    assert final.abs().max() > 0  # the randomised DiT is not the zero function


def test_dpm_trailing_timesteps_for_any_step_count():
    for steps in (3, 7, 30):
        ours = DPMSolverPP2MSampler()
        ref = reference_scheduler("dpmpp2m", "v_prediction")
        ours.set_timesteps(steps)
        ref.set_timesteps(steps)
        assert ours.timesteps.tolist() == ref.timesteps.tolist()
        assert ours.timesteps[0] == 999


def test_step_before_set_timesteps_is_a_clear_error():
    for sampler in (DDIMSampler(), DPMSolverPP2MSampler()):
        with pytest.raises(RuntimeError, match="set_timesteps"):
            sampler.step(torch.zeros(1), 999, torch.zeros(1))
        with pytest.raises(RuntimeError, match="set_timesteps"):
            _ = sampler.timesteps


def test_unknown_sampler_and_prediction_type():
    with pytest.raises(ValueError, match="unknown sampler"):
        make_sampler("euler")
    with pytest.raises(ValueError, match="prediction type"):
        make_sampler("ddim", prediction_type="sample")


def test_training_target_matches_diffusers():
    """add_noise and the v target match diffusers' (the training schedule is defined once)."""
    ref = reference_scheduler("ddim", "v_prediction")
    sched = NoiseSchedule()
    x0 = torch.randn(4, 1, 8, 8)
    noise = torch.randn(4, 1, 8, 8)
    t = torch.tensor([0, 10, 500, 999])
    torch.testing.assert_close(sched.add_noise(x0, noise, t), ref.add_noise(x0, noise, t), atol=1e-6, rtol=0)
    torch.testing.assert_close(sched.target(x0, noise, t), ref.get_velocity(x0, noise, t), atol=1e-6, rtol=0)

"""Samplers: generators that yield every denoising step, so the app can show each one.

Every sampler starts from noise at the top level, visits K noise levels and ends on a clean image, so it
yields K + 1 frames (:class:`SampleStep`, index 0..K). The model is a denoiser ``D(x, sigma, label)``
that predicts the clean image.

- ``original``: x <- D(x, sigma_k) at each level, K = T by default (the original design).
- ``euler``: the deterministic DDIM/Euler step of the probability-flow ODE for ``x = clean + sigma n``:
  ``x <- D + (sigma_next / sigma) (x - D)``.
- ``heun``: Euler plus Heun's second-order correction (EDM algorithm 1): 2K - 1 model calls.
- ``stochastic``: Euler-ancestral: step to below ``sigma_next`` and re-noise to ``sigma_next``.
- ``dpm2m``: DPM-Solver++(2M) (Lu et al. 2022): the Euler step taken with a second-order
  extrapolation of D from the previous step's prediction, so second order at one call a step.

Classifier-free guidance: ``D = D_null + w (D_label - D_null)``; ``w = 1`` is the plain conditional
model (one call), ``w > 1`` pushes towards the label (two calls per evaluation, batched).

Starting noise: ``start="pure"`` draws ``sigma_max * N(0, 1)`` (the original's N(0, 1) when
sigma_max = 1; EDM's convention); ``start="matched"`` draws with the standard deviation that training
inputs have at sigma_max, ``sqrt(sigma_max^2 + sigma_data^2)``, which is what the original model saw at
sigma = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

from tui_denoiser.core.noise import karras_sigmas, linear_sigmas
from tui_denoiser.core.threads import cpu_threads

SAMPLERS: dict[str, str] = {
    "original": "x <- D(x, sigma) once per level, T..1 (the original design)",
    "euler": "deterministic Euler/DDIM step: x <- D + (sigma_next/sigma)(x - D)",
    "heun": "Euler with Heun's 2nd-order correction (EDM), 2K-1 model calls",
    "stochastic": "Euler-ancestral: denoise, then re-noise to sigma_next",
    "dpm2m": "DPM-Solver++(2M): second order from the previous step's prediction, 1 call a step",
}
STARTS = ("pure", "matched")
GRIDS = ("linear", "karras")


@dataclass
class SampleStep:
    """One frame of a trajectory: ``images`` (B,1,28,28) float on the CPU at noise level ``sigma``."""

    index: int  # 0 = the starting noise, total = the final sample
    total: int  # K, the number of steps
    sigma: float
    images: torch.Tensor
    model_calls: int  # network evaluations per sample so far (guidance counts twice)


def validate_sampling(sampler: str, steps: int, guidance: float) -> None:
    from tui_denoiser.core.errors import ConfigError

    if sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= 1000:
        raise ConfigError(f"steps must be an integer in 1..1000, got {steps!r}")
    if not isinstance(guidance, (int, float)) or not math.isfinite(guidance) or not 0 <= guidance <= 20:
        raise ConfigError(f"guidance scale must be a number in 0..20 (1 = plain conditional), got {guidance!r}")


def _levels(sampler: str, steps: int, sigma_min: float, sigma_max: float, grid: str) -> list[float]:
    if sampler == "original" or grid == "linear":
        sigmas = linear_sigmas(steps, sigma_max)
    else:
        sigmas = karras_sigmas(steps, sigma_min, sigma_max)
    return [float(s) for s in sigmas] + [0.0]


def sample(model: torch.nn.Module, labels: Sequence[int] | torch.Tensor, *, sampler: str = "original",
           steps: int = 10, sigma_max: float = 1.0, sigma_min: float = 0.1, seed: int = 0,
           guidance: float = 1.0, grid: str = "karras", start: str = "pure",
           sigma_data: float = 0.6162,
           guidance_interval: tuple[float, float] | None = None) -> Iterator[SampleStep]:
    """Yield the K + 1 frames of denoising ``len(labels)`` samples (see the module docstring).

    ``model`` must be in eval mode: sample from a copy, never from a module a trainer is updating.
    The starting noise comes from a CPU generator seeded with ``seed``, so a seed gives the same
    trajectory on any device.
    """
    validate_sampling(sampler, steps, guidance)
    if start not in STARTS:
        raise ValueError(f"start must be one of {STARTS}")
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}")
    if model.training:
        raise RuntimeError("sample() needs a model in eval mode: sample from an eval copy, not the training module")
    param = next(model.parameters())
    device = param.device
    if device.type == "cpu":
        cpu_threads()
        if any(p.ndim == 4 and not p.is_contiguous(memory_format=torch.channels_last) for p in model.parameters()):
            # oneDNN's channels-last convolutions: ~1.5x faster at these sizes than the default layout
            # (benchmarks/sampling_speed.py); weights keep their values, only their layout changes.
            model.to(memory_format=torch.channels_last)
    labels_t = torch.as_tensor(labels, dtype=torch.long).reshape(-1).to(device)
    batch = labels_t.shape[0]
    generator = torch.Generator().manual_seed(int(seed))
    levels = _levels(sampler, steps, sigma_min, sigma_max, grid)
    start_std = sigma_max if start == "pure" else math.sqrt(sigma_max**2 + sigma_data**2)
    x = (torch.randn((batch, 1, 28, 28), generator=generator) * start_std).to(device)
    null = torch.full_like(labels_t, getattr(model, "null_label", 10))
    calls = 0
    previous_d: torch.Tensor | None = None

    def guided(sigma: float) -> bool:
        if guidance == 1:
            return False
        return guidance_interval is None or guidance_interval[0] <= sigma <= guidance_interval[1]

    def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
        nonlocal calls
        level = torch.full((1, 1, 1, 1), sigma, device=device)
        if not guided(sigma):
            calls += 1
            return model(x, level, labels_t).float()
        calls += 2
        both = model(torch.cat([x, x]), level, torch.cat([labels_t, null])).float()
        cond, uncond = both.chunk(2)
        return uncond + guidance * (cond - uncond)

    yield SampleStep(0, steps, levels[0], x.detach().float().cpu(), 0)
    for k in range(steps):
        sigma, sigma_next = levels[k], levels[k + 1]
        with torch.inference_mode():
            d = denoise(x, sigma)
            if sampler == "original":
                x = d
            elif sampler == "dpm2m":
                d_step = d
                if previous_d is not None and sigma_next > 0:
                    # r = h_last / h in log-sigma time; extrapolate D to the step's midpoint.
                    h = math.log(sigma / sigma_next)
                    r = math.log(levels[k - 1] / sigma) / h
                    d_step = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * previous_d
                previous_d = d
                x = d_step + (sigma_next / sigma) * (x - d_step)
            elif sampler == "euler" or sigma_next == 0:
                x = d + (sigma_next / sigma) * (x - d)
            elif sampler == "heun":
                x_euler = d + (sigma_next / sigma) * (x - d)
                d_next = denoise(x_euler, sigma_next)
                slope = 0.5 * ((x - d) / sigma + (x_euler - d_next) / sigma_next)
                x = x + (sigma_next - sigma) * slope
            else:  # stochastic (Euler-ancestral, eta = 1)
                sigma_up = min(sigma_next, math.sqrt(max(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2, 0.0)))
                sigma_down = math.sqrt(max(sigma_next**2 - sigma_up**2, 0.0))
                noise = torch.randn(x.shape, generator=generator).to(device)
                x = d + (sigma_down / sigma) * (x - d) + sigma_up * noise
        yield SampleStep(k + 1, steps, sigma_next if sampler != "original" else levels[k + 1], x.detach().float().cpu(), calls)


def final_images(steps: Iterator[SampleStep]) -> torch.Tensor:
    """Run a sampler to the end and return only the last frame's images."""
    last = None
    for last in steps:
        pass
    assert last is not None
    return last.images

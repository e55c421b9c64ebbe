"""Samplers: one small generator per sampler over a precomputed list of noise levels, and one driver.

Shaped like k-diffusion's ``sampling.py``: every sampler has the signature
``sample_x(denoise, x, sigmas, *, generator) -> Iterator[x]``, where ``denoise(x, sigma)`` is the
(guided) denoiser ``D`` that predicts the clean image and ``sigmas`` runs from the top level down to 0;
it yields ``x`` after each step. :func:`sample` builds the levels, the guided denoiser and the starting
noise, runs any sampler in :data:`SAMPLERS` and yields every frame (:class:`SampleStep`, K + 1 of them).
A new sampler is one function and one registry line (and its name in ``config.SAMPLER_NAMES``).

Classifier-free guidance: ``D = D_null + w (D_label - D_null)``; ``w = 1`` is the plain conditional
model (one call), ``w > 1`` pushes towards the label (two calls per evaluation, batched), only at
noise levels inside the config's ``guidance_interval`` when it has one. A guidance-distilled student
(``ModelConfig.guidance_input``) is asked for ``w`` and does it in one call. Autoguidance (Karras et al.
2024) replaces ``D_null`` by a weaker model of the same label, ``guide``: ``D = D_guide + w (D_label -
D_guide)`` pushes away from the guide's errors rather than towards the label alone.

Starting noise: ``start="pure"`` draws ``sigma_max * N(0, 1)`` (the original's N(0, 1) when
sigma_max = 1; EDM's convention); ``start="matched"`` draws with the standard deviation that training
inputs have at sigma_max, ``sqrt(sigma_max^2 + sigma_data^2)``, which is what the original model saw at
sigma = 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple, Sequence

import torch

from tui_denoiser.core.config import (CHURN_GAMMA, CHURN_LEVELS, SAMPLER_NAMES, SIGMA_DATA, SamplingConfig,
                                      churned_sigma,
                                      grid_levels)
from tui_denoiser.core.adams_bashforth import EQUAL_STEP_COEFFS, variable_step_coeffs
from tui_denoiser.core.noise import karras_sigmas, linear_sigmas
from tui_denoiser.core.sampling_policy import guided_in_one_call
from tui_denoiser.core.threads import cpu_threads

Denoise = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass
class SampleStep:
    """One frame of a trajectory: ``images`` (B,1,28,28) float on the CPU at noise level ``sigma``."""

    index: int  # 0 = the starting noise, total = the final sample
    total: int  # K, the number of steps
    sigma: float
    images: torch.Tensor
    model_calls: int  # network evaluations per sample so far (guidance counts twice)


# -- the samplers -------------------------------------------------------------------------------------
def sample_seed(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                    generator: torch.Generator) -> Iterator[torch.Tensor]:
    """The seed's literal sampler: x <- D(x, sigma) at each level, no re-noising."""
    for sigma in sigmas[:-1]:
        x = denoise(x, sigma)
        yield x


def _euler_step(x: torch.Tensor, d: torch.Tensor, sigma: float, sigma_next: float) -> torch.Tensor:
    return d + (sigma_next / sigma) * (x - d)


def sample_euler(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                 generator: torch.Generator) -> Iterator[torch.Tensor]:
    """The deterministic DDIM/Euler step of the probability-flow ODE for ``x = clean + sigma n``."""
    for sigma, sigma_next in zip(sigmas, sigmas[1:]):
        x = _euler_step(x, denoise(x, sigma), sigma, sigma_next)
        yield x


def sample_heun(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Euler plus Heun's second-order correction (EDM algorithm 1); a plain Euler step onto sigma = 0."""
    for sigma, sigma_next in zip(sigmas, sigmas[1:]):
        d = denoise(x, sigma)
        x_euler = _euler_step(x, d, sigma, sigma_next)
        if sigma_next == 0:
            x = x_euler
        else:
            d_next = denoise(x_euler, sigma_next)
            slope = 0.5 * ((x - d) / sigma + (x_euler - d_next) / sigma_next)
            x = x + (sigma_next - sigma) * slope
        yield x


def sample_stochastic(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                      generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Euler-ancestral (eta = 1): step to below ``sigma_next``, then re-noise up to it."""
    for sigma, sigma_next in zip(sigmas, sigmas[1:]):
        d = denoise(x, sigma)
        if sigma_next == 0:
            x = _euler_step(x, d, sigma, sigma_next)
        else:
            sigma_up = min(sigma_next, math.sqrt(max(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2, 0.0)))
            sigma_down = math.sqrt(max(sigma_next**2 - sigma_up**2, 0.0))
            noise = torch.randn(x.shape, generator=generator).to(x.device)
            x = d + (sigma_down / sigma) * (x - d) + sigma_up * noise
        yield x


def _dpm2m_step(x: torch.Tensor, d: torch.Tensor, previous_d: torch.Tensor | None, sigmas: list[float], k: int
                ) -> torch.Tensor:
    """One DPM-Solver++(2M) step from ``sigmas[k]`` to ``sigmas[k + 1]``: the Euler step taken with D
    extrapolated (in log-sigma time) from the previous level's prediction, when there is one."""
    sigma, sigma_next = sigmas[k], sigmas[k + 1]
    d_step = d
    if previous_d is not None and sigma_next > 0:
        # r = h_last / h in log-sigma time; extrapolate D to the step's midpoint.
        h = math.log(sigma / sigma_next)
        r = math.log(sigmas[k - 1] / sigma) / h
        d_step = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * previous_d
    return _euler_step(x, d_step, sigma, sigma_next)


def sample_dpm2m(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                 generator: torch.Generator) -> Iterator[torch.Tensor]:
    """DPM-Solver++(2M) (Lu et al. 2022): second order at one call a step."""
    previous_d: torch.Tensor | None = None
    for k, sigma in enumerate(sigmas[:-1]):
        d = denoise(x, sigma)
        x = _dpm2m_step(x, d, previous_d, sigmas, k)
        previous_d = d
        yield x


def sample_dpm2m_churn(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                       generator: torch.Generator, churn_levels: tuple[float, float] = CHURN_LEVELS,
                       churn_gamma: float = CHURN_GAMMA) -> Iterator[torch.Tensor]:
    """DPM-Solver++(2M), except at the levels in ``churn_levels``: there EDM's stochastic step (Karras
    et al. 2022, algorithm 2): raise sigma to ``(1 + churn_gamma) sigma`` with fresh noise, then one
    Euler step to ``sigma_next`` (the 2M history restarts after it). One call a step, as dpm2m; the
    fresh noise lets the low-noise steps undo the stray specks that deterministic steps keep.
    ``churn_gamma`` 0 gives dpm2m's images exactly."""
    previous_d: torch.Tensor | None = None
    for k, (sigma, sigma_next) in enumerate(zip(sigmas, sigmas[1:])):
        sigma_hat = churned_sigma(sigma, sigma_next, churn_gamma, churn_levels)
        if sigma_hat != sigma:
            noise = torch.randn(x.shape, generator=generator).to(x.device)
            x = x + math.sqrt(sigma_hat**2 - sigma**2) * noise
            x = _euler_step(x, denoise(x, sigma_hat), sigma_hat, sigma_next)
            previous_d = None
            yield x
            continue
        d = denoise(x, sigma)
        x = _dpm2m_step(x, d, previous_d, sigmas, k)
        previous_d = d
        yield x


def _sample_pndm(denoise: Denoise, x: torch.Tensor, sigmas: list[float], variable: bool,
                 max_order: int = 4) -> Iterator[torch.Tensor]:
    slopes: list[torch.Tensor] = []  # the previous steps' slopes dx/dsigma, newest first
    for k, (sigma, sigma_next) in enumerate(zip(sigmas, sigmas[1:])):
        d = denoise(x, sigma)
        slope = (x - d) / sigma
        if sigma_next == 0:
            x = d
        else:
            order = min(max_order, k + 1)
            coeffs = variable_step_coeffs(sigmas, k, order) if variable else EQUAL_STEP_COEFFS[order - 1]
            combined = coeffs[0] * slope
            for c, previous in zip(coeffs[1:], slopes):
                combined = combined + c * previous
            x = x + (sigma_next - sigma) * combined
        slopes = [slope, *slopes][:max_order - 1]
        yield x


def sample_ipndm(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                 generator: torch.Generator) -> Iterator[torch.Tensor]:
    """iPNDM (Zhang & Chen 2023, the DEIS paper's improved PNDM): Euler steps in sigma whose slope is
    the Adams-Bashforth combination of this step's and up to three previous steps' slopes
    ``(x - D)/sigma``, with the fixed coefficients of equal steps; the step onto 0 is ``x <- D``.
    One call a step."""
    yield from _sample_pndm(denoise, x, sigmas, variable=False)


def sample_ipndm_v(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                   generator: torch.Generator) -> Iterator[torch.Tensor]:
    """iPNDM with the Adams-Bashforth coefficients of the actual, unequal steps (iPNDM-v)."""
    yield from _sample_pndm(denoise, x, sigmas, variable=True)


def sample_dpm3m(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                 generator: torch.Generator) -> Iterator[torch.Tensor]:
    """DPM-Solver++(3M) (Lu et al. 2022), deterministic: the exponential-integrator step in log-sigma
    time with D's first and second divided differences from the two previous predictions (second
    order after one step, third after two); the step onto 0 is ``x <- D``. One call a step.
    k-diffusion's ``sample_dpmpp_3m_sde`` with eta = 0."""
    previous: list[tuple[torch.Tensor, float]] = []  # (D, h) of the last two steps, newest first
    for sigma, sigma_next in zip(sigmas, sigmas[1:]):
        d = denoise(x, sigma)
        if sigma_next == 0:
            x = d
            yield x
            continue
        h = math.log(sigma / sigma_next)
        x = (sigma_next / sigma) * x - math.expm1(-h) * d
        phi_2 = math.expm1(-h) / h + 1
        if len(previous) == 2:
            (d_1, h_1), (d_2, h_2) = previous
            r0, r1 = h_1 / h, h_2 / h
            d1_0 = (d - d_1) / r0
            d1_1 = (d_1 - d_2) / r1
            d1 = d1_0 + (d1_0 - d1_1) * (r0 / (r0 + r1))
            d2 = (d1_0 - d1_1) / (r0 + r1)
            x = x + phi_2 * d1 - (phi_2 / h - 0.5) * d2
        elif previous:
            d_1, h_1 = previous[0]
            x = x + phi_2 * ((d - d_1) / (h_1 / h))
        previous = [(d, h), *previous][:2]
        yield x


def sample_consistency(denoise: Denoise, x: torch.Tensor, sigmas: list[float], *,
                       generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Multistep consistency sampling (Song et al. 2023, algorithm 1), for a consistency-distilled
    student whose ``D`` jumps to the end of the path from any level: ``x <- D(x)``, then fresh noise up to
    the next level (``sigma_next``, where the reference adds ``sqrt(sigma_next^2 - sigma_min^2)``). One
    call a step; any other model gets its one-step denoising re-noised."""
    for sigma, sigma_next in zip(sigmas, sigmas[1:]):
        x = denoise(x, sigma)
        if sigma_next > 0:
            x = x + sigma_next * torch.randn(x.shape, generator=generator).to(x.device)
        yield x


class Sampler(NamedTuple):
    run: Callable[..., Iterator[torch.Tensor]]
    description: str
    grid: str | None = None  # a grid this sampler always uses, whatever the config says


SAMPLERS: dict[str, Sampler] = {
    "seed": Sampler(sample_seed, "x <- D(x, sigma) once per level, T..1 (the seed's sampler)", "linear"),
    "euler": Sampler(sample_euler, "deterministic Euler/DDIM step: x <- D + (sigma_next/sigma)(x - D)"),
    "heun": Sampler(sample_heun, "Euler with Heun's 2nd-order correction (EDM), 2K-1 model calls"),
    "stochastic": Sampler(sample_stochastic, "Euler-ancestral: denoise, then re-noise to sigma_next"),
    "dpm2m": Sampler(sample_dpm2m, "DPM-Solver++(2M): second order from the previous step's prediction, 1 call a step"),
    "dpm2m-churn": Sampler(sample_dpm2m_churn, "dpm2m with fresh noise at the low levels (EDM churn), "
                                               "which cleans up stray specks; 1 call a step"),
    "ipndm": Sampler(sample_ipndm, "iPNDM: Adams-Bashforth on the slope (x - D)/sigma, up to 4th order, "
                                   "equal-step coefficients; 1 call a step"),
    "ipndm-v": Sampler(sample_ipndm_v, "iPNDM with the coefficients of the actual (unequal) steps; 1 call a step"),
    "dpm3m": Sampler(sample_dpm3m, "DPM-Solver++(3M): third order from the two previous predictions, 1 call a step"),
    "consistency": Sampler(sample_consistency, "a consistency student's sampler: jump to the clean image, re-noise "
                                               "to the next level; 1 call a step"),
}
assert tuple(SAMPLERS) == SAMPLER_NAMES, "config.SAMPLER_NAMES must list every sampler, in order"


# -- the driver ---------------------------------------------------------------------------------------
def sigma_schedule(config: SamplingConfig) -> list[float]:
    """The K levels a sampler visits, then 0: the config's explicit ``levels`` when it has them."""
    if config.levels is not None:
        return config.schedule() + [0.0]
    grid = SAMPLERS[config.sampler].grid or config.grid
    # The linear and karras grids in torch's float64, as the pinned images were made; each agrees with
    # config.grid_levels to rounding (tests/core/test_noise.py).
    if grid == "linear":
        return [float(s) for s in linear_sigmas(config.steps, config.sigma_max)] + [0.0]
    if grid == "karras":
        return [float(s) for s in karras_sigmas(config.steps, config.sigma_min, config.sigma_max)] + [0.0]
    return grid_levels(grid, config.steps, config.sigma_min, config.sigma_max) + [0.0]


def sampler_options(config: SamplingConfig) -> dict[str, object]:
    """What ``config`` sets for its sampler beyond the shared signature: dpm2m-churn's churn."""
    if config.sampler == "dpm2m-churn":
        return {"churn_levels": config.churn_levels, "churn_gamma": config.churn_gamma}
    return {}


class GuidedDenoiser:
    """``D(x, sigma)`` for a batch of labels, with classifier-free guidance (or autoguidance, when a
    ``guide`` model is given) where the config asks for it; counts the network evaluations per sample
    in ``calls`` (a guide's call counts as one)."""

    def __init__(self, model: torch.nn.Module, labels: torch.Tensor, config: SamplingConfig,
                 guide: torch.nn.Module | None = None):
        self.model = model
        self.guide = guide
        self.labels = labels
        self.null = torch.full_like(labels, getattr(model, "null_label", 10))
        self.guidance = config.guidance
        self.interval = config.guidance_interval
        self.calls = 0

    def guided_at(self, sigma: float) -> bool:
        if self.guidance == 1:
            return False
        return self.interval is None or self.interval[0] <= sigma <= self.interval[1]

    def __call__(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        level = torch.full((1, 1, 1, 1), sigma, device=x.device)
        if not self.guided_at(sigma):
            self.calls += 1
            return self.model(x, level, self.labels).float()
        if guided_in_one_call(getattr(self.model, "takes_guidance", False), self.guide):
            self.calls += 1
            return self.model(x, level, self.labels, guidance=self.guidance).float()
        self.calls += 2
        if self.guide is not None:
            cond = self.model(x, level, self.labels).float()
            weak = self.guide(x, level, self.labels).float()
            return weak + self.guidance * (cond - weak)
        both = self.model(torch.cat([x, x]), level, torch.cat([self.labels, self.null])).float()
        cond, uncond = both.chunk(2)
        return uncond + self.guidance * (cond - uncond)


CPU_CHUNK = 64  # samples per chunk on a CPU: the fastest chunk size benchmarks/bulk_sampling.py found (docs/architecture.md)


def chunk_bounds(count: int, chunk_size: int | None) -> list[tuple[int, int]]:
    """``[start, end)`` of each chunk of ``count`` samples; one chunk when ``chunk_size`` is None or 0."""
    size = chunk_size if chunk_size else max(count, 1)
    return [(start, min(start + size, count)) for start in range(0, count, size)] or [(0, 0)]


def sample(model: torch.nn.Module, labels: Sequence[int] | torch.Tensor, config: SamplingConfig, *,
           seed: int = 0, sigma_data: float = SIGMA_DATA, chunk_size: int | None = -1,
           guide: torch.nn.Module | None = None) -> Iterator[SampleStep]:
    """Yield the K + 1 frames of denoising ``len(labels)`` samples as ``config`` says (with ``guide``:
    its guidance is autoguidance by that model, which must be in eval mode on the model's device).

    ``model`` must be in eval mode (sample from a copy, never from a module a trainer is updating); it
    is used as it is, on its own device and memory layout. The starting noise comes from a CPU
    generator seeded with ``seed``, so a seed gives the same trajectory on any device.

    A large batch is denoised in chunks of ``chunk_size`` samples (default -1: :data:`CPU_CHUNK` on a
    CPU, one chunk on a GPU; None or 0: one chunk), each step run chunk by chunk: a chunk's activations
    stay in the cache and the allocator reuses its blocks, where one large batch spends much of its time
    in the kernel mapping fresh memory (docs/architecture.md, "Figures behind code choices"). Results
    equal one chunk's: all starting noise is drawn
    first, and the stochastic sampler's per-step noise is drawn chunk after chunk in sample order, which
    is the same stream (tests/core/test_sampling.py checks it bit for bit).
    """
    config.validate()
    labels_t = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    generator = torch.Generator().manual_seed(int(seed))
    start_std = config.sigma_max if config.start == "pure" else math.sqrt(config.sigma_max**2 + sigma_data**2)
    x = torch.randn((labels_t.shape[0], 1, 28, 28), generator=generator) * start_std
    yield from drive(model, labels_t, config, x=x, sigmas=sigma_schedule(config), generator=generator,
                     chunk_size=chunk_size, guide=guide)


def drive(model: torch.nn.Module, labels: Sequence[int] | torch.Tensor, config: SamplingConfig, *,
          x: torch.Tensor, sigmas: list[float], generator: torch.Generator,
          hook: Callable[[int, torch.Tensor, float], torch.Tensor] | None = None,
          chunk_size: int | None = -1, guide: torch.nn.Module | None = None) -> Iterator[SampleStep]:
    """The driver: run ``config.sampler`` from ``x`` at ``sigmas[0]`` down ``sigmas`` (ending at 0) and
    yield every frame (``len(sigmas)`` of them), chunk by chunk as :func:`sample` says. :func:`sample`
    starts it from pure noise over the whole schedule; the playground starts it from a noised drawing
    over the levels below its sigma (SDEdit).

    ``hook(k, x, sigma)``, when given, returns the whole batch to go on from after step k, at ``sigma``
    (inpainting puts the known pixels back); it is written into each chunk's own tensor, since every
    sampler goes on from the tensor it yields.
    """
    config.validate()
    if model.training or (guide is not None and guide.training):
        raise RuntimeError("sample() needs a model in eval mode: sample from an eval copy, not the training module")
    device = next(model.parameters()).device
    if device.type == "cpu":
        cpu_threads()
    if chunk_size == -1:
        chunk_size = CPU_CHUNK if device.type == "cpu" else None
    labels_t = torch.as_tensor(labels, dtype=torch.long).reshape(-1).to(device)
    x = x.to(device)
    bounds = chunk_bounds(labels_t.shape[0], chunk_size)
    denoisers = [GuidedDenoiser(model, labels_t[a:b], config, guide) for a, b in bounds]
    options = sampler_options(config)
    trajectories = [SAMPLERS[config.sampler].run(d, x[a:b], sigmas, generator=generator, **options)
                    for d, (a, b) in zip(denoisers, bounds)]
    total = len(sigmas) - 1
    yield SampleStep(0, total, sigmas[0], x.detach().float().cpu(), 0)
    for k in range(total):
        with torch.inference_mode():
            parts = [next(t) for t in trajectories]
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
            if hook is not None:
                x = hook(k + 1, x, sigmas[k + 1])
                for part, (a, b) in zip(parts, bounds):
                    part.copy_(x[a:b])
        yield SampleStep(k + 1, total, sigmas[k + 1], x.detach().float().cpu(), denoisers[0].calls)


def final_images(steps: Iterator[SampleStep]) -> torch.Tensor:
    """Run a sampler to the end and return only the last frame's images."""
    last = None
    for last in steps:
        pass
    assert last is not None
    return last.images

"""Noise levels: what training draws and which levels a sampler visits.

Images live in [-1, 1] and ``noisy = clean + sigma * N(0, 1)``. The seed recipe uses T discrete
levels sigma_t = t/T (t = 1..T), one per batch, so it never sees sigma > 1 and never pure noise. The
original recipe keeps one step t of T per batch but places t/T on a log scale from sigma_min to
sigma_max (``TrainConfig.levels``), so its top level is pure noise. The EDM recipe draws a
log-normal sigma per sample (reaching far beyond 1) and weights the loss by
``(sigma^2 + sigma_data^2) / (sigma * sigma_data)^2`` (Karras et al. 2022).
"""

from __future__ import annotations

import torch

from tui_denoiser.core.config import PER_BATCH, TrainConfig, grid_levels


def training_sigmas(cfg: TrainConfig, batch: int, *, device: torch.device | str,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """One noise level per sample, shape (batch,), drawn as ``cfg.noise`` says."""
    levels = cfg.levels()
    if levels is not None:
        per_batch = cfg.noise in PER_BATCH
        draws = 1 if per_batch else batch
        if cfg.level_draw == "uniform":
            t = torch.randint(0, cfg.noise_levels, (draws,), device=device, generator=generator)
        else:
            probs = level_probabilities(cfg).to(device)
            t = torch.multinomial(probs, draws, replacement=True, generator=generator)
        sigma = torch.tensor(levels, dtype=torch.float32, device=device)[t]
        if cfg.level_spread:
            sigma = _spread_within_gaps(cfg, levels, sigma, generator)
        return sigma.expand(batch) if per_batch else sigma
    if cfg.noise == "continuous":
        u = torch.rand((batch,), device=device, generator=generator)
        return (1.0 - u) * cfg.sigma_max  # (0, sigma_max]
    if cfg.noise == "edm":
        n = torch.randn((batch,), device=device, generator=generator)
        return (n * cfg.p_std + cfg.p_mean).exp()
    raise ValueError(f"unknown noise mode {cfg.noise!r}")


def _spread_within_gaps(cfg: TrainConfig, levels: list[float], sigma: torch.Tensor,
                        generator: torch.Generator | None) -> torch.Tensor:
    """Each drawn level moved by up to half of ``cfg.level_spread`` of the gap to its neighbours (in log sigma
    on the geometric grid, in sigma on t/T's), so training also covers the levels in between: a model that
    only ever saw the T levels themselves denoises worse between them, where a user's noise may lie."""
    if len(levels) < 2:
        return sigma
    offset = (torch.rand(sigma.shape, device=sigma.device, generator=generator) - 0.5) * cfg.level_spread
    if cfg.noise.startswith("geometric"):
        return sigma * (levels[1] / levels[0]) ** offset
    return (sigma + offset * (levels[1] - levels[0])).clamp_min(levels[0] / 2)


def level_probabilities(cfg: TrainConfig) -> torch.Tensor:
    """How often each of the T training levels (ascending) is drawn: evenly ("uniform"), or half evenly
    and half in proportion to EDM's log-normal density of log sigma ("log-normal"), so the middle levels
    train more often while the top level, where sampling starts, still trains."""
    levels = cfg.levels()
    if levels is None:
        raise ValueError(f"noise mode {cfg.noise!r} has no discrete levels")
    even = torch.full((len(levels),), 1.0 / len(levels), dtype=torch.float64)
    if cfg.level_draw == "uniform":
        return even
    z = (torch.tensor(levels, dtype=torch.float64).log() - cfg.p_mean) / cfg.p_std
    density = torch.exp(-0.5 * z * z)
    return 0.5 * even + 0.5 * density / density.sum()


def loss_weights(cfg: TrainConfig, sigma: torch.Tensor, sigma_data: float) -> torch.Tensor | None:
    """Per-sample weights of the MSE to the clean image: EDM's, which make each level's error count
    alike, for the edm and geometric (original recipe) modes; None, the plain MSE, for the seed's."""
    if cfg.noise not in ("edm", "geometric-batch", "geometric"):
        return None
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def linear_sigmas(steps: int, sigma_max: float) -> torch.Tensor:
    """``sigma_max * k/K`` for k = K..1: the seed sampler's levels (t/T when K = T)."""
    return torch.arange(steps, 0, -1, dtype=torch.float64) * (sigma_max / steps)


def karras_sigmas(steps: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """EDM's step discretisation from sigma_max down to sigma_min (K levels), denser near zero."""
    if steps == 1:
        return torch.tensor([sigma_max], dtype=torch.float64)
    ramp = torch.linspace(0, 1, steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return (hi + ramp * (lo - hi)) ** rho

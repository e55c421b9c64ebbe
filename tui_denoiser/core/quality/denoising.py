"""Denoising PSNR: how well one model call restores real test digits at each noise level.

On real test digits at noise levels 0.1 .. 1.0, one model call ``model(clean + sigma * n, sigma, label)``,
beside the noisy input and the best Gaussian blur (blur sigma picked per level from a small grid on the
same images). PSNR: clamp to [-1, 1], map to [0, 1], ``10 log10(1 / MSE)`` per image, averaged over
images. ``eval`` reports it below the sample-quality figures (:mod:`tui_denoiser.core.quality.evaluate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch.nn import functional as F

from tui_denoiser.core.data import to_model_range

PSNR_LEVELS: tuple[float, ...] = tuple(t / 10 for t in range(1, 11))  # sigma = t/T, T = 10
BLUR_SIGMAS: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9, 1.1, 1.4, 1.8, 2.3, 3.0)
MAX_PIXEL_PSNR_DB = 100.0  # a perfect reconstruction (MSE 0) counts as 100 dB


@dataclass
class PsnrRow:
    """Mean PSNR (dB) at one noise level: the noisy input, the best Gaussian blur and the model."""

    sigma: float
    noisy_db: float
    blur_db: float
    blur_sigma: float
    model_db: float


def psnr(images: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of [-1, 1] images against ``clean``: clamp, map to [0, 1], ``10 log10(1/MSE)``."""
    a = (images.detach().float().clamp(-1, 1) + 1) / 2
    b = (clean.detach().float().clamp(-1, 1) + 1) / 2
    mse = (a - b).pow(2).flatten(1).mean(1)
    floor = 10 ** (-MAX_PIXEL_PSNR_DB / 10)
    return -10 * torch.log10(mse.clamp_min(floor))


def blur_kernel_size(sigma: float) -> int:
    """``2 ceil(3 sigma) + 1`` pixels, at most 27 (the reflect padding must stay inside a 28-pixel image)."""
    return min(2 * math.ceil(3 * sigma) + 1, 27)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (B,1,H,W) images, equal to torchvision's ``gaussian_blur`` with a kernel of
    :func:`blur_kernel_size` pixels (same 1-D kernel, reflect padding), done as two 1-D convolutions:
    torchvision convolves with the full 2-D kernel, ten times the work at the larger sigmas."""
    size = blur_kernel_size(sigma)
    half = (size - 1) * 0.5
    x = torch.linspace(-half, half, steps=size, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / sigma).pow(2))
    k = (k / k.sum()).to(images.device, images.dtype)
    pad = size // 2
    out = F.pad(images, (pad, pad, pad, pad), mode="reflect")
    out = F.conv2d(out, k.view(1, 1, 1, size))
    return F.conv2d(out, k.view(1, 1, size, 1))


@torch.no_grad()
def denoising_psnr(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, *, count: int = 1000,
                   levels: Sequence[float] = PSNR_LEVELS, seed: int = 0, batch_size: int = 500,
                   blur_sigmas: Sequence[float] = BLUR_SIGMAS,
                   progress: Callable[[int, int], None] | None = None) -> list[PsnrRow]:
    """Mean PSNR at each noise level of the noisy input, the best blur and one call of ``model``.

    Uses the first ``count`` of ``images`` (uint8) and a noise draw seeded with ``seed`` per level.
    ``model`` must be in eval mode.
    """
    if count <= 0 or not levels:
        return []
    if model.training:
        raise RuntimeError("denoising_psnr() needs a model in eval mode")
    device = next(model.parameters()).device
    clean_all = to_model_range(images[:count].cpu())
    labels_all = labels[:count].cpu().long()
    m = clean_all.shape[0]
    rows: list[PsnrRow] = []
    for i, sigma in enumerate(levels):
        gen = torch.Generator().manual_seed(int(seed) * 1000 + i)
        noisy_all = clean_all + float(sigma) * torch.randn(clean_all.shape, generator=gen)
        noisy_db = float(psnr(noisy_all, clean_all).mean())
        blur_best, blur_sigma = -math.inf, 0.0
        for bs in blur_sigmas:
            db = float(psnr(gaussian_blur(noisy_all, bs), clean_all).mean())
            if db > blur_best:
                blur_best, blur_sigma = db, float(bs)
        model_db = []
        level = torch.full((1, 1, 1, 1), float(sigma), device=device)
        with torch.inference_mode():
            for start in range(0, m, batch_size):
                noisy = noisy_all[start:start + batch_size].to(device)
                pred = model(noisy, level, labels_all[start:start + batch_size].to(device)).float().cpu()
                model_db.append(psnr(torch.nan_to_num(pred), clean_all[start:start + batch_size]))
        rows.append(PsnrRow(float(sigma), noisy_db, blur_best, blur_sigma, float(torch.cat(model_db).mean())))
        if progress is not None:
            progress(i + 1, len(levels))
    return rows

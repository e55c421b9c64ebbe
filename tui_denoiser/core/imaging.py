"""Tensors -> uint8 arrays and pictures: grids, step strips, GIF animations (pillow, torchvision)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

SUFFIXES = (".png", ".gif", ".npy")


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Model-range images ((B,1,H,W) or (B,H,W), about [-1, 1]) -> uint8 (B,H,W); 0 = background."""
    t = torch.as_tensor(images).detach().float().cpu()
    if t.ndim == 4:
        t = t[:, 0]
    if t.ndim == 2:
        t = t[None]
    return ((t + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()


def to_pil(image: np.ndarray, scale: int = 1) -> Image.Image:
    """One uint8 (H,W) image -> greyscale PIL image, enlarged ``scale`` times (nearest neighbour)."""
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), mode="L")
    if scale > 1:
        pil = pil.resize((pil.width * scale, pil.height * scale), Image.NEAREST)
    return pil


def make_grid(images: np.ndarray, nrow: int = 10, padding: int = 2, scale: int = 1) -> Image.Image:
    """uint8 (B,H,W) -> one picture, ``nrow`` images a row (torchvision's grid layout)."""
    from torchvision.utils import make_grid as tv_grid

    t = torch.from_numpy(np.asarray(images, dtype=np.uint8))[:, None]
    grid = tv_grid(t, nrow=max(1, nrow), padding=padding, pad_value=64)
    return to_pil(grid[0].numpy(), scale)


def step_strip(frames: Sequence[np.ndarray], padding: int = 2, scale: int = 1) -> Image.Image:
    """Frames (each uint8 (B,H,W)) -> one row per sample, one column per step."""
    stacked = np.stack(list(frames), axis=1)  # (B, steps, H, W)
    b, s = stacked.shape[:2]
    return make_grid(stacked.reshape(b * s, *stacked.shape[2:]), nrow=s, padding=padding, scale=scale)


def save_gif(frames: Sequence[np.ndarray], path: str | Path, *, duration_ms: int = 120, hold_ms: int = 1000,
             scale: int = 4) -> Path:
    """Animated GIF of the steps: each frame a grid of the batch; the last frame is held longer."""
    pictures = [make_grid(f, nrow=min(len(f), 10), scale=scale) for f in frames]
    durations = [duration_ms] * (len(pictures) - 1) + [hold_ms]
    path = Path(path)
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=durations, loop=0, optimize=False)
    return path


def save_images(frames: Sequence[np.ndarray], path: str | Path, *, strip: bool = False) -> Path:
    """Write a trajectory by suffix: .png the final grid (``strip``: every step), .gif, .npy (N,28,28)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        picture = step_strip(frames) if strip else make_grid(frames[-1], nrow=min(len(frames[-1]), 10))
        picture.save(path)
    elif suffix == ".gif":
        save_gif(frames, path)
    elif suffix == ".npy":
        np.save(path, np.asarray(frames[-1], dtype=np.uint8))
    else:
        raise ValueError(f"unknown suffix {suffix!r}")
    return path

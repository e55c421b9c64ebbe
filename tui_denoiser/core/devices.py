"""Which torch device runs a job: training, sampling and evaluation all pick it the same way."""

from __future__ import annotations

import torch

from tui_denoiser.core.errors import UserError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def pick_device(requested: str = "auto") -> torch.device:
    """cuda > mps > cpu for "auto"; a named device that is absent is a one-line UserError."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise UserError("{field} cuda was asked for, but no CUDA GPU is available here", field="device", value="cuda")
    if requested == "mps" and not _mps_available():
        raise UserError("{field} mps was asked for, but Apple's MPS is not available here", field="device", value="mps")
    return torch.device(requested)


def device_name(device: torch.device) -> str:
    """The GPU's name, else the device type."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type

"""The class-conditional CNN denoiser: noisy image + noise level + digit label -> clean image.

Layout (the original design, widths from :class:`ModelConfig`)::

    label --Embedding(64)--+
                           +--MLP--> cond vector --FiLM (per-channel scale, shift) into every block
    noise level --Fourier--+
    noisy 28x28 -> Conv+Norm+ReLU (28) -> Conv s2 (14) -> Conv s2 (7)
                -> ConvT s2 (14) -> ConvT s2 (28) -> Conv 3x3 -> 1 channel

How the conditioning enters: the 64-d label embedding and Fourier features of the noise level are
mixed by a small MLP into one vector; each conv block adds a per-channel scale and shift from it after
its normalisation (FiLM), so both the digit and the noise level reach every resolution.

Options beside the original (all off in the original recipe): U-Net skip connections, residual
blocks at 14x14 and 7x7, GroupNorm instead of BatchNorm (BatchNorm mixes noise levels across the batch and makes
train/eval mode matter), and EDM preconditioning: ``D(x) = c_skip x + c_out F(c_in x, c_noise)``,
which carries the input to the output so lightly noised images stay intact.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from tui_denoiser.core.config import ModelConfig

NOISE_FEATURES = 16


def _norm(kind: str, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.GroupNorm(8, channels)


class FiLMBlock(nn.Module):
    """(Transposed) conv -> norm -> FiLM from the conditioning vector -> ReLU (no FiLM when
    ``cond_dim`` is 0: the plain block of the "planes" conditioning)."""

    def __init__(self, cin: int, cout: int, cond_dim: int, norm: str, *, kernel: int = 3, stride: int = 1,
                 transposed: bool = False):
        super().__init__()
        padding = 1
        if transposed:
            self.conv: nn.Module = nn.ConvTranspose2d(cin, cout, kernel, stride, padding)
        else:
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.norm = _norm(norm, cout)
        self.film = nn.Linear(cond_dim, 2 * cout) if cond_dim else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        h = self.norm(self.conv(x))
        if self.film is None:
            return F.relu(h)
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        return F.relu(h * (1 + scale) + shift)


class ResBlock(nn.Module):
    """Two 3x3 FiLM blocks with an identity path (used only when ``res_blocks > 0``)."""

    def __init__(self, channels: int, cond_dim: int, norm: str):
        super().__init__()
        self.a = FiLMBlock(channels, channels, cond_dim, norm)
        self.b = FiLMBlock(channels, channels, cond_dim, norm)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        return x + self.b(self.a(x, cond), cond)


class _Stage(nn.Module):
    """One block followed by ``res_blocks`` residual blocks at the same resolution."""

    def __init__(self, first: FiLMBlock, channels: int, cond_dim: int, norm: str, res_blocks: int):
        super().__init__()
        self.first = first
        self.res = nn.ModuleList(ResBlock(channels, cond_dim, norm) for _ in range(res_blocks))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        x = self.first(x, cond)
        for block in self.res:
            x = block(x, cond)
        return x


class ConditionalDenoiser(nn.Module):
    """Predicts the clean image from ``(noisy, noise_level, labels)``; see the module docstring."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        config = config or ModelConfig()
        config.validate()
        self.config = config
        c1, c2, c3 = config.channels
        e, n, r = config.embed_dim, config.norm, config.res_blocks
        planes = config.conditioning == "planes"
        cond_dim = 0 if planes else 2 * e
        # One extra row: the "null" label used for classifier-free guidance.
        self.label_embedding = nn.Embedding(config.num_classes + 1, e)
        if planes:  # the label as a learned 28x28 input plane; the level as a constant plane beside it
            self.label_plane = nn.Linear(e, 28 * 28)
        else:
            self.cond_mlp = nn.Sequential(nn.Linear(e + NOISE_FEATURES, cond_dim), nn.SiLU(),
                                          nn.Linear(cond_dim, cond_dim))
        self.register_buffer("noise_freqs", torch.exp(torch.linspace(0.0, math.log(64.0), NOISE_FEATURES // 2)),
                             persistent=False)
        # Residual blocks sit at 14x14 and 7x7 only: capacity where it is cheap, so CPU sampling stays fast.
        self.enc1 = _Stage(FiLMBlock(3 if planes else 1, c1, cond_dim, n), c1, cond_dim, n, 0)
        self.enc2 = _Stage(FiLMBlock(c1, c2, cond_dim, n, kernel=4, stride=2), c2, cond_dim, n, r)
        self.enc3 = _Stage(FiLMBlock(c2, c3, cond_dim, n, kernel=4, stride=2), c3, cond_dim, n, r)
        skip = config.skip_connections
        self.dec2 = _Stage(FiLMBlock(c3, c2, cond_dim, n, kernel=4, stride=2, transposed=True), c2, cond_dim, n, r)
        self.dec1 = _Stage(FiLMBlock(c2 * (2 if skip else 1), c1, cond_dim, n, kernel=4, stride=2, transposed=True),
                           c1, cond_dim, n, 0)
        self.out = nn.Conv2d(c1 * (2 if skip else 1), 1, 3, padding=1)

    @property
    def null_label(self) -> int:
        return self.config.num_classes

    def _noise_features(self, c_noise: torch.Tensor) -> torch.Tensor:
        angles = c_noise[:, None] * self.noise_freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    def embed_labels(self, labels: torch.Tensor) -> torch.Tensor:
        """Label embeddings: integer labels (B,) look up their row (the null label included); float
        ``labels`` (B, num_classes + 1) are mixing weights over the rows (a one-hot row gives exactly
        that label's embedding), which is how the playground morphs one digit into another."""
        if labels.is_floating_point():
            return labels.to(self.label_embedding.weight.dtype) @ self.label_embedding.weight
        return self.label_embedding(labels)

    def network(self, x: torch.Tensor, c_noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The raw network F: conv encoder/decoder conditioned on the label and ``c_noise``."""
        if self.config.conditioning == "planes":
            label_plane = self.label_plane(self.embed_labels(labels)).reshape(-1, 1, 28, 28).to(x.dtype)
            level_plane = c_noise.to(x.dtype)[:, None, None, None].expand(-1, 1, 28, 28)
            x, cond = torch.cat([x, label_plane, level_plane], dim=1), None
        else:
            cond = torch.cat([self.embed_labels(labels), self._noise_features(c_noise).to(x.dtype)], dim=1)
            cond = self.cond_mlp(cond)
        h1 = self.enc1(x, cond)
        h2 = self.enc2(h1, cond)
        h = self.enc3(h2, cond)
        h = self.dec2(h, cond)
        if self.config.skip_connections:
            h = torch.cat([h, h2], dim=1)
        h = self.dec1(h, cond)
        if self.config.skip_connections:
            h = torch.cat([h, h1], dim=1)
        return self.out(h)

    def forward(self, noisy: torch.Tensor, noise_level: torch.Tensor | float, labels: torch.Tensor) -> torch.Tensor:
        batch = noisy.shape[0]
        sigma = torch.as_tensor(noise_level, dtype=torch.float32, device=noisy.device).reshape(-1)
        if sigma.numel() == 1:
            sigma = sigma.expand(batch)
        if sigma.numel() != batch:
            raise ValueError(f"noise_level has {sigma.numel()} values for a batch of {batch}")
        labels = labels.to(noisy.device)
        labels = labels.reshape(batch, -1) if labels.is_floating_point() else labels.reshape(-1)
        if self.config.parameterization == "direct":
            return self.network(noisy, sigma, labels)
        # EDM preconditioning (Karras et al. 2022, table 1).
        sd = self.config.sigma_data
        s = sigma.clamp_min(1e-8)[:, None, None, None]
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        c_in = 1 / (s**2 + sd**2).sqrt()
        c_noise = sigma.clamp_min(1e-8).log() / 4
        f = self.network((c_in * noisy).to(noisy.dtype), c_noise, labels)
        return c_skip * noisy + c_out * f.float()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

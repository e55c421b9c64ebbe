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
from typing import Callable, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from tui_denoiser.core.config import ModelConfig

NOISE_FEATURES = 16
GUIDANCE_FEATURES = 8  # Fourier features of w - 1 for a guidance-distilled student (ModelConfig.guidance_input)


class Cond(NamedTuple):
    """What every block is conditioned on: the FiLM vector (None with input planes) and, for
    level-wise BatchNorm, each sample's position on the training levels (None otherwise)."""

    vector: torch.Tensor | None
    level_position: torch.Tensor | None


class LevelBatchNorm2d(nn.Module):
    """BatchNorm whose running statistics are kept per training noise level.

    The original recipe draws one noise level per batch, so each training batch is normalised with the
    statistics of one level. Plain BatchNorm then keeps running averages over whichever levels came last,
    and in eval mode normalises every level with them: the network sees statistics it never trained
    with. Here eval mode normalises a sample at level t with level t's own running statistics (between
    two training levels: interpolated in log sigma), which is what the training batches at t used.
    """

    def __init__(self, channels: int, levels: int, eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("level_mean", torch.zeros(levels, channels))
        self.register_buffer("level_var", torch.ones(levels, channels))

    def forward(self, x: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        if self.training:
            rows = position.round().long()
            row = int(rows[0])
            if bool((rows != row).any()):
                raise ValueError("level-wise BatchNorm trains on one noise level per batch")
            # F.batch_norm updates the running statistics it is given in place: this level's row.
            return F.batch_norm(x, self.level_mean[row], self.level_var[row], self.weight, self.bias, True,
                                self.momentum, self.eps)
        lo = position.floor().long().clamp(0, self.level_mean.shape[0] - 1)
        hi = (lo + 1).clamp(max=self.level_mean.shape[0] - 1)
        frac = (position - lo.to(position.dtype)).clamp(0, 1)[:, None]
        mean = torch.lerp(self.level_mean[lo], self.level_mean[hi], frac)
        var = torch.lerp(self.level_var[lo], self.level_var[hi], frac)
        if bool((position == position[0]).all()):  # one level (every sampler step): the fused kernel
            return F.batch_norm(x, mean[0], var[0], self.weight, self.bias, False, 0.0, self.eps)
        scale = self.weight[None, :] * (var + self.eps).rsqrt()
        shift = self.bias[None, :] - mean * scale
        return x * scale[:, :, None, None].to(x.dtype) + shift[:, :, None, None].to(x.dtype)


def _norm(kind: str, channels: int, levels: int) -> nn.Module:
    if kind == "group":
        return nn.GroupNorm(8, channels)
    return LevelBatchNorm2d(channels, levels) if levels else nn.BatchNorm2d(channels)


class FiLMBlock(nn.Module):
    """(Transposed) conv -> norm -> FiLM from the conditioning vector -> ReLU (no FiLM when
    ``cond_dim`` is 0: the plain block of the "planes" conditioning)."""

    def __init__(self, cin: int, cout: int, cond_dim: int, norm: str, *, kernel: int = 3, stride: int = 1,
                 transposed: bool = False, levels: int = 0):
        super().__init__()
        padding = 1
        if transposed:
            self.conv: nn.Module = nn.ConvTranspose2d(cin, cout, kernel, stride, padding)
        else:
            self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.norm = _norm(norm, cout, levels)
        self.film = nn.Linear(cond_dim, 2 * cout) if cond_dim else None

    def forward(self, x: torch.Tensor, cond: Cond) -> torch.Tensor:
        h = self.conv(x)
        h = self.norm(h, cond.level_position) if isinstance(self.norm, LevelBatchNorm2d) else self.norm(h)
        if self.film is None:
            return F.relu(h)
        scale, shift = self.film(cond.vector)[:, :, None, None].chunk(2, dim=1)
        return F.relu(h * (1 + scale) + shift)


class ResBlock(nn.Module):
    """Two 3x3 FiLM blocks with an identity path (used only when ``res_blocks > 0``)."""

    def __init__(self, channels: int, cond_dim: int, norm: str, levels: int = 0):
        super().__init__()
        self.a = FiLMBlock(channels, channels, cond_dim, norm, levels=levels)
        self.b = FiLMBlock(channels, channels, cond_dim, norm, levels=levels)

    def forward(self, x: torch.Tensor, cond: Cond) -> torch.Tensor:
        return x + self.b(self.a(x, cond), cond)


class _Stage(nn.Module):
    """One block followed by ``res_blocks`` residual blocks at the same resolution."""

    def __init__(self, first: FiLMBlock, channels: int, cond_dim: int, norm: str, res_blocks: int, levels: int = 0):
        super().__init__()
        self.first = first
        self.res = nn.ModuleList(ResBlock(channels, cond_dim, norm, levels) for _ in range(res_blocks))

    def forward(self, x: torch.Tensor, cond: Cond) -> torch.Tensor:
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
        planes = "planes" in config.conditioning
        film = "film" in config.conditioning
        cond_dim = 2 * e if film else 0
        # One extra row: the "null" label used for classifier-free guidance.
        self.label_embedding = nn.Embedding(config.num_classes + 1, e)
        if planes:  # the label as a learned 28x28 input plane; the level as a constant plane beside it
            self.label_plane = nn.Linear(e, 28 * 28)
        if film:
            extra = GUIDANCE_FEATURES if config.guidance_input else 0
            self.cond_mlp = nn.Sequential(nn.Linear(e + NOISE_FEATURES + extra, cond_dim), nn.SiLU(),
                                          nn.Linear(cond_dim, cond_dim))
        self.register_buffer("noise_freqs", torch.exp(torch.linspace(0.0, math.log(64.0), NOISE_FEATURES // 2)),
                             persistent=False)
        if config.guidance_input:  # w runs over a few units only: low frequencies
            self.register_buffer("guidance_freqs", torch.exp(torch.linspace(0.0, math.log(8.0),
                                                                            GUIDANCE_FEATURES // 2)),
                                 persistent=False)
        # Residual blocks sit at 14x14 and 7x7 only: capacity where it is cheap, so CPU sampling stays fast.
        lv = config.norm_levels
        if lv:  # the training levels' sigmas, ascending: set by the trainer, saved with the weights
            self.register_buffer("norm_sigmas", torch.ones(lv))
        self.enc1 = _Stage(FiLMBlock(3 if planes else 1, c1, cond_dim, n, levels=lv), c1, cond_dim, n, 0, lv)
        self.enc2 = _Stage(FiLMBlock(c1, c2, cond_dim, n, kernel=4, stride=2, levels=lv), c2, cond_dim, n, r, lv)
        self.enc3 = _Stage(FiLMBlock(c2, c3, cond_dim, n, kernel=4, stride=2, levels=lv), c3, cond_dim, n, r, lv)
        skip = config.skip_connections
        self.dec2 = _Stage(FiLMBlock(c3, c2, cond_dim, n, kernel=4, stride=2, transposed=True, levels=lv), c2,
                           cond_dim, n, r, lv)
        self.dec1 = _Stage(FiLMBlock(c2 * (2 if skip else 1), c1, cond_dim, n, kernel=4, stride=2, transposed=True,
                                     levels=lv), c1, cond_dim, n, 0, lv)
        self.out = nn.Conv2d(c1 * (2 if skip else 1), 1, 3, padding=1)

    @property
    def null_label(self) -> int:
        return self.config.num_classes

    def set_norm_levels(self, sigmas: torch.Tensor) -> None:
        """Tell level-wise BatchNorm which sigma each of its rows belongs to (ascending)."""
        self.norm_sigmas.copy_(torch.as_tensor(sigmas, dtype=torch.float32).sort().values)

    @torch.no_grad()
    def recalibrate_norms(self, draw_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]], *,
                          batches_per_level: int = 4, generator: torch.Generator | None = None) -> None:
        """Recompute level-wise BatchNorm's statistics with the current weights (a no-op without it).

        Each level's row is updated only by the batches drawn at that level, one in T, so its running
        average spans hundreds of optimizer steps of older weights, and eval mode then normalises with
        statistics the current network never produced (eval loss several times the training loss).
        Here every level sees ``batches_per_level`` fresh batches of ``draw_batch()`` (clean images in
        the model's range and layout, labels) noised to that level, averaged evenly, in fp32 as sampling
        runs."""
        norms = [m for m in self.modules() if isinstance(m, LevelBatchNorm2d)]
        if not norms:
            return
        was_training = self.training
        momenta = [m.momentum for m in norms]
        self.train()
        try:
            for level in self.norm_sigmas.tolist():
                for k in range(batches_per_level):
                    for m in norms:
                        m.momentum = 1.0 / (k + 1)  # a cumulative average: the first batch replaces the row
                    clean, labels = draw_batch()
                    noise = torch.randn(clean.shape, device=clean.device, generator=generator)
                    sigma = torch.full((clean.shape[0],), level, device=clean.device)
                    self(clean + level * noise, sigma, labels)
        finally:
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
            self.train(was_training)

    def level_position(self, sigma: torch.Tensor) -> torch.Tensor | None:
        """Each sample's fractional row on the training levels, linear in log sigma; None without them."""
        if not self.config.norm_levels:
            return None
        logs = self.norm_sigmas.log()
        s = sigma.float().clamp_min(1e-8).log().clamp(logs[0], logs[-1])
        if logs.shape[0] == 1:
            return torch.zeros_like(s)
        lo = torch.searchsorted(logs, s).clamp(1, logs.shape[0] - 1) - 1
        return lo.float() + (s - logs[lo]) / (logs[lo + 1] - logs[lo]).clamp_min(1e-12)

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

    def _guidance_features(self, guidance: torch.Tensor) -> torch.Tensor:
        angles = (guidance - 1)[:, None] * self.guidance_freqs[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    def network(self, x: torch.Tensor, c_noise: torch.Tensor, labels: torch.Tensor,
                sigma: torch.Tensor | None = None, guidance: torch.Tensor | None = None) -> torch.Tensor:
        """The raw network F: conv encoder/decoder conditioned on the label and ``c_noise`` (``sigma``
        places level-wise BatchNorm; it defaults to ``c_noise``, which is sigma for direct models).
        ``guidance`` (B,): the weight w a guidance-distilled student is asked for (None: 1)."""
        position = self.level_position(c_noise if sigma is None else sigma)
        embedding = self.embed_labels(labels)
        vector = None
        if "film" in self.config.conditioning:
            parts = [embedding, self._noise_features(c_noise).to(x.dtype)]
            if self.config.guidance_input:
                w = torch.ones_like(c_noise) if guidance is None else guidance.to(c_noise)
                parts.append(self._guidance_features(w).to(x.dtype))
            vector = self.cond_mlp(torch.cat(parts, dim=1))
        if "planes" in self.config.conditioning:
            label_plane = self.label_plane(embedding).reshape(-1, 1, 28, 28).to(x.dtype)
            level_plane = c_noise.to(x.dtype)[:, None, None, None].expand(-1, 1, 28, 28)
            x = torch.cat([x, label_plane, level_plane], dim=1)
        cond = Cond(vector, position)
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

    @property
    def takes_guidance(self) -> bool:
        """Whether one call of this model does classifier-free guidance itself (``forward(guidance=w)``)."""
        return self.config.guidance_input

    def forward(self, noisy: torch.Tensor, noise_level: torch.Tensor | float, labels: torch.Tensor,
                guidance: torch.Tensor | float | None = None) -> torch.Tensor:
        """``D(noisy; noise_level, labels)``; ``guidance``: the weight w for a guidance-distilled
        student (ignored by other models, which guide with two calls in the sampler)."""
        batch = noisy.shape[0]
        sigma = self._per_sample(noise_level, batch, noisy.device, "noise_level")
        w = self._per_sample(guidance, batch, noisy.device, "guidance") if guidance is not None else None
        labels = labels.to(noisy.device)
        labels = labels.reshape(batch, -1) if labels.is_floating_point() else labels.reshape(-1)
        if self.config.parameterization == "direct":
            return self.network(noisy, sigma, labels, guidance=w)
        # EDM's input and noise scaling (Karras et al. 2022, table 1): unit-variance input at every level.
        sd = self.config.sigma_data
        s = sigma.clamp_min(1e-8)[:, None, None, None]
        c_in = 1 / (s**2 + sd**2).sqrt()
        c_noise = sigma.clamp_min(1e-8).log() / 4
        f = self.network((c_in * noisy).to(noisy.dtype), c_noise, labels, sigma, guidance=w)
        if self.config.parameterization == "scaled":  # the network's output is the clean image itself
            return f
        c_skip = sd**2 / (s**2 + sd**2)
        c_out = s * sd / (s**2 + sd**2).sqrt()
        return c_skip * noisy + c_out * f.float()


    @staticmethod
    def _per_sample(value: torch.Tensor | float, batch: int, device: torch.device, name: str) -> torch.Tensor:
        """A scalar or per-sample value as a float32 tensor of shape (batch,)."""
        t = torch.as_tensor(value, dtype=torch.float32, device=device).reshape(-1)
        if t.numel() == 1:
            return t.expand(batch)
        if t.numel() != batch:
            raise ValueError(f"{name} has {t.numel()} values for a batch of {batch}")
        return t


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

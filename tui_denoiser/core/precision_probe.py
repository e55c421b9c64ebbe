"""The timed probe behind core/precision.py: a few training steps of each precision variant.

Each variant (bf16 or fp32, channels-last or contiguous) trains its own copy of the model being
trained, as the trainer steps it (fwd + bwd + Adam at the real batch size, one noise level a batch), on
random images; the variants step in turn so that load from other processes falls on all alike.
"""

from __future__ import annotations

import statistics
import time

import torch

from tui_denoiser.core.config import ModelConfig

PROBE_WARMUP = 2
PROBE_STEPS = 5  # timed steps of each variant, and at least PROBE_MIN_S of the reference's (fast GPU steps: more)...
PROBE_MIN_S = 0.25
PROBE_MAX_S = 2.0  # ...but as few as 2 once the reference's pass this (slow CPU steps: fewer)
PROBE_MAX_STEPS = 100
GIVE_UP_RATIO = 3.0  # a variant whose steps already take this many times fp32's stops being timed

Variant = tuple[bool, bool]  # (bf16, channels_last)


def variant_name(variant: Variant) -> str:
    bf16, channels_last = variant
    return f"{'bf16' if bf16 else 'fp32'}{'+channels-last' if channels_last else ''}"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Runner:
    """One variant's model, optimizer and batch, stepping as the trainer steps."""

    def __init__(self, device: torch.device, model_config: ModelConfig, batch_size: int, variant: Variant,
                 lr: float):
        from tui_denoiser.core.model import ConditionalDenoiser

        self.device = device
        self.autocast = variant[0] and device.type != "mps"
        memory_format = torch.channels_last if variant[1] else torch.contiguous_format
        self.model = ConditionalDenoiser(model_config).to(device).to(memory_format=memory_format)
        self.model.train()
        fused = device.type == "cuda"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr, fused=fused,
                                          foreach=None if fused else True)
        self.x0 = (torch.rand(batch_size, 1, 28, 28, device=device) * 2 - 1).contiguous(memory_format=memory_format)
        self.labels = torch.randint(0, model_config.num_classes, (batch_size,), device=device)
        self.sigma = torch.rand(1, 1, 1, 1, device=device).expand(batch_size, 1, 1, 1)  # one level a batch
        self.noise = torch.randn_like(self.x0)

    def timed_step(self) -> float:
        t0 = time.perf_counter()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            pred = self.model(self.x0 + self.sigma * self.noise, self.sigma, self.labels)
        loss = torch.nn.functional.mse_loss(pred.float(), self.x0)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        _sync(self.device)
        return time.perf_counter() - t0


def probe_timings(device: torch.device, model_config: ModelConfig, batch_size: int, variants: list[Variant], *,
                  warmup: int = PROBE_WARMUP, steps: int = PROBE_STEPS, max_seconds: float | None = PROBE_MAX_S,
                  lr: float = 1e-4) -> dict[str, float]:
    """Seconds per training step (fwd + bwd + Adam, as the trainer runs them) of each variant of
    ``model_config`` at ``batch_size`` on random images, keyed by :func:`variant_name`.

    The variants step in turn (A B C D A B C D ...), so load from other processes falls on all alike,
    and each one's figure is the median of its timed steps: ``steps`` after ``warmup``, more while
    the reference's add up to under :data:`PROBE_MIN_S`, as few as 2 once they pass ``max_seconds``
    (None: ``steps``, however long), and one warm-up round only when the first reference step already
    took longer than ``max_seconds``. The first variant is the reference: a variant whose step (after
    the first, which holds one-time costs) takes :data:`GIVE_UP_RATIO` times the reference's stops
    there with what it measured (an emulated bf16 can take 10x; it loses anyway)."""
    device = torch.device(device)
    fork = ([device.index if device.index is not None else torch.cuda.current_device()]
            if device.type == "cuda" else [])
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(0)
        runners = {v: _Runner(device, model_config, batch_size, v, lr) for v in variants}
        reference = variants[0]
        result: dict[str, float] = {}
        active = list(variants)
        times: dict[Variant, list[float]] = {v: [] for v in variants}
        warm_rounds, round_ = warmup, 0
        while True:
            # Every active variant steps once, the reference first. A variant over GIVE_UP_RATIO times
            # the reference's step stops (not in the first round, which holds the one-time costs).
            warming = round_ < warm_rounds
            ref_time = runners[reference].timed_step()
            if not warming:
                times[reference].append(ref_time)
            for v in active[1:]:
                took = runners[v].timed_step()
                if not warming:
                    times[v].append(took)
                if round_ > 0 and took > GIVE_UP_RATIO * ref_time:
                    result[variant_name(v)] = statistics.median(times[v]) if times[v] else took
                    active.remove(v)
            if round_ == 0 and max_seconds is not None and ref_time > max_seconds:
                warm_rounds = min(warm_rounds, 1)  # slow steps: one warm-up round is enough
            round_ += 1
            if warming:
                continue
            done, spent = len(times[reference]), sum(times[reference])
            if (done >= steps and spent >= PROBE_MIN_S) or done >= PROBE_MAX_STEPS or (
                    max_seconds is not None and done >= min(2, steps) and spent >= max_seconds):
                break
        for v in active:
            result[variant_name(v)] = statistics.median(times[v])
    return {variant_name(v): result[variant_name(v)] for v in variants}

"""Students fine-tuned from a teacher model: guidance distillation and consistency distillation.

**Guidance distillation**: a student that does in one call what classifier-free guidance does in two.

The teacher guides with two calls, ``D_w = D_null + w (D_label - D_null)``. The student is the
teacher's network with one more input, the weight ``w`` (``ModelConfig.guidance_input``: Fourier
features of ``w - 1`` beside the noise level's), started from the teacher's weights with that input's
first-layer columns at zero, so before any step it is the teacher's conditional model at every ``w``.
It is then fine-tuned to the teacher's guided prediction at noisy training images, with ``w`` drawn
from ``[1, guidance_max]`` and the teacher's own noise levels and loss weights (Meng et al. 2023,
"On distillation of guided diffusion models", its first stage).

:class:`GuidanceDistiller`; the sampler then asks the student for ``w`` (``sampling.GuidedDenoiser``).

**Consistency distillation** (Song et al. 2023, "Consistency models"): a student ``f(x, sigma)`` that maps
any point of the teacher's sampling path straight to its end, so one call (or two, re-noised between)
draws a digit. Trained to agree with itself one teacher step further down the path: ``f(x_hi, sigma_hi)``
against the stop-gradient ``f(x_lo, sigma_lo)``, where ``x_lo`` is a Heun step of the guided teacher from
``x_hi`` (the same noise), over the teacher's Karras levels; the pseudo-Huber distance and the ``1 /
(sigma_hi - sigma_lo)`` weights of improved consistency training (Song & Dhariwal 2023). EDM's
parameterization already meets the boundary condition ``f(x, sigma_min) ~ x``. :class:`ConsistencyDistiller`;
it samples with the ``consistency`` sampler.

:func:`run_distillation` runs either in steps, saving a resumable checkpoint that samples as any other
(``load_model``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from tui_denoiser.core.checkpoint import FORMAT, VERSION, atomic_save, build_from, configs_from, load_checkpoint
from tui_denoiser.core.config import ModelConfig, SamplingConfig
from tui_denoiser.core.data import load_split, to_model_range
from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.noise import karras_sigmas, loss_weights, training_sigmas
from tui_denoiser.core.precision import choose_precision
from tui_denoiser.core.sampling_policy import model_sampling
from tui_denoiser.core.threads import cpu_threads
from tui_denoiser.core.training.state import EMA


@dataclass(frozen=True)
class DistillConfig:
    """A distillation run: how long and how fast; which weights ``w`` a guidance student learns; the
    teacher steps a consistency student learns across."""

    steps: int = 3000
    batch_size: int = 128
    lr: float = 1e-4
    guidance_max: float = 3.0  # guidance: w is drawn uniformly from [1, guidance_max]
    plain_share: float = 0.2  # guidance: share of each batch at w = 1 exactly, the plain conditional model
    ema_decay: float = 0.999
    seed: int = 0
    save_every: int = 200
    levels: int = 18  # consistency: the teacher's Karras levels the student learns to jump across

    def validate(self) -> None:
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ConfigError(f"steps must be a positive integer, got {self.steps!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 2):
            raise ConfigError(f"batch size must be an integer of at least 2, got {self.batch_size!r}")
        if not 0 < self.lr <= 1:
            raise ConfigError(f"lr must be in (0, 1], got {self.lr!r}")
        if not 1 < self.guidance_max <= 20:
            raise ConfigError(f"guidance_max must be in (1, 20], got {self.guidance_max!r}")
        if not 0 <= self.plain_share < 1:
            raise ConfigError(f"plain_share must be in [0, 1), got {self.plain_share!r}")
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema decay must be in [0, 1), got {self.ema_decay!r}")
        if not (isinstance(self.levels, int) and 2 <= self.levels <= 1000):
            raise ConfigError(f"levels must be an integer in 2..1000, got {self.levels!r}")


def student_config(teacher: ModelConfig) -> ModelConfig:
    """The teacher's model config with the guidance weight as an input (needs FiLM conditioning)."""
    return teacher.replace(guidance_input=True)


def student_from(teacher: ConditionalDenoiser) -> ConditionalDenoiser:
    """A student equal to ``teacher``'s conditional model at every ``w``: the teacher's weights, with the
    columns of the guidance features in the conditioning MLP's first layer at zero."""
    if teacher.config.guidance_input:
        raise ConfigError("the teacher already takes the guidance weight: distil from a plain model")
    student = ConditionalDenoiser(student_config(teacher.config))
    state = {k: v.clone() for k, v in teacher.state_dict().items()}
    key = "cond_mlp.0.weight"
    old = state[key]
    new = torch.zeros_like(student.state_dict()[key])
    new[:, :old.shape[1]] = old
    state[key] = new
    student.load_state_dict(state)
    return student


class Distiller:
    """A student fine-tuned from a frozen, guided teacher: its optimizer, EMA, data and checkpoints.
    Subclasses say how the student is made (:meth:`make_student`), how it samples and what one
    step learns (:meth:`step`)."""

    kind = ""

    def __init__(self, teacher_path: str | Path, data_dir: str | Path, config: DistillConfig | None = None, *,
                 bf16: bool | None = False, images: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        self.config = config or DistillConfig()
        self.config.validate()
        self.teacher_path = Path(teacher_path).expanduser()
        payload = load_checkpoint(self.teacher_path)
        self.teacher_model_config, self.train_config = configs_from(payload, self.teacher_path)
        if self.train_config.label_dropout <= 0:
            raise ConfigError(f"{self.teacher_path} was trained without label dropout: it has no null label to "
                              "guide with, so there is no guidance to distil")
        self.teacher_sampling = model_sampling(self.teacher_model_config, self.train_config,
                                               payload.get("sampling_config"))
        self.teacher = build_from(payload, self.teacher_path, ema=True).eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.student = self.make_student(self.teacher).train()
        self.ema = EMA(self.student, self.config.ema_decay) if self.config.ema_decay > 0 else None
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=self.config.lr)
        # None: what ``train`` would choose for the teacher's model on this machine (core/precision.py).
        choice = choose_precision("cpu", self.teacher_model_config, self.config.batch_size, bf16, False)
        self.bf16, self.precision_line = choice.bf16, choice.line
        if images is None or labels is None:
            images, labels = load_split(self.train_config.dataset, data_dir, train=True)
        self.images, self.labels = images, labels
        self.step_done = 0
        self.history: list[dict[str, float]] = []

    def make_student(self, teacher: ConditionalDenoiser) -> ConditionalDenoiser:
        raise NotImplementedError

    def sampling(self) -> SamplingConfig:
        """How the student samples (stored in its checkpoints)."""
        raise NotImplementedError

    def step(self) -> float:
        """One optimizer step; returns its loss."""
        raise NotImplementedError

    def clean_batch(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.randint(0, self.images.shape[0], (self.config.batch_size,), generator=generator)
        return to_model_range(self.images[index]), self.labels[index]

    def generator(self) -> torch.Generator:
        """This step's random numbers (a resumed run draws what an unbroken one would)."""
        return torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step_done)

    @torch.no_grad()
    def guided_teacher(self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor,
                       w: torch.Tensor) -> torch.Tensor:
        """The teacher's classifier-free guided prediction, with a weight ``w`` (B,) per sample."""
        null = torch.full_like(labels, self.teacher.null_label)
        both = self.teacher(torch.cat([x, x]), torch.cat([sigma, sigma]), torch.cat([labels, null])).float()
        cond, uncond = both.chunk(2)
        return uncond + w[:, None, None, None] * (cond - uncond)

    def update(self, loss: torch.Tensor) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.student)
        self.step_done += 1
        return float(loss.detach())

    # -- checkpoints ----------------------------------------------------------------------------------
    def payload(self) -> dict:
        """A checkpoint that samples as any other (the EMA weights are the student's sampling weights)
        and resumes this run."""
        ema = self.ema.model.state_dict() if self.ema is not None else None
        return {
            "format": FORMAT, "version": VERSION,
            "model_config": self.student.config.to_dict(),
            "train_config": self.train_config.to_dict(),
            "sampling_config": self.sampling().to_dict(),
            "epoch": 0, "global_step": self.step_done, "history": list(self.history),
            "model": {k: v.detach().cpu() for k, v in self.student.state_dict().items()},
            "ema": {k: v.detach().cpu() for k, v in ema.items()} if ema is not None else None,
            "distill": {"kind": self.kind, "config": asdict(self.config), "teacher": str(self.teacher_path),
                        "optimizer": self.optimizer.state_dict(), "step": self.step_done},
        }

    def save(self, path: str | Path) -> Path:
        return atomic_save(path, self.payload())

    def resume(self, path: str | Path) -> None:
        """Continue the run saved at ``path`` (its student, EMA, optimizer and step count)."""
        payload = load_checkpoint(path)
        state = payload.get("distill")
        if not isinstance(state, dict) or "optimizer" not in state or state.get("kind", "guidance") != self.kind:
            raise CheckpointError(f"{path} is not a {self.kind}-distillation checkpoint")
        self.student.load_state_dict(payload["model"])
        if self.ema is not None and payload.get("ema") is not None:
            self.ema.model.load_state_dict(payload["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step_done = int(state["step"])
        self.history = list(payload.get("history") or [])


class GuidanceDistiller(Distiller):
    """Guidance distillation: the student learns the teacher's guided prediction at any ``w``."""

    kind = "guidance"

    def make_student(self, teacher: ConditionalDenoiser) -> ConditionalDenoiser:
        return student_from(teacher)

    def sampling(self) -> SamplingConfig:
        return self.teacher_sampling  # the teacher's own, now at one call a guided step

    def batch(self, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Noisy images, their levels, labels and weights ``w`` for one step."""
        cfg = self.config
        clean, labels = self.clean_batch(generator)
        sigma = training_sigmas(self.train_config, cfg.batch_size, device="cpu", generator=generator)
        noisy = clean + sigma[:, None, None, None] * torch.randn(clean.shape, generator=generator)
        w = 1 + (cfg.guidance_max - 1) * torch.rand(cfg.batch_size, generator=generator)
        w[torch.rand(cfg.batch_size, generator=generator) < cfg.plain_share] = 1.0
        return noisy, sigma, labels, w

    def step(self) -> float:
        noisy, sigma, labels, w = self.batch(self.generator())
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            target = self.guided_teacher(noisy, sigma, labels, w)
            prediction = self.student(noisy, sigma, labels, guidance=w).float()
        weights = loss_weights(self.train_config, sigma, self.teacher_model_config.sigma_data)
        error = (prediction - target).pow(2).mean(dim=(1, 2, 3))
        return self.update((error * weights).mean() if weights is not None else error.mean())


# Improved consistency training's pseudo-Huber constant, 0.00054 sqrt(d) for d pixels (Song & Dhariwal 2023).
HUBER_C = 0.00054 * math.sqrt(28 * 28)
CONSISTENCY_SAMPLING_LEVELS = (80.0, 1.5)  # two calls: the second re-noises to 1.5 (scripts/quality_sweep.py)


class ConsistencyDistiller(Distiller):
    """Consistency distillation from the guided teacher (the module docstring has the method)."""

    kind = "consistency"

    def make_student(self, teacher: ConditionalDenoiser) -> ConditionalDenoiser:
        if teacher.config.parameterization != "edm":
            raise ConfigError("consistency distillation needs an EDM-parameterized teacher (its output is x at "
                              "the lowest level)")
        student = ConditionalDenoiser(teacher.config)
        student.load_state_dict(teacher.state_dict())
        return student

    def sampling(self) -> SamplingConfig:
        t = self.teacher_sampling
        return SamplingConfig(sampler="consistency", steps=len(CONSISTENCY_SAMPLING_LEVELS), guidance=1.0,
                              guidance_interval=None, start="pure", grid="karras", sigma_min=t.sigma_min,
                              sigma_max=CONSISTENCY_SAMPLING_LEVELS[0], levels=CONSISTENCY_SAMPLING_LEVELS)

    def levels(self) -> torch.Tensor:
        """The teacher's levels, ascending: Karras's, from its sampling's sigma_min to sigma_max."""
        t = self.teacher_sampling
        return karras_sigmas(self.config.levels, t.sigma_min, t.sigma_max).flip(0).float()

    def guidance_weights(self, sigma: torch.Tensor) -> torch.Tensor:
        """The teacher sampling's guidance at each level (1 outside its interval)."""
        t = self.teacher_sampling
        w = torch.full_like(sigma, t.guidance)
        if t.guidance_interval is not None:
            lo, hi = t.guidance_interval
            w[(sigma < lo) | (sigma > hi)] = 1.0
        return w

    def step(self) -> float:
        generator = self.generator()
        clean, labels = self.clean_batch(generator)
        levels = self.levels()
        n = torch.randint(0, levels.shape[0] - 1, (clean.shape[0],), generator=generator)
        hi, lo = levels[n + 1], levels[n]
        noise = torch.randn(clean.shape, generator=generator)
        x_hi = clean + hi[:, None, None, None] * noise
        h4, l4 = hi[:, None, None, None], lo[:, None, None, None]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            with torch.no_grad():  # one Heun step of the guided teacher, then the student's own answer there
                d = self.guided_teacher(x_hi, hi, labels, self.guidance_weights(hi))
                slope = (x_hi - d) / h4
                x_euler = x_hi + (l4 - h4) * slope
                d_lo = self.guided_teacher(x_euler, lo, labels, self.guidance_weights(lo))
                x_lo = x_hi + (l4 - h4) * 0.5 * (slope + (x_euler - d_lo) / l4)
                target = self.student(x_lo, lo, labels).float()
            prediction = self.student(x_hi, hi, labels).float()
        distance = ((prediction - target).pow(2).flatten(1).sum(1) + HUBER_C**2).sqrt() - HUBER_C
        return self.update((distance / (hi - lo)).mean())


def run_distillation(distiller: Distiller, run_dir: str | Path, *, report: Callable[[str], None] = print,
                     should_stop: Callable[[], bool] = lambda: False) -> Path:
    """Run ``distiller`` to its configured steps, saving ``run_dir/last.pt`` every ``save_every`` steps
    and at the end (or when ``should_stop()``); one progress line per save. Returns the checkpoint."""
    cpu_threads()
    run_dir = Path(run_dir).expanduser()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "last.pt"
    cfg = distiller.config
    losses: list[float] = []
    started = time.perf_counter()
    first = distiller.step_done
    while distiller.step_done < cfg.steps and not should_stop():
        losses.append(distiller.step())
        if distiller.step_done % cfg.save_every == 0 or distiller.step_done == cfg.steps:
            rate = (distiller.step_done - first) * cfg.batch_size / (time.perf_counter() - started)
            mean = sum(losses) / len(losses)
            distiller.history.append({"step": distiller.step_done, "loss": mean})
            distiller.save(path)
            report(f"step {distiller.step_done}/{cfg.steps}  loss {mean:.4f}  {rate:.0f} img/s  saved {path}")
            losses = []
    if losses:
        distiller.save(path)
    return path

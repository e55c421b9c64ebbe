"""Configuration dataclasses for the model, training and sampling.

Pure Python (no torch) so the app's form validation and the CLI can check values before torch has
loaded. Every ``validate()`` raises :class:`ConfigError` with one line naming the field.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any

from tui_denoiser.core.errors import ConfigError

DATASETS = ("mnist", "fashion-mnist")
DEVICES = ("auto", "cpu", "cuda", "mps")
NORMS = ("batch", "group")
# How the network meets the noisy image: "direct" takes it and the level as they are and outputs the
# clean image; "scaled" scales the input to unit variance and the level to log(sigma)/4 (EDM's c_in,
# c_noise) and outputs the clean image; "edm" adds EDM's skip path (c_skip, c_out) to the output.
PARAMETERIZATIONS = ("direct", "scaled", "edm")
# How the label and the noise level enter the network: FiLM (a per-channel scale and shift in every
# block); "planes": two extra input channels, a learned 28x28 plane from the label embedding and a
# constant plane holding the noise level (the seed's literal reading); or both. Convolutions see no
# position, so only the label's plane tells them where a digit's strokes go; FiLM tells every block.
CONDITIONINGS = ("film", "planes", "planes+film")
# How training draws noise levels:
#   discrete-batch: one step t of T per batch, sigma = t/T (the seed's literal reading)
#   discrete:       one step t per sample
#   geometric-batch: one step t of T per batch, t/T placed on a log scale from sigma_min to sigma_max,
#                   so the top level is pure noise (the original recipe)
#   geometric:      the same levels, one step t per sample
#   continuous:     sigma ~ U(0, 1] per sample
#   edm:            log-normal sigma per sample (EDM, Karras et al. 2022), with EDM's loss weighting
NOISE_MODES = ("discrete-batch", "discrete", "geometric-batch", "geometric", "continuous", "edm")
PER_BATCH = {"discrete-batch": "discrete", "geometric-batch": "geometric"}  # one level a batch -> per sample
# How the discrete modes pick a level t of T: evenly, or half evenly and half by EDM's log-normal density
# over log sigma (p_mean, p_std), which trains the middle levels, where a digit's shape is decided, more often.
LEVEL_DRAWS = ("uniform", "log-normal")
# The standard deviation of MNIST scaled to [-1, 1]: EDM's preconditioning and the matched start use it.
SIGMA_DATA = 0.6162
# Every sampler core/sampling.py implements (its registry is checked against this list), known here so
# that forms and the CLI can offer them before torch loads.
SAMPLER_NAMES = ("seed", "euler", "heun", "stochastic", "dpm2m", "dpm2m-churn", "ipndm", "ipndm-v", "dpm3m",
                 "consistency")
# dpm2m-churn: at the levels in CHURN_LEVELS, raise sigma by the factor 1 + CHURN_GAMMA with fresh noise
# before the step (EDM's S_churn), which cleans up the isolated specks deterministic steps leave there.
# These are the EDM models' settings and a SamplingConfig's defaults; a model's sampling may set its own.
CHURN_GAMMA = 0.4
CHURN_LEVELS = (0.01, 0.15)


def churned_sigma(sigma: float, sigma_next: float, gamma: float, levels: tuple[float, float]) -> float:
    """The level dpm2m-churn evaluates the step from ``sigma`` to ``sigma_next`` at: ``(1 + gamma) sigma``
    at the levels in ``levels`` (low, high), except the step onto 0; else ``sigma``. The sampler and the call
    counter both decide it here."""
    lo, hi = levels
    return sigma * (1 + gamma) if gamma > 0 and lo <= sigma <= hi and sigma_next > 0 else sigma


STARTS = ("pure", "matched")  # starting noise: sigma_max * N(0,1), or the spread training inputs have there
# A sampler's noise levels: sigma_max * k/K; EDM's rho=7 spacing down to sigma_min; or log-spaced from
# sigma_max down to sigma_min (the original recipe's training levels when K = T).
GRIDS = ("linear", "karras", "geometric")
MAX_SAMPLING_STEPS = 1000
MAX_GUIDANCE = 20.0
MAX_EVAL_PER_DIGIT = 1000  # in-training evaluation: beyond this it would stall training

_NOT_GIVEN: Any = object()


def _check(cond: bool, message: str, field: str | None = None, value: Any = _NOT_GIVEN) -> None:
    if not cond:
        raise ConfigError(message, field=field, value=None if value is _NOT_GIVEN else value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range (from_dict of a JSON/checkpoint value)
        return False


def grid_levels(grid: str, count: int, sigma_min: float, sigma_max: float) -> list[float]:
    """``count`` noise levels from ``sigma_max`` down, on one of :data:`GRIDS`: the one definition of
    the grids, for training (:meth:`TrainConfig.levels`), the samplers and the call counter."""
    k = count
    if grid == "linear":
        return [sigma_max * (k - i) / k for i in range(k)]
    if k == 1:
        return [sigma_max]
    if grid == "geometric":
        return [sigma_max * (sigma_min / sigma_max) ** (i / (k - 1)) for i in range(k)]
    lo, hi = sigma_min ** (1 / 7), sigma_max ** (1 / 7)
    return [(hi + i / (k - 1) * (lo - hi)) ** 7 for i in range(k)]


class _Config:
    """Shared dict round trip for the config dataclasses (checkpoints store them as plain dicts)."""

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)  # type: ignore[call-overload]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} must be a mapping, got {type(data).__name__}")
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigError(f"{cls.__name__} has no field {unknown[0]!r}", field=unknown[0])
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        config = cls(**values)
        config.validate()  # type: ignore[attr-defined]
        return config

    def replace(self, **changes: Any):
        config = dataclasses.replace(self, **changes)  # type: ignore[type-var]
        config.validate()
        return config


@dataclass(frozen=True)
class ModelConfig(_Config):
    """Everything needed to rebuild a :class:`ConditionalDenoiser` from a checkpoint alone.

    The defaults are the original design: 64-d label embedding, a plain conv encoder/decoder with
    BatchNorm, no skip connections, and the network output taken directly as the clean image.
    """

    num_classes: int = 10
    embed_dim: int = 64
    channels: tuple[int, int, int] = (32, 64, 128)
    norm: str = "batch"
    skip_connections: bool = False
    res_blocks: int = 0
    parameterization: str = "direct"
    sigma_data: float = SIGMA_DATA  # used by the EDM parameterization
    conditioning: str = "film"
    norm_levels: int = 0  # > 0: BatchNorm keeps running statistics per training level (LevelBatchNorm2d)
    guidance_input: bool = False  # the weight w is an input: a guidance-distilled student (training/distill.py)

    def validate(self) -> None:
        _check(_is_int(self.num_classes) and 2 <= self.num_classes <= 1000,
               f"num_classes must be an integer in 2..1000, got {self.num_classes!r}", "num_classes", self.num_classes)
        _check(_is_int(self.embed_dim) and 1 <= self.embed_dim <= 4096,
               f"embed_dim must be an integer in 1..4096, got {self.embed_dim!r}", "embed_dim", self.embed_dim)
        _check(isinstance(self.channels, tuple) and len(self.channels) == 3
               and all(_is_int(c) and 1 <= c <= 4096 for c in self.channels),
               f"channels must be three integers in 1..4096, got {self.channels!r}", "channels", self.channels)
        _check(self.norm in NORMS, f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}", "norm", self.norm)
        if self.norm == "group":
            _check(all(c % 8 == 0 for c in self.channels),
                   f"group norm needs channels divisible by 8, got {self.channels!r}", "channels", self.channels)
        _check(isinstance(self.skip_connections, bool), "skip_connections must be true or false",
               "skip_connections", self.skip_connections)
        _check(_is_int(self.res_blocks) and 0 <= self.res_blocks <= 8,
               f"res_blocks must be an integer in 0..8, got {self.res_blocks!r}", "res_blocks", self.res_blocks)
        _check(self.parameterization in PARAMETERIZATIONS,
               f"parameterization must be one of {', '.join(PARAMETERIZATIONS)}, got {self.parameterization!r}",
               "parameterization", self.parameterization)
        _check(_is_int(self.norm_levels) and 0 <= self.norm_levels <= 1000,
               f"norm_levels must be an integer in 0..1000, got {self.norm_levels!r}", "norm_levels", self.norm_levels)
        _check(self.norm_levels == 0 or self.norm == "batch", "norm_levels needs batch norm", "norm_levels",
               self.norm_levels)
        _check(self.conditioning in CONDITIONINGS,
               f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {self.conditioning!r}",
               "conditioning", self.conditioning)
        _check(_is_number(self.sigma_data) and self.sigma_data > 0,
               f"sigma_data must be a positive number, got {self.sigma_data!r}", "sigma_data", self.sigma_data)
        _check(self.guidance_input is False or (self.guidance_input is True and "film" in self.conditioning),
               "guidance_input must be true or false, and true only with FiLM conditioning (w enters with the "
               "noise level)", "guidance_input", self.guidance_input)


@dataclass(frozen=True)
class TrainConfig(_Config):
    """A training run. Defaults are the original recipe: batch 128, Adam 1e-4, StepLR(10, 0.5), 30 epochs,
    T=10 noise levels, one level t/T per batch, plain MSE to the clean image.

    ``noise_levels`` (T) was called ``steps`` in older checkpoints; :meth:`from_dict` reads either.
    """

    dataset: str = "mnist"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-4
    noise_levels: int = 10  # T: the discrete training noise levels sigma_t = t/T (not a sampler's steps)
    step_size: int = 10  # StepLR step, in epochs
    gamma: float = 0.5
    seed: int = 0
    device: str = "auto"
    bf16: bool = False
    max_steps: int | None = None  # stop after this many optimizer steps (smoke runs)
    noise: str = "discrete-batch"
    sigma_max: float = 1.0  # largest training noise level (edm: the sampler's starting level)
    sigma_min: float = 0.002  # smallest noise level the edm sampler visits
    p_mean: float = -1.2  # edm log-normal noise distribution
    p_std: float = 1.2
    level_draw: str = "uniform"  # discrete modes: how a level t of T is picked (LEVEL_DRAWS)
    level_spread: float = 0.0  # discrete modes: share of the gap to its neighbours a drawn level's sigma spreads over
    label_dropout: float = 0.0  # classifier-free guidance: share of labels replaced by the null label
    ema_decay: float = 0.0  # 0 turns EMA off
    channels_last: bool = False
    preview: bool = True  # sample one image of each digit at every epoch end
    compile: bool = False  # torch.compile the training forward (pays on long GPU runs; minutes to compile)
    # Sample quality while training (core/training/monitor.py): a small evaluation of the sampling weights.
    quality_eval: bool = True
    eval_every: int | None = None  # steps between evaluations; None: at every epoch end (and the run's end)
    eval_per_digit: int = 50  # samples of each digit per evaluation

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if isinstance(data, dict) and "steps" in data and "noise_levels" not in data:  # checkpoints before the rename
            data = {("noise_levels" if key == "steps" else key): value for key, value in data.items()}
        return super().from_dict(data)

    def levels(self) -> list[float] | None:
        """The T training levels sigma_t for t = 1..T (ascending) of the discrete and geometric modes;
        None where training draws sigma from a continuous distribution."""
        if self.noise in ("discrete-batch", "discrete"):
            grid = "linear"
        elif self.noise in ("geometric-batch", "geometric"):
            grid = "geometric"
        else:
            return None
        return grid_levels(grid, self.noise_levels, self.sigma_min, self.sigma_max)[::-1]

    def validate(self) -> None:
        _check(self.dataset in DATASETS, f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}",
               "dataset", self.dataset)
        _check(_is_int(self.epochs) and 1 <= self.epochs <= 10_000,
               f"epochs must be an integer in 1..10000, got {self.epochs!r}", "epochs", self.epochs)
        _check(_is_int(self.batch_size) and 1 <= self.batch_size <= 65_536,
               f"batch size must be an integer in 1..65536, got {self.batch_size!r}", "batch_size", self.batch_size)
        _check(_is_number(self.lr) and 0 < self.lr <= 1, f"lr must be a number in (0, 1], got {self.lr!r}",
               "lr", self.lr)
        _check(_is_int(self.noise_levels) and 1 <= self.noise_levels <= 1000,
               f"noise levels must be an integer in 1..1000, got {self.noise_levels!r}", "noise_levels",
               self.noise_levels)
        _check(_is_int(self.step_size) and 1 <= self.step_size <= 10_000,
               f"step size must be an integer in 1..10000, got {self.step_size!r}", "step_size", self.step_size)
        _check(_is_number(self.gamma) and 0 < self.gamma <= 1,
               f"gamma must be a number in (0, 1], got {self.gamma!r}", "gamma", self.gamma)
        _check(_is_int(self.seed) and 0 <= self.seed < 2**63, f"seed must be a non-negative integer, got {self.seed!r}",
               "seed", self.seed)
        _check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, got {self.device!r}",
               "device", self.device)
        _check(isinstance(self.bf16, bool), "bf16 must be true or false", "bf16", self.bf16)
        _check(self.max_steps is None or (_is_int(self.max_steps) and self.max_steps >= 1),
               f"max steps must be a positive integer, got {self.max_steps!r}", "max_steps", self.max_steps)
        _check(self.noise in NOISE_MODES, f"noise must be one of {', '.join(NOISE_MODES)}, got {self.noise!r}",
               "noise", self.noise)
        _check(_is_number(self.sigma_max) and 0 < self.sigma_max <= 1000,
               f"sigma_max must be a number in (0, 1000], got {self.sigma_max!r}", "sigma_max", self.sigma_max)
        _check(_is_number(self.sigma_min) and 0 < self.sigma_min < self.sigma_max,
               f"sigma_min must be a positive number below sigma_max, got {self.sigma_min!r}",
               "sigma_min", self.sigma_min)
        _check(self.level_draw in LEVEL_DRAWS,
               f"level draw must be one of {', '.join(LEVEL_DRAWS)}, got {self.level_draw!r}", "level_draw",
               self.level_draw)
        _check(_is_number(self.level_spread) and 0 <= self.level_spread <= 1,
               f"level spread must be a number in [0, 1], got {self.level_spread!r}", "level_spread",
               self.level_spread)
        _check(_is_number(self.p_mean), f"p_mean must be a number, got {self.p_mean!r}", "p_mean", self.p_mean)
        _check(_is_number(self.p_std) and self.p_std > 0, f"p_std must be a positive number, got {self.p_std!r}",
               "p_std", self.p_std)
        _check(_is_number(self.label_dropout) and 0 <= self.label_dropout < 1,
               f"label dropout must be a number in [0, 1), got {self.label_dropout!r}",
               "label_dropout", self.label_dropout)
        _check(_is_number(self.ema_decay) and 0 <= self.ema_decay < 1,
               f"ema decay must be a number in [0, 1), got {self.ema_decay!r}", "ema_decay", self.ema_decay)
        _check(isinstance(self.channels_last, bool), "channels_last must be true or false",
               "channels_last", self.channels_last)
        _check(isinstance(self.preview, bool), "preview must be true or false", "preview", self.preview)
        _check(isinstance(self.compile, bool), "compile must be true or false", "compile", self.compile)
        _check(isinstance(self.quality_eval, bool), "quality eval must be true or false", "quality_eval",
               self.quality_eval)
        _check(self.eval_every is None or (_is_int(self.eval_every) and self.eval_every >= 1),
               f"eval every must be a positive number of steps, got {self.eval_every!r}", "eval_every",
               self.eval_every)
        _check(_is_int(self.eval_per_digit) and 1 <= self.eval_per_digit <= MAX_EVAL_PER_DIGIT,
               f"eval per digit must be an integer in 1..{MAX_EVAL_PER_DIGIT}, got {self.eval_per_digit!r}",
               "eval_per_digit", self.eval_per_digit)


@dataclass(frozen=True)
class SamplingConfig(_Config):
    """How to sample: which sampler, how many steps, how much guidance and where, which noise levels.

    ``core/sampling_policy.py`` decides a model's defaults and merges what a person asks for; the
    defaults here are only those of a bare call. ``guidance`` 1 is the plain conditional model;
    ``guidance_interval`` (low, high) guides only at noise levels inside it (None: at every level).
    """

    sampler: str = "seed"
    steps: int = 10
    guidance: float = 1.0
    guidance_interval: tuple[float, float] | None = None
    start: str = "pure"
    grid: str = "karras"
    sigma_min: float = 0.1
    sigma_max: float = 1.0
    # Explicit noise levels (``steps`` of them, from sigma_max down; 0 is appended) instead of the grid:
    # a schedule tuned for its step count (sampling_policy.EDM_BUDGETS). None: the grid's levels.
    levels: tuple[float, ...] | None = None
    # dpm2m-churn only: the factor 1 + churn_gamma by which sigma is raised with fresh noise at the levels
    # in churn_levels (low, high). Files written before these fields get the EDM defaults, as they sampled.
    churn_gamma: float = CHURN_GAMMA
    churn_levels: tuple[float, float] = CHURN_LEVELS

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        if isinstance(data, dict) and data.get("sampler") == "original":  # files from before the seed recipe
            data = {**data, "sampler": "seed"}
        return super().from_dict(data)

    @property
    def guided(self) -> bool:
        """Whether any step pays the second (null-label) model call."""
        return self.guidance != 1

    def validate(self) -> None:
        _check(self.sampler in SAMPLER_NAMES,
               f"unknown sampler {self.sampler!r}: choose one of {', '.join(SAMPLER_NAMES)}", "sampler", self.sampler)
        _check(_is_int(self.steps) and 1 <= self.steps <= MAX_SAMPLING_STEPS,
               f"steps must be an integer in 1..{MAX_SAMPLING_STEPS}, got {self.steps!r}", "steps", self.steps)
        _check(_is_number(self.guidance) and 0 <= self.guidance <= MAX_GUIDANCE,
               f"guidance scale must be a number in 0..{MAX_GUIDANCE:g} (1 = plain conditional), got {self.guidance!r}",
               "guidance", self.guidance)
        interval = self.guidance_interval
        _check(interval is None or (isinstance(interval, tuple) and len(interval) == 2
                                    and all(_is_number(v) and v >= 0 for v in interval) and interval[0] <= interval[1]),
               f"guidance interval must be two noise levels low <= high, got {interval!r}",
               "guidance_interval", interval)
        _check(self.start in STARTS, f"start must be one of {', '.join(STARTS)}, got {self.start!r}",
               "start", self.start)
        _check(self.grid in GRIDS, f"grid must be one of {', '.join(GRIDS)}, got {self.grid!r}", "grid", self.grid)
        _check(_is_number(self.sigma_max) and 0 < self.sigma_max <= 1000,
               f"sigma_max must be a number in (0, 1000], got {self.sigma_max!r}", "sigma_max", self.sigma_max)
        _check(_is_number(self.sigma_min) and 0 < self.sigma_min <= self.sigma_max,
               f"sigma_min must be a positive number up to sigma_max, got {self.sigma_min!r}",
               "sigma_min", self.sigma_min)
        _check(_is_number(self.churn_gamma) and 0 <= self.churn_gamma <= 10,
               f"churn gamma must be a number in 0..10, got {self.churn_gamma!r}", "churn_gamma", self.churn_gamma)
        churn = self.churn_levels
        _check(isinstance(churn, tuple) and len(churn) == 2 and all(_is_number(v) and v >= 0 for v in churn)
               and churn[0] <= churn[1],
               f"churn levels must be two noise levels low <= high, got {churn!r}", "churn_levels", churn)
        levels = self.levels
        if levels is not None:
            _check(isinstance(levels, tuple) and len(levels) == self.steps
                   and all(_is_number(v) and v > 0 for v in levels)
                   and all(a > b for a, b in zip(levels, levels[1:])),
                   f"levels must be {self.steps} (steps) positive noise levels, falling, got {levels!r}",
                   "levels", levels)
            _check(levels[0] == self.sigma_max,
                   f"levels must start at sigma_max {self.sigma_max:g}, got {levels[0]!r}", "levels", levels)

    def schedule(self, grid: str | None = None) -> list[float]:
        """The K levels a sampler visits (0 not included): :attr:`levels` when given, else ``grid``'s
        (default: the config's own) from sigma_max down to sigma_min."""
        if self.levels is not None:
            return list(self.levels)
        return grid_levels(grid or self.grid, self.steps, self.sigma_min, self.sigma_max)

"""A model loaded from a checkpoint for sampling, with the sampling it was saved with.

Everything that samples a trained model goes through :class:`LoadedModel`: the CLI's ``sample`` and
``eval``, the app and the trainer's previews. The model is prepared for inference once, where it is
loaded, so sampling never changes a caller's module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from tui_denoiser.core.checkpoint import build_from, configs_from, load_checkpoint
from tui_denoiser.core.config import ModelConfig, SamplingConfig, TrainConfig
from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.recipes import recipe_of
from tui_denoiser.core.sampling import SampleStep, sample
from tui_denoiser.core.sampling_policy import default_sampling, guided_in_one_call, model_sampling


def prepare_for_inference(model: torch.nn.Module, device: str | torch.device | None = None) -> torch.nn.Module:
    """Eval mode on ``device``; on a CPU also the channels-last layout, where oneDNN's convolutions are
    faster at these sizes (benchmarks/sampling_speed.py). Weights keep their values."""
    if device is not None:
        model = model.to(device)
    model = model.eval()
    if next(model.parameters()).device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
    return model


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, in eval mode, ready to sample (never a training module)."""

    model: ConditionalDenoiser
    model_config: ModelConfig
    train_config: TrainConfig
    path: Path
    epoch: int = 0
    global_step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    has_ema: bool = False
    sampling: SamplingConfig | None = None  # the model's own sampling; None: its recipe's defaults
    guide: ConditionalDenoiser | None = None  # autoguidance: a weaker model guidance pushes away from
    guide_path: Path | None = None

    def __post_init__(self) -> None:
        if self.sampling is None:
            self.sampling = default_sampling(self.model_config, self.train_config)

    @property
    def short_description(self) -> str:
        """Its recipe and how far it trained, in a few words: a distilled student has fine-tuning steps
        and no epochs, and a consistency student is known by the sampler it was saved with."""
        recipe = recipe_of(self.model_config, self.train_config)
        if self.model_config.guidance_input:
            return f"{recipe}, distilled"
        if self.sampling is not None and self.sampling.sampler == "consistency":
            return f"{recipe}, consistency"
        return f"{recipe} · epoch {self.epoch}"

    @property
    def one_call_guidance(self) -> bool:
        """Whether a guided step costs one call: a guidance-distilled student, sampled without a guide."""
        return guided_in_one_call(self.model_config.guidance_input, self.guide)

    def sample(self, labels: Sequence[int] | torch.Tensor, config: SamplingConfig | None = None, *,
               seed: int = 0, guide: torch.nn.Module | None = None) -> Iterator[SampleStep]:
        """Yield every step of sampling ``labels`` (``config`` None: the model's own sampling; ``guide``
        None: the guide loaded with the model, if any)."""
        return sample(self.model, labels, config or self.sampling, seed=seed,
                      sigma_data=self.model_config.sigma_data, guide=guide if guide is not None else self.guide)


def load_model(path: str | Path, device: str | torch.device = "cpu", *, ema: bool = True,
               guide: str | Path | None = None) -> LoadedModel:
    """Load a checkpoint for sampling (EMA weights when present and ``ema``); errors are one line.

    ``guide``: a second checkpoint, a weaker model of the same digits, that guidance then pushes away
    from instead of the null label (autoguidance); the guidance scale and interval stay the config's."""
    path = Path(path).expanduser()
    payload = load_checkpoint(path)
    model_config, train_config = configs_from(payload, path)
    try:
        sampling = model_sampling(model_config, train_config, payload.get("sampling_config"))
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{path} has an invalid sampling config: {exc}") from exc
    model = prepare_for_inference(build_from(payload, path, ema=ema), device)
    guide_path = Path(guide).expanduser() if guide is not None else None
    guide_model = load_guide(guide_path, model, ema=ema) if guide_path is not None else None
    return LoadedModel(model=model, model_config=model_config, train_config=train_config, path=path,
                       epoch=int(payload.get("epoch", 0)), global_step=int(payload.get("global_step", 0)),
                       history=list(payload.get("history") or []), has_ema=payload.get("ema") is not None,
                       sampling=sampling, guide=guide_model, guide_path=guide_path)


def load_guide(path: str | Path, model: ConditionalDenoiser, *, ema: bool = True) -> ConditionalDenoiser:
    """A checkpoint loaded as the autoguidance model of ``model`` (on its device), checked to draw the
    same classes; errors are one line."""
    path = Path(path).expanduser()
    payload = load_checkpoint(path)
    guide_config, _ = configs_from(payload, path)
    if guide_config.num_classes != model.config.num_classes:
        raise CheckpointError(f"{path} draws {guide_config.num_classes} classes and the model "
                              f"{model.config.num_classes}: a guide must draw the same digits")
    return prepare_for_inference(build_from(payload, path, ema=ema), next(model.parameters()).device)

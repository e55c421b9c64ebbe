"""The training recipes: named pairs of model and training configs (original, seed, edm), and which
recipe a saved model was trained with. Pure Python, like core/config.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from tui_denoiser.core.config import ModelConfig, TrainConfig


@dataclass(frozen=True)
class Recipe:
    """A named pair of model and training configs."""

    name: str
    description: str
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


# The original recipe's noise levels: T = 20 steps t/T on a log scale from 0.02 to 20, where the image is
# pure noise (MNIST's own spread in [-1, 1] is SIGMA_DATA, 3 % of it); its sampler visits the same 20 levels.
# A range up to 80 spent a third of the batches where the image is noise either way (docs/models.md).
ORIGINAL_LEVELS = 20
ORIGINAL_SIGMA_MIN = 0.02
ORIGINAL_SIGMA_MAX = 20.0
# Half its batches pick t evenly, half by a log-normal density centred on sigma = exp(-0.5) = 0.61, where a
# digit's shape is decided and one-call denoising was weakest (docs/models.md).
ORIGINAL_LEVEL_CENTRE = -0.5
# Each batch's sigma spreads over its level's whole cell of the grid (half the gap to each neighbour, in log
# sigma): trained on the 20 levels alone, one-call denoising was 1-2 dB worse between them (docs/models.md).
ORIGINAL_LEVEL_SPREAD = 1.0

RECIPES: dict[str, Recipe] = {
    "original": Recipe(
        "original",
        "The seed's design at its best: plain BatchNorm encoder/decoder with FiLM and the encoder's maps passed "
        "to the decoder, one step t of T=20 per batch on a log scale up to pure noise (the middle levels drawn "
        "more often; sigma spread over t's cell of the scale), BatchNorm statistics per level, EDM's scaling "
        "and per-level weights of the MSE, Adam 1e-4; one label in ten dropped, for guidance.",
        model=ModelConfig(parameterization="edm", norm_levels=ORIGINAL_LEVELS, conditioning="planes+film",
                          skip_connections=True),
        train=TrainConfig(noise="geometric-batch", noise_levels=ORIGINAL_LEVELS, sigma_min=ORIGINAL_SIGMA_MIN,
                          sigma_max=ORIGINAL_SIGMA_MAX, level_draw="log-normal", p_mean=ORIGINAL_LEVEL_CENTRE,
                          level_spread=ORIGINAL_LEVEL_SPREAD, label_dropout=0.1),
    ),
    "seed": Recipe(
        "seed",
        "The seed's code as written: label and level as input planes, one level t/T per batch, sigma up to 1, "
        "x <- D(x) sampling. The yardstick.",
        model=ModelConfig(conditioning="planes"),
    ),
    "edm": Recipe(
        "edm",
        "EDM preconditioning (c_skip/c_out/c_in), log-normal sigma up to 80, U-Net skips, GroupNorm, "
        "EMA and label dropout for classifier-free guidance.",
        model=ModelConfig(channels=(32, 64, 128), norm="group", skip_connections=True, res_blocks=2,
                          parameterization="edm"),
        train=TrainConfig(batch_size=256, lr=1e-3, epochs=80, step_size=25, gamma=0.5, noise="edm",
                          sigma_max=80.0, sigma_min=0.002, label_dropout=0.1, ema_decay=0.999),
    ),
}


def recipe_of(model_config: ModelConfig, train_config: TrainConfig) -> str:
    """The name of the recipe a model was trained with (its model config and noise as the recipe's;
    widths and training lengths may differ), or "custom"."""
    for name, recipe in RECIPES.items():
        same_model = dataclasses.replace(recipe.model, channels=model_config.channels,  # compared, not built
                                         res_blocks=model_config.res_blocks, guidance_input=model_config.guidance_input)
        if same_model == model_config and recipe.train.noise == train_config.noise:
            return name
    return "custom"

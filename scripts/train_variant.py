"""Train a recipe with some of its config fields changed: how the original's choices were compared.

    python scripts/train_variant.py --data-dir DATA --run-dir runs/no-skips --epochs 3 \\
        model.skip_connections=False train.sigma_min=0.01 train.sigma_max=80.0 train.label_dropout=0.0

Each change is ``model.FIELD=VALUE`` or ``train.FIELD=VALUE`` (a Python literal) on the recipe's
:class:`ModelConfig` / :class:`TrainConfig`. The run is an ordinary run folder: its in-training quality
records are what ``scripts/plot_training_curve.py`` draws, ``denoiser-tui train --resume`` continues it,
and ``denoiser-tui eval --checkpoint RUN/epoch-003.pt`` scores a checkpoint on every judge.
"""

from __future__ import annotations

import argparse
import ast

from tui_denoiser.core.recipes import RECIPES
from tui_denoiser.core.runs import events as ev
from tui_denoiser.core.training.trainer import Trainer


def parse_changes(items: list[str]) -> tuple[dict, dict]:
    model: dict = {}
    train: dict = {}
    for item in items:
        key, _, value = item.partition("=")
        part, _, field = key.partition(".")
        if part not in ("model", "train") or not field or not value:
            raise SystemExit(f"train_variant: {item!r} is not model.FIELD=VALUE or train.FIELD=VALUE")
        (model if part == "model" else train)[field] = ast.literal_eval(value)
    return model, train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", default="original", choices=sorted(RECIPES))
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("changes", nargs="*")
    args = parser.parse_args()
    model_changes, train_changes = parse_changes(args.changes)
    recipe = RECIPES[args.recipe]
    model = recipe.model.replace(**model_changes)
    train = recipe.train.replace(epochs=args.epochs, **train_changes)
    event = Trainer(model, train, run_dir=args.run_dir, data_dir=args.data_dir, callback=report).run()
    raise SystemExit(0 if isinstance(event, ev.Finished) else 1)


def report(event: ev.TrainEvent) -> None:
    if isinstance(event, (ev.EpochEnd, ev.QualityEval, ev.Finished, ev.Failed)):
        print(type(event).__name__, {k: v for k, v in vars(event).items() if k != "preview"}, flush=True)


if __name__ == "__main__":
    main()

"""Tune a few-step sampler's noise levels on the shipped classifier (in the spirit of Align Your Steps).

For one budget of N model calls, a small search over the sampler and its explicit noise levels
(``SamplingConfig.levels``, sigma_max first), scored on the tuning classifier only: the objective is
``Frechet / floor + max(0, 99 - accuracy %)`` (one point of accuracy below 99 % costs as much as 1x of
the floor), at ``--per-digit`` samples a digit drawn from the same seeds for every candidate, so that
candidates differ by their levels and not their noise.

The search, in three stages, each starting from the best so far:
  1. every ``--samplers`` on EDM's rho = 7 grid with sigma_min in ``--sigma-mins``;
  2. the grid's rho in 2..12 (the levels bunch towards sigma_max as rho falls);
  3. coordinate moves: each interior level in turn times or divided by 1.5, then 1.2, while it helps.
Levels stay falling and sigma_max stays the model's own. One JSON line per candidate goes to
``--out``; the best is printed last, ready for ``EDM_BUDGETS`` and for ``scripts/quality_sweep.py
"levels=..."``. The held-out judges are for the confirmation run (quality_sweep.py), never used here.

    python scripts/tune_schedule.py --data-dir DATA --calls 4 [--guided-steps ...] --out tune.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from tui_denoiser.core import paths
from tui_denoiser.core.config import SamplingConfig
from tui_denoiser.core.data import load_split, to_model_range
from tui_denoiser.core.imaging import to_uint8
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.quality.classifier import load_classifier
from tui_denoiser.core.quality.judges import classifier_judge
from tui_denoiser.core.quality.stats import (frechet_distance, frechet_distance_from_stats, gaussian_stats,
                                             reference_indices)
from tui_denoiser.core.sampling import sample
from tui_denoiser.core.sampling_policy import count_model_calls


class Scorer:
    """Draws and scores candidates on the classifier, with the real digits' features computed once."""

    def __init__(self, loaded, data_dir: str, per_digit: int, seed: int):
        self.loaded, self.per_digit, self.seed = loaded, per_digit, seed
        self.judge = classifier_judge(load_classifier(paths.CLASSIFIER_PATH))
        test_x, test_y = load_split("mnist", data_dir, train=False, download=False)
        train_x, train_y = load_split("mnist", data_dir, train=True, download=False)
        ref_idx, floor_idx = reference_indices(test_y, train_y, int(train_x.shape[0]), per_digit, seed)
        ref_feats, _ = self.judge.outputs(to_model_range(test_x[ref_idx]))
        floor_feats, _ = self.judge.outputs(to_model_range(train_x[floor_idx]))
        self.ref_stats = gaussian_stats(ref_feats)
        self.floor = frechet_distance(floor_feats, ref_feats)
        self.labels = torch.arange(10).repeat(per_digit)
        self.seen: dict[str, dict] = {}

    def __call__(self, config: SamplingConfig) -> dict:
        key = json.dumps(config.to_dict(), sort_keys=True)
        if key in self.seen:
            return self.seen[key]
        t0 = time.perf_counter()
        images = []
        for b, start in enumerate(range(0, self.labels.shape[0], 500)):  # as eval and quality_sweep draw
            last = None
            for last in sample(self.loaded.model, self.labels[start:start + 500], config, seed=self.seed + b,
                               sigma_data=self.loaded.model_config.sigma_data):
                pass
            images.append(torch.from_numpy(to_uint8(torch.nan_to_num(last.images.float(), nan=0.0, posinf=1.0,
                                                                     neginf=-1.0))))
        feats, pred = self.judge.outputs(to_model_range(torch.cat(images)))
        accuracy = float((pred == self.labels).float().mean())
        ratio = frechet_distance_from_stats(*gaussian_stats(feats), *self.ref_stats) / self.floor
        result = {"config": config.to_dict(), "calls": count_model_calls(config), "accuracy": accuracy,
                  "frechet_ratio": ratio, "objective": ratio + max(0.0, 99 - 100 * accuracy),
                  "seconds": time.perf_counter() - t0}
        self.seen[key] = result
        return result


def rho_levels(steps: int, sigma_min: float, sigma_max: float, rho: float) -> tuple[float, ...]:
    if steps == 1:
        return (sigma_max,)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return tuple((hi + i / (steps - 1) * (lo - hi)) ** rho for i in range(steps))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=str(paths.DEFAULT_MODEL))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--calls", type=int, required=True, help="the budget N: model calls per sample")
    p.add_argument("--per-digit", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samplers", default="euler,dpm2m,dpm3m,ipndm,ipndm-v")
    p.add_argument("--sigma-mins", default="0.03,0.1,0.3,1")
    p.add_argument("--guidance", default="1", help="comma list of guidance weights to try in stage 1")
    p.add_argument("--interval", default="1:10", help="guidance interval LO:HI for guided candidates")
    p.add_argument("--refine", type=int, default=2, help="rounds of coordinate moves in stage 3")
    p.add_argument("--out", help="append one JSON line per candidate here")
    args = p.parse_args(argv)

    loaded = load_model(args.checkpoint, "cpu")
    base = loaded.sampling
    score = Scorer(loaded, args.data_dir, args.per_digit, args.seed)
    sigma_max = base.sigma_max
    interval = tuple(float(v) for v in args.interval.split(":"))

    def make(sampler: str, levels: tuple[float, ...], guidance: float) -> SamplingConfig | None:
        levels = (sigma_max, *(float(f"{v:.3g}") for v in levels[1:]))  # as a budget row stores them
        if not all(a > b for a, b in zip(levels, levels[1:])):
            return None
        config = base.replace(sampler=sampler, steps=len(levels), guidance=guidance,
                              guidance_interval=interval if guidance != 1 else None, levels=levels)
        return config if count_model_calls(config) <= args.calls else None

    best: dict | None = None

    def run(config: SamplingConfig | None, stage: str) -> None:
        nonlocal best
        if config is None:
            return
        if json.dumps(config.to_dict(), sort_keys=True) in score.seen:
            return  # measured already (the same levels reached another way)
        r = score(config)
        marker = ""
        if best is None or r["objective"] < best["objective"]:
            best, marker = r, "  *"
        lv = ":".join(f"{v:.4g}" for v in config.levels)
        print(f"{stage} {config.sampler:<8} g{config.guidance:g} levels={lv:<44} calls {r['calls']} "
              f"acc {100 * r['accuracy']:5.2f}% F {r['frechet_ratio']:5.2f}x obj {r['objective']:5.2f} "
              f"[{r['seconds']:.0f}s]{marker}", flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps({"stage": stage, "per_digit": args.per_digit, **r}) + "\n")

    samplers = args.samplers.split(",")
    for guidance in (float(g) for g in args.guidance.split(",")):
        # a guided step costs two calls: guidance at the levels inside the interval, one call elsewhere
        for sampler in samplers:
            for steps in range(args.calls, 0, -1):
                for sigma_min in (float(s) for s in args.sigma_mins.split(",")):
                    levels = rho_levels(steps, sigma_min, sigma_max, 7.0)
                    config = make(sampler, levels, guidance)
                    if config is not None:
                        run(config, "1")
                        if steps == 1:
                            break
                if make(sampler, rho_levels(steps, 0.1, sigma_max, 7.0), guidance) is not None:
                    break  # the most steps that fit this guidance; fewer steps are not tried
    assert best is not None, "no candidate fits the budget"
    top = SamplingConfig.from_dict(best["config"])
    if top.steps > 1:
        for rho in (2.0, 3.0, 4.0, 5.0, 10.0, 12.0):
            run(make(top.sampler, rho_levels(top.steps, top.levels[-1], sigma_max, rho), top.guidance), "2")
        for _ in range(args.refine):
            for factor in (1.5, 1.2):
                improved = True
                while improved:
                    improved = False
                    top = SamplingConfig.from_dict(best["config"])
                    for i in range(1, top.steps):
                        for move in (factor, 1 / factor):
                            levels = list(top.levels)
                            levels[i] *= move
                            if not all(a > b for a, b in zip(levels, levels[1:])):
                                continue
                            before = best["objective"]
                            run(make(top.sampler, tuple(levels), top.guidance), "3")
                            if best["objective"] < before:
                                improved = True
                                break
                        if improved:
                            break
    top = SamplingConfig.from_dict(best["config"])
    print("best:", json.dumps({"calls": best["calls"], "accuracy": best["accuracy"],
                               "frechet_ratio": best["frechet_ratio"], "sampler": top.sampler,
                               "guidance": top.guidance, "guidance_interval": top.guidance_interval,
                               "levels": [round(v, 4) for v in top.levels]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

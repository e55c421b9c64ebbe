"""Measure sampler settings side by side on every judge, the speck rate and the ink ratio.

Each setting is ``key=value`` pairs joined by commas, e.g.::

    python scripts/quality_sweep.py --data-dir DATA --per-digit 200 --judges classifier \\
        "sampler=dpm2m,steps=14,guidance=1.5,interval=0.3:10" "sampler=dpm2m,steps=14,guidance=1.5,sigma_min=0.02"

Keys: sampler, steps, guidance, interval (lo:hi, or "all"), sigma_min, sigma_max, start, levels
(explicit noise levels high:...:low, which also set steps and sigma_max). Samples are
drawn as ``eval`` draws them (labels 0..9 repeated, batches of 500 seeded ``seed + b``) and kept as
uint8 under ``--cache`` so another judge can score them later without sampling again. One JSON line
per setting goes to ``--out``. Tune with ``--judges classifier``; the held-out judges are for the
confirmation runs only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from tui_denoiser.core import paths
from tui_denoiser.core.quality.classifier import load_classifier
from tui_denoiser.core.config import SamplingConfig
from tui_denoiser.core.data import load_split
from tui_denoiser.core.imaging import to_uint8
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.quality.judges import FILES, classifier_judge, load_judge
from tui_denoiser.core.quality.scores import score_samples
from tui_denoiser.core.sampling import sample

KEYS = ("sampler", "steps", "guidance", "interval", "sigma_min", "sigma_max", "start", "churn", "levels")


def parse_setting(text: str, loaded) -> dict:
    """The model's own sampling config overridden by ``key=value`` pairs, as a plain dict."""
    base = loaded.sampling
    s = {"sampler": base.sampler, "steps": base.steps, "guidance": base.guidance,
         "interval": base.guidance_interval, "sigma_min": base.sigma_min, "sigma_max": base.sigma_max,
         "start": base.start, "churn": (base.churn_gamma, *base.churn_levels), "levels": base.levels}
    for part in filter(None, text.split(",")):
        key, _, value = part.partition("=")
        if key not in KEYS:
            raise SystemExit(f"unknown key {key!r} in {text!r}; keys: {', '.join(KEYS)}")
        if key in ("sampler", "start"):
            s[key] = value
        elif key == "steps":
            s[key] = int(value)
        elif key == "churn":  # GAMMA:LO:HI: dpm2m-churn's churn at the levels in LO..HI (GAMMA 0: dpm2m's images)
            s[key] = tuple(float(v) for v in value.split(":"))
        elif key == "levels":
            s[key] = tuple(float(v) for v in value.split(":"))
            s["steps"], s["sigma_max"] = len(s[key]), s[key][0]
        elif key == "interval":
            s[key] = None if value == "all" else tuple(float(v) for v in value.split(":"))
        else:
            s[key] = float(value)
    return s


def to_config(loaded, s: dict) -> SamplingConfig:
    return loaded.sampling.replace(sampler=s["sampler"], steps=s["steps"], guidance=s["guidance"],
                                   guidance_interval=s["interval"], sigma_min=s["sigma_min"],
                                   sigma_max=s["sigma_max"], start=s["start"], levels=s["levels"],
                                   churn_gamma=s["churn"][0], churn_levels=tuple(s["churn"][1:]))


def draw(loaded, setting: dict, per_digit: int, seed: int, batch_size: int = 500) -> tuple[np.ndarray, int, float]:
    labels = torch.arange(10).repeat(per_digit)
    config = to_config(loaded, setting)
    out, calls = [], 0
    t0 = time.perf_counter()
    for b, start in enumerate(range(0, labels.shape[0], batch_size)):
        last = None
        for last in sample(loaded.model, labels[start:start + batch_size], config, seed=seed + b,
                           sigma_data=loaded.model_config.sigma_data):
            pass
        images, calls = last.images, last.model_calls
        out.append(to_uint8(torch.nan_to_num(images.float(), nan=0.0, posinf=1.0, neginf=-1.0)))
    return np.concatenate(out), calls, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("settings", nargs="+")
    p.add_argument("--checkpoint", default=str(paths.DEFAULT_MODEL))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--per-digit", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--judges", default="classifier", help="comma list of classifier, mlp, autoencoder")
    p.add_argument("--judge-dir", help="folder holding judge-*.pt (default: the shipped assets)")
    p.add_argument("--cache", default="/tmp/sweep-cache")
    p.add_argument("--out", help="append one JSON line per setting here")
    args = p.parse_args(argv)

    loaded = load_model(args.checkpoint, "cpu")
    judges = []
    for name in args.judges.split(","):
        if name == "classifier":
            judges.append(classifier_judge(load_classifier(paths.CLASSIFIER_PATH)))
        else:
            folder = Path(args.judge_dir) if args.judge_dir else paths.shipped_dir()
            judges.append(load_judge(folder / FILES[name]))
    test_x, test_y = load_split("mnist", args.data_dir, train=False, download=False)
    train_x, train_y = load_split("mnist", args.data_dir, train=True, download=False)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    model_tag = hashlib.sha1(Path(args.checkpoint).read_bytes()).hexdigest()[:10]

    for text in args.settings:
        setting = parse_setting(text, loaded)
        keyed = {k: v for k, v in setting.items() if not (k == "levels" and v is None)}  # older caches' keys
        key = hashlib.sha1(json.dumps([model_tag, keyed, args.per_digit, args.seed], sort_keys=True,
                                      default=str).encode()).hexdigest()[:16]
        npy, meta = cache / f"{key}.npy", cache / f"{key}.json"
        if npy.exists() and meta.exists():
            images = np.load(npy)
            info = json.loads(meta.read_text())
        else:
            images, calls, seconds = draw(loaded, setting, args.per_digit, args.seed)
            np.save(npy, images)
            info = {"calls": calls, "seconds": seconds}
            meta.write_text(json.dumps(info))
        labels = torch.arange(10).repeat(args.per_digit)
        q = score_samples(torch.from_numpy(images), labels, judges, test_x, test_y, train_x, train_y,
                          per_digit=args.per_digit, seed=args.seed)
        cells = []
        for j in q.judges:
            acc = "  -   " if j.accuracy is None else f"{100 * j.accuracy:5.1f}%"
            cells.append(f"{j.judge[:4]} {acc} F {j.frechet:.3f}/{j.frechet_floor:.3f}={j.frechet_ratio:.2f}x "
                         f"div {j.diversity:.2f}")
        print(f"{text or 'default'}  [{info['calls']} calls, {info['seconds']:.0f}s]\n    " + " | ".join(cells)
              + f"\n    speck {100 * q.speck_rate:.2f}% ({q.speck_ratio:.2f}x real {100 * q.speck_rate_real:.2f}%)"
              f"  ink {q.ink_ratio:.3f}", flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps({"setting": text, "resolved": {k: v for k, v in setting.items()},
                                     "per_digit": args.per_digit, "seed": args.seed, **info,
                                     **q.to_json()}, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

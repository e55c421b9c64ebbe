"""Sampling speed: one 10-step trajectory of one digit, and the ten-digit preview, against the old path.

For each shipped model (``euler`` on denoiser-original.pt, ``heun`` on denoiser-edm.pt: the samplers the
old path had, unguided, 10 steps) and the variants given, times ``tui_denoiser.core.sampling.sample``
run to the end (every frame copied to the CPU, as the app does) against the path before the speed work:
the same sampler maths on the model as loaded (default memory layout), re-implemented here and checked
to give the same images. The models' own default samplers (guided ``dpm2m-churn``) had no such old path;
``sampling_budget.py`` times them. Baseline and ours alternate, repeat after repeat, so load from other
processes falls on both alike; medians are reported with their ratio.

    python benchmarks/sampling_speed.py [--threads N] [--baseline-threads N] [--repeats 15]

``--threads`` (default: the thread policy's pick, see ``cpu_threads``) applies to both;
``--baseline-threads`` runs the baseline at another count (the old code ran at torch's default).
"""

from __future__ import annotations

import argparse
import copy
import math
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.config import SamplingConfig  # noqa: E402
from tui_denoiser.core.inference import load_model  # noqa: E402
from tui_denoiser.core.paths import shipped_dir  # noqa: E402
from tui_denoiser.core.sampling import final_images, sigma_schedule  # noqa: E402
from tui_denoiser.core.sampling_policy import resolve_sampling  # noqa: E402
from tui_denoiser.core.threads import cpu_threads  # noqa: E402

ASSETS = shipped_dir()
TARGET_MS = {1: 20.0, 10: 100.0}


@torch.inference_mode()
def baseline_sample(model, labels, *, sampler, steps, sigma_max, sigma_min, seed, grid, start, sigma_data):
    """The sampler maths as before the speed work (default layout, no thread policy), final images."""
    labels_t = torch.as_tensor(labels, dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    levels = sigma_schedule(SamplingConfig(sampler=sampler, steps=steps, sigma_min=sigma_min, sigma_max=sigma_max,
                                           grid=grid))
    std = sigma_max if start == "pure" else math.sqrt(sigma_max**2 + sigma_data**2)
    x = torch.randn((labels_t.shape[0], 1, 28, 28), generator=generator) * std
    frames = [x.clone()]
    for k in range(steps):
        sigma, nxt = levels[k], levels[k + 1]
        d = model(x, torch.full((1, 1, 1, 1), sigma), labels_t).float()
        if sampler == "seed":
            x = d
        elif sampler == "euler" or nxt == 0:
            x = d + (nxt / sigma) * (x - d)
        else:  # heun
            xe = d + (nxt / sigma) * (x - d)
            dn = model(xe, torch.full((1, 1, 1, 1), nxt), labels_t).float()
            x = x + (nxt - sigma) * 0.5 * ((x - d) / sigma + (xe - dn) / nxt)
        frames.append(x.clone())
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--baseline-threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--variants", default="euler",
                        help="extra samplers to time on the edm model, comma separated (default: euler)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    else:
        cpu_threads(refresh=True)
    threads = torch.get_num_threads()
    base_threads = args.baseline_threads or threads
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"cpu: ours at {threads} torch threads, baseline at {base_threads}; torch {torch.__version__}; "
          f"load average {load}; median of {args.repeats}")
    cases = [("denoiser-original.pt", "euler"), ("denoiser-edm.pt", "heun")]
    cases += [("denoiser-edm.pt", v) for v in args.variants.split(",") if v]
    print(f"{'model':22} {'sampler':10} {'digits':>6} {'baseline ms':>12} {'ours ms':>9} {'ratio':>7} {'target':>8}")
    for name, sampler in cases:
        loaded = load_model(ASSETS / name)
        sampling = resolve_sampling(loaded.sampling, sampler=sampler, steps=10, guidance=1.0)
        sampler, steps = sampling.sampler, sampling.steps
        # The baseline runs the default layout; load_model prepares ours (channels-last on a CPU).
        base_model = copy.deepcopy(loaded.model).to(memory_format=torch.contiguous_format)
        kw = dict(sampler=sampler, steps=steps, sigma_max=sampling.sigma_max, sigma_min=sampling.sigma_min, seed=0,
                  grid=sampling.grid, start="pure", sigma_data=loaded.model_config.sigma_data)
        for digits in (1, 10):
            labels = list(range(10)) if digits == 10 else [3]
            ours_out = final_images(loaded.sample(labels, sampling, seed=0))
            torch.set_num_threads(base_threads)
            base_out = None
            for start in ("pure", "matched"):  # whichever start the model's sample() uses
                kw["start"] = start
                out = baseline_sample(base_model, labels, **kw)
                if torch.allclose(out, ours_out, atol=1e-3):
                    base_out = out
                    break
            torch.set_num_threads(threads)
            same = "same images" if base_out is not None else "IMAGES DIFFER"
            tb, to = [], []
            for _ in range(args.repeats):
                torch.set_num_threads(base_threads)
                t = time.perf_counter()
                baseline_sample(base_model, labels, **kw)
                tb.append(time.perf_counter() - t)
                torch.set_num_threads(threads)
                t = time.perf_counter()
                final_images(loaded.sample(labels, sampling, seed=0))
                to.append(time.perf_counter() - t)
            b, o = statistics.median(tb) * 1e3, statistics.median(to) * 1e3
            ok = "met" if o <= TARGET_MS[digits] else "missed"
            print(f"{name:22} {sampler:10} {digits:6d} {b:12.1f} {o:9.1f} {b / o:6.2f}x {TARGET_MS[digits]:5.0f} ms "
                  f"{ok} ({same})", flush=True)


if __name__ == "__main__":
    main()

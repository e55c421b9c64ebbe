"""CPU time to sample one digit at each ``--max-calls`` budget, beside the shipped default.

For each budget N, times ``tui_denoiser.core.sampling.sample`` run to the end (every frame copied to
the CPU, as the app does) with ``sampling_policy.within_budget(default, N)`` of ``--checkpoint``,
alternating with the default model's own setting (``--baseline``, the shipped default model) repeat after
repeat so that load from other processes falls on both alike; medians are reported with their ratio.

    python benchmarks/sampling_budget.py [--budgets 1,2,3,4,6,8,12] [--repeats 15] [--threads N]
    python benchmarks/sampling_budget.py --checkpoint shipped:consistency --budgets 1,2   # a student
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.inference import load_model  # noqa: E402
from tui_denoiser.core.paths import DEFAULT_MODEL, model_path  # noqa: E402
from tui_denoiser.core.sampling import final_images  # noqa: E402
from tui_denoiser.core.sampling_policy import EDM_BUDGETS, count_model_calls, within_budget  # noqa: E402
from tui_denoiser.core.threads import cpu_threads  # noqa: E402

TARGET_MS_AT_4_CALLS = 10.0


def time_once(loaded, config, seed: int) -> float:
    t0 = time.perf_counter()
    final_images(loaded.sample([seed % 10], config, seed=seed))
    return (time.perf_counter() - t0) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=str(DEFAULT_MODEL), help="PATH or shipped:NAME")
    p.add_argument("--baseline", default=str(DEFAULT_MODEL), help="the model whose own setting is timed beside")
    p.add_argument("--budgets", default=",".join(str(n) for n, _ in EDM_BUDGETS))
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: the thread policy's pick)")
    args = p.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    loaded = load_model(model_path(args.checkpoint), "cpu")
    baseline = load_model(model_path(args.baseline), "cpu")
    one_call = loaded.one_call_guidance
    threads = cpu_threads()
    default, base_config = loaded.sampling, baseline.sampling
    for _ in range(3):  # warm-up: oneDNN picks its kernels on the first calls
        time_once(loaded, default, 0)
        time_once(baseline, base_config, 0)
    print(f"one digit on the CPU, {threads} thread(s), median of {args.repeats}; beside {baseline.path.name}'s "
          f"{base_config.sampler} {base_config.steps} steps, {count_model_calls(base_config)} calls")
    print(f"{'budget':>6}  {'setting':<38} {'calls':>5}  {'ms':>7}  {'default ms':>10}  {'ratio':>6}")
    for n in (int(b) for b in args.budgets.split(",")):
        config = within_budget(default, n, one_call_guidance=one_call)
        ours, base = [], []
        for r in range(args.repeats):
            ours.append(time_once(loaded, config, r))
            base.append(time_once(baseline, base_config, r))
        mo, mb = statistics.median(ours), statistics.median(base)
        setting = f"{config.sampler} {config.steps} steps, guidance {config.guidance:g}"
        if config.guided and config.guidance_interval:
            setting += " at %g..%g" % config.guidance_interval
        calls = count_model_calls(config, one_call_guidance=one_call)
        print(f"{n:>6}  {setting:<38} {calls:>5}  {mo:7.1f}  {mb:10.1f}  {mb / mo:5.2f}x"
              + (f"  (target {TARGET_MS_AT_4_CALLS:g} ms: {'met' if mo <= TARGET_MS_AT_4_CALLS else 'missed'})"
                 if n == 4 else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bulk sampling: what 1,000 samples cost against 100, unchunked (the driver before) and chunked (now).

Issue 14 measured ``sample --count 1000`` at ~14x ``--count 100``, 40 % of it in the kernel mapping
fresh memory for the 1,000-sample activations. The driver now denoises in chunks (``CPU_CHUNK``).
Each measurement runs in its own process (so its peak RSS is its own, as ``/usr/bin/time -f %M``
reports it) and times only the sampling: the shipped default model with the sampling the issue
measured, pinned (dpm2m, 14 steps, guidance 1.5 at sigma 0.3..10: 19 calls), one digit, seed 0, CPU. Before and after alternate, repeat after repeat, so
load from other processes falls on both alike; medians of CPU seconds (user + sys, steadier than
wall time on a shared machine), wall seconds and peak RSS are printed with the 1,000/100 ratios.

    python benchmarks/bulk_sampling.py [--repeats 3] [--threads 1] [--counts 100,1000] [--chunk N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
from tui_denoiser.core.inference import load_model
from tui_denoiser.core.paths import DEFAULT_MODEL
from tui_denoiser.core.sampling import final_images, sample
loaded = load_model(DEFAULT_MODEL)
count, chunk = int(sys.argv[2]), int(sys.argv[3])
t0, r0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
config = loaded.sampling.replace(sampler="dpm2m", steps=14, guidance=1.5, guidance_interval=(0.3, 10.0))
images = final_images(sample(loaded.model, [3] * count, config, seed=0, chunk_size=chunk or None))
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": time.perf_counter() - t0, "user": r1.ru_utime - r0.ru_utime,
                  "sys": r1.ru_stime - r0.ru_stime, "rss_mb": r1.ru_maxrss / 1024,
                  "checksum": float(images.double().sum())}))
"""


def measure(count: int, chunk: int, threads: int) -> dict:
    env = dict(os.environ, DENOISER_TUI_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(count), str(chunk)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from tui_denoiser.core.sampling import CPU_CHUNK

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in every run (default 1)")
    parser.add_argument("--counts", default="100,1000")
    parser.add_argument("--chunk", type=int, default=CPU_CHUNK, help=f"chunk size of 'after' (default {CPU_CHUNK})")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    modes = {"before (one batch)": 0, f"after (chunks of {args.chunk})": args.chunk}
    runs: dict[tuple[str, int], list[dict]] = {(m, c): [] for m in modes for c in counts}
    loads = [os.getloadavg()[0]]
    for r in range(args.repeats):
        for count in counts:
            for mode, chunk in modes.items():
                result = measure(count, chunk, args.threads)
                runs[mode, count].append(result)
                loads.append(os.getloadavg()[0])
                print(f"  repeat {r + 1}: {mode:22s} {count:5d} samples: cpu {result['user'] + result['sys']:7.2f} s "
                      f"(sys {result['sys']:5.2f}), wall {result['wall']:7.2f} s, peak RSS {result['rss_mb']:6.0f} MB",
                      flush=True)
    for count in counts:  # chunking must not change the samples
        sums = {x["checksum"] for m in modes for x in runs[m, count]}
        print(f"checksum of the {count} samples in every run: {', '.join(f'{v:.6f}' for v in sorted(sums))}")

    def med(mode: str, count: int, key: str) -> float:
        values = runs[mode, count]
        return statistics.median(v["user"] + v["sys"] if key == "cpu" else v[key] for v in values)

    print(f"\nmedians of {args.repeats} runs, {args.threads} torch thread(s), 1-minute load "
          f"{min(loads):.1f}-{max(loads):.1f} on {os.cpu_count()} cores")
    lo, hi = counts[0], counts[-1]
    print(f"{'':24s} {'cpu ' + str(lo):>10s} {'cpu ' + str(hi):>10s} {'ratio':>6s} {'sys ' + str(hi):>9s} "
          f"{'wall ' + str(lo):>9s} {'wall ' + str(hi):>9s} {'ratio':>6s} {'RSS ' + str(hi):>9s}")
    for mode in modes:
        c_lo, c_hi = med(mode, lo, "cpu"), med(mode, hi, "cpu")
        w_lo, w_hi = med(mode, lo, "wall"), med(mode, hi, "wall")
        print(f"{mode:24s} {c_lo:9.2f}s {c_hi:9.2f}s {c_hi / c_lo:5.1f}x {med(mode, hi, 'sys'):8.2f}s "
              f"{w_lo:8.2f}s {w_hi:8.2f}s {w_hi / w_lo:5.1f}x {med(mode, hi, 'rss_mb'):7.0f}MB")


if __name__ == "__main__":
    main()

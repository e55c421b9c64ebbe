"""Memory: peak resident memory of a CPU training run, against the seed's loop and ``import torch``.

Each runs in its own child process; its peak RSS is read from ``os.wait4``'s rusage (``ru_maxrss``):

- ours: ``denoiser-tui train --max-steps N --device cpu`` on real MNIST (extra arguments after ``--``
  go to it, e.g. ``-- --bf16 --channels-last``);
- baseline: the seed's loop (benchmarks/train_throughput.py ``seed_loop``) for N steps;
- floor: ``python -c "import torch"``.

    python benchmarks/memory.py --data-dir DATA [--steps 100] [-- EXTRA TRAIN ARGS]

Target: ours at most 1.5 GB (1536 MiB).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_MIB = 1536


def peak_rss_mib(cmd: list[str], env: dict[str, str]) -> float:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()[-600:]}")
    return usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("extra", nargs="*", help="after --: more arguments for denoiser-tui train")
    args = parser.parse_args()
    env = dict(os.environ)
    app = shutil.which("denoiser-tui")
    train = [app] if app else [sys.executable, "-m", "tui_denoiser"]
    with tempfile.TemporaryDirectory() as tmp:
        env["DENOISER_TUI_HOME"] = tmp
        ours = peak_rss_mib(train + ["train", "--data-dir", args.data_dir, "--run-dir", f"{tmp}/run",
                                     "--device", "cpu", "--max-steps", str(args.steps), *args.extra], env)
        base_code = (f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); import torch; "
                     f"from train_throughput import seed_loop; "
                     f"seed_loop({args.data_dir!r}, torch.device('cpu'), {args.steps}, 0, 128)")
        base = peak_rss_mib([sys.executable, "-c", base_code], env)
        floor = peak_rss_mib([sys.executable, "-c", "import torch"], env)
    print(f"python -c 'import torch':                 {floor:7.0f} MiB")
    print(f"baseline seed loop, {args.steps} steps:          {base:7.0f} MiB")
    print(f"denoiser-tui train --max-steps {args.steps} {' '.join(args.extra)}: {ours:7.0f} MiB")
    print(f"ratio ours / baseline: {ours / base:.2f}x; target {LIMIT_MIB} MiB: "
          f"{'met' if ours <= LIMIT_MIB else 'missed'}")


if __name__ == "__main__":
    main()

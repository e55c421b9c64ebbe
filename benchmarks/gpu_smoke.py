"""GPU smoke check of the speed options (no data needed): a few trainer steps on CUDA in fp32, bf16 and
bf16 + torch.compile on synthetic digits, and the shipped models sampled on CUDA against the CPU.

    python benchmarks/gpu_smoke.py [--steps 30]

Prints one line per check and images/s of each trainer variant (synthetic data, short runs: a
correctness check, not a benchmark); exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tui_denoiser.core.inference import load_model  # noqa: E402
from tui_denoiser.core.paths import shipped_dir  # noqa: E402
from tui_denoiser.core.config import ModelConfig, TrainConfig  # noqa: E402
from tui_denoiser.core.sampling import final_images  # noqa: E402
from tui_denoiser.core.training import Trainer  # noqa: E402

ASSETS = shipped_dir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing to check")
        return 0
    print(f"{torch.cuda.get_device_name()}; torch {torch.__version__}", flush=True)
    g = torch.Generator().manual_seed(0)
    data = (torch.randint(0, 256, (4096, 28, 28), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (4096,), generator=g),
            torch.randint(0, 256, (512, 28, 28), dtype=torch.uint8, generator=g),
            torch.randint(0, 10, (512,), generator=g))
    failed = False
    for name, opts in [("fp32", {}), ("bf16", {"bf16": True}), ("bf16+compile", {"bf16": True, "compile": True}),
                       ("bf16+channels_last+compile", {"bf16": True, "channels_last": True, "compile": True})]:
        cfg = TrainConfig(device="cuda", epochs=1, max_steps=args.steps, preview=False, **opts)
        with tempfile.TemporaryDirectory() as run_dir:
            t = time.perf_counter()
            result = Trainer(ModelConfig(), cfg, run_dir=run_dir, data=data, data_dir=run_dir).run()
            wall = time.perf_counter() - t
            ok = result.kind == "finished"
            if ok:
                loaded = load_model(Path(run_dir) / "last.pt")
                ok = all(torch.isfinite(p).all() for p in loaded.model.parameters())
        failed |= not ok
        print(f"trainer {name:28} {'ok' if ok else 'FAILED'} ({result.kind}) {args.steps} steps in {wall:.1f}s",
              flush=True)
    for name in ("denoiser-original.pt", "denoiser-edm.pt"):
        cpu = final_images(load_model(ASSETS / name).sample(list(range(10)), seed=0))
        gpu = final_images(load_model(ASSETS / name, device="cuda").sample(list(range(10)), seed=0))
        diff = (cpu - gpu).abs().max().item()
        ok = diff < 5e-2
        failed |= not ok
        print(f"sampling {name:24} cuda vs cpu max abs diff {diff:.2e} {'ok' if ok else 'FAILED'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

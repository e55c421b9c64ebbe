"""Re-records the metrics.jsonl fixtures of the training-insight tests (issue 13) from tiny real runs.

    PYTHONPATH=tests python tests/tui/data/make_insight_runs.py

Two runs on the tiny synthetic IDX digits of tests/helpers/idx.py (8 steps an epoch, previews on, 5 samples a
digit per evaluation): ``run-a`` (6 epochs) and ``run-b`` (4 epochs, another learning rate), to watch
and to compare. Only their ``metrics.jsonl`` is kept, with the temporary folder in paths replaced.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from helpers.idx import make_tiny_mnist

from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.training import Trainer

HERE = Path(__file__).resolve().parent

RUNS = {"run-a": dict(epochs=6, lr=3e-3), "run-b": dict(epochs=4, lr=1e-3)}


def main() -> None:
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = make_tiny_mnist(Path(tmp) / "data")
        for name, changes in RUNS.items():
            run_dir = Path(tmp) / name
            cfg = TrainConfig(batch_size=32, device="cpu", seed=0, eval_per_digit=5, step_size=3, **changes)
            result = Trainer(ModelConfig(channels=(8, 16, 16)), cfg, run_dir=run_dir, data_dir=data).run()
            assert result.kind == "finished", result
            text = (run_dir / "metrics.jsonl").read_text().replace(str(Path(tmp)), "/tmp/runs")
            (HERE / name).mkdir(exist_ok=True)
            (HERE / name / "metrics.jsonl").write_text(text)
            print(name, len(text.splitlines()), "records")


if __name__ == "__main__":
    main()

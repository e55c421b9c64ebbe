"""``train --eval-every/--eval-per-digit/--no-eval``: records, progress lines, and bad values as one line."""

from __future__ import annotations

import json

import pytest

from tui_denoiser.cli.main import main


def _args(tiny_data_dir, run_dir):
    return ["train", "--data-dir", str(tiny_data_dir), "--run-dir", str(run_dir), "--batch-size", "32",
            "--channels", "8,16,16", "--no-preview", "--device", "cpu", "--seed", "1"]


def _kinds(run_dir, kind):
    return [e for e in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if e["kind"] == kind]


def test_train_evaluates_prints_the_quality_and_resumes_with_no_eval(tmp_path, tiny_data_dir, capsys):
    run_dir = tmp_path / "run"
    assert main([*_args(tiny_data_dir, run_dir), "--max-steps", "3", "--eval-per-digit", "3",
                     "--eval-every", "2"]) == 0
    quality = _kinds(run_dir, "quality")
    assert [(q["global_step"], q["at"], q["per_digit"]) for q in quality] == [(2, "step", 3), (3, "end", 3)]
    err = capsys.readouterr().err
    assert "quality at step 2: accuracy" in err and "sample quality at step 3: accuracy" in err
    assert _kinds(run_dir, "loss_by_sigma")[-1]["partial"] is True
    # a resume may turn the evaluation off (or change it); the rest of the run's config is its own
    assert main(["train", "--resume", str(run_dir), "--max-steps", "5", "--no-eval"]) == 0
    assert len(_kinds(run_dir, "quality")) == 2
    assert "quality" not in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, words", [
    ("--eval-every", "0", "argument --eval-every: expected a positive integer, got 0"),
    ("--eval-every", "-4", "argument --eval-every: expected a positive integer, got -4"),
    ("--eval-per-digit", "-1", "argument --eval-per-digit: expected an integer in 1..1000, got -1"),
    ("--eval-per-digit", "lots", "argument --eval-per-digit: expected an integer in 1..1000, got 'lots'"),
])
def test_bad_eval_flags_are_one_line_and_nothing_starts(tmp_path, tiny_data_dir, capsys, flag, value, words):
    run_dir = tmp_path / "run"
    assert main([*_args(tiny_data_dir, run_dir), flag, value]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"denoiser-tui train: {words}"]
    assert not run_dir.exists()


def test_info_lists_the_evaluations_beside_the_losses(capsys, monkeypatch):
    from rich.console import Console

    from tui_denoiser.cli import progress
    from tui_denoiser.core.config import ModelConfig, TrainConfig

    history = [{"epoch": 1, "train_loss": 0.2, "val_loss": 0.3, "lr": 1e-4, "accuracy": 0.187, "frechet": 50.2},
               {"epoch": 2, "train_loss": 0.1, "val_loss": 0.2, "lr": 1e-4}]  # an epoch without one
    monkeypatch.setattr(progress, "Console", lambda: Console(width=120, force_terminal=False))
    progress.print_info("x.pt", {"history": history}, ModelConfig(), TrainConfig(), 10)
    out = capsys.readouterr().out
    assert "accuracy" in out and "18.7 %" in out and "50.2" in out

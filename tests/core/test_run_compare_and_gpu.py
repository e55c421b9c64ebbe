"""Compared runs read from their metrics.jsonl (core/runs/compare.py) and the GPU panel's formatting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui_denoiser.core.errors import UserError
from tui_denoiser.core.runs.gpu_stats import GpuReading, format_gpu, read_gpu
from tui_denoiser.core.runs.compare import compare_problem, list_runs, read_run_curves
from tui_denoiser.core.runs.folder import METRICS_FILE

RUN_B = Path(__file__).parents[1] / "tui" / "data" / "run-b"


def test_curves_of_a_recorded_run():
    curves = read_run_curves(RUN_B)
    assert curves.name == "run-b" and curves.dataset == "mnist"
    assert [e[0] for e in curves.epochs] == [1, 2, 3, 4]
    assert [q[0] for q in curves.quality] == [8, 16, 24, 32]
    assert compare_problem(curves, "mnist") is None
    assert compare_problem(curves, "fashion-mnist") == \
        "run run-b trained on mnist, this one on fashion-mnist: not compared"


def test_a_resumed_run_keeps_the_last_record_of_an_epoch_and_skips_broken_lines(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    records = [{"kind": "started", "train_config": {"dataset": "mnist"}},
               {"kind": "epoch", "epoch": 0, "train_loss": 0.5, "val_loss": 0.4},
               {"kind": "epoch", "epoch": 0, "train_loss": 0.3, "val_loss": 0.2}]
    (run / METRICS_FILE).write_text("\n".join(map(json.dumps, records)) + '\nnot json\n{"kind": "epoch"}\n{"ki')
    assert read_run_curves(run).epochs == [(1, 0.3, 0.2)]


@pytest.mark.parametrize("make, words", [
    (lambda d: None, "run folder not found: {d}"),
    (lambda d: d.mkdir(), "{d} has no metrics.jsonl: nothing to compare"),
    (lambda d: (d / METRICS_FILE).mkdir(parents=True), "cannot read {d}/metrics.jsonl: it is a folder"),
    (lambda d: (d.mkdir(), (d / METRICS_FILE).write_text("garbage\n")),
     "{d}/metrics.jsonl holds no training records: nothing to compare"),
])
def test_unusable_folders_are_one_line(tmp_path, make, words):
    folder = tmp_path / "run"
    make(folder)
    with pytest.raises(UserError) as info:
        read_run_curves(folder)
    assert str(info.value) == words.format(d=folder) and "\n" not in str(info.value)


def test_list_runs_newest_first_and_a_missing_root_is_empty(tmp_path):
    import os

    for i, name in enumerate(("old", "new")):
        (tmp_path / name).mkdir()
        (tmp_path / name / METRICS_FILE).write_text("{}\n")
        os.utime(tmp_path / name / METRICS_FILE, (1000 + i, 1000 + i))
    (tmp_path / "not-a-run").mkdir()
    assert [p.name for p in list_runs(tmp_path)] == ["new", "old"]
    assert list_runs(tmp_path / "missing") == []


@pytest.mark.parametrize("reading, text", [
    (GpuReading("H100", 87.0, 5222.0, 81559.0, 61.0, 310.4), "GPU 87% · mem 5.1/79.6 GB · 61°C · 310 W"),
    (GpuReading("H100", None, 2048.0, 81920.0, None), "GPU · mem 2.0/80.0 GB"),  # torch only: memory
    (GpuReading("H100", 3.0, None, None, 40.0), "GPU 3% · 40°C"),
    (None, ""),
])
def test_gpu_reading_formats_what_was_measured(reading, text):
    assert format_gpu(reading) == text


def test_no_gpu_here_reads_none():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert read_gpu() is None

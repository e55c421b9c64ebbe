"""What a user sees when the shipped model is there, and when a damaged install lost it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tui_denoiser.core import paths
from tui_denoiser.tui.app import DenoiserApp, choose_start


def test_shipped_files_are_found_inside_the_package():
    assert paths.shipped_dir().parent == Path(paths.__file__).resolve().parents[1]
    for name in ("denoiser-edm.pt", "denoiser-original.pt", "mnist-classifier.pt"):
        assert paths.shipped_file(name).is_file(), name


def test_start_screen_is_decided_once(tmp_path, monkeypatch):
    assert choose_start(None, None) == ("sampling", None)
    assert choose_start("x.pt", None) == ("sampling", None)
    assert choose_start(None, "run") == ("training", None)
    monkeypatch.setattr(paths, "DEFAULT_MODEL", tmp_path / "denoiser-edm.pt")
    mode, problem = choose_start(None, None)
    assert mode == "training"
    assert "denoiser-edm.pt" in problem and "reinstall" in problem and "\n" not in problem


def test_app_without_the_shipped_model_opens_on_training_and_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "DEFAULT_MODEL", tmp_path / "denoiser-edm.pt")

    async def scenario():
        app = DenoiserApp(runs_root=tmp_path / "runs", warm_imports=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.current_mode == "training"
            notes = [str(n.message) for n in app._notifications]
            assert any("denoiser-edm.pt is missing" in n for n in notes), notes

    asyncio.run(scenario())


def test_app_opens_on_the_shipped_model(tmp_path):
    async def scenario():
        app = DenoiserApp(runs_root=tmp_path / "runs", warm_imports=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert app.current_mode == "sampling"
            assert app.start_problem is None

    asyncio.run(scenario())


def test_sample_without_the_shipped_model_is_one_line(tmp_path, monkeypatch, capsys):
    from tui_denoiser.cli.main import main

    monkeypatch.setattr(paths, "DEFAULT_MODEL", tmp_path / "denoiser-edm.pt")
    assert main(["sample", "--digit", "3", "--out", str(tmp_path / "a.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "denoiser-edm.pt is missing" in err
    assert not (tmp_path / "a.png").exists()


def test_python_dash_m_is_the_same_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "tui_denoiser", "sample", "--digit", "12", "--out", "x.png"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "digit must be 0..9" in out.stderr
    help_text = subprocess.run([sys.executable, "-m", "tui_denoiser", "--help"], capture_output=True, text=True,
                               timeout=120).stdout
    assert help_text.startswith("usage: denoiser-tui")

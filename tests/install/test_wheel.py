"""Install the wheel as a user would, into a throwaway venv, and use it from a folder outside the repo.

The venv reuses this environment's packages (``--system-site-packages`` and ``--no-deps``), so nothing
large is downloaded; the package itself comes from the wheel alone, which the test checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run(cmd, cwd, timeout=300, env=None):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory):
    """(python, denoiser-tui script, wheel path) of a fresh venv with the project's wheel installed."""
    if not (REPO / "pyproject.toml").is_file():
        pytest.skip("not run from a source checkout")
    work = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                  work / "dist", REPO], cwd=work)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((work / "dist").glob("tui_denoiser-*.whl"))
    venv.create(work / "venv", system_site_packages=True, with_pip=False)
    bin_dir = work / "venv" / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    installed = _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--force-reinstall", wheel],
                     cwd=work)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return python, bin_dir / "denoiser-tui", wheel


def test_wheel_carries_the_shipped_models(installed_wheel):
    import zipfile

    _, _, wheel = installed_wheel
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("denoiser-edm.pt", "denoiser-original.pt", "denoiser-edm-wide.pt", "mnist-classifier.pt"):
        assert f"tui_denoiser/assets/{name}" in names
    assert any(n.endswith(".tcss") for n in names)


def test_installed_wheel_samples_and_evaluates_from_any_folder(installed_wheel, tmp_path, tiny_data_dir):
    python, script, _ = installed_wheel
    where = _run([python, "-c", "import tui_denoiser, sys; print(tui_denoiser.__file__)"], cwd=tmp_path)
    assert str(Path(python).parents[1]) in where.stdout, "the venv imported the repository, not the wheel"

    sampled = _run([script, "sample", "--digit", "3", "--count", "4", "--out", "a.png"], cwd=tmp_path)
    assert sampled.returncode == 0, sampled.stderr
    assert (tmp_path / "a.png").stat().st_size > 0

    evaluated = _run([script, "eval", "--per-digit", "2", "--data-dir", tiny_data_dir], cwd=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    assert "accuracy" in evaluated.stdout.lower()

    info = _run([script, "info", "--help"], cwd=tmp_path)
    assert info.returncode == 0

    start = _run([python, "-c", "from tui_denoiser.tui.app import choose_start; print(choose_start(None, None))"],
                 cwd=tmp_path)
    assert start.stdout.strip() == "('sampling', None)", start.stderr


def test_damaged_install_says_which_file_is_missing(installed_wheel, tmp_path):
    python, script, _ = installed_wheel
    found = _run([python, "-c", "from tui_denoiser.core import paths; print(paths.DEFAULT_MODEL)"], cwd=tmp_path)
    model = Path(found.stdout.strip())
    assert str(Path(python).parents[1]) in str(model)
    hidden = model.with_name(model.name + ".hidden")
    model.rename(hidden)
    try:
        out = _run([script, "sample", "--digit", "3", "--out", "a.png"], cwd=tmp_path)
        assert out.returncode == 2
        assert len(out.stderr.strip().splitlines()) == 1
        assert "denoiser-edm.pt is missing" in out.stderr and "reinstall" in out.stderr
        assert not (tmp_path / "a.png").exists()
        start = _run([python, "-c", "from tui_denoiser.tui.app import choose_start; print(choose_start(None, None)[0])"],
                     cwd=tmp_path)
        assert start.stdout.strip() == "training"
    finally:
        hidden.rename(model)

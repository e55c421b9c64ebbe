"""The import contracts in pyproject.toml hold, and the first frame loads no torch.

import-linter sees every import, inside functions too, so it checks two halves: front ends never import
torch themselves, and the light core never reaches it. The subprocess test joins them: importing the
modules that draw the first frame loads, of the core, only that light core (the rest is imported inside
functions, after the first paint), and no torch.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIRST_FRAME = ["tui_denoiser.cli", "tui_denoiser.tui.app", "tui_denoiser.tui.screens.training",
               "tui_denoiser.tui.screens.sampling"]  # the app opens on either screen


def _contracts() -> list[dict]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_lint_imports_keeps_every_contract():
    pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e '.[test]'")
    command = shutil.which("lint-imports") or "lint-imports"
    done = subprocess.run([command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def test_first_frame_modules_load_only_the_light_core_and_no_torch():
    light = next(c for c in _contracts() if c.get("id") == "light-core")["source_modules"]
    code = ("import importlib, json, sys\n"
            f"for name in {FIRST_FRAME!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout)
    assert "torch" not in loaded and "torchvision" not in loaded
    core = {m for m in loaded if m.startswith("tui_denoiser.core.")}
    assert core <= set(light), f"add to the light-core contract, or import inside a function: {sorted(core - set(light))}"

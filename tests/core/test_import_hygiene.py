"""The core never pulls in the terminal UI libraries, and its light modules load without torch."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import tui_denoiser.core

CORE_DIR = Path(tui_denoiser.core.__file__).parent
CORE_MODULES = sorted(f"tui_denoiser.core.{m.name}" for m in pkgutil.iter_modules(tui_denoiser.core.__path__))
UI_LIBRARIES = ("textual", "rich", "rich_pixels")


def _modules_after_import(*names: str) -> list[str]:
    code = ("import importlib, json, sys\n"
            f"for name in {list(names)!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _top_level(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_every_core_module_is_listed():
    """The list is every ``core/*.py`` file (a glob, so a new module is checked the day it lands)."""
    files = sorted(f"tui_denoiser.core.{p.stem}" for p in CORE_DIR.glob("*.py") if p.stem != "__init__")
    assert sorted(f"tui_denoiser.core.{m.name}" for m in pkgutil.iter_modules(tui_denoiser.core.__path__)) == files
    assert {"tui_denoiser.core.quality.classifier", "tui_denoiser.core.quality.evaluate", "tui_denoiser.core.threads"} <= set(files)


def test_core_imports_no_ui_library():
    loaded = _modules_after_import("tui_denoiser.core", *CORE_MODULES)
    assert set(CORE_MODULES) <= set(loaded)
    assert not _top_level(loaded) & set(UI_LIBRARIES), sorted(_top_level(loaded) & set(UI_LIBRARIES))


def test_light_modules_import_without_torch():
    light = ["tui_denoiser.core", "tui_denoiser.core.config", "tui_denoiser.core.runs.events",
             "tui_denoiser.core.errors", "tui_denoiser.core.paths", "tui_denoiser.core.sampling_policy",
             "tui_denoiser.core.formatting"]
    loaded = _top_level(_modules_after_import(*light))
    assert "torch" not in loaded and "torchvision" not in loaded and "numpy" not in loaded
    assert not loaded & set(UI_LIBRARIES)

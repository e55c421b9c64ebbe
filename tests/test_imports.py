"""How the package's modules import each other: no cycle, the import contracts, and a first frame without torch.

- Every import of every module (inside functions too) is read with ``ast``; the graph of the project's
  own modules has no cycle, and ``core/quality/stats.py`` imports nothing else from the project.
- ``lint-imports`` keeps the contracts in pyproject.toml (written in packages).
- In a subprocess, the modules that draw the first frame load, of the core, only the light core (the
  rest is imported inside functions, after the first paint), and no torch; the light core loads
  without torch, numpy or a UI library; every core module loads without a UI library.
- No module in ``core/`` is over 400 lines.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tui_denoiser
import tui_denoiser.core

REPO = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(tui_denoiser.__file__).parent
FIRST_FRAME = ["tui_denoiser.cli.main", "tui_denoiser.tui.app", "tui_denoiser.tui.screens.training",
               "tui_denoiser.tui.screens.sampling"]  # the app opens on either screen
UI_LIBRARIES = ("textual", "rich", "rich_pixels")
MAX_CORE_LINES = 400


# -- the import graph, read from the source -----------------------------------------------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _project_modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules that ``name`` imports anywhere in its file (function bodies included).
    ``from package import name`` counts as importing the submodule where ``name`` is one."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    return {m for m in found if m in modules and m != name}


def _import_graph() -> dict[str, set[str]]:
    modules = _project_modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_walk_sees_function_level_and_relative_imports():
    graph = _import_graph()
    assert "tui_denoiser.core.training.trainer" in graph["tui_denoiser.core.training"]
    # cmd_eval imports the evaluation inside the function
    assert "tui_denoiser.core.quality.evaluate" in graph["tui_denoiser.cli.commands"]
    assert _a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_the_project_modules():
    cycle = _a_cycle(_import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_quality_stats_imports_nothing_else_from_the_project():
    assert _import_graph()["tui_denoiser.core.quality.stats"] == set()


def test_no_core_module_is_over_400_lines():
    long = {name: n for name, path in _project_modules().items()
            if name.startswith("tui_denoiser.core") and (n := len(path.read_text().splitlines())) > MAX_CORE_LINES}
    assert not long, long


# -- the contracts and what loads ----------------------------------------------------------------------

def _contracts() -> list[dict]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _light_core() -> list[str]:
    return next(c for c in _contracts() if c.get("id") == "light-core")["source_modules"]


def _modules_after_import(*names: str) -> list[str]:
    code = ("import importlib, json, sys\n"
            f"for name in {list(names)!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def _top_level(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_lint_imports_keeps_every_contract():
    pytest.importorskip("importlinter", reason="import-linter is in the test extra: pip install -e '.[test]'")
    command = shutil.which("lint-imports") or "lint-imports"
    done = subprocess.run([command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "BROKEN" not in done.stdout


def test_first_frame_modules_load_only_the_light_core_and_no_torch():
    light = _light_core()
    loaded = _modules_after_import(*FIRST_FRAME)
    assert "torch" not in loaded and "torchvision" not in loaded
    core = {m for m in loaded if m.startswith("tui_denoiser.core.")}
    outside = sorted(m for m in core if not any(m == p or m.startswith(p + ".") for p in light))
    assert not outside, f"add to the light-core contract, or import inside a function: {outside}"


def test_light_core_loads_without_torch_numpy_or_a_ui_library():
    names = ["tui_denoiser.core"]
    for name in _light_core():  # a package stands for every module under it
        names.append(name)
        folder = PACKAGE_DIR.parent.joinpath(*name.split("."))
        if folder.is_dir():
            names += [f"{name}.{m.name}" for m in pkgutil.iter_modules([str(folder)])]
    loaded = _top_level(_modules_after_import(*names))
    assert not loaded & {"torch", "torchvision", "numpy", *UI_LIBRARIES}, sorted(loaded)


def test_the_core_imports_no_ui_library():
    core = sorted(m.name for m in pkgutil.walk_packages(tui_denoiser.core.__path__, "tui_denoiser.core."))
    assert {"tui_denoiser.core.quality.evaluate", "tui_denoiser.core.training.trainer",
            "tui_denoiser.core.runs.watch", "tui_denoiser.core.threads"} <= set(core)
    loaded = _modules_after_import("tui_denoiser.core", *core)
    assert set(core) <= set(loaded)
    assert not _top_level(loaded) & set(UI_LIBRARIES), sorted(_top_level(loaded) & set(UI_LIBRARIES))

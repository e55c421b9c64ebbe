"""The playground's targets on real MNIST test digits with the shipped model (skipped without the data).

The same measure as ``scripts/playground_targets.py`` (whose 1,000-digit figures are in the README), on
fewer digits so it stays quick.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REAL_DATA = ROOT.parent / "shared" / "data"
COUNT = 100

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


def _script():
    spec = importlib.util.spec_from_file_location("playground_targets", ROOT / "scripts" / "playground_targets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def results():
    if not (REAL_DATA / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST not found at {REAL_DATA}")
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.paths import DEFAULT_MODEL

    script = _script()
    x, y, other = script.pick(*script.read_test_split(REAL_DATA), COUNT, 1)
    return script.measure(load_model(DEFAULT_MODEL), x, y, other, seed=1, log=lambda line: None)


def test_edit_at_sigma_0_3_keeps_the_digit(results):
    assert results["edit_0.3_psnr_db"] >= 24


def test_edit_at_sigma_5_turns_it_into_the_asked_digit(results):
    assert results["edit_5_read_as_asked"] >= 0.95


def test_inpainting_the_lower_half(results):
    assert results["inpaint_upper_identical"] == 1.0
    assert results["inpaint_read_as_asked"] >= 0.95


def test_morph_ends_equal_plain_samples(results):
    assert results["morph_ends_equal"] == 1.0

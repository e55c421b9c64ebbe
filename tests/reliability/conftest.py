"""Fixtures for the reliability tests (their subprocess helpers are in ``helpers.processes``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.idx import make_tiny_mnist


@pytest.fixture(scope="session")
def mid_data_dir(tmp_path_factory) -> Path:
    """1024 training images: with batch 16 an epoch is 64 steps, long enough to kill mid-epoch."""
    return make_tiny_mnist(tmp_path_factory.mktemp("mid-data"), n_train=1024, n_test=64)

"""The CLI's tests never run the real precision probe (seconds of timed training steps): a fake one
times every variant alike, so the choice is fp32 contiguous wherever the tests run."""

from __future__ import annotations

import pytest

from tui_denoiser.core import precision


class FakeProbe:
    """Seconds per step by variant name (1.0 for any not given); records what each probe timed."""

    def __init__(self, **seconds: float):
        self.seconds = dict(seconds)
        self.calls: list[list[str]] = []
        self.batch_sizes: list[int] = []

    def __call__(self, device, model_config, batch_size, variants):
        names = [precision.variant_name(v) for v in variants]
        self.calls.append(names)
        self.batch_sizes.append(batch_size)
        return {name: self.seconds.get(name, 1.0) for name in names}


@pytest.fixture(autouse=True)
def fake_probe(monkeypatch) -> FakeProbe:
    probe = FakeProbe()
    monkeypatch.setattr(precision, "probe_timings", probe)
    return probe

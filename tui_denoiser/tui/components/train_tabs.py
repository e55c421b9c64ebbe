"""The training screen's tabs: loss, quality, loss by σ, samples (with their history) and the log.

At 80x24 the tab area is a few rows tall, so each view gets the whole of it; ``v`` steps through them.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import TabbedContent, TabPane

from tui_denoiser.tui.widgets.event_log import EventLog
from tui_denoiser.tui.widgets.loss_chart import LossChart
from tui_denoiser.tui.widgets.preview_grid import PreviewGrid
from tui_denoiser.tui.widgets.quality_chart import QualityChart
from tui_denoiser.tui.widgets.sigma_chart import SigmaChart

TAB_IDS = ("tab-loss", "tab-quality", "tab-sigma", "tab-samples", "tab-log")


def train_tabs() -> ComposeResult:
    """Composed inside the training screen's ``compose``."""
    with TabbedContent(id="train-tabs"):
        with TabPane("Loss", id="tab-loss"):
            yield LossChart(id="chart")
        with TabPane("Quality", id="tab-quality"):
            yield QualityChart(id="quality")
        with TabPane("σ loss", id="tab-sigma"):
            yield SigmaChart(id="sigma")
        with TabPane("Samples", id="tab-samples"):
            yield PreviewGrid(id="preview")
        with TabPane("Log", id="tab-log"):
            yield EventLog(id="log")

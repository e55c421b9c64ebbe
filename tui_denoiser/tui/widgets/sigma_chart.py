"""The "σ loss" tab: the training loss binned by noise level (log σ on the x axis), epoch by epoch.

A diffusion model's mean loss flattens early; per noise level it shows where the model still learns.
The current epoch is drawn bright with its bins marked, the previous epoch faintly beside it. ``l``
switches the loss axis between linear and log, as on the loss chart.
"""

from __future__ import annotations

import math
from typing import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plot import HiResMode, NumericAxisFormatter

from tui_denoiser.tui.widgets.loss_chart import LogTicks, Plot

CURRENT = "dodger_blue1"
PREVIOUS = "grey37"


class SigmaTicks(NumericAxisFormatter):
    """Ticks placed in log10(σ), labelled with σ itself (0.01, 0.1, 1, 10)."""

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        return [f"{10 ** t:.2g}" for t in ticks]


class SigmaChart(Vertical):
    """Keeps the latest two epochs' (σ, mean loss) bins and redraws them."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.current: tuple[int, list[float], list[float | None], bool] | None = None  # epoch, σ, loss, partial
        self.previous: tuple[int, list[float], list[float | None], bool] | None = None
        self.log_scale = False

    def compose(self) -> ComposeResult:
        yield Static("", id="sigma-caption")
        yield Plot(allow_pan_and_zoom=False, id="sigma-plot")

    def on_mount(self) -> None:
        self.redraw()

    def reset(self) -> None:
        self.current = self.previous = None
        self.redraw()

    def add(self, epoch: int, sigma: list[float], loss: list[float | None], partial: bool = False) -> None:
        """One ``loss_by_sigma`` record; a record of the same epoch (a partial one completed) replaces it."""
        record = (epoch, list(sigma), list(loss), partial)
        if self.current is not None and self.current[0] != epoch:
            self.previous = self.current
        self.current = record
        self.redraw()

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.redraw()

    def _y(self, value: float | None) -> float:
        if value is None or not math.isfinite(value):
            return float("nan")
        if self.log_scale:
            return math.log10(value) if value > 0 else float("nan")
        return value

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        plot = self.query_one("#sigma-plot", Plot)
        plot.clear()
        plot.set_x_formatter(SigmaTicks())
        plot.set_y_formatter(LogTicks() if self.log_scale else NumericAxisFormatter())
        caption = Text("loss by σ (log σ) ")
        if self.current is None:
            caption.append("· appears at the end of the first epoch")
        else:
            epoch, _, _, partial = self.current
            caption.append(f"━ epoch {epoch + 1}{' (so far)' if partial else ''}", style=CURRENT)
            if self.previous is not None:
                caption.append(" ").append(f"━ epoch {self.previous[0] + 1}", style=PREVIOUS)
        scale, other = ("log", "linear") if self.log_scale else ("linear", "log")
        caption.append(f" · {scale} (l: {other})")
        self.query_one("#sigma-caption", Static).update(caption)
        for record, style, marker in ((self.previous, PREVIOUS, None), (self.current, CURRENT, "●")):
            if record is None:
                continue
            _, sigma, loss, _ = record
            pairs = [(math.log10(s), self._y(v)) for s, v in zip(sigma, loss) if s > 0]
            pairs = [(x, y) for x, y in pairs if math.isfinite(y)]
            if not pairs:
                continue
            xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
            if len(pairs) > 1:
                plot.plot(xs, ys, line_style=style, hires_mode=HiResMode.BRAILLE)
            if marker:
                plot.scatter(xs, ys, marker=marker, marker_style=style)

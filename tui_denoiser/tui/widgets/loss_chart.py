"""The live loss chart: smoothed per-step training loss and per-epoch train/validation loss.

textual-plot has no log axis, so the log view plots log10(loss) and labels the ticks with the losses
they stand for. Compared runs (``o``) add their validation loss per epoch in their own colours, named by
:func:`legend` (the quality and sigma charts import these shared parts from here).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static
from rich.text import Text
from textual_plot import HiResMode, NumericAxisFormatter, PlotWidget


class LogTicks(NumericAxisFormatter):
    """Ticks placed in log10 space, labelled with the value itself (0.01, 0.02, 0.05...)."""

    def get_labels_for_ticks(self, ticks: Sequence[float]) -> list[str]:
        # 320 rather than 3.2e+02: the labels must fit the 7-column margin
        return [f"{10 ** t:.0f}" if 10 ** t >= 10 else f"{10 ** t:.2g}" for t in ticks]


class Plot(PlotWidget, can_focus=False):
    """The plot without focus (its arrow-key panning would steal the screen's keys), tighter margins."""

    margin_top = reactive(0)
    margin_bottom = reactive(1)  # the tick labels; no x label row (every row counts at 80x24)
    margin_left = reactive(7)


def legend(overlays: Sequence[tuple[str, str, Any]]) -> Text:
    """``━ name`` in each compared run's colour (empty without overlays)."""
    text = Text()
    for name, colour, _ in overlays:
        text.append(" ━ ", style=colour).append(short_name(name))
    return text


def short_name(name: str, width: int = 13) -> str:
    """A run folder's name cut to its end (run folders are timestamps: the end tells them apart)."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


class LossChart(Vertical):
    """Keeps the points it was given and redraws them; it computes only the display smoothing."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; }
    LossChart > #chart-caption { height: auto; max-height: 2; color: $text-muted; }
    LossChart > Plot { height: 1fr; }
    """

    SMOOTHING = 0.3  # weight of the newest step update in the displayed moving average

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.step_points: list[tuple[float, float]] = []  # (epoch, smoothed loss)
        self.train_points: list[tuple[float, float]] = []  # (epoch, train loss)
        self.val_points: list[tuple[float, float]] = []  # (epoch, validation loss)
        self.log_scale = False
        self._smoothed: float | None = None
        self.overlays: list[tuple[str, str, list[tuple[float, float]]]] = []  # (run, colour, val points)

    def compose(self) -> ComposeResult:
        yield Static("", id="chart-caption")
        yield Plot(allow_pan_and_zoom=False)

    def on_mount(self) -> None:
        self.redraw()

    def reset(self) -> None:
        self.step_points.clear()
        self.train_points.clear()
        self.val_points.clear()
        self._smoothed = None
        self.redraw()

    def add_step(self, epoch_position: float, loss: float) -> None:
        if not math.isfinite(loss):
            return
        a = self.SMOOTHING
        self._smoothed = loss if self._smoothed is None else a * loss + (1 - a) * self._smoothed
        self.step_points.append((epoch_position, self._smoothed))
        self.redraw()

    def add_epoch(self, epoch_done: int, train_loss: float, val_loss: float) -> None:
        self.train_points.append((float(epoch_done), train_loss))
        self.val_points.append((float(epoch_done), val_loss))
        self.redraw()

    def trim_after(self, position: float) -> None:
        """Forget points past ``position`` (in epochs): work a killed run lost before it was resumed."""
        before = (len(self.step_points), len(self.train_points))
        self.step_points[:] = [p for p in self.step_points if p[0] <= position + 1e-9]
        self.train_points[:] = [p for p in self.train_points if p[0] <= position + 1e-9]
        self.val_points[:] = [p for p in self.val_points if p[0] <= position + 1e-9]
        if (len(self.step_points), len(self.train_points)) != before:
            self._smoothed = self.step_points[-1][1] if self.step_points else None
            self.redraw()

    def load_history(self, history: list[dict]) -> None:
        """Earlier epochs of a resumed run (``RunStarted.history``)."""
        for i, row in enumerate(history):
            train, val = row.get("train_loss"), row.get("val_loss")
            epoch = row.get("epoch", i)
            if isinstance(train, (int, float)) and isinstance(val, (int, float)):
                self.train_points.append((float(epoch) + 1, float(train)))
                self.val_points.append((float(epoch) + 1, float(val)))
        self.redraw()

    def set_overlays(self, overlays: list[tuple[str, str, list[tuple[float, float]]]]) -> None:
        """Compared runs: (name, colour, (epoch, validation loss) points) each."""
        self.overlays = list(overlays)
        self.redraw()

    def toggle_log(self) -> None:
        self.log_scale = not self.log_scale
        self.redraw()

    def _y(self, values: list[float]) -> list[float]:
        if not self.log_scale:
            return values
        return [math.log10(v) if v > 0 else float("nan") for v in values]

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        plot = self.query_one(Plot)
        scale = "log" if self.log_scale else "linear"
        other = "linear" if self.log_scale else "log"
        caption = Text.assemble("loss/epoch ", ("━ step", "grey70"), " ", ("━ train", "dodger_blue1"), " ",
                                ("━ val", "orange1"), f" · {scale} (l: {other})")
        if self.overlays:
            caption.append(" · val:").append_text(legend(self.overlays))
        self.query_one("#chart-caption", Static).update(caption)
        plot.clear()
        plot.set_y_formatter(LogTicks() if self.log_scale else NumericAxisFormatter())
        for points, style, label, scatter in (
            (self.step_points, "grey70", "step (smoothed)", False),
            *((points, colour, name, True) for name, colour, points in self.overlays),  # over the step line
            (self.train_points, "dodger_blue1", "train / epoch", True),
            (self.val_points, "orange1", "val / epoch", True),
        ):
            if not points:
                continue
            xs = [p[0] for p in points]
            ys = self._y([p[1] for p in points])
            if scatter and len(points) == 1:
                plot.scatter(xs, ys, marker="●", marker_style=style, label=label)
            else:
                plot.plot(xs, ys, line_style=style, hires_mode=HiResMode.BRAILLE, label=label)

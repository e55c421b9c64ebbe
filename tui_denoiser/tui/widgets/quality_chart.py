"""The Quality tab: accuracy and Frechet distance of the in-training evaluations against steps.

Two plots side by side (their units differ): accuracy in per cent, and the Frechet distance on a log
axis with the real-vs-real floor as a grey line. Compared runs (``o``) are drawn in their own colours,
named in the caption's legend.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual_plot import HiResMode, NumericAxisFormatter

from tui_denoiser.tui.widgets.loss_chart import LogTicks, Plot, legend

THIS_RUN = "dodger_blue1"
FRECHET = "orange1"
FLOOR = "grey50"
# Compared runs, in order; named colours that look alike in 256 colours and truecolour.
COMPARE_COLOURS = ("magenta", "chartreuse3", "gold1", "cyan", "light_salmon1")


class QualityChart(Vertical):
    """Keeps (step, accuracy, Frechet) points and redraws them; nothing is computed here."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.points: list[tuple[float, float, float]] = []  # (global step, accuracy 0..1, frechet)
        self.floor: float | None = None
        self.overlays: list[tuple[str, str, list[tuple[float, float, float]]]] = []  # (name, colour, points)

    def compose(self) -> ComposeResult:
        yield Static("", id="quality-caption")
        with Horizontal(id="quality-plots"):
            yield Plot(allow_pan_and_zoom=False, id="accuracy-plot")
            yield Plot(allow_pan_and_zoom=False, id="frechet-plot")

    def on_mount(self) -> None:
        self.redraw()

    def reset(self) -> None:
        self.points.clear()
        self.floor = None
        self.redraw()

    def add(self, step: int, accuracy: float, frechet: float, floor: float | None = None) -> None:
        self.points = [p for p in self.points if p[0] != step] + [(float(step), accuracy, frechet)]
        self.points.sort()
        if floor is not None and math.isfinite(floor):
            self.floor = floor
        self.redraw()

    def load_history(self, history: list[dict]) -> None:
        """Earlier evaluations of a resumed run (the epoch records of ``RunStarted.history``)."""
        for row in history:
            acc, fd, step = row.get("accuracy"), row.get("frechet"), row.get("global_step")
            if all(isinstance(v, (int, float)) for v in (acc, fd, step)):
                self.points.append((float(step), float(acc), float(fd)))
        self.points.sort()
        self.redraw()

    def trim_after(self, step: float) -> None:
        """Forget evaluations past ``step``: work a killed run lost before it was resumed."""
        kept = [p for p in self.points if p[0] <= step]
        if len(kept) != len(self.points):
            self.points = kept
            self.redraw()

    def set_overlays(self, overlays: list[tuple[str, str, list[tuple[float, float, float]]]]) -> None:
        self.overlays = list(overlays)
        self.redraw()

    def redraw(self) -> None:
        if not self.is_mounted:
            return
        caption = Text.assemble(("━ accuracy %", THIS_RUN), "  ", ("━ Frechet (log)", FRECHET), " ",
                                ("━ floor", FLOOR))
        if self.points:
            step, acc, fd = self.points[-1]
            floor = f" (floor {self.floor:.3g})" if self.floor is not None else ""
            caption.append(f" · step {step:.0f}: {100 * acc:.1f}%, {fd:.3g}{floor}")
        else:
            caption.append(" · after the first evaluation")
        caption.append_text(legend(self.overlays))
        self.query_one("#quality-caption", Static).update(caption)
        acc_plot, fd_plot = self.query_one("#accuracy-plot", Plot), self.query_one("#frechet-plot", Plot)
        acc_plot.clear()
        fd_plot.clear()
        acc_plot.set_ylimits(0, 100)
        fd_plot.set_y_formatter(LogTicks())
        acc_plot.set_y_formatter(NumericAxisFormatter())
        series = [*((name, colour, pts) for name, colour, pts in self.overlays), ("this run", None, self.points)]
        steps = [p[0] for _, _, pts in series for p in pts]
        for name, colour, pts in series:
            if not pts:
                continue
            xs = [p[0] for p in pts]
            accs = [100 * p[1] for p in pts]
            fds = [math.log10(p[2]) if p[2] > 0 else float("nan") for p in pts]
            for plot, ys, style in ((acc_plot, accs, colour or THIS_RUN), (fd_plot, fds, colour or FRECHET)):
                if len(pts) == 1:
                    plot.scatter(xs, ys, marker="●", marker_style=style, label=name)
                else:
                    plot.plot(xs, ys, line_style=style, hires_mode=HiResMode.BRAILLE, label=name)
        logs = [math.log10(p[2]) for _, _, pts in series for p in pts if p[2] > 0]
        if self.floor is not None and self.floor > 0 and steps:
            lo, hi = min(steps), max(steps)
            fd_plot.plot([lo, hi] if hi > lo else [lo - 0.5, lo + 0.5], [math.log10(self.floor)] * 2,
                         line_style=FLOOR, hires_mode=HiResMode.BRAILLE, label="floor")
            logs.append(math.log10(self.floor))
        if logs:  # a margin, so that the floor on the lowest row is not lost under the axis
            pad = max(max(logs) - min(logs), 0.2) * 0.08
            fd_plot.set_ylimits(min(logs) - pad, max(logs) + pad)

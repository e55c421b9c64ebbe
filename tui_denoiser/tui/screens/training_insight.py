"""The training screen's insight keys and workers (issue 13): views, compared runs, preview history, GPU.

The base class of :class:`~tui_denoiser.tui.screens.training.TrainingScreen` (a Screen, so that Textual
merges its key bindings), so that the screen module stays about running a trainer. Reading run folders and the GPU happens in thread workers that post messages;
widgets are only touched on the event loop, and both workers end when cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import on, work
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import TabbedContent
from textual.worker import get_current_worker

from tui_denoiser.tui.components.train_tabs import TAB_IDS
from tui_denoiser.tui.widgets.loss_chart import LossChart
from tui_denoiser.tui.widgets.preview_grid import PreviewGrid
from tui_denoiser.tui.widgets.quality_chart import COMPARE_COLOURS, QualityChart
from tui_denoiser.tui.widgets.run_progress import RunProgress

GPU_POLL_S = 2.0
# Keys that only mean something on some tabs: the footer shows them there only (it must fit 80 columns).
TAB_KEYS = {"toggle_log": ("tab-loss", "tab-sigma"), "preview_flip": ("tab-samples",),
            "compare": ("tab-loss", "tab-quality")}


@dataclass
class RunsCompared(Message):
    """The compared runs' curves (core ``RunCurves``), and one line for each folder that was refused."""

    curves: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class GpuRead(Message):
    """The GPU panel's line (empty: no GPU reading)."""

    text: str


# Listed after the screen's own keys (TrainingScreen.BINDINGS adds them), so the footer starts with Start.
INSIGHT_BINDINGS = [
    Binding("v", "next_view", "View", tooltip="Next view: loss, quality, loss by σ, samples, log"),
    Binding("o", "compare", "Compare", tooltip="Overlay earlier runs' loss and quality curves (loss, quality)"),
    Binding("left_square_bracket", "preview_flip(-1)", "Earlier", key_display="[",
            tooltip="Samples: the previous epoch's preview (same seeds every epoch)"),
    Binding("right_square_bracket", "preview_flip(1)", "Later", key_display="]",
            tooltip="Samples: the next epoch's preview"),
]


class InsightScreen(Screen):
    """Keys (:data:`INSIGHT_BINDINGS`): ``v`` next view, ``o`` compare runs, ``[``/``]`` flip through the
    epochs' previews."""

    compared: list[str]  # the run folders overlaid now

    def insight_allowed(self, action: str) -> bool | None:
        """Whether a key of a single tab applies to the tab on show; None for keys of every tab."""
        tabs = TAB_KEYS.get(action)
        if tabs is None:
            return None
        return self.query_one("#train-tabs", TabbedContent).active in tabs

    @on(TabbedContent.TabActivated, "#train-tabs")
    def _tab_changed(self) -> None:
        self.refresh_bindings()

    def action_next_view(self) -> None:
        tabs = self.query_one("#train-tabs", TabbedContent)
        active = tabs.active if tabs.active in TAB_IDS else TAB_IDS[-1]
        tabs.active = TAB_IDS[(TAB_IDS.index(active) + 1) % len(TAB_IDS)]

    def action_preview_flip(self, delta: int) -> None:
        if not self.query_one(PreviewGrid).flip(delta):
            self.app.bell()

    # -- compare runs -------------------------------------------------------------------------------
    def action_compare(self) -> None:
        """Pick earlier runs to overlay: the runs folder's, and the folders beside a watched run (the run
        on show is left out)."""
        from tui_denoiser.core.paths import default_runs_root
        from tui_denoiser.core.runs.compare import list_runs
        from tui_denoiser.tui.screens.compare_prompt import ComparePrompt

        root = Path(self.runs_root or default_runs_root()).expanduser()
        shown = {Path(p).expanduser().resolve() for p in (self.run_dir, self.watch_dir) if p}
        roots = [root, *(Path(p).expanduser().parent for p in (self.watch_dir,) if p)]
        runs: list[Path] = []
        for found in (run for folder in roots for run in list_runs(folder)):
            if found.resolve() not in shown and found.resolve() not in {r.resolve() for r in runs}:
                runs.append(found)
        if not runs:
            self.notify(f"no earlier runs in {root} to compare", severity="warning")
            return
        rows = [(str(p), p.name) for p in runs[:50]]
        self.app.push_screen(ComparePrompt(rows, set(getattr(self, "compared", []))), self._compare_answered)

    def _compare_answered(self, chosen: list[str] | None) -> None:
        if chosen is None:
            return
        self.compared = list(chosen)
        self._load_compared(list(chosen), self.dashboard.dataset)

    @work(thread=True, exclusive=True, group="compare", exit_on_error=False)
    def _load_compared(self, folders: list[str], dataset: str | None) -> None:
        """Reads each folder's metrics.jsonl (a large file takes a moment) and posts the curves."""
        from tui_denoiser.core.errors import UserError
        from tui_denoiser.core.runs.compare import compare_problem, read_run_curves

        curves, problems = [], []
        for folder in folders:
            if get_current_worker().is_cancelled:
                return
            try:
                run = read_run_curves(folder)
            except UserError as exc:
                problems.append(str(exc))
                continue
            problem = compare_problem(run, dataset)
            if problem is not None:
                problems.append(problem)
            else:
                curves.append(run)
        self.post_message(RunsCompared(curves, problems))

    def on_runs_compared(self, message: RunsCompared) -> None:
        overlays = [(run.name, colour, run) for run, colour in zip(message.curves, COMPARE_COLOURS)]
        self.compared = [str(run.path) for _, _, run in overlays]
        self.query_one(LossChart).set_overlays(
            [(name, colour, [(float(e), val) for e, _, val in run.epochs]) for name, colour, run in overlays])
        self.query_one(QualityChart).set_overlays(
            [(name, colour, [(float(s), a, f) for s, a, f in run.quality]) for name, colour, run in overlays])
        for line in message.problems:
            self.event_log.add(f"✗ {line}", "error")
            self.notify(line, title="Not compared", severity="warning")
        if overlays:
            self.event_log.add("comparing with " + ", ".join(name for name, _, _ in overlays))

    # -- GPU panel ----------------------------------------------------------------------------------
    def start_gpu_panel(self) -> None:
        """Poll the GPU while a CUDA run trains or is watched (``exclusive``: one poller at a time)."""
        self._gpu_worker = self._poll_gpu()

    def stop_gpu_panel(self) -> None:
        worker = getattr(self, "_gpu_worker", None)
        if worker is not None:
            worker.cancel()
            self._gpu_worker = None

    @work(thread=True, exclusive=True, group="gpu", exit_on_error=False)
    def _poll_gpu(self) -> None:
        """Reads the GPU every ``GPU_POLL_S`` until cancelled (NVML calls take a millisecond or so, but
        never on the event loop)."""
        from tui_denoiser.core.runs.gpu_stats import format_gpu, read_gpu

        cancelled = get_current_worker().cancelled_event
        while not cancelled.is_set():
            self.post_message(GpuRead(format_gpu(read_gpu())))
            cancelled.wait(GPU_POLL_S)

    def on_gpu_read(self, message: GpuRead) -> None:
        self.query_one(RunProgress).show_gpu(message.text)

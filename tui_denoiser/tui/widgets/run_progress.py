"""Progress of a run: epoch and step bars, elapsed, ETA, images/s, device and GPU memory, and on CUDA
a GPU line (utilisation, memory, temperature; hidden without a GPU).

Every figure comes from the trainer's events; before a run it shows dashes (no clock, so screenshots of
an idle screen are deterministic).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from tui_denoiser.core.formatting import format_duration


class RunProgress(Vertical):
    DEFAULT_CSS = """
    RunProgress { height: auto; }
    RunProgress > Horizontal { height: 1; }
    RunProgress .bar-label { width: 15; }
    RunProgress ProgressBar { width: 1fr; }
    RunProgress ProgressBar > Bar { width: 1fr; }
    RunProgress > Static { height: 1; }
    RunProgress > #gpu { display: none; color: $text-muted; }
    RunProgress > #gpu.-shown { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.epochs = 0
        self.steps_per_epoch = 0
        self._device_text = "device -"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("epoch  -", id="epoch-label", classes="bar-label")
            yield ProgressBar(total=1, show_eta=False, id="epoch-bar")
        with Horizontal():
            yield Static("step   -", id="step-label", classes="bar-label")
            yield ProgressBar(total=1, show_eta=False, id="step-bar")
        yield Static("elapsed -  ETA -  - img/s", id="speed")
        yield Static("device -", id="device")
        yield Static("", id="gpu")

    def show_gpu(self, text: str) -> None:
        """The GPU panel's line (core ``format_gpu``); an empty text hides it."""
        gpu = self.query_one("#gpu", Static)
        gpu.update(text)
        gpu.set_class(bool(text), "-shown")

    def start(self, *, epochs: int, steps_per_epoch: int, start_epoch: int, device: str, device_name: str) -> None:
        self.epochs, self.steps_per_epoch = epochs, steps_per_epoch
        self._set_epoch(start_epoch, 0)
        self._device_text = f"device {device_name or device}"
        self.query_one("#device", Static).update(self._device_text)

    def _set_epoch(self, epoch_done: int, step_in_epoch: int) -> None:
        shown = min(epoch_done + 1, max(self.epochs, 1))
        self.query_one("#epoch-label", Static).update(f"epoch {shown:>3}/{self.epochs}")
        self.query_one("#epoch-bar", ProgressBar).update(total=max(self.epochs, 1), progress=epoch_done)
        self.query_one("#step-label", Static).update(f"step {step_in_epoch:>4}/{self.steps_per_epoch}")
        self.query_one("#step-bar", ProgressBar).update(total=max(self.steps_per_epoch, 1), progress=step_in_epoch)

    def step(self, *, epoch: int, step_in_epoch: int, images_per_s: float, elapsed_s: float, eta_s: float,
             gpu_memory_mb: float | None) -> None:
        self._set_epoch(epoch, step_in_epoch)
        self._speed(elapsed_s, eta_s, images_per_s)
        if gpu_memory_mb is not None:
            self.query_one("#device", Static).update(f"{self._device_text} · GPU mem {gpu_memory_mb:,.0f} MB")

    def epoch_end(self, *, epoch: int, elapsed_s: float, eta_s: float, images_per_s: float) -> None:
        self._set_epoch(epoch + 1, self.steps_per_epoch)
        self._speed(elapsed_s, eta_s, images_per_s)

    def _speed(self, elapsed_s: float, eta_s: float, images_per_s: float) -> None:
        self.query_one("#speed", Static).update(
            f"elapsed {format_duration(elapsed_s)}  ETA {format_duration(eta_s)}  {images_per_s:,.0f} img/s")

"""The trajectory on show: the current step large, the batch beside it, "step k of K" with its noise
level above, the strip of every step below; stepping and playback.

It owns the frames, the step index and the playback timer; the screen hands it each finished
trajectory and maps keys to :meth:`step`, :meth:`jump` and :meth:`toggle_play`.
"""

from __future__ import annotations

from typing import Any, Sequence

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static

from tui_denoiser.tui.components.sampling_controls import BATCH, SampleRequest
from tui_denoiser.tui.components.step_strip import STRIP_PX, StepStrip
from tui_denoiser.tui.widgets.digit_image import DigitImage

PLAY_INTERVAL_S = 0.18
# Sizes in terminal cells: one column per pixel, two pixel rows per text row (half blocks).
IMAGE_PX = 28  # an MNIST digit's side; the big image is drawn at a whole multiple of it
MAX_SCALE = 4  # the big image grows to at most 4 x 28 pixels
BATCH_PER_ROW = 2  # the batch is drawn two images to a row beside the big one
BATCH_MIN_PX = IMAGE_PX // 2  # a batch image is never narrower than half a digit
BIG_MARGIN = 1  # columns between the big image and the batch (#big's margin in sampling.tcss)
STEP_INFO_ROWS = 1  # the "step k of K" line
STRIP_ROWS = STRIP_PX // 2 + 2  # thumbnails, their captions and the scroll bar (#strip's height)


def rows(px: int) -> int:
    """Text rows an image ``px`` pixels tall takes."""
    return (px + 1) // 2


def fit(width: int, height: int) -> tuple[int, int]:
    """(big image, batch image) widths in pixels for a viewer of ``width`` x ``height`` cells: the big
    image grows by whole digits while the smallest batch and the strip still fit; the batch then
    grows with it where there is room."""
    scale = 1
    while (scale < MAX_SCALE and IMAGE_PX * (scale + 1) + BIG_MARGIN + BATCH_PER_ROW * BATCH_MIN_PX <= width
           and STEP_INFO_ROWS + rows(IMAGE_PX * (scale + 1)) + STRIP_ROWS <= height):
        scale += 1
    big = IMAGE_PX * scale
    batch = BATCH_MIN_PX * scale
    return big, batch if big + BIG_MARGIN + BATCH_PER_ROW * batch <= width else BATCH_MIN_PX


class StepViewer(Vertical):
    """Shows one trajectory step by step; blank (with a line saying why) until the first one."""

    def __init__(self, *, batch: int = BATCH, id: str | None = None) -> None:
        super().__init__(id=id)
        self.batch = batch
        self.frames: list[Any] = []  # uint8 (B, 28, 28) per step
        self.sigmas: list[float] = []
        self.step_index = 0
        self.request: SampleRequest | None = None  # the request the frames answer
        self._play_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("loading the model…", id="step-info")
        with Horizontal(id="samp-main"):
            yield DigitImage(IMAGE_PX, id="big")
            with Vertical(id="batch"):
                for row in range(0, self.batch, BATCH_PER_ROW):
                    with Horizontal(classes="batch-row"):
                        for i in range(row, min(row + BATCH_PER_ROW, self.batch)):
                            yield DigitImage(BATCH_MIN_PX, id=f"batch-{i}", classes="batch-image")
        yield StepStrip(id="strip")

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_images)

    def _fit_images(self) -> None:
        if self.size.width == 0:
            return
        big, batch = fit(self.size.width, self.size.height)
        self.query_one("#big", DigitImage).set_size(big)
        for image in self.query(".batch-image").results(DigitImage):
            image.set_size(batch)

    def show_message(self, text: str) -> None:
        self.query_one("#step-info", Static).update(text)

    @property
    def step_text(self) -> str:
        """What the step line says now (tests read it)."""
        return str(self.query_one("#step-info", Static).content)

    def show_trajectory(self, request: SampleRequest, frames: Sequence[Any], sigmas: Sequence[float]) -> None:
        """Show a new trajectory: the last step the first time or when the step count changed, else
        the same step as before (changing the digit or seed keeps the place)."""
        total = len(frames) - 1
        if self.request is None or len(self.frames) - 1 != total:
            self.step_index = total
        self.step_index = min(self.step_index, total)
        self.frames, self.sigmas, self.request = list(frames), list(sigmas), request
        self.query_one(StepStrip).show(self.frames, self.step_index)
        self._show_step()

    def _show_step(self) -> None:
        if not self.frames or self.request is None:
            return
        k, frame = self.step_index, self.frames[self.step_index]
        self.query_one("#big", DigitImage).set_image(frame[0])
        for i, image in enumerate(self.query(".batch-image").results(DigitImage)):
            image.set_image(frame[i] if i < len(frame) else None)
        self.show_message(f"step {k} of {len(self.frames) - 1} · noise σ {self.sigmas[k]:.3f} · "
                          f"digit {self.request.digit} · {self.request.sampler}")
        self.query_one(StepStrip).mark(k)

    def step(self, delta: int) -> None:
        if self.frames:
            self.step_index = max(0, min(len(self.frames) - 1, self.step_index + delta))
            self._show_step()

    def jump(self, where: int) -> None:
        """0: the starting noise; anything else: the final sample."""
        if self.frames:
            self.step_index = 0 if where == 0 else len(self.frames) - 1
            self._show_step()

    # ----------------------------------------------------------------- playback
    @property
    def playing(self) -> bool:
        return self._play_timer is not None

    def toggle_play(self) -> None:
        """Play from the start (or from here) to the last step; pause if playing."""
        if self._play_timer is not None:
            self.stop_playing()
            return
        if not self.frames:
            return
        if self.step_index >= len(self.frames) - 1:
            self.step_index = 0
            self._show_step()
        self._play_timer = self.set_interval(PLAY_INTERVAL_S, self._tick)

    def stop_playing(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def _tick(self) -> None:
        if self.step_index >= len(self.frames) - 1:
            self.stop_playing()
            return
        self.step_index += 1
        self._show_step()

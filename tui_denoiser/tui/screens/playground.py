"""The playground: draw a digit, noise it and watch it come back (SDEdit); inpaint; morph.

The screen composes the canvas column (``components/play_canvas.py``: the canvas, its mode and the morph
row), the settings column (``components/play_controls.py``: the classifier's bars, the run's settings,
the status line) and the sampling screen's step viewer, maps the keys to them, and runs the workers.
The shipped classifier reads the canvas in a thread worker after every change (ten bars). ``d`` noises
the drawing to σ and denoises it to the chosen digit, ``i`` regenerates the masked region (``m`` marks
it), ``o`` draws a morph row; every step of the run shows in the step viewer and strip as it arrives.
The model is the one the sampling screen has loaded (else the shipped model), sampled with its own
sampler. Workers only post messages; every widget is touched on the event loop.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import Worker, get_current_worker

from tui_denoiser.core.errors import UserError
from tui_denoiser.tui.components.morph_row import MorphRow
from tui_denoiser.tui.components.play_canvas import PlayCanvas
from tui_denoiser.tui.components.play_controls import AS_READ, PlayControls
from tui_denoiser.tui.components.step_viewer import StepViewer
from tui_denoiser.tui.messages import CanvasRead, PlayExported, PlayFailed, PlayFrames, PlayModelReady, PlayRequest
from tui_denoiser.tui.widgets.draw_canvas import DrawCanvas
from tui_denoiser.tui.widgets.too_small import TooSmall

READ_DELAY_S = 0.05  # the classifier reads the canvas at most this often while a stroke goes on


class PlaygroundScreen(Screen):
    AUTO_FOCUS = ""
    BINDINGS = [
        Binding("d", "run('edit')", "Edit", tooltip="Noise the drawing to σ, then denoise it to the digit (SDEdit)"),
        Binding("i", "run('inpaint')", "Inpaint", tooltip="Regenerate the masked region for the digit (RePaint)"),
        Binding("o", "run('morph')", "Morph", tooltip="A row of samples from the digit to 'to' (or to the next seed)"),
        Binding("m", "mode('mask')", "Mask", tooltip="Mask mode: drag marks the region to regenerate (again: draw)"),
        Binding("x", "mode('erase')", "Erase", show=False, tooltip="Erase mode: left drag erases (again: draw)"),
        Binding("c", "clear", "Clear", show=False, tooltip="Clear the canvas and the mask"),
        Binding("u", "undo", "Undo", show=False, tooltip="Undo the last stroke, clear or load"),
        Binding("l", "load_real", "Load", show=False, tooltip="Load a real MNIST test digit (one of 20 shipped)"),
        Binding("h", "mask_half", "Mask lower half", show=False, tooltip="Mark the lower half unknown"),
        Binding("e", "export", "Export", show=False, tooltip="Export the run's steps (PNG) and animation (GIF)"),
        Binding("0", "digit('0')", "Digit", show=False, key_display="0-9", tooltip="The digit to aim for (a: as read)"),
        *[Binding(str(d), f"digit('{d}')", f"Digit {d}", show=False, system=True) for d in range(1, 10)],
        Binding("a", f"digit('{AS_READ}')", "As read", show=False, tooltip="Aim for the digit the classifier reads"),
        Binding("escape", "stop", "Stop", show=False, tooltip="Stop the run (or leave a field)"),
        Binding("left", "step(-1)", "Step", show=False, tooltip="Step back / forward through the run"),
        Binding("right", "step(1)", "Step forward", show=False, system=True),
        Binding("space", "play", "Play", show=False, tooltip="Play or pause the run's steps"),
    ]

    def __init__(self, *, checkpoint: str | Path | None = None, export_dir: str | Path | None = None) -> None:
        super().__init__(id="playground")
        self.checkpoint = Path(checkpoint).expanduser() if checkpoint else None
        self.export_dir = Path(export_dir) if export_dir else None
        self.loaded: Any = None
        self.notes: list[str] = []
        self._read_token = 0
        self._read_timer: Any = None
        self._run_token = 0
        self._run_worker: Worker | None = None
        self.running = False
        self.frames: list[Any] = []
        self.sigmas: list[float] = []
        self.request: PlayRequest | None = None
        self.exported: list[str] = []

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Horizontal(classes="body"):
            yield PlayCanvas(id="pg-left")
            yield PlayControls(id="pg-mid")
            yield StepViewer(batch=0, id="pg-viewer")
        yield TooSmall()
        yield Footer(show_command_palette=False)

    @property
    def pad(self) -> PlayCanvas:
        return self.query_one(PlayCanvas)

    @property
    def controls(self) -> PlayControls:
        return self.query_one(PlayControls)

    @property
    def probabilities(self) -> Any:
        """The classifier's reading of the canvas (the settings column owns it); None while blank."""
        return self.controls.probabilities

    def on_mount(self) -> None:
        self.set_focus(None)
        self.query_one(StepViewer).show_message("draw a digit, then d, i or o")
        self._adopt_model()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self._adopt_model()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_canvas)

    def _fit_canvas(self) -> None:
        self.pad.fit(self.size.width, self.size.height)

    def _status(self, text: str, error: bool = False) -> None:
        self.controls.show_status(text, error)

    # ----------------------------------------------------------------- the model
    def _adopt_model(self) -> None:
        """The sampling screen's model when it has one loaded, else the shipped (or named) model."""
        sampling_screen = getattr(self.app, "sampling_screen", None)
        theirs = getattr(sampling_screen, "loaded", None)
        if theirs is not None:
            if theirs is not self.loaded:
                self.loaded = theirs
                self._status(f"model: {Path(str(theirs.path)).name} (the sampling screen's)")
            return
        if self.loaded is None:
            self._load_model(self.checkpoint)

    @work(thread=True, exclusive=True, group="pg-load", exit_on_error=False)
    def _load_model(self, checkpoint: Path | None) -> None:
        try:
            from tui_denoiser.core.inference import load_model
            from tui_denoiser.core.paths import DEFAULT_MODEL, require_shipped

            path = checkpoint or require_shipped(DEFAULT_MODEL)
            loaded = load_model(path, "cpu")
        except UserError as err:
            self.post_message(PlayFailed(str(err)))
            return
        except Exception as err:  # noqa: BLE001 - one line on screen
            self.post_message(PlayFailed(f"cannot load the model: {type(err).__name__}: {err}"))
            return
        self.post_message(PlayModelReady(loaded, f"model: {Path(str(path)).name}"))

    def on_play_model_ready(self, message: PlayModelReady) -> None:
        if self.loaded is None:
            self.loaded = message.loaded
            self._status(message.note)

    # ----------------------------------------------------------------- the classifier
    @on(DrawCanvas.Changed)
    def _canvas_changed(self, event: DrawCanvas.Changed) -> None:
        if self._read_timer is None:
            self._read_timer = self.set_timer(READ_DELAY_S, self._read_now)
        elif event.stroke_done:
            self._read_timer.stop()
            self._read_timer = None
            self._read_now()

    def _read_now(self) -> None:
        self._read_timer = None
        self._read_token += 1
        self._read_canvas(self.pad.canvas.as_uint8(), self._read_token)

    @work(thread=True, exclusive=True, group="pg-read", exit_on_error=False)
    def _read_canvas(self, image: Any, token: int) -> None:
        if not image.any():
            self.post_message(CanvasRead(None, token))
            return
        try:
            from tui_denoiser.core.playground import read_digits

            probabilities = read_digits(image)[0]
        except Exception as err:  # noqa: BLE001 - the bars stay empty; one line says why
            self.post_message(PlayFailed(f"the classifier cannot read the canvas: {err}"))
            return
        self.post_message(CanvasRead(probabilities, token))

    def on_canvas_read(self, message: CanvasRead) -> None:
        if message.token == self._read_token:  # else an older reading
            self.controls.show_reading(message.probabilities)

    # ----------------------------------------------------------------- runs
    def action_run(self, kind: str) -> None:
        if self.loaded is None:
            self._status("the model is still loading", error=True)
            return
        canvas = self.pad.canvas
        image = canvas.as_uint8()
        try:
            request, job = self.controls.prepare(kind, self.loaded.sampling, image, canvas.mask)
        except UserError as err:
            self._status(f"✗ {err}", error=True)
            return
        from tui_denoiser.core.playground import blank_notes

        self.action_stop(quiet=True)
        self._run_token += 1  # after stopping the run on show, which moves the token on too
        self.notes = blank_notes(image[None]) if kind != "morph" else []
        self.running = True
        self.request = replace(request, token=self._run_token)
        self._status(f"{kind}: running…")
        self._run_worker = self._run(self.loaded, self.request, job)

    @work(thread=True, exclusive=True, group="pg-run", exit_on_error=False)
    def _run(self, loaded: Any, request: PlayRequest, job: dict[str, Any]) -> None:
        worker = get_current_worker()
        try:
            from tui_denoiser.core import playground as pg
            from tui_denoiser.core.imaging import to_uint8

            kind, seed = job["kind"], request.seed
            if kind == "edit":
                steps = pg.edit(loaded, job["image"], job["sigma"], job["digit"], seed=seed)
            elif kind == "inpaint":
                steps = pg.inpaint(loaded, job["image"], job["mask"], job["digit"], seed=seed)
            elif job["to"] is None:
                steps = pg.morph_seeds(loaded, job["digit"], seed, seed + 1, job["count"])
            else:
                steps = pg.morph_digits(loaded, job["digit"], job["to"], job["count"], seed=seed)
            frames, sigmas = [], []
            for step in steps:
                if worker.is_cancelled:
                    return
                frames.append(to_uint8(step.images))
                sigmas.append(float(step.sigma))
                self.post_message(PlayFrames(request, list(frames), list(sigmas), step.index == step.total))
        except UserError as err:
            self.post_message(PlayFailed(str(err)))
        except Exception as err:  # noqa: BLE001
            self.post_message(PlayFailed(f"{job['kind']} failed: {type(err).__name__}: {err}"))

    def on_play_frames(self, message: PlayFrames) -> None:
        if message.request.token != self._run_token:
            return  # a stopped or superseded run
        self.frames, self.sigmas, self.request = message.frames, message.sigmas, message.request
        self.query_one(StepViewer).show_trajectory(message.request, message.frames, message.sigmas)
        if message.done:
            self.running = False
            self._finished(message)

    def _finished(self, message: PlayFrames) -> None:
        request = message.request
        if request.kind == "edit":
            words = f"denoised from σ {request.sigma:g} to {request.digit}"
        elif request.kind == "inpaint":
            words = f"inpainted for {request.digit}"
        else:
            words = f"morph {request.digit}"
        self._status(" · ".join([words, *self.notes, "e: export"]))
        self.query_one(MorphRow).show(message.frames[-1] if request.kind == "morph" else [])

    def on_play_failed(self, message: PlayFailed) -> None:
        self.running = False
        self._status(f"✗ {message.message}", error=True)

    def action_stop(self, quiet: bool = False) -> None:
        if self.focused is not None and not quiet:
            self.set_focus(None)
            return
        if self._run_worker is not None and self.running:
            self._run_worker.cancel()
            self._run_token += 1  # frames already posted by the stopped run are ignored
            self.running = False
            if not quiet:
                self._status("stopped")
        self._run_worker = None

    # ----------------------------------------------------------------- canvas and settings keys
    def action_mode(self, mode: str) -> None:
        self.pad.toggle_mode(mode)

    def action_digit(self, value: str) -> None:
        self.controls.set_target(value)

    def action_clear(self) -> None:
        self.pad.clear()

    def action_undo(self) -> None:
        if not self.pad.undo():
            self._status("nothing to undo")

    def action_load_real(self) -> None:
        try:
            label = self.pad.load_real()
        except UserError as err:
            self._status(f"✗ {err}", error=True)
            return
        self._status(f"a real test digit: a {label}")

    def action_mask_half(self) -> None:
        self.pad.mask_lower_half()

    def action_step(self, delta: int) -> None:
        self.query_one(StepViewer).step(delta)

    def action_play(self) -> None:
        self.query_one(StepViewer).toggle_play()

    def on_screen_suspend(self) -> None:
        self.query_one(StepViewer).stop_playing()

    # ----------------------------------------------------------------- export
    def action_export(self) -> None:
        if not self.frames or self.request is None or self.running:
            self._status("nothing to export yet" if not self.running else "wait for the run to finish", error=True)
            return
        from tui_denoiser.core.trajectory_export import default_export_dir

        folder = self.export_dir or default_export_dir()
        request = self.request
        digit = str(request.digit).replace("→", "-to-").replace(" ", "-")
        stem = f"playground-{request.kind}-{digit}-seed{request.seed}-{request.sampler}"
        self._export(list(self.frames), folder, stem)

    @work(thread=True, exclusive=True, group="pg-export", exit_on_error=False)
    def _export(self, frames: list[Any], folder: Path, stem: str) -> None:
        from tui_denoiser.core.trajectory_export import write_trajectory

        try:
            paths = write_trajectory(frames, folder, stem)
        except OSError as err:
            self.post_message(PlayExported([], f"cannot write to {folder}: {err.strerror or err}"))
            return
        self.post_message(PlayExported([str(p) for p in paths]))

    def on_play_exported(self, message: PlayExported) -> None:
        if message.error:
            self._status(f"✗ {message.error}", error=True)
            return
        self.exported = message.paths
        self._status("wrote " + " and ".join(Path(p).name for p in message.paths))
        self.notify("\n".join(message.paths), title="Exported")

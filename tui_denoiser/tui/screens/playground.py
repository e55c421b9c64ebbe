"""The playground: draw a digit, noise it and watch it come back (SDEdit); inpaint; morph.

The canvas owns the drawing; the shipped classifier reads it in a thread worker after every change
(ten bars). ``d`` noises the drawing to σ and denoises it to the chosen digit, ``i`` regenerates the
masked region (``m`` marks it), ``o`` draws a morph row; every step of the run shows in the sampling
screen's step viewer and strip as it arrives. The model is the one the sampling screen has loaded
(else the shipped model), sampled with its own sampler. Workers only post messages; every widget is
touched on the event loop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Select, Static
from textual.worker import Worker, get_current_worker

from tui_denoiser.core.errors import UserError
from tui_denoiser.tui.components.step_viewer import StepViewer
from tui_denoiser.tui.widgets.class_bars import ClassBars
from tui_denoiser.tui.widgets.digit_image import Thumb
from tui_denoiser.tui.widgets.draw_canvas import DrawCanvas
from tui_denoiser.tui.widgets.too_small import TooSmall

DEFAULT_SIGMA = 3.0
DEFAULT_COUNT = 6
READ_DELAY_S = 0.05  # the classifier reads the canvas at most this often while a stroke goes on
MORPH_PX = 14
AS_READ = "read"  # the target choice "as the classifier reads it"
NEXT_SEED = "seed"  # the morph end "the next seed" (one digit, two seeds)


@dataclass(frozen=True)
class PlayRequest:
    """What a run was asked for (the step viewer shows ``digit`` and ``sampler``)."""

    kind: str  # "edit", "inpaint" or "morph"
    digit: Any  # the target digit, or "3→7" for a morph
    sampler: str
    seed: int
    sigma: float | None = None
    token: int = 0


@dataclass
class CanvasRead(Message):
    probabilities: Any  # (10,) floats, or None for a blank canvas
    token: int


@dataclass
class PlayFrames(Message):
    """The frames of a run so far (``done`` once it finished)."""

    request: PlayRequest
    frames: list[Any]
    sigmas: list[float]
    done: bool

    def can_replace(self, message: Message) -> bool:  # a newer partial run replaces an unhandled older one
        return isinstance(message, PlayFrames) and not message.done and message.request == self.request


@dataclass
class PlayFailed(Message):
    message: str


@dataclass
class PlayModelReady(Message):
    loaded: Any
    note: str


@dataclass
class PlayExported(Message):
    paths: list[str]
    error: str | None = None


def _target_options() -> list[tuple[str, str]]:
    return [("read", AS_READ)] + [(str(d), str(d)) for d in range(10)]


def _to_options() -> list[tuple[str, str]]:
    return [(str(d), str(d)) for d in range(10)] + [("next seed", NEXT_SEED)]


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
        self.probabilities: Any = None
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
        self._real = random.Random()

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with Vertical(id="pg-left"):
                yield Static("", id="pg-canvas-title")
                yield DrawCanvas(id="canvas")
                yield Static("", id="pg-notes")
                yield HorizontalScroll(id="pg-morph")
            with Vertical(id="pg-mid"):
                yield ClassBars(id="pg-bars")
                yield Static("", id="pg-reads")
                with Horizontal(classes="pg-row"):
                    yield Static("σ", classes="pg-name")
                    yield Input(f"{DEFAULT_SIGMA:g}", compact=True, id="pg-sigma", type="number")
                with Horizontal(classes="pg-row"):
                    yield Static("digit", classes="pg-name")
                    yield Select(_target_options(), value=AS_READ, allow_blank=False, compact=True, id="pg-digit")
                with Horizontal(classes="pg-row"):
                    yield Static("to", classes="pg-name")
                    yield Select(_to_options(), value="7", allow_blank=False, compact=True, id="pg-to")
                with Horizontal(classes="pg-row"):
                    yield Static("seed", classes="pg-name")
                    yield Input("0", compact=True, id="pg-seed", type="integer")
                with Horizontal(classes="pg-row"):
                    yield Static("count", classes="pg-name")
                    yield Input(str(DEFAULT_COUNT), compact=True, id="pg-count", type="integer")
                yield Static("loading the model…", id="pg-status")
            yield StepViewer(batch=0, id="pg-viewer")
        yield TooSmall()
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.set_focus(None)
        self._show_title()
        self.query_one(StepViewer).show_message("draw a digit, then d, i or o")
        self._adopt_model()

    def on_screen_resume(self) -> None:
        if self.is_mounted:
            self._adopt_model()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_canvas)

    def _fit_canvas(self) -> None:
        """The canvas grows by whole multiples of 28 columns where the terminal has room."""
        width, height = self.size.width, self.size.height
        scale = 1
        while scale < 3 and 28 * (scale + 1) + 14 + 30 <= width and 1 + 14 * (scale + 1) + 1 + 1 <= height:
            scale += 1
        self.query_one(DrawCanvas).set_scale(scale)
        self.query_one("#pg-left").styles.width = 28 * scale

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

    # ----------------------------------------------------------------- canvas and classifier
    def _show_title(self) -> None:
        canvas = self.query_one(DrawCanvas)
        words = {"draw": "draw · right: erase · l: real", "erase": "ERASE (x: draw again)",
                 "mask": "MASK the unknown (m: draw)"}
        self.query_one("#pg-canvas-title", Static).update(words[canvas.mode])
        self.query_one("#pg-canvas-title", Static).set_class(canvas.mode != "draw", "-mode")

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
        self._read_canvas(self.query_one(DrawCanvas).as_uint8(), self._read_token)

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
        if message.token != self._read_token:
            return  # an older reading
        self.probabilities = message.probabilities
        self.query_one(ClassBars).set_probabilities(message.probabilities)
        reads = self.query_one("#pg-reads", Static)
        if message.probabilities is None:
            reads.update("blank canvas")
        else:
            best = int(message.probabilities.argmax())
            reads.update(f"reads {best} ({message.probabilities[best] * 100:.0f}%)")

    # ----------------------------------------------------------------- settings
    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#pg-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def _number(self, selector: str, kind: type, what: str) -> Any:
        text = self.query_one(selector, Input).value.strip()
        try:
            return kind(text)
        except ValueError:
            raise UserError(f"{what} must be a number, got {text!r}") from None

    def target_digit(self) -> int | None:
        """The chosen digit, or the classifier's reading for "as read" (None while it has none)."""
        value = self.query_one("#pg-digit", Select).value
        if value == AS_READ:
            return None if self.probabilities is None else int(self.probabilities.argmax())
        return int(str(value))

    # ----------------------------------------------------------------- runs
    def action_run(self, kind: str) -> None:
        if self.loaded is None:
            self._status("the model is still loading", error=True)
            return
        try:
            request, job = self._prepare(kind)
        except UserError as err:
            self._status(f"✗ {err}", error=True)
            return
        self.action_stop(quiet=True)
        self.running = True
        self.request = request
        self._status(f"{kind}: running…")
        self._run_worker = self._run(self.loaded, request, job)

    def _prepare(self, kind: str) -> tuple[PlayRequest, dict[str, Any]]:
        from tui_denoiser.core.playground import blank_notes, check_sigma
        from tui_denoiser.core.sampling_policy import editing_sampling

        canvas = self.query_one(DrawCanvas)
        config = self.loaded.sampling if kind == "morph" else editing_sampling(self.loaded.sampling)
        seed = self._number("#pg-seed", int, "seed")
        if seed < 0:
            raise UserError(f"seed must be 0 or more, got {seed}")
        digit = self.target_digit()
        image = canvas.as_uint8()
        self._run_token += 1
        self.notes = blank_notes(image[None]) if kind != "morph" else []
        if kind == "morph":
            count = self._number("#pg-count", int, "count")
            if not 2 <= count <= 16:
                raise UserError(f"count must be 2..16 here, got {count}")
            digit = 0 if digit is None else digit
            to = str(self.query_one("#pg-to", Select).value)
            label = f"{digit}→{to}" if to != NEXT_SEED else f"{digit} seed {seed}→{seed + 1}"
            job = {"kind": kind, "digit": digit, "to": None if to == NEXT_SEED else int(to), "count": count}
            return PlayRequest(kind, label, config.sampler, seed, token=self._run_token), job
        if digit is None:
            raise UserError("draw something first, or choose a digit (the classifier has nothing to read)")
        if kind == "edit":
            sigma = check_sigma(self._number("#pg-sigma", float, "σ"), config)
            job = {"kind": kind, "image": image, "digit": digit, "sigma": sigma}
            return PlayRequest(kind, digit, config.sampler, seed, sigma, token=self._run_token), job
        if not canvas.mask.any():
            raise UserError("mark the region to regenerate first: m, then drag (h: the lower half)")
        job = {"kind": kind, "image": image, "mask": canvas.mask.copy(), "digit": digit}
        return PlayRequest(kind, digit, config.sampler, seed, token=self._run_token), job

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
        last = message.frames[-1]
        if request.kind == "edit":
            words = f"denoised from σ {request.sigma:g} to {request.digit}"
        elif request.kind == "inpaint":
            words = f"inpainted for {request.digit}"
        else:
            words = f"morph {request.digit}"
        self._status(" · ".join([words, *self.notes, "e: export"]))
        morph = self.query_one("#pg-morph", HorizontalScroll)
        morph.remove_children()
        if request.kind == "morph":
            thumbs = []
            for i, image in enumerate(last):
                thumb = Thumb(MORPH_PX, str(i), classes="pg-morph-thumb")
                thumb.digit.set_image(image)
                thumbs.append(thumb)
            morph.mount_all(thumbs)

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

    # ----------------------------------------------------------------- canvas actions
    def action_mode(self, mode: str) -> None:
        canvas = self.query_one(DrawCanvas)
        canvas.set_mode("draw" if canvas.mode == mode else mode)
        self._show_title()

    def action_digit(self, value: str) -> None:
        self.query_one("#pg-digit", Select).value = value

    def action_clear(self) -> None:
        self.query_one(DrawCanvas).clear()

    def action_undo(self) -> None:
        if not self.query_one(DrawCanvas).undo():
            self._status("nothing to undo")

    def action_load_real(self) -> None:
        from tui_denoiser.core.playground import real_digits

        try:
            images, labels = real_digits()
        except UserError as err:
            self._status(f"✗ {err}", error=True)
            return
        i = self._real.randrange(len(images))
        self.query_one(DrawCanvas).load(images[i])
        self._status(f"a real test digit: a {labels[i]}")

    def action_mask_half(self) -> None:
        import numpy as np

        mask = np.zeros((28, 28), dtype=bool)
        mask[14:] = True
        self.query_one(DrawCanvas).set_mask(mask)

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
        from tui_denoiser.core.export import default_export_dir

        folder = self.export_dir or default_export_dir()
        request = self.request
        digit = str(request.digit).replace("→", "-to-").replace(" ", "-")
        stem = f"playground-{request.kind}-{digit}-seed{request.seed}-{request.sampler}"
        self._export(list(self.frames), folder, stem)

    @work(thread=True, exclusive=True, group="pg-export", exit_on_error=False)
    def _export(self, frames: list[Any], folder: Path, stem: str) -> None:
        try:
            from tui_denoiser.core.export import STRIP_SCALE
            from tui_denoiser.core.imaging import save_gif, step_strip

            folder.mkdir(parents=True, exist_ok=True)
            png, gif = folder / f"{stem}-strip.png", folder / f"{stem}.gif"
            step_strip(frames, scale=STRIP_SCALE).save(png)
            save_gif(frames, gif)
        except OSError as err:
            self.post_message(PlayExported([], f"cannot write to {folder}: {err.strerror or err}"))
            return
        self.post_message(PlayExported([str(png), str(gif)]))

    def on_play_exported(self, message: PlayExported) -> None:
        if message.error:
            self._status(f"✗ {message.error}", error=True)
            return
        self.exported = message.paths
        self._status("wrote " + " and ".join(Path(p).name for p in message.paths))
        self.notify("\n".join(message.paths), title="Exported")

"""The sampling screen: pick a model and a digit, then step through noise becoming that digit.

Loading and sampling run in thread workers (sampling is milliseconds, loading imports torch), so the
screen never blocks. Models are loaded from checkpoint files into the core's separate ``LoadedModel``:
never the module a trainer is updating.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Select, Static
from textual.worker import get_current_worker

from tui_denoiser.core.errors import UserError
from tui_denoiser.tui.messages import (
    CheckpointsFound,
    ExportDone,
    ExportFailed,
    ModelLoaded,
    ModelLoadFailed,
    SamplesReady,
    SamplingFailed,
)
from tui_denoiser.tui.widgets.digit_image import DigitImage, Thumb
from tui_denoiser.tui.widgets.too_small import TooSmall

BATCH = 4  # samples of the chosen digit drawn side by side
PLAY_INTERVAL_S = 0.18
STRIP_PX = 14


@dataclass(frozen=True)
class SampleRequest:
    """Everything that decides a trajectory; equal requests give equal pictures."""

    model_key: str
    digit: int
    seed: int
    steps: int | None  # None: the model's default
    sampler: str | None  # None: the model's default
    guidance: float
    batch: int = BATCH


def _short_path(path: Path) -> str:
    """``run/epoch-003.pt``, cut to fit the 18-column list: enough to tell checkpoints apart."""
    text = f"{path.parent.name}/{path.name}"
    return text if len(text) <= 18 else "…" + text[-17:]


class SamplingScreen(Screen):
    AUTO_FOCUS = ""  # keys go to the screen (digits, arrows, space) until the person picks a field
    BINDINGS = [
        Binding("0", "digit(0)", "Digit", key_display="0-9", tooltip="Choose the digit to sample"),
        *[Binding(str(d), f"digit({d})", f"Digit {d}", show=False, system=True) for d in range(1, 10)],
        Binding("left", "step(-1)", "Step", key_display="←→", tooltip="Step back / forward through the denoising"),
        Binding("right", "step(1)", "Step forward", show=False, system=True),
        Binding("home", "jump(0)", "First step", show=False, tooltip="Jump to the starting noise"),
        Binding("end", "jump(-1)", "Last step", show=False, tooltip="Jump to the final sample"),
        Binding("space", "play", "Play", tooltip="Play or pause the animation"),
        Binding("r", "new_seed", "Seed", tooltip="Draw a new seed (or type one in the seed field)"),
        Binding("e", "export", "Export", tooltip="Export the strip as PNG and the animation as GIF"),
        Binding("escape", "leave_field", "Leave field", show=False, tooltip="Leave a field so the keys act on the picture"),
    ]

    def __init__(self, *, runs_root: str | Path | None = None, checkpoint: str | Path | None = None,
                 export_dir: str | Path | None = None, batch: int = BATCH) -> None:
        super().__init__(id="sampling")
        self.runs_root = runs_root
        self.initial_checkpoint = Path(checkpoint).expanduser() if checkpoint else None
        self.export_dir = Path(export_dir) if export_dir else None
        self.batch = batch
        self.loaded: Any = None  # core.checkpoint.LoadedModel
        self.model_key: str | None = None
        self.digit = 7
        self.seed = 0
        self.frames: list[Any] = []  # uint8 (B, 28, 28) per step
        self.sigmas: list[float] = []
        self.step_index = 0
        self.shown_request: SampleRequest | None = None
        self.pending_request: SampleRequest | None = None
        self._play_timer: Timer | None = None
        self._model_options: list[tuple[str, str]] = []
        self.exported: list[str] = []
        self._strip_thumbs: list[Thumb] = []
        self._loading = False
        self._last_error = ""

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        with Horizontal(classes="body"):
            with Vertical(id="samp-controls"):
                yield Static("model", classes="ctl-label")
                yield Select([], prompt="no model yet", compact=True, id="model-select")
                yield Input(placeholder="or a .pt path + Enter", compact=True, id="model-path")
                yield Static("", id="model-info")
                with Horizontal(classes="ctl-row"):
                    yield Static("digit", classes="ctl-name")
                    yield Static(str(self.digit), id="digit-value")
                with Horizontal(classes="ctl-row"):
                    yield Static("seed", classes="ctl-name")
                    yield Input(str(self.seed), compact=True, id="seed", type="integer")
                with Horizontal(classes="ctl-row"):
                    yield Static("steps", classes="ctl-name")
                    yield Input("", placeholder="default", compact=True, id="steps", type="integer")
                with Horizontal(classes="ctl-row"):
                    yield Static("sampler", classes="ctl-name")
                    yield Select([], prompt="-", compact=True, id="sampler")
                with Horizontal(classes="ctl-row"):
                    yield Static("guidance", classes="ctl-name")
                    yield Input("1", compact=True, id="guidance", type="number")
                yield Static("1 = plain conditional", id="guidance-help")
                yield Static("", id="samp-status")
            with Vertical(id="samp-view"):
                yield Static("loading the model…", id="step-info")
                with Horizontal(id="samp-main"):
                    yield DigitImage(28, id="big")
                    with Vertical(id="batch"):
                        per_row = 2
                        for row in range(0, self.batch, per_row):
                            with Horizontal(classes="batch-row"):
                                for i in range(row, min(row + per_row, self.batch)):
                                    yield DigitImage(14, id=f"batch-{i}", classes="batch-image")
                yield HorizontalScroll(id="strip")
        yield TooSmall()
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.set_focus(None)
        self._scan_checkpoints()
        first = self.initial_checkpoint or self._default_model()
        if first is not None:
            self._load(first)
        else:
            self._status("No model yet: train one (F2) or type a checkpoint path.")
            self.query_one("#step-info", Static).update("no model loaded")

    def on_screen_resume(self) -> None:
        # A run may have written new checkpoints while the person was on the training screen.
        if self.is_mounted:
            self._scan_checkpoints()

    @staticmethod
    def _default_model() -> Path | None:
        from tui_denoiser.core.paths import DEFAULT_MODEL, ORIGINAL_MODEL

        for path in (DEFAULT_MODEL, ORIGINAL_MODEL):
            if path.is_file():
                return path
        return None

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_images)

    def _fit_images(self) -> None:
        """Scale the big image by whole multiples of 28 pixels where the terminal has room."""
        view = self.query_one("#samp-view")
        width, height = view.size.width, view.size.height
        if width == 0:
            return
        scale = 1
        while scale < 4 and 28 * (scale + 1) + 29 <= width and 1 + 14 * (scale + 1) + 9 <= height:
            scale += 1
        batch_px = 14 * scale if 28 * scale + 1 + 28 * scale <= width else 14
        self.query_one("#big", DigitImage).set_size(28 * scale)
        for image in self.query(".batch-image").results(DigitImage):
            image.set_size(batch_px)

    # ----------------------------------------------------------------- model choice
    def _status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#samp-status", Static)
        status.update(text)
        status.set_class(error, "-error")
        if error:
            self._last_error = text

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan_checkpoints(self) -> None:
        from tui_denoiser.core.checkpoint import find_checkpoints

        found = [str(p) for p in find_checkpoints(self.runs_root)]
        self.post_message(CheckpointsFound(found))

    def on_checkpoints_found(self, message: CheckpointsFound) -> None:
        from tui_denoiser.core.paths import DEFAULT_MODEL, ORIGINAL_MODEL

        options: list[tuple[str, str]] = []
        if DEFAULT_MODEL.is_file():
            options.append(("shipped: edm", str(DEFAULT_MODEL)))
        if ORIGINAL_MODEL.is_file():
            options.append(("shipped: original", str(ORIGINAL_MODEL)))
        options += [(_short_path(Path(p)), p) for p in message.paths]
        if self.model_key and all(value != self.model_key for _, value in options):
            options.append((_short_path(Path(self.model_key)), self.model_key))
        self._model_options = options
        if self.loaded is None and not self._loading and options and self.initial_checkpoint is None:
            # no shipped model: start with the newest checkpoint (never in place of one the person named
            # that failed to load: its one-line reason stays on screen)
            self._load(Path(options[0][1]))
        select = self.query_one("#model-select", Select)
        with self.prevent(Select.Changed):
            select.set_options(options)
            if self.model_key and any(value == self.model_key for _, value in options):
                select.value = self.model_key

    @on(Select.Changed, "#model-select")
    def _model_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value != self.model_key:
            self._load(Path(event.value))

    @on(Input.Submitted, "#model-path")
    def _path_typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if text:
            self._load(Path(text).expanduser())

    def load_checkpoint(self, path: str | Path) -> None:
        """Load a checkpoint (also used by the app when a run finishes)."""
        self._load(Path(path))

    def _load(self, path: Path) -> None:
        self._loading = True
        self._status(f"loading {path.name}…")
        self._load_worker(path)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self, path: Path) -> None:
        try:
            from tui_denoiser.core.checkpoint import load_model

            loaded = load_model(path, "cpu")
        except UserError as err:
            self.post_message(ModelLoadFailed(str(path), str(err)))
            return
        except Exception as err:  # noqa: BLE001 - one line, and the previous model stays
            self.post_message(ModelLoadFailed(str(path), f"cannot load {path}: {type(err).__name__}: {err}"))
            return
        self.post_message(ModelLoaded(str(path), loaded))

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        self._loading = False
        keep = " (kept the current model)" if self.loaded is not None else ""
        self._status(f"✗ {message.message}{keep}", error=True)
        self.notify(message.message, title="Cannot load the checkpoint", severity="error")

    def on_model_loaded(self, message: ModelLoaded) -> None:
        from tui_denoiser.core.sampling import SAMPLERS

        self._loading = False
        loaded = message.loaded
        self.loaded, self.model_key = loaded, message.key
        recipe = "edm" if loaded.is_edm else "original"
        self.query_one("#model-info", Static).update(f"{recipe} · epoch {loaded.epoch}")
        sampler = self.query_one("#sampler", Select)
        with self.prevent(Select.Changed, Input.Changed):
            sampler.set_options([(name, name) for name in SAMPLERS])
            sampler.value = loaded.default_sampler
            self.query_one("#steps", Input).value = str(loaded.default_steps)
            self.query_one("#guidance", Input).value = f"{loaded.default_guidance:g}"
        select = self.query_one("#model-select", Select)
        with self.prevent(Select.Changed):
            if not any(value == message.key for _, value in self._model_options):
                self._model_options.append((_short_path(Path(message.key)), message.key))
                select.set_options(self._model_options)
            select.value = message.key
        self._status(f"loaded {_short_path(Path(message.key))}")
        self.resample()

    # ----------------------------------------------------------------- sampling
    def current_request(self) -> SampleRequest | None:
        if self.model_key is None:
            return None
        steps_text = self.query_one("#steps", Input).value.strip()
        guidance_text = self.query_one("#guidance", Input).value.strip()
        sampler = self.query_one("#sampler", Select).value
        try:
            steps = int(steps_text) if steps_text else None
            guidance = float(guidance_text) if guidance_text else 1.0
        except ValueError:
            return None
        return SampleRequest(self.model_key, self.digit, self.seed, steps,
                             sampler if isinstance(sampler, str) else None, guidance, self.batch)

    def resample(self) -> None:
        request = self.current_request()
        if request is None or self.loaded is None:
            return
        if request == self.shown_request or request == self.pending_request:
            return
        self.pending_request = request
        self._sample(self.loaded, request)

    @work(thread=True, exclusive=True, group="sample", exit_on_error=False)
    def _sample(self, loaded: Any, request: SampleRequest) -> None:
        worker = get_current_worker()
        try:
            from tui_denoiser.core.imaging import to_uint8

            frames, sigmas = [], []
            for step in loaded.sample([request.digit] * request.batch, sampler=request.sampler,
                                      steps=request.steps, seed=request.seed, guidance=request.guidance):
                if worker.is_cancelled:
                    return
                frames.append(to_uint8(step.images))
                sigmas.append(float(step.sigma))
        except UserError as err:
            self.post_message(SamplingFailed(str(err)))
            return
        except Exception as err:  # noqa: BLE001
            self.post_message(SamplingFailed(f"sampling failed: {type(err).__name__}: {err}"))
            return
        if not worker.is_cancelled:
            self.post_message(SamplesReady(request, frames, sigmas))

    def on_sampling_failed(self, message: SamplingFailed) -> None:
        self.pending_request = None
        self._status(f"✗ {message.message}", error=True)

    def on_samples_ready(self, message: SamplesReady) -> None:
        if message.request != self.pending_request:
            return  # superseded by a newer request
        self.pending_request = None
        old_total = len(self.frames) - 1
        self.frames, self.sigmas = message.frames, message.sigmas
        total = len(self.frames) - 1
        if self.shown_request is None or old_total != total:
            self.step_index = total
        self.step_index = min(self.step_index, total)
        self.shown_request = message.request
        if self._last_error and self.query_one("#samp-status", Static).has_class("-error"):
            self._status("")
            self._last_error = ""
        self._rebuild_strip()
        self._show_step()

    def _rebuild_strip(self) -> None:
        strip = self.query_one("#strip", HorizontalScroll)
        thumbs = self._strip_thumbs
        if len(thumbs) != len(self.frames):
            strip.remove_children()
            thumbs = [Thumb(STRIP_PX, str(k), classes="strip-thumb") for k in range(len(self.frames))]
            strip.mount_all(thumbs)
        self._fill_strip(thumbs)

    def _fill_strip(self, thumbs: list[Thumb]) -> None:
        for k, thumb in enumerate(thumbs):
            if k < len(self.frames):
                thumb.digit.set_image(self.frames[k][0])
        self._strip_thumbs = thumbs
        self._mark_strip()

    def _mark_strip(self) -> None:
        thumbs = self._strip_thumbs
        for k, thumb in enumerate(thumbs):
            thumb.set_class(k == self.step_index, "-current")
        if 0 <= self.step_index < len(thumbs) and thumbs[self.step_index].is_mounted:
            self.query_one("#strip", HorizontalScroll).scroll_to_widget(thumbs[self.step_index], animate=False)

    def _show_step(self) -> None:
        if not self.frames:
            return
        k = self.step_index
        frame = self.frames[k]
        self.query_one("#big", DigitImage).set_image(frame[0])
        for i, image in enumerate(self.query(".batch-image").results(DigitImage)):
            image.set_image(frame[i] if i < len(frame) else None)
        total = len(self.frames) - 1
        request = self.shown_request
        sampler = request.sampler if request and request.sampler else (self.loaded.default_sampler if self.loaded else "")
        self.query_one("#step-info", Static).update(
            f"step {k} of {total} · noise σ {self.sigmas[k]:.3f} · digit {self.digit} · {sampler}")
        self._mark_strip()

    @property
    def step_text(self) -> str:
        """What the step line says now (tests read it)."""
        return str(self.query_one("#step-info", Static).content)

    # ----------------------------------------------------------------- inputs
    @on(Input.Changed, "#seed")
    def _seed_typed(self, event: Input.Changed) -> None:
        try:
            seed = int(event.value)
        except ValueError:
            return
        if seed >= 0 and seed != self.seed:
            self.seed = seed
            self.resample()

    @on(Input.Changed, "#steps")
    @on(Input.Changed, "#guidance")
    @on(Select.Changed, "#sampler")
    def _settings_changed(self) -> None:
        self.resample()

    # ----------------------------------------------------------------- actions
    def action_digit(self, digit: int) -> None:
        self.digit = digit
        self.query_one("#digit-value", Static).update(str(digit))
        self.resample()

    def action_step(self, delta: int) -> None:
        if self.frames:
            self.step_index = max(0, min(len(self.frames) - 1, self.step_index + delta))
            self._show_step()

    def action_jump(self, where: int) -> None:
        if self.frames:
            self.step_index = 0 if where == 0 else len(self.frames) - 1
            self._show_step()

    def action_new_seed(self) -> None:
        import random

        self.seed = random.randrange(0, 1_000_000)
        with self.prevent(Input.Changed):
            self.query_one("#seed", Input).value = str(self.seed)
        self.resample()

    def action_play(self) -> None:
        if self._play_timer is not None:
            self._stop_playing()
            return
        if not self.frames:
            return
        if self.step_index >= len(self.frames) - 1:
            self.step_index = 0
            self._show_step()
        self._play_timer = self.set_interval(PLAY_INTERVAL_S, self._tick)

    @property
    def playing(self) -> bool:
        return self._play_timer is not None

    def _stop_playing(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None

    def _tick(self) -> None:
        if self.step_index >= len(self.frames) - 1:
            self._stop_playing()
            return
        self.step_index += 1
        self._show_step()

    def on_screen_suspend(self) -> None:
        self._stop_playing()

    def action_leave_field(self) -> None:
        self.set_focus(None)

    def action_export(self) -> None:
        if not self.frames or self.shown_request is None:
            self._status("nothing to export yet", error=True)
            return
        request = self.shown_request
        folder = self.export_dir
        if folder is None:
            from tui_denoiser.core.paths import cache_dir

            folder = cache_dir() / "exports"
        sampler = request.sampler or (self.loaded.default_sampler if self.loaded else "default")
        stem = f"digit{request.digit}-seed{request.seed}-{sampler}-{len(self.frames) - 1}steps"
        self._status("exporting…")
        self._export(list(self.frames), folder, stem)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, frames: list[Any], folder: Path, stem: str) -> None:
        try:
            from tui_denoiser.core.imaging import save_gif, step_strip

            folder.mkdir(parents=True, exist_ok=True)
            png, gif = folder / f"{stem}-strip.png", folder / f"{stem}.gif"
            step_strip(frames, scale=2).save(png)
            save_gif(frames, gif)
        except OSError as err:
            self.post_message(ExportFailed(f"cannot write to {folder}: {err.strerror or err}"))
            return
        except Exception as err:  # noqa: BLE001
            self.post_message(ExportFailed(f"export failed: {type(err).__name__}: {err}"))
            return
        self.post_message(ExportDone([str(png), str(gif)]))

    def on_export_done(self, message: ExportDone) -> None:
        self.exported = message.paths
        self._status("wrote " + " and ".join(message.paths))
        self.notify("\n".join(message.paths), title="Exported")

    def on_export_failed(self, message: ExportFailed) -> None:
        self._status(f"✗ {message.message}", error=True)

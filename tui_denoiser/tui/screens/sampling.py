"""The sampling screen: pick a model and a digit, then step through noise becoming that digit.

It composes the controls (which post requests), the step viewer and its strip, and runs the workers:
finding checkpoints, loading a model, sampling, exporting. Loading and sampling run in thread workers
(sampling is milliseconds, loading imports torch), so the screen never blocks; each worker only posts
messages. Models are loaded from checkpoint files into the core's separate ``LoadedModel``: never the
module a trainer is updating.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer
from textual.worker import get_current_worker

from tui_denoiser.core.errors import UserError
from tui_denoiser.tui.components.sampling_controls import BATCH, SampleRequest, SamplingControls
from tui_denoiser.tui.components.step_viewer import StepViewer
from tui_denoiser.tui.messages import (
    CheckpointsFound,
    ExportDone,
    ExportFailed,
    ModelLoaded,
    ModelLoadFailed,
    SamplesReady,
    SamplingFailed,
)
from tui_denoiser.tui.widgets.too_small import TooSmall

__all__ = ["BATCH", "SamplingScreen"]


def _installed(files: list[tuple[str, Path]]) -> list[tuple[str, str]]:
    """(label, path) of the shipped files this install has, for a list to pick from."""
    return [(label, str(path)) for label, path in files if path.is_file()]


def _shipped_models() -> list[tuple[str, str]]:
    """The models that come with the package, for the model list."""
    from tui_denoiser.core.paths import SHIPPED_MODELS

    return _installed([(f"shipped: {name}", path) for name, path in SHIPPED_MODELS.items()])


def _shipped_guides() -> list[tuple[str, str]]:
    """The autoguidance models that come with the package, for the guide list."""
    from tui_denoiser.core.paths import GUIDE_MODEL

    return _installed([("shipped guide", GUIDE_MODEL)])


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
        self.loaded: Any = None  # core.inference.LoadedModel
        self.pending_request: SampleRequest | None = None  # being sampled now
        self.exported: list[str] = []
        self._loading = False
        self._guides: dict[str, Any] = {}  # guide path -> loaded guide model (only the sample worker touches it)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="body"):
            yield SamplingControls(batch=self.batch, id="samp-controls")
            yield StepViewer(batch=self.batch, id="samp-view")
        yield TooSmall()
        yield Footer(show_command_palette=False)

    @property
    def controls(self) -> SamplingControls:
        return self.query_one(SamplingControls)

    @property
    def viewer(self) -> StepViewer:
        return self.query_one(StepViewer)

    # What tests and the app read: the state lives in the components.
    model_key = property(lambda self: self.controls.model_key)
    seed = property(lambda self: self.controls.seed)
    frames = property(lambda self: self.viewer.frames)
    step_index = property(lambda self: self.viewer.step_index)
    shown_request = property(lambda self: self.viewer.request)
    step_text = property(lambda self: self.viewer.step_text)
    playing = property(lambda self: self.viewer.playing)

    def on_mount(self) -> None:
        self.set_focus(None)
        self._scan_checkpoints()
        self.controls.show_guides(_shipped_guides())
        shipped = _shipped_models()
        first = self.initial_checkpoint or (Path(shipped[0][1]) if shipped else None)
        if first is not None:
            self.open_checkpoint(first)
        else:
            self.controls.show_status("No model yet: train one (F2) or type a checkpoint path.")
            self.viewer.show_message("no model loaded")

    def on_screen_resume(self) -> None:
        # A run may have written new checkpoints while the person was on the training screen.
        if self.is_mounted:
            self._scan_checkpoints()

    def on_screen_suspend(self) -> None:
        self.viewer.stop_playing()

    # ----------------------------------------------------------------- models
    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def _scan_checkpoints(self) -> None:
        from tui_denoiser.core.checkpoint import find_checkpoints

        self.post_message(CheckpointsFound([str(p) for p in find_checkpoints(self.runs_root)]))

    def on_checkpoints_found(self, message: CheckpointsFound) -> None:
        controls = self.controls
        controls.show_checkpoints(message.paths, _shipped_models())
        options = controls.model_options
        if self.loaded is None and not self._loading and options and self.initial_checkpoint is None:
            # no shipped model: start with the newest checkpoint (never in place of one the person named
            # that failed to load: its one-line reason stays on screen)
            self.open_checkpoint(Path(options[0][1]))

    def on_sampling_controls_model_chosen(self, message: SamplingControls.ModelChosen) -> None:
        self.open_checkpoint(message.path)

    def open_checkpoint(self, path: str | Path) -> None:
        """Load a checkpoint in the background; the current model stays until it has loaded."""
        path = Path(path)
        self._loading = True
        self.controls.show_status(f"loading {path.name}…")
        self._load_worker(path)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_worker(self, path: Path) -> None:
        try:
            from tui_denoiser.core.inference import load_model

            loaded = load_model(path, "cpu")
        except UserError as err:
            self.post_message(ModelLoadFailed(str(path), str(err)))
            return
        except Exception as err:  # noqa: BLE001 - one line, and the previous model stays
            self.post_message(ModelLoadFailed(str(path), f"cannot load {path}: {type(err).__name__}: {err}"))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(ModelLoaded(str(path), loaded))

    def on_model_load_failed(self, message: ModelLoadFailed) -> None:
        self._loading = False
        keep = " (kept the current model)" if self.loaded is not None else ""
        self.controls.show_status(f"✗ {message.message}{keep}", error=True)
        self.notify(message.message, title="Cannot load the checkpoint", severity="error")

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self._loading = False
        self.loaded = loaded = message.loaded
        self.controls.use_model(message.key, loaded.sampling, loaded.short_description,
                                takes_guidance=loaded.model_config.guidance_input)

    # ----------------------------------------------------------------- sampling
    def on_sampling_controls_requested(self, message: SamplingControls.Requested) -> None:
        request = message.request
        if self.loaded is None or request in (self.shown_request, self.pending_request):
            return
        self.pending_request = request
        self._sample(self.loaded, request)

    @work(thread=True, exclusive=True, group="sample", exit_on_error=False)
    def _sample(self, loaded: Any, request: SampleRequest) -> None:
        worker = get_current_worker()
        try:
            from tui_denoiser.core.imaging import to_uint8

            guide = None
            if request.guide is not None:
                from tui_denoiser.core.inference import load_guide

                guide = self._guides.get(request.guide) or load_guide(request.guide, loaded.model)
                self._guides[request.guide] = guide
            frames, sigmas = [], []
            for step in loaded.sample([request.digit] * request.batch, request.sampling, seed=request.seed,
                                      guide=guide):
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
        self.controls.show_status(f"✗ {message.message}", error=True)

    def on_samples_ready(self, message: SamplesReady) -> None:
        if message.request != self.pending_request:
            return  # superseded by a newer request
        self.pending_request = None
        self.controls.clear_error()
        self.viewer.show_trajectory(message.request, message.frames, message.sigmas)

    # ----------------------------------------------------------------- keys
    def action_digit(self, digit: int) -> None:
        self.controls.set_digit(digit)

    def action_new_seed(self) -> None:
        self.controls.new_seed()

    def action_step(self, delta: int) -> None:
        self.viewer.step(delta)

    def action_jump(self, where: int) -> None:
        self.viewer.jump(where)

    def action_play(self) -> None:
        self.viewer.toggle_play()

    def action_leave_field(self) -> None:
        self.set_focus(None)

    # ----------------------------------------------------------------- export
    def action_export(self) -> None:
        request, frames = self.shown_request, self.frames
        if not frames or request is None:
            self.controls.show_status("nothing to export yet", error=True)
            return
        self.controls.show_status("exporting…")
        self._export(list(frames), request)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def _export(self, frames: list[Any], request: SampleRequest) -> None:
        from tui_denoiser.core.trajectory_export import default_export_dir, export_trajectory

        folder = self.export_dir or default_export_dir()
        try:
            paths = export_trajectory(frames, folder, digit=request.digit, seed=request.seed, sampler=request.sampler)
        except OSError as err:
            self.post_message(ExportFailed(f"cannot write to {folder}: {err.strerror or err}"))
            return
        except Exception as err:  # noqa: BLE001
            self.post_message(ExportFailed(f"export failed: {type(err).__name__}: {err}"))
            return
        self.post_message(ExportDone([str(p) for p in paths]))

    def on_export_done(self, message: ExportDone) -> None:
        self.exported = message.paths
        self.controls.show_status("wrote " + " and ".join(message.paths))
        self.notify("\n".join(message.paths), title="Exported")

    def on_export_failed(self, message: ExportFailed) -> None:
        self.controls.show_status(f"✗ {message.message}", error=True)

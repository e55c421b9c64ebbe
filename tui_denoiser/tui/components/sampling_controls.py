"""The sampling screen's controls: which model, which digit, seed, steps, sampler, guidance, guide and budget.

The widget owns the request as attributes (``digit``, ``seed``, ``steps``, ``sampler``, ``guidance``,
``guide``, ``max_calls``; None means "the model's default", or no budget) and posts a :class:`SamplingControls.Requested` message whenever they
make a new valid request. The fields only show those attributes: nothing is parsed back out of them
later. What a request samples with is decided by the core's ``resolve_sampling`` on top of the loaded
model's own sampling config, never here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Select, Static

from tui_denoiser.core.config import SAMPLER_NAMES, SamplingConfig
from tui_denoiser.core.errors import ConfigError

BATCH = 4  # samples of the chosen digit drawn side by side
MODEL_LIST_COLUMNS = 18  # the model list's width: checkpoint names are cut to fit it
SEED_RANGE = 1_000_000  # ``r`` draws a seed below this
LABELS = {"steps": "steps", "sampler": "sampler", "guidance": "guidance",
          "max_calls": "calls"}  # config field -> control name


@dataclass(frozen=True)
class SampleRequest:
    """Everything that decides a trajectory; equal requests give equal pictures."""

    model_key: str
    digit: int
    seed: int
    sampling: SamplingConfig
    batch: int = BATCH
    guide: str | None = None  # autoguidance: the guide checkpoint's path; None: the null label (CFG)

    @property
    def sampler(self) -> str:
        return self.sampling.sampler


def short_path(path: Path) -> str:
    """``run/epoch-003.pt``, cut to fit the model list: enough to tell checkpoints apart."""
    text = f"{path.parent.name}/{path.name}"
    return text if len(text) <= MODEL_LIST_COLUMNS else "…" + text[-(MODEL_LIST_COLUMNS - 1):]


class SamplingControls(Vertical):
    """The left column of the sampling screen; the screen loads models and samples what it asks for."""

    @dataclass
    class Requested(Message):
        """The controls make a new valid request (the screen samples it unless it is on show already)."""

        request: SampleRequest

    @dataclass
    class ModelChosen(Message):
        """The person picked a model from the list or typed a checkpoint path."""

        path: Path

    def __init__(self, *, batch: int = BATCH, id: str | None = None) -> None:
        super().__init__(id=id)
        self.batch = batch
        self.model_key: str | None = None
        self.defaults: SamplingConfig | None = None  # the loaded model's own sampling
        self.takes_guidance = False  # the loaded model is a guidance-distilled student
        self.digit = 7
        self.seed = 0
        self.steps: int | None = None
        self.sampler: str | None = None
        self.guidance: float | None = None
        self.max_calls: int | None = None  # a budget of model calls per sample (``sample --max-calls``)
        self.guide: str | None = None  # a guide checkpoint for autoguidance; None: the null label
        self.model_options: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
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
            yield Select([(name, name) for name in SAMPLER_NAMES], prompt="-", compact=True, id="sampler")
        with Horizontal(classes="ctl-row"):
            yield Static("guidance", classes="ctl-name")
            yield Input("", placeholder="default", compact=True, id="guidance", type="number")
        yield Static("1 = plain conditional", id="guidance-help")
        with Horizontal(classes="ctl-row"):
            yield Static("guide", classes="ctl-name")
            yield Select([], prompt="null label", compact=True, id="guide")
        with Horizontal(classes="ctl-row"):
            yield Static("calls ≤", classes="ctl-name")
            yield Input("", placeholder="any", compact=True, id="max-calls", type="integer")
        yield Static("", id="calls-info")
        yield Static("", id="samp-status")

    # ----------------------------------------------------------------- what the screen tells it
    def show_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#samp-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def clear_error(self) -> None:
        """A request worked: an old error line no longer applies."""
        if self.query_one("#samp-status", Static).has_class("-error"):
            self.show_status("")

    def show_checkpoints(self, found: list[str], shipped: list[tuple[str, str]]) -> None:
        """List the shipped models, then the checkpoints found, then the model on show if none of those."""
        options = shipped + [(short_path(Path(p)), p) for p in found]
        if self.model_key and all(value != self.model_key for _, value in options):
            options.append((short_path(Path(self.model_key)), self.model_key))
        self._set_model_options(options)

    def _set_model_options(self, options: list[tuple[str, str]]) -> None:
        self.model_options = options
        select = self.query_one("#model-select", Select)
        with self.prevent(Select.Changed):
            select.set_options(options)
            if self.model_key and any(value == self.model_key for _, value in options):
                select.value = self.model_key

    def show_guides(self, guides: list[tuple[str, str]]) -> None:
        """The guide models on offer, as (label, path); the blank choice is the null label (CFG)."""
        self.query_one("#guide", Select).set_options(guides)

    def use_model(self, key: str, sampling: SamplingConfig, info: str, *, takes_guidance: bool = False) -> None:
        """A model was loaded: its own sampling becomes what the fields show, then request a picture.
        ``takes_guidance``: it is a guidance-distilled student (it takes the guidance weight as an input)."""
        self.model_key, self.defaults = key, sampling
        self.takes_guidance = takes_guidance
        self.sampler, self.steps, self.guidance = sampling.sampler, sampling.steps, sampling.guidance
        self.query_one("#model-info", Static).update(info)
        with self.prevent(Select.Changed, Input.Changed):
            self.query_one("#sampler", Select).value = sampling.sampler
            self.query_one("#steps", Input).value = str(sampling.steps)
            self.query_one("#guidance", Input).value = f"{sampling.guidance:g}"
        options = self.model_options
        if not any(value == key for _, value in options):
            options = options + [(short_path(Path(key)), key)]
        self._set_model_options(options)
        self.show_status(f"loaded {short_path(Path(key))}")
        self.post_request()

    def set_digit(self, digit: int) -> None:
        self.digit = digit
        self.query_one("#digit-value", Static).update(str(digit))
        self.post_request()

    def new_seed(self) -> None:
        self.seed = random.randrange(0, SEED_RANGE)
        with self.prevent(Input.Changed):
            self.query_one("#seed", Input).value = str(self.seed)
        self.post_request()

    # ----------------------------------------------------------------- the request
    def request(self) -> SampleRequest | None:
        """The request the controls make now; None before a model loads or while a value is refused
        (its reason is on the status line, named as the control that holds it)."""
        if self.model_key is None or self.defaults is None:
            return None
        from tui_denoiser.core.sampling_policy import (count_model_calls, guided_in_one_call, resolve_sampling,
                                                       within_budget)

        one_call = guided_in_one_call(self.takes_guidance, self.guide)
        try:
            sampling = resolve_sampling(self.defaults, sampler=self.sampler, steps=self.steps, guidance=self.guidance)
            if self.max_calls is not None:  # the best measured setting within the budget, as --max-calls picks
                sampling = within_budget(sampling, self.max_calls, one_call_guidance=one_call)
        except ConfigError as err:
            self.show_status(f"✗ {err.worded(lambda field: LABELS.get(field, field))}", error=True)
            return None
        calls = count_model_calls(sampling, one_call_guidance=one_call)
        self.query_one("#calls-info", Static).update(f"= {calls} model call{'s' if calls != 1 else ''}")
        return SampleRequest(self.model_key, self.digit, self.seed, sampling, self.batch,
                             self.guide if sampling.guided else None)

    def post_request(self) -> None:
        request = self.request()
        if request is not None:
            self.post_message(self.Requested(request))

    # ----------------------------------------------------------------- the person's input
    @on(Select.Changed, "#model-select")
    def _model_chosen(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str) and event.value != self.model_key:
            self.post_message(self.ModelChosen(Path(event.value)))

    @on(Input.Submitted, "#model-path")
    def _path_typed(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.post_message(self.ModelChosen(Path(event.value.strip()).expanduser()))

    @on(Input.Changed, "#seed")
    def _seed_typed(self, event: Input.Changed) -> None:
        event.stop()
        seed = _number(int, event.value)
        if isinstance(seed, int) and seed >= 0 and seed != self.seed:
            self.seed = seed
            self.post_request()

    @on(Input.Changed, "#steps")
    @on(Input.Changed, "#guidance")
    @on(Input.Changed, "#max-calls")
    def _number_typed(self, event: Input.Changed) -> None:
        event.stop()
        name = {"steps": "steps", "guidance": "guidance", "max-calls": "max_calls"}[event.input.id or ""]
        value = _number(float if name == "guidance" else int, event.value)
        if value is not _UNREADABLE:  # half-typed text ("-") is not a request yet
            setattr(self, name, value)
            self.post_request()

    @on(Select.Changed, "#guide")
    def _guide_chosen(self, event: Select.Changed) -> None:
        event.stop()
        self.guide = event.value if isinstance(event.value, str) else None
        self.post_request()

    @on(Select.Changed, "#sampler")
    def _sampler_chosen(self, event: Select.Changed) -> None:
        event.stop()
        self.sampler = event.value if isinstance(event.value, str) else None
        self.post_request()


_UNREADABLE = object()


def _number(kind: type, text: str) -> object:
    """``kind(text)``; None for an empty field (the model's default); ``_UNREADABLE`` for half-typed text."""
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        return _UNREADABLE

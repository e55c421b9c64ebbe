"""The playground's middle column: the classifier's reading of the canvas, a run's settings, the status line.

It owns the settings as attributes, and the fields only show them: ``target`` (a digit, or "as the
classifier reads it"), ``to`` (the morph's other end: a digit, or the next seed), ``sigma``, ``seed`` and
``count``. A number field holding text that is not a number keeps that text aside, so that the run asked
for next says which field holds what. It also owns the classifier's last reading (the bars and the
"reads" line). :meth:`prepare` turns the settings into the :class:`PlayRequest` and the job that the
screen's worker runs; what a run samples with is decided by the core (``editing_sampling``,
``check_sigma``), never here.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Select, Static

from tui_denoiser.core.errors import UserError
from tui_denoiser.tui.messages import PlayRequest
from tui_denoiser.tui.widgets.class_bars import ClassBars

DEFAULT_SIGMA = 3.0
DEFAULT_COUNT = 6
DEFAULT_TO = "7"
AS_READ = "read"  # the target choice "as the classifier reads it"
NEXT_SEED = "seed"  # the morph end "the next seed" (one digit, two seeds)
NUMBERS = {"pg-sigma": ("sigma", float, "σ"), "pg-seed": ("seed", int, "seed"),
           "pg-count": ("count", int, "count")}  # field id -> (attribute, type, the name errors use)


def _target_options() -> list[tuple[str, str]]:
    return [("read", AS_READ)] + [(str(d), str(d)) for d in range(10)]


def _to_options() -> list[tuple[str, str]]:
    return [(str(d), str(d)) for d in range(10)] + [("next seed", NEXT_SEED)]


class PlayControls(Vertical):
    """The settings a run is made from; the screen asks :meth:`prepare` for a run and says what happened."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target = AS_READ
        self.to = DEFAULT_TO
        self.sigma = DEFAULT_SIGMA
        self.seed = 0
        self.count = DEFAULT_COUNT
        self.probabilities: Any = None  # the classifier's reading of the canvas; None while blank
        self._refused: dict[str, str] = {}  # attribute -> the text its field holds that is not a number

    def compose(self) -> ComposeResult:
        yield ClassBars(id="pg-bars")
        yield Static("", id="pg-reads")
        with Horizontal(classes="pg-row"):
            yield Static("σ", classes="pg-name")
            yield Input(f"{self.sigma:g}", compact=True, id="pg-sigma", type="number")
        with Horizontal(classes="pg-row"):
            yield Static("digit", classes="pg-name")
            yield Select(_target_options(), value=self.target, allow_blank=False, compact=True, id="pg-digit")
        with Horizontal(classes="pg-row"):
            yield Static("to", classes="pg-name")
            yield Select(_to_options(), value=self.to, allow_blank=False, compact=True, id="pg-to")
        with Horizontal(classes="pg-row"):
            yield Static("seed", classes="pg-name")
            yield Input(str(self.seed), compact=True, id="pg-seed", type="integer")
        with Horizontal(classes="pg-row"):
            yield Static("count", classes="pg-name")
            yield Input(str(self.count), compact=True, id="pg-count", type="integer")
        yield Static("loading the model…", id="pg-status")

    # ----------------------------------------------------------------- what the screen tells it
    def show_status(self, text: str, error: bool = False) -> None:
        status = self.query_one("#pg-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    def show_reading(self, probabilities: Any) -> None:
        """The classifier's reading of the canvas: (10,) probabilities, or None for a blank canvas."""
        self.probabilities = probabilities
        self.query_one(ClassBars).set_probabilities(probabilities)
        reads = self.query_one("#pg-reads", Static)
        if probabilities is None:
            reads.update("blank canvas")
        else:
            best = int(probabilities.argmax())
            reads.update(f"reads {best} ({probabilities[best] * 100:.0f}%)")

    def set_target(self, value: str) -> None:
        """The digit to aim for ("0".."9"), or :data:`AS_READ`."""
        self.target = value
        with self.prevent(Select.Changed):
            self.query_one("#pg-digit", Select).value = value

    # ----------------------------------------------------------------- the settings
    def target_digit(self) -> int | None:
        """The chosen digit, or the classifier's reading for "as read" (None while it has none)."""
        if self.target == AS_READ:
            return None if self.probabilities is None else int(self.probabilities.argmax())
        return int(self.target)

    def number(self, name: str) -> Any:
        """The ``sigma``, ``seed`` or ``count`` on show; a ``UserError`` naming the field if it is not a number."""
        if name in self._refused:
            what = next(label for attribute, _, label in NUMBERS.values() if attribute == name)
            raise UserError(f"{what} must be a number, got {self._refused[name]!r}")
        return getattr(self, name)

    def prepare(self, kind: str, sampling: Any, image: Any, mask: Any) -> tuple[PlayRequest, dict[str, Any]]:
        """The request and the worker's job for an ``edit``, ``inpaint`` or ``morph`` of ``image`` (uint8
        (28, 28)) with a model whose own sampling is ``sampling``; a ``UserError`` says what is missing."""
        from tui_denoiser.core.playground import check_sigma
        from tui_denoiser.core.sampling_policy import editing_sampling

        config = sampling if kind == "morph" else editing_sampling(sampling)
        seed = self.number("seed")
        if seed < 0:
            raise UserError(f"seed must be 0 or more, got {seed}")
        digit = self.target_digit()
        if kind == "morph":
            count = self.number("count")
            if not 2 <= count <= 16:
                raise UserError(f"count must be 2..16 here, got {count}")
            digit = 0 if digit is None else digit
            to = self.to
            label = f"{digit}→{to}" if to != NEXT_SEED else f"{digit} seed {seed}→{seed + 1}"
            job = {"kind": kind, "digit": digit, "to": None if to == NEXT_SEED else int(to), "count": count}
            return PlayRequest(kind, label, config.sampler, seed), job
        if digit is None:
            raise UserError("draw something first, or choose a digit (the classifier has nothing to read)")
        if kind == "edit":
            sigma = check_sigma(self.number("sigma"), config)
            job = {"kind": kind, "image": image, "digit": digit, "sigma": sigma}
            return PlayRequest(kind, digit, config.sampler, seed, sigma), job
        if not mask.any():
            raise UserError("mark the region to regenerate first: m, then drag (h: the lower half)")
        job = {"kind": kind, "image": image, "mask": mask.copy(), "digit": digit}
        return PlayRequest(kind, digit, config.sampler, seed), job

    # ----------------------------------------------------------------- the person's input
    @on(Input.Changed, "#pg-sigma")
    @on(Input.Changed, "#pg-seed")
    @on(Input.Changed, "#pg-count")
    def _number_typed(self, event: Input.Changed) -> None:
        event.stop()
        name, kind, _ = NUMBERS[event.input.id or ""]
        text = event.value.strip()
        try:
            setattr(self, name, kind(text))
        except ValueError:
            self._refused[name] = text
        else:
            self._refused.pop(name, None)

    @on(Select.Changed, "#pg-digit")
    def _target_chosen(self, event: Select.Changed) -> None:
        event.stop()
        self.target = str(event.value)

    @on(Select.Changed, "#pg-to")
    def _to_chosen(self, event: Select.Changed) -> None:
        event.stop()
        self.to = str(event.value)

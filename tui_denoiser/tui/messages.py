"""Messages that background workers post to the screens.

Workers never touch widgets: they wrap what the core reports in these dataclass messages and post them
(``post_message`` is thread-safe); the screen's handlers update the widgets on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from tui_denoiser.core.runs.events import StepUpdate, TrainEvent


@dataclass
class TrainingEventMessage(Message):
    """Carries one core ``TrainEvent`` from the trainer (or read back from a run's ``metrics.jsonl``)."""

    event: TrainEvent
    run_token: int = 0  # which run posted it, so a late event from an old run is ignored


@dataclass
class TrainingStepMessage(TrainingEventMessage):
    """A throttled step update; a newer one replaces an unhandled older one so the queue never backs up."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainingStepMessage) and message.run_token == self.run_token


def training_message(event: TrainEvent, run_token: int = 0) -> TrainingEventMessage:
    """The message type for a core event (step updates may be coalesced)."""
    if isinstance(event, StepUpdate):
        return TrainingStepMessage(event, run_token)
    return TrainingEventMessage(event, run_token)


@dataclass
class PrecisionChosen(Message):
    """The training worker's precision decision (core/precision.py), before the trainer starts; with
    ``probing``, ``line`` says that a probe times the options now (seconds, once per machine)."""

    line: str
    run_token: int = 0
    probing: bool = False
    bf16_reason: str = ""  # the choice's bf16 part, for the form's line under bf16


@dataclass
class TrainerCrashed(Message):
    """The trainer raised instead of returning (bad data folder, bug): one line for the log."""

    message: str  # worded with the form's field names
    run_token: int = 0
    field: str | None = None  # the config field at fault, when the core error names one


@dataclass
class ModelLoaded(Message):
    """A checkpoint was loaded into a separate inference model (never the one a trainer updates)."""

    key: str
    loaded: Any  # core.inference.LoadedModel


@dataclass
class ModelLoadFailed(Message):
    key: str
    message: str  # one line


@dataclass
class CheckpointsFound(Message):
    paths: list[str]


@dataclass
class SamplesReady(Message):
    """Every frame of one trajectory: ``frames[k]`` is uint8 (B, 28, 28) at noise level ``sigmas[k]``."""

    request: Any  # the SampleRequest it answers
    frames: list[Any]
    sigmas: list[float]


@dataclass
class SamplingFailed(Message):
    message: str


@dataclass
class ExportDone(Message):
    paths: list[str]


@dataclass
class ExportFailed(Message):
    message: str


# ----------------------------------------------------------------- the playground


@dataclass(frozen=True)
class PlayRequest:
    """What a playground run was asked for (the step viewer shows ``digit`` and ``sampler``)."""

    kind: str  # "edit", "inpaint" or "morph"
    digit: Any  # the target digit, or "3→7" for a morph
    sampler: str
    seed: int
    sigma: float | None = None
    token: int = 0  # which run of the screen's it is, so frames from a stopped run are ignored


@dataclass
class CanvasRead(Message):
    """The classifier's reading of the canvas."""

    probabilities: Any  # (10,) floats, or None for a blank canvas
    token: int


@dataclass
class PlayFrames(Message):
    """The frames of a playground run so far (``done`` once it finished)."""

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

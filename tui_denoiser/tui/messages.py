"""Messages that background workers post to the screens.

Workers never touch widgets: they wrap what the core reports in these dataclass messages and post them
(``post_message`` is thread-safe); the screen's handlers update the widgets on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message

from tui_denoiser.core.events import StepUpdate, TrainEvent


@dataclass
class TrainerEvent(Message):
    """One event from the core trainer (or read back from a run's ``metrics.jsonl``)."""

    event: TrainEvent
    run_token: int = 0  # which run posted it, so a late event from an old run is ignored


@dataclass
class TrainerStep(TrainerEvent):
    """A throttled step update; a newer one replaces an unhandled older one so the queue never backs up."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TrainerStep) and message.run_token == self.run_token


def trainer_message(event: TrainEvent, run_token: int = 0) -> TrainerEvent:
    """The message type for a core event (step updates may be coalesced)."""
    if isinstance(event, StepUpdate):
        return TrainerStep(event, run_token)
    return TrainerEvent(event, run_token)


@dataclass
class TrainerCrashed(Message):
    """The trainer raised instead of returning (bad data folder, bug): one line for the log."""

    message: str
    run_token: int = 0


@dataclass
class CoreReady(Message):
    """torch and the core have been imported in the background; heavy work will now start fast."""

    samplers: dict[str, str] = field(default_factory=dict)


@dataclass
class ModelLoaded(Message):
    """A checkpoint was loaded into a separate inference model (never the one a trainer updates)."""

    key: str
    loaded: Any  # core.checkpoint.LoadedModel


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

"""What the trainer reports, as small dataclasses handed to a callback.

Plain Python (no torch): the app turns each into a Textual message, the CLI into a progress bar, and
``watch`` reads them back from a run's ``metrics.jsonl``. ``to_json``/``event_from_json`` are that
round trip.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

from tui_denoiser.core.errors import plain_name, word


@dataclass
class TrainEvent:
    kind = "event"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["kind"] = self.kind
        return data


@dataclass
class RunStarted(TrainEvent):
    """Sent once before the first step: what runs, where, and from which epoch/step."""

    kind = "started"
    run_dir: str
    device: str
    device_name: str
    epochs: int
    steps_per_epoch: int
    start_epoch: int  # 0-based epoch the run (re)starts at
    global_step: int
    lr_schedule: list[float]  # the learning rate of every epoch, as StepLR will set it
    model_config: dict[str, Any]
    train_config: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier epochs, when resumed


@dataclass
class StepUpdate(TrainEvent):
    """Throttled (a few per second): the latest training loss and speed."""

    kind = "step"
    epoch: int  # 0-based
    step_in_epoch: int  # 1-based steps done in this epoch
    steps_per_epoch: int
    global_step: int
    loss: float  # mean over the steps since the last update
    lr: float
    images_per_s: float
    elapsed_s: float
    eta_s: float
    gpu_memory_mb: float | None = None


@dataclass
class EpochEnd(TrainEvent):
    kind = "epoch"
    epoch: int  # 0-based epoch just finished
    epochs: int
    global_step: int
    train_loss: float
    val_loss: float
    lr: float  # the learning rate used in this epoch
    next_lr: float
    elapsed_s: float
    eta_s: float
    images_per_s: float
    # One generated image per class (0..9), uint8 28x28 nested lists, 0 = background; None if off.
    preview: list[list[list[int]]] | None = None


@dataclass
class LossBySigma(TrainEvent):
    """The training loss of one epoch binned by noise level: where along sigma the model is learning.

    Written at every epoch end, and at the end of a run that stops inside an epoch (``partial``).
    The bins are fixed for a run (see ``core/training/sigma_bins.py``), so epochs compare bin by bin.
    """

    kind = "loss_by_sigma"
    epoch: int  # 0-based epoch the losses are from
    global_step: int
    sigma: list[float]  # bin centres (geometric), ascending
    edges: list[float]  # len(sigma) + 1 bin edges
    loss: list[float | None]  # mean per-sample training loss in each bin; None where no sample fell
    count: list[int]
    partial: bool = False  # the epoch was cut short by the end of the run


@dataclass
class QualityEval(TrainEvent):
    """A small sample-quality evaluation of the sampling weights (EMA when on) during training.

    ``accuracy``: share of samples the shipped classifier reads as the digit asked for; ``frechet``:
    classifier-feature Frechet distance to real test digits, beside ``frechet_floor`` (real training
    digits vs the same test digits at this count: what a perfect model would score).
    """

    kind = "quality"
    epoch: int  # 0-based epoch it ran in (at an epoch end: the epoch just finished)
    global_step: int
    accuracy: float
    frechet: float
    frechet_floor: float
    per_digit: int
    seconds: float
    sampler: str = ""
    model_calls: int = 0
    at: str = "epoch"  # "epoch", "step" (--eval-every) or "end"
    judges: dict[str, dict[str, float | None]] | None = None  # further judges' accuracy/frechet, when installed


@dataclass
class CheckpointSaved(TrainEvent):
    kind = "checkpoint"
    path: str
    epoch: int  # epochs completed in the file
    global_step: int
    reason: str  # "epoch", "stop", "signal"


@dataclass
class WarningEvent(TrainEvent):
    kind = "warning"
    message: str


@dataclass
class Finished(TrainEvent):
    kind = "finished"
    epochs_done: int
    global_step: int
    elapsed_s: float
    stopped: bool  # True when stopped early by the stop event / max_steps
    last_checkpoint: str | None
    final_train_loss: float | None = None
    final_val_loss: float | None = None


@dataclass
class Failed(TrainEvent):
    kind = "failed"
    message: str  # one line, the setting at fault named plainly
    last_checkpoint: str | None = None
    error: dict[str, Any] | None = None  # the core error (ExplainedError.to_json), for front ends to word

    def worded(self, name_of: Callable[[str], str] = plain_name) -> str:
        """The line with the setting at fault named as a front end names it (a CLI flag, a form field)."""
        if not self.error:
            return self.message
        return word(self.error["message"], field=self.error.get("field"), hint=self.error.get("hint"),
                    name_of=name_of)


EVENT_TYPES: dict[str, type[TrainEvent]] = {
    cls.kind: cls for cls in (RunStarted, StepUpdate, EpochEnd, LossBySigma, QualityEval, CheckpointSaved,
                          WarningEvent, Finished, Failed)
}


def event_from_json(data: dict[str, Any]) -> TrainEvent:
    """Rebuild an event written by ``TrainEvent.to_json`` (unknown kinds raise ValueError)."""
    data = dict(data)
    kind = data.pop("kind", None)
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})

"""Plain-text formatting shared by every front end (no torch): the CLI and the app word figures alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui_denoiser.core.runs.events import QualityEval


def format_duration(seconds: float | None) -> str:
    """``m:ss`` or ``h:mm:ss``; ``-`` for an unknown (None, NaN or negative) duration."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def quality_line(event: QualityEval) -> str:
    """One evaluation in words, for the CLI's progress and summary and the app's log."""
    extra = ""
    if event.judges:
        extra = "; " + ", ".join(f"{name} {scores['frechet']:.2f}" for name, scores in event.judges.items()
                                 if scores.get("frechet") is not None)
    return (f"accuracy {100 * event.accuracy:.1f} %, Frechet {event.frechet:.3g} (floor {event.frechet_floor:.3g})"
            f"{extra}, {event.per_digit} a digit in {event.seconds:.1f} s")


def quality_short(event: QualityEval) -> str:
    """The progress bar's column, kept short for 80 columns: "19% FD 50.2" (accuracy, Frechet)."""
    return f"{100 * event.accuracy:.0f}% FD {event.frechet:.3g}"

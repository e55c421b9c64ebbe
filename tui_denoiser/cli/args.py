"""What the CLI's commands share: the parser, argument types, the sampling and output arguments, the
default checkpoint, and how an error names a setting (as the flag that sets it).

Every bad argument ends as one line on stderr and exit status 2 (:class:`Parser` raises a UserError).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui_denoiser.core.config import MAX_EVAL_PER_DIGIT, SAMPLER_NAMES
from tui_denoiser.core.errors import ExplainedError, UserError
from tui_denoiser.core.paths import SHIPPED_MODELS
from tui_denoiser.core.sampling_policy import KEEP

PROG = "denoiser-tui"


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line (no usage dump) and exits 2."""

    def _get_values(self, action, arg_strings):  # type: ignore[override]
        # Python 3.11's argparse turns "--opt=--" into an empty list instead of an error.
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected one value")
        return super()._get_values(action, arg_strings)

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def int_in(lo: int, hi: int | None, what: str):
    """An argparse type: an integer in [lo, hi], else one line that says ``what`` was expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{what}, got {value}")
        return value

    return parse


positive_int = int_in(1, None, "expected a positive integer")
non_negative_int = int_in(0, None, "expected a non-negative integer")
digit = int_in(0, 9, "digit must be 0..9")
eval_per_digit = int_in(1, MAX_EVAL_PER_DIGIT, f"expected an integer in 1..{MAX_EVAL_PER_DIGIT}")


def number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def channels(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three integers like 32,64,128, got {text!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive integers like 32,64,128, got {text!r}")
    return values  # type: ignore[return-value]


def sampler(text: str) -> str:
    if text not in SAMPLER_NAMES:
        raise argparse.ArgumentTypeError(f"unknown sampler {text!r}: choose one of {', '.join(SAMPLER_NAMES)}")
    return text


def guidance_interval(text: str) -> tuple[float, float] | None:
    """``LO,HI``: guide only at noise levels in LO..HI; ``all``: at every level."""
    if text.strip().lower() in ("all", "none"):
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two noise levels like 0.3,10 or 'all', got {text!r}") from None
    if not (0 <= lo <= hi < float("inf")):
        raise argparse.ArgumentTypeError(f"expected two finite noise levels 0 <= LO <= HI, got {text!r}")
    return lo, hi


# A core error names the setting at fault by its config field; here it is worded as the flag that sets it.
_FLAGS = {"ema_decay": "--ema", "data_dir": "--data-dir"}


def flag_of(field: str) -> str:
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


def add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """The sampling request of ``sample`` and ``eval``; what is left out is the model's own."""
    parser.add_argument("--sampler", type=sampler, metavar="{" + ",".join(SAMPLER_NAMES) + "}",
                        help="sampler (default: the model's own; dpm2m-churn for EDM models and, with churn up to "
                             "sigma 0.6, over its training levels for the original recipe; seed for the seed recipe)")
    parser.add_argument("--steps", type=positive_int, help="sampling steps (default: the model's)")
    parser.add_argument("--guidance", type=number,
                        help="classifier-free guidance scale, 1 = plain conditional (default: the model's)")
    parser.add_argument("--guidance-interval", type=guidance_interval, default=KEEP, metavar="LO,HI|all",
                        help="guide only at noise levels in LO..HI, or 'all' at every level (default: the model's)")
    parser.add_argument("--guide", metavar="CHECKPOINT|shipped",
                        help="autoguidance: guide away from this weaker model of the same digits instead of the "
                             "null label ('shipped': the guide shipped for the default model; --guidance sets "
                             "how far)")
    parser.add_argument("--max-calls", type=positive_int, metavar="N",
                        help="the best measured setting that costs at most N model calls per sample "
                             "(picks sampler, steps and guidance itself)")


def add_output_arguments(parser: argparse.ArgumentParser, item: str) -> None:
    """``--out`` (its suffix names the format) and ``--strip``; ``item`` is what each row of a strip shows."""
    parser.add_argument("--out", required=True, help=".png grid (--strip: every step), .gif animation, .npy array")
    parser.add_argument("--strip", action="store_true", help=f"with .png: each {item}'s steps in a row")


def check_out(args: argparse.Namespace) -> Path:
    """``--out`` as a path whose suffix names a format and whose folder exists (and ``--strip`` only
    with .png), before any work is done; shared by every command that writes images."""
    from tui_denoiser.core.imaging import SUFFIXES

    out = Path(args.out).expanduser()
    if out.suffix.lower() not in SUFFIXES:
        raise UserError(f"--out must end in {', '.join(SUFFIXES)}, got {out.name!r}")
    if getattr(args, "strip", False) and out.suffix.lower() != ".png":
        raise UserError("--strip applies to .png output only")
    if not out.parent.exists():
        raise UserError(f"the folder of --out does not exist: {out.parent}")
    return out


CHECKPOINT_HELP = ("default: the shipped default model; shipped:NAME for another shipped model ("
                   + ", ".join(SHIPPED_MODELS) + ")")


def default_checkpoint(given: str | None) -> Path:
    from tui_denoiser.core import paths

    if given:
        return paths.model_path(given)
    if not paths.DEFAULT_MODEL.is_file():
        raise UserError(f"no --checkpoint given and {paths.missing_shipped_line(paths.DEFAULT_MODEL)}")
    return paths.DEFAULT_MODEL


def guide_checkpoint(given: str | None) -> Path | None:
    """``--guide``: None, a path, or ``shipped`` for the guide that comes with the package."""
    from tui_denoiser.core import paths

    if given is None:
        return None
    if given == "shipped":
        return paths.require_shipped(paths.GUIDE_MODEL)
    return Path(given).expanduser()


def check_readable_run_dir(run_dir: Path) -> None:
    """One line for a run folder that is missing, not a folder, or that we may not read."""
    from tui_denoiser.core.runs.folder import run_folder_problem

    problem = run_folder_problem(run_dir)
    if problem is not None:
        raise UserError(problem)


def worded(exc: ExplainedError) -> str:
    """The error's line with the setting at fault named as its flag."""
    return exc.worded(flag_of)


def one_line(text: str) -> str:
    """An error stays one line: a line break inside it (from an argument or a path) is shown escaped."""
    return "".join(repr(ch)[1:-1] if len(f"a{ch}a".splitlines()) > 1 else ch for ch in text)

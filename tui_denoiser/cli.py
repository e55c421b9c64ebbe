"""Command line: ``denoiser-tui`` opens the app; ``train``, ``sample``, ``info``, ``eval``, ``watch``;
the playground's ``edit``, ``inpaint`` and ``morph`` live in ``cli_playground.py``.

Torch is imported only inside the commands that need it, so ``denoiser-tui`` paints its first screen
quickly. Every bad input ends as one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path
from typing import Sequence

from tui_denoiser.core.config import DATASETS, DEVICES, MAX_EVAL_PER_DIGIT, NOISE_MODES, RECIPES, SAMPLER_NAMES, STARTS
from tui_denoiser.core.errors import ExplainedError, TrainingError, UserError
from tui_denoiser.core.sampling_policy import KEEP

PROG = "denoiser-tui"


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument as one line (no usage dump) and exits 2."""

    def _get_values(self, action, arg_strings):  # type: ignore[override]
        # Python 3.11's argparse turns "--opt=--" into an empty list instead of an error.
        if action.option_strings and action.nargs is None and arg_strings == ["--"]:
            self.error(f"argument {'/'.join(action.option_strings)}: expected one value")
        return super()._get_values(action, arg_strings)

    def error(self, message: str):  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def _int_in(lo: int, hi: int | None, what: str):
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


_positive_int = _int_in(1, None, "expected a positive integer")
_non_negative_int = _int_in(0, None, "expected a non-negative integer")
_digit = _int_in(0, 9, "digit must be 0..9")
_eval_per_digit = _int_in(1, MAX_EVAL_PER_DIGIT, f"expected an integer in 1..{MAX_EVAL_PER_DIGIT}")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _channels(text: str) -> tuple[int, int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three integers like 32,64,128, got {text!r}") from None
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected three positive integers like 32,64,128, got {text!r}")
    return values  # type: ignore[return-value]


def _sampler(text: str) -> str:
    if text not in SAMPLER_NAMES:
        raise argparse.ArgumentTypeError(f"unknown sampler {text!r}: choose one of {', '.join(SAMPLER_NAMES)}")
    return text


def _guidance_interval(text: str) -> tuple[float, float] | None:
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


def _add_sampling_arguments(parser: argparse.ArgumentParser) -> None:
    """The sampling request of ``sample`` and ``eval``; what is left out is the model's own."""
    parser.add_argument("--sampler", type=_sampler, metavar="{" + ",".join(SAMPLER_NAMES) + "}",
                        help="sampler (default: the model's own; dpm2m-churn for EDM models, original otherwise)")
    parser.add_argument("--steps", type=_positive_int, help="sampling steps (default: the model's)")
    parser.add_argument("--guidance", type=_number,
                        help="classifier-free guidance scale, 1 = plain conditional (default: the model's)")
    parser.add_argument("--guidance-interval", type=_guidance_interval, default=KEEP, metavar="LO,HI|all",
                        help="guide only at noise levels in LO..HI, or 'all' at every level (default: the model's)")
    parser.add_argument("--max-calls", type=_positive_int, metavar="N",
                        help="the best measured setting that costs at most N model calls per sample "
                             "(picks sampler, steps and guidance itself)")


def build_parser() -> argparse.ArgumentParser:
    from tui_denoiser import __version__

    parser = _Parser(prog=PROG, description="Train and explore a class-conditional CNN denoiser on MNIST.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--checkpoint", help="model the app opens on (default: the shipped model in assets/)")
    parser.add_argument("--data-dir", help="dataset folder (default: a per-user cache folder)")
    parser.add_argument("--runs-root", help="folder of run folders the app lists (default: under the cache)")
    parser.add_argument("--graphics", choices=("auto", "kitty", "sixel", "halfblock"), default="auto",
                        help="how the app draws digits: true pixels (kitty, sixel) or half blocks; "
                             "auto decides from the terminal")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    train = sub.add_parser("train", help="train headless with a progress bar")
    train.add_argument("--recipe", choices=sorted(RECIPES), default="original",
                       help="original (default, the original design) or edm (the best recipe)")
    train.add_argument("--dataset", choices=DATASETS)
    train.add_argument("--data-dir")
    train.add_argument("--run-dir", help="where checkpoints and metrics go (default: a new folder under the cache)")
    train.add_argument("--epochs", type=_positive_int)
    train.add_argument("--batch-size", type=_positive_int)
    train.add_argument("--lr", type=_number)
    train.add_argument("--noise-levels", "--steps", dest="noise_levels", type=_positive_int, metavar="T",
                       help="T, the number of discrete training noise levels t/T (--steps is its older name; "
                            "a sampler's steps are set when sampling)")
    train.add_argument("--step-size", type=_positive_int, help="StepLR step, in epochs")
    train.add_argument("--gamma", type=_number, help="StepLR factor")
    train.add_argument("--seed", type=_non_negative_int)
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--max-steps", type=_positive_int, help="stop after N optimizer steps (smoke runs)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    train.add_argument("--channels", type=_channels, help="model widths at 28, 14 and 7 px, e.g. 32,64,128")
    train.add_argument("--res-blocks", type=_non_negative_int, help="residual blocks at 14 and 7 px")
    train.add_argument("--noise", choices=NOISE_MODES, help="how noise levels are drawn in training")
    train.add_argument("--label-dropout", type=_number, help="classifier-free guidance label dropout")
    train.add_argument("--ema", type=_number, metavar="DECAY", help="EMA decay (0 = off)")
    train.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="bf16 autocast")
    train.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    train.add_argument("--preview", action=argparse.BooleanOptionalAction, default=None,
                       help="sample digits 0-9 at each epoch end")
    train.add_argument("--eval-every", type=_positive_int, metavar="N",
                       help="evaluate sample quality every N steps (default: at each epoch end and the run's end)")
    train.add_argument("--eval-per-digit", type=_eval_per_digit, metavar="K",
                       help="samples of each digit per quality evaluation (default 50)")
    train.add_argument("--no-eval", dest="quality_eval", action="store_false", default=None,
                       help="no sample-quality evaluation during training")
    train.add_argument("--nproc", type=_positive_int, metavar="N",
                       help="train with N processes through torchrun (DistributedDataParallel: one per GPU, "
                            "or CPU processes); --batch-size is the global batch")

    sample = sub.add_parser("sample", help="sample a digit to .png, .gif or .npy")
    sample.add_argument("--digit", type=_digit, required=True)
    sample.add_argument("--count", type=_positive_int, default=8)
    sample.add_argument("--seed", type=_non_negative_int, default=0)
    sample.add_argument("--checkpoint", help="default: the shipped model in assets/")
    sample.add_argument("--out", required=True, help=".png grid (--strip: every step), .gif animation, .npy array")
    sample.add_argument("--strip", action="store_true", help="with .png: each sample's steps in a row")
    _add_sampling_arguments(sample)
    sample.add_argument("--start", choices=STARTS,
                        help="starting noise: sigma_max*N(0,1) (pure, the default) or with the spread of training "
                             "inputs at sigma_max (matched)")
    sample.add_argument("--device", choices=DEVICES, default="cpu")

    info = sub.add_parser("info", help="what a checkpoint holds")
    info.add_argument("checkpoint")

    evaluate = sub.add_parser("eval", help="measure sample quality (accuracy, Frechet distance, diversity, PSNR)")
    evaluate.add_argument("--checkpoint", help="default: the shipped model in assets/")
    evaluate.add_argument("--per-digit", type=_positive_int, default=100)
    _add_sampling_arguments(evaluate)
    evaluate.add_argument("--seed", type=_non_negative_int, default=0)
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--device", choices=DEVICES, default="cpu")
    evaluate.add_argument("--json", metavar="FILE", help="also write the report as JSON")

    export = sub.add_parser("export", help="write a small sampling-only copy of a checkpoint (EMA weights)")
    export.add_argument("checkpoint")
    export.add_argument("out")

    from tui_denoiser.cli_playground import add_commands

    add_commands(sub, digit=_digit, number=_number, non_negative_int=_non_negative_int, positive_int=_positive_int,
                 add_sampling_arguments=_add_sampling_arguments, devices=DEVICES)

    watch = sub.add_parser("watch", help="open the app attached to a run folder (live or finished)")
    watch.add_argument("run_dir")

    serve = sub.add_parser("serve", help="serve the app to a browser (each tab gets its own app)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=_int_in(1, 65535, "expected a port in 1..65535"), default=8000)
    serve.add_argument("--public", action="store_true",
                       help="allow a non-loopback --host: anyone who can reach it can use the app as you")
    return parser


# -- commands ------------------------------------------------------------------------------------
def _default_checkpoint(given: str | None) -> Path:
    from tui_denoiser.core import paths

    if given:
        return Path(given).expanduser()
    if not paths.DEFAULT_MODEL.is_file():
        raise UserError(f"no --checkpoint given and {paths.missing_shipped_line(paths.DEFAULT_MODEL)}")
    return paths.DEFAULT_MODEL


def _eval_changes(args: argparse.Namespace) -> dict:
    """The quality-evaluation flags that were given (a resume may change them too)."""
    changes = {"quality_eval": args.quality_eval, "eval_every": args.eval_every, "eval_per_digit": args.eval_per_digit}
    return {key: value for key, value in changes.items() if value is not None}


def _train_configs(args: argparse.Namespace):
    recipe = RECIPES[args.recipe]
    changes = {
        "dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
        "noise_levels": args.noise_levels, "step_size": args.step_size, "gamma": args.gamma, "seed": args.seed,
        "device": args.device, "max_steps": args.max_steps, "noise": args.noise,
        "label_dropout": args.label_dropout, "ema_decay": args.ema, "bf16": args.bf16,
        "channels_last": args.channels_last, "preview": args.preview, **_eval_changes(args),
    }
    model_changes = {"channels": args.channels, "res_blocks": args.res_blocks}
    model = recipe.model.replace(**{k: v for k, v in model_changes.items() if v is not None})
    train = recipe.train.replace(**{k: v for k, v in changes.items() if v is not None})
    if args.bf16 is None and args.channels_last is None and not args.resume:
        from tui_denoiser.core.devices import pick_device

        if pick_device(train.device).type == "cpu":
            # The CPU fast path: bf16 autocast (AMX) + channels-last, 2.3-2.5x the fp32 loop with the
            # same losses and eval figures (README "Performance"); --no-bf16 keeps exact fp32.
            train = train.replace(bf16=True, channels_last=True)
    return model, train


def cmd_train(args: argparse.Namespace) -> int:
    from tui_denoiser.core.training import distributed

    if args.nproc is not None and args.nproc > 1 and not distributed.under_torchrun():
        return _launch_torchrun(args)
    finished = False
    try:
        code = _train(args)
        finished = code == 0
        return code
    finally:
        distributed.teardown(finished=finished)


def _train(args: argparse.Namespace) -> int:
    from tui_denoiser.core.training import distributed
    from tui_denoiser.core.paths import new_run_dir
    from tui_denoiser.progress import TrainProgress

    model_config, train_config = _train_configs(args)
    if args.resume:
        run_dir = Path(args.resume).expanduser()
        _check_readable_run_dir(run_dir)
        if not (run_dir / "last.pt").is_file():
            raise UserError(f"cannot resume: {run_dir / 'last.pt'} not found")
        if args.run_dir and Path(args.run_dir).expanduser() != run_dir:
            raise UserError("--resume continues in its own folder; drop --run-dir")
        from tui_denoiser.core.checkpoint import configs_from, load_checkpoint
        from tui_denoiser.core.training import resume_config

        _, saved = configs_from(load_checkpoint(run_dir / "last.pt"), run_dir / "last.pt")
        train_config = resume_config(saved, epochs=args.epochs, max_steps=args.max_steps, device=args.device)
        train_config = train_config.replace(**_eval_changes(args))
    else:
        run_dir = Path(args.run_dir).expanduser() if args.run_dir else new_run_dir()
        if (run_dir / "last.pt").exists():
            raise UserError(f"{run_dir} already holds a run; use --resume {run_dir} or another --run-dir")

    from tui_denoiser.core.training import Trainer

    dist = distributed.current()
    if distributed.under_torchrun():  # one of torchrun's processes: join the others, share one run folder
        from tui_denoiser.core.devices import pick_device

        dist = distributed.init(pick_device(train_config.device))
        run_dir = dist.broadcast_object(run_dir)
    if not dist.is_main:  # rank 0 alone draws the progress; the others speak only of their own failure
        return _train_quietly(Trainer(model_config, train_config, run_dir=run_dir, data_dir=args.data_dir,
                                      resume=bool(args.resume)), dist)
    progress = TrainProgress(name_of=flag_of)
    trainer = Trainer(model_config, train_config, run_dir=run_dir, data_dir=args.data_dir,
                      callback=_terminal_may_vanish(progress.handle), resume=bool(args.resume))
    previous = _install_stop_signals(trainer)
    try:
        with _ignore_terminal_errors():
            progress.__enter__()
        result = trainer.run()
    finally:
        with _ignore_terminal_errors():
            progress.__exit__(None, None, None)
        _restore_signals(previous)
    if not _launcher_reports(result):
        with _ignore_terminal_errors():
            progress.summary(result)
    if result.kind == "failed":
        return 1
    return 0


def _launcher_reports(result) -> bool:
    """A process lost under ``train --nproc``: the launcher names it in one line, so the ranks keep quiet."""
    import os

    from tui_denoiser.core.training import distributed

    return (result.kind == "failed" and result.message.startswith(distributed.PEER_LOST)
            and bool(os.environ.get(distributed.LAUNCHED_ENV)))


def _train_quietly(trainer, dist) -> int:
    """A rank other than 0: train without output; one line for a failure of its own."""
    previous = _install_stop_signals(trainer)
    try:
        result = trainer.run()
    finally:
        _restore_signals(previous)
    if result.kind != "failed":
        return 0
    from tui_denoiser.core.training import distributed

    if not result.message.startswith(distributed.PEER_LOST):
        print(f"{PROG}: error (rank {dist.rank}): {_one_line(result.worded(flag_of))}", file=sys.stderr)
    return 1


def _launch_torchrun(args: argparse.Namespace) -> int:
    """``train --nproc N``: torchrun's own launcher, in this process, on this command line less
    ``--nproc`` (``--standalone``: a free port on this machine). A process that dies ends the run with
    one line naming it; its last checkpoint is the one rank 0 saved atomically before."""
    import os

    from tui_denoiser.core.training import distributed
    from tui_denoiser.core.paths import new_run_dir

    forwarded = _without_nproc(args.argv)
    if args.resume:
        run_dir = Path(args.resume).expanduser()
    elif args.run_dir:
        run_dir = Path(args.run_dir).expanduser()
    else:
        run_dir = new_run_dir()
        forwarded += ["--run-dir", str(run_dir)]
    if not args.resume and (run_dir / "last.pt").exists():
        raise UserError(f"{run_dir} already holds a run; use --resume {run_dir} or another --run-dir")
    if not os.environ.get("OMP_NUM_THREADS") and not os.environ.get("DENOISER_TUI_THREADS"):
        # torchrun would set 1 thread per process and warn; give each process its share of the cores
        os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // args.nproc))
    outcome = distributed.launch(args.nproc, forwarded)
    if outcome.signal:
        return 130  # the processes got the signal too: rank 0 saved and said how to resume
    if outcome.lost is not None:
        print(f"{PROG}: error: {_lost_process_line(outcome.lost, args.nproc, run_dir)}", file=sys.stderr)
        return 1
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token == "--nproc":
            skip = True
        elif not token.startswith("--nproc="):
            out.append(token)
    return out


def _lost_process_line(lost, nproc: int, run_dir: Path) -> str:
    """Which process ended the run and how, where its last checkpoint is, how to go on: one line."""
    last = run_dir / "last.pt"
    kept = (f"the last checkpoint {last} is intact; resume with: {PROG} train --resume {run_dir} --nproc {nproc}"
            if last.is_file() else "no checkpoint was saved yet")
    return f"process {lost.rank} of {nproc} (pid {lost.pid}) {lost.how}; the run stopped, {kept}"


def _terminal_may_vanish(handle):
    """A progress callback that stops drawing once the terminal is gone (SIGHUP, a dropped SSH link:
    writes fail with EIO) instead of failing the run; training, checkpoints and metrics go on."""
    state = {"gone": False}

    def guarded(event) -> None:
        if state["gone"]:
            return
        try:
            handle(event)
        except OSError:
            state["gone"] = True

    return guarded


@contextlib.contextmanager
def _ignore_terminal_errors():
    """Writing to a terminal that went away (SSH dropped) fails; the run's files still have it all."""
    try:
        yield
    except OSError:
        pass


def _check_readable_run_dir(run_dir: Path) -> None:
    """One line for a run folder that is missing, not a folder, or that we may not read."""
    from tui_denoiser.core.runs.folder import run_folder_problem

    problem = run_folder_problem(run_dir)
    if problem is not None:
        raise UserError(problem)


_STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None),
                                  getattr(signal, "SIGHUP", None)) if s is not None)


def _install_stop_signals(trainer) -> dict:
    """SIGINT/SIGTERM/SIGHUP ask the trainer to stop at the next step; it saves, then returns."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}

    def handler(signum, frame):
        trainer.request_stop("signal")

    for sig in _STOP_SIGNALS:
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signals(previous: dict) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)


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


def cmd_sample(args: argparse.Namespace) -> int:
    out = check_out(args)
    from tui_denoiser.core.devices import pick_device
    from tui_denoiser.core.imaging import save_images, to_uint8
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.sampling_policy import resolve_sampling

    loaded = load_model(_default_checkpoint(args.checkpoint), device=pick_device(args.device))
    sampling = resolve_sampling(_budgeted(loaded.sampling, args), sampler=args.sampler, steps=args.steps,
                                guidance=args.guidance, guidance_interval=args.guidance_interval, start=args.start)
    frames = [to_uint8(step.images) for step in loaded.sample([args.digit] * args.count, sampling, seed=args.seed)]
    try:
        save_images(frames, out, strip=args.strip)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out} ({args.count} x digit {args.digit}, sampler {sampling.sampler}, {sampling.steps} steps, "
          f"seed {args.seed})")
    return 0


def _budgeted(defaults, args: argparse.Namespace):
    """``defaults``, or with ``--max-calls N`` the best measured setting within N calls (which then
    cannot be combined with a flag that sets part of it)."""
    if args.max_calls is None:
        return defaults
    given = [flag for flag, value in (("--sampler", args.sampler), ("--steps", args.steps),
                                      ("--guidance", args.guidance)) if value is not None]
    if args.guidance_interval is not KEEP:
        given.append("--guidance-interval")
    if given:
        raise UserError(f"--max-calls picks the sampler, steps and guidance itself; drop {', '.join(given)}")
    from tui_denoiser.core.sampling_policy import within_budget

    return within_budget(defaults, args.max_calls) if defaults is not None else None


def cmd_info(args: argparse.Namespace) -> int:
    from tui_denoiser.core.checkpoint import build_from, configs_from, load_checkpoint
    from tui_denoiser.core.model import count_parameters
    from tui_denoiser.progress import print_info

    path = Path(args.checkpoint).expanduser()
    payload = load_checkpoint(path)
    model_config, train_config = configs_from(payload, path)
    params = count_parameters(build_from(payload, path))  # also checks the weights fit the config
    print_info(path, payload, model_config, train_config, params)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from tui_denoiser.core.quality.evaluate import format_report, run_eval
    from tui_denoiser.core.paths import default_data_dir

    _budgeted(None, args)  # --max-calls with a flag it would override: one line, before any loading
    report = run_eval(_default_checkpoint(args.checkpoint), args.data_dir or default_data_dir(),
                      per_digit=args.per_digit, sampler=args.sampler, steps=args.steps, guidance=args.guidance,
                      guidance_interval=args.guidance_interval, seed=args.seed, device=args.device,
                      max_calls=args.max_calls)
    print(format_report(report))
    if args.json:
        Path(args.json).expanduser().write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tui_denoiser.core.checkpoint import export_for_inference

    src, dst = Path(args.checkpoint).expanduser(), Path(args.out).expanduser()
    if src.resolve() == dst.resolve():
        raise UserError("export would overwrite its own source; name another output file")
    out = export_for_inference(src, dst)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


def cmd_app(args: argparse.Namespace, watch_dir: str | None = None) -> int:
    from tui_denoiser.tui.app import run_app

    if watch_dir is not None:
        _check_readable_run_dir(Path(watch_dir).expanduser())
    from tui_denoiser.tui import graphics

    graphics.prepare(args.graphics)  # before the app starts: textual-image must ask the terminal first
    return run_app(args.checkpoint, args.data_dir, args.runs_root, watch_dir) or 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tui_denoiser.web.serve import serve

    app_args = [arg for name in ("checkpoint", "data_dir", "runs_root") if getattr(args, name)
                for arg in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]
    return serve(args.host, args.port, app_args, public=args.public)


def _worded(exc: ExplainedError) -> str:
    return exc.worded(flag_of)


def _one_line(text: str) -> str:
    """An error stays one line: a line break inside it (from an argument or a path) is shown escaped."""
    return "".join(repr(ch)[1:-1] if len(f"a{ch}a".splitlines()) > 1 else ch for ch in text)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # train --nproc hands it on to torchrun
        if args.command == "train":
            return cmd_train(args)
        if args.command == "sample":
            return cmd_sample(args)
        if args.command == "info":
            return cmd_info(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "export":
            return cmd_export(args)
        if args.command in ("edit", "inpaint", "morph"):
            from tui_denoiser import cli_playground

            return getattr(cli_playground, f"cmd_{args.command}")(args, _default_checkpoint)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "watch":
            return cmd_app(args, args.run_dir)
        return cmd_app(args)
    except UserError as exc:
        message = _one_line(_worded(exc))
        print(message if message.startswith(PROG) else f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except TrainingError as exc:
        print(f"{PROG}: error: {_one_line(_worded(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

"""``denoiser-tui train``: the headless trainer with a progress bar, the torchrun launcher of ``--nproc``,
and the signals that stop a run cleanly (it saves, then says how to resume).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

from tui_denoiser.cli import args as cli_args
from tui_denoiser.core.config import DATASETS, DEVICES, LEVEL_DRAWS, NOISE_MODES
from tui_denoiser.core.errors import UserError
from tui_denoiser.core.recipes import RECIPES


def add_command(sub) -> None:
    """Add ``train`` to the CLI's subparsers."""
    train = sub.add_parser("train", help="train headless with a progress bar")
    train.add_argument("--recipe", choices=sorted(RECIPES), default="original",
                       help="original (default, the original design) or edm (the best recipe)")
    train.add_argument("--dataset", choices=DATASETS)
    train.add_argument("--data-dir")
    train.add_argument("--run-dir", help="where checkpoints and metrics go (default: a new folder under the cache)")
    train.add_argument("--epochs", type=cli_args.positive_int)
    train.add_argument("--batch-size", type=cli_args.positive_int)
    train.add_argument("--lr", type=cli_args.number)
    train.add_argument("--noise-levels", "--steps", dest="noise_levels", type=cli_args.positive_int, metavar="T",
                       help="T, the number of discrete training noise levels t/T (--steps is its older name; "
                            "a sampler's steps are set when sampling)")
    train.add_argument("--step-size", type=cli_args.positive_int, help="StepLR step, in epochs")
    train.add_argument("--gamma", type=cli_args.number, help="StepLR factor")
    train.add_argument("--seed", type=cli_args.non_negative_int)
    train.add_argument("--device", choices=DEVICES)
    train.add_argument("--max-steps", type=cli_args.positive_int, help="stop after N optimizer steps (smoke runs)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.pt")
    train.add_argument("--channels", type=cli_args.channels, help="model widths at 28, 14 and 7 px, e.g. 32,64,128")
    train.add_argument("--res-blocks", type=cli_args.non_negative_int, help="residual blocks at 14 and 7 px")
    train.add_argument("--noise", choices=NOISE_MODES, help="how noise levels are drawn in training")
    train.add_argument("--level-draw", choices=LEVEL_DRAWS,
                       help="how a level t of T is picked: evenly, or half by a log-normal density that favours the "
                            "middle levels (the original recipe's default)")
    train.add_argument("--level-spread", type=cli_args.number, metavar="SHARE",
                       help="spread each drawn level over this share (0..1) of the gap to its neighbours, so the "
                            "model also trains between the levels (the original recipe's default: 1)")
    train.add_argument("--label-dropout", type=cli_args.number, help="classifier-free guidance label dropout")
    train.add_argument("--ema", type=cli_args.number, metavar="DECAY", help="EMA decay (0 = off)")
    train.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                       help="force bf16 autocast on or off (default: chosen for this machine, timed once; "
                            "train's first line says what and why)")
    train.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                       help="force the channels-last memory layout on or off (default: chosen as --bf16 is)")
    train.add_argument("--preview", action=argparse.BooleanOptionalAction, default=None,
                       help="sample digits 0-9 at each epoch end")
    train.add_argument("--eval-every", type=cli_args.positive_int, metavar="N",
                       help="evaluate sample quality every N steps (default: at each epoch end and the run's end)")
    train.add_argument("--eval-per-digit", type=cli_args.eval_per_digit, metavar="K",
                       help="samples of each digit per quality evaluation (default 50)")
    train.add_argument("--no-eval", dest="quality_eval", action="store_false", default=None,
                       help="no sample-quality evaluation during training")
    train.add_argument("--nproc", type=cli_args.positive_int, metavar="N",
                       help="train with N processes through torchrun (DistributedDataParallel: one per GPU, "
                            "or CPU processes); --batch-size is the global batch")


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
        "level_draw": args.level_draw, "level_spread": args.level_spread, "label_dropout": args.label_dropout, "ema_decay": args.ema, "bf16": args.bf16,
        "channels_last": args.channels_last, "preview": args.preview, **_eval_changes(args),
    }
    model_changes = {"channels": args.channels, "res_blocks": args.res_blocks}
    model = recipe.model.replace(**{k: v for k, v in model_changes.items() if v is not None})
    train = recipe.train.replace(**{k: v for k, v in changes.items() if v is not None})
    return model, train


def _say(line: str) -> None:
    """One line on stderr, where the progress bar and its lines go."""
    with _ignore_terminal_errors():
        print(line, file=sys.stderr, flush=True)


def _choose_precision(model_config, train_config, args: argparse.Namespace, *, quiet: bool = False):
    """bf16 and channels-last for this run, from the core's one decision (the app takes the same):
    ``--bf16``/``--no-bf16`` and ``--channels-last``/``--no-channels-last`` force them, the rest is
    chosen from the hardware (a timed probe the first time on a machine, cached). Says what was
    chosen and why in one line, and first that a probe runs, unless ``quiet``; returns the train
    config with both set and the choice."""
    from tui_denoiser.core.precision import choose_for_training

    def probing(line: str) -> None:
        if not quiet:
            _say(f"precision: {line}…")

    train_config, choice = choose_for_training(model_config, train_config, args.bf16, args.channels_last,
                                               on_probe=probing)
    if not quiet:
        _say(f"precision: {choice.line}")
    return train_config, choice


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


def _resume_dir(args: argparse.Namespace) -> Path:
    """The run folder ``--resume`` names, once it is readable and holds last.pt (else one line)."""
    run_dir = Path(args.resume).expanduser()
    cli_args.check_readable_run_dir(run_dir)
    if not (run_dir / "last.pt").is_file():
        raise UserError(f"cannot resume: {run_dir / 'last.pt'} not found")
    return run_dir


def _train(args: argparse.Namespace) -> int:
    from tui_denoiser.core.training import distributed
    from tui_denoiser.core.paths import new_run_dir
    from tui_denoiser.cli.progress import TrainProgress

    model_config, train_config = _train_configs(args)
    if args.resume:
        run_dir = _resume_dir(args)
        if args.run_dir and Path(args.run_dir).expanduser() != run_dir:
            raise UserError("--resume continues in its own folder; drop --run-dir")
        from tui_denoiser.core.checkpoint import configs_from, load_checkpoint
        from tui_denoiser.core.training import resume_config

        model_config, saved = configs_from(load_checkpoint(run_dir / "last.pt"), run_dir / "last.pt")
        # The precision is decided again below unless forced: a run begun where bf16 paid (or under the
        # old always-bf16 CPU default) must not train on at a tenth of the speed on a CPU without it.
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
    if dist.is_main:
        # Under `train --nproc` the launcher decided and said so; it passes the choice as flags.
        launched = dist.world > 1 and bool(os.environ.get(distributed.LAUNCHED_ENV))
        train_config, _ = _choose_precision(model_config, train_config, args, quiet=launched)
    # Every rank trains as rank 0 decided (a plain torchrun without the flags probes on rank 0 alone).
    bf16, channels_last = dist.broadcast_object((train_config.bf16, train_config.channels_last))
    train_config = train_config.replace(bf16=bf16, channels_last=channels_last)
    if not dist.is_main:  # rank 0 alone draws the progress; the others speak only of their own failure
        return _train_quietly(Trainer(model_config, train_config, run_dir=run_dir, data_dir=args.data_dir,
                                      resume=bool(args.resume)), dist)
    progress = TrainProgress(name_of=cli_args.flag_of)
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
        print(f"{cli_args.PROG}: error (rank {dist.rank}): {cli_args.one_line(result.worded(cli_args.flag_of))}", file=sys.stderr)
    return 1


def _launch_torchrun(args: argparse.Namespace) -> int:
    """``train --nproc N``: torchrun's own launcher, in this process, on this command line less
    ``--nproc`` (``--standalone``: a free port on this machine). A process that dies ends the run with
    one line naming it; its last checkpoint is the one rank 0 saved atomically before."""
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
    forwarded += _launcher_precision(args)
    outcome = distributed.launch(args.nproc, forwarded)
    if outcome.signal:
        return 130  # the processes got the signal too: rank 0 saved and said how to resume
    if outcome.lost is not None:
        print(f"{cli_args.PROG}: error: {_lost_process_line(outcome.lost, args.nproc, run_dir)}", file=sys.stderr)
        return 1
    return 0


def _launcher_precision(args: argparse.Namespace) -> list[str]:
    """``train --nproc``: decide the precision once, here (a probe, if one runs, at each process's
    share of the batch), say so, and hand the choice to every process as explicit flags, so that
    they skip the probe and agree."""
    model_config, train_config = _train_configs(args)
    if args.resume:
        run_dir = _resume_dir(args)
        from tui_denoiser.core.checkpoint import configs_from, load_checkpoint

        model_config, train_config = configs_from(load_checkpoint(run_dir / "last.pt"), run_dir / "last.pt")
        if args.device is not None:
            train_config = train_config.replace(device=args.device)
    share = train_config.replace(batch_size=max(1, train_config.batch_size // args.nproc))
    share, _ = _choose_precision(model_config, share, args)
    return ["--bf16" if share.bf16 else "--no-bf16",
            "--channels-last" if share.channels_last else "--no-channels-last"]


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
    kept = (f"the last checkpoint {last} is intact; resume with: {cli_args.PROG} train --resume {run_dir} --nproc {nproc}"
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



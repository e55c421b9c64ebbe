"""``denoiser-tui``: the command line. No command opens the app; ``train`` trains headless
(:mod:`.train`); ``sample``, ``info``, ``eval``, ``export``, ``watch`` and ``serve`` are in
:mod:`.commands`; the playground's ``edit``, ``inpaint`` and ``morph`` in :mod:`.playground`.

Every bad input ends as one line on stderr and exit status 2; a failed training as one line and 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from tui_denoiser.cli import args as cli_args
from tui_denoiser.cli import commands, playground, train
from tui_denoiser.core.errors import TrainingError, UserError

PROG = cli_args.PROG


def build_parser() -> argparse.ArgumentParser:
    from tui_denoiser import __version__

    parser = cli_args.Parser(prog=PROG, description="Train and explore a class-conditional CNN denoiser on MNIST.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--checkpoint", metavar="PATH|shipped:NAME",
                        help="model the app opens on (" + cli_args.CHECKPOINT_HELP + ")")
    parser.add_argument("--data-dir", help="dataset folder (default: a per-user cache folder)")
    parser.add_argument("--runs-root", help="folder of run folders the app lists (default: under the cache)")
    parser.add_argument("--graphics", choices=("auto", "kitty", "sixel", "halfblock"), default="auto",
                        help="how the app draws digits: true pixels (kitty, sixel) or half blocks; "
                             "auto decides from the terminal")
    sub = parser.add_subparsers(dest="command", parser_class=cli_args.Parser)
    train.add_command(sub)
    commands.add_model_commands(sub)
    playground.add_commands(sub)
    commands.add_app_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # train --nproc hands it on to torchrun
        if args.command == "train":
            return train.cmd_train(args)
        if args.command == "sample":
            return commands.cmd_sample(args)
        if args.command == "info":
            return commands.cmd_info(args)
        if args.command == "eval":
            return commands.cmd_eval(args)
        if args.command == "export":
            return commands.cmd_export(args)
        if args.command in ("edit", "inpaint", "morph"):
            return getattr(playground, f"cmd_{args.command}")(args)
        if args.command == "serve":
            return commands.cmd_serve(args)
        if args.command == "watch":
            return commands.cmd_app(args, args.run_dir)
        return commands.cmd_app(args)
    except UserError as exc:
        message = cli_args.one_line(cli_args.worded(exc))
        print(message if message.startswith(PROG) else f"{PROG}: error: {message}", file=sys.stderr)
        return 2
    except TrainingError as exc:
        print(f"{PROG}: error: {cli_args.one_line(cli_args.worded(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130

"""The commands besides ``train`` and the playground's: ``sample``, ``info``, ``eval``, ``export``, and the
app itself (no command, ``watch``, ``serve``).

Torch is imported only inside the commands that need it, so ``denoiser-tui`` paints its first screen
quickly.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui_denoiser.cli import args as cli_args
from tui_denoiser.core import paths
from tui_denoiser.core.config import DEVICES, STARTS
from tui_denoiser.core.errors import UserError
from tui_denoiser.core.sampling_policy import KEEP


def add_model_commands(sub) -> None:
    """Add ``sample``, ``info``, ``eval`` and ``export`` to the CLI's subparsers."""
    sample = sub.add_parser("sample", help="sample a digit to .png, .gif or .npy")
    sample.add_argument("--digit", type=cli_args.digit, required=True)
    sample.add_argument("--count", type=cli_args.positive_int, default=8)
    sample.add_argument("--seed", type=cli_args.non_negative_int, default=0)
    sample.add_argument("--checkpoint", metavar="PATH|shipped:NAME", help=cli_args.CHECKPOINT_HELP)
    cli_args.add_output_arguments(sample, "sample")
    cli_args.add_sampling_arguments(sample)
    sample.add_argument("--start", choices=STARTS,
                        help="starting noise: sigma_max*N(0,1) (pure, the default) or with the spread of training "
                             "inputs at sigma_max (matched)")
    sample.add_argument("--device", choices=DEVICES, default="cpu")

    info = sub.add_parser("info", help="what a checkpoint holds")
    info.add_argument("checkpoint")

    evaluate = sub.add_parser("eval", help="measure sample quality (accuracy, Frechet distance, diversity, PSNR)")
    evaluate.add_argument("--checkpoint", metavar="PATH|shipped:NAME", help=cli_args.CHECKPOINT_HELP)
    evaluate.add_argument("--per-digit", type=cli_args.positive_int, default=100)
    cli_args.add_sampling_arguments(evaluate)
    evaluate.add_argument("--seed", type=cli_args.non_negative_int, default=0)
    evaluate.add_argument("--data-dir")
    evaluate.add_argument("--device", choices=DEVICES, default="cpu")
    evaluate.add_argument("--json", metavar="FILE", help="also write the report as JSON")

    export = sub.add_parser("export", help="write a small sampling-only copy of a checkpoint (EMA weights)")
    export.add_argument("checkpoint")
    export.add_argument("out")


def add_app_commands(sub) -> None:
    """Add ``watch`` and ``serve`` to the CLI's subparsers."""
    watch = sub.add_parser("watch", help="open the app attached to a run folder (live or finished)")
    watch.add_argument("run_dir")

    serve = sub.add_parser("serve", help="serve the app to a browser (each tab gets its own app)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    serve.add_argument("--port", type=cli_args.int_in(1, 65535, "expected a port in 1..65535"), default=8000)
    serve.add_argument("--public", action="store_true",
                       help="allow a non-loopback --host: anyone who can reach it can use the app as you")


def cmd_sample(args: argparse.Namespace) -> int:
    out = cli_args.check_out(args)
    from tui_denoiser.core.devices import pick_device
    from tui_denoiser.core.imaging import save_images, to_uint8
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.sampling_policy import resolve_sampling

    loaded = load_model(cli_args.default_checkpoint(args.checkpoint), device=pick_device(args.device),
                        guide=cli_args.guide_checkpoint(args.guide))
    sampling = resolve_sampling(_budgeted(loaded.sampling, args, loaded.one_call_guidance), sampler=args.sampler,
                                steps=args.steps, guidance=args.guidance, guidance_interval=args.guidance_interval,
                                start=args.start)
    frames = [to_uint8(step.images) for step in loaded.sample([args.digit] * args.count, sampling, seed=args.seed)]
    try:
        save_images(frames, out, strip=args.strip)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc
    print(f"wrote {out} ({args.count} x digit {args.digit}, sampler {sampling.sampler}, {sampling.steps} steps, "
          f"seed {args.seed})")
    return 0


def _budgeted(defaults, args: argparse.Namespace, one_call_guidance: bool = False):
    """``defaults``, or with ``--max-calls N`` the best measured setting within N calls (which then
    cannot be combined with a flag that sets part of it); ``one_call_guidance``: the model is a
    guidance-distilled student."""
    if args.max_calls is None:
        return defaults
    given = [flag for flag, value in (("--sampler", args.sampler), ("--steps", args.steps),
                                      ("--guidance", args.guidance)) if value is not None]
    if args.guidance_interval is not KEEP:
        given.append("--guidance-interval")
    if given:
        raise UserError(f"--max-calls picks the sampler, steps and guidance itself; drop {', '.join(given)}")
    from tui_denoiser.core.sampling_policy import within_budget

    if defaults is None:
        return None
    return within_budget(defaults, args.max_calls, one_call_guidance=one_call_guidance)


def cmd_info(args: argparse.Namespace) -> int:
    from tui_denoiser.core.checkpoint import build_from, configs_from, load_checkpoint
    from tui_denoiser.core.model import count_parameters
    from tui_denoiser.cli.progress import print_info

    path = paths.model_path(args.checkpoint)
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
    report = run_eval(cli_args.default_checkpoint(args.checkpoint), args.data_dir or default_data_dir(),
                      per_digit=args.per_digit, sampler=args.sampler, steps=args.steps, guidance=args.guidance,
                      guidance_interval=args.guidance_interval, seed=args.seed, device=args.device,
                      max_calls=args.max_calls, guide=cli_args.guide_checkpoint(args.guide))
    print(format_report(report))
    if args.json:
        Path(args.json).expanduser().write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from tui_denoiser.core.checkpoint import export_for_inference

    src, dst = paths.model_path(args.checkpoint), Path(args.out).expanduser()
    if src.resolve() == dst.resolve():
        raise UserError("export would overwrite its own source; name another output file")
    out = export_for_inference(src, dst)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")
    return 0


def cmd_app(args: argparse.Namespace, watch_dir: str | None = None) -> int:
    from tui_denoiser.tui.app import run_app

    if watch_dir is not None:
        cli_args.check_readable_run_dir(Path(watch_dir).expanduser())
    from tui_denoiser.tui import graphics

    graphics.prepare(args.graphics)  # before the app starts: textual-image must ask the terminal first
    checkpoint = str(paths.model_path(args.checkpoint)) if args.checkpoint else None
    return run_app(checkpoint, args.data_dir, args.runs_root, watch_dir) or 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tui_denoiser.web.serve import serve

    app_args = [arg for name in ("checkpoint", "data_dir", "runs_root") if getattr(args, name)
                for arg in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]
    return serve(args.host, args.port, app_args, public=args.public)

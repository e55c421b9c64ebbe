"""The playground from the command line: ``edit`` (SDEdit), ``inpaint`` (RePaint), ``morph``.

The same core functions as the app's playground screen (:mod:`tui_denoiser.core.playground`); outputs
have ``sample``'s formats (``.png`` grid, ``--strip`` every step, ``.gif`` animation, ``.npy`` uint8
(N, 28, 28)). Every bad input is one line and exit 2, checked before anything is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui_denoiser.cli.args import (CHECKPOINT_HELP, add_output_arguments, add_sampling_arguments, check_out,
                                   default_checkpoint, digit, guide_checkpoint, non_negative_int, number, positive_int)
from tui_denoiser.core.config import DEVICES
from tui_denoiser.core.errors import UserError


def add_commands(sub) -> None:
    """Add ``edit``, ``inpaint`` and ``morph`` to the CLI's subparsers."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--seed", type=non_negative_int, default=0)
        parser.add_argument("--checkpoint", metavar="PATH|shipped:NAME", help=CHECKPOINT_HELP)
        add_output_arguments(parser, "image")
        add_sampling_arguments(parser)
        parser.add_argument("--device", choices=DEVICES, default="cpu")

    editing = ("Edits use the model's steps and guidance with the stochastic sampler (the SDE of SDEdit; "
               "docs/playground.md) unless --sampler names another.")
    edit = sub.add_parser("edit", help="noise your digit to a level, then denoise it to a digit (SDEdit)",
                          description="Noise each image to --sigma, then denoise it to --digit. " + editing)
    edit.add_argument("--image", required=True, help="PNG (any size, white digit on black) or .npy uint8 (N,28,28)")
    edit.add_argument("--sigma", type=number, required=True,
                      help="noise level in the model's units, above 0 and at most its sigma_max (80 for EDM models)")
    edit.add_argument("--digit", type=digit, help="target digit (default: as the shipped classifier reads each image)")
    common(edit)

    inpaint = sub.add_parser("inpaint", help="regenerate the unknown region of a digit, keeping the rest (RePaint)",
                             description="Regenerate the pixels where --mask is non-zero for --digit; the others "
                                         "come back bit-identical. " + editing)
    inpaint.add_argument("--image", required=True, help="PNG or .npy uint8 (28,28) or (N,28,28)")
    inpaint.add_argument("--mask", required=True, help="28x28 PNG or .npy (28,28) or (N,28,28); non-zero = unknown")
    inpaint.add_argument("--digit", type=digit, required=True)
    common(inpaint)

    morph = sub.add_parser("morph", help="a row of samples between two digits (one seed) or two seeds (one digit)")
    morph.add_argument("--digit", type=digit, required=True)
    ends = morph.add_mutually_exclusive_group(required=True)
    ends.add_argument("--to", type=digit, help="the digit at the other end (one seed, the label mixed)")
    ends.add_argument("--to-seed", type=non_negative_int, help="the seed at the other end (one digit, noise slerped)")
    morph.add_argument("--count", type=positive_int, default=8, help="samples in the row, 2..64 (default 8)")
    common(morph)


def _load(args: argparse.Namespace, *, editing: bool):
    """The model, and its sampling with what was asked for on top (editing: the stochastic sampler
    unless ``--sampler`` says otherwise; a morph samples like ``sample``)."""
    from tui_denoiser.core.devices import pick_device
    from tui_denoiser.core.inference import load_model
    from tui_denoiser.core.sampling_policy import editing_sampling, resolve_sampling

    if getattr(args, "max_calls", None) is not None:
        raise UserError(f"--max-calls is for sample and eval; {args.command} takes --sampler, --steps and --guidance")
    loaded = load_model(default_checkpoint(args.checkpoint), device=pick_device(args.device),
                        guide=guide_checkpoint(args.guide))
    defaults = editing_sampling(loaded.sampling) if editing else loaded.sampling
    sampling = resolve_sampling(defaults, sampler=args.sampler, steps=args.steps, guidance=args.guidance,
                                guidance_interval=args.guidance_interval)
    return loaded, sampling


def _write(frames, out: Path, strip: bool) -> None:
    from tui_denoiser.core.imaging import save_images

    try:
        save_images(frames, out, strip=strip)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from exc


def _note(text: str) -> None:
    print(f"note: {text}")


def cmd_edit(args: argparse.Namespace) -> int:
    from tui_denoiser.core import playground as pg

    out = check_out(args)
    read = pg.read_images(args.image)
    loaded, sampling = _load(args, editing=True)
    sigma = pg.check_sigma(args.sigma, sampling)
    for line in read.notes + pg.blank_notes(read.images):
        _note(line)
    if args.digit is None:
        digits = pg.read_digits(read.images).argmax(1).tolist()
        shown = ", ".join(str(d) for d in digits[:20]) + (" …" if len(digits) > 20 else "")
        _note(f"target digit as the classifier reads each image: {shown}")
        target = "as read"
    else:
        digits, target = args.digit, f"digit {args.digit}"
    frames = pg.frames_uint8(pg.edit(loaded, read.images, sigma, digits, seed=args.seed, config=sampling))
    _write(frames, out, args.strip)
    print(f"wrote {out} ({len(read.images)} image(s) noised to sigma {sigma:g} and denoised to {target}, "
          f"sampler {sampling.sampler}, {len(frames) - 1} steps, seed {args.seed})")
    return 0


def cmd_inpaint(args: argparse.Namespace) -> int:
    from tui_denoiser.core import playground as pg

    out = check_out(args)
    read = pg.read_images(args.image)
    mask = pg.read_mask(args.mask, len(read.images))
    loaded, sampling = _load(args, editing=True)
    for line in read.notes + pg.blank_notes(read.images):
        _note(line)
    if not mask.any():
        _note("the mask marks no pixel unknown: the images come back as they are")
    frames = pg.frames_uint8(pg.inpaint(loaded, read.images, mask, args.digit, seed=args.seed, config=sampling))
    _write(frames, out, args.strip)
    print(f"wrote {out} ({len(read.images)} image(s), {int(mask.sum())} unknown pixels in all regenerated for digit "
          f"{args.digit}, sampler {sampling.sampler}, {len(frames) - 1} steps, seed {args.seed})")
    return 0


def cmd_morph(args: argparse.Namespace) -> int:
    from tui_denoiser.core import playground as pg

    out = check_out(args)
    if not 2 <= args.count <= pg.MAX_MORPH:
        raise UserError(f"argument --count: a morph needs 2..{pg.MAX_MORPH} samples, got {args.count}")
    loaded, sampling = _load(args, editing=False)
    if args.to is not None:
        steps = pg.morph_digits(loaded, args.digit, args.to, args.count, seed=args.seed, config=sampling)
        what = f"digit {args.digit} -> {args.to}, seed {args.seed}"
    else:
        steps = pg.morph_seeds(loaded, args.digit, args.seed, args.to_seed, args.count, config=sampling)
        what = f"digit {args.digit}, seed {args.seed} -> {args.to_seed}"
    frames = pg.frames_uint8(steps)
    _write(frames, out, args.strip)
    print(f"wrote {out} ({args.count} samples, {what}, sampler {sampling.sampler}, {len(frames) - 1} steps)")
    return 0

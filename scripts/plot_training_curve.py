"""The story of a training run: epoch -> accuracy and Frechet (as a multiple of the floor), one PNG.

Reads the ``quality`` records that the trainer's in-training evaluation writes to ``metrics.jsonl``
(the same figures the Quality tab plots) from one or more run folders, and draws both curves, one line
per run. Prints the table it drew, so the figures can go beside the picture.

    python scripts/plot_training_curve.py RUN_DIR [RUN_DIR ...] --out docs/images/training-curve.png
        [--label NAME ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 420, 240, 48, 12, 26, 30
FRECHET_CAP = 30


def quality_records(run_dir: Path) -> list[dict]:
    """The epoch-end quality records of a run, one per epoch (the last one written wins)."""
    by_epoch: dict[int, dict] = {}
    with open(run_dir / "metrics.jsonl", encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a killed run's half line
            if record.get("kind") == "quality" and record.get("at") in ("epoch", "end"):
                by_epoch[int(record["epoch"]) + 1] = record
    return [by_epoch[e] for e in sorted(by_epoch)]


def _panel(title: str, series: list[list[tuple[int, float]]], y_max: float, y_ticks: list[float],
           fmt: str) -> Image.Image:
    img = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(img)
    x_max = max((x for s in series for x, _ in s), default=1)

    def at(x: float, y: float) -> tuple[float, float]:
        return (PAD_L + (W - PAD_L - PAD_R) * x / max(x_max, 1),
                H - PAD_B - (H - PAD_T - PAD_B) * min(y, y_max) / y_max)

    draw.text((PAD_L, 6), title, fill="black")
    for tick in y_ticks:
        _, y = at(0, tick)
        draw.line([(PAD_L, y), (W - PAD_R, y)], fill=(225, 225, 225))
        draw.text((4, y - 6), fmt.format(tick), fill="black")
    for epoch in range(0, x_max + 1, 5):
        x, _ = at(epoch, 0)
        draw.text((x - 4, H - PAD_B + 6), str(epoch), fill="black")
    draw.text((W - PAD_R - 40, H - 14), "epoch", fill="black")
    draw.line([at(0, 0), at(x_max, 0)], fill="black")
    for colour, points in zip(COLOURS, series):
        if len(points) > 1:
            draw.line([at(x, y) for x, y in points], fill=colour, width=2)
        for x, y in points:
            cx, cy = at(x, y)
            draw.ellipse([cx - 2, cy - 2, cx + 2, cy + 2], fill=colour)
    return img


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--label", action="append", default=[])
    args = parser.parse_args(argv)
    labels = args.label + [run.name for run in args.runs[len(args.label):]]
    accuracy, frechet = [], []
    for run, label in zip(args.runs, labels):
        records = quality_records(run)
        if not records:
            print(f"{run}: no quality records in metrics.jsonl (was the run trained with --no-eval?)",
                  file=sys.stderr)
            return 2
        print(f"{label}: epoch, accuracy, Frechet / floor (classifier, {records[0]['per_digit']} a digit)")
        for r in records:
            print(f"  {int(r['epoch']) + 1:3d}  {100 * r['accuracy']:6.1f} %  {r['frechet'] / r['frechet_floor']:7.1f}x")
        accuracy.append([(int(r["epoch"]) + 1, 100 * r["accuracy"]) for r in records])
        frechet.append([(int(r["epoch"]) + 1, r["frechet"] / r["frechet_floor"]) for r in records])
    left = _panel("accuracy (shipped classifier), %", accuracy, 100, [0, 25, 50, 75, 100], "{:.0f}")
    right = _panel(f"Frechet / real floor (capped at {FRECHET_CAP}x)", frechet, FRECHET_CAP, [0, 5, 10, 20, 30],
                   "{:.0f}x")
    legend = Image.new("RGB", (2 * W, 22), "white")
    draw = ImageDraw.Draw(legend)
    for i, (label, colour) in enumerate(zip(labels, COLOURS)):
        draw.rectangle([10 + 210 * i, 7, 24 + 210 * i, 15], fill=colour)
        draw.text((30 + 210 * i, 4), label, fill="black")
    sheet = Image.new("RGB", (2 * W, H + 22), "white")
    sheet.paste(left, (0, 0))
    sheet.paste(right, (W, 0))
    sheet.paste(legend, (0, H))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Rich output for the headless CLI: the training progress bar, its summary, and ``info``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tui_denoiser.core.runs import events as ev
from tui_denoiser.core.formatting import format_duration, quality_line, quality_short


class TrainProgress:
    """Turns trainer events into a rich progress bar (epoch, loss, LR, images/s, ETA, the latest sample
    quality) on stderr, with a line per epoch and per quality evaluation."""

    def __init__(self, console: Console | None = None, name_of: Callable[[str], str] | None = None):
        self.console = console or Console(stderr=True)
        self.name_of = name_of  # how a failure names the setting at fault (the CLI: its flag)
        self.progress = Progress(
            TextColumn("[bold]epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TextColumn("lr {task.fields[lr]}"),
            TextColumn("{task.fields[rate]} img/s"),
            TextColumn("{task.fields[quality]}"),
            TimeElapsedColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            console=self.console,
            transient=False,
        )
        self.task = None
        self.started: ev.RunStarted | None = None
        self.quality: ev.QualityEval | None = None  # the latest evaluation, for the summary

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def handle(self, event: ev.TrainEvent) -> None:
        if isinstance(event, ev.RunStarted):
            self.started = event
            total = event.epochs * event.steps_per_epoch
            lr = event.lr_schedule[min(event.start_epoch, len(event.lr_schedule) - 1)]
            self.task = self.progress.add_task("train", total=total, completed=event.global_step,
                                               epoch=f"{event.start_epoch + 1}/{event.epochs}", loss="-",
                                               lr=f"{lr:.2e}", rate="-", eta="-", quality="")
            where = "resuming" if event.global_step else "training"
            fast = [name for name in ("bf16", "channels_last") if event.train_config.get(name)]
            how = f" ({' + '.join(fast).replace('_', '-')})" if fast else ""
            self.console.print(f"{where} on {event.device_name}{how} -> {event.run_dir}", soft_wrap=True)
        elif isinstance(event, ev.StepUpdate) and self.task is not None:
            self.progress.update(self.task, completed=event.global_step, epoch=f"{event.epoch + 1}/{self.started.epochs}",
                                 loss=f"{event.loss:.4f}", lr=f"{event.lr:.2e}", rate=f"{event.images_per_s:,.0f}",
                                 eta=format_duration(event.eta_s))
        elif isinstance(event, ev.EpochEnd):
            self.progress.console.print(f"epoch {event.epoch + 1}/{event.epochs}: train {event.train_loss:.4f}"
                                        f"  val {event.val_loss:.4f}  lr {event.lr:.2e}  {format_duration(event.elapsed_s)}")
        elif isinstance(event, ev.QualityEval):
            self.quality = event
            if self.task is not None:
                self.progress.update(self.task, quality=quality_short(event))
            self.progress.console.print(f"quality at step {event.global_step}: {quality_line(event)}", soft_wrap=True)
        elif isinstance(event, ev.CheckpointSaved) and event.reason != "epoch":
            self.progress.console.print(f"checkpoint saved ({event.reason}): {event.path}")
        elif isinstance(event, ev.WarningEvent):
            self.progress.console.print(f"[yellow]warning:[/] {event.message}")

    def summary(self, result: ev.TrainEvent) -> None:
        if isinstance(result, ev.Failed):
            line = result.worded(self.name_of) if self.name_of else result.message
            self.console.print(f"[red]error:[/] {line}", soft_wrap=True)
            return
        assert isinstance(result, ev.Finished)
        state = "stopped" if result.stopped else "finished"
        losses = ""
        if result.final_train_loss is not None:
            losses = f", train loss {result.final_train_loss:.4f}, val loss {result.final_val_loss:.4f}"
        self.console.print(f"{state} after {result.epochs_done} epochs, {result.global_step} steps in "
                           f"{format_duration(result.elapsed_s)}{losses}")
        if self.quality is not None:
            self.console.print(f"sample quality at step {self.quality.global_step}: {quality_line(self.quality)}",
                               soft_wrap=True)
        if result.last_checkpoint:
            run_dir = Path(result.last_checkpoint).parent
            self.console.print(f"checkpoint: {result.last_checkpoint}")
            if result.stopped:
                self.console.print(f"resume with: denoiser-tui train --resume {run_dir}")


def _ema_state(payload: dict[str, Any]) -> str:
    if payload.get("ema") is not None:
        return "yes (used for sampling)"
    if payload.get("exported_from_ema"):
        return "weights are the exported EMA"
    return "no"


def print_info(path: Path, payload: dict[str, Any], model_config, train_config, params: int) -> None:
    console = Console()
    console.print(f"[bold]{path}[/]  (format {payload.get('format')} v{payload.get('version')})")
    console.print(f"epochs done {payload.get('epoch', 0)}, global step {payload.get('global_step', 0)}, "
                  f"{params:,} parameters, EMA {_ema_state(payload)}")
    for title, config in (("model", model_config), ("train", train_config)):
        table = Table(title=f"{title} config", show_header=False)
        for key, value in config.to_dict().items():
            table.add_row(key, str(value))
        console.print(table)
    history = payload.get("history") or []
    if history:
        table = Table(title="metrics per epoch")
        quality = any("accuracy" in row for row in history)  # runs with the in-training evaluation
        for col in ("epoch", "train loss", "val loss", "lr", *(("accuracy", "Frechet") if quality else ())):
            table.add_column(col, justify="right")
        for row in history:
            cells = [str(row.get("epoch")), f"{row.get('train_loss', float('nan')):.4f}",
                     f"{row.get('val_loss', float('nan')):.4f}", f"{row.get('lr', float('nan')):.2e}"]
            if quality:
                acc, fd = row.get("accuracy"), row.get("frechet")
                cells += [f"{100 * acc:.1f} %" if acc is not None else "-", f"{fd:.3g}" if fd is not None else "-"]
            table.add_row(*cells)
        console.print(table)

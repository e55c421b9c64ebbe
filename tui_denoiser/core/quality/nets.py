"""What the classifier and the held-out judges share: a versioned file, a training loop, a ``python -m`` entry.

Each network file is one dict, ``{"format", "version", "config", "weights", ...}``, written with
:func:`checkpoint.atomic_save` and read with :func:`checkpoint.safe_load` (``weights_only``); anything
wrong with it is one :class:`CheckpointError` line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from tui_denoiser.core.errors import CheckpointError, TrainingError


def save_net(path: str | Path, fmt: str, version: int, net: nn.Module, **fields: Any) -> Path:
    """Write ``net`` (its ``config`` and weights) and ``fields`` atomically (temp file, fsync, rename)."""
    from tui_denoiser.core.checkpoint import atomic_save

    payload = {"format": fmt, "version": version, "config": dict(net.config),
               "weights": {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}, **fields}
    return atomic_save(path, payload)


def read_net_file(path: str | Path, fmt: str, version: int, what: str, module: str) -> dict[str, Any]:
    """The checked payload of a ``what`` file (``module`` rebuilds it); every way it can be wrong is
    one :class:`CheckpointError` line."""
    from tui_denoiser.core.checkpoint import safe_load

    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{what} not found: {path} (rebuild it with python -m {module})")
    payload = safe_load(path, what=f"{what} file")
    if not isinstance(payload, dict) or payload.get("format") != fmt:
        hint = " (it is a denoiser checkpoint)" if isinstance(payload, dict) and payload.get("format") == \
            "denoiser-tui-checkpoint" else ""
        raise CheckpointError(f"{path} is not a denoiser-tui {what}{hint}")
    found = payload.get("version")
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise CheckpointError(f"{path} has an invalid {what} format version {found!r}")
    if found > version:
        raise CheckpointError(f"{path} was written by a newer denoiser-tui ({what} format {found} > {version})")
    return payload


def load_weights(net: nn.Module, payload: dict[str, Any], path: str | Path, what: str) -> nn.Module:
    """``net`` with the file's weights; weights that do not fit its config are one CheckpointError line."""
    if "weights" not in payload:
        raise CheckpointError(f"{path} is incomplete: it has no weights")
    try:
        net.load_state_dict(payload["weights"])
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its weights do not fit its {what} config") from exc
    return net


def number(payload: dict[str, Any], key: str) -> float | None:
    """A number stored in the file, or None (missing, or not a number)."""
    value = payload.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def fit(net: nn.Module, optimizer: torch.optim.Optimizer, scheduler, *, count: int, batch_size: int, epochs: int,
        generator: torch.Generator, batch_loss: Callable[[torch.Tensor], torch.Tensor], what: str,
        device: torch.device | str = "cpu", on_step: Callable[[int, int, int, float], None] | None = None,
        on_epoch: Callable[[int, float], None] | None = None) -> None:
    """The training loop both networks use: each epoch a seeded permutation of ``count`` rows in
    batches, ``batch_loss(indices)`` -> optimizer and scheduler step. A loss that stops being finite
    ends the run with one :class:`TrainingError` line naming ``what``.

    ``on_step(epoch, step, steps_per_epoch, mean loss so far)`` after every step;
    ``on_epoch(epoch, mean loss)`` after every epoch (epochs counted from 0).
    """
    steps_per_epoch = math.ceil(count / batch_size)
    for epoch in range(epochs):
        net.train()
        perm = torch.randperm(count, generator=generator).to(device)
        loss_sum = 0.0
        for step in range(steps_per_epoch):
            loss = batch_loss(perm[step * batch_size:(step + 1) * batch_size])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach())
            if not math.isfinite(loss_sum):
                raise TrainingError(f"{what} loss became non-finite at epoch {epoch + 1}; try a lower lr")
            if on_step is not None:
                on_step(epoch, step + 1, steps_per_epoch, loss_sum / (step + 1))
        if on_epoch is not None:
            on_epoch(epoch, loss_sum / steps_per_epoch)
    net.eval()


def run_main(parser, train: Callable[[Any], dict[str, Any]], done: Callable[[Any, dict[str, Any]], str],
             argv: list[str] | None = None) -> int:
    """The ``python -m`` entry of a network: parse, set ``--threads``, train, print one line; a bad
    input or a failed training is one ``error:`` line and exit 2."""
    import sys

    from tui_denoiser.core.errors import UserError

    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--no-download", action="store_true", help="never fetch MNIST; fail if it is missing")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        result = train(args)
    except (UserError, TrainingError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(done(args, result), flush=True)
    return 0

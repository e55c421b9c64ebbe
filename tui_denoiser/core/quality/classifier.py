"""A small MNIST digit classifier: the judge for sample quality (see :mod:`tui_denoiser.core.quality.evaluate`).

It reads digits the way the denoiser writes them: float (B,1,28,28) in [-1, 1]
(``data.to_model_range(uint8)``). ``features(x)`` returns its 128-d penultimate activations, which the
evaluation uses for a Frechet distance (the MNIST analogue of FID) and for sample diversity.

Layout (about 0.9 M parameters, sized to train in minutes on a laptop CPU): a 5x5 conv at 28x28, 2x2
max-pool, two 3x3 convs at 14x14, max-pool, a 3x3 conv at 7x7 (each conv followed by BatchNorm + ReLU),
then flatten -> Linear(128) + BatchNorm + ReLU (the features) -> dropout ->
Linear(10). Training adds light augmentation made of tensor ops only (a small random rotation and
scale through ``affine_grid``, then a random shift of up to 2 pixels by padding and cropping), so it
does not depend on digits sitting exactly where MNIST centres them.

The shipped ``assets/mnist-classifier.pt`` is rebuilt with::

    python -m tui_denoiser.core.quality.classifier --data-dir DIR --out assets/mnist-classifier.pt --epochs 6 --seed 0

Its file format is its own (``"format": "denoiser-tui-classifier"``), written atomically and read with
``torch.load(weights_only=True)`` only; anything else is refused with one :class:`CheckpointError` line.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.quality import nets

MODULE = "tui_denoiser.core.quality.classifier"
FORMAT = "denoiser-tui-classifier"
VERSION = 1
DEFAULT_CONFIG: dict[str, Any] = {"num_classes": 10, "channels": [32, 64, 128], "feature_dim": 128, "dropout": 0.3}


def _check_config(config: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise ConfigError(f"classifier config must be a mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - set(DEFAULT_CONFIG))
    if unknown:
        raise ConfigError(f"classifier config has no field {unknown[0]!r}")
    merged = {**DEFAULT_CONFIG, **config}
    channels = merged["channels"]
    if not (isinstance(channels, (list, tuple)) and len(channels) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 1 <= c <= 1024 for c in channels)):
        raise ConfigError(f"classifier channels must be three integers in 1..1024, got {channels!r}")
    for key, lo, hi in (("num_classes", 2, 1000), ("feature_dim", 1, 4096)):
        v = merged[key]
        if not (isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi):
            raise ConfigError(f"classifier {key} must be an integer in {lo}..{hi}, got {v!r}")
    d = merged["dropout"]
    if not (isinstance(d, (int, float)) and not isinstance(d, bool) and 0 <= d < 1):
        raise ConfigError(f"classifier dropout must be a number in [0, 1), got {d!r}")
    merged["channels"] = [int(c) for c in channels]
    return merged


def _conv(cin: int, cout: int, kernel: int = 3) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class MnistClassifier(nn.Module):
    """Digit classifier on [-1, 1] images; ``features`` = penultimate activations, ``forward`` = logits."""

    test_accuracy: float | None = None  # set by load_classifier from the file

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        self.config = _check_config(dict(config or {}))
        c1, c2, c3 = self.config["channels"]
        f = self.config["feature_dim"]
        self.body = nn.Sequential(
            *_conv(1, c1, 5), nn.MaxPool2d(2),  # 14x14
            *_conv(c1, c2), *_conv(c2, c2), nn.MaxPool2d(2),  # 7x7
            *_conv(c2, c3),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c3 * 7 * 7, f, bias=False), nn.BatchNorm1d(f),
                                  nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(self.config["dropout"])
        self.fc = nn.Linear(f, self.config["num_classes"])

    @property
    def feature_dim(self) -> int:
        return int(self.config["feature_dim"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B,1,28,28) in [-1, 1] -> (B, feature_dim) penultimate features (non-negative, after ReLU)."""
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """Predicted labels (int64, on the CPU) for float images in [-1, 1], in batches."""
        return torch.cat([self(x[i:i + batch_size]).argmax(1).cpu() for i in range(0, x.shape[0], batch_size)]) \
            if x.shape[0] else torch.zeros(0, dtype=torch.long)


# -- augmentation ------------------------------------------------------------------------------------

def augment(x: torch.Tensor, generator: torch.Generator, *, max_shift: int = 2, max_degrees: float = 10.0,
            max_scale: float = 0.1) -> torch.Tensor:
    """Random small rotation/scale (``affine_grid``) then a random shift of up to ``max_shift`` pixels.

    ``x`` is float (B,1,28,28) in [-1, 1]; the background (-1) fills what moves in. The random numbers
    come from the CPU ``generator`` so a seed reproduces them.
    """
    b, _, h, w = x.shape
    device = x.device
    if max_degrees > 0 or max_scale > 0:
        angle = (torch.rand(b, generator=generator) * 2 - 1) * math.radians(max_degrees)
        scale = 1 + (torch.rand(b, generator=generator) * 2 - 1) * max_scale
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack([torch.stack([cos, -sin, torch.zeros(b)], 1),
                             torch.stack([sin, cos, torch.zeros(b)], 1)], 1).to(device)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1
    if max_shift > 0:
        s = max_shift
        padded = F.pad(x, (s, s, s, s), value=-1.0)
        dy = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(device)
        dx = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(device)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, :, None]  # (B,H,1)
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, :]  # (B,1,W)
        batch = torch.arange(b, device=device)[:, None, None]
        x = padded[:, 0][batch, rows, cols].unsqueeze(1)
    return x


# -- file -------------------------------------------------------------------------------------------

def save_classifier(path: str | Path, model: MnistClassifier, *, test_accuracy: float | None = None,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write the classifier atomically (the checkpoints' temp file, fsync, rename)."""
    return nets.save_net(path, FORMAT, VERSION, model,
                         test_accuracy=None if test_accuracy is None else float(test_accuracy), **(extra or {}))


def load_classifier_payload(path: str | Path) -> dict[str, Any]:
    """Read and check a classifier file; every way it can be wrong is one :class:`CheckpointError` line."""
    payload = nets.read_net_file(path, FORMAT, VERSION, "classifier", MODULE)
    if "config" not in payload:
        raise CheckpointError(f"{Path(path).expanduser()} is incomplete: it has no config")
    return payload


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> MnistClassifier:
    """The classifier from ``path``, in eval mode on ``device``."""
    path = Path(path).expanduser()
    payload = load_classifier_payload(path)
    try:
        model = MnistClassifier(payload["config"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{path} has an invalid classifier config: {exc}") from exc
    nets.load_weights(model, payload, path, "classifier")
    model.test_accuracy = nets.number(payload, "test_accuracy")
    return model.to(device).eval()


# -- training ----------------------------------------------------------------------------------------

@torch.no_grad()
def accuracy(model: MnistClassifier, images_uint8: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> float:
    """Share of ``images_uint8`` (N,28,28) that ``model`` (switched to eval) labels correctly."""
    from tui_denoiser.core.data import to_model_range

    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, images_uint8.shape[0], batch_size):
        x = to_model_range(images_uint8[i:i + batch_size].to(device))
        correct += int((model(x).argmax(1).cpu() == labels[i:i + batch_size].cpu()).sum())
    return correct / max(int(images_uint8.shape[0]), 1)


def train_classifier(data_dir: str | Path, out_path: str | Path | None, *, epochs: int = 6, seed: int = 0,
                     device: str | torch.device = "cpu", callback: Callable[[dict[str, Any]], None] | None = None,
                     batch_size: int = 128, lr: float = 3e-3, weight_decay: float = 5e-4,
                     config: dict[str, Any] | None = None, augmentation: bool = True,
                     download: bool = True) -> dict[str, Any]:
    """Train on ``data_dir``'s MNIST train split, test on its test split, save to ``out_path`` (unless None).

    AdamW with a one-cycle learning rate (peak ``lr``), label smoothing 0.05, augmentation from
    :func:`augment`. ``callback`` receives plain dicts: ``{"event": "step", ...}`` about every 0.5 s and
    ``{"event": "epoch", "epoch", "epochs", "train_loss", "test_accuracy", "elapsed_s"}``.
    ``download=False`` never touches the network (missing data is a one-line DataError).
    Returns ``{"test_accuracy", "epochs", "seed", "elapsed_s", "path"}``.
    """
    from tui_denoiser.core.data import load_split, to_model_range

    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ConfigError(f"epochs must be an integer in 1..1000, got {epochs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    device = torch.device(device)
    train_x, train_y = load_split("mnist", data_dir, train=True, device=device, download=download)
    test_x, test_y = load_split("mnist", data_dir, train=False, device=device, download=download)

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = MnistClassifier(config).to(device)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim > 1 else no_decay).append(p)
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=lr)
    n = int(train_x.shape[0])
    steps_per_epoch = math.ceil(n / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * steps_per_epoch,
                                                    pct_start=0.2)
    t0 = time.perf_counter()
    state = {"test_accuracy": 0.0, "t_report": t0}

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        x = to_model_range(train_x[idx])
        if augmentation:
            x = augment(x, gen)
        return F.cross_entropy(model(x), train_y[idx], label_smoothing=0.05)

    def on_step(epoch: int, step: int, steps: int, loss: float) -> None:
        if callback is not None and time.perf_counter() - state["t_report"] >= 0.5:
            state["t_report"] = time.perf_counter()
            callback({"event": "step", "epoch": epoch, "step": step, "steps_per_epoch": steps, "loss": loss,
                      "elapsed_s": state["t_report"] - t0})

    def on_epoch(epoch: int, loss: float) -> None:
        state["test_accuracy"] = accuracy(model, test_x, test_y)
        if callback is not None:
            callback({"event": "epoch", "epoch": epoch + 1, "epochs": epochs, "train_loss": loss,
                      "test_accuracy": state["test_accuracy"], "elapsed_s": time.perf_counter() - t0})

    nets.fit(model, optimizer, scheduler, count=n, batch_size=batch_size, epochs=epochs, generator=gen,
             batch_loss=batch_loss, what="classifier", device=device, on_step=on_step, on_epoch=on_epoch)
    test_acc = state["test_accuracy"]
    result: dict[str, Any] = {"test_accuracy": test_acc, "epochs": epochs, "seed": seed,
                              "elapsed_s": time.perf_counter() - t0, "path": None}
    if out_path is not None:
        save_classifier(out_path, model.cpu(), test_accuracy=test_acc,
                        extra={"train": {"epochs": epochs, "seed": seed, "batch_size": batch_size, "lr": lr,
                                         "weight_decay": weight_decay, "augmentation": augmentation}})
        result["path"] = str(Path(out_path))
    return result


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}",
                                     description="Train the MNIST classifier that judges sample quality.")
    parser.add_argument("--data-dir", required=True, help="folder holding MNIST/raw/ (the IDX .gz files)")
    parser.add_argument("--out", required=True, help="where to write the classifier (.pt)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")

    def report(event: dict[str, Any]) -> None:
        if event["event"] == "epoch":
            print(f"epoch {event['epoch']}/{event['epochs']}  train loss {event['train_loss']:.4f}  "
                  f"test accuracy {100 * event['test_accuracy']:.2f}%  ({event['elapsed_s']:.0f} s)", flush=True)

    def train(args) -> dict[str, Any]:
        return train_classifier(args.data_dir, args.out, epochs=args.epochs, seed=args.seed, device=args.device,
                                callback=report, download=not args.no_download)

    return nets.run_main(parser, train, lambda args, result: (
        f"saved {result['path']}: test accuracy {100 * result['test_accuracy']:.2f}% "
        f"after {args.epochs} epochs, seed {args.seed}, {result['elapsed_s']:.0f} s"), argv)


if __name__ == "__main__":
    raise SystemExit(_main())

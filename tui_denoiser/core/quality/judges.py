"""Independent judges of sample quality: feature spaces that the sampler defaults were never tuned on.

The shipped classifier (:mod:`tui_denoiser.core.quality.classifier`) tuned the defaults, so its Frechet
distance grades its own homework. The judges here are of other kinds, trained separately:

- ``mlp`` (:class:`MlpJudge`): a classifier with no convolutions (784 -> 800 -> 256 -> 10, LayerNorm,
  GELU), trained with another seed, on another split (the first 50,000 training digits; the
  shipped classifier used all 60,000) and another augmentation (random shifts up to 3 pixels and
  small elastic jitter, no rotation). Its features are the 256-d penultimate activations. It sees
  raw pixels, so a stray speck moves its features where a pooled convnet may not notice.
- ``autoencoder`` (:class:`AutoencoderJudge`): a convolutional autoencoder trained without labels
  (reconstruction MSE); its features are the 64-d bottleneck. It has no notion of "which digit", so
  it judges only the distribution (Frechet, diversity), never accuracy.

Both are HELD OUT: no sampler setting was chosen by looking at them (``HELD_OUT``); the defaults are
tuned on the shipped classifier and confirmed on these.

Each file holds its real-data Frechet floor (training digits against the test digits, 1,000 per
digit each), measured when it was built; ``eval`` also measures the floor at its own sample count.
Files are the shape :mod:`~tui_denoiser.core.quality.nets` gives both networks. Rebuild the shipped ones with::

    python -m tui_denoiser.core.quality.judges --kind mlp --data-dir DIR --out tui_denoiser/assets/judge-mlp.pt
    python -m tui_denoiser.core.quality.judges --kind autoencoder --data-dir DIR --out tui_denoiser/assets/judge-autoencoder.pt
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from torch.nn import functional as F

from tui_denoiser.core.errors import CheckpointError, ConfigError
from tui_denoiser.core.quality import nets
from tui_denoiser.core.quality.stats import frechet_distance, reference_indices

MODULE = "tui_denoiser.core.quality.judges"
FORMAT = "denoiser-tui-judge"
VERSION = 1
KINDS = ("mlp", "autoencoder")
HELD_OUT = ("mlp", "autoencoder")  # never looked at while tuning sampler settings
TUNING_JUDGE = "classifier"
FILES = {"mlp": "judge-mlp.pt", "autoencoder": "judge-autoencoder.pt"}
FLOOR_PER_DIGIT = 1000


class MlpJudge(nn.Module):
    """A fully connected digit classifier on [-1, 1] images; ``features`` = its 256-d penultimate layer."""

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        cfg = {"hidden": [800, 256], "num_classes": 10, "dropout": 0.2, **(config or {})}
        h1, h2 = cfg["hidden"]
        self.config = cfg
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(784, h1), nn.LayerNorm(h1), nn.GELU(),
                                  nn.Dropout(cfg["dropout"]), nn.Linear(h1, h2), nn.LayerNorm(h2), nn.GELU())
        self.dropout = nn.Dropout(cfg["dropout"])
        self.fc = nn.Linear(h2, cfg["num_classes"])

    has_labels = True

    @property
    def feature_dim(self) -> int:
        return int(self.config["hidden"][1])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.features(x)))


class AutoencoderJudge(nn.Module):
    """A small conv autoencoder (28 -> 14 -> 7 -> ``code`` -> back); ``features`` = the bottleneck code."""

    has_labels = False

    def __init__(self, config: dict[str, Any] | None = None):
        super().__init__()
        cfg = {"channels": [16, 32], "code": 64, **(config or {})}
        c1, c2 = cfg["channels"]
        code = int(cfg["code"])
        self.config = cfg
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.SiLU(),  # 14
            nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.SiLU(),  # 7
            nn.Flatten(), nn.Linear(c2 * 49, code))
        self.decoder = nn.Sequential(
            nn.Linear(code, c2 * 49), nn.SiLU(), nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.SiLU(),  # 14
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1))  # 28

    @property
    def feature_dim(self) -> int:
        return int(self.config["code"])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.decoder(self.encoder(x)))


_ARCHS: dict[str, type[nn.Module]] = {"mlp": MlpJudge, "autoencoder": AutoencoderJudge}


@dataclass
class Judge:
    """One feature space the evaluation measures in: ``features(x)`` and, where it reads digits, ``predict``."""

    name: str
    net: nn.Module
    held_out: bool
    test_accuracy: float | None = None  # its own accuracy on real test digits (None: it reads no digits)
    stored_floor: float | None = None  # real train-vs-test Frechet at FLOOR_PER_DIGIT a digit, from its file

    @property
    def reads_digits(self) -> bool:
        return bool(getattr(self.net, "has_labels", True))

    @torch.no_grad()
    def outputs(self, images: torch.Tensor, batch_size: int = 500,
                progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(features float64 (N, D), predicted labels (N,) or None) on the CPU for [-1, 1] float images;
        ``progress(done, total)`` after each batch."""
        self.net.eval()
        device = next(self.net.parameters()).device
        feats, preds = [], []
        n = images.shape[0]
        for i in range(0, n, batch_size):
            x = images[i:i + batch_size].to(device, torch.float32)
            f = self.net.features(x)
            feats.append(f.to("cpu", torch.float64))
            if self.reads_digits:
                preds.append(self.net.fc(f).argmax(1).cpu())
            if progress is not None:
                progress(min(i + batch_size, n), n)
        if not feats:
            return torch.zeros(0, self.net.feature_dim, dtype=torch.float64), None
        return torch.cat(feats), (torch.cat(preds) if self.reads_digits else None)


def classifier_judge(classifier) -> Judge:
    """The shipped classifier as a judge: the one the sampler defaults are tuned on (not held out)."""
    return Judge(TUNING_JUDGE, classifier, held_out=False,
                 test_accuracy=getattr(classifier, "test_accuracy", None))


# -- files --------------------------------------------------------------------------------------------

def save_judge(path: str | Path, kind: str, net: nn.Module, *, test_accuracy: float | None,
               frechet_floor: float | None, extra: dict[str, Any] | None = None) -> Path:
    return nets.save_net(path, FORMAT, VERSION, net, kind=kind,
                         test_accuracy=None if test_accuracy is None else float(test_accuracy),
                         frechet_floor=None if frechet_floor is None else float(frechet_floor),
                         floor_per_digit=FLOOR_PER_DIGIT, **(extra or {}))


def load_judge(path: str | Path, device: str | torch.device = "cpu") -> Judge:
    """The judge in ``path``, in eval mode; anything wrong with the file is one :class:`CheckpointError`."""
    path = Path(path).expanduser()
    payload = nets.read_net_file(path, FORMAT, VERSION, "judge", MODULE)
    kind = payload.get("kind")
    if kind not in _ARCHS:
        raise CheckpointError(f"{path} names an unknown judge kind {kind!r}")
    try:
        net = _ARCHS[kind](payload.get("config"))
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: its weights do not fit its judge config") from exc
    nets.load_weights(net, payload, path, "judge")
    return Judge(kind, net.to(device).eval(), held_out=kind in HELD_OUT,
                 test_accuracy=nets.number(payload, "test_accuracy"),
                 stored_floor=nets.number(payload, "frechet_floor"))


def shipped_judges(classifier, device: str | torch.device = "cpu") -> list[Judge]:
    """The tuning judge (``classifier``) then every shipped held-out judge that is installed."""
    from tui_denoiser.core.paths import shipped_file

    judges = [classifier_judge(classifier)]
    for kind in KINDS:
        path = shipped_file(FILES[kind])
        if path.exists():
            judges.append(load_judge(path, device))
    return judges


# -- training -----------------------------------------------------------------------------------------

def _jitter(x: torch.Tensor, gen: torch.Generator, max_shift: int = 3, elastic: float = 0.03) -> torch.Tensor:
    """Random shift up to ``max_shift`` pixels plus a smooth random displacement field (no rotation)."""
    b, _, h, w = x.shape
    base = F.affine_grid(torch.eye(2, 3).expand(b, 2, 3), [b, 1, h, w], align_corners=False)
    shift = (torch.randint(-max_shift, max_shift + 1, (b, 1, 1, 2), generator=gen).float() * 2 / w)
    field = torch.randn(b, 2, 4, 4, generator=gen) * elastic
    field = F.interpolate(field, size=(h, w), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    return F.grid_sample(x + 1, base + shift + field, mode="bilinear", padding_mode="zeros",
                         align_corners=False) - 1


def real_floor(judge: Judge, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor,
               test_y: torch.Tensor, per_digit: int = FLOOR_PER_DIGIT, seed: int = 0) -> float:
    """Frechet distance between ``per_digit`` real training and test digits of each class in ``judge``."""
    from tui_denoiser.core.data import to_model_range

    test_idx, train_idx = reference_indices(test_y, train_y, int(train_x.shape[0]), per_digit, seed)
    fa, _ = judge.outputs(to_model_range(train_x[train_idx]))
    fb, _ = judge.outputs(to_model_range(test_x[test_idx]))
    return frechet_distance(fa, fb)


def train_judge(kind: str, data_dir: str | Path, out_path: str | Path | None, *, epochs: int | None = None,
                seed: int = 1, download: bool = True, batch_size: int = 128,
                callback: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train one judge on ``data_dir``'s MNIST (see the module docstring), measure its floor, save it."""
    from tui_denoiser.core.data import load_split, to_model_range

    if kind not in KINDS:
        raise ConfigError(f"judge kind must be one of {', '.join(KINDS)}, got {kind!r}")
    epochs = epochs if epochs is not None else (20 if kind == "mlp" else 6)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 1 <= epochs <= 1000:
        raise ConfigError(f"epochs must be an integer in 1..1000, got {epochs!r}")
    say = callback or (lambda line: None)
    train_x, train_y = load_split("mnist", data_dir, train=True, download=download)
    test_x, test_y = load_split("mnist", data_dir, train=False, download=download)
    # Another split than the shipped classifier's: only the first 50,000 training digits.
    fit_x, fit_y = train_x[:50_000], train_y[:50_000]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = _ARCHS[kind]()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    n = fit_x.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=epochs * steps_per_epoch, pct_start=0.15)
    t0 = time.perf_counter()

    def batch_loss(idx: torch.Tensor) -> torch.Tensor:
        x = to_model_range(fit_x[idx])
        if kind == "mlp":
            return F.cross_entropy(net(_jitter(x, gen)), fit_y[idx].long(), label_smoothing=0.1)
        return F.mse_loss(net(x), x)

    nets.fit(net, opt, sched, count=n, batch_size=batch_size, epochs=epochs, generator=gen, batch_loss=batch_loss,
             what="judge", on_epoch=lambda epoch, loss: say(
                 f"epoch {epoch + 1}/{epochs}  loss {loss:.4f}  ({time.perf_counter() - t0:.0f} s)"))
    judge = Judge(kind, net, held_out=kind in HELD_OUT)
    test_acc = None
    if judge.reads_digits:
        _, pred = judge.outputs(to_model_range(test_x))
        test_acc = float((pred == test_y.cpu()).float().mean())
        say(f"test accuracy {100 * test_acc:.2f} %")
    else:
        with torch.no_grad():
            x = to_model_range(test_x[:2000])
            say(f"test reconstruction MSE {float(F.mse_loss(net(x), x)):.4f}")
    floor = real_floor(judge, train_x, train_y, test_x, test_y)
    say(f"real-data Frechet floor at {FLOOR_PER_DIGIT} a digit: {floor:.4f}")
    result = {"kind": kind, "test_accuracy": test_acc, "frechet_floor": floor, "epochs": epochs, "seed": seed,
              "elapsed_s": time.perf_counter() - t0, "path": None}
    if out_path is not None:
        save_judge(out_path, kind, net, test_accuracy=test_acc, frechet_floor=floor,
                   extra={"train": {"epochs": epochs, "seed": seed, "split": "train[:50000]",
                                    "batch_size": batch_size}})
        result["path"] = str(out_path)
    return result


def _main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}",
                                     description="Train a held-out judge of sample quality.")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--data-dir", required=True, help="folder holding MNIST/raw/")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--seed", type=int, default=1)

    def train(args) -> dict[str, Any]:
        return train_judge(args.kind, args.data_dir, args.out, epochs=args.epochs, seed=args.seed,
                           download=not args.no_download, callback=lambda line: print(line, flush=True))

    return nets.run_main(parser, train, lambda args, result: f"saved {result['path']} ({result['elapsed_s']:.0f} s)",
                         argv)


if __name__ == "__main__":
    raise SystemExit(_main())

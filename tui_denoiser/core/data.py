"""MNIST / FashionMNIST as whole uint8 tensors, loaded once through torchvision.

Training draws shuffled batches by index from one resident tensor, so no per-image PIL transform runs
in the training loop (that loop was the original design's bottleneck).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from tui_denoiser.core.errors import DataError

_RAW_FILES = {
    "mnist": ("MNIST", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
    "fashion-mnist": ("FashionMNIST", ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                       "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]),
}


def _dataset_class(dataset: str):
    from torchvision import datasets

    if dataset == "mnist":
        return datasets.MNIST
    if dataset == "fashion-mnist":
        return datasets.FashionMNIST
    raise DataError(f"unknown dataset {dataset!r}: choose mnist or fashion-mnist")


def expected_files(dataset: str, data_dir: str | Path) -> list[Path]:
    folder, names = _RAW_FILES[dataset]
    return [Path(data_dir) / folder / "raw" / name for name in names]


def load_split(dataset: str, data_dir: str | Path, *, train: bool, device: str | torch.device = "cpu",
               download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images uint8 (N,28,28), labels int64 (N,))`` of one split, on ``device``.

    Uses torchvision's reader (and its checksummed download when online). Any failure becomes one
    :class:`DataError` line that names the files expected and the data folder setting (``field="data_dir"``).
    """
    cls = _dataset_class(dataset)
    root = Path(data_dir).expanduser()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the data folder {root} ({exc.strerror}); pass a writable {{field}}",
                        field="data_dir", value=str(root)) from exc
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise DataError(_missing_message(dataset, root), field="data_dir", value=str(root)) from None
        _download(cls, dataset, root)
        try:
            ds = cls(str(root), train=train, download=False)
        except Exception as exc:
            raise DataError(f"{dataset} files under {root} are unreadable after download "
                            f"({_short_reason(exc)}); delete them or pass another {{field}}",
                            field="data_dir", value=str(root)) from exc
    except Exception as exc:  # corrupt extracted files
        raise DataError(f"{dataset} files under {root} are unreadable ({_short_reason(exc)}); "
                        f"delete them or pass another {{field}}",
                        field="data_dir", value=str(root)) from exc
    images = ds.data
    labels = ds.targets
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    if images.dtype != torch.uint8 or images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise DataError(f"{dataset} files under {root} have an unexpected layout {tuple(images.shape)}")
    return images.to(device), labels.to(device=device, dtype=torch.long)


def _download(cls, dataset: str, root: Path) -> None:
    """Download into a scratch folder beside the data and move the files in only when every one has
    passed its checksum: a failed, corrupt or interrupted download leaves nothing behind."""
    folder = _RAW_FILES[dataset][0]
    raw = root / folder / "raw"
    for stale in root.glob(".download-*"):  # left by a download that was killed an hour or more ago
        try:
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass
    try:
        scratch = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    except OSError as exc:
        raise DataError(f"cannot write to the data folder {root} ({exc.strerror}); pass a writable {{field}}",
                        field="data_dir", value=str(root)) from exc
    try:
        # Archives already in raw/ (put there by hand, as the missing-data message asks) go in first:
        # torchvision checks their checksums and extracts them instead of downloading.
        seeded = scratch / folder / "raw"
        for name in _RAW_FILES[dataset][1]:
            try:
                if (raw / name).is_file():
                    seeded.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(raw / name, seeded / name)
            except OSError:
                pass  # then it is downloaded
        try:
            cls(str(scratch), train=True, download=True)
        except Exception as exc:  # network errors, checksum mismatches, partial files
            raise DataError(_missing_message(dataset, root, reason=_download_reason(exc)), field="data_dir",
                            value=str(root)) from exc
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for item in sorted((scratch / folder / "raw").iterdir()):
                os.replace(item, raw / item.name)
        except OSError as exc:
            raise DataError(f"cannot write the downloaded {dataset} files to {raw} ({exc.strerror}); "
                            f"pass a writable {{field}}", field="data_dir", value=str(root)) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _download_reason(exc: BaseException) -> str:
    text = str(exc)
    if "corrupted" in text.lower() or "md5" in text.lower() or "checksum" in text.lower():
        return "a downloaded file failed its checksum; nothing was kept"
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    got = [line for line in lines if not line.startswith(("Error downloading", "Tried "))]
    return (got[-1] if got else lines[0] if lines else type(exc).__name__)[:160]


def _short_reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _missing_message(dataset: str, root: Path, reason: str | None = None) -> str:
    files = expected_files(dataset, root)
    where = files[0].parent
    names = ", ".join(p.name for p in files)
    why = f" ({reason})" if reason else ""
    return (f"{dataset} data not found and could not be downloaded{why}: put {names} in {where} "
            f"or point {{field}} at a folder that has {_RAW_FILES[dataset][0]}/raw/")


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N,28,28) or (N,1,28,28) -> float (N,1,28,28) in [-1, 1]."""
    if images.ndim == 3:
        images = images.unsqueeze(1)
    return images.float().div_(127.5).sub_(1.0)

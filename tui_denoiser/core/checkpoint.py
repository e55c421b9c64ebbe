"""Checkpoints: one self-describing file per save, written atomically, read with ``weights_only=True``.

A checkpoint holds a format tag and version, the model and train configs (so the model is rebuilt
from the file alone), the sampling config (files written before it was stored use their recipe's),
weights (and EMA weights), optimizer and scheduler state, the epoch/step position, RNG states and the
per-epoch metric history. Nothing in it is a pickled object, so loading
never runs code; any file that is not such a checkpoint is refused with one line.
"""

from __future__ import annotations

import errno
import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.errors import CheckpointError, ConfigError, TrainingError
from tui_denoiser.core.model import ConditionalDenoiser

FORMAT = "denoiser-tui-checkpoint"
VERSION = 1


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write a denoiser checkpoint (``payload`` stamped with the format tag and version) atomically."""
    return atomic_save(path, {"format": FORMAT, "version": VERSION, **payload})


def atomic_save(path: str | Path, payload: dict[str, Any]) -> Path:
    """``torch.save`` to ``path`` atomically: temp file in the same folder, fsync, rename, fsync folder.

    A crash or a full disk at any point leaves the previous file at ``path`` intact. A full disk
    raises :class:`TrainingError` with one line.
    """
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a checkpoint is an ordinary file
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise TrainingError(f"disk full while saving {path}; the previous checkpoint is intact") from exc
        if isinstance(exc, OSError):
            raise TrainingError(f"could not save {path}: {exc.strerror or exc}") from exc
        raise
    _fsync_dir(path.parent)
    _remove_stale_temps(path)
    return path


STALE_TEMP_S = 600


def _remove_stale_temps(path: Path) -> None:
    """Remove temp files of ``path`` left by saves that were killed (older than ten minutes, so a save
    in progress elsewhere is never touched). Their names (``.NAME.*.tmp``) never match ``*.pt``."""
    import time

    now = time.time()
    try:
        for stale in path.parent.glob(f".{path.name}.*.tmp"):
            try:
                if now - stale.stat().st_mtime > STALE_TEMP_S:
                    stale.unlink()
            except OSError:
                pass
    except OSError:
        pass


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def safe_load(path: str | Path, *, what: str = "checkpoint", map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)``, with every way a file can be unreadable as one
    :class:`CheckpointError` line; a file holding code is refused and the code never runs."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{what} not found: {path}")
    if path.is_dir():
        raise CheckpointError(f"{path} is a folder; name a {what} file (for a run folder, its last.pt)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # The safe unpickler refuses globals (objects that could run code) and garbage alike; only
        # the former names a global to allowlist.
        if "global" in str(exc).lower():
            raise CheckpointError(f"{path} holds Python objects that could run code; refused without loading them") from exc
        raise CheckpointError(f"{path} is not a readable {what} (truncated or corrupt)") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as exc:
        if isinstance(exc, PermissionError):
            raise CheckpointError(f"{path} is not readable (permission denied)") from exc
        raise CheckpointError(f"{path} is not a readable {what} (truncated or corrupt)") from exc
    except Exception as exc:
        raise CheckpointError(f"{path} is not a denoiser-tui {what} (not a PyTorch file)") from exc


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint; every way it can be wrong is one :class:`CheckpointError` line."""
    path = Path(path).expanduser()
    payload = safe_load(path, map_location=map_location)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a denoiser-tui checkpoint")
    version = payload.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path} has an invalid format version {version!r}")
    if version > VERSION:
        raise CheckpointError(f"{path} was written by a newer denoiser-tui (format {version} > {VERSION}); upgrade to read it")
    for key in ("model_config", "train_config", "model"):
        if key not in payload:
            raise CheckpointError(f"{path} is incomplete: it has no {key}")
    return payload


def configs_from(payload: dict[str, Any], path: str | Path = "checkpoint") -> tuple[ModelConfig, TrainConfig]:
    try:
        return ModelConfig.from_dict(payload["model_config"]), TrainConfig.from_dict(payload["train_config"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"{path} has an invalid config: {exc}") from exc


def build_from(payload: dict[str, Any], path: str | Path = "checkpoint", *, ema: bool = True) -> ConditionalDenoiser:
    """Rebuild the model from a loaded payload (EMA weights when present and ``ema``)."""
    model_config, _ = configs_from(payload, path)
    model = ConditionalDenoiser(model_config)
    weights = payload.get("ema") if ema and payload.get("ema") is not None else payload["model"]
    try:
        model.load_state_dict(weights)
    except (RuntimeError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{path}: its weights do not fit its model config (another model shape?)") from exc
    return model


def export_for_inference(src: str | Path, dst: str | Path) -> Path:
    """Write a small checkpoint for sampling only: the EMA weights (else the weights) as ``model``, the
    configs (sampling included) and metric history kept, optimizer/scheduler/RNG state dropped. Used for
    ``assets/``."""
    payload = load_checkpoint(src)
    model = build_from(payload, src, ema=True)
    kept = ("model_config", "train_config", "sampling_config", "epoch", "global_step", "history")
    slim = {key: payload[key] for key in kept if key in payload}
    slim["model"] = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    slim["ema"] = None
    slim["exported_from_ema"] = payload.get("ema") is not None
    return save_checkpoint(dst, slim)


def find_checkpoints(root: str | Path | None = None) -> list[Path]:
    """Every ``*.pt`` in the run folders under ``root`` (default: the runs cache), newest first."""
    from tui_denoiser.core.paths import default_runs_root

    base = Path(root) if root is not None else default_runs_root()
    if not base.is_dir():
        return []
    found: list[Path] = []
    try:
        found = [p for p in base.glob("*/*.pt") if p.is_file()]
    except OSError:
        return []

    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(found, key=mtime, reverse=True)


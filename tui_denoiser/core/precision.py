"""bf16 autocast and channels-last, chosen from the hardware once, for the CLI and the app alike.

bf16 is a candidate only where it is native: a CUDA GPU that supports it, or a CPU whose oneDNN
reports bf16 (AVX512-BF16 or AMX). Elsewhere it is emulated and can cost 10x (a CPU with AVX2 only
trained the original recipe at a tenth of its fp32 speed in bf16), so it is off without a probe. A
candidate is then confirmed by a short timed probe of the model being trained: a few fwd+bwd+Adam
steps at the real batch size of each variant (fp32 contiguous, channels-last, bf16, bf16 +
channels-last), stepping in turn so that they share the machine's load alike. An option is turned
on only when its variant beats fp32 contiguous by :data:`MARGIN`, so a wrong guess costs at most the
probe. The probe's timings are cached as JSON in the user cache (:func:`cache_path`), keyed by the
machine, torch version, device, model config and batch size; a corrupt cache file is ignored and
rewritten.

:func:`decide` is the pure decision (capabilities and timings in, :class:`PrecisionChoice` out);
:func:`choose_precision` gathers them (capabilities, cache, probe: each injectable for tests);
:func:`choose_for_training` applies the choice to a :class:`TrainConfig`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch

from tui_denoiser.core.config import ModelConfig, TrainConfig
from tui_denoiser.core.precision_probe import Variant, probe_timings, variant_name

MARGIN = 0.05  # an option must make steps at least this much faster than fp32 contiguous
CACHE_FILE = "precision-probe.json"
CACHE_VERSION = 1
CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")

BASELINE: Variant = (False, False)
# Seconds per training step of each variant (keyed by variant_name); the first variant is the reference.
ProbeFn = Callable[[torch.device, ModelConfig, int, "list[Variant]"], "dict[str, float]"]


@dataclass(frozen=True)
class Capabilities:
    """What the device offers, and what names the machine in the probe cache."""

    device_type: str  # cpu, cuda, mps
    native_bf16: bool
    machine: str = ""  # CPU model name or GPU name
    cores: int = 1
    flags: tuple[str, ...] = ()  # the CPU's relevant feature flags, or the GPU's compute capability

    @property
    def word(self) -> str:
        return {"cpu": "CPU", "cuda": "GPU", "mps": "Apple GPU"}.get(self.device_type, self.device_type)

    def key(self) -> dict:
        return {"device": self.device_type, "machine": self.machine, "cores": self.cores,
                "flags": list(self.flags), "native_bf16": self.native_bf16}


@dataclass(frozen=True)
class PrecisionChoice:
    """The decision: bf16 autocast and channels-last, with one line each saying why."""

    bf16: bool
    channels_last: bool
    bf16_reason: str
    channels_last_reason: str
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step of each variant probed
    cached: bool = False  # the timings came from the cache

    @property
    def line(self) -> str:
        """One line for the form and ``train``'s first line."""
        return f"{self.bf16_reason}; {self.channels_last_reason}"

    def apply(self, train_config: TrainConfig) -> TrainConfig:
        return train_config.replace(bf16=self.bf16, channels_last=self.channels_last)


def _variant_of(name: str) -> Variant:
    return name.startswith("bf16"), name.endswith("+channels-last")


# -- capabilities -----------------------------------------------------------------------------------
def _cpu_info() -> tuple[str, tuple[str, ...]]:
    """The CPU's model name and its relevant flags (from /proc/cpuinfo where there is one)."""
    name, flags = "", ()
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not name:
            name = value.strip()
        elif key in ("flags", "Features") and not flags:
            present = set(value.split())
            flags = tuple(f for f in CPU_FLAGS if f in present)
    return name or platform.processor() or platform.machine(), flags


def cpu_native_bf16() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AVX512-BF16 or AMX); False where it cannot say."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - an older torch, a build without oneDNN
        return False


def detect_capabilities(device: torch.device) -> Capabilities:
    device = torch.device(device)
    if device.type == "cuda":
        try:
            native = bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # torch before the argument
            native = bool(torch.cuda.is_bf16_supported())
        major, minor = torch.cuda.get_device_capability(device)
        return Capabilities("cuda", native, torch.cuda.get_device_name(device), torch.cuda.device_count(),
                            (f"sm_{major}{minor}", f"cuda {torch.version.cuda}"))
    if device.type == "mps":
        return Capabilities("mps", False, platform.machine(), os.cpu_count() or 1)
    name, flags = _cpu_info()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return Capabilities("cpu", cpu_native_bf16(), name, cores, flags)


# -- the decision -----------------------------------------------------------------------------------
def candidates(capabilities: Capabilities, requested_bf16: bool | None = None,
               requested_channels_last: bool | None = None) -> list[Variant]:
    """The variants worth timing, the fp32 contiguous baseline first; a single variant needs no probe."""
    if capabilities.device_type == "mps":
        bf16s, lasts = [False], [False]
    else:
        bf16s = [False, True] if capabilities.native_bf16 else [False]
        lasts = [False, True]
    if requested_bf16 is not None:
        bf16s = [requested_bf16]
    if requested_channels_last is not None:
        lasts = [requested_channels_last]
    return [(b, c) for b in bf16s for c in lasts]


def _flip(variant: Variant, index: int) -> Variant:
    flipped = list(variant)
    flipped[index] = not flipped[index]
    return (flipped[0], flipped[1])


def _ratio_line(fast: float, slow: float) -> str:
    return f"{slow / fast:.2f}x" if fast > 0 else "?x"


def decide(capabilities: Capabilities, timings: Mapping[str, float] | None = None, *,
           requested_bf16: bool | None = None, requested_channels_last: bool | None = None,
           margin: float = MARGIN, forced_by: str | None = None, probe_failed: str | None = None) -> PrecisionChoice:
    """The choice, from what the device offers and the probe's seconds per step of each variant
    (keyed by :func:`variant_name`). Pure: no torch calls, no clock.

    The reference is the variant with both options off (among those allowed by what was forced);
    the fastest variant wins only when it beats that reference by ``margin``, and each of its options
    stays on only when the variant without it is slower by ``margin`` too. Each option's line says
    what decided it: forced, not native, or the measured speed against the same variant without it.
    A forced option's line names what forced it: ``forced_by`` (the app: "set on the form"), else the
    CLI flag. ``probe_failed``: why there are no timings (the options not forced stay off).
    """
    timings = dict(timings or {})
    word = capabilities.word
    variants = candidates(capabilities, requested_bf16, requested_channels_last)
    reference = variants[0]  # the options off, or as forced
    measured = {v: timings[variant_name(v)] for v in variants if variant_name(v) in timings}
    chosen = reference
    if len(variants) > 1 and reference in measured:
        base = measured[reference]
        fastest = min(measured, key=measured.get)
        if measured[fastest] * (1 + margin) <= base:
            chosen = fastest
            # An option stays on only if it pays by itself: off is chosen when the variant without it
            # is within the margin of the winner.
            for index in (1, 0):
                if chosen[index] and (without := _flip(chosen, index)) in measured \
                        and measured[without] <= measured[chosen] * (1 + margin):
                    chosen = without
    bf16, channels_last = chosen

    def option_line(name: str, on: bool, requested: bool | None, index: int, not_offered: str | None) -> str:
        state = "on" if on else "off"
        if requested is not None:
            flag = forced_by or (f"--{name}" if requested else f"--no-{name}")
            if on and not_offered is not None and name == "bf16":
                return f"{name} forced {state} ({flag}; {not_offered}: expect it slower than fp32)"
            return f"{name} forced {state} ({flag})"
        if not_offered is not None:
            return f"{name} off: {not_offered}"
        other = _flip(chosen, index)
        against = "fp32" if name == "bf16" else "contiguous"
        if chosen in measured and other in measured:
            with_it, without = (measured[chosen], measured[other]) if on else (measured[other], measured[chosen])
            line = f"{name} {state}: measured {_ratio_line(with_it, without)} {against} on this {word}"
            if not on and with_it < without:
                line += f" (under the {margin:.0%} margin)"
            return line
        return f"{name} {state}: not measured on this {word}" + (f" (the probe failed: {probe_failed})"
                                                                  if probe_failed else "")

    if capabilities.device_type == "mps":
        no_bf16 = "bf16 autocast is not used on Apple's MPS"
        no_cl = "not used on Apple's MPS"
    else:
        no_bf16 = None if capabilities.native_bf16 else f"this {word} has no native bf16"
        no_cl = None
    timed = {variant_name(v): t for v, t in measured.items()}
    return PrecisionChoice(bf16, channels_last,
                           option_line("bf16", bf16, requested_bf16, 0, no_bf16),
                           option_line("channels-last", channels_last, requested_channels_last, 1, no_cl),
                           timed)


# -- the cache --------------------------------------------------------------------------------------
def cache_path() -> Path:
    from tui_denoiser.core.paths import cache_dir

    return cache_dir() / CACHE_FILE


def cache_key(capabilities: Capabilities, model_config: ModelConfig, batch_size: int) -> str:
    return json.dumps({"v": CACHE_VERSION, **capabilities.key(), "torch": torch.__version__,
                       "model": model_config.to_dict(), "batch_size": batch_size}, sort_keys=True)


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _cached_timings(entry: object) -> dict[str, float] | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("timings"), dict):
        return None
    timings = entry["timings"]
    if not all(isinstance(k, str) and isinstance(v, (int, float)) and v > 0 for k, v in timings.items()):
        return None
    return {k: float(v) for k, v in timings.items()}


def _write_cache(path: Path, data: dict) -> None:
    """Write atomically; a cache that cannot be written only means probing again next time."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass


# -- the one entry point ----------------------------------------------------------------------------
def choose_precision(device: torch.device | str, model_config: ModelConfig | None = None, batch_size: int = 128,
                     requested_bf16: bool | None = None, requested_channels_last: bool | None = None, *,
                     capabilities: Capabilities | None = None, probe: ProbeFn | None = None,
                     cache: Path | None | bool = True, on_probe: Callable[[str], None] | None = None,
                     forced_by: str | None = None) -> PrecisionChoice:
    """bf16 and channels-last for training ``model_config`` at ``batch_size`` on ``device``.

    A forced option (``requested_*`` True/False) is taken as is; the rest is decided by
    :func:`decide` from the device's capabilities and, where more than one variant is possible,
    the probe's timings: from the cache when this machine, torch, model and batch were probed before,
    else measured now (seconds on a CPU) and cached; ``on_probe`` is called with one line just before
    a probe, for the front end to show while it waits. ``cache``: True for the user cache file, a
    path for another, False for none. ``forced_by``: see :func:`decide`. ``capabilities`` and
    ``probe`` are for tests.
    """
    device = torch.device(device)
    model_config = model_config or ModelConfig()
    caps = capabilities if capabilities is not None else detect_capabilities(device)
    variants = candidates(caps, requested_bf16, requested_channels_last)
    if len(variants) == 1:
        return decide(caps, {}, requested_bf16=requested_bf16, requested_channels_last=requested_channels_last,
                      forced_by=forced_by)
    path = cache_path() if cache is True else (Path(cache) if cache else None)
    key = cache_key(caps, model_config, batch_size)
    data = _read_cache(path) if path is not None else {}
    timings = _cached_timings(data.get(key)) or {}
    cached = all(variant_name(v) in timings for v in variants)
    if not cached:
        if device.type == "cpu":
            from tui_denoiser.core.threads import cpu_threads

            cpu_threads()  # time at the thread count training will use
        if on_probe is not None:
            names = ", ".join(variant_name(v) for v in variants)
            on_probe(f"timing {names} on this {caps.word} (once for this machine, model and batch size)")
        # All the variants in one interleaved probe, so that they meet the same load.
        try:
            timings.update((probe or probe_timings)(device, model_config, batch_size, variants))
        except Exception as exc:  # noqa: BLE001 - out of memory at this batch, say: the options stay off and
            # the run meets (and words) the same failure itself; nothing is cached
            why = str(exc).strip().splitlines()[0][:80] if str(exc).strip() else type(exc).__name__
            return decide(caps, {}, requested_bf16=requested_bf16, requested_channels_last=requested_channels_last,
                          forced_by=forced_by, probe_failed=why)
        if path is not None:
            data = {k: v for k, v in data.items() if _cached_timings(v) is not None}  # drop corrupt entries
            data[key] = {"timings": timings, "when": time.strftime("%Y-%m-%d %H:%M:%S")}
            _write_cache(path, data)
    choice = decide(caps, timings, requested_bf16=requested_bf16, requested_channels_last=requested_channels_last,
                    forced_by=forced_by)
    return PrecisionChoice(choice.bf16, choice.channels_last, choice.bf16_reason, choice.channels_last_reason,
                           choice.timings, cached)


def choose_for_training(model_config: ModelConfig, train_config: TrainConfig, requested_bf16: bool | None = None,
                        requested_channels_last: bool | None = None, **kwargs) -> tuple[TrainConfig, PrecisionChoice]:
    """:func:`choose_precision` for a run's configs on the device it will train on; returns the train
    config with ``bf16`` and ``channels_last`` set, and the choice (its ``line`` says why)."""
    from tui_denoiser.core.devices import pick_device

    device = pick_device(train_config.device)
    choice = choose_precision(device, model_config, train_config.batch_size, requested_bf16,
                              requested_channels_last, **kwargs)
    return choice.apply(train_config), choice

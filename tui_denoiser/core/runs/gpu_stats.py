"""One reading of a CUDA GPU for the training screen's GPU panel: utilisation, memory, temperature.

NVML (``pynvml``, from the ``nvidia-ml-py`` package) gives all three where it is installed; without it,
torch gives the memory only. No GPU, or no torch loaded, is a reading of None: the panel stays hidden.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuReading:
    name: str
    utilisation: float | None  # per cent of the last sample period the GPU was busy
    memory_used_mb: float | None
    memory_total_mb: float | None
    temperature_c: float | None
    power_w: float | None = None


def format_gpu(reading: GpuReading | None) -> str:
    """``GPU 87% · mem 5.1/80.0 GB · 61°C · 310 W``; the parts that were not measured are left out."""
    if reading is None:
        return ""
    parts = [f"GPU {reading.utilisation:.0f}%" if reading.utilisation is not None else "GPU"]
    if reading.memory_used_mb is not None:
        total = f"/{reading.memory_total_mb / 1024:.1f}" if reading.memory_total_mb else ""
        parts.append(f"mem {reading.memory_used_mb / 1024:.1f}{total} GB")
    if reading.temperature_c is not None:
        parts.append(f"{reading.temperature_c:.0f}°C")
    if reading.power_w is not None:
        parts.append(f"{reading.power_w:.0f} W")
    return " · ".join(parts)


def read_gpu(index: int = 0) -> GpuReading | None:
    """The GPU ``index`` now, or None without a CUDA GPU. Never raises: a failed query is a missing part."""
    reading = _read_nvml(index)
    if reading is not None:
        return reading
    torch = sys.modules.get("torch")  # only when torch is loaded already: never import it for a panel
    try:
        if torch is None or not torch.cuda.is_available():
            return None
        free, total = torch.cuda.mem_get_info(index)
        return GpuReading(torch.cuda.get_device_name(index), None, (total - free) / 2**20, total / 2**20, None)
    except Exception:  # noqa: BLE001 - a panel reading, never worth a failure
        return None


def _read_nvml(index: int) -> GpuReading | None:
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    except Exception:  # noqa: BLE001 - no driver, no GPU
        return None

    def query(fn, *args):
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - not supported on this GPU
            return None

    name = query(pynvml.nvmlDeviceGetName, handle) or "GPU"
    util = query(pynvml.nvmlDeviceGetUtilizationRates, handle)
    mem = query(pynvml.nvmlDeviceGetMemoryInfo, handle)
    temp = query(pynvml.nvmlDeviceGetTemperature, handle, getattr(pynvml, "NVML_TEMPERATURE_GPU", 0))
    power = query(pynvml.nvmlDeviceGetPowerUsage, handle)
    return GpuReading(name.decode() if isinstance(name, bytes) else str(name),
                      float(util.gpu) if util is not None else None,
                      mem.used / 2**20 if mem is not None else None, mem.total / 2**20 if mem is not None else None,
                      float(temp) if temp is not None else None, power / 1000 if power is not None else None)

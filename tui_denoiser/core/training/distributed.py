"""Many processes through torchrun: DistributedDataParallel around the trainer's one loop.

``torchrun --standalone --nproc_per_node=N -m tui_denoiser train ...`` (or ``train --nproc N``) starts
N copies of the trainer; torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``. nccl joins GPUs
(one per process, ``cuda:LOCAL_RANK``), gloo joins CPU processes.

How a step stays the single-process step: every rank draws the *global* batch (``--batch-size``) from
the same seeded permutation, with the same noise levels, noise and label dropout from the same seeded
generators, and trains on its contiguous share of it (:meth:`Dist.take_share`). Each rank's loss is
weighted by its share of the batch, so DDP's gradient average is the gradient of the global batch's
mean loss, and the optimizer, EMA and RNG states stay identical on every rank. Hence a checkpoint's
position in the epoch (the permutation and the step, in global batches of ``batch_size``: global
samples, not per-rank steps) and its RNG state mean the same at any process count, and a run resumes
with the same or another number of processes.

Rank 0 alone writes checkpoints and ``metrics.jsonl``, draws the progress bar, validates, previews and
evaluates (so ``watch`` and the app follow a multi-process run through rank 0's files); the step loss
and the loss-by-sigma bins are all-reduced first, so what it writes is the whole batch's.

BatchNorm (the original recipe): on GPUs it becomes SyncBatchNorm, so statistics are the global
batch's, as in one process. torch's SyncBatchNorm runs on GPUs only, so on CPUs (gloo) each process
normalises its own share (plain DDP BatchNorm; rank 0's running statistics are broadcast each step) and
the run says so once; the GroupNorm recipe (edm) has no batch statistics and is exact either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import torch

from tui_denoiser.core.errors import UserError

TIMEOUT = timedelta(minutes=30)  # ranks wait this long at a collective while rank 0 evaluates or saves
STOP_EVERY_CUDA = 16  # GPU steps between stop agreements (each one is a host round trip)
LAUNCHED_ENV = "DENOISER_TUI_LAUNCHED"  # set by `train --nproc`: the launcher reports a lost process


def env_world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) outside it."""
    def number(name: str, default: int) -> int:
        try:
            return int(os.environ.get(name, default))
        except ValueError:
            return default

    return number("RANK", 0), number("WORLD_SIZE", 1), number("LOCAL_RANK", 0)


def under_torchrun() -> bool:
    return env_world()[1] > 1


@dataclass
class Dist:
    """This process's place in a run; ``world == 1`` is the single-process run, where every method is
    the identity (no process group, no collectives)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    control: Any = None  # the process group for host-side agreement (gloo: the default group)
    notes: list[str] = field(default_factory=list)  # lines the run reports once (rank 0 emits them)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- the batch -------------------------------------------------------------------------------
    def share(self, n: int) -> slice:
        """This rank's contiguous share of a global batch of ``n`` (sizes differ by at most one)."""
        if not self.active:
            return slice(0, n)
        base, extra = divmod(n, self.world)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))

    def take_share(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Each tensor's rows of this rank's share of the global batch (all tensors batch-first)."""
        if not self.active:
            return tensors
        part = self.share(tensors[0].shape[0])
        return tuple(t[part] for t in tensors)

    def weigh(self, loss: torch.Tensor, local: int, global_: int) -> torch.Tensor:
        """A share's mean loss weighted so that DDP's average over ranks is the global batch's mean."""
        if not self.active:
            return loss
        return loss * (local * self.world / global_)

    def check_batches(self, n_train: int, batch_size: int) -> None:
        """Every global batch, the last one included, must give each rank at least one sample."""
        if not self.active:
            return
        last = n_train % batch_size
        if batch_size < self.world or 0 < last < self.world:
            size = batch_size if batch_size < self.world else last
            raise UserError(f"{{field}} {batch_size} leaves a batch of {size} for {self.world} processes "
                            "(each needs at least one sample); choose another batch size or fewer processes",
                            field="batch_size", value=batch_size)

    # -- the model -------------------------------------------------------------------------------
    def wrap(self, model: torch.nn.Module, *, compile: bool = False):
        """The training forward: ``model`` itself (compiled if asked), or DDP around it, with BatchNorm
        made SyncBatchNorm on GPUs (see the module docstring). ``model`` keeps its parameters, so
        the optimizer, the EMA and checkpoints keep using it."""
        if self.active:
            has_bn = any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
            if has_bn and self.device.type == "cuda":
                _sync_batchnorm_in_place(model)
            elif has_bn:
                self.notes.append(f"BatchNorm normalises each of the {self.world} processes' share of the batch: "
                                  "torch's SyncBatchNorm needs GPUs (the edm recipe's GroupNorm is exact)")
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return torch.compile(model) if compile else model

    # -- collectives -----------------------------------------------------------------------------
    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over ranks (of the weighted losses: the global batch's mean); on GPUs
        no host sync (the all-reduce is queued on the stream)."""
        if not self.active:
            return value
        import torch.distributed as dist

        total = value.clone()
        dist.all_reduce(total)
        return total / self.world

    def agree_stop(self, local: bool, step: int) -> bool:
        """Whether every rank stops now: any rank asked (a signal reaches each process on its own
        time). Agreed each step on CPUs; every :data:`STOP_EVERY_CUDA` steps on GPUs."""
        if not self.active:
            return local
        if self.device.type == "cuda" and step % STOP_EVERY_CUDA:
            return False
        import torch.distributed as dist

        flag = torch.tensor([1.0 if local else 0.0])
        dist.all_reduce(flag, group=self.control)
        return bool(flag.item() > 0)

    def reduced(self, bins):
        """A copy of the loss-by-sigma bins summed over ranks (the rank's own stay untouched)."""
        if not self.active:
            return bins
        import copy

        import torch.distributed as dist

        total = copy.copy(bins)
        total.sums, total.counts = bins.sums.clone(), bins.counts.clone()
        dist.all_reduce(total.sums)
        dist.all_reduce(total.counts)
        return total

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (the run folder each rank must share)."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0, group=self.control)
        return box[0]


_current = Dist()


def current() -> Dist:
    """This process's :class:`Dist` (the single-process one until :func:`init`)."""
    return _current


def rank_device(device: torch.device, local_rank: int) -> torch.device:
    """A rank's own GPU (``cuda:LOCAL_RANK``); other devices as they are."""
    if device.type == "cuda":
        return torch.device("cuda", local_rank)
    return device


def init(device: torch.device) -> Dist:
    """Join the run torchrun started (nccl on GPUs, gloo otherwise); idempotent. Outside torchrun,
    the single-process :class:`Dist` on ``device``."""
    global _current
    rank, world, local_rank = env_world()
    if world <= 1:
        _current = Dist(device=device)
        return _current
    if _current.active:
        return _current
    import torch.distributed as dist

    device = rank_device(device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=device if device.type == "cuda" else None)
    control = dist.new_group(backend="gloo", timeout=TIMEOUT) if backend == "nccl" else None
    _current = Dist(rank, world, local_rank, device, control)
    return _current


FAREWELL_TIMEOUT = timedelta(seconds=60)


def teardown(*, finished: bool = False) -> None:
    """Leave the process group (after a lost peer too: never raises).

    After a run that ``finished`` on this rank, wait for every rank first: a rank that destroys the
    group while rank 0 still saves and writes its last events aborts gloo's threads (SIGABRT)."""
    global _current
    if _current.active:
        try:
            import torch.distributed as dist

            if dist.is_initialized():
                if finished:
                    try:
                        dist.monitored_barrier(group=_current.control, timeout=FAREWELL_TIMEOUT)  # gloo on any device
                    except Exception:  # noqa: BLE001 - a peer that is gone is said elsewhere
                        pass
                dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - a peer may be gone; the process is ending anyway
            pass
    _current = Dist(device=_current.device)


PEER_LOST = "another process of this run ended"


def failure_line(exc: BaseException) -> str | None:
    """One line for a collective that failed because another rank is gone; None for other errors."""
    if not _current.active:
        return None
    import torch.distributed as dist

    text = str(exc).lower()
    lost = ("connection closed", "connection reset", "broken pipe", "connection refused", "timed out",
            "peer", "socket", "nccl communicator was aborted")
    if isinstance(exc, getattr(dist, "DistError", ())) or any(word in text for word in lost):
        return f"{PEER_LOST} (this is rank {_current.rank} of {_current.world}): training stopped"
    return None


@dataclass
class LostProcess:
    """The process that ended a launched run: its rank, pid and how it ended."""

    rank: int
    pid: int
    exitcode: int

    @property
    def how(self) -> str:
        if self.exitcode < 0:
            import signal

            try:
                return f"was killed by {signal.Signals(-self.exitcode).name}"
            except ValueError:
                return f"was killed by signal {-self.exitcode}"
        return f"exited with status {self.exitcode}"


@dataclass
class LaunchOutcome:
    lost: LostProcess | None = None  # the cause when a process failed
    signal: bool = False  # the launcher was signalled (the processes were too: they saved and stopped)


def launch(nproc: int, argv: list[str]) -> LaunchOutcome:
    """``torchrun --standalone --nproc_per_node=NPROC -m tui_denoiser ARGV``, through torchrun's own
    launcher in this process, with its log quiet: the caller words the outcome as one line."""
    import logging

    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    for name in list(logging.root.manager.loggerDict):  # each elastic module sets its own level
        if name.startswith("torch.distributed"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    os.environ[LAUNCHED_ENV] = "1"
    args = get_args_parser().parse_args(["--standalone", f"--nproc_per_node={nproc}", "-m", "tui_denoiser", *argv])
    try:
        run(args)
    except ChildFailedError as exc:
        failures = exc.failures
        # the cause: a process killed by a signal, else the first to fail (the others lost their peer)
        rank = min(failures, key=lambda r: (failures[r].exitcode >= 0, failures[r].timestamp))
        return LaunchOutcome(LostProcess(rank, failures[rank].pid, failures[rank].exitcode))
    except SignalException:
        return LaunchOutcome(signal=True)
    return LaunchOutcome()


def _sync_batchnorm_in_place(model: torch.nn.Module) -> None:
    """Swap every BatchNorm child for a SyncBatchNorm sharing its parameters and buffers (state dict
    keys unchanged), inside ``model`` itself so the optimizer and the EMA keep their tensors."""
    for name, child in list(model.named_children()):
        converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(child)
        if converted is not child:
            setattr(model, name, converted)

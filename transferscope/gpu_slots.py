"""One GPU per job: file-lock slots that set ``CUDA_VISIBLE_DEVICES`` before CUDA is initialised.

Snakemake core counts a ``gpu`` resource but does not say *which* GPU a job gets. With ``--resources gpu=N`` on a
machine with several GPUs, every running training job calls :func:`claim_gpu` first (``runtime.claim_device``):

- If the scheduler already chose (``CUDA_VISIBLE_DEVICES`` set to one device, or to none: SLURM, a user), nothing
  is done. If it lists several devices (a SLURM group job holding several GPUs for several of our jobs, or a user
  restricting a run to some GPUs), the job takes one slot *among those*: a transferscope job uses one device.
- Otherwise the number of GPUs is ``TRANSFERSCOPE_GPUS`` if set, else the number of ``GPU`` lines of
  ``nvidia-smi -L`` (no CUDA initialisation), else 0, and then nothing is done.
- The slot of device d is the file ``<lock dir>/gpu<d>.lock`` held with a non-blocking ``fcntl.flock``; the first free slot wins,
  its device is written into ``CUDA_VISIBLE_DEVICES``, and the lock is held for the life of the process (the kernel
  drops it when the process exits, even when killed: no stale locks).
- Lock directory: ``TRANSFERSCOPE_GPU_LOCKS``, else ``.snakemake/gpu_slots/<host>`` (``…/<host>-<SLURM_JOB_ID>``
  inside a SLURM job) under the working directory. The host name keeps nodes sharing a file system apart.
- All slots busy (more concurrent GPU jobs than GPUs, e.g. ``device: auto`` without the ``gpu`` resource): wait up to
  ``wait_s`` seconds for one, then share device ``pid mod n`` with a warning.
"""
from __future__ import annotations

import atexit
import fcntl
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import MutableMapping

log = logging.getLogger("transferscope")

ENV_GPUS = "TRANSFERSCOPE_GPUS"
ENV_LOCKS = "TRANSFERSCOPE_GPU_LOCKS"
VISIBLE = "CUDA_VISIBLE_DEVICES"

_HELD: list["GpuSlot"] = []  # slots claimed by this process, released at exit


class GpuSlot:
    """A claimed GPU: ``device`` (the value put into CUDA_VISIBLE_DEVICES), ``index`` (slot number), ``path``."""

    def __init__(self, index: int, device: str, path: Path | None, fd: int | None, shared: bool = False):
        self.index, self.device, self.path, self._fd, self.shared = index, device, path, fd, shared

    def release(self) -> None:
        """Drop the lock (the kernel also does this at process exit)."""
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        if self in _HELD:
            _HELD.remove(self)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "GpuSlot":
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "shared" if self.shared else ("held" if self.held else "released")
        return f"GpuSlot(index={self.index}, device={self.device!r}, {state}, path={str(self.path)!r})"


def count_gpus(environ: MutableMapping[str, str] | None = None) -> int:
    """Number of local GPUs: ``TRANSFERSCOPE_GPUS``, else ``nvidia-smi -L`` GPU lines, else 0. Never touches CUDA."""
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_GPUS, "").strip()
    if value:
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"{ENV_GPUS}={value!r}: expected a number of GPUs (0, 1, 2, ...)") from None
        if n < 0:
            raise ValueError(f"{ENV_GPUS}={value!r}: the number of GPUs cannot be negative")
        return n
    exe = shutil.which("nvidia-smi", path=environ.get("PATH"))
    if exe is None:
        return 0
    try:
        proc = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return 0
    if proc.returncode != 0:
        return 0
    # "GPU 0: NVIDIA H100 (UUID: ...)"; MIG devices are indented "  MIG 1g.10gb Device 0: ..." lines
    return sum(1 for line in proc.stdout.splitlines() if re.match(r"^GPU \d+:", line))


def default_lock_dir(environ: MutableMapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(ENV_LOCKS):
        return Path(environ[ENV_LOCKS])
    name = socket.gethostname() or "localhost"
    if environ.get("SLURM_JOB_ID"):
        name += f"-{environ['SLURM_JOB_ID']}"
    return Path(".snakemake") / "gpu_slots" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # BlockingIOError: held by another process (or another fd of this one)
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
    return fd


def claim_gpu(environ: MutableMapping[str, str] | None = None, *, lock_dir: str | Path | None = None,
              n_gpus: int | None = None, wait_s: float = 0.0, poll_s: float = 0.5) -> GpuSlot | None:
    """Claim a free GPU slot and set ``CUDA_VISIBLE_DEVICES`` in ``environ`` (default ``os.environ``).

    Returns the held :class:`GpuSlot`, or None when nothing was done (the variable was preset to one device or
    none, or there are no GPUs). Call it before anything initialises CUDA in this process.
    """
    environ = os.environ if environ is None else environ
    preset = environ.get(VISIBLE)
    if preset is not None:
        devices = [d.strip() for d in preset.split(",") if d.strip()]
        if len(devices) <= 1:
            return None  # the scheduler (or the user) already chose
    else:
        n = count_gpus(environ) if n_gpus is None else n_gpus
        if n <= 0:
            return None
        devices = [str(i) for i in range(n)]
    torch_mod = sys.modules.get("torch")
    if torch_mod is not None and environ is os.environ and torch_mod.cuda.is_initialized():
        log.warning("CUDA was initialised before the GPU slot was claimed: %s=%s may not take effect", VISIBLE,
                    environ.get(VISIBLE))
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir(environ)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + max(0.0, wait_s)
    while True:
        for index, device in enumerate(devices):
            path = lock_dir / f"gpu{re.sub(r'[^A-Za-z0-9_.-]', '_', device)}.lock"
            fd = _try_lock(path)
            if fd is not None:
                slot = GpuSlot(index, device, path, fd)
                environ[VISIBLE] = device
                _HELD.append(slot)
                log.info("GPU slot %d of %d claimed: %s=%s (lock %s)", index, len(devices), VISIBLE, device, path)
                return slot
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    index = os.getpid() % len(devices)
    log.warning("all %d GPU slots in %s are busy (more GPU jobs than GPUs: check --resources gpu=N); "
                "sharing device %s", len(devices), lock_dir, devices[index])
    environ[VISIBLE] = devices[index]
    return GpuSlot(index, devices[index], None, None, shared=True)


def held_slots() -> list[GpuSlot]:
    return list(_HELD)


@atexit.register
def _release_all() -> None:
    for slot in list(_HELD):
        slot.release()

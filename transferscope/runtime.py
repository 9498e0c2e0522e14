"""Run-time environment of a job: device choice, threads, seeds and logging."""
from __future__ import annotations

import hashlib
import logging
import os
import sys
from transferscope.lazy import lazy_module

torch = lazy_module("torch")


def resolve_device(option: str = "auto") -> torch.device:
    """'auto' -> cuda when visible, else cpu; 'cuda' without a visible GPU is an error."""
    if option == "cpu":
        return torch.device("cpu")
    if option == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("config key device is 'cuda' but this job sees no CUDA device "
                               f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r})")
        return torch.device("cuda")
    if option == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    raise ValueError(f"config key device: unknown value {option!r} (auto|cpu|cuda)")


def claim_device(option: str = "auto"):
    """Give this job its own GPU (CUDA_VISIBLE_DEVICES) when ``option`` is cuda/auto; call before CUDA is used.

    See transferscope.gpu_slots: a value set by the scheduler is respected; no GPUs -> nothing. Returns the slot.
    """
    if option not in ("cuda", "auto"):
        return None
    from transferscope.gpu_slots import claim_gpu

    return claim_gpu(wait_s=30.0 if option == "cuda" else 0.0)


def derive_seed(*parts) -> int:
    """A 31-bit seed from any parts, e.g. ('finetune', target, source, seed, checkpoint)."""
    blob = "/".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:4], "little") & 0x7FFFFFFF


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def set_threads(threads: int) -> None:
    """Limit torch (and the BLAS under numpy) to ``threads`` CPU threads without importing torch: table and figure
    jobs never need it (~2 s of CPU each). The environment variables bind a torch imported later; one imported
    already is set directly."""
    threads = max(1, int(threads))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def setup_job(log_file: str | None = None, threads: int = 1) -> logging.Logger:
    """Log to ``log_file`` and stderr with timestamps; limit torch to ``threads`` CPU threads (:func:`set_threads`).

    Imports the config's plugin modules first. Everything a failing job says reaches its log file, which is where the workflow's error hint sends the user:
    Python warnings (through logging), whatever is written to ``sys.stderr`` (progress bars, library messages) and
    the traceback of an uncaught exception (logged once, then the process exits with status 1 as usual).
    """
    set_threads(threads)
    from transferscope.plugins import load_plugins

    load_plugins()  # the config's plugins (TRANSFERSCOPE_PLUGINS): their registry entries exist in every job
    logger = logging.getLogger("transferscope")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    console = sys.stderr.console if isinstance(sys.stderr, _Tee) else sys.stderr
    handlers: list[logging.Handler] = [logging.StreamHandler(console)]
    if log_file:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    warnings_logger = logging.getLogger("py.warnings")
    warnings_logger.handlers[:] = handlers
    warnings_logger.propagate = False
    logging.captureWarnings(True)
    sys.stderr = _Tee(console, handlers[1].stream) if log_file else console
    sys.excepthook = lambda kind, value, tb: logger.error("job failed: %s: %s", kind.__name__, value,
                                                          exc_info=(kind, value, tb))
    return logger


class _Tee:
    """A text stream that writes to the console and to the job's log file (``sys.stderr`` of a job)."""

    def __init__(self, console, log_stream):
        self.console, self.log_stream = console, log_stream

    def write(self, text: str) -> int:
        if not self.log_stream.closed:  # logging closes the file at exit, before the interpreter's last flush
            self.log_stream.write(text)
            self.log_stream.flush()
        return self.console.write(text)

    def flush(self) -> None:
        if not self.log_stream.closed:
            self.log_stream.flush()
        self.console.flush()

    def __getattr__(self, name):  # isatty, fileno, encoding, ... of the console
        return getattr(self.console, name)

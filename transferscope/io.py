"""Atomic file writes and provenance sidecars.

Every artefact is written to a temporary name in the same directory and renamed into place, so an
interrupted job never leaves a half-written file under its final name.
"""
from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_UMASK)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV without the index, atomically."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_npz(path: str | os.PathLike, compressed: bool = False, **arrays) -> None:
    """``numpy.savez`` (or ``savez_compressed``) atomically; ``None`` arrays are skipped. Written through a file
    handle, so numpy appends no ``.npz`` suffix to the temporary name."""
    import numpy as np

    save = np.savez_compressed if compressed else np.savez
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            save(fh, **{k: v for k, v in arrays.items() if v is not None})


def torch_save(path: str | os.PathLike, obj: Any) -> None:
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def torch_load(path: str | os.PathLike, what: str = "file", mmap: bool = False) -> Any:
    """Load a torch file, turning a missing or corrupt file into an error that names the path. ``mmap``: map its
    tensors from the file instead of reading them (plain data only), e.g. to read a bundle's shape cheaply."""
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=True) if mmap else \
            torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # corrupt zip, truncated pickle, ...
        raise RuntimeError(f"could not read {what} {path}: {exc}. Delete it and rerun the rule that made it.") from exc


def provenance(**extra: Any) -> dict:
    """Facts about how an artefact was made: versions, host, time, plus ``extra`` (seed, device, params...)."""
    import torch

    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    info.update(extra)
    return info


def params_hash(params: Any) -> str:
    """Short stable hash of a JSON-serialisable parameter set (the params that shaped an artefact)."""
    import hashlib

    blob = json.dumps(params, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _json_default(obj: Any):
    try:
        import numpy as np

        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")

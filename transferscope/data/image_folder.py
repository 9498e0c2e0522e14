"""Image datasets stored as one folder per class (Malaria, the custom 3D set, ...).

Two layouts are accepted::

    root/<class>/<image>                     -> split is None (a stratified split is made later)
    root/train/<class>/<image>               -> the official split is kept: TRAIN / TEST codes
    root/test/<class>/<image>

Everything is deterministic: class names are sorted, files are sorted by name within a class (thesis A's
original used glob order and a set of class names, so its image order and class indices varied between
machines). Every image is converted to ``L`` or ``RGB`` and brought to ``image_size``×``image_size`` by
resizing its shorter side to ``image_size`` (bilinear, antialiased by Pillow) and cropping the centre.
Hidden files and files without an image extension (``Thumbs.db`` in the Malaria download, ...) are skipped
and counted in ``meta["skipped_files"]``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from transferscope.data.bundle import TEST, TRAIN, RawDataset
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm"}
)
_MODES = {1: "L", 3: "RGB"}


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` (bilinear, aspect kept) and crop the central size×size square.

    The crop offsets round like torchvision's ``center_crop``. An image whose shorter side already equals
    ``size`` is only cropped, so its pixels come through unchanged.
    """
    if size <= 0:
        raise ValueError(f"image size must be positive, got {size}")
    w, h = img.size
    if min(w, h) != size:
        if w <= h:
            new_w, new_h = size, max(size, int(round(h * size / w)))
        else:
            new_w, new_h = max(size, int(round(w * size / h))), size
        img = img.resize((new_w, new_h), Image.BILINEAR)
        w, h = new_w, new_h
    if (w, h) != (size, size):
        left = int(round((w - size) / 2.0))
        top = int(round((h - size) / 2.0))
        img = img.crop((left, top, left + size, top + size))
    return img


def read_image(path: str | Path, size: int, channels: int) -> np.ndarray:
    """One image file as a uint8 C×size×size array; errors name the file."""
    mode = _mode(channels)
    try:
        with Image.open(path) as img:
            img.load()
            img = img.convert(mode)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise RuntimeError(f"cannot read image {path}: {exc}") from exc
    arr = np.asarray(resize_center_crop(img, size), dtype=np.uint8)
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def read_images(paths: list[Path], size: int, channels: int) -> torch.Tensor:
    """Files as one uint8 N×C×size×size tensor (filled in place: no list of arrays kept)."""
    out = np.empty((len(paths), channels, size, size), dtype=np.uint8)
    for i, path in enumerate(paths):
        out[i] = read_image(path, size, channels)
    return torch.from_numpy(out)


def load_image_folder(
    root: str | Path, image_size: int, channels: int = 3, split_dirs: bool | None = None
) -> RawDataset:
    """Load a class-per-folder image dataset; see the module docstring for the layouts.

    ``split_dirs``: True requires ``train/`` and ``test/``; False treats every sub-folder as a class (even
    ones named train/test); None (default) uses the split layout when both ``train/`` and ``test/`` exist.
    """
    root = Path(root).expanduser()
    _mode(channels)
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size <= 0:
        raise ValueError(f"image_folder {root}: image_size must be a positive integer, got {image_size!r}")
    if not root.is_dir():
        raise FileNotFoundError(
            f"image_folder: dataset directory {root} does not exist (or is not a directory); "
            "expected one sub-folder per class, or train/ and test/ folders holding class folders"
        )
    has_split = (root / "train").is_dir() and (root / "test").is_dir()
    if split_dirs is None:
        split_dirs = has_split
    elif split_dirs and not has_split:
        raise FileNotFoundError(f"image_folder: split_dirs is set but {root} lacks train/ and/or test/ folders")

    skipped: list[str] = []
    if split_dirs:
        parts = {name: _scan_classes(root / name, skipped) for name in ("train", "test")}
        classes = sorted(set(parts["train"]) | set(parts["test"]))
    else:
        parts = {"all": _scan_classes(root, skipped)}
        classes = sorted(parts["all"])

    paths: list[Path] = []
    labels: list[int] = []
    codes: list[int] = []
    for part, by_class in parts.items():
        code = {"train": TRAIN, "test": TEST}.get(part, TRAIN)
        for idx, name in enumerate(classes):
            files = by_class.get(name, [])
            paths.extend(files)
            labels.extend([idx] * len(files))
            codes.extend([code] * len(files))

    images = read_images(paths, image_size, channels)
    meta = {
        "origin": "image_folder",
        "root": str(root),
        "layout": "train/test" if split_dirs else "flat",
        "image_size": image_size,
        "channels": channels,
        "resize": "shorter side bilinear + center crop",
        "n_files": len(paths),
        "skipped_files": len(skipped),
    }
    if split_dirs:
        missing = {p: sorted(set(classes) - set(by_class)) for p, by_class in parts.items()}
        meta["classes_missing"] = {p: m for p, m in missing.items() if m}
    split = torch.tensor(codes, dtype=torch.int8) if split_dirs else None
    return RawDataset(images, torch.tensor(labels, dtype=torch.int64), classes, split, meta)


def _scan_classes(folder: Path, skipped: list[str]) -> dict[str, list[Path]]:
    """{class name: sorted image files} for the class sub-folders of ``folder``."""
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise FileNotFoundError(f"image_folder: {folder} has no class sub-folders")
    out: dict[str, list[Path]] = {}
    for class_dir in class_dirs:
        files = []
        for path in sorted(class_dir.iterdir()):
            if not path.is_file():
                continue
            if path.name.startswith(".") or path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append(str(path))
                continue
            files.append(path)
        if not files:
            raise ValueError(
                f"image_folder: class folder {class_dir} holds no images "
                f"(extensions read: {', '.join(sorted(IMAGE_EXTENSIONS))}); remove it or add images"
            )
        out[class_dir.name] = files
    return out


def _mode(channels: int) -> str:
    try:
        return _MODES[channels]
    except KeyError:
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}") from None

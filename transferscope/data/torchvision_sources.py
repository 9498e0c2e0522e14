"""torchvision datasets read from a configurable ``data_root``; nothing is downloaded unless asked.

``load_torchvision(name, data_root, download=False, image_size=None)`` returns the official train and test
parts as one ``RawDataset`` with TRAIN/TEST split codes. Where the files live (torchvision's own layout, so a
directory filled by torchvision is found as is)::

    mnist         <data_root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte          (uncompressed)
    fashionmnist  <data_root>/FashionMNIST/raw/...   kmnist  <data_root>/KMNIST/raw/...
    cifar10       <data_root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}
    cifar100      <data_root>/cifar-100-python/{train,test,meta}
    svhn          <data_root>/{train,test}_32x32.mat
    oxford_pets   <data_root>/oxford-iiit-pet/{images/*.jpg,annotations/{trainval,test}.txt}

How each is read:

- MNIST family: ``torchvision.datasets.MNIST``/``FashionMNIST``/``KMNIST``; its ``.data``/``.targets``
  tensors are taken whole (no per-sample PIL loop).
- CIFAR-10/100 and SVHN: read by this module (the python pickles / the ``.mat`` files, exactly as torchvision
  parses them). torchvision's constructors insist on the md5 of each file, which makes them refuse any
  re-packed or test copy; torchvision is used only to download when ``download=True`` and files are missing
  (its download verifies the md5).
- Oxford-IIIT Pet: torchvision is used to download; the split lists ``annotations/{trainval,test}.txt`` are
  parsed here (torchvision builds ``.classes`` per split from the labels present in that split, which we
  need for the union of both splits) and each image is loaded with PIL, converted to RGB and brought to
  ``image_size`` (default 224) by a shorter-side resize and centre crop. Class names are the breeds in
  torchvision's spelling ("American Bulldog"), sorted; with the real files this equals the official order.

Fixed-size sets keep their native size unless ``image_size`` differs, in which case they are resized like the
``resize`` derivation (bilinear, antialiased).
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from transferscope.data.bundle import TEST, TRAIN, RawDataset
from transferscope.data.derive import resize_images
from transferscope.data.image_folder import read_images
from transferscope.lazy import lazy_module

torch = lazy_module("torch")

MNIST_FAMILY = {"mnist": "MNIST", "fashionmnist": "FashionMNIST", "kmnist": "KMNIST"}
_MNIST_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
)
_CIFAR = {
    "cifar10": {
        "cls": "CIFAR10",
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": "batches.meta",
        "names_key": "label_names",
        "labels_key": "labels",
    },
    "cifar100": {
        "cls": "CIFAR100",
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": "meta",
        "names_key": "fine_label_names",
        "labels_key": "fine_labels",
    },
}
_SVHN_FILES = {"train": "train_32x32.mat", "test": "test_32x32.mat"}
PETS_FOLDER = "oxford-iiit-pet"
DEFAULT_VARIABLE_SIZE = 224

SOURCES = ("mnist", "fashionmnist", "kmnist", "cifar10", "cifar100", "svhn", "oxford_pets")


def load_torchvision(
    name: str, data_root: str | Path, download: bool = False, image_size: int | None = None
) -> RawDataset:
    """Load torchvision dataset ``name`` from ``data_root`` (train + test, split codes TRAIN/TEST)."""
    if name not in SOURCES:
        raise ValueError(f"unknown torchvision source {name!r}; known: {', '.join(SOURCES)}")
    if image_size is not None and (isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0):
        raise ValueError(f"{name}: image_size must be a positive integer or None, got {image_size!r}")
    data_root = Path(data_root).expanduser()
    if name in MNIST_FAMILY:
        ds = _load_mnist_family(name, data_root, download)
    elif name in _CIFAR:
        ds = _load_cifar(name, data_root, download)
    elif name == "svhn":
        ds = _load_svhn(data_root, download)
    else:
        return _load_pets(data_root, download, image_size or DEFAULT_VARIABLE_SIZE)
    if image_size is not None and tuple(ds.images.shape[2:]) != (image_size, image_size):
        ds.meta["native_size"] = list(ds.images.shape[2:])
        ds.images = resize_images(ds.images, image_size)
    ds.meta["image_size"] = int(ds.images.shape[-1])
    return ds


# ---------------------------------------------------------------------------------------------- helpers


def _not_found(name: str, where: Path, expected: list[str], detail: str = "") -> FileNotFoundError:
    extra = f" ({detail})" if detail else ""
    return FileNotFoundError(
        f"dataset {name!r} not found in {where}: expected {', '.join(expected)}{extra}. "
        "Set `download: true` in the config or place the files there."
    )


def _download(name: str, where: Path, make) -> object:
    """Run torchvision's downloading constructor ``make()``; a failure names the dataset and the directory."""
    try:
        return make()
    except Exception as exc:  # URLError, md5 mismatch RuntimeError, ...
        raise RuntimeError(
            f"downloading dataset {name!r} into {where} failed: {exc}. "
            "Check the network, or place the files there by hand and set `download: false`."
        ) from exc


def _combine(parts: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[(train images, labels), (test images, labels)] -> images, labels, split codes."""
    (x_train, y_train), (x_test, y_test) = parts
    split = torch.cat(
        [torch.full((len(y_train),), TRAIN, dtype=torch.int8), torch.full((len(y_test),), TEST, dtype=torch.int8)]
    )
    return torch.cat([x_train, x_test]).contiguous(), torch.cat([y_train, y_test]).long(), split


def _check_labels(name: str, labels: torch.Tensor, n_classes: int, where: Path) -> None:
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise RuntimeError(
            f"{name} in {where}: labels span {int(labels.min())}..{int(labels.max())} but there are {n_classes} classes"
        )


# ---------------------------------------------------------------------------------------------- MNIST family


def _load_mnist_family(name: str, data_root: Path, download: bool) -> RawDataset:
    import torchvision.datasets as tvd

    cls = getattr(tvd, MNIST_FAMILY[name])
    raw = data_root / MNIST_FAMILY[name] / "raw"
    parts = []
    for train in (True, False):
        if download:
            ds = _download(name, raw, lambda: cls(root=str(data_root), train=train, download=True))
        else:
            try:
                ds = cls(root=str(data_root), train=train, download=False)
            except RuntimeError as exc:
                if "not found" not in str(exc).lower():
                    raise
                gz = [f for f in _MNIST_FILES if (raw / f"{f}.gz").exists() and not (raw / f).exists()]
                hint = f"found only the compressed {', '.join(f + '.gz' for f in gz)}: gunzip them" if gz else ""
                raise _not_found(name, raw, list(_MNIST_FILES), hint) from exc
        data = ds.data
        if data.ndim != 3 or data.dtype != torch.uint8:
            raise RuntimeError(f"{name} in {raw}: images are {data.dtype} {tuple(data.shape)}, expected uint8 N×H×W")
        if len(ds.targets) != len(data):
            raise RuntimeError(f"{name} in {raw}: {len(data)} images but {len(ds.targets)} labels")
        parts.append((data.unsqueeze(1), torch.as_tensor(ds.targets).long()))
        classes = list(ds.classes)
    images, labels, split = _combine(parts)
    _check_labels(name, labels, len(classes), raw)
    meta = {"origin": f"torchvision.datasets.{MNIST_FAMILY[name]}", "reader": "torchvision", "path": str(raw)}
    return RawDataset(images, labels, classes, split, meta)


# ---------------------------------------------------------------------------------------------- CIFAR


def _unpickle(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
    except Exception as exc:  # truncated file, not a pickle, ...
        raise RuntimeError(f"cannot read {what} file {path}: {exc}. Delete it and download again.") from exc
    if not isinstance(entry, dict):
        raise RuntimeError(f"{what} file {path} does not hold a dict (got {type(entry).__name__})")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


def _load_cifar(name: str, data_root: Path, download: bool) -> RawDataset:
    spec = _CIFAR[name]
    folder = data_root / spec["folder"]
    files = spec["train"] + spec["test"] + [spec["meta"]]
    missing = [f for f in files if not (folder / f).is_file()]
    if missing and download:
        import torchvision.datasets as tvd

        # Downloads, extracts and verifies the md5 of every file; then the files are read below.
        _download(name, folder, lambda: getattr(tvd, spec["cls"])(root=str(data_root), train=True, download=True))
        missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise _not_found(name, folder, files, f"missing: {', '.join(missing)}")

    parts = []
    for part in ("train", "test"):
        xs, ys = [], []
        for fname in spec[part]:
            entry = _unpickle(folder / fname, name)
            if "data" not in entry or spec["labels_key"] not in entry:
                raise RuntimeError(f"{name} file {folder / fname} lacks 'data' or {spec['labels_key']!r}")
            data = np.asarray(entry["data"], dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(entry[spec["labels_key"]]) != len(data):
                raise RuntimeError(
                    f"{name} file {folder / fname}: data {data.shape} / {len(entry[spec['labels_key']])} labels, "
                    "expected N×3072 with one label each"
                )
            xs.append(data.reshape(-1, 3, 32, 32))  # rows are R(1024) G(1024) B(1024), row-major: already C×H×W
            ys.append(np.asarray(entry[spec["labels_key"]], dtype=np.int64))
        parts.append((torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))))
    meta_entry = _unpickle(folder / spec["meta"], name)
    if spec["names_key"] not in meta_entry:
        raise RuntimeError(f"{name} meta file {folder / spec['meta']} lacks {spec['names_key']!r}")
    classes = [str(c) for c in meta_entry[spec["names_key"]]]
    images, labels, split = _combine(parts)
    _check_labels(name, labels, len(classes), folder)
    meta = {"origin": f"torchvision.datasets.{spec['cls']} files", "reader": "transferscope pickle reader",
            "path": str(folder)}
    return RawDataset(images, labels, classes, split, meta)


# ---------------------------------------------------------------------------------------------- SVHN


def _load_svhn(data_root: Path, download: bool) -> RawDataset:
    import scipy.io as sio

    expected = list(_SVHN_FILES.values())
    if download:
        import torchvision.datasets as tvd

        for part, fname in _SVHN_FILES.items():
            if not (data_root / fname).is_file():
                _download("svhn", data_root, lambda part=part: tvd.SVHN(root=str(data_root), split=part, download=True))
    missing = [f for f in expected if not (data_root / f).is_file()]
    if missing:
        raise _not_found("svhn", data_root, expected, f"missing: {', '.join(missing)}")

    parts = []
    for fname in expected:
        path = data_root / fname
        try:
            mat = sio.loadmat(str(path), variable_names=["X", "y"])
        except Exception as exc:
            raise RuntimeError(f"cannot read svhn file {path}: {exc}. Delete it and download again.") from exc
        if "X" not in mat or "y" not in mat:
            raise RuntimeError(f"svhn file {path} lacks the 'X' and 'y' arrays")
        x, y = mat["X"], mat["y"].astype(np.int64).reshape(-1)
        if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
            raise RuntimeError(f"svhn file {path}: X is {x.shape}, y has {len(y)} entries; expected 32×32×3×N and N")
        y[y == 10] = 0  # SVHN labels the digit 0 as 10; torchvision maps it to 0
        x = np.ascontiguousarray(x.astype(np.uint8).transpose(3, 2, 0, 1))  # H×W×C×N -> N×C×H×W
        parts.append((torch.from_numpy(x), torch.from_numpy(y)))
    images, labels, split = _combine(parts)
    classes = [str(d) for d in range(10)]
    _check_labels("svhn", labels, 10, data_root)
    meta = {"origin": "torchvision.datasets.SVHN files", "reader": "transferscope .mat reader", "path": str(data_root)}
    return RawDataset(images, labels, classes, split, meta)


# ---------------------------------------------------------------------------------------------- Oxford pets


def _pet_class_name(image_id: str) -> str:
    """'american_bulldog_12' -> 'American Bulldog' (torchvision's spelling of the breed)."""
    return " ".join(part.title() for part in image_id.rsplit("_", 1)[0].split("_"))


def _load_pets(data_root: Path, download: bool, image_size: int) -> RawDataset:
    base = data_root / PETS_FOLDER
    images_dir, anns_dir = base / "images", base / "annotations"
    lists = {"trainval": anns_dir / "trainval.txt", "test": anns_dir / "test.txt"}
    if download and not (images_dir.is_dir() and anns_dir.is_dir()):
        import torchvision.datasets as tvd

        _download("oxford_pets", base, lambda: tvd.OxfordIIITPet(root=str(data_root), split="trainval",
                                                                  target_types="category", download=True))
    missing = [str(p.relative_to(base)) for p in (images_dir, *lists.values()) if not p.exists()]
    if missing:
        raise _not_found("oxford_pets", base, ["images/*.jpg", "annotations/trainval.txt", "annotations/test.txt"],
                         f"missing: {', '.join(missing)}")

    rows: list[tuple[str, int]] = []  # (image id, split code)
    for part, path in lists.items():
        code = TRAIN if part == "trainval" else TEST
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) < 2:
                raise RuntimeError(
                    f"oxford_pets: {path}:{lineno}: expected 'IMAGE_ID CLASS_ID SPECIES BREED_ID', got {line!r}"
                )
            rows.append((fields[0], code))
    classes = sorted({_pet_class_name(image_id) for image_id, _ in rows})
    index = {name: i for i, name in enumerate(classes)}
    paths = [images_dir / f"{image_id}.jpg" for image_id, _ in rows]
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise _not_found("oxford_pets", images_dir, [f"{len(paths)} images listed in the annotations"],
                         f"{len(absent)} missing, e.g. {absent[0]}")
    images = read_images(paths, image_size, 3)
    labels = torch.tensor([index[_pet_class_name(image_id)] for image_id, _ in rows], dtype=torch.int64)
    split = torch.tensor([code for _, code in rows], dtype=torch.int8)
    meta = {"origin": "torchvision.datasets.OxfordIIITPet files", "reader": "transferscope annotation reader + PIL",
            "path": str(base), "image_size": image_size, "resize": "shorter side bilinear + center crop",
            "native_size": "variable"}
    return RawDataset(images, labels, classes, split, meta)

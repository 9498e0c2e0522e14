"""Write tiny datasets in the exact on-disk formats torchvision reads, for tests (no network).

Each writer returns what it wrote as uint8 N×C×H×W arrays and int64 labels per split, so tests can check a
pixel round trip. Contents are random but seeded.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

MNIST_DIRS = {"mnist": "MNIST", "fashionmnist": "FashionMNIST", "kmnist": "KMNIST"}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------- MNIST family


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX ("SN3 Pascal Vincent") file of unsigned bytes: magic 0x08 0x<ndim>, big-endian dims."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    path.write_bytes(header + array.tobytes())


def write_mnist_family(root: Path, name: str = "mnist", n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    """<root>/<MNIST|FashionMNIST|KMNIST>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte."""
    raw = Path(root) / MNIST_DIRS[name] / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    out = {}
    for part, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.int64)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels.astype(np.uint8))
        out[part] = (images[:, None], labels)
    return out


# ---------------------------------------------------------------------------------------------- CIFAR


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def _cifar_images(rng, n: int) -> tuple[np.ndarray, np.ndarray]:
    """N×3×32×32 images and their CIFAR rows: 3072 bytes, R plane then G then B, each row-major."""
    images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    return images, images.reshape(n, 3072).copy()


def write_cifar10(root: Path, per_batch: int = 2, n_test: int = 3, seed: int = 0) -> dict:
    """<root>/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    train_x, train_y = [], []
    for i in range(1, 6):
        images, rows = _cifar_images(rng, per_batch)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        _pickle(folder / f"data_batch_{i}", {"batch_label": f"training batch {i} of 5", "labels": labels,
                                             "data": rows, "filenames": [f"img_{i}_{j}.png" for j in range(per_batch)]})
        train_x.append(images)
        train_y.extend(labels)
    images, rows = _cifar_images(rng, n_test)
    labels = rng.integers(0, 10, size=n_test).tolist()
    _pickle(folder / "test_batch", {"batch_label": "testing batch 1 of 1", "labels": labels, "data": rows,
                                    "filenames": [f"test_{j}.png" for j in range(n_test)]})
    _pickle(folder / "batches.meta", {"label_names": names, "num_cases_per_batch": per_batch, "num_vis": 3072})
    return {"train": (np.concatenate(train_x), np.asarray(train_y, dtype=np.int64)),
            "test": (images, np.asarray(labels, dtype=np.int64)), "classes": names}


def write_cifar100(root: Path, n_train: int = 7, n_test: int = 5, seed: int = 0) -> dict:
    """<root>/cifar-100-python/{train, test, meta} with fine and coarse labels."""
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    fine = [f"fine_class_{i:02d}" for i in range(100)]
    coarse = [f"coarse_class_{i:02d}" for i in range(20)]
    out = {"classes": fine}
    for part, n in (("train", n_train), ("test", n_test)):
        images, rows = _cifar_images(rng, n)
        labels = rng.integers(0, 100, size=n)
        labels[0] = 99  # the top label is used
        _pickle(folder / part, {"filenames": [f"{part}_{j}.png" for j in range(n)], "batch_label": part,
                                "fine_labels": labels.tolist(), "coarse_labels": (labels // 5).tolist(), "data": rows})
        out[part] = (images, labels.astype(np.int64))
    _pickle(folder / "meta", {"fine_label_names": fine, "coarse_label_names": coarse})
    return out


# ---------------------------------------------------------------------------------------------- SVHN


def write_svhn(root: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    """<root>/{train,test}_32x32.mat: X 32×32×3×N uint8, y N×1 with digits 1..10 (10 = digit 0)."""
    import scipy.io as sio

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    out = {}
    for part, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        digits = rng.integers(0, 10, size=n)
        digits[0] = 0  # always exercise the 10 -> 0 mapping
        svhn_y = np.where(digits == 0, 10, digits).astype(np.uint8).reshape(n, 1)
        sio.savemat(str(root / f"{part}_32x32.mat"), {"X": images.transpose(2, 3, 1, 0), "y": svhn_y})
        out[part] = (images, digits.astype(np.int64))
    return out


# ---------------------------------------------------------------------------------------------- Oxford pets

PET_BREEDS = [("Abyssinian", 1), ("american_bulldog", 2), ("Bengal", 1), ("yorkshire_terrier", 2)]


def write_oxford_pets(root: Path, n_trainval: int = 2, n_test: int = 1, size: tuple[int, int] = (40, 30),
                      seed: int = 0) -> dict:
    """<root>/oxford-iiit-pet/images/<Breed>_<n>.jpg + annotations/{trainval,test}.txt.

    Annotation lines are ``IMAGE_ID CLASS_ID SPECIES BREED_ID`` (1-based ids; species 1 cat, 2 dog). Each image
    is a flat colour (JPEG keeps it almost exactly), of size ``size`` (width, height); the first image of the
    first breed is saved grey to check the RGB conversion.
    """
    base = Path(root) / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True, exist_ok=True)
    (base / "annotations").mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    lines = {"trainval": [], "test": []}
    colours = {}
    counters = {}
    breed_ids = {"cat": 0, "dog": 0}
    for class_id, (breed, species) in enumerate(PET_BREEDS, 1):
        kind = "cat" if species == 1 else "dog"
        breed_ids[kind] += 1
        for part, n in (("trainval", n_trainval), ("test", n_test)):
            for _ in range(n):
                counters[breed] = counters.get(breed, 0) + 1
                image_id = f"{breed}_{counters[breed]}"
                colour = tuple(int(v) for v in rng.integers(20, 236, size=3))
                if class_id == 1 and counters[breed] == 1:
                    grey = colour[0]
                    Image.new("L", size, grey).save(base / "images" / f"{image_id}.jpg", quality=95)
                    colour = (grey, grey, grey)
                else:
                    Image.new("RGB", size, colour).save(base / "images" / f"{image_id}.jpg", quality=95)
                colours[image_id] = colour
                lines[part].append(f"{image_id} {class_id} {species} {breed_ids[kind]}")
    for part, rows in lines.items():
        (base / "annotations" / f"{part}.txt").write_text("\n".join(rows) + "\n")
    (base / "images" / "unlisted_1.jpg").write_bytes(b"not listed in any split")  # real sets have strays too
    classes = sorted(" ".join(p.title() for p in breed.split("_")) for breed, _ in PET_BREEDS)
    return {"lines": lines, "colours": colours, "classes": classes}


# ---------------------------------------------------------------------------------------------- image folders


def write_image_folder(root: Path, classes: dict[str, int], size: tuple[int, int] = (12, 8), mode: str = "RGB",
                       seed: int = 0, ext: str = ".png") -> dict[str, list[np.ndarray]]:
    """<root>/<class>/<i>.png with random pixels (lossless); returns {class: [H×W(×C) arrays in file order]}."""
    rng = _rng(seed)
    out: dict[str, list[np.ndarray]] = {}
    for name, n in classes.items():
        folder = Path(root) / name
        folder.mkdir(parents=True, exist_ok=True)
        out[name] = []
        for i in range(n):
            shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
            arr = rng.integers(0, 256, size=shape, dtype=np.uint8)
            Image.fromarray(arr).save(folder / f"img_{i:03d}{ext}")
            out[name].append(arr)
    return out

"""Disk-backed loaders: torchvision sources on tiny files in their real formats, and image folders.

Nothing here touches the network: an autouse fixture makes any socket connection fail.
"""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fake_torchvision_data as fake  # noqa: E402
from transferscope.data.bundle import TEST, TRAIN  # noqa: E402
from transferscope.data.image_folder import load_image_folder, resize_center_crop  # noqa: E402
from transferscope.data.torchvision_sources import SOURCES, load_torchvision  # noqa: E402


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tests must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _check_common(ds, n_train, n_test, channels, size, n_classes):
    assert ds.images.dtype == torch.uint8
    assert tuple(ds.images.shape) == (n_train + n_test, channels, size, size)
    assert ds.labels.dtype == torch.int64 and ds.labels.shape == (n_train + n_test,)
    assert ds.split.dtype == torch.int8
    assert int((ds.split == TRAIN).sum()) == n_train and int((ds.split == TEST).sum()) == n_test
    assert torch.equal(ds.split[:n_train], torch.full((n_train,), TRAIN, dtype=torch.int8))
    assert len(ds.classes) == n_classes
    assert int(ds.labels.min()) >= 0 and int(ds.labels.max()) < n_classes


def _check_roundtrip(ds, written):
    x_train, y_train = written["train"]
    x_test, y_test = written["test"]
    assert torch.equal(ds.images, torch.from_numpy(np.concatenate([x_train, x_test])))
    assert torch.equal(ds.labels, torch.from_numpy(np.concatenate([y_train, y_test])))


@pytest.mark.parametrize("name", ["mnist", "fashionmnist", "kmnist"])
def test_mnist_family(tmp_path, name):
    written = fake.write_mnist_family(tmp_path, name, n_train=6, n_test=4)
    ds = load_torchvision(name, tmp_path)
    _check_common(ds, 6, 4, 1, 28, 10)
    _check_roundtrip(ds, written)
    import torchvision.datasets as tvd

    assert ds.classes == list(getattr(tvd, fake.MNIST_DIRS[name]).classes)
    assert ds.meta["reader"] == "torchvision"


def test_mnist_resized_when_image_size_differs(tmp_path):
    fake.write_mnist_family(tmp_path, "mnist", n_train=2, n_test=1)
    ds = load_torchvision("mnist", tmp_path, image_size=32)
    assert tuple(ds.images.shape) == (3, 1, 32, 32) and ds.images.dtype == torch.uint8
    assert ds.meta["native_size"] == [28, 28]
    assert tuple(load_torchvision("mnist", tmp_path, image_size=28).images.shape) == (3, 1, 28, 28)


def test_cifar10(tmp_path):
    written = fake.write_cifar10(tmp_path, per_batch=2, n_test=3)
    ds = load_torchvision("cifar10", tmp_path)
    _check_common(ds, 10, 3, 3, 32, 10)
    _check_roundtrip(ds, written)
    assert ds.classes == written["classes"]
    # the channel layout: the first 1024 bytes of a row are the red plane
    assert ds.images[0, 0, 0, 1] == written["train"][0][0, 0, 0, 1]


def test_cifar100(tmp_path):
    written = fake.write_cifar100(tmp_path, n_train=7, n_test=5)
    ds = load_torchvision("cifar100", tmp_path)
    _check_common(ds, 7, 5, 3, 32, 100)
    _check_roundtrip(ds, written)
    assert ds.classes == written["classes"]
    assert int(ds.labels.max()) == 99


def test_svhn_maps_label_10_to_0(tmp_path):
    written = fake.write_svhn(tmp_path, n_train=6, n_test=4)
    ds = load_torchvision("svhn", tmp_path)
    _check_common(ds, 6, 4, 3, 32, 10)
    _check_roundtrip(ds, written)
    assert ds.labels[0] == 0 and ds.labels[6] == 0
    assert ds.classes == [str(d) for d in range(10)]


def test_oxford_pets(tmp_path):
    written = fake.write_oxford_pets(tmp_path, n_trainval=2, n_test=1, size=(40, 30))
    ds = load_torchvision("oxford_pets", tmp_path, image_size=24)
    _check_common(ds, 8, 4, 3, 24, 4)
    assert ds.classes == written["classes"] == ["Abyssinian", "American Bulldog", "Bengal", "Yorkshire Terrier"]
    ids = [line.split()[0] for part in ("trainval", "test") for line in written["lines"][part]]
    expected_labels = [ds.classes.index(" ".join(p.title() for p in i.rsplit("_", 1)[0].split("_"))) for i in ids]
    assert ds.labels.tolist() == expected_labels
    for row, image_id in enumerate(ids):  # flat colours survive JPEG + resize within a few levels
        colour = torch.tensor(written["colours"][image_id], dtype=torch.int16).view(3, 1, 1)
        assert int((ds.images[row].to(torch.int16) - colour).abs().max()) <= 3, image_id


def test_oxford_pets_default_size(tmp_path):
    fake.write_oxford_pets(tmp_path, n_trainval=1, n_test=1, size=(20, 16))
    ds = load_torchvision("oxford_pets", tmp_path)
    assert tuple(ds.images.shape) == (8, 3, 224, 224)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn"])
def test_own_readers_agree_with_torchvision(tmp_path, monkeypatch, name):
    """Our CIFAR/SVHN readers parse exactly as torchvision does (its md5 check bypassed for the fake files)."""
    import torchvision.datasets as tvd
    import torchvision.datasets.cifar
    import torchvision.datasets.svhn

    _WRITERS[name](tmp_path)
    ours = load_torchvision(name, tmp_path)
    if name == "svhn":
        monkeypatch.setattr(torchvision.datasets.svhn, "check_integrity", lambda *a, **k: True)
        parts = [tvd.SVHN(str(tmp_path), split=s) for s in ("train", "test")]
        images = np.concatenate([p.data for p in parts])
        labels = np.concatenate([p.labels for p in parts])
    else:
        monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
        cls = tvd.CIFAR10 if name == "cifar10" else tvd.CIFAR100
        parts = [cls(str(tmp_path), train=t) for t in (True, False)]
        images = np.concatenate([p.data for p in parts]).transpose(0, 3, 1, 2)  # torchvision keeps HWC
        labels = np.concatenate([p.targets for p in parts])
        assert ours.classes == list(parts[0].classes)
    assert torch.equal(ours.images, torch.from_numpy(np.ascontiguousarray(images)))
    assert ours.labels.tolist() == labels.tolist()


def test_pets_agree_with_torchvision(tmp_path):
    import torchvision.datasets as tvd

    fake.write_oxford_pets(tmp_path, n_trainval=2, n_test=1, size=(16, 16))
    ours = load_torchvision("oxford_pets", tmp_path, image_size=16)
    parts = [tvd.OxfordIIITPet(str(tmp_path), split=s, target_types="category") for s in ("trainval", "test")]
    assert ours.classes == parts[0].classes == parts[1].classes
    assert ours.labels.tolist() == [parts[i][j][1] for i in (0, 1) for j in range(len(parts[i]))]
    first = np.asarray(parts[0][0][0]).transpose(2, 0, 1)  # 16×16 already: no resize, same PIL decode
    assert torch.equal(ours.images[0], torch.from_numpy(first.copy()))


_WRITERS = {
    "mnist": lambda root: fake.write_mnist_family(root, "mnist"),
    "fashionmnist": lambda root: fake.write_mnist_family(root, "fashionmnist"),
    "kmnist": lambda root: fake.write_mnist_family(root, "kmnist"),
    "cifar10": fake.write_cifar10,
    "cifar100": fake.write_cifar100,
    "svhn": fake.write_svhn,
    "oxford_pets": fake.write_oxford_pets,
}
_EXPECTED_DIR = {"mnist": "MNIST/raw", "fashionmnist": "FashionMNIST/raw", "kmnist": "KMNIST/raw",
                 "cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python", "svhn": "",
                 "oxford_pets": "oxford-iiit-pet"}


@pytest.mark.parametrize("name", SOURCES)
def test_missing_files_without_download(tmp_path, name):
    root = tmp_path / "data"
    with pytest.raises(FileNotFoundError) as err:
        load_torchvision(name, root)
    message = str(err.value)
    assert str(root / _EXPECTED_DIR[name]).rstrip("/") in message
    assert "`download: true`" in message and "place the files there" in message
    assert name in message


@pytest.mark.parametrize("name", SOURCES)
def test_partial_files_without_download(tmp_path, name):
    _WRITERS[name](tmp_path)
    victim = {"mnist": "MNIST/raw/t10k-labels-idx1-ubyte", "fashionmnist": "FashionMNIST/raw/t10k-images-idx3-ubyte",
              "kmnist": "KMNIST/raw/train-images-idx3-ubyte", "cifar10": "cifar-10-batches-py/data_batch_3",
              "cifar100": "cifar-100-python/meta", "svhn": "test_32x32.mat",
              "oxford_pets": "oxford-iiit-pet/annotations/test.txt"}[name]
    (tmp_path / victim).unlink()
    with pytest.raises(FileNotFoundError, match="download"):
        load_torchvision(name, tmp_path)


def test_download_flag_reaches_torchvision(tmp_path, monkeypatch):
    """download=True calls torchvision's downloader (stubbed here to write the fake files)."""
    import torchvision.datasets as tvd

    calls = []

    def fake_download(self):
        calls.append(type(self).__name__)
        fake.write_mnist_family(Path(self.root), "mnist", n_train=3, n_test=2)

    monkeypatch.setattr(tvd.MNIST, "download", fake_download)
    ds = load_torchvision("mnist", tmp_path, download=True)
    assert calls and tuple(ds.images.shape) == (5, 1, 28, 28)


def test_cifar_download_only_when_files_missing(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    def boom(*args, **kwargs):
        raise AssertionError("should not download: the files are there")

    monkeypatch.setattr(tvd.CIFAR10, "__init__", boom)
    fake.write_cifar10(tmp_path)
    assert len(load_torchvision("cifar10", tmp_path, download=True).labels) == 13


def test_download_failure_is_explained(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.datasets as tvd

    def offline(self):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(tvd.CIFAR10, "download", offline)
    with pytest.raises(RuntimeError, match=r"downloading dataset 'cifar10' into .*cifar-10-batches-py failed"):
        load_torchvision("cifar10", tmp_path, download=True)


def test_corrupt_cifar_names_file(tmp_path):
    fake.write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(b"garbage")
    with pytest.raises(RuntimeError, match="data_batch_2"):
        load_torchvision("cifar10", tmp_path)


def test_unknown_source(tmp_path):
    with pytest.raises(ValueError, match="unknown"):
        load_torchvision("imagenet", tmp_path)


# ---------------------------------------------------------------------------------------------- image folders


def test_image_folder_flat_sorted_and_cropped(tmp_path):
    # created in unsorted order; 12×8 images with image_size 8 -> no resize, centre crop of columns 2..9
    written = fake.write_image_folder(tmp_path, {"zebra": 2, "Ant": 1, "mouse": 3}, size=(12, 8))
    (tmp_path / "mouse" / "Thumbs.db").write_bytes(b"junk")
    (tmp_path / "mouse" / ".hidden.png").write_bytes(b"junk")
    ds = load_image_folder(tmp_path, image_size=8)
    assert ds.classes == ["Ant", "mouse", "zebra"]
    assert ds.split is None
    assert ds.labels.tolist() == [0, 1, 1, 1, 2, 2]
    assert tuple(ds.images.shape) == (6, 3, 8, 8) and ds.images.dtype == torch.uint8
    assert ds.meta["skipped_files"] == 2
    expected = [a for name in ds.classes for a in written[name]]
    for row, arr in enumerate(expected):
        assert torch.equal(ds.images[row], torch.from_numpy(arr[:, 2:10].transpose(2, 0, 1).copy()))
    again = load_image_folder(tmp_path, image_size=8)
    assert torch.equal(again.images, ds.images) and torch.equal(again.labels, ds.labels)


def test_image_folder_train_test(tmp_path):
    fake.write_image_folder(tmp_path / "train", {"uninfected": 3, "parasitized": 2}, size=(10, 10), mode="L")
    fake.write_image_folder(tmp_path / "test", {"uninfected": 1, "parasitized": 2}, size=(10, 10), mode="L", seed=1)
    ds = load_image_folder(tmp_path, image_size=6, channels=1)
    assert ds.classes == ["parasitized", "uninfected"]
    assert tuple(ds.images.shape) == (8, 1, 6, 6)
    assert ds.split.tolist() == [TRAIN] * 5 + [TEST] * 3
    assert ds.labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 1]
    # split_dirs=False: train/ and test/ would be classes, but they hold folders, not images
    with pytest.raises(ValueError, match="holds no images"):
        load_image_folder(tmp_path, image_size=6, channels=1, split_dirs=False)


def test_image_folder_grey_to_rgb_and_resize(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    Image.new("L", (30, 20), 77).save(folder / "x.png")
    ds = load_image_folder(tmp_path, image_size=10, channels=3)
    assert tuple(ds.images.shape) == (1, 3, 10, 10) and bool((ds.images == 77).all())


def test_resize_center_crop_is_deterministic():
    img = Image.fromarray(np.arange(40 * 30 * 3, dtype=np.uint32).reshape(30, 40, 3).astype(np.uint8))
    a, b = resize_center_crop(img, 16), resize_center_crop(img, 16)
    assert a.size == (16, 16) and np.array_equal(np.asarray(a), np.asarray(b))


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "nope", image_size=8)
    (tmp_path / "empty_root").mkdir()
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        load_image_folder(tmp_path / "empty_root", image_size=8)
    fake.write_image_folder(tmp_path / "ds", {"cat": 1})
    (tmp_path / "ds" / "dog").mkdir()
    with pytest.raises(ValueError, match="dog"):
        load_image_folder(tmp_path / "ds", image_size=8)
    with pytest.raises(FileNotFoundError, match="split_dirs"):
        load_image_folder(tmp_path / "ds", image_size=8, split_dirs=True)
    with pytest.raises(ValueError, match="channels"):
        load_image_folder(tmp_path / "ds", image_size=8, channels=2)


def test_image_folder_corrupt_image_names_file(tmp_path):
    fake.write_image_folder(tmp_path, {"cat": 2, "dog": 1})
    bad = tmp_path / "dog" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(RuntimeError, match="broken.jpg"):
        load_image_folder(tmp_path, image_size=8)

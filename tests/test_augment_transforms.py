"""Thesis B's transforms as options: RandomResizedCrop on the training batch (augment.resized_crop) and Resize 256 +
CenterCrop 224 for evaluation (a dataset's eval_crop), checked against torchvision's own functions."""
import math
import os

import pytest
import torch
import torch.nn.functional as F
import yaml
from torchvision.transforms import RandomResizedCrop
from torchvision.transforms.v2 import functional as TF

from conftest import REPO
from transferscope.config import validate_config
from transferscope.inference import Preprocess, center_crop
from transferscope.training.augment import augment, crop_resized, draw_augment, draw_crop_boxes


def test_boxes_follow_torchvisions_distribution_and_bounds():
    n = 20000
    boxes = draw_crop_boxes(torch.Generator().manual_seed(0), n)
    left, top, w, h = boxes.unbind(1)
    assert ((left >= 0) & (top >= 0) & (left + w <= 1 + 1e-6) & (top + h <= 1 + 1e-6)).all()
    area, ratio = w * h, w / h
    fallback = (w == 1) & (h == 1)
    assert ((area[~fallback] >= 0.08 - 1e-6) & (ratio[~fallback] >= 0.75 - 1e-6)
            & (ratio[~fallback] <= 4 / 3 + 1e-6)).all()
    # torchvision's get_params on a 1,000 px square image: the same distribution of area and aspect ratio
    torch.manual_seed(0)
    ref = torch.tensor([RandomResizedCrop.get_params(torch.empty(1, 1000, 1000), [0.08, 1.0], [3 / 4, 4 / 3])
                        for _ in range(n)], dtype=torch.float64) / 1000  # rows: top, left, height, width
    ref_area = ref[:, 2] * ref[:, 3]
    assert area.mean().item() == pytest.approx(ref_area.mean().item(), abs=0.01)
    assert area.std().item() == pytest.approx(ref_area.std().item(), abs=0.01)
    assert torch.log(ratio).mean().item() == pytest.approx(torch.log(ref[:, 3] / ref[:, 2]).mean().item(), abs=0.01)
    assert torch.equal(boxes, draw_crop_boxes(torch.Generator().manual_seed(0), n))  # seeded


def test_fallback_is_the_widest_centred_box_within_the_ratio():
    g = torch.Generator().manual_seed(1)
    boxes = draw_crop_boxes(g, 100, scale=(0.99, 1.0), ratio=(2.0, 3.0))  # never fits a square: fallback
    assert torch.allclose(boxes, torch.tensor([[0.0, 0.25, 1.0, 0.5]]).expand(100, 4))  # w = 1, h = 1/2, centred


def test_crop_of_the_whole_image_is_the_image_and_a_box_matches_torchvision_inside():
    x = torch.rand(3, 2, 16, 16)
    assert torch.allclose(crop_resized(x, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 3)), x, atol=1e-6)
    # a pixel-aligned box (rows 4..11, columns 2..9), resampled to 16 px, as torchvision's resized_crop does it
    box = torch.tensor([[2 / 16, 4 / 16, 8 / 16, 8 / 16]] * 3)
    ours = crop_resized(x, box)
    ref = TF.resized_crop(x, top=4, left=2, height=8, width=8, size=[16, 16], antialias=False)
    # inside: the same bilinear samples; the outermost output pixels differ (torchvision clamps at the crop's
    # edge, ours reads the neighbouring pixel of the image)
    assert torch.allclose(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5)


def test_augment_crops_only_when_asked_and_keeps_the_side():
    x = torch.arange(64.0).view(1, 1, 8, 8).repeat(5, 3, 1, 1)
    plain = draw_augment(torch.Generator().manual_seed(3), [5], translate=1, hflip=True)
    cropped = draw_augment(torch.Generator().manual_seed(3), [5], translate=1, hflip=True, resized_crop={})
    assert plain.boxes is None and cropped.boxes.shape == (5, 4)
    assert torch.equal(plain.offsets, cropped.offsets)  # shifts are drawn first, as before the option existed
    out = augment(x, torch.Generator().manual_seed(4), resized_crop={"scale": [0.25, 0.25], "ratio": [1.0, 1.0]})
    assert out.shape == x.shape and not torch.allclose(out, x)
    # a quarter of the area, square: the values span about half of the image's range in each direction
    assert ((out.amax((1, 2, 3)) - out.amin((1, 2, 3))) < 0.6 * 63).all()


def test_eval_crop_is_torchvisions_center_crop_and_training_batches_skip_it():
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    x = images.float() / 255
    assert torch.equal(center_crop(x, 0.875), TF.center_crop(x, [28, 28]))
    # odd sides: the same offsets as torchvision (round((31 - 16) / 2) = 8, banker's rounding as Python's)
    idx = torch.arange(31.0).view(1, 1, 1, 31).expand(1, 1, 31, 31)
    assert torch.equal(center_crop(idx, 0.5), TF.center_crop(idx, [16, 16]))
    prep = Preprocess([0.0] * 3, [1.0] * 3, size=224, eval_crop=0.875)
    evaluated, trained = prep(images), prep(images, train=True)
    assert evaluated.shape == trained.shape == (4, 3, 224, 224)
    expected = F.interpolate(TF.center_crop(x, [28, 28]), size=(224, 224), mode="bilinear", antialias=True,
                             align_corners=False)
    assert torch.allclose(evaluated, expected, atol=1e-6)
    assert torch.allclose(trained, Preprocess([0.0] * 3, [1.0] * 3, size=224)(images), atol=1e-6)
    # Resize 256 + CenterCrop 224 of the 32 px image, torchvision's way: the same picture away from the border
    ref = TF.center_crop(TF.resize(x, [256, 256], antialias=True), [224, 224])
    assert (evaluated - ref)[..., 16:-16, 16:-16].abs().mean().item() < 0.01


def test_thesis_b_uses_the_texts_transforms():
    with open(os.path.join(REPO, "configs", "thesis_b.yaml")) as fh:
        config = validate_config(yaml.safe_load(fh))
    for recipe in (config["finetune"]["recipe"], config["ensembles"]["recipe"]):
        assert recipe["augment"] == {"resized_crop": {"scale": [0.08, 1.0], "ratio": [0.75, 4 / 3]}, "hflip": True,
                                     "translate": 0}
    assert config["datasets"]["cifar100_224"]["eval_crop"] == pytest.approx(224 / 256)
    assert config["datasets"]["cifar100_224"]["input_size"] == 224
    assert math.isclose(config["finetune"]["recipe"]["augment"]["resized_crop"]["ratio"][1], 4 / 3)

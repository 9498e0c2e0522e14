"""Small weights files of thesis A's VGG sources for the tests: torchvision key names and shapes, kilobytes on disk."""
import os

import torch

from conftest import REPO

VGG16_CONFIG = os.path.join(REPO, "configs", "thesis_a_vgg16.yaml")  # the config these files stand in for
# a CIFAR-10 VGG19's classifier (chengyangfu/pytorch-vgg-cifar10): 512-wide, 10 classes, torchvision's slots 1, 4, 6
CIFAR_VGG19_HEAD = {"classifier.1.weight": (512, 512), "classifier.1.bias": (512,), "classifier.4.weight": (512, 512),
                    "classifier.4.bias": (512,), "classifier.6.weight": (10, 512), "classifier.6.bias": (10,)}


def small_state(constructor, classifier=None) -> dict:
    """A state dict with the key names and shapes of a torchvision VGG whose tensors are expanded from one random
    value per output unit, so the file takes kilobytes instead of half a gigabyte; ``classifier`` replaces the
    classifier's entries (a CIFAR VGG19's 512-wide one, or none for an encoder).

    The values keep a forward pass finite, so the files also fine-tune (tests/test_workflow_vgg_sources.py): a
    weight's one value per output unit is N(0, 1) × 2.5 / fan-in (its kernel sums its inputs; ReLU keeps about
    0.4 of the result), biases and BatchNorm shifts N(0, 0.01), BatchNorm scales and running variances 1."""
    with torch.device("meta"):
        shapes = {key: value.shape for key, value in constructor(weights=None).state_dict().items()}
    shapes = {k: v for k, v in shapes.items() if classifier is None or not k.startswith("classifier.")}
    shapes.update({key: torch.Size(shape) for key, shape in (classifier or {}).items()})
    gen = torch.Generator().manual_seed(0)
    state = {}
    for key, shape in shapes.items():
        if len(shape) == 0:
            state[key] = torch.tensor(0)
        elif len(shape) > 1:
            fan_in = shape[1:].numel()
            state[key] = (torch.randn(shape[0], *[1] * (len(shape) - 1), generator=gen) * 2.5 / fan_in).expand(shape)
        elif key.endswith(("running_var", "weight")):  # a 1-D weight is a BatchNorm scale
            state[key] = torch.ones(1).expand(shape)
        else:
            state[key] = (torch.randn(1, generator=gen) * 0.01).expand(shape)
    return state

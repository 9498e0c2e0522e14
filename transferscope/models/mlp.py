"""A two-hidden-layer perceptron: the benchmark zoo's architecture without convolutions.

flatten (C·S·S) → fc1 256 → ReLU → fc2 128 → ReLU → fc3 (n_classes) → log-softmax. For 28×28 grey images and 5
classes it has 234,501 parameters, within 5 % of thesis A's CNN (224,389), so a zoo of both plus the small
BN-ResNet compares families of similar size, not sizes.
Taps: ``in`` (the image), ``fc1``, ``fc2`` (after ReLU), ``out`` (log-softmax).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from transferscope.models.base import TapModel
from transferscope.models.specs import PREDICTION


class MLP(TapModel, arch="mlp"):

    def __init__(self, n_classes: int = 10, in_channels: int = 1, image_size: int = 28, hidden=(256, 128)):
        super().__init__()
        self.fc1 = nn.Linear(in_channels * image_size * image_size, hidden[0])
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.fc3 = nn.Linear(hidden[1], n_classes)

    def forward(self, x: torch.Tensor, taps: bool = False):
        """x: B×C×H×W float. Returns B×n_classes log-probabilities, or a dict tap -> tensor when ``taps``."""
        out = {"in": x}
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        out["fc1"] = x
        x = F.relu(self.fc2(x))
        out["fc2"] = x
        x = F.log_softmax(self.fc3(x), dim=1)
        out["out"] = out[PREDICTION] = x
        return out if taps else x

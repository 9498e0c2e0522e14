"""Thesis A's MNIST CNN (225,034 parameters for 28×28 inputs and 10 classes).

conv1 3×3 C→32 (no padding) → max-pool 2 → ReLU → conv2 3×3 32→64 → max-pool 2 → ReLU → Dropout2d 0.25 →
flatten (1,600) → fc1 128 → ReLU → Dropout 0.5 → fc2 (n_classes) → log-softmax.
Taps (thesis A): ``in``, ``conv1`` (raw conv output), ``pool1`` (after pool+ReLU), ``conv2``, ``pool2``,
``fc1`` (after ReLU), ``out`` (log-softmax).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from transferscope.models.base import TapModel
from transferscope.models.specs import PREDICTION


class MnistCNN(TapModel, arch="mnist_cnn"):

    def __init__(self, n_classes: int = 10, in_channels: int = 1, image_size: int = 28):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dropout1 = nn.Dropout2d(0.25)
        self.dropout2 = nn.Dropout(0.5)
        side = ((image_size - 2) // 2 - 2) // 2
        if side < 1:
            raise ValueError(f"mnist_cnn needs images of at least 10×10 pixels, got {image_size}")
        self.fc1 = nn.Linear(64 * side * side, 128)
        self.fc2 = nn.Linear(128, n_classes)

    def forward(self, x: torch.Tensor, taps: bool = False):
        """x: B×C×H×W float. Returns B×n_classes log-probabilities, or a dict tap -> tensor when ``taps``."""
        out = {"in": x}
        x = self.conv1(x)
        out["conv1"] = x
        x = F.relu(F.max_pool2d(x, 2))
        out["pool1"] = x
        x = self.conv2(x)
        out["conv2"] = x
        x = self.dropout1(F.relu(F.max_pool2d(x, 2)))
        out["pool2"] = x
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        out["fc1"] = x
        x = F.log_softmax(self.fc2(self.dropout2(x)), dim=1)
        out["out"] = out[PREDICTION] = x
        return out if taps else x

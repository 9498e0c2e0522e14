"""A small BatchNorm ResNet for the ensemble work (CPU-sized stand-in for thesis B's ResNet-50).

stem (3×3 conv, BN, ReLU) → stage1 → stage2 (stride 2) → stage3 (stride 2) → global average pool → fc.
Each stage is one basic residual block. Taps: ``in``, ``stem``, ``stage1``, ``stage2``, ``stage3``,
``pool`` (pooled features, the representation the similarity losses of thesis B use), ``out`` (log-softmax).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from transferscope.models.base import TapModel
from transferscope.models.specs import PREDICTION


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class SmallResNet(TapModel, arch="small_resnet"):

    def __init__(self, n_classes: int = 10, in_channels: int = 1, image_size: int = 28, width: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.stage1 = BasicBlock(width, width, 1)
        self.stage2 = BasicBlock(width, 2 * width, 2)
        self.stage3 = BasicBlock(2 * width, 4 * width, 2)
        self.fc = nn.Linear(4 * width, n_classes)

    def forward(self, x: torch.Tensor, taps: bool = False):
        out = {"in": x}
        for name in ("stem", "stage1", "stage2", "stage3"):
            x = getattr(self, name)(x)
            out[name] = x
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        out["pool"] = x
        x = F.log_softmax(self.fc(x), dim=1)
        out["out"] = out[PREDICTION] = x
        return out if taps else x

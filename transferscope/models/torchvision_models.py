"""torchvision VGG16, VGG19, VGG16-BN and ResNet-50 with named taps (weights come from local files:
``transferscope.checkpoints``)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from transferscope.models.base import TapModel
from transferscope.models.specs import PREDICTION


class VGGTaps(TapModel):
    """A torchvision VGG (``torchvision_constructor``: the name of its constructor in ``torchvision.models``, e.g.
    ``vgg16``, ``vgg16_bn``); taps in, pool1..pool5, fc1, fc2, out (thesis A's VGG taps: fc1/fc2 after their ReLU,
    out = ReLU(logits), as its ``extract_all`` took them; the prediction is the log-softmax of the logits).

    The modules stay where torchvision has them (``features``, ``avgpool``, ``classifier``), so torchvision state
    dicts load unconverted. Named layers: one per conv (``layer_names`` up to fc1) and fc1..fc3; in a batch-norm
    variant a conv's layer is the conv with its BatchNorm (an ``nn.Sequential`` that views both, not registered
    as a module of its own), so freezing, re-initialising or giving a layer its own lr covers the BatchNorm too.
    """

    torchvision_constructor = ""

    def __init__(self, n_classes: int = 1000, in_channels: int = 3, image_size: int = 224):
        super().__init__()
        import torchvision.models

        net = getattr(torchvision.models, self.torchvision_constructor)(weights=None)
        self.features = net.features
        self.avgpool = net.avgpool
        self.classifier = net.classifier
        if n_classes != 1000:
            self.classifier[6] = nn.Linear(4096, n_classes)
        # names of modules for layer-wise freezing / re-init
        conv_names = self.layer_names[:-3]
        convs = [i for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d)]
        if len(convs) != len(conv_names):
            raise RuntimeError(f"{self.torchvision_constructor} has {len(convs)} convs, {type(self).__name__} names "
                               f"{len(conv_names)}")
        self._layers: dict[str, nn.Module] = {}
        for name, i in zip(conv_names, convs):
            bn = self.features[i + 1]
            self._layers[name] = nn.Sequential(self.features[i], bn) if isinstance(bn, nn.BatchNorm2d) \
                else self.features[i]
        self._layers.update(fc1=self.classifier[0], fc2=self.classifier[3], fc3=self.classifier[6])

    def named_layer(self, name: str) -> nn.Module:
        name = self.resolve_layer(name)
        if name not in self._layers:
            raise ValueError(f"{type(self).__name__} has no layer {name!r} (layers: {self.layer_names})")
        return self._layers[name]

    def set_layer(self, name: str, module: nn.Module) -> None:
        """Replace the layer in its slot of ``features`` / ``classifier`` (the layers are not attributes here); a
        conv with its BatchNorm is replaced by an ``nn.Sequential`` (conv, BatchNorm)."""
        name = self.resolve_layer(name)
        old = self.named_layer(name)
        parts_old, parts_new = (list(old), list(module)) if isinstance(old, nn.Sequential) else ([old], [module])
        if len(parts_new) != len(parts_old):
            raise ValueError(f"layer {name!r} of {type(self).__name__} is {len(parts_old)} modules, not "
                             f"{len(parts_new)}")
        for old_part, new_part in zip(parts_old, parts_new):
            container, i = next((c, i) for c in (self.features, self.classifier) for i, m in enumerate(c)
                                if m is old_part)
            container[i] = new_part
        self._layers[name] = module

    def forward(self, x: torch.Tensor, taps: bool = False):
        out = {"in": x}
        pool = 0
        for module in self.features:
            x = module(x)
            if isinstance(module, nn.MaxPool2d):
                pool += 1
                out[f"pool{pool}"] = x
        x = torch.flatten(self.avgpool(x), 1)
        x = self.classifier[2](F.relu(self.classifier[0](x)))
        out["fc1"] = x
        x = self.classifier[5](F.relu(self.classifier[3](x)))
        out["fc2"] = x
        logits = self.classifier[6](x)
        x = F.log_softmax(logits, dim=1)
        if not taps:
            return x
        out["out"] = F.relu(logits)  # thesis A's VGG `out` tap: the ReLU of the logits (its extract_all)
        out[PREDICTION] = x
        return out


class VGG16Taps(VGGTaps, arch="vgg16"):
    """torchvision VGG16 (13 convs); thesis A's VGG taps."""

    torchvision_constructor = "vgg16"


class VGG19Taps(VGGTaps, arch="vgg19"):
    """torchvision VGG19 (16 convs: conv3_4, conv4_4, conv5_4 more than VGG16)."""

    torchvision_constructor = "vgg19"


class VGG16BNTaps(VGGTaps, arch="vgg16_bn"):
    """torchvision VGG16-BN: VGG16's 13 convs, each followed by a BatchNorm (part of the conv's named layer)."""

    torchvision_constructor = "vgg16_bn"


class ResNet50Taps(TapModel, arch="resnet50"):
    """torchvision ResNet-50; taps in, stem, layer1..layer4, pool, out."""

    def __init__(self, n_classes: int = 1000, in_channels: int = 3, image_size: int = 224):
        super().__init__()
        from torchvision.models import resnet50

        net = resnet50(weights=None)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        self.fc = nn.Linear(2048, n_classes)

    def forward(self, x: torch.Tensor, taps: bool = False):
        out = {"in": x}
        for name in ("stem", "layer1", "layer2", "layer3", "layer4"):
            x = getattr(self, name)(x)
            out[name] = x
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        out["pool"] = x
        x = F.log_softmax(self.fc(x), dim=1)
        out["out"] = out[PREDICTION] = x
        return out if taps else x

    @classmethod
    def convert_state_dict(cls, state: dict) -> dict:
        """Map torchvision resnet50 keys (conv1., bn1.) onto ours (stem.0., stem.1.)."""
        out = {}
        for key, value in state.items():
            key = key.replace("conv1.", "stem.0.", 1) if key.startswith("conv1.") else key
            key = key.replace("bn1.", "stem.1.", 1) if key.startswith("bn1.") else key
            out[key] = value
        return out

"""The architecture registry without torch: each architecture's layer and tap names and where its class lives.

The config is validated against these names whenever the Snakefile is parsed (every dry run and every SLURM job),
so they live apart from the ``nn.Module`` classes, which need torch; each class takes its names from its entry
here (``class MnistCNN(TapModel, arch="mnist_cnn")``), so every name is written once. Adding an architecture = its
class in a module of ``transferscope.models`` + one entry below + a test.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


# forward(x, taps=True) returns the taps, then the prediction (B×K log-probabilities) under this key: the ``out``
# tap is the head's output as the thesis measured it, which for thesis A's VGGs is ReLU(logits), not a prediction
PREDICTION = "log_probs"


@dataclass(frozen=True)
class ArchSpec:
    """``layer_names``: parameterised layers in forward order (``freeze:<layer>`` freezes this prefix);
    ``tap_names``: activations ``forward(x, taps=True)`` returns, ``in`` first and ``out`` (the head) last;
    ``stage_taps``: the conv-map taps ending its stages (every one B×C×H×W; what ensemble members save pooled);
    ``head_name``: the final classifier layer (an ``nn.Linear``); ``cls``: ``"module:Class"`` of the model;
    ``forward_gmac``: multiply-accumulates of one forward pass of one image at ``ref_side`` px, in 10⁹ (conv and
    linear layers, 10 classes; tests/test_models.py recounts them on the meta device), which the runtime requests
    scale by side² (``transferscope.resources``); ``aliases``: names that stand for one of its layers wherever a
    config names a layer (``finetune.modes``' ``freeze:<layer>``, ``finetune.reinit``, ``layer_lr``), so one config
    can name the same role in architectures that differ (thesis A re-initialises each VGG's *last* conv: VGG16's
    conv5_3, VGG19's conv5_4)."""

    name: str
    cls: str
    layer_names: tuple[str, ...]
    tap_names: tuple[str, ...]
    stage_taps: tuple[str, ...]
    head_name: str
    forward_gmac: float
    ref_side: int
    aliases: tuple[tuple[str, str], ...] = ()

    def resolve_layer(self, name: str) -> str:
        """The layer ``name`` stands for (itself unless it is one of ``aliases``)."""
        return dict(self.aliases).get(name, name)

    def names_layer(self, name: str) -> bool:
        """Whether ``name`` is a layer of this architecture or an alias of one."""
        return self.resolve_layer(name) in self.layer_names

    @property
    def penultimate(self) -> str:
        """The tap feeding the head (the features a transferability estimator scores: mnist_cnn fc1, mlp fc2,
        small_resnet pool)."""
        return self.tap_names[-2]

    def model_class(self) -> type:
        """The ``TapModel`` subclass (imports torch)."""
        module, name = self.cls.split(":")
        return getattr(importlib.import_module(module), name)


def _vgg_convs(per_block: tuple[int, ...]) -> tuple[str, ...]:
    """conv<block>_<i> for the five conv blocks of a VGG with ``per_block`` convs in each."""
    return tuple(f"conv{b}_{i}" for b, n in enumerate(per_block, start=1) for i in range(1, n + 1))


_VGG16_CONVS = _vgg_convs((2, 2, 3, 3, 3))
_VGG19_CONVS = _vgg_convs((2, 2, 4, 4, 4))
_VGG_TAPS = ("in", "pool1", "pool2", "pool3", "pool4", "pool5", "fc1", "fc2", "out")
_VGG_STAGES = ("pool1", "pool2", "pool3", "pool4", "pool5")  # five conv blocks, each ending in a max-pool


def _vgg_aliases(convs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Thesis A's surgery by role: ``last_conv`` (re-initialised with the classifier) and ``below_last_conv`` (the
    frozen prefix ends there)."""
    return ("last_conv", convs[-1]), ("below_last_conv", convs[-2])


ARCHS: dict[str, ArchSpec] = {spec.name: spec for spec in (
    ArchSpec("mnist_cnn", "transferscope.models.mnist_cnn:MnistCNN",
             layer_names=("conv1", "conv2", "fc1", "fc2"),
             tap_names=("in", "conv1", "pool1", "conv2", "pool2", "fc1", "out"),
             stage_taps=("pool1", "pool2"),  # each conv block's output after pooling and ReLU
             head_name="fc2", forward_gmac=0.00263, ref_side=28),
    ArchSpec("small_resnet", "transferscope.models.small_resnet:SmallResNet",
             layer_names=("stem", "stage1", "stage2", "stage3", "fc"),
             tap_names=("in", "stem", "stage1", "stage2", "stage3", "pool", "out"),
             stage_taps=("stem", "stage1", "stage2", "stage3"),
             head_name="fc", forward_gmac=0.0125, ref_side=32),
    ArchSpec("mlp", "transferscope.models.mlp:MLP",  # the benchmark zoo's non-convolutional family
             layer_names=("fc1", "fc2", "fc3"),
             tap_names=("in", "fc1", "fc2", "out"),
             stage_taps=(),  # no conv maps: not an ensemble architecture
             head_name="fc3", forward_gmac=0.000235, ref_side=28),
    ArchSpec("vgg16", "transferscope.models.torchvision_models:VGG16Taps",  # thesis A's VGG taps
             layer_names=_VGG16_CONVS + ("fc1", "fc2", "fc3"), tap_names=_VGG_TAPS, stage_taps=_VGG_STAGES,
             head_name="fc3", forward_gmac=15.47, ref_side=224, aliases=_vgg_aliases(_VGG16_CONVS)),
    ArchSpec("vgg19", "transferscope.models.torchvision_models:VGG19Taps",  # thesis A's VGG16 half: CIFAR-10 VGG19
             layer_names=_VGG19_CONVS + ("fc1", "fc2", "fc3"), tap_names=_VGG_TAPS, stage_taps=_VGG_STAGES,
             head_name="fc3", forward_gmac=19.63, ref_side=224, aliases=_vgg_aliases(_VGG19_CONVS)),
    ArchSpec("vgg16_bn", "transferscope.models.torchvision_models:VGG16BNTaps",  # thesis A: SegNet's VGG16-BN encoder
             layer_names=_VGG16_CONVS + ("fc1", "fc2", "fc3"),  # each conv layer with its BatchNorm
             tap_names=_VGG_TAPS, stage_taps=_VGG_STAGES,
             head_name="fc3", forward_gmac=15.47, ref_side=224,  # BatchNorm not counted (conv and linear only)
             aliases=_vgg_aliases(_VGG16_CONVS)),
    ArchSpec("resnet50", "transferscope.models.torchvision_models:ResNet50Taps",
             layer_names=("stem", "layer1", "layer2", "layer3", "layer4", "fc"),
             tap_names=("in", "stem", "layer1", "layer2", "layer3", "layer4", "pool", "out"),
             stage_taps=("layer1", "layer2", "layer3", "layer4"),  # thesis B's ResNet-50 stages 2-5 (conv2_x..conv5_x)
             head_name="fc", forward_gmac=4.09, ref_side=224),
)}

"""RDM images (1 − Pearson between samples, samples sorted by class) of one pre-trained model, one per layer."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from transferscope.inference import load_activations
from transferscope.metrics import rdm
from transferscope.plots.style import apply_style, save


def draw(activations: str, out: str, style: dict | None = None, title: str = "") -> None:
    style = apply_style(style)
    acts, labels = load_activations(activations)
    order = np.argsort(labels, kind="stable")
    layers = [name for name in acts if name != "in"]
    ncols = min(4, len(layers))
    nrows = (len(layers) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 3.3 * nrows), squeeze=False)
    bounds = np.flatnonzero(np.diff(labels[order])) + 0.5
    for ax, layer in zip(axes.flat, layers):
        image = ax.imshow(rdm(acts[layer][order]), cmap="viridis", vmin=0, vmax=2, interpolation="nearest")
        for b in bounds:
            ax.axhline(b, color="white", lw=0.5)
            ax.axvline(b, color="white", lw=0.5)
        ax.set(title=layer, xticks=[], yticks=[], xlabel="sample (sorted by class)")
    for ax in list(axes.flat)[len(layers):]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="1 − Pearson r")
    fig.suptitle(title or f"RDMs of {activations}", fontsize=9)
    save(fig, out, style)

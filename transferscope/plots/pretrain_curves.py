"""Pre-training curves: test accuracy and training loss per epoch, one line per source (mean ± sd over seeds)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from transferscope.plots.style import apply_style, save


def draw(table: str, out: str, style: dict | None = None) -> None:
    style = apply_style(style)
    frame = pd.read_csv(table)
    acc_col = "test_acc" if "test_acc" in frame else "train_acc"
    archs = sorted(frame["arch"].unique())
    fig, axes = plt.subplots(len(archs), 2, figsize=(10, 3.6 * len(archs)), squeeze=False)
    for row, arch in enumerate(archs):
        sub = frame[frame["arch"] == arch]
        sns.lineplot(sub, x="epoch", y=acc_col, hue="source", marker="o", errorbar="sd", ax=axes[row, 0])
        sns.lineplot(sub, x="epoch", y="train_loss", hue="source", marker="o", errorbar="sd", ax=axes[row, 1],
                     legend=False)
        axes[row, 0].set(title=f"{arch}: test accuracy during pre-training", xlabel="epoch",
                         ylabel="test accuracy (fraction)")
        axes[row, 1].set(title=f"{arch}: training loss (NLL)", xlabel="epoch", ylabel="training loss", yscale="log")
    save(fig, out, style)

"""Diversity loss (thesis B's StarSSE–CE, ``prev_ce_loss``): cross-entropy towards an earlier member's predictions.

While member i trains, one earlier member j is drawn per step from the pool {2, …, i−1} (member 1 is left out, as
in the original with ``use_first=False``); ŷ_j is the argmax of its predictions on the batch (eval mode, no grad).

- version 1: CE_prev = CE(f_w(x), ŷ_j), averaged over the batch;
- version 2: only the samples the earlier member got wrong, mask = (y ≠ ŷ_j): CE_prev = CE(f_w(x)[mask], ŷ_j[mask]).

The loss adds ``beta · CE_prev`` with ``beta < 0`` (the thesis writes −α·CE), which pushes the current member away
from repeating the earlier member's predictions (version 2: its mistakes). The original returned NaN for an empty
mask (cross-entropy of nothing), poisoning the update; here an empty mask gives 0 (with a zero gradient).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def prev_ce_loss(log_probs: torch.Tensor, previous_pred: torch.Tensor, labels: torch.Tensor,
                 version: int = 2) -> torch.Tensor:
    """CE of the current log-probabilities (B×C) towards the earlier member's predicted labels (B)."""
    if version == 1:
        return F.nll_loss(log_probs, previous_pred)
    if version != 2:
        raise ValueError(f"diversity loss version must be 1 or 2, got {version}")
    mask = labels != previous_pred
    if not bool(mask.any()):
        return log_probs.sum() * 0.0  # empty-mask guard: 0, not NaN
    return F.nll_loss(log_probs[mask], previous_pred[mask])

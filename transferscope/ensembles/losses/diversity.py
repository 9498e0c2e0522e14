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


from transferscope.ensembles.losses.term import LossTerm, TermInputs
from transferscope.lazy import lazy_module

torch = lazy_module("torch")
F = lazy_module("torch.nn.functional")


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


# --- as a loss term of a member (registry) -----------------------------------------------------------------------

def _ce_term(inputs: TermInputs, options: dict) -> torch.Tensor | None:
    if not inputs.earlier_models:  # member 2: no earlier non-first member
        return None
    j = inputs.pick(len(inputs.earlier_models))
    with torch.no_grad():
        previous = inputs.earlier_models[j](inputs.x).argmax(1)
    return prev_ce_loss(inputs.log_probs, previous, inputs.y, version=int(options["version"]))


CE_TERM = LossTerm(
    "ce", _ce_term, log_name="prev_ce", needs=lambda options: ("earlier_models",),
    description="starsse_ce: + beta * CE(current predictions, argmax of a random earlier non-first member) "
    "(beta < 0 pushes away).",
    options={
        "beta": {"type": "number", "default": -0.1, "description": "Weight (thesis B: -0.1)."},
        "version": {"type": "integer", "enum": [1, 2], "default": 2, "description": "1 = every sample; 2 = only "
                    "samples the earlier member got wrong (empty mask -> 0)."}})

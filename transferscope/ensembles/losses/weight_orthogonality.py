"""Weight orthogonalisation (thesis B's StarSSE–WO): squared cosine between the flattened weights and an earlier member.

    WO(w, w_j) = ( wᵀ w_j / (‖w‖ ‖w_j‖) )²

w is the concatenation of **all** parameters of the live model (convolutions, BatchNorm affine parameters, head);
w_j is a stored earlier member (drawn per step from the non-first members 2..i−1; for member 2 there is none and the
term is 0). The loss adds ``beta · WO``.

The displacement form (``origin`` = member 1's weights w₁) measures the directions the cycles moved:

    WO_disp(w, w_j) = ( (w − w₁)ᵀ (w_j − w₁) / (‖w − w₁‖ ‖w_j − w₁‖) )²

``detached=True`` reproduces the original code, which built w from ``p.data``: the term is then a constant with zero
gradient, so it changes the logged loss but not the training (the thesis's null result).
"""
from __future__ import annotations

import torch


def flat_weights(model: torch.nn.Module, detached: bool = False) -> torch.Tensor:
    """All parameters of ``model`` as one vector (with autograd unless ``detached``)."""
    w = torch.cat([p.reshape(-1) for p in model.parameters()])
    return w.detach() if detached else w


def flat_state_weights(model: torch.nn.Module) -> torch.Tensor:
    """A detached copy of the flattened parameters (what is stored for an earlier member)."""
    return flat_weights(model, detached=True).clone()


def squared_cosine(w: torch.Tensor, reference: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """(wᵀ r / (‖w‖‖r‖))², differentiable with respect to ``w`` only."""
    reference = reference.detach()
    if w.shape != reference.shape:
        raise ValueError(f"weight vectors differ in length: {w.numel()} vs {reference.numel()}")
    cos = torch.dot(w, reference) / (w.norm() * reference.norm()).clamp_min(eps)
    return cos * cos


def wo_loss(model: torch.nn.Module, reference: torch.Tensor, detached: bool = False,
            origin: torch.Tensor | None = None) -> torch.Tensor:
    """Squared cosine between the model's weights and ``reference`` (both displaced by ``origin`` when given);
    ``detached`` reproduces the original no-op."""
    w = flat_weights(model, detached=detached)
    if origin is None:
        return squared_cosine(w, reference)
    return squared_cosine(w - origin.detach(), reference - origin)

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


from transferscope.ensembles.losses.term import LossTerm, TermInputs
from transferscope.lazy import lazy_module

torch = lazy_module("torch")


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


# --- as a loss term of a member (registry) -----------------------------------------------------------------------

def _wo_term(inputs: TermInputs, options: dict) -> torch.Tensor | None:
    if not inputs.earlier_weights:  # member 2: no earlier non-first member
        return None
    j = inputs.pick(len(inputs.earlier_weights))
    return wo_loss(inputs.model, inputs.earlier_weights[j], detached=options["detached"], origin=inputs.origin_weights)


WO_TERM = LossTerm(
    "wo", _wo_term, description="starsse_wo: + beta * squared cosine between the flattened weights and a random "
    "earlier non-first member's.",
    needs=lambda options: ("earlier_weights",) + (("origin_weights",) if options.get("form") == "displacement" else ()),
    options={
        "beta": {"type": "number", "default": 10.0, "description": "Weight (thesis B: 10)."},
        "detached": {"type": "boolean", "default": False, "description": "true reproduces the original code: weights "
                     "taken detached, so the term has zero gradient (a no-op)."},
        "form": {"type": "string", "enum": ["thesis", "displacement"], "default": "thesis",
                 "description": "thesis: cos²(w, w_j) of the whole weight vectors; displacement: cos²(w − w1, w_j − "
                 "w1), the directions the cycles moved away from member 1."}})

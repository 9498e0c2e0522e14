"""Similarity losses to a reference model (thesis B's SSE–MSE and SSE–RTD), on pooled features.

Both compare the current model's pooled features ``z`` (B×d, with gradient) with the reference's ``r`` (B×d, member 1
in eval mode, no gradient) on the same mini-batch.

- :func:`mse_to_reference`: ``mean((z − r)²)`` over batch × features (``torch.nn.MSELoss``).
- :func:`rtd_loss`: the differentiable, symmetric, minimum-mode H1 Representation Topology Divergence of RTD-AE as
  used by the thesis. With D_R = cdist(r, r)/√d and D_Z = cdist(z, z)/√d, for an ordered pair (P, Q)

      M  = [[0, Pᵀ], [P, min(P, Q)]]      (filtration of the R-Cross-Barcode, 2B vertices)
      M′ = [[0, Pᵀ], [P, Q]]  (immovable = 1)   or   [[0, Pᵀ], [P, P]]  (immovable = 2)

  the H1 persistence pairs of the Vietoris–Rips filtration of M (detached) are computed on the CPU by gudhi
  (``flag_persistence_generators`` gives each pair's birth edge and death edge). The ``card`` pairs with the largest
  persistence are kept; birth values are gathered from M and death values from M′ (so they stay differentiable), and

      RTD(P→Q) = Σ |death − birth|^p,     L = ½ [RTD(D_R→D_Z, immovable 1) + RTD(D_Z→D_R, immovable 2)].

  Only D_Z carries gradient. Identical feature sets give L = 0 (there are no H1 bars).
"""
from __future__ import annotations

import importlib.util
import math

import numpy as np

from transferscope.ensembles.losses.term import LossTerm, TermInputs
from transferscope.lazy import lazy_module

torch = lazy_module("torch")
F = lazy_module("torch.nn.functional")


def mse_to_reference(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the current features and the (detached) reference features."""
    return F.mse_loss(features, reference.detach())


PH_BACKENDS = ("gudhi", "giotto")  # ensembles.rtd.backend


def persistence_pairs(matrix: np.ndarray, dim: int = 1, backend: str = "gudhi") -> np.ndarray:
    """Finite persistence pairs of dimension ``dim`` of the Rips filtration of a distance matrix.

    Returns an int array m×4 of vertex indices (birth edge u, v, death edge u, v), Z/2 coefficients; pairs of zero
    persistence are left out. ``backend``: ``gudhi`` (``RipsComplex`` + ``flag_persistence_generators``) or
    ``giotto`` (giotto-ph's ``ripser_parallel`` with generators, one thread: 30-180× faster on the loss's
    R-Cross matrices, 0.09 s instead of 15 s at 256 points, ``benchmarks/bench_ph_backends.py``; two threads gave
    different bars on repeated calls). Both give the same bars; where several edges share a bar's value they may
    name different (equal-valued) edges, so gradients, not values, can differ at ties.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.shape[0] < 3 or dim < 1:
        return np.zeros((0, 4), dtype=np.int64)
    if backend == "giotto":
        from gph import ripser_parallel

        gens = ripser_parallel(matrix, metric="precomputed", maxdim=dim, n_threads=1, return_generators=True)["gens"]
        # [finite H0 m×3, [finite H1 m×4, ...], essential H0, [essential H1, ...]]
        pairs = np.asarray(gens[1][dim - 1], dtype=np.int64).reshape(-1, 4)
    elif backend == "gudhi":
        import gudhi

        tree = gudhi.RipsComplex(distance_matrix=matrix).create_simplex_tree(max_dimension=dim + 1)
        tree.compute_persistence(homology_coeff_field=2, persistence_dim_max=False)
        # (H0 pairs m×3, [H1 pairs m×4, H2 pairs, ...], essential H0, [essential H1, ...])
        higher = tree.flag_persistence_generators()[1]
        if len(higher) < dim:
            return np.zeros((0, 4), dtype=np.int64)
        pairs = np.asarray(higher[dim - 1], dtype=np.int64).reshape(-1, 4)
    else:
        raise ValueError(f"unknown persistence backend {backend!r} (known: {PH_BACKENDS})")
    alive = matrix[pairs[:, 2], pairs[:, 3]] > matrix[pairs[:, 0], pairs[:, 1]]
    return pairs[alive]


def cross_matrices(P: torch.Tensor, Q: torch.Tensor, immovable: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The filtration matrix M(P, Q) (minimum mode) and the death-gathering matrix M′."""
    if immovable not in (1, 2):
        raise ValueError(f"immovable must be 1 or 2, got {immovable}")
    zeros = torch.zeros_like(P)
    top = torch.cat([zeros, P.T], dim=1)
    M = torch.cat([top, torch.cat([P, torch.minimum(P, Q)], dim=1)], dim=0)
    corner = Q if immovable == 1 else P
    M_death = torch.cat([top, torch.cat([P, corner], dim=1)], dim=0)
    return M, M_death


def rtd_direction(P: torch.Tensor, Q: torch.Tensor, immovable: int, card: int = 50, p: float = 1.0,
                  backend: str = "gudhi") -> torch.Tensor:
    """RTD(P→Q): sum of the ``card`` longest H1 bars of the R-Cross-Barcode, differentiable through gathering."""
    M, M_death = cross_matrices(P, Q, immovable)
    pairs = persistence_pairs(M.detach().cpu().numpy(), dim=1, backend=backend)
    if len(pairs) == 0:
        return (M.sum() * 0.0)
    bu, bv, du, dv = (torch.as_tensor(pairs[:, i], device=M.device) for i in range(4))
    birth = M[bu, bv]
    death = M_death[du, dv]
    with torch.no_grad():
        persistence = M[du, dv] - birth
    if len(pairs) > card:
        keep = torch.topk(persistence, card).indices
        birth, death = birth[keep], death[keep]
    return (death - birth).abs().pow(p).sum()


def feature_distances(features: torch.Tensor) -> torch.Tensor:
    """Euclidean distance matrix of the rows divided by √d (d = feature dimension); zero gradient on the diagonal."""
    d = features.shape[1]
    diff = features[:, None, :] - features[None, :, :]
    sq = (diff * diff).sum(-1)
    eye = torch.eye(len(features), dtype=torch.bool, device=features.device)
    # sqrt has an infinite derivative at 0: keep the diagonal (and exact duplicates) out of the graph
    safe = torch.where(sq > 0, sq, torch.ones_like(sq))
    dist = torch.where(sq > 0, safe.sqrt(), torch.zeros_like(sq))
    return dist.masked_fill(eye, 0.0) / math.sqrt(d)


def rtd_loss(features: torch.Tensor, reference: torch.Tensor, card: int = 50, p: float = 1.0,
             backend: str = "gudhi") -> torch.Tensor:
    """Symmetric min-mode RTD between current and reference features (gradient to ``features`` only)."""
    if features.shape != reference.shape:
        raise ValueError(f"features {tuple(features.shape)} and reference {tuple(reference.shape)} differ in shape")
    D_Z = feature_distances(features.float())  # float32 even under bf16 autocast
    D_R = feature_distances(reference.detach().float())
    return 0.5 * (rtd_direction(D_R, D_Z, immovable=1, card=card, p=p, backend=backend)
                  + rtd_direction(D_Z, D_R, immovable=2, card=card, p=p, backend=backend))


# --- as loss terms of a member (registry) ------------------------------------------------------------------------

def _mse_term(inputs: TermInputs, options: dict) -> torch.Tensor:
    return mse_to_reference(inputs.features, inputs.reference_features)


def _rtd_term(inputs: TermInputs, options: dict) -> torch.Tensor:
    points = options["points"]  # validated ≤ batch size; only a last, smaller batch has fewer
    n = len(inputs.x) if points is None else min(int(points), len(inputs.x))
    return rtd_loss(inputs.features[:n], inputs.reference_features[:n], card=int(options["card"]),
                    p=float(options["p"]), backend=options["backend"])


def _rtd_check(options: dict, ens: dict) -> list[str]:
    points, batch = options.get("points"), ens["recipe"]["batch_size"]
    if points is not None and points > batch:
        return [f"  ensembles.rtd.points: {points} is more than a batch holds (ensembles.recipe.batch_size {batch})"]
    if options.get("backend") == "giotto" and importlib.util.find_spec("gph") is None:
        return ["  ensembles.rtd.backend: giotto needs giotto-ph (pip install giotto-ph; AGPL-3.0, see README Licence)"]
    return []


_FEATURES = lambda options: ("features", "reference")  # noqa: E731 - both terms compare with member 1's features

MSE_TERM = LossTerm(
    "mse", _mse_term, description="sse_mse / starsse_mse: + beta * MSE(pooled features, member 1's pooled features) "
    "in every cycle.", needs=_FEATURES,
    options={"beta": {"type": "number", "minimum": 0, "default": 20.0,
                      "description": "Weight (thesis B: 20 for 2048-d ResNet-50 features)."}})

RTD_TERM = LossTerm(
    "rtd", _rtd_term, description="sse_rtd / starsse_rtd: + beta * symmetric min-mode H1 RTD between the batch's "
    "pooled features and member 1's (distances / sqrt(d)).", needs=_FEATURES, check=_rtd_check,
    options={
        "beta": {"type": "number", "minimum": 0, "default": 0.0316,
                 "description": "Weight (thesis B: 0.0316 at batch 256; re-sweep when the batch changes)."},
        "card": {"type": "integer", "minimum": 1, "default": 50, "description": "Longest H1 bars kept per direction."},
        "p": {"type": "number", "exclusiveMinimum": 0, "default": 1.0, "description": "Exponent of the bar lengths."},
        "points": {"type": ["integer", "null"], "minimum": 3, "default": None,
                   "description": "Samples of each batch that enter the cross-barcode (2x as many vertices): null = "
                   "the whole batch (thesis B: 256); otherwise at most ensembles.recipe.batch_size (checked). Re-tune "
                   "beta when it changes: the RTD value grows with the number of points (README)."},
        "backend": {"type": "string", "enum": list(PH_BACKENDS), "default": "gudhi",
                    "description": "Persistent homology of each step: gudhi (installed) or giotto (giotto-ph, "
                    "AGPL-3.0, pip install giotto-ph: the same bars 30-180x faster, 0.09 s instead of 15 s per "
                    "direction at 256 points; benchmarks/README.md)."}})

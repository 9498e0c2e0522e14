"""Loss terms of the ensemble members (thesis B), one module each, and the member loss that combines them.

- ``similarity``: MSE and differentiable RTD to member 1's pooled features (SSE–MSE, SSE–RTD);
- ``weight_orthogonality``: squared cosine between flattened weights (StarSSE–WO);
- ``diversity``: cross-entropy towards an earlier member's predictions (StarSSE–CE);
- ``member``: :class:`MemberLoss`, cross-entropy plus the terms a member's spec switches on.
"""
from transferscope.ensembles.losses.diversity import prev_ce_loss
from transferscope.ensembles.losses.member import MemberLoss
from transferscope.ensembles.losses.similarity import (cross_matrices, feature_distances, mse_to_reference,
                                                       persistence_pairs, rtd_direction, rtd_loss)
from transferscope.ensembles.losses.weight_orthogonality import (flat_state_weights, flat_weights, squared_cosine,
                                                                 wo_loss)

__all__ = ["MemberLoss", "cross_matrices", "feature_distances", "flat_state_weights", "flat_weights",
           "mse_to_reference", "persistence_pairs", "prev_ce_loss", "rtd_direction", "rtd_loss", "squared_cosine",
           "wo_loss"]

"""Ensembles from one pre-trained checkpoint (thesis B): SSE / StarSSE and their variants, Local / Global DE.

- ``schedule``: member recipes (cosine phase I, cosine cycles restarting at ``cycle_lr``) and the thesis formula.
- ``losses``: the loss terms, one module each: similarity to member 1's pooled features (MSE, differentiable RTD),
  weight orthogonality (squared cosine between flattened weights), diversity (cross-entropy towards an earlier
  member's predictions), and ``MemberLoss`` combining them. The members' optimizer is
  ``training.optim.PlainSGD``.
- ``plan``: which member files a method needs and where they live (used by ``rules/ensembles.smk``).
- ``members``: the job that trains one member and saves its weights and test-set probabilities.
- ``evaluate``: metrics from saved probabilities and the tidy ``ensembles.csv`` table.
- ``trajectory``: analyses along the members from saved outputs: distances to member 1 (features, weights per
  layer), member pairs (diversity, weight cosine), the subset (variance) study.
"""

"""Ensembles from one pre-trained checkpoint (thesis B): SSE / StarSSE and their variants, Local / Global DE.

- ``schedule``: member recipes (cosine phase I, cosine cycles restarting at ``cycle_lr``) and the thesis formula.
- ``losses``: similarity to member 1's pooled features (MSE, differentiable RTD).
- ``weight_orthogonality``: squared cosine between flattened weights (with gradient, or detached as in the original).
- ``diversity``: the cross-entropy towards an earlier member's predictions (versions 1 and 2).
- ``sgd``: SGD with ``torch.optim.SGD``'s arithmetic, without its ~2 s ``torch._dynamo`` import per process.
- ``plan``: which member files a method needs and where they live (used by ``rules/ensembles.smk``).
- ``members``: the job that trains one member and saves its weights and test-set probabilities.
- ``evaluate``: metrics from saved probabilities and the tidy ``ensembles.csv`` table.
"""

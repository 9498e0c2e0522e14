"""The loss of one ensemble member's training: cross-entropy plus the terms its method's spec switches on.

Terms (each scaled by its ``beta``): ``mse`` / ``rtd`` to member 1's pooled features (``similarity``), ``wo`` to an
earlier non-first member's weights (``weight_orthogonality``), ``prev_ce`` towards an earlier non-first member's
predictions (``diversity``). The earlier member of a ``wo`` / ``ce`` term is drawn per step from the loss's own
generator.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from transferscope.ensembles.losses.diversity import prev_ce_loss
from transferscope.ensembles.losses.similarity import mse_to_reference, rtd_loss
from transferscope.ensembles.losses.weight_orthogonality import wo_loss


class MemberLoss:
    """``loss_fn(model, x, y) -> (loss, log-probs)`` for ``training.loop.train``: CE plus the spec's extra terms.

    Keeps per-epoch means of every term (``history``) for the member's info.
    """

    def __init__(self, spec: dict, reference: torch.nn.Module | None = None,
                 earlier_models: list[torch.nn.Module] = (), earlier_weights: list[torch.Tensor] = (),
                 seed: int = 0, origin_weights: torch.Tensor | None = None):
        self.spec = spec
        self.reference = reference
        self.earlier_models = list(earlier_models)
        self.earlier_weights = list(earlier_weights)
        self.origin_weights = origin_weights  # member 1's flat weights: the WO displacement form's origin
        self.generator = torch.Generator().manual_seed(seed)
        self.sums: dict[str, float] = {}
        self.count = 0
        self.history: list[dict] = []
        if ("mse" in spec or "rtd" in spec) and reference is None:
            raise ValueError("the mse / rtd terms need member 1 as the reference model")
        if spec.get("wo", {}).get("form", "thesis") == "displacement" and origin_weights is None:
            raise ValueError("the displacement form of wo needs member 1's weights as its origin")

    def _pick(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator).item())

    def __call__(self, model, x, y):
        spec = self.spec
        need_features = "mse" in spec or "rtd" in spec
        if need_features:
            out = model(x, taps=True)
            logp, features = out["out"], out["pool"]
        else:
            logp = model(x)
        terms = {"ce": F.nll_loss(logp, y)}
        if need_features:
            with torch.no_grad():
                ref = self.reference(x, taps=True)["pool"]
            if "mse" in spec:
                terms["mse"] = spec["mse"]["beta"] * mse_to_reference(features, ref)
            if "rtd" in spec:
                points = spec["rtd"]["points"]  # validated ≤ batch size; only a last, smaller batch has fewer
                n = len(x) if points is None else min(int(points), len(x))
                terms["rtd"] = spec["rtd"]["beta"] * rtd_loss(features[:n], ref[:n], card=int(spec["rtd"]["card"]),
                                                              p=float(spec["rtd"]["p"]))
        if "wo" in spec and self.earlier_weights:
            j = self._pick(len(self.earlier_weights))
            terms["wo"] = spec["wo"]["beta"] * wo_loss(model, self.earlier_weights[j], detached=spec["wo"]["detached"],
                                                       origin=self.origin_weights)
        if "ce" in spec and self.earlier_models:
            j = self._pick(len(self.earlier_models))
            with torch.no_grad():
                previous = self.earlier_models[j](x).argmax(1)
            terms["prev_ce"] = spec["ce"]["beta"] * prev_ce_loss(logp, previous, y, version=int(spec["ce"]["version"]))
        loss = sum(terms.values())
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value.detach())
        self.count += 1
        return loss, logp

    def end_epoch(self, epoch: int, row: dict) -> None:
        self.history.append({"epoch": epoch, **{k: v / max(self.count, 1) for k, v in self.sums.items()}})
        self.sums, self.count = {}, 0

"""The loss of one ensemble member's training: cross-entropy plus the terms its method's spec switches on.

Every term is a :class:`~transferscope.ensembles.losses.term.LossTerm` of the registry
(``transferscope.ensembles.losses.registry``): a spec key that names a registered term switches it on with the
options under that key, and it adds ``options["beta"] · value``. The earlier member a term compares with (WO, CE)
is drawn per step from the loss's own generator, in registry order.
"""
from __future__ import annotations


from transferscope.ensembles.losses import registry
from transferscope.ensembles.losses.registry import spec_needs
from transferscope.ensembles.losses.term import TermInputs
from transferscope.lazy import lazy_module
from transferscope.models.specs import PREDICTION

torch = lazy_module("torch")
F = lazy_module("torch.nn.functional")


class MemberLoss:
    """``loss_fn(model, x, y) -> (loss, log-probs)`` for ``training.loop.train``: CE plus the spec's extra terms.

    ``reference`` (member 1, eval mode), ``earlier_models`` / ``earlier_weights`` (members 2..k−1) and
    ``origin_weights`` (member 1's flat weights) are what the spec's terms need (``registry.spec_needs``); a missing
    one is an error here, not a silent zero. Keeps per-epoch means of every term (``history``) for the member's info.
    """

    def __init__(self, spec: dict, reference: torch.nn.Module | None = None,
                 earlier_models: list[torch.nn.Module] = (), earlier_weights: list[torch.Tensor] = (),
                 seed: int = 0, origin_weights: torch.Tensor | None = None):
        self.spec = spec
        self.terms = [(term, spec[name]) for name, term in registry.TERMS.items() if name in spec]
        self.reference = reference
        self.earlier_models = list(earlier_models)
        self.earlier_weights = list(earlier_weights)
        self.origin_weights = origin_weights
        self.generator = torch.Generator().manual_seed(seed)
        self.sums: dict[str, float] = {}
        self.count = 0
        self.history: list[dict] = []
        needs = spec_needs(spec)
        self.need_features = "features" in needs
        self.need_reference = "reference" in needs
        if "reference" in needs and reference is None:
            named = sorted(n for n in spec if n in registry.TERMS)
            raise ValueError(f"the {named} term(s) need member 1 as the reference model")
        if "origin_weights" in needs and origin_weights is None:
            raise ValueError("the displacement form of wo needs member 1's weights as its origin")

    def _pick(self, n: int) -> int:
        return int(torch.randint(n, (1,), generator=self.generator).item())

    def __call__(self, model, x, y):
        inputs = TermInputs(model=model, x=x, y=y, log_probs=None, pick=self._pick,
                            earlier_models=self.earlier_models, earlier_weights=self.earlier_weights,
                            origin_weights=self.origin_weights)
        if self.need_features:
            out = model(x, taps=True)
            inputs.log_probs, inputs.features = out[PREDICTION], out["pool"]
        else:
            inputs.log_probs = model(x)
        if self.need_reference:
            with torch.no_grad():
                inputs.reference_features = self.reference(x, taps=True)["pool"]
        terms = {"ce": F.nll_loss(inputs.log_probs, y)}
        for term, options in self.terms:
            value = term.compute(inputs, options)
            if value is not None:
                terms[term.history_name] = options["beta"] * value
        loss = sum(terms.values())
        for name, value in terms.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value.detach())
        self.count += 1
        return loss, inputs.log_probs

    def end_epoch(self, epoch: int, row: dict) -> None:
        self.history.append({"epoch": epoch, **{k: v / max(self.count, 1) for k, v in self.sums.items()}})
        self.sums, self.count = {}, 0

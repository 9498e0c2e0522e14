"""The member spec: everything that shapes one ensemble member's weights, typed.

:class:`MemberSpec` is what ``EnsemblePlan.spec`` builds and ``members.run_member`` trains. It travels through
Snakemake as the rule's ``params.spec``, a plain dict (:meth:`MemberSpec.to_params`): a changed field reruns exactly
the members it shapes. The loss terms sit at the dict's top level under their registry names (``mse: {beta: 20}``),
so the params of a member are the same whatever else the package learns.

Two roles:

- ``finetune`` (member 1, Local / Global DE): the pre-trained checkpoint of ``pretrain_seed`` (or the local weights
  file ``weights``) with ``reinit`` layers re-initialised, trained with the phase-I ``recipe``;
- ``cycle`` (SSE / StarSSE and their variants): one cycle from ``start`` = ``previous`` (member k−1) or ``member1``,
  with the loss ``terms`` (name in ``transferscope.ensembles.losses.registry.TERMS`` -> its options) and an optional
  ``freeze`` (``{level, bn_frozen}``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from transferscope.ensembles.losses import registry

ROLES = ("finetune", "cycle")
STARTS = ("previous", "member1")
_FINETUNE = ("pretrain_seed", "reinit", "weights", "checkpoint")
_CYCLE = ("start", "freeze")
_COMMON = ("method", "k", "member_seed", "role", "recipe")


@dataclass(frozen=True)
class MemberSpec:
    method: str  # the directory the member lives in (a variant's name without ``members``)
    k: int  # 1-based position in training order
    member_seed: int  # every random stream of the member derives from it
    role: str
    recipe: dict
    pretrain_seed: int | None = None
    reinit: tuple[str, ...] = ()
    weights: dict | None = None
    checkpoint: str | None = None
    start: str | None = None
    terms: dict[str, dict] = field(default_factory=dict)
    freeze: dict | None = None

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"member spec of {self.method} member {self.k}: role {self.role!r} is not one of {ROLES}")
        if self.role == "cycle" and self.start not in STARTS:
            raise ValueError(f"member spec of {self.method} member {self.k}: a cycle starts from one of {STARTS}, "
                             f"not {self.start!r}")
        unknown = sorted(set(self.terms) - set(registry.TERMS))
        if unknown:
            raise ValueError(f"member spec of {self.method} member {self.k}: unknown loss term(s) {unknown} "
                             f"(registered: {sorted(registry.TERMS)})")

    @classmethod
    def from_params(cls, params: dict) -> MemberSpec:
        """The spec from the rule's ``params.spec`` dict (or a spec, returned as it is); an unknown key is an error."""
        if isinstance(params, cls):
            return params
        params = dict(params)
        known = set(_COMMON) | set(_FINETUNE) | set(_CYCLE)
        terms = {name: dict(params.pop(name)) for name in list(params) if name in registry.TERMS}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"member spec: unknown key(s) {unknown} (known: {sorted(known)} and the loss terms "
                             f"{sorted(registry.TERMS)})")
        if "reinit" in params:
            params["reinit"] = tuple(params["reinit"])
        return cls(**params, terms=terms)

    def to_params(self) -> dict:
        """A plain dict for Snakemake params: the fields the role uses, loss terms at the top level."""
        out = {"method": self.method, "k": self.k, "member_seed": self.member_seed, "role": self.role}
        if self.role == "finetune":
            out.update(pretrain_seed=self.pretrain_seed, recipe=dict(self.recipe), reinit=list(self.reinit),
                       weights=self.weights, checkpoint=self.checkpoint)
            return out
        out.update(start=self.start, recipe=dict(self.recipe))
        if self.freeze is not None:
            out["freeze"] = dict(self.freeze)
        out.update({name: dict(options) for name, options in self.terms.items()})
        return out

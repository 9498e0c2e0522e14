"""Which member jobs each ensemble method needs, where their files live and what shapes their weights.

Used by ``rules/ensembles.smk`` (input functions and params) and testable without Snakemake.

One *run* = (target, source, arch, pre-training seed s, replicate r, variant): K members, member 1 first. A
*variant* is a method with optional hyperparameter overrides (``sse_mse[beta=20]``, see ``variants``); its name is
its directory and its label. Every random stream of a member derives from (s, r, its directory, k); replicate 1
keeps the seeds of runs without replicates.

- Member 1 is ordinary fine-tuning from the chosen checkpoint of seed s. It is the same for every method of a run,
  so it is trained once (directory ``first``).
- ``local_de``: member k ≥ 2 is another fine-tuning of the same checkpoint with its own seed.
- ``global_de``: member k ≥ 2 is a fine-tuning of the checkpoint of another pre-training seed (``global_seeds`` in
  order, s left out; replicate r ≥ 2 draws its own order of them, seeded by s and r).
- ``sse``, ``sse_mse``, ``sse_rtd``: member k starts from member k−1 (a chain of jobs).
- ``starsse``, ``starsse_freeze-<layer>``, ``starsse_wo``, ``starsse_ce``, ``starsse_mse``, ``starsse_rtd``: member k
  starts from member 1 (parallel jobs; WO and CE also read the earlier non-first members 2..k−1, so their jobs form
  a chain).
- Member 2 of ``sse``, ``starsse_wo`` and ``starsse_ce`` is exactly StarSSE's member 2 (one cycle from member 1, no
  extra loss term: the pools of WO and CE are empty), so it is trained once, under ``starsse`` (unless a variant
  changes its cycle: ``cycle_lr`` or ``cycle_epochs``).
"""
from __future__ import annotations

from dataclasses import dataclass

import re

import numpy as np

from transferscope.ensembles.losses.registry import defaults, spec_needs, term
from transferscope.ensembles.schedule import member_recipe
from transferscope.ensembles.spec import MemberSpec
from transferscope.ensembles.variants import CYCLE_KEYS, apply_overrides, directory_name, parse_variant, variant_name
from transferscope.resources import RuntimePolicy, TrainingWork, planned_images
from transferscope.runtime import derive_seed

FIRST = "first"


@dataclass(frozen=True)
class EnsembleMethod:
    """One ensemble method of thesis B: how members k ≥ 2 start and which config section shapes them.

    - ``start``: ``checkpoint`` (a fine-tuning of a pre-trained checkpoint: Deep Ensembles), ``previous`` (one
      cycle from member k−1: SSE chains) or ``member1`` (one cycle from member 1: StarSSE fan-out);
    - ``pretrain_seeds``: DE members' checkpoints: ``same`` (the run's seed) or ``global`` (``global_seeds``);
    - ``term``: the loss term its cycles add to cross-entropy (a name of
      ``transferscope.ensembles.losses.registry.TERMS``: ``mse``, ``rtd``, ``wo``, ``ce``); its config section
      ``ensembles.<term>`` is copied into the member spec;
    - ``per_level``: freezing: one method per ``freeze.levels`` entry, named ``<name>-<level>`` (section ``freeze``);
    - ``shares_starsse_member2``: member 2 is exactly StarSSE's (one plain cycle from member 1), trained once.

    ``section`` (the config section whose keys a variant may override) and ``needs_taps`` (taps of the
    architecture its loss reads) follow from these.
    """

    name: str
    start: str
    label: str
    pretrain_seeds: str = "same"
    term: str | None = None
    per_level: bool = False
    shares_starsse_member2: bool = False

    @property
    def section(self) -> str | None:
        return "freeze" if self.per_level else self.term

    @property
    def needs_taps(self) -> tuple[str, ...]:
        if self.term is None:
            return ()
        loss_term = term(self.term)
        return ("pool",) if "features" in loss_term.needs(defaults(loss_term)) else ()


def section_options(method: EnsembleMethod, ens: dict, level: str | None) -> dict:
    """The member spec entries of a method's section (``ens`` with a variant's overrides applied)."""
    if method.section is None:
        return {}
    if method.section == "freeze":
        return {"freeze": {"level": level, "bn_frozen": bool(ens["freeze"]["bn_frozen"])}}
    return {method.section: dict(ens[method.section])}


# The registry of methods, in the order of the schema's enum and default list.
METHODS: dict[str, EnsembleMethod] = {m.name: m for m in (
    EnsembleMethod("local_de", "checkpoint", "Local DE"),
    EnsembleMethod("global_de", "checkpoint", "Global DE", pretrain_seeds="global"),
    EnsembleMethod("sse", "previous", "SSE", shares_starsse_member2=True),
    EnsembleMethod("starsse", "member1", "StarSSE"),
    EnsembleMethod("sse_mse", "previous", "SSE–MSE", term="mse"),
    EnsembleMethod("sse_rtd", "previous", "SSE–RTD", term="rtd"),
    EnsembleMethod("starsse_freeze", "member1", "StarSSE, frozen", per_level=True),
    EnsembleMethod("starsse_wo", "member1", "StarSSE–WO", term="wo", shares_starsse_member2=True),
    EnsembleMethod("starsse_ce", "member1", "StarSSE–CE", term="ce", shares_starsse_member2=True),
    # the similarity losses of SSE–MSE / SSE–RTD applied to StarSSE's cycles (each cycle restarts from member 1)
    EnsembleMethod("starsse_mse", "member1", "StarSSE–MSE", term="mse"),
    EnsembleMethod("starsse_rtd", "member1", "StarSSE–RTD", term="rtd"),
)}


def variant_pattern() -> str:
    """A methods entry: a registered method name, optionally with [key=value,...] overrides (the schema's pattern;
    read when the schema is loaded, so a method registered later is included)."""
    return "(?:" + "|".join(METHODS) + r")(?:\[[^\[\]]*\])?"


@dataclass(frozen=True)
class Variant:
    """One configured variant: its name (label), the directory of its members (the name without ``members``),
    method, overrides (``members`` included), freezing level and member count (None = ``ensembles.members``)."""

    name: str
    method: EnsembleMethod
    overrides: dict
    level: str | None = None
    directory: str = ""
    members: int | None = None

    @property
    def shares_starsse_member2(self) -> bool:
        return self.method.shares_starsse_member2 and not set(CYCLE_KEYS) & set(self.overrides)


def expand_variants(ens: dict) -> dict[str, Variant]:
    """Name -> Variant for every ``ensembles.methods`` entry; a per-level method without a ``level`` override runs
    once per ``freeze.levels`` entry, named ``<variant>-<level>``."""
    out: dict[str, Variant] = {}
    for entry in ens["methods"]:
        name, overrides = parse_variant(entry)
        method, base, directory = METHODS[name], variant_name(name, overrides), directory_name(name, overrides)
        count = overrides.get("members")
        if method.per_level and "level" not in overrides:
            for level in ens["freeze"]["levels"]:
                out[f"{base}-{level}"] = Variant(f"{base}-{level}", method, overrides, level, f"{directory}-{level}",
                                                 count)
        else:
            out[base] = Variant(base, method, overrides, overrides.get("level"), directory, count)
    return out


class EnsemblePlan:
    """The ensembles section of a validated config, turned into files, inputs and params."""

    def __init__(self, config: dict, *, member_pattern: str, data_pattern: str, checkpoint_pattern: str,
                 tables: list[str] = ()):
        self.config = config
        self.ens = config.get("ensembles") or {}
        self.enabled = bool(self.ens) and bool(self.ens.get("enabled", True))
        self.member_pattern = member_pattern
        self.data_pattern = data_pattern
        self.checkpoint_pattern = checkpoint_pattern
        self.tables = list(tables)
        self.variants = expand_variants(self.ens) if self.enabled else {}
        # directory -> the variant whose members live there (variants differing only in ``members`` share one)
        self.directories: dict[str, Variant] = {}
        for variant in self.variants.values():
            self.directories.setdefault(variant.directory, variant)
        self._runs: list[dict] | None = None

    # --- lists -----------------------------------------------------------------------------------------------
    @property
    def members(self) -> int:
        return int(self.ens["members"])

    @property
    def replicates(self) -> int:
        return int(self.ens.get("replicates", 1))

    def methods(self) -> list[str]:
        """Names of the configured variants (``starsse_freeze`` expanded to one per freezing level)."""
        return list(self.variants)

    def members_of(self, method: str) -> int:
        """K of a variant's runs: its ``members`` override, else ``ensembles.members``."""
        variant = self.variants.get(method)
        return int(variant.members) if variant is not None and variant.members else self.members

    def method_pattern(self) -> str:
        """Regular expression of the member directories (the ``method`` wildcard): member 1's, StarSSE's shared
        member 2, every variant."""
        return "|".join(re.escape(name) for name in dict.fromkeys([FIRST, "starsse", *self.directories]))

    def owner(self, method: str, k: int) -> tuple[str, int]:
        """(directory, k) of the job that trains member ``k`` of variant ``method`` (shared members live once)."""
        if k == 1:
            return FIRST, 1
        variant = self.variants.get(method) or self.directories.get(method)
        if k == 2 and variant is not None and variant.shares_starsse_member2:
            return "starsse", 2
        return (variant.directory if variant is not None else method), k

    def variance_options(self) -> dict:
        """Keyword arguments of ``variance.build_variance``: subset size (default K), fraction, folds, and the
        trajectory tables' subset cap and seed (so its subsets of size K are those of ``ensemble_subsets.csv``)."""
        if not self.enabled:
            return {}
        variance, trajectory = self.ens.get("variance") or {}, self.ens.get("trajectory") or {}
        return {"subset_size": int(variance.get("subset_size") or self.members),
                "fraction": float(variance.get("fraction", 0.05)), "folds": int(variance.get("folds", 5)),
                "max_subsets": int(trajectory.get("max_subsets", 5000)), "seed": int(trajectory.get("seed", 0))}

    def targets(self) -> list[str]:
        """The ensemble study's tables ([] when disabled; its figures come from the figure table)."""
        return list(self.tables) if self.enabled else []

    def member_file(self, target, seed, method: str, k: int, ext: str = "pt", rep: int = 1) -> str:
        directory, kk = self.owner(method, k)
        path = self.member_pattern.format(target=target, source=self.ens["source"], arch=self.ens["arch"],
                                          seed=seed, rep=rep, method=directory, k=kk)
        return path[: -len(".pt")] + f".{ext}" if ext != "pt" else path

    def runs(self) -> list[dict]:
        """Every (target, seed, replicate, variant) with its member files in training order (the table's params);
        built once, the table rules ask for it several times while the DAG is built."""
        if self._runs is None:
            self._runs = self._build_runs()
        return self._runs

    def _build_runs(self) -> list[dict]:
        out: list[dict] = []
        if not self.enabled:
            return out
        for target in self.ens["targets"]:
            for seed in self.ens["seeds"]:
                for rep in range(1, self.replicates + 1):
                    for method in self.methods():
                        ks = range(1, self.members_of(method) + 1)
                        out.append({"target": target, "source": self.ens["source"], "arch": self.ens["arch"],
                                    "seed": int(seed), "replicate": rep, "method": method,
                                    "probs": [self.member_file(target, seed, method, k, "npz", rep) for k in ks],
                                    "weights": [self.member_file(target, seed, method, k, "pt", rep) for k in ks]})
        return out

    def table_inputs(self) -> list[str]:
        """Every member file of every run, once, in first-seen order."""
        return list(dict.fromkeys(p for run in self.runs() for p in run["probs"] + run["weights"]))

    # --- one member job ----------------------------------------------------------------------------------------
    def pretrain_seed(self, seed: int, method: str, k: int, rep: int = 1) -> int:
        """Pre-training seed whose checkpoint member ``k`` of a ``method`` run (seed ``seed``, replicate ``rep``)
        starts from: Global DE members 2..K take the other ``global_seeds`` in order (replicate 1) or in an order
        drawn for the replicate."""
        variant = self.variants.get(method) or self.directories.get(method)
        if variant is not None and variant.method.pretrain_seeds == "global" and k >= 2:
            pool = [int(s) for s in dict.fromkeys(self.ens["global_seeds"]) if int(s) != int(seed)]
            if rep > 1:
                pool = [int(s) for s in np.random.default_rng(derive_seed("global_de", seed, rep)).permutation(pool)]
            return pool[k - 2]
        return int(seed)

    def _weights_for(self, pretrain_seed: int) -> dict | None:
        for entry in self.ens.get("weights") or []:
            if int(entry["seed"]) == pretrain_seed:
                return {key: entry[key] for key in ("path", "sha256") if key in entry}
        return None

    def member_spec(self, target: str, seed, method: str, k, rep=1) -> MemberSpec:
        """Everything that shapes the weights of member ``k`` of ``method`` (``method`` = its directory)."""
        k, seed, rep = int(k), int(seed), int(rep)
        keys = (target, self.ens["source"], self.ens["arch"], seed, method, k) + ((rep,) if rep > 1 else ())
        common = {"method": method, "k": k, "member_seed": derive_seed("ensemble", *keys)}
        variant = self.directories.get(method)
        if variant is None and method not in (FIRST, "starsse"):
            raise ValueError(f"{method!r} is not the directory of a configured ensemble variant "
                             f"({sorted(self.directories)})")
        kind = None if method == FIRST else (variant.method if variant else METHODS["starsse"])
        ens = apply_overrides(self.ens, kind.section, variant.overrides) if variant else self.ens
        if kind is None or kind.start == "checkpoint":
            pseed = self.pretrain_seed(seed, method, k, rep)
            return MemberSpec(**common, role="finetune", pretrain_seed=pseed, recipe=member_recipe(ens["recipe"], 1),
                              reinit=tuple(ens["reinit"]), weights=self._weights_for(pseed),
                              checkpoint=ens["checkpoint"])
        if k < 2:
            raise ValueError(f"member 1 of every method is trained under {FIRST!r}, not {method!r}")
        options = section_options(kind, ens, variant.level if variant else None)
        cycle_lr = ens["cycle_lr"]
        for section in options:  # a method's own section may set its cycle lr (thesis B: freezing, 4 x lr)
            if ens[section].get("cycle_lr") is not None:
                cycle_lr = ens[section]["cycle_lr"]
        return MemberSpec(**common, role="cycle", start=kind.start,
                          recipe=member_recipe(ens["recipe"], k, cycle_lr, ens["cycle_epochs"]),
                          freeze=options.get("freeze"), terms={n: o for n, o in options.items() if n != "freeze"})

    def member_work(self, target: str, seed, method: str, k, rep=1) -> TrainingWork | None:
        """What member ``k``'s job computes (for its runtime request), or None where the dataset's size is known only
        from its files (an image folder)."""
        planned = planned_images(self.config, target)
        if planned is None:
            return None
        train, evaluate, side = planned
        spec = self.member_spec(target, seed, method, k, rep)
        rtd = spec.terms.get("rtd")
        points = (rtd.get("points") or spec.recipe["batch_size"]) if rtd is not None else None
        return TrainingWork(self.ens["arch"], side, train, evaluate, int(spec.recipe["epochs"]),
                            int(spec.recipe["batch_size"]), points, (rtd or {}).get("backend") or "gudhi")

    def member_jobs(self) -> list[tuple[str, int, str, int, int]]:
        """(target, seed, directory, k, replicate) of every member job, once."""
        jobs: dict = {}
        for run in self.runs():
            for k in range(1, self.members_of(run["method"]) + 1):
                directory, kk = self.owner(run["method"], k)
                jobs[(run["target"], run["seed"], directory, kk, run["replicate"])] = None
        return list(jobs)

    def runtime_estimates(self, policy: RuntimePolicy, device: str) -> dict[tuple, float | None]:
        """Scaled minutes of every member job (:meth:`member_jobs` keys; None: unknown before the data exist)."""
        return {job: policy.estimate(self.member_work(*job[:4], rep=job[4]), device) for job in self.member_jobs()}

    @staticmethod
    def estimate_labels(estimates: dict[tuple, float | None]) -> dict[str, float | None]:
        """The longest estimate of each variant's member k over targets, seeds and replicates, labelled
        ``"<variant directory> member <k>"`` (how a plan-time error names them)."""
        out: dict[str, float | None] = {}
        for (_, _, directory, k, _), minutes in estimates.items():
            label = f"{directory} member {k}"
            longest = out.get(label)
            if label not in out or (minutes is not None and (longest is None or minutes > longest)):
                out[label] = minutes
        return out

    def runtime_resource(self, policy: RuntimePolicy, device: str):
        """Rule ``ensemble_member``'s ``runtime`` (a callable of wildcards and attempt) and ``retries`` (None: the
        profile's) under ``policy`` on ``device``; raises ``ConfigError`` naming every variant's member whose
        estimate exceeds ``runtime.max_minutes`` (unless it may span jobs)."""
        estimates = self.runtime_estimates(policy, device)
        policy.check(self.estimate_labels(estimates), "ensemble member")

        def runtime(wildcards, attempt):
            job = (wildcards.target, int(wildcards.seed), wildcards.method, int(wildcards.k), int(wildcards.rep))
            return policy.request(estimates.get(job), attempt)

        return runtime, policy.retries(estimates.values())

    def spec(self, target: str, seed, method: str, k, rep=1) -> dict:
        """:meth:`member_spec` as the rule's params (a plain dict, ``MemberSpec.to_params``)."""
        return self.member_spec(target, seed, method, k, rep).to_params()

    def inputs(self, target: str, seed, method: str, k, rep=1) -> dict:
        """Named input files of a member job: ``target`` data, ``init`` (what it starts from; absent for a weights
        file), ``member1`` (the reference of every cycle member), ``earlier`` (members 2..k−1, for the loss terms
        that compare with earlier members: WO, CE)."""
        spec = self.member_spec(target, seed, method, k, rep)
        k, seed, rep = int(k), int(seed), int(rep)
        out: dict = {"target": self.data_pattern.format(dataset=target)}
        if spec.role == "finetune":
            # a weights file (ensembles.weights) is a param, not an input: a dry run does not need it, and a
            # missing file fails the job naming the path
            if spec.weights is None:
                out["init"] = self.checkpoint_pattern.format(source=self.ens["source"], arch=self.ens["arch"],
                                                             seed=spec.pretrain_seed, ckpt=spec.checkpoint)
            return out
        member1 = self.member_file(target, seed, FIRST, 1, rep=rep)
        out["member1"] = member1
        out["init"] = self.member_file(target, seed, method, k - 1, rep=rep) if spec.start == "previous" else member1
        if spec_needs(spec.terms) & {"earlier_models", "earlier_weights"}:
            out["earlier"] = [self.member_file(target, seed, method, j, rep=rep) for j in range(2, k)]
        return out

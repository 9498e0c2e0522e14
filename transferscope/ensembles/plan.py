"""Which member jobs each ensemble method needs, where their files live and what shapes their weights.

Used by ``rules/ensembles.smk`` (input functions and params) and testable without Snakemake.

One *run* = (target, source, arch, pre-training seed s, method): K members, member 1 first.

- Member 1 is ordinary fine-tuning from the chosen checkpoint of seed s. It is the same for every method of a run,
  so it is trained once (directory ``first``).
- ``local_de``: member k ≥ 2 is another fine-tuning of the same checkpoint with its own seed.
- ``global_de``: member k ≥ 2 is a fine-tuning of the checkpoint of another pre-training seed (``global_seeds`` in
  order, s left out).
- ``sse``, ``sse_mse``, ``sse_rtd``: member k starts from member k−1 (a chain of jobs).
- ``starsse``, ``starsse_freeze-<layer>``, ``starsse_wo``, ``starsse_ce``, ``starsse_mse``, ``starsse_rtd``: member k
  starts from member 1 (parallel jobs; WO and CE also read the earlier non-first members 2..k−1, so their jobs form
  a chain).
- Member 2 of ``sse``, ``starsse_wo`` and ``starsse_ce`` is exactly StarSSE's member 2 (one cycle from member 1, no
  extra loss term: the pools of WO and CE are empty), so it is trained once, under ``starsse``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from transferscope.ensembles.schedule import member_recipe
from transferscope.runtime import derive_seed

FIRST = "first"
LEVEL_TOKEN = r"[A-Za-z0-9_]+"


@dataclass(frozen=True)
class EnsembleMethod:
    """One ensemble method of thesis B: how members k ≥ 2 start and which config section shapes them.

    - ``start``: ``checkpoint`` (a fine-tuning of a pre-trained checkpoint: Deep Ensembles), ``previous`` (one
      cycle from member k−1: SSE chains) or ``member1`` (one cycle from member 1: StarSSE fan-out);
    - ``pretrain_seeds``: DE members' checkpoints: ``same`` (the run's seed) or ``global`` (``global_seeds``);
    - ``options(ens, method) -> dict``: the entries of the member spec taken from the ``ensembles`` section
      (loss weights, freezing level);
    - ``per_level``: one method per ``freeze.levels`` entry, named ``<name>-<level>``;
    - ``shares_starsse_member2``: member 2 is exactly StarSSE's (one plain cycle from member 1), trained once;
    - ``needs_taps``: taps of the architecture the method's loss reads.
    """

    name: str
    start: str
    label: str
    pretrain_seeds: str = "same"
    options: Callable[[dict, str], dict] | None = None
    per_level: bool = False
    shares_starsse_member2: bool = False
    needs_taps: tuple[str, ...] = ()


def _section(key: str) -> Callable[[dict, str], dict]:
    return lambda ens, method: {key: dict(ens[key])}


def _freeze_level(ens: dict, method: str) -> dict:
    return {"freeze": {"level": method.split("-", 1)[1], "bn_frozen": bool(ens["freeze"]["bn_frozen"])}}


# The registry of methods, in the order of the schema's enum and default list.
METHODS: dict[str, EnsembleMethod] = {m.name: m for m in (
    EnsembleMethod("local_de", "checkpoint", "Local DE"),
    EnsembleMethod("global_de", "checkpoint", "Global DE", pretrain_seeds="global"),
    EnsembleMethod("sse", "previous", "SSE", shares_starsse_member2=True),
    EnsembleMethod("starsse", "member1", "StarSSE"),
    EnsembleMethod("sse_mse", "previous", "SSE–MSE", options=_section("mse"), needs_taps=("pool",)),
    EnsembleMethod("sse_rtd", "previous", "SSE–RTD", options=_section("rtd"), needs_taps=("pool",)),
    EnsembleMethod("starsse_freeze", "member1", "StarSSE, frozen", options=_freeze_level, per_level=True),
    EnsembleMethod("starsse_wo", "member1", "StarSSE–WO", options=_section("wo"), shares_starsse_member2=True),
    EnsembleMethod("starsse_ce", "member1", "StarSSE–CE", options=_section("ce"), shares_starsse_member2=True),
    # the similarity losses of SSE–MSE / SSE–RTD applied to StarSSE's cycles (each cycle restarts from member 1)
    EnsembleMethod("starsse_mse", "member1", "StarSSE–MSE", options=_section("mse"), needs_taps=("pool",)),
    EnsembleMethod("starsse_rtd", "member1", "StarSSE–RTD", options=_section("rtd"), needs_taps=("pool",)),
)}
# Directory names of member jobs (the ``method`` wildcard): member 1's shared directory, then every method.
METHOD_PATTERN = "|".join([FIRST] + [f"{m.name}-{LEVEL_TOKEN}" if m.per_level else m.name for m in METHODS.values()])


def base_method(method: str) -> str:
    """'starsse_freeze-stage1' -> 'starsse_freeze'; other names unchanged."""
    return method.split("-", 1)[0]


def owner(method: str, k: int) -> tuple[str, int]:
    """(directory, k) of the job that trains member ``k`` of ``method`` (shared members live in one place)."""
    if k == 1:
        return FIRST, 1
    if k == 2 and method in METHODS and METHODS[method].shares_starsse_member2:
        return "starsse", 2
    return method, k


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

    # --- lists -----------------------------------------------------------------------------------------------
    @property
    def members(self) -> int:
        return int(self.ens["members"])

    def methods(self) -> list[str]:
        """Configured methods with ``starsse_freeze`` expanded to one method per freezing level."""
        out = []
        for method in self.ens["methods"]:
            if METHODS[method].per_level:
                out += [f"{method}-{level}" for level in self.ens["freeze"]["levels"]]
            else:
                out.append(method)
        return out

    def targets(self) -> list[str]:
        """The ensemble study's tables ([] when disabled; its figures come from the figure table)."""
        return list(self.tables) if self.enabled else []

    def member_file(self, target, seed, method: str, k: int, ext: str = "pt") -> str:
        directory, kk = owner(method, k)
        path = self.member_pattern.format(target=target, source=self.ens["source"], arch=self.ens["arch"],
                                          seed=seed, method=directory, k=kk)
        return path[: -len(".pt")] + f".{ext}" if ext != "pt" else path

    def runs(self) -> list[dict]:
        """Every (target, seed, method) with its member files in training order (params of the table rule)."""
        out: list[dict] = []
        if not self.enabled:
            return out
        for target in self.ens["targets"]:
            for seed in self.ens["seeds"]:
                for method in self.methods():
                    ks = range(1, self.members + 1)
                    out.append({"target": target, "source": self.ens["source"], "arch": self.ens["arch"],
                                "seed": int(seed), "method": method,
                                "probs": [self.member_file(target, seed, method, k, "npz") for k in ks],
                                "weights": [self.member_file(target, seed, method, k, "pt") for k in ks]})
        return out

    def table_inputs(self) -> list[str]:
        files: list[str] = []
        for run in self.runs():
            files += [p for p in run["probs"] + run["weights"] if p not in files]
        return files

    # --- one member job ----------------------------------------------------------------------------------------
    def pretrain_seed(self, seed: int, method: str, k: int) -> int:
        """Pre-training seed whose checkpoint member ``k`` of a ``method`` run with seed ``seed`` starts from."""
        if method in METHODS and METHODS[method].pretrain_seeds == "global" and k >= 2:
            pool = [s for s in self.ens["global_seeds"] if s != seed]
            return int(pool[k - 2])
        return int(seed)

    def _weights_for(self, pretrain_seed: int) -> dict | None:
        for entry in self.ens.get("weights") or []:
            if int(entry["seed"]) == pretrain_seed:
                return {key: entry[key] for key in ("path", "sha256") if key in entry}
        return None

    def spec(self, target: str, seed, method: str, k) -> dict:
        """Everything that shapes the weights of member ``k`` of ``method`` (``method`` = its directory)."""
        k, seed = int(k), int(seed)
        ens = self.ens
        keys = (target, ens["source"], ens["arch"], seed, method, k)
        spec = {"method": method, "k": k, "member_seed": derive_seed("ensemble", *keys)}
        kind = None if method == FIRST else METHODS[base_method(method)]
        if kind is None or kind.start == "checkpoint":
            pseed = self.pretrain_seed(seed, base_method(method), k)
            spec.update(role="finetune", pretrain_seed=pseed, recipe=member_recipe(ens["recipe"], 1),
                        reinit=list(ens["reinit"]), weights=self._weights_for(pseed),
                        checkpoint=ens["checkpoint"])
            return spec
        if k < 2:
            raise ValueError(f"member 1 of every method is trained under {FIRST!r}, not {method!r}")
        options = kind.options(ens, method) if kind.options else {}
        cycle_lr = ens["cycle_lr"]
        for section in options:  # a method's own section may set its cycle lr (thesis B: freezing, 4 x lr)
            if ens[section].get("cycle_lr") is not None:
                cycle_lr = ens[section]["cycle_lr"]
        spec.update(role="cycle", start=kind.start,
                    recipe=member_recipe(ens["recipe"], k, cycle_lr, ens["cycle_epochs"]))
        spec.update(options)
        return spec

    def inputs(self, target: str, seed, method: str, k) -> dict:
        """Named input files of a member job: ``target`` data, ``init`` (what it starts from; absent for a weights
        file), ``member1`` (the reference of every cycle member), ``earlier`` (members 2..k−1 of WO / CE)."""
        spec = self.spec(target, seed, method, k)
        k, seed = int(k), int(seed)
        out: dict = {"target": self.data_pattern.format(dataset=target)}
        if spec["role"] == "finetune":
            # a weights file (ensembles.weights) is a param, not an input: a dry run does not need it, and a
            # missing file fails the job naming the path
            if spec["weights"] is None:
                out["init"] = self.checkpoint_pattern.format(source=self.ens["source"], arch=self.ens["arch"],
                                                             seed=spec["pretrain_seed"], ckpt=spec["checkpoint"])
            return out
        member1 = self.member_file(target, seed, FIRST, 1)
        out["member1"] = member1
        out["init"] = self.member_file(target, seed, method, k - 1) if spec["start"] == "previous" else member1
        if "wo" in spec or "ce" in spec:
            out["earlier"] = [self.member_file(target, seed, method, j) for j in range(2, k)]
        return out

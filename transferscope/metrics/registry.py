"""The registry of layer metrics: one entry per metric computed on every layer of a model.

An entry knows what the metric needs, how it is computed, how it is labelled and which way it points, so that the
analysis (``transferscope.analysis.layer_metrics``), the config schema (``analysis.metrics`` enum and default),
the correlation table and the figures all read the same list. Adding a metric = a pure function in a module of
``transferscope.metrics`` + one ``register(LayerMetric(...))`` line below (or in a plugin module listed under the
config key ``plugins``) + its test.

Input convention of ``compute``: ``X`` is n×d float64 (one row per analysis sample; for ``needs="log_probs"`` the
n×C log-probabilities of the source head, tap ``out``), ``y`` is n integer class labels of the target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from transferscope.metrics.benchmark_estimators import gbc, hscore_shrinkage, knn_accuracy, nleep, parc, sfda
from transferscope.metrics.bootstrap import percentile_interval, rsa_bootstrap, sum_of_squares_bootstrap
from transferscope.metrics.class_separation import sum_of_squares
from transferscope.metrics.energy_collapse import etran_energy, etran_lda, ncti, ncti_terms
from transferscope.metrics.intrinsic_dimension import twonn, twonn_subsets
from transferscope.metrics.pactran import pactran_gauss
from transferscope.metrics.rsa import count_constant_rows, rsa
from transferscope.metrics.transferability import hscore, leep, logme, nce, transrate
from transferscope.registries import add, lookup

NEEDS = ("features", "log_probs")
INTERVALS = ("none", "bootstrap", "subsets")


@dataclass(frozen=True)
class LayerMetric:
    """One per-layer metric.

    - ``compute(X, y) -> float``: the point estimate (see the module docstring for X and y).
    - ``needs``: ``features`` (any tap, with target labels) or ``log_probs`` (only the source head's output tap).
    - ``label``: axis label of figures, with the unit where there is one.
    - ``higher_is_better``: direction of the metric itself (None: no direction, e.g. an intrinsic dimension).
    - ``expected_sign``: sign of its correlation with transfer success that the literature expects (+1, −1, 0 =
      no expectation); thesis A: TwoNN and SS negative, RSA positive.
    - ``interval``: ``bootstrap`` (95 % class-stratified bootstrap: ``replicates(X, y, n_boot=, seed=) -> B``
      values → ci_low, ci_high), ``subsets`` (``subsets(X, n_subsets=, seed=) -> (mean, sd)`` replaces the value
      and adds sd) or ``none``.
    - ``diagnostic``: optional (name, fn(X) -> count) written as an extra row when non-zero (never correlated).
    - ``reference``: the work(s) it comes from, as "Author et al. YEAR" or "thesis A"; ``transferscope.citations``
      expands the ones it knows into full references (the README's citation list).
    - ``default``: part of the default ``analysis.metrics`` list.
    """

    name: str
    compute: Callable[[np.ndarray, np.ndarray], float]
    label: str
    needs: str = "features"
    higher_is_better: bool | None = None
    expected_sign: int = 0
    interval: str = "none"
    replicates: Callable | None = None
    subsets: Callable | None = None
    diagnostic: tuple[str, Callable[[np.ndarray], float]] | None = None
    reference: str = ""
    default: bool = True

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise ValueError(f"metric {self.name}: needs must be one of {NEEDS}, got {self.needs!r}")
        if self.interval not in INTERVALS:
            raise ValueError(f"metric {self.name}: interval must be one of {INTERVALS}, got {self.interval!r}")
        if self.interval == "bootstrap" and self.replicates is None:
            raise ValueError(f"metric {self.name}: interval 'bootstrap' needs a replicates function")
        if self.interval == "subsets" and self.subsets is None:
            raise ValueError(f"metric {self.name}: interval 'subsets' needs a subsets function")
        if self.expected_sign not in (-1, 0, 1):
            raise ValueError(f"metric {self.name}: expected_sign must be -1, 0 or 1")

    def evaluate(self, X: np.ndarray, y: np.ndarray, *, seed: int = 0, n_boot: int = 0, n_subsets: int = 0) -> dict:
        """{value[, sd][, ci_low, ci_high]} of this metric on one layer (``n_boot`` / ``n_subsets``: 0 = none)."""
        if self.interval == "subsets" and n_subsets:
            mean, sd = self.subsets(X, n_subsets=n_subsets, seed=seed)
            return {"value": mean, "sd": sd}
        row = {"value": self.compute(X, y)}
        if self.interval == "bootstrap" and n_boot:
            row["ci_low"], row["ci_high"] = percentile_interval(self.replicates(X, y, n_boot=n_boot, seed=seed))
        return row


REGISTRY: dict[str, LayerMetric] = {}


def register(metric: LayerMetric) -> LayerMetric:
    """Add ``metric`` to the registry (a second entry under the same name is an error)."""
    return add(REGISTRY, metric.name, metric, "layer metric")


def layer_metric(name: str) -> LayerMetric:
    """The registered metric ``name`` (a job's plugins are imported by ``runtime.setup_job``)."""
    return lookup(REGISTRY, name, "layer metric")


def metric_names(default_only: bool = False) -> list[str]:
    """Registered metric names in registration order (with the plugins imported so far)."""
    return [name for name, m in REGISTRY.items() if m.default or not default_only]


def ranking_metrics(names: list[str]) -> list[str]:
    """Those of ``names`` that order models (``higher_is_better`` not None; TwoNN has no direction): the
    estimators of the benchmark by default."""
    return [name for name in names if layer_metric(name).higher_is_better is not None]


def diagnostic_names() -> set[str]:
    """Names of the diagnostic rows metrics may add (e.g. ``constant_rows``): in metrics.csv, never correlated."""
    return {m.diagnostic[0] for m in REGISTRY.values() if m.diagnostic is not None}


def metric_label(name: str) -> str:
    """Figure label of a metric; an unregistered name (e.g. a table from a plugin not loaded here) is its own."""
    return REGISTRY[name].label if name in REGISTRY else name


register(LayerMetric("sum_of_squares", sum_of_squares, "SSW / TSS (lower = tighter classes)", higher_is_better=False,
                     expected_sign=-1, interval="bootstrap", replicates=sum_of_squares_bootstrap,
                     reference="thesis A"))
register(LayerMetric("rsa", rsa, "RSA class contrast", higher_is_better=True, expected_sign=1, interval="bootstrap",
                     replicates=rsa_bootstrap, diagnostic=("constant_rows", count_constant_rows),
                     reference="Kriegeskorte et al. 2008 (RDMs); thesis A (class contrast, order-free label masks)"))
register(LayerMetric("twonn", lambda X, y: twonn(X), "TwoNN intrinsic dimension", expected_sign=-1,
                     interval="subsets", subsets=twonn_subsets, reference="Facco 2017, Ansuini 2019"))
register(LayerMetric("logme", logme, "LogME (nats / sample)", higher_is_better=True, expected_sign=1,
                     reference="You et al. 2021"))
register(LayerMetric("hscore", hscore, "H-score", higher_is_better=True, expected_sign=1, reference="Bao et al. 2019"))
register(LayerMetric("transrate", transrate, "TransRate (nats)", higher_is_better=True, expected_sign=1,
                     reference="Huang et al. 2022"))
register(LayerMetric("leep", lambda X, y: leep(np.exp(X), y), "LEEP", needs="log_probs", higher_is_better=True,
                     expected_sign=1, reference="Nguyen et al. 2020"))
register(LayerMetric("nce", lambda X, y: nce(X.argmax(1), y), "NCE", needs="log_probs", higher_is_better=True,
                     expected_sign=1, reference="Tran et al. 2019"))
# Benchmark estimators (issue 20): not in the default list, the zoo config names them.
register(LayerMetric("gbc", gbc, "GBC (spherical)", needs="features", higher_is_better=True,
                     expected_sign=1, reference="Pándy et al. 2022", default=False))
register(LayerMetric("sfda", sfda, "SFDA (mean probability)", needs="features", higher_is_better=True,
                     expected_sign=1, reference="Shao et al. 2022", default=False))
register(LayerMetric("parc", parc, "PARC (Spearman × 100)", needs="features", higher_is_better=True,
                     expected_sign=1, reference="Bolya et al. 2021", default=False))
register(LayerMetric("nleep", nleep, "N-LEEP (nats)", needs="features", higher_is_better=True,
                     expected_sign=1, reference="Li et al. 2021", default=False))
register(LayerMetric("hscore_shrinkage", hscore_shrinkage, "shrinkage H-score", needs="features",
                     higher_is_better=True, expected_sign=1, reference="Ibrahim et al. 2022", default=False))
register(LayerMetric("knn", knn_accuracy, "kNN leave-one-out accuracy (k = 3)", needs="features",
                     higher_is_better=True, expected_sign=1, reference="Garbas et al. 2024", default=False))
# Benchmark estimators (issue 20), second block: not in the default list.
register(LayerMetric("etran_energy", etran_energy, "ETran energy score", needs="features", higher_is_better=True,
                     expected_sign=1, reference="Gholami et al. 2023", default=False))
register(LayerMetric("ncti", ncti, "NCTI (unscaled S_seli + S_ncc − S_vc)", needs="features", higher_is_better=True,
                     expected_sign=1, reference="Wang et al. 2023", default=False))
# The parts of the zoo-level ETran and NCTI (min-max scaled over the models ranked, transferscope.benchmark.zoo):
# no direction of their own, so they are not ranked alone.
register(LayerMetric("etran_lda", etran_lda, "ETran LDA score (part of the zoo-level ETran)", needs="features",
                     reference="Gholami et al. 2023", default=False))
register(LayerMetric("ncti_seli", lambda X, y: ncti_terms(X, y)[0], "NCTI S_seli (part of the zoo-level NCTI)",
                     needs="features", reference="Wang et al. 2023", default=False))
register(LayerMetric("ncti_ncc", lambda X, y: ncti_terms(X, y)[1], "NCTI S_ncc (part of the zoo-level NCTI)",
                     needs="features", reference="Wang et al. 2023", default=False))
register(LayerMetric("ncti_vc", lambda X, y: ncti_terms(X, y)[2], "NCTI S_vc (part of the zoo-level NCTI)",
                     needs="features", reference="Wang et al. 2023", default=False))
register(LayerMetric("pactran", lambda X, y: -pactran_gauss(X, y), "−PACTran-Gauss (nats)", needs="features",
                     higher_is_better=True, expected_sign=1, reference="Ding et al. 2022", default=False))

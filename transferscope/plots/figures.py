"""The figure table: one row per figure; ``rules/figures.smk`` turns each row into a rule ``figure_<name>``.

A row names what the figure reads and where it goes; it holds no paths and no config values, so it is importable
and testable without Snakemake:

- ``inputs``: ``draw()`` keyword -> a tidy table of ``results/tables`` (a name ending in ``.csv``) or a file the
  workflow names (``rdm_model``: the activations of the model whose RDMs are drawn).
- ``params``: ``draw()`` keyword -> a value the workflow derives from the config (``checkpoints``: the configured
  pre-training checkpoints; ``last_checkpoint``: the last of them; ``outcome``: the headline fine-tuning outcome of
  the analysis figures, config ``analysis.outcome``). ``style`` (config ``figures:``) is always passed.
- ``when``: the condition under which the figure is part of the run (one of ``CONDITIONS``).
- The plotting module ``transferscope/plots/<module>.py`` (default: the figure's name) has
  ``draw(**inputs, out=..., style=..., **params)``; the rule lists it as an input, so editing it reruns exactly
  the figures drawn with it. The caption is ``report/<name>.rst``.

Adding a figure = a plotting module, a caption file and one row here.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# When a figure is drawn: always; with analysis.enabled; with analysis.enabled and metrics on more than one tap per
# architecture (analysis.layers); with analysis.enabled and finetune.cka_samples > 0; with an enabled ensembles:
# section; with a benchmark: section enabled (and the analysis).
CONDITIONS = ("always", "analysis", "layers", "cka_finetune", "ensembles", "benchmark")
WORKFLOW_FILES = ("rdm_model",)
WORKFLOW_VALUES = ("checkpoints", "last_checkpoint", "outcome")


@dataclass(frozen=True)
class Figure:
    name: str
    inputs: dict[str, str]
    category: str
    when: str = "always"
    params: dict[str, str] = field(default_factory=dict)
    module: str | None = None

    @property
    def plotting_module(self) -> str:
        """Name of the module under transferscope/plots that draws this figure."""
        return self.module or self.name

    @property
    def caption(self) -> str:
        """Caption file, relative to the repository root."""
        return f"report/{self.name}.rst"


FIGURES: tuple[Figure, ...] = (
    Figure("pretrain_curves", {"table": "pretrain.csv"}, "Pre-training"),
    Figure("pretrain_points", {"table": "pretrain_points.csv"}, "Pre-training"),
    Figure("finetune_vs_checkpoint", {"table": "finetune.csv"}, "Fine-tuning", params={"checkpoints": "checkpoints"}),
    Figure("finetune_curves", {"table": "finetune_curves.csv", "pretrain_points": "pretrain_points.csv"},
           "Fine-tuning"),
    Figure("gain_curves", {"table": "finetune_curves.csv", "pretrain_points": "pretrain_points.csv"}, "Fine-tuning"),
    Figure("transfer_gain", {"table": "finetune_curves.csv"}, "Fine-tuning"),
    Figure("metrics_by_layer", {"table": "metrics.csv"}, "Analysis", "layers",
           params={"checkpoint": "last_checkpoint"}),
    Figure("metrics_by_checkpoint", {"table": "metrics.csv", "pretrain_points": "pretrain_points.csv"}, "Analysis",
           "layers"),
    Figure("correlation_heatmap", {"table": "transferability.csv"}, "Analysis", "analysis",
           params={"outcome": "outcome"}),
    Figure("correlation_levels", {"table": "transferability.csv", "pretrain_points": "pretrain_points.csv"},
           "Analysis", "analysis", params={"outcome": "outcome"}),
    Figure("best_predictor",
           {"transferability": "transferability.csv", "metrics": "metrics.csv", "outcomes": "outcomes.csv"},
           "Analysis", "analysis", params={"outcome": "outcome"}),
    Figure("rdm", {"activations": "rdm_model"}, "Analysis", "analysis"),
    Figure("cka_finetune", {"table": "cka_finetune.csv"}, "Analysis", "cka_finetune"),
    Figure("ensemble_size", {"table": "ensembles.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_diversity", {"table": "ensembles.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_trajectory", {"table": "ensembles.csv", "distances": "ensemble_distances.csv"}, "Ensembles",
           "ensembles"),
    Figure("ensemble_freeze", {"table": "ensembles.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_stage_distances", {"distances": "ensemble_distances.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_stage_outputs", {"distances": "ensemble_distances.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_cosine_diversity",
           {"pairs": "ensemble_pairs.csv", "correlations": "ensemble_pair_correlations.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_subsets", {"subsets": "ensemble_subsets.csv"}, "Ensembles", "ensembles"),
    Figure("ensemble_variance", {"subsets": "ensemble_variance.csv", "summary": "ensemble_variance_summary.csv"},
           "Ensembles", "ensembles"),
    Figure("leaderboard", {"leaderboard": "leaderboard.csv", "zoo": "benchmark_zoo.csv"}, "Benchmark", "benchmark"),
)

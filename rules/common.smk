import os

import transferscope

# Config -> wildcard lists -> paths, in one place. Rules never hard-code a dataset or a number.
from transferscope.config import (
    SAMPLE_KEYS,
    analysis_sample,
    finetune_recipe,
    model_pairs,
    mode_from_token,
    mode_token,
    scratch_recipe,
    target_eval_points,
    training_batches,
    used_datasets,
    uses_gpu,
)
from transferscope.metrics.registry import ranking_metrics
from transferscope.models import metric_taps
from transferscope.plots.figures import CONDITIONS, FIGURES as FIGURE_TABLE
from transferscope.resources import ANALYSIS as ANALYSIS_MEMORY, TRAINING as TRAINING_MEMORY, rule_memory

DATASETS = used_datasets(config)
SOURCES = config["sources"]
TARGETS = config["targets"]
ARCHS = config["archs"]
# (source, arch) of every pre-trained model family: a pretrained: source comes in the architectures it has weights for
MODELS = model_pairs(config)
SEEDS = config["seeds"]
CKPTS = config["pretrain"]["checkpoints"]
MODES = [mode_token(m) for m in config["finetune"]["modes"]]
GPU = uses_gpu(config)
THREADS = config["threads"]
# CUDA speed options are training params (changing bf16 changes the numbers, so it reruns training), but only
# where they can apply: on device: cpu they are ignored and must not rerun anything.
CUDA_OPTIONS = config["cuda"] if config["device"] != "cpu" else {}
DEVICE_PARAMS = dict(device=config["device"], cuda=CUDA_OPTIONS)  # params of every training rule
# finetune's and scratch's: the target's eval points (finetune.target_eval_points, else finetune.eval_points)
FINETUNE_PARAMS = dict(eval_points=lambda wc: target_eval_points(config, wc.target), **DEVICE_PARAMS)
FIG_EXT = config["figures"]["format"]


DATA = "results/data/{dataset}.pt"
PRETRAIN_CKPT = "results/pretrain/{source}/{arch}/seed{seed}/{ckpt}.pt"
PRETRAIN_LOG = "results/pretrain/{source}/{arch}/seed{seed}/train_log.csv"
FINETUNE = "results/finetune/{target}/{source}/{arch}/seed{seed}/{ckpt}/{mode}/result.json"
FINETUNE_STASH = "results/finetune/{target}/{source}/{arch}/seed{seed}/.stash_{mode}"
SCRATCH = "results/finetune/{target}/scratch/{arch}/seed{seed}/result.json"
ACTS = "results/activations/{target}/{source}/{arch}/seed{seed}/{ckpt}.npz"
MODEL_METRICS = "results/tables/metrics/{target}/{source}/{arch}/seed{seed}.csv"
ACTS_FINETUNED = "results/activations_finetuned/{target}/{source}/{arch}/seed{seed}/{ckpt}/{mode}.npz"
# Inputs of every job that reads all checkpoints of one pre-training run on one target (finetune, extract,
# model_metrics): the target's bundle and the run's checkpoints in CKPTS order.
RUN_ON_TARGET_INPUTS = dict(
    target=DATA.replace("{dataset}", "{target}"),
    checkpoints=expand(PRETRAIN_CKPT, ckpt=CKPTS, allow_missing=True),
)
ANALYSIS = config["analysis"]["enabled"]
ANALYSE_FINETUNED = ANALYSIS and config["analysis"]["finetuned"]


# The fixed sample of target images whose activations are analysed (params of extract, model_metrics and finetune):
# one param per key, each the job's target's value (analysis.target_samples overrides n_samples / split).
def target_sample(wildcards):
    return analysis_sample(config, wildcards.target)


def sample_param(key):
    return lambda wildcards: target_sample(wildcards)[key]


ANALYSIS_SAMPLE = {key: sample_param(key) for key in SAMPLE_KEYS}
TABLES = "results/tables"
FIGURES = "results/figures"
LOGS = "results/logs"
BENCH = "results/benchmarks"

# Resources, written once. A rule with gpu=GPU must claim a slot in its script (runtime.claim_device) before CUDA
# is touched. Training runtime grows with the attempt, so a retry after a time-out gets more time.
# Memory follows the data: scale × attempt × (family base + copies × input size + copies × one model's activations
# of the analysis sample, where the job extracts them + a training batch's backward state when training runs on the
# CPU), transferscope/resources.py.
MEM_SCALE = config["memory"]["scale"]
TRAINING_BATCH = training_batches(config)


def training_resources(role, sample=None):
    """Resources of a training rule; ``role`` (pretrain, finetune, ensembles) names the recipe whose batch a CPU
    job holds, ``sample`` the analysis sample when the job also extracts activations."""
    return dict(
        gpu=GPU,
        mem_mb=rule_memory(TRAINING_MEMORY, MEM_SCALE, sample, None if GPU else TRAINING_BATCH.get(role)),
        runtime=lambda wc, attempt: 120 * attempt,
    )


EXTRACT_RESOURCES = dict(gpu=GPU, mem_mb=rule_memory(ANALYSIS_MEMORY, MEM_SCALE, target_sample), runtime=30)
METRICS_RESOURCES = dict(mem_mb=8000, runtime=60)
SMALL_RESOURCES = dict(mem_mb=4000, runtime=30)
# What shapes a layer_metrics table besides the models it reads (its params: a change reruns the metrics).
BENCHMARK = ANALYSIS and config["benchmark"]["enabled"]
BENCHMARK_ESTIMATORS = config["benchmark"]["estimators"] or ranking_metrics(config["analysis"]["metrics"])
METRIC_PARAMS = {key: config["analysis"][key] for key in ("metrics", "twonn_subsets", "metric_bootstrap", "seed")}


def metric_layers(wildcards):
    """The taps of the run's architecture that analysis.layers names (None: every tap)."""
    taps = metric_taps(wildcards.arch, config["analysis"]["layers"])
    return list(taps) if taps is not None else None


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def mode_recipe(wildcards):
    return finetune_recipe(config, wildcards.mode, wildcards.target)


def scratch_target_recipe(wildcards):
    return scratch_recipe(config, wildcards.target)


def arch_weights(arch):
    """Local weight file entry {path, sha256} for torchvision archs, else None."""
    return config["weights"].get(arch)


def finetune_results():
    return [
        path
        for t in TARGETS
        for s, a in MODELS
        for path in expand(FINETUNE, target=t, source=s, arch=a, seed=SEEDS, ckpt=CKPTS, mode=MODES)
    ]


def scratch_results():
    if not config["finetune"]["scratch"]:
        return []
    return expand(SCRATCH, target=TARGETS, arch=ARCHS, seed=SEEDS)


def activation_grid():
    """Keys (source, arch, seed, checkpoint) of every pre-trained model: the ones whose activations are analysed."""
    return [dict(source=s, arch=a, seed=int(seed), checkpoint=c) for s, a in MODELS for seed in SEEDS for c in CKPTS]


def pretrained_activations():
    """Every pre-trained model's activation file (rule extract), when analysis.keep_activations asks for them."""
    if not (ANALYSIS and config["analysis"]["keep_activations"]):
        return []
    return [ACTS.format(target=t, ckpt=k["checkpoint"], **k) for t in TARGETS for k in activation_grid()]


def run_metrics_tables():
    """Per pre-training run metrics tables (rule model_metrics), in the order of activation_grid()."""
    return [
        path
        for t in TARGETS
        for s, a in MODELS
        for path in expand(MODEL_METRICS, target=t, source=s, arch=a, seed=SEEDS)
    ]


def finetuned_activation_files(wildcards):
    return [
        ACTS_FINETUNED.format(
            target=wildcards.target, source=k["source"], arch=k["arch"], seed=k["seed"], ckpt=k["checkpoint"], mode=m
        )
        for k in activation_grid()
        for m in MODES
    ]


def finetuned_keys(wildcards):
    """Keys of every fine-tuned model of a target whose activations are analysed (same order as the files)."""
    return [dict(target=wildcards.target, mode=mode_from_token(m), **k) for k in activation_grid() for m in MODES]


def finetuned_activation_params():
    """What the fine-tuning jobs need to save activations of the fine-tuned models (None: they save none)."""
    return target_sample if ANALYSE_FINETUNED else None


def rdm_model_file():
    """Activation file of the model whose RDMs are drawn (config analysis.rdm_model, else first/last entries)."""
    choice = config["analysis"]["rdm_model"]
    return ACTS.format(
        target=choice.get("target", TARGETS[0]),
        source=choice.get("source", SOURCES[0]),
        arch=next(a for s, a in MODELS if s == choice.get("source", SOURCES[0])),
        seed=choice.get("seed", SEEDS[0]),
        ckpt=choice.get("checkpoint", CKPTS[-1]),
    )


def pretrain_logs():
    return [path for s, a in MODELS for path in expand(PRETRAIN_LOG, source=s, arch=a, seed=SEEDS)]


# The imported package's directory, not workflow.basedir: in a module deployment that is the user's directory.
PACKAGE_DIR = os.path.dirname(transferscope.__file__)


def plot_module(name):
    """Path of a plotting module; figure rules list it as an input so editing it reruns that figure."""
    return os.path.join(PACKAGE_DIR, "plots", f"{name}.py")


def figure(name):
    return f"{FIGURES}/{name}.{FIG_EXT}"


# The figure table (transferscope/plots/figures.py) in this workflow: what its input and param names stand for,
# and which figures a run draws.
FIGURE_FILES = {"rdm_model": rdm_model_file()}
FIGURE_VALUES = {
    "checkpoints": CKPTS,
    "last_checkpoint": CKPTS[-1],
    "outcome": config["analysis"].get("outcome", "auc"),
}


def figure_inputs(fig):
    """draw() keyword -> file: results/tables/<x> for a table name, else a file named in FIGURE_FILES."""
    inputs = {key: f"{TABLES}/{ref}" if ref.endswith(".csv") else FIGURE_FILES[ref] for key, ref in fig.inputs.items()}
    # the shared helpers too: editing them reruns every figure, editing one module only its figures
    return {**inputs, "module": plot_module(fig.plotting_module), "helpers": plot_module("_common")}


def figure_params(fig):
    """Styling (config figures:, for every figure) and the figure's own params: only what changes the picture."""
    return {"style": config["figures"], **{key: FIGURE_VALUES[value] for key, value in fig.params.items()}}


def figure_conditions():
    """Condition name of the table -> whether its figures are drawn in this run."""
    layers = config["analysis"]["layers"]  # None: every tap
    conditions = {
        "always": True,
        "analysis": ANALYSIS,
        "layers": ANALYSIS and (layers is None or any(len(metric_taps(arch, layers)) > 1 for arch in ARCHS)),
        "cka_finetune": ANALYSIS and bool(config["finetune"]["cka_samples"]),
        "ensembles": ENSEMBLES.enabled,
        "benchmark": BENCHMARK,
    }
    assert set(conditions) == set(CONDITIONS), "rules/common.smk and the figure table disagree on conditions"
    return conditions


def figure_targets():
    """Every figure drawn in this run (called by rule all, after every rule file is read)."""
    conditions = figure_conditions()
    return [figure(fig.name) for fig in FIGURE_TABLE if conditions[fig.when]]


def all_targets():
    """Every table and figure of the run but the ensemble study's (rule all); figures come from the figure table."""
    tables = [f"{TABLES}/{name}.csv" for name in ("finetune", "pretrain", "pretrain_points", "transfer_summary")]
    if ANALYSIS:
        tables += [f"{TABLES}/metrics.csv", f"{TABLES}/transferability.csv", *pretrained_activations()]
        if any(config["analysis"]["reference"].get(key) for key in ("values", "per_checkpoint")):
            tables.append(f"{TABLES}/reference_comparison.csv")
    if ANALYSE_FINETUNED:
        tables.append(f"{TABLES}/metrics_finetuned.csv")
    if BENCHMARK:
        tables += [f"{TABLES}/benchmark_zoo.csv", f"{TABLES}/leaderboard.csv"]
    return tables + figure_targets()

import os

# Config -> wildcard lists -> paths, in one place. Rules never hard-code a dataset or a number.
from transferscope.config import finetune_recipe, mode_from_token, mode_token, used_datasets, uses_gpu

DATASETS = used_datasets(config)
SOURCES = config["sources"]
TARGETS = config["targets"]
ARCHS = config["archs"]
SEEDS = config["seeds"]
CKPTS = config["pretrain"]["checkpoints"]
MODES = [mode_token(m) for m in config["finetune"]["modes"]]
GPU = uses_gpu(config)
THREADS = config["threads"]
# CUDA speed options are training params (changing bf16 changes the numbers, so it reruns training), but only
# where they can apply: on device: cpu they are ignored and must not rerun anything.
CUDA_OPTIONS = config["cuda"] if config["device"] != "cpu" else {}
FIG_EXT = config["figures"]["format"]


DATA = "results/data/{dataset}.pt"
PRETRAIN_CKPT = "results/pretrain/{source}/{arch}/seed{seed}/{ckpt}.pt"
PRETRAIN_LOG = "results/pretrain/{source}/{arch}/seed{seed}/train_log.csv"
FINETUNE = "results/finetune/{target}/{source}/{arch}/seed{seed}/{ckpt}/{mode}/result.json"
FINETUNE_STASH = "results/finetune/{target}/{source}/{arch}/seed{seed}/.stash_{mode}"
SCRATCH = "results/finetune/{target}/scratch/{arch}/seed{seed}/result.json"
ACTS = "results/activations/{target}/{source}/{arch}/seed{seed}/{ckpt}.npz"
ACTS_FINETUNED = "results/activations_finetuned/{target}/{source}/{arch}/seed{seed}/{ckpt}/{mode}.npz"
ANALYSIS = config["analysis"]["enabled"]
ANALYSE_FINETUNED = ANALYSIS and config["analysis"]["finetuned"]
TABLES = "results/tables"
FIGURES = "results/figures"
LOGS = "results/logs"
BENCH = "results/benchmarks"


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def mode_recipe(wildcards):
    return finetune_recipe(config, wildcards.mode)


def arch_weights(arch):
    """Local weight file entry {path, sha256} for torchvision archs, else None."""
    return config["weights"].get(arch)


def finetune_results():
    return expand(FINETUNE, target=TARGETS, source=SOURCES, arch=ARCHS, seed=SEEDS, ckpt=CKPTS, mode=MODES)


def scratch_results():
    if not config["finetune"]["scratch"]:
        return []
    return expand(SCRATCH, target=TARGETS, arch=ARCHS, seed=SEEDS)


def activation_grid():
    """(target-independent) keys of every pre-trained model whose activations are analysed."""
    return [
        dict(source=s, arch=a, seed=int(seed), checkpoint=c)
        for s in SOURCES
        for a in ARCHS
        for seed in SEEDS
        for c in CKPTS
    ]


def activation_files(wildcards):
    return [
        ACTS.format(target=wildcards.target, source=k["source"], arch=k["arch"], seed=k["seed"], ckpt=k["checkpoint"])
        for k in activation_grid()
    ]


def activation_keys(wildcards):
    return [dict(target=wildcards.target, **k) for k in activation_grid()]


def finetuned_activation_files(wildcards):
    return [
        ACTS_FINETUNED.format(target=wildcards.target, source=k["source"], arch=k["arch"], seed=k["seed"], ckpt=k["checkpoint"], mode=m)
        for k in activation_grid()
        for m in MODES
    ]


def finetuned_keys(wildcards):
    """Keys of every fine-tuned model of a target whose activations are analysed (same order as the files)."""
    return [dict(target=wildcards.target, mode=mode_from_token(m), **k) for k in activation_grid() for m in MODES]


def finetuned_activation_params():
    """What the fine-tuning jobs need to save activations of the fine-tuned models (None: they save none)."""
    if not ANALYSE_FINETUNED:
        return None
    return {key: config["analysis"][key] for key in ("n_samples", "pool", "seed")}


def rdm_model_file():
    """Activation file of the model whose RDMs are drawn (config analysis.rdm_model, else first/last entries)."""
    choice = config["analysis"]["rdm_model"]
    return ACTS.format(
        target=choice.get("target", TARGETS[0]),
        source=choice.get("source", SOURCES[0]),
        arch=ARCHS[0],
        seed=choice.get("seed", SEEDS[0]),
        ckpt=choice.get("checkpoint", CKPTS[-1]),
    )


def pretrain_logs():
    return expand(PRETRAIN_LOG, source=SOURCES, arch=ARCHS, seed=SEEDS)


def plot_module(name):
    """Path of a plotting module; figure rules list it as an input so editing it reruns that figure."""
    return os.path.join(workflow.basedir, "transferscope", "plots", f"{name}.py")


def figure(name):
    return f"{FIGURES}/{name}.{FIG_EXT}"


def all_targets():
    return [
        f"{TABLES}/finetune.csv",
        f"{TABLES}/pretrain.csv",
        figure("pretrain_curves"),
        figure("finetune_vs_checkpoint"),
        figure("transfer_gain"),
    ] + analysis_targets()


def analysis_targets():
    if not ANALYSIS:
        return []
    targets = [
        f"{TABLES}/metrics.csv",
        f"{TABLES}/transferability.csv",
        figure("metrics_by_layer"),
        figure("correlation_heatmap"),
        figure("best_predictor"),
        figure("rdm"),
    ]
    if config["finetune"]["cka_samples"]:
        targets.append(figure("cka_finetune"))
    if ANALYSE_FINETUNED:
        targets.append(f"{TABLES}/metrics_finetuned.csv")
    return targets

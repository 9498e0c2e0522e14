import os

# Config -> wildcard lists -> paths, in one place. Rules never hard-code a dataset or a number.
from transferscope.config import finetune_recipe, mode_token, used_datasets, uses_gpu

DATASETS = used_datasets(config)
SOURCES = config["sources"]
TARGETS = config["targets"]
ARCHS = config["archs"]
SEEDS = config["seeds"]
CKPTS = config["pretrain"]["checkpoints"]
MODES = [mode_token(m) for m in config["finetune"]["modes"]]
GPU = uses_gpu(config)
THREADS = config["threads"]
FIG_EXT = config["figures"]["format"]


DATA = "results/data/{dataset}.pt"
PRETRAIN_CKPT = "results/pretrain/{source}/{arch}/seed{seed}/{ckpt}.pt"
PRETRAIN_LOG = "results/pretrain/{source}/{arch}/seed{seed}/train_log.csv"
FINETUNE = "results/finetune/{target}/{source}/{arch}/seed{seed}/{ckpt}/{mode}/result.json"
SCRATCH = "results/finetune/{target}/scratch/{arch}/seed{seed}/result.json"
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
    ]

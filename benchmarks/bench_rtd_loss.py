"""Cost of one step of the ensembles' RTD loss (thesis B's SSE–RTD) against the number of points per batch.

One forward + backward of ``transferscope.ensembles.losses.rtd_loss`` on P random points of dimension D (pooled
features: ResNet-50 has D = 2048) against a fixed reference, as in every training step of an SSE–RTD member; the
persistent homology (gudhi or giotto-ph) runs on the CPU whatever the device of the features. Also prints the loss value, which
grows with P: a β tuned for one point count does not carry over to another.

Usage: python benchmarks/bench_rtd_loss.py [--points 64 128 256] [--dim 2048] [--repeats 3] [--threads 2]
       [--backend gudhi|giotto]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from transferscope.ensembles.losses import rtd_loss  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--card", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backend", default="gudhi", help="persistent homology: gudhi or giotto (ensembles.rtd.backend)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| points | seconds per step (best of {args.repeats}, backend {args.backend}) | RTD value |")
    print("|---:|---:|---:|")
    for points in args.points:
        g = torch.Generator().manual_seed(points)
        reference = torch.randn(points, args.dim, generator=g).relu()
        features = (reference + 0.3 * torch.randn(points, args.dim, generator=g)).relu().requires_grad_(True)
        best, value = float("inf"), float("nan")
        for _ in range(args.repeats):
            start = time.perf_counter()
            loss = rtd_loss(features, reference, card=args.card, backend=args.backend)
            loss.backward()
            best = min(best, time.perf_counter() - start)
            value = float(loss.detach())
            features.grad = None
        print(f"| {points} | {best:.3f} | {value:.3f} |")


if __name__ == "__main__":
    main()

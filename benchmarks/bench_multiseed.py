"""Feasibility check: train several seeds at once with torch.func (vmap over stacked parameters) vs one by one.

One optimizer-free training step (forward + backward) of S copies of thesis A's MNIST CNN (dropout off, so both
ways compute the same function), each on its own batch of B random 1×28×28 images:

(a) vmap: ``torch.func.stack_module_state`` + ``vmap(grad_and_value(functional_call(...)))`` — the convolutions
    become grouped convolutions over the S stacked models;
(b) sequential: the S models one after another, in the default memory format and in channels_last (what
    ``transferscope.training.loop.train`` uses on the CPU).

Prints milliseconds per step for all S seeds and checks that (a) and (b) give the same losses and gradients.

Usage: python benchmarks/bench_multiseed.py [--seeds 4] [--batch 64] [--steps 20] [--threads 2] [--device cpu]
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from transferscope.models import build_model  # noqa: E402


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(fn, steps: int, device: str) -> float:
    for _ in range(3):  # warm-up (kernel selection, allocator)
        fn()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / steps * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    dev = args.device

    models = []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        model = build_model("mnist_cnn", 10, 1, 28)
        model.dropout1.p = model.dropout2.p = 0.0  # same function both ways (vmap draws its own dropout masks)
        models.append(model.to(dev))
    params, buffers = stack_module_state(models)
    skeleton = copy.deepcopy(models[0]).to("meta")

    def loss_of(p, b, x, y):
        return F.nll_loss(functional_call(skeleton, (p, b), (x,)), y)

    step_all = vmap(grad_and_value(loss_of))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.seeds, args.batch, 1, 28, 28, generator=gen).to(dev)
    y = torch.randint(0, 10, (args.seeds, args.batch), generator=gen).to(dev)

    grads, losses = step_all(params, buffers, x, y)
    for s, model in enumerate(models):
        model.zero_grad()
        loss = F.nll_loss(model(x[s]), y[s])
        loss.backward()
        assert torch.allclose(loss, losses[s], rtol=1e-5, atol=1e-6)
        for name, p in model.named_parameters():
            assert torch.allclose(p.grad, grads[name][s], rtol=1e-4, atol=1e-6), name

    def sequential(ms):
        def run():
            for s, m in enumerate(ms):
                m.zero_grad(set_to_none=True)
                F.nll_loss(m(x[s]), y[s]).backward()
        return run

    t_vmap = timed(lambda: step_all(params, buffers, x, y), args.steps, dev)
    t_seq = timed(sequential(models), args.steps, dev)
    cl_models = [m.to(memory_format=torch.channels_last) for m in copy.deepcopy(models)]
    t_cl = timed(sequential(cl_models), args.steps, dev)

    print(f"{args.seeds} seeds × batch {args.batch}, device {dev}, torch {torch.__version__}, {args.threads} threads; "
          "losses and gradients of vmap and sequential agree")
    print()
    print("| way | ms per step (all seeds) |")
    print("|---|---:|")
    print(f"| torch.func vmap over stacked models | {t_vmap:.1f} |")
    print(f"| sequential, default memory format | {t_seq:.1f} |")
    print(f"| sequential, channels_last | {t_cl:.1f} |")


if __name__ == "__main__":
    main()

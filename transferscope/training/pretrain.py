"""Pre-training job: one (source, arch, seed), checkpoints saved at configured points."""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch

from transferscope.checkpoints import checkpoint_blob, model_from_weights_file, save_checkpoint
from transferscope.data.bundle import Bundle
from transferscope.io import params_hash, provenance, write_csv
from transferscope.models import build_model
from transferscope.runtime import derive_seed, resolve_device
from transferscope.training.accel import accelerated_loss, active_options, prepare_model_for_device
from transferscope.training.loop import TensorData, default_loss, train

log = logging.getLogger("transferscope")


def run_pretrain(bundle_path: str | Path, *, arch: str, seed: int, recipe: dict, checkpoints: dict[str, str],
                 train_log: str | Path, device: str = "auto", weights: dict | None = None,
                 cuda: dict | None = None) -> dict:
    """Pre-train ``arch`` on the bundle; write each checkpoint (point -> path) and the per-epoch log CSV.

    Checkpoints are first saved into an undeclared resume directory beside the log and moved into place only
    when training has finished, so a killed job leaves no declared output and a rerun resumes.
    ``cuda``: optional CUDA speed options (transferscope.training.accel; ignored off CUDA).
    """
    dev = resolve_device(device)
    bundle = Bundle.load(bundle_path)
    c, h, _ = bundle.shape
    torch.manual_seed(seed)  # thesis A: seed set before the model is built -> same init for every source
    model = (model_from_weights_file(arch, bundle.n_classes, c, h, weights) if weights
             else build_model(arch, bundle.n_classes, c, h))
    model = prepare_model_for_device(model.to(dev), dev, cuda)
    data = TensorData.from_bundle(bundle, dev)
    resume_dir = Path(train_log).parent / f".resume_{Path(train_log).stem}"
    resume_dir.mkdir(parents=True, exist_ok=True)
    phash = params_hash({"arch": arch, "seed": seed, "recipe": recipe, "dataset": bundle.meta})

    def save_point(point: str, net, info: dict) -> None:
        blob = checkpoint_blob(net, arch=arch, bundle=bundle, role="pretrain", seed=seed, point=point, info=info,
                               provenance=provenance(device=str(dev), params_hash=phash,
                                                     cuda=active_options(dev, cuda)))
        save_checkpoint(resume_dir / f"{point}.pt", blob)

    log.info("pretrain %s/%s seed %d on %s: %d train images, %d classes, device %s",
             bundle.meta.get("name"), arch, seed, bundle_path, len(data.y_train), bundle.n_classes, dev)
    result = train(model, data, recipe, seed=derive_seed("pretrain", bundle.meta.get("name"), arch, seed),
                   points=list(checkpoints), on_point=save_point, resume_dir=resume_dir,
                   label=f"pretrain {bundle.meta.get('name')} seed{seed}",
                   loss_fn=accelerated_loss(default_loss, dev, cuda))
    for point, path in checkpoints.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(resume_dir / f"{point}.pt", path)
    import pandas as pd

    frame = pd.DataFrame(result.history)
    frame.insert(0, "seed", seed)
    frame.insert(0, "arch", arch)
    frame.insert(0, "source", bundle.meta.get("name"))
    write_csv(train_log, frame)
    shutil.rmtree(resume_dir, ignore_errors=True)
    return {"points": result.points, "seconds": result.seconds}

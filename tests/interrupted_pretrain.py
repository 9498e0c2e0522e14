"""A pre-training job that dies after its second epoch, as if killed: run by
test_workflow.py::test_killed_job_leaves_no_output_and_resumes in a process of its own.

Usage: python tests/interrupted_pretrain.py JOB.json, where JOB.json holds run_pretrain's arguments
(``bundle_path`` plus its keyword arguments). Exits with status 9 at the end of epoch 2.
"""
import json
import sys

import torch

from transferscope.training import loop, pretrain

KILLED_AFTER_EPOCH = 2
EXIT_STATUS = 9


def die_after_epoch(epoch, row):
    if epoch == KILLED_AFTER_EPOCH:
        raise SystemExit(EXIT_STATUS)


def train_until_killed(*args, **kwargs):
    """loop.train with an end-of-epoch hook that ends the process (no cleanup of the job's own)."""
    return loop.train(*args, **{**kwargs, "on_epoch_end": die_after_epoch})


def main(job_file):
    torch.set_num_threads(1)  # as in the test process: the same floating-point results
    with open(job_file) as fh:
        job = json.load(fh)
    pretrain.train = train_until_killed
    pretrain.run_pretrain(job.pop("bundle_path"), **job)


if __name__ == "__main__":
    main(sys.argv[1])

"""Training: the tensor loop, points, optimizers, augmentation, pre-training and fine-tuning jobs."""

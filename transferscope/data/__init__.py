"""Datasets: sources, derivations, splits and the tensor bundle."""
from transferscope.data.bundle import TEST, TRAIN, VAL, Bundle, RawDataset

__all__ = ["Bundle", "RawDataset", "TRAIN", "VAL", "TEST"]

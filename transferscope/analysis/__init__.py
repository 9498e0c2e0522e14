"""Analysis: activations of a fixed target sample, per-layer metrics, and their correlation with transfer."""

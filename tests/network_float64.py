"""A float64 numpy evaluation of a Network (models/network.py), one example at a time.

Why: every backend computes in float32 and orders its sums its own way, so two fp32 backends can
round a score that lies within a few 1e-6 of a `%.3f` boundary to different texts. Which one is
right is what float64 says; tests use this to tell a backend's error from the baseline's.
Slow (plain sliding-window einsums): meant for a handful of records.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnnscore.models.network import (
    ANNOTATION_BN,
    BATCH_NORM_EPSILON,
    DENSE_ANNOTATIONS,
    ConcatAnnotations,
    Conv,
    Dense,
    Network,
    Pool,
)


def probabilities(network: Network, weights, tensor: np.ndarray,
                  annotations: np.ndarray) -> np.ndarray:  # fmt: skip
    """The 4-way softmax of one dense example, every step in float64."""
    w = {name: {key: np.asarray(value, np.float64) for key, value in arrays.items()}
         for name, arrays in weights.items()}  # fmt: skip
    x = np.asarray(tensor, np.float64)
    for step in network.branch:
        if isinstance(step, Conv):
            kernel = w[step.name]["kernel"]
            if network.is_2d:
                windows = sliding_window_view(x, kernel.shape[:2], axis=(0, 1))
                x = np.einsum("hwcij,ijco->hwo", windows, kernel)
            else:
                windows = sliding_window_view(x, kernel.shape[0], axis=0)
                x = np.einsum("wci,ico->wo", windows, kernel)
            x = np.maximum(x + w[step.name]["bias"], 0.0)
        elif isinstance(step, Pool):
            rows = x.shape[0] // step.rows
            x = x[: rows * step.rows].reshape(rows, step.rows, *x.shape[1:]).max(axis=1)
    x = x.reshape(-1)
    norm = w[ANNOTATION_BN]
    normalised = (np.asarray(annotations, np.float64) - norm["moving_mean"]) / np.sqrt(
        norm["moving_variance"] + BATCH_NORM_EPSILON
    ) * norm["gamma"] + norm["beta"]
    dense = w[DENSE_ANNOTATIONS]
    x = np.concatenate([x, np.maximum(normalised @ dense["kernel"] + dense["bias"], 0.0)])
    for step in network.head:
        if isinstance(step, Dense):
            x = x @ w[step.name]["kernel"] + w[step.name]["bias"]
            if step.activation == "relu":
                x = np.maximum(x, 0.0)
            else:
                e = np.exp(x - x.max())
                x = e / e.sum()
        elif isinstance(step, ConcatAnnotations):
            x = np.concatenate([x, normalised])
    return x

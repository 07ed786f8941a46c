"""A float64 numpy evaluation of a Network (models/network.py), one example at a time.

Why: every backend computes in float32 and orders its sums its own way, so two fp32 backends can
round a score that lies within a few 1e-6 of a `%.3f` boundary to different texts. Which one is
right is what float64 says; tests use this to tell a backend's error from the baseline's.
Slow (plain sliding-window einsums): meant for a handful of records. gatk_1d_log_odds below
evaluates GATK's 1D model straight from its .hd5 and JSON, batched (a few seconds for 472 records).
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


# ------------------------------------------------------------------ GATK's 1D model, batched
# Written from GATK's description of 1d_cnn_mix_train_full_bn (its vqsr_cnn builder with
# annotation_shortcut), not from cnnscore's Network: the layers are read from the Keras-2 .hd5
# with h5py and told apart by their arrays' shapes, the labels and annotation count come from the
# architecture JSON. Nothing of cnnscore.models or cnnscore.scoring is used.


def keras2_layers(path) -> list[tuple[str, dict[str, np.ndarray]]]:
    """(layer name, {kernel|bias|gamma|...: float64 array}) of every weighted layer, in the
    file's ``layer_names`` order."""
    import h5py

    def text(value) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    layers = []
    with h5py.File(path, "r") as handle:
        group = handle.get("model_weights", handle)
        for name in map(text, group.attrs["layer_names"]):
            names = [text(n) for n in group[name].attrs.get("weight_names", [])]
            arrays = {n.split("/")[-1].split(":")[0]: np.asarray(group[name][n], np.float64)
                      for n in names}  # fmt: skip
            if arrays:
                layers.append((name, arrays))
    return layers


def gatk_1d_log_odds(
    weights_path, architecture_json, tensors: np.ndarray, annotations: np.ndarray, batch: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """GATK's (snp, indel) log odds, ln(1e-7 + p[SNP] / (p[NOT_SNP] + 1e-7)) and likewise for
    INDEL, of the 1D reference model on (n, window, 4) tensors and (n, annotations) vectors,
    every step in float64.

    The network (GATK's 1D builder, inference): valid stride-1 ReLU convolutions in file order on
    the reference tensor, flattened channels-last; the annotations batch-normalised (Keras
    epsilon 1e-3) and through a ReLU dense layer; both concatenated, a ReLU dense layer, the
    normalised annotations concatenated again (the annotation shortcut), a softmax dense layer.
    """
    import json

    with open(architecture_json) as handle:
        description = json.load(handle)
    labels = description["output_labels"]
    count = len(description["input_annotations"])
    layers = keras2_layers(weights_path)
    convs = [a for _, a in layers if "kernel" in a and a["kernel"].ndim == 3]
    (norm,) = [a for _, a in layers if "moving_mean" in a]
    dense = [a for _, a in layers if "kernel" in a and a["kernel"].ndim == 2]
    (annotation_dense,) = [a for a in dense if a["kernel"].shape[0] == count]
    (softmax,) = [a for a in dense if a["kernel"].shape[1] == len(labels)]
    (fc,) = [a for a in dense if a is not annotation_dense and a is not softmax]

    out = []
    for start in range(0, len(tensors), batch):
        x = np.asarray(tensors[start : start + batch], np.float64)
        for conv in convs:
            width, channels, filters = conv["kernel"].shape
            # im2col: (b, positions, channels, width) -> (b * positions, width * channels) rows,
            # in the kernel's (width, channels) order, and one matrix product
            windows = sliding_window_view(x, width, axis=1).transpose(0, 1, 3, 2)
            rows = windows.reshape(-1, width * channels)
            y = rows @ conv["kernel"].reshape(width * channels, filters) + conv["bias"]
            x = np.maximum(y, 0.0).reshape(x.shape[0], -1, filters)
        flat = x.reshape(x.shape[0], -1)
        a = np.asarray(annotations[start : start + batch], np.float64)
        scale = norm["gamma"] / np.sqrt(norm["moving_variance"] + 1e-3)
        normalised = (a - norm["moving_mean"]) * scale + norm["beta"]
        alpha = np.maximum(normalised @ annotation_dense["kernel"] + annotation_dense["bias"], 0)
        x = np.maximum(np.concatenate([flat, alpha], 1) @ fc["kernel"] + fc["bias"], 0.0)
        logits = np.concatenate([x, normalised], 1) @ softmax["kernel"] + softmax["bias"]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        out.append(e / e.sum(axis=1, keepdims=True))
    p = np.concatenate(out)
    snp = np.log(1e-7 + p[:, labels["SNP"]] / (p[:, labels["NOT_SNP"]] + 1e-7))
    indel = np.log(1e-7 + p[:, labels["INDEL"]] / (p[:, labels["NOT_INDEL"]] + 1e-7))
    return snp, indel

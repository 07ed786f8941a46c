"""GATK's CNN architectures, built in code with Keras, and loaded with GATK's trained weights.

The networks follow the spec (§4.4, §5.8, §5.9). GATK's dropout layers are built only for
training (``dropout=True``, used by ``cnnscore train``): they are the identity at inference, so the
scoring graph leaves them out. Weighted layers are matched to the file's layers kind by kind
(convolutions, batch norms, dense layers) in order, and every array shape is checked, so a JSON
paired with the weights of another model fails with a clear message instead of scoring garbage.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .keras2_weights import LayerWeights
from .spec import REFERENCE, ModelSpec

#: Keras weight order per layer kind.
_ARRAY_ORDER = {
    "conv": ("kernel", "bias"),
    "dense": ("kernel", "bias"),
    "batch_norm": ("gamma", "beta", "moving_mean", "moving_variance"),
}
READ_CHANNELS = 15
REFERENCE_CHANNELS = 4


@dataclass(frozen=True)
class Architecture:
    name: str
    tensor_type: str
    build: Callable[..., object]  # (spec, *, dropout=False) -> keras.Model


def _annotation_branch(keras, spec: ModelSpec):
    annotations = keras.Input(shape=(len(spec.annotations),), name=spec.annotation_set)
    normalised = keras.layers.BatchNormalization(axis=-1, epsilon=1e-3, name="annotation_bn")(
        annotations
    )
    return annotations, normalised


def _conv2d(keras, filters: int, kernel: tuple[int, int], name: str):
    return keras.layers.Conv2D(filters, kernel, padding="valid", activation="relu", name=name)


def _pool(keras, rows: int, name: str):
    return keras.layers.MaxPooling2D(pool_size=(rows, 1), strides=(rows, 1), name=name)


def _dropout(keras, x, rate: float, name: str, enabled: bool, spatial: bool = False):
    """GATK's (spatial) dropout after ``x`` when training; nothing at inference."""
    if not enabled:
        return x
    layer = keras.layers.SpatialDropout2D if spatial else keras.layers.Dropout
    return layer(rate, name=name)(x)


def build_small_2d(spec: ModelSpec, *, dropout: bool = False):
    """``small_2d`` (GATK's default 2D model, spec §5.8)."""
    import keras

    reads = keras.Input(
        shape=(spec.read_limit, spec.window_size, READ_CHANNELS), name="read_tensor"
    )
    x = _conv2d(keras, 64, (25, 1), "conv_1")(reads)
    x = _dropout(keras, x, 0.1, "spatial_dropout_1", dropout, spatial=True)
    x = _conv2d(keras, 48, (1, 25), "conv_2")(x)
    x = _dropout(keras, x, 0.1, "spatial_dropout_2", dropout, spatial=True)
    x = _conv2d(keras, 32, (25, 1), "conv_3")(x)
    x = _dropout(keras, x, 0.1, "spatial_dropout_3", dropout, spatial=True)
    x = _pool(keras, 3, "pool_1")(x)
    x = _conv2d(keras, 24, (1, 25), "conv_4")(x)
    x = _dropout(keras, x, 0.1, "spatial_dropout_4", dropout, spatial=True)
    x = _pool(keras, 3, "pool_2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    annotations, normalised = _annotation_branch(keras, spec)
    a = keras.layers.Dense(64, activation="relu", name="dense_annotations")(normalised)
    x = keras.layers.Concatenate(name="concat")([x, a])
    x = keras.layers.Dense(24, activation="relu", name="dense_fc")(x)
    x = _dropout(keras, x, 0.3, "dropout_fc", dropout)
    out = keras.layers.Dense(4, activation="softmax", name="softmax_predictions")(x)
    return keras.Model([reads, annotations], out, name=spec.model_id)


def build_2d_cnn_mix_train(spec: ModelSpec, *, dropout: bool = False):
    """``2d_cnn_mix_train`` (legacy 2D model; shape inferred from its builder, spec §5.9)."""
    import keras

    reads = keras.Input(
        shape=(spec.read_limit, spec.window_size, READ_CHANNELS), name="read_tensor"
    )
    x = _conv2d(keras, 216, (16, 1), "conv_1")(reads)
    x = _conv2d(keras, 160, (1, 16), "conv_2")(x)
    x = _conv2d(keras, 128, (16, 1), "conv_3")(x)
    x = _pool(keras, 2, "pool_1")(x)
    x = _conv2d(keras, 96, (1, 16), "conv_4")(x)
    x = _pool(keras, 2, "pool_2")(x)
    x = _dropout(keras, x, 0.2, "dropout_1", dropout)
    x = _conv2d(keras, 64, (16, 1), "conv_5")(x)
    x = _pool(keras, 2, "pool_3")(x)
    x = _dropout(keras, x, 0.2, "dropout_2", dropout)
    x = keras.layers.Flatten(name="flatten")(x)
    annotations, normalised = _annotation_branch(keras, spec)
    a = keras.layers.Dense(16, activation="relu", name="dense_annotations")(normalised)
    x = keras.layers.Concatenate(name="concat")([x, a])
    x = keras.layers.Dense(32, activation="relu", name="dense_fc")(x)
    x = keras.layers.Concatenate(name="concat_annotations")([x, normalised])
    x = _dropout(keras, x, 0.3, "dropout_fc", dropout)
    out = keras.layers.Dense(4, activation="softmax", name="softmax_predictions")(x)
    return keras.Model([reads, annotations], out, name=spec.model_id)


def build_1d_cnn_mix_train_full_bn(spec: ModelSpec, *, dropout: bool = False):
    """``1d_cnn_mix_train_full_bn`` (GATK's default 1D model, spec §4.4)."""
    import keras

    reference = keras.Input(shape=(spec.window_size, REFERENCE_CHANNELS), name="reference")
    x = keras.layers.Conv1D(256, 12, padding="valid", activation="relu", name="conv_1")(reference)
    x = keras.layers.Conv1D(256, 12, padding="valid", activation="relu", name="conv_2")(x)
    x = _dropout(keras, x, 0.1, "dropout_1", dropout)
    x = keras.layers.Conv1D(128, 12, padding="valid", activation="relu", name="conv_3")(x)
    x = _dropout(keras, x, 0.1, "dropout_2", dropout)
    x = keras.layers.Flatten(name="flatten")(x)
    annotations, normalised = _annotation_branch(keras, spec)
    a = keras.layers.Dense(40, activation="relu", name="dense_annotations")(normalised)
    x = keras.layers.Concatenate(name="concat")([x, a])
    x = keras.layers.Dense(40, activation="relu", name="dense_fc")(x)
    x = _dropout(keras, x, 0.2, "dropout_fc", dropout)
    x = keras.layers.Concatenate(name="concat_annotations")([x, normalised])
    out = keras.layers.Dense(4, activation="softmax", name="softmax_predictions")(x)
    return keras.Model([reference, annotations], out, name=spec.model_id)


#: Architectures by the ``id`` in GATK's JSON (small_2d.json's id is nova_hiseq_mix_small_tf).
ARCHITECTURES: dict[str, Architecture] = {
    "nova_hiseq_mix_small_tf": Architecture("small_2d", "read_tensor", build_small_2d),
    "small_2d": Architecture("small_2d", "read_tensor", build_small_2d),
    "2d_cnn_mix_train": Architecture("2d_cnn_mix_train", "read_tensor", build_2d_cnn_mix_train),
    "1d_cnn_mix_train_full_bn": Architecture(
        "1d_cnn_mix_train_full_bn", REFERENCE, build_1d_cnn_mix_train_full_bn
    ),
}


def architecture_for(spec: ModelSpec) -> Architecture:
    architecture = ARCHITECTURES.get(spec.model_id)
    if architecture is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise InputError(
            f"unknown architecture id '{spec.model_id}' (known: {known})", path=spec.path
        )
    if architecture.tensor_type != spec.tensor_type:
        raise InputError(
            f"architecture {architecture.name} takes {architecture.tensor_type}, "
            f"but the JSON says {spec.tensor_type}",
            path=spec.path,
        )
    return architecture


def _layer_kind(layer) -> str | None:
    kind = type(layer).__name__
    if kind.startswith("Conv"):
        return "conv"
    if kind == "Dense":
        return "dense"
    if kind == "BatchNormalization":
        return "batch_norm"
    return None


def assign_weights(
    model, file_layers: list[LayerWeights], spec: ModelSpec, weights_path: str
) -> None:
    """Set the model's weights from the file, checking the two describe the same network."""
    mismatch = f"weights do not match architecture {os.path.basename(spec.path)} ({spec.model_id})"
    slots = [layer for layer in model.layers if _layer_kind(layer)]
    for kind in _ARRAY_ORDER:
        ours = [layer for layer in slots if _layer_kind(layer) == kind]
        theirs = [layer for layer in file_layers if layer.kind == kind]
        if len(ours) != len(theirs):
            raise InputError(
                f"{mismatch}: the file has {len(theirs)} {kind} layers, "
                f"the architecture {len(ours)}",
                path=weights_path,
            )
        for layer, stored in zip(ours, theirs):
            try:
                arrays = [stored.arrays[name] for name in _ARRAY_ORDER[kind]]
            except KeyError as err:
                raise InputError(
                    f"{mismatch}: layer {stored.name} lacks {err.args[0]}", path=weights_path
                ) from None
            expected = [tuple(w.shape) for w in layer.get_weights()]
            found = [tuple(a.shape) for a in arrays]
            if expected != found:
                raise InputError(
                    f"{mismatch}: layer {stored.name} has shapes {found}, expected {expected}",
                    path=weights_path,
                )
            layer.set_weights([np.asarray(a, dtype=np.float32) for a in arrays])
    other = [layer.name for layer in file_layers if layer.kind == "other"]
    if other:
        raise InputError(f"{mismatch}: unexpected weighted layers {other}", path=weights_path)


def model_layer_weights(model) -> list[LayerWeights]:
    """The model's weighted layers as the Keras-2 file stores them (the inverse of
    :func:`assign_weights`), for exporting a trained model."""
    layers = []
    for layer in model.layers:
        kind = _layer_kind(layer)
        if kind:
            arrays = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
            layers.append(LayerWeights(layer.name, dict(zip(_ARRAY_ORDER[kind], arrays))))
    return layers


def build_model(spec: ModelSpec, file_layers: list[LayerWeights], weights_path: str):
    """The Keras model for ``spec`` with the file's weights."""
    model = architecture_for(spec).build(spec)
    assign_weights(model, file_layers, spec, weights_path)
    return model

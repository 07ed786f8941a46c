"""Keras models from :class:`~.network.Network` descriptions: the TensorFlow baseline's graph,
the graph ONNX Runtime and openvino-tensorflow convert, and the one ``cnnscore train`` fits.

Layers are created in GATK's order (branch, annotation batch norm, dense layers), so the Keras
model's weighted layers line up with GATK's ``.hd5`` layer order when exported.
"""

from __future__ import annotations

import numpy as np

from .keras2_weights import LayerWeights
from .network import (
    ANNOTATION_BN,
    ARRAY_ORDER,
    BATCH_NORM_EPSILON,
    DENSE_ANNOTATIONS,
    ConcatAnnotations,
    Conv,
    Dense,
    Dropout,
    Network,
    Pool,
    ReplicateRows,
    Weights,
)


def _replicate_last_row_layer():
    import keras

    ops = getattr(keras, "ops", None)
    if ops is not None:  # Keras 3
        concatenate, repeat = ops.concatenate, ops.repeat
    else:  # Keras 2 (TF 2.9, the openvino-tensorflow image)
        import tensorflow as tf

        concatenate, repeat = tf.concat, tf.repeat

    class ReplicateLastRow(keras.layers.Layer):
        """Append ``count`` copies of the last row (axis 1)."""

        def __init__(self, count: int, **kwargs):
            super().__init__(**kwargs)
            self.count = count

        def call(self, x):
            return concatenate([x, repeat(x[:, -1:], self.count, axis=1)], axis=1)

        def get_config(self):
            return {**super().get_config(), "count": self.count}

    return ReplicateLastRow


def _dropout(keras, step: Dropout, x, is_2d: bool):
    if step.spatial and is_2d:
        return keras.layers.SpatialDropout2D(step.rate, name=step.name)(x)
    return keras.layers.Dropout(step.rate, name=step.name)(x)


def build_keras(network: Network, weights: Weights | None = None, *, dropout: bool = False):
    """The Keras model; with ``weights`` set, else Keras' initialisers (for training).

    ``dropout=True`` adds GATK's dropout layers (training); inference graphs leave them out, as
    they are the identity there.
    """
    import keras

    is_2d = network.is_2d
    conv = keras.layers.Conv2D if is_2d else keras.layers.Conv1D
    replicate = _replicate_last_row_layer()
    tensor = keras.Input(shape=network.tensor_shape, name=network.tensor_input)
    x = tensor
    for step in network.branch:
        if isinstance(step, Conv):
            kernel = step.kernel if is_2d else step.kernel[0]
            x = conv(step.filters, kernel, padding="valid", activation="relu", name=step.name)(x)
        elif isinstance(step, Pool):
            pool = (step.rows, 1)
            x = keras.layers.MaxPooling2D(pool_size=pool, strides=pool, name=step.name)(x)
        elif isinstance(step, ReplicateRows):
            if step.count:
                x = replicate(step.count, name=step.name)(x)
        elif isinstance(step, Dropout) and dropout:
            x = _dropout(keras, step, x, is_2d)
    x = keras.layers.Flatten(name="flatten")(x)
    annotations = keras.Input(shape=(network.annotation_count,), name=network.annotation_input)
    normalised = keras.layers.BatchNormalization(
        axis=-1, epsilon=BATCH_NORM_EPSILON, name=ANNOTATION_BN
    )(annotations)
    a = keras.layers.Dense(network.annotation_units, activation="relu", name=DENSE_ANNOTATIONS)(
        normalised
    )
    x = keras.layers.Concatenate(name="concat")([x, a])
    for step in network.head:
        if isinstance(step, Dense):
            x = keras.layers.Dense(step.units, activation=step.activation, name=step.name)(x)
        elif isinstance(step, ConcatAnnotations):
            x = keras.layers.Concatenate(name=step.name)([x, normalised])
        elif isinstance(step, Dropout) and dropout:
            x = _dropout(keras, step, x, is_2d)
    model = keras.Model([tensor, annotations], x, name=network.name)
    if weights is not None:
        for layer in model.layers:
            arrays = weights.get(layer.name)
            if arrays is not None:
                layer.set_weights([arrays[key] for key in _order(arrays)])
    return model


def _order(arrays) -> tuple[str, ...]:
    return ARRAY_ORDER["batch_norm"] if "moving_mean" in arrays else ARRAY_ORDER["dense"]


def model_weights(model) -> Weights:
    """A Keras model's weights by layer name (the inverse of :func:`build_keras`'s ``weights``)."""
    weights: Weights = {}
    for layer in model.layers:
        arrays = layer.get_weights()
        if arrays:
            order = ARRAY_ORDER["batch_norm"] if len(arrays) == 4 else ARRAY_ORDER["dense"]
            weights[layer.name] = {
                key: np.asarray(value, dtype=np.float32) for key, value in zip(order, arrays)
            }
    return weights


def build_model(spec, file_layers: list[LayerWeights], weights_path: str):
    """The Keras model for a GATK JSON ``spec`` with the file's weights (checked)."""
    from .architectures import load_network

    return build_keras(*load_network(spec, file_layers, weights_path))

"""The network built directly in OpenVINO's opset from the bound weights: no TensorFlow.

Converting a Keras model (``openvino.convert_model``) imports TensorFlow (~5 s, ~550 MB resident)
and traces every depth bucket (~2 s each). Building the same graph from the description takes
milliseconds. Layouts: Keras is channels-last, OpenVINO's convolutions are channels-first, so the
tensor is transposed once on entry and back before Flatten, which keeps Keras' flatten order and
so the dense weights unchanged.
"""

from __future__ import annotations

import numpy as np

from ..models.network import (
    DENSE_ANNOTATIONS,
    ConcatAnnotations,
    Conv,
    Dense,
    Network,
    Pool,
    ReplicateRows,
    Weights,
    channels_first_kernel,
    folded_batch_norm,
)


def build_openvino_model(network: Network, weights: Weights, batch_size: int):
    """An ``openvino.Model`` with static shapes (batch_size, ...) computing the softmax."""
    import openvino as ov
    import openvino.opset13 as ops

    spatial = len(network.tensor_shape) - 1
    tensor = ops.parameter([batch_size, *network.tensor_shape], np.float32,
                           name=network.tensor_input)  # fmt: skip
    annotations = ops.parameter([batch_size, network.annotation_count], np.float32,
                                name=network.annotation_input)  # fmt: skip
    tensor.output(0).get_tensor().set_names({network.tensor_input})
    annotations.output(0).get_tensor().set_names({network.annotation_input})

    to_channels_first = [0, spatial + 1, *range(1, spatial + 1)]
    x = ops.transpose(tensor, ops.constant(np.array(to_channels_first, np.int64)))
    for step in network.branch:
        if isinstance(step, Conv):
            arrays = weights[step.name]
            filters = channels_first_kernel(arrays["kernel"])
            x = ops.convolution(x, ops.constant(filters), [1] * spatial, [0] * spatial,
                                [0] * spatial, [1] * spatial)  # fmt: skip
            bias = arrays["bias"].reshape(1, -1, *([1] * spatial))
            x = ops.relu(ops.add(x, ops.constant(bias)))
        elif isinstance(step, Pool):
            pool = [step.rows, 1]
            x = ops.max_pool(x, pool, [1, 1], [0, 0], [0, 0], pool).output(0)
        elif isinstance(step, ReplicateRows) and step.count:
            last = ops.slice(x, np.array([-1]), np.array([np.iinfo(np.int64).max]),
                             np.array([1]), np.array([2]))  # fmt: skip
            repeats = np.ones(spatial + 2, np.int64)
            repeats[2] = step.count
            x = ops.concat([x, ops.tile(last, repeats)], axis=2)
    to_channels_last = [0, *range(2, spatial + 2), 1]
    x = ops.transpose(x, ops.constant(np.array(to_channels_last, np.int64)))
    x = ops.reshape(x, ops.constant(np.array([batch_size, -1], np.int64)), special_zero=False)

    scale, shift = folded_batch_norm(weights)
    normalised = ops.add(ops.multiply(annotations, ops.constant(scale[None, :])),
                         ops.constant(shift[None, :]))  # fmt: skip
    a = _dense(ops, normalised, weights[DENSE_ANNOTATIONS], "relu")
    x = ops.concat([x, a], axis=1)
    for step in network.head:
        if isinstance(step, Dense):
            x = _dense(ops, x, weights[step.name], step.activation)
        elif isinstance(step, ConcatAnnotations):
            x = ops.concat([x, normalised], axis=1)
    return ov.Model([x], [tensor, annotations], network.name)


def _dense(ops, x, arrays, activation: str):
    y = ops.add(ops.matmul(x, ops.constant(arrays["kernel"]), False, False),
                ops.constant(arrays["bias"][None, :]))  # fmt: skip
    return ops.relu(y) if activation == "relu" else ops.softmax(y, 1)

"""The network written as an ONNX graph from the bound weights: no TensorFlow, no tf2onnx.

Exporting a Keras model imports TensorFlow (~5 s, ~550 MB resident) and traces every depth bucket
(~15 s for the depth-adaptive set); writing the graph from the description takes milliseconds and
keeps TensorFlow out of an ONNX Runtime process. The layouts follow ``openvino_graph``: channels
first for the convolutions, back to channels-last before Flatten, so Keras' flatten order and the
dense weights hold unchanged.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

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

OPSET = 17


class _Graph:
    """Nodes and initializers under unique names: ``add`` returns the new node's output."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def const(self, array: np.ndarray) -> str:
        name = f"const_{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def add(self, op: str, *inputs: str, **attributes) -> str:
        output = f"{op.lower()}_{len(self.nodes)}"
        self.nodes.append(helper.make_node(op, list(inputs), [output], output, **attributes))
        return output


def build_onnx_model(network: Network, weights: Weights, batch_size: int) -> onnx.ModelProto:
    """A checked ONNX model (opset 17), static shapes (batch_size, ...), computing the softmax."""
    g = _Graph()
    spatial = len(network.tensor_shape) - 1
    x = g.add("Transpose", network.tensor_input, perm=[0, spatial + 1, *range(1, spatial + 1)])
    for step in network.branch:
        if isinstance(step, Conv):
            arrays = weights[step.name]
            filters = channels_first_kernel(arrays["kernel"])
            x = g.add("Conv", x, g.const(filters), g.const(arrays["bias"]))
            x = g.add("Relu", x)
        elif isinstance(step, Pool):
            window = [step.rows] + [1] * (spatial - 1)
            x = g.add("MaxPool", x, kernel_shape=window, strides=window)
        elif isinstance(step, ReplicateRows) and step.count:
            last = g.add("Gather", x, g.const(np.full(step.count, -1, np.int64)), axis=2)
            x = g.add("Concat", x, last, axis=2)
    x = g.add("Transpose", x, perm=[0, *range(2, spatial + 2), 1])
    x = g.add("Flatten", x, axis=1)

    scale, shift = folded_batch_norm(weights)
    normalised = g.add("Mul", network.annotation_input, g.const(scale))
    normalised = g.add("Add", normalised, g.const(shift))
    x = g.add("Concat", x, _dense(g, normalised, weights[DENSE_ANNOTATIONS], "relu"), axis=1)
    for step in network.head:
        if isinstance(step, Dense):
            x = _dense(g, x, weights[step.name], step.activation)
        elif isinstance(step, ConcatAnnotations):
            x = g.add("Concat", x, normalised, axis=1)

    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, [batch_size, *shape])
        for name, shape in zip(network.input_names, network.input_shapes)
    ]
    output = helper.make_tensor_value_info(x, TensorProto.FLOAT, [batch_size, 4])
    graph = helper.make_graph(g.nodes, network.name, inputs, [output], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model)
    return model


def _dense(g: _Graph, x: str, arrays: dict[str, np.ndarray], activation: str) -> str:
    y = g.add("Gemm", x, g.const(arrays["kernel"]), g.const(arrays["bias"]))
    return g.add("Relu", y) if activation == "relu" else g.add("Softmax", y, axis=1)

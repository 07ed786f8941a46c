"""The Keras 2.2 ``model_config`` of a network, so GATK can load a model cnnscore trained.

GATK loads its models with ``keras.models.load_model(hd5)``: the file must hold the topology (the
``model_config`` attribute, Keras 2.2's JSON) besides the weights. This writes that JSON from the
description, in the layout of GATK's own ``small_2d.hd5`` (same layer classes and config keys,
dropout layers included, as they are part of a trained topology). Keras 2 assigns weights by the
order of its weighted layers, which it sorts by depth, so layers are listed in that order here.
"""

from __future__ import annotations

from typing import Any

from .keras2_weights import LayerWeights, write_keras2_weights
from .network import (
    ANNOTATION_BN,
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

_GLOROT_NORMAL = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "normal", "seed": None},
}
_NO_REGULARISATION = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "kernel_constraint": None, "bias_constraint": None,
}  # fmt: skip


def _initialiser(name: str) -> dict[str, Any]:
    return {"class_name": name, "config": {}}


def _weighted(units_key: str, units: int, activation: str) -> dict[str, Any]:
    return {
        units_key: units, "activation": activation, "use_bias": True,
        "kernel_initializer": _GLOROT_NORMAL, "bias_initializer": _initialiser("Zeros"),
        **_NO_REGULARISATION,
    }  # fmt: skip


class _Layers:
    """Layers with their inputs, in creation order (every layer after its inputs)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.inputs: dict[str, list[str]] = {}

    def add(self, class_name: str, name: str, config: dict[str, Any], inputs: list[str]) -> str:
        self.inputs[name] = inputs
        self.entries.append({
            "name": name,
            "class_name": class_name,
            "config": {"name": name, "trainable": True, **config},
            "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else [],
        })  # fmt: skip
        return name

    def input(self, name: str, shape: tuple[int, ...]) -> str:
        config = {"batch_input_shape": [None, *shape], "dtype": "float32", "sparse": False}
        self.inputs[name] = []
        self.entries.append({
            "name": name, "class_name": "InputLayer",
            "config": {**config, "name": name}, "inbound_nodes": [],
        })  # fmt: skip
        return name

    def in_keras_order(self, output: str) -> list[dict[str, Any]]:
        """Keras 2's order (``Network._map_graph_network``): by longest path to the output,
        farthest first; within a depth, by first visit of a depth-first walk from the output
        that takes each layer's inputs in order."""
        depth = dict.fromkeys(self.inputs, 0)
        for entry in reversed(self.entries):  # consumers before their inputs
            for name in self.inputs[entry["name"]]:
                depth[name] = max(depth[name], depth[entry["name"]] + 1)
        visited: dict[str, int] = {}
        pending = [output]
        while pending:
            name = pending.pop()
            if name not in visited:
                visited[name] = len(visited)
                pending.extend(reversed(self.inputs[name]))
        return sorted(self.entries, key=lambda e: (-depth[e["name"]], visited[e["name"]]))


def keras2_model_config(network: Network) -> dict[str, Any]:
    """``{"class_name": "Model", "config": ...}`` for the network with its dropout layers."""
    layers = _Layers()
    is_2d = network.is_2d
    x = layers.input(network.tensor_input, network.tensor_shape)
    for step in network.branch:
        if isinstance(step, Conv):
            kernel = list(step.kernel)
            config = {
                **_weighted("filters", step.filters, "relu"), "kernel_size": kernel,
                "strides": [1] * len(kernel), "padding": "valid", "data_format": "channels_last",
                "dilation_rate": [1] * len(kernel),
            }  # fmt: skip
            x = layers.add("Conv2D" if is_2d else "Conv1D", step.name, config, [x])
        elif isinstance(step, Pool):
            config = {"pool_size": [step.rows, 1], "padding": "valid",
                      "strides": [step.rows, 1], "data_format": "channels_last"}  # fmt: skip
            x = layers.add("MaxPooling2D", step.name, config, [x])
        elif isinstance(step, Dropout):
            x = _dropout(layers, step, x, is_2d)
        elif isinstance(step, ReplicateRows):
            raise ValueError("depth-adaptive networks are for inference only, not for export")
    x = layers.add("Flatten", "flatten", {"data_format": "channels_last"}, [x])
    annotations = layers.input(network.annotation_input, (network.annotation_count,))
    normalised = layers.add("BatchNormalization", ANNOTATION_BN, {
        "axis": -1, "momentum": 0.99, "epsilon": BATCH_NORM_EPSILON, "center": True, "scale": True,
        "beta_initializer": _initialiser("Zeros"), "gamma_initializer": _initialiser("Ones"),
        "moving_mean_initializer": _initialiser("Zeros"),
        "moving_variance_initializer": _initialiser("Ones"),
        "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
        "gamma_constraint": None,
    }, [annotations])  # fmt: skip
    a = layers.add("Dense", DENSE_ANNOTATIONS, _weighted("units", network.annotation_units, "relu"),
                   [normalised])  # fmt: skip
    x = layers.add("Concatenate", "concat", {"axis": -1}, [x, a])
    for step in network.head:
        if isinstance(step, Dense):
            x = layers.add("Dense", step.name, _weighted("units", step.units, step.activation), [x])
        elif isinstance(step, ConcatAnnotations):
            x = layers.add("Concatenate", step.name, {"axis": -1}, [x, normalised])
        elif isinstance(step, Dropout):
            x = _dropout(layers, step, x, is_2d)
    return {
        "class_name": "Model",
        "config": {
            "name": network.name,
            "layers": layers.in_keras_order(x),
            "input_layers": [[network.tensor_input, 0, 0], [network.annotation_input, 0, 0]],
            "output_layers": [[x, 0, 0]],
        },
    }


def _dropout(layers: _Layers, step: Dropout, x: str, is_2d: bool) -> str:
    kind = "SpatialDropout2D" if step.spatial and is_2d else "Dropout"
    return layers.add(kind, step.name, {"rate": step.rate, "noise_shape": None, "seed": None}, [x])


def write_gatk_model(path: str, network: Network, weights: Weights) -> None:
    """A whole Keras 2.2 model file, as GATK ships its models: topology and weights."""
    config = keras2_model_config(network)
    names = [layer["name"] for layer in config["config"]["layers"]]
    layers = [LayerWeights(name, dict(arrays)) for name, arrays in weights.items()]
    write_keras2_weights(path, layers, names, model_config=config)

"""GATK's CNNs as plain data: the layers in order, with no deep-learning framework imported.

Every backend builds its runtime graph from this one description (Keras for TensorFlow and
training, OpenVINO's opset directly, ...), so a backend that does not need TensorFlow never
imports it: that is ~5 s and ~550 MB less per scoring process. Depth-adaptive inference rewrites
the description (fewer input rows, row copies inserted), not a framework's graph.

The networks share one shape:
``tensor → branch (convs, pools) → flatten`` beside
``annotations → batch norm → dense``, concatenated, then a head of dense layers (where GATK
concatenates the normalised annotations again, ``ConcatAnnotations`` says so), ending in a
4-way softmax. Convolutions are ``valid`` with stride 1 and ReLU; pools are (p, 1) max-pools with
stride p. Dropout is kept in the description because training needs it; inference skips it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Union

import numpy as np

from ..errors import InputError
from .keras2_weights import LayerWeights

READ_CHANNELS = 15
REFERENCE_CHANNELS = 4


@dataclass(frozen=True)
class Conv:
    """A valid, stride-1 convolution with ReLU; ``kernel`` has one entry (1D) or two (2D)."""

    name: str
    filters: int
    kernel: tuple[int, ...]


@dataclass(frozen=True)
class Pool:
    """A (rows, 1) max-pool with stride (rows, 1)."""

    name: str
    rows: int


@dataclass(frozen=True)
class Dropout:
    """Training-only; ``spatial`` drops whole channels (Keras' SpatialDropout2D)."""

    name: str
    rate: float
    spatial: bool = False


@dataclass(frozen=True)
class ReplicateRows:
    """Append ``count`` copies of the last row (depth-adaptive inference only)."""

    name: str
    count: int


@dataclass(frozen=True)
class Dense:
    name: str
    units: int
    activation: str  # "relu" or "softmax"


@dataclass(frozen=True)
class ConcatAnnotations:
    """Concatenate the batch-normalised annotations to the running vector."""

    name: str


# Union, not |: the openvino-tensorflow image runs Python 3.9
BranchStep = Union[Conv, Pool, Dropout, ReplicateRows]  # noqa: UP007
HeadStep = Union[Dense, Dropout, ConcatAnnotations]  # noqa: UP007

ANNOTATION_BN = "annotation_bn"
DENSE_ANNOTATIONS = "dense_annotations"
#: Keras' BatchNormalization epsilon in GATK's models.
BATCH_NORM_EPSILON = 1e-3


@dataclass(frozen=True)
class Network:
    name: str  # the Keras model name (GATK's model id)
    tensor_input: str  # "read_tensor" or "reference"
    tensor_shape: tuple[int, ...]  # per example: (rows, width, channels) or (width, channels)
    annotation_input: str  # the annotation set's name
    annotation_count: int
    branch: tuple[BranchStep, ...]
    annotation_units: int
    head: tuple[HeadStep, ...]

    @property
    def is_2d(self) -> bool:
        return len(self.tensor_shape) == 3

    @property
    def input_names(self) -> list[str]:
        return [self.tensor_input, self.annotation_input]

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        return [self.tensor_shape, (self.annotation_count,)]

    def with_rows(self, rows: int, branch: tuple[BranchStep, ...], name: str) -> Network:
        """The same network on ``rows`` input rows with a rewritten branch (same weights)."""
        return replace(self, name=name, tensor_shape=(rows, *self.tensor_shape[1:]), branch=branch)


def branch_output_shape(network: Network) -> tuple[int, ...]:
    """The branch's output shape per example (before Flatten), checked step by step."""
    shape = list(network.tensor_shape)
    for step in network.branch:
        if isinstance(step, Conv):
            spatial = shape[:-1]
            if len(step.kernel) != len(spatial):
                raise ValueError(f"{step.name}: kernel {step.kernel} on a {len(spatial)}-D input")
            shape = [size - k + 1 for size, k in zip(spatial, step.kernel)] + [step.filters]
        elif isinstance(step, Pool):
            shape[0] //= step.rows
        elif isinstance(step, ReplicateRows):
            shape[0] += step.count
        if min(shape) < 1:
            raise ValueError(f"{network.name}: {step.name} leaves no output ({shape})")
    return tuple(shape)


def weight_shapes(network: Network) -> dict[str, dict[str, tuple[int, ...]]]:
    """The arrays each weighted layer holds, by layer name, in Keras' shapes and order."""
    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    channels = network.tensor_shape[-1]
    for step in network.branch:
        if isinstance(step, Conv):
            shapes[step.name] = {
                "kernel": (*step.kernel, channels, step.filters),
                "bias": (step.filters,),
            }
            channels = step.filters
    count = network.annotation_count
    shapes[ANNOTATION_BN] = {
        key: (count,) for key in ("gamma", "beta", "moving_mean", "moving_variance")
    }
    shapes[DENSE_ANNOTATIONS] = {
        "kernel": (count, network.annotation_units),
        "bias": (network.annotation_units,),
    }
    width = math.prod(branch_output_shape(network)) + network.annotation_units
    for step in network.head:
        if isinstance(step, Dense):
            shapes[step.name] = {"kernel": (width, step.units), "bias": (step.units,)}
            width = step.units
        elif isinstance(step, ConcatAnnotations):
            width += count
    return shapes


def _kind_of_shapes(shapes: dict[str, tuple[int, ...]]) -> str:
    if "moving_mean" in shapes:
        return "batch_norm"
    return "dense" if len(shapes["kernel"]) == 2 else "conv"


#: Keras weight order per layer kind.
ARRAY_ORDER = {
    "conv": ("kernel", "bias"),
    "dense": ("kernel", "bias"),
    "batch_norm": ("gamma", "beta", "moving_mean", "moving_variance"),
}

Weights = dict[str, dict[str, np.ndarray]]


def bind_weights(
    network: Network, file_layers: list[LayerWeights], architecture_path: str, weights_path: str
) -> Weights:
    """The file's arrays by our layer names, after checking they describe this network.

    Layers are matched kind by kind (convolutions, batch norms, dense layers) in order, as GATK's
    files name them differently across versions; every array's shape is checked, so a JSON paired
    with another model's weights fails with a clear message instead of scoring garbage.
    """
    mismatch = f"weights do not match architecture {architecture_path} ({network.name})"
    expected = weight_shapes(network)
    bound: Weights = {}
    for kind, order in ARRAY_ORDER.items():
        ours = [name for name, arrays in expected.items() if _kind_of_shapes(arrays) == kind]
        theirs = [layer for layer in file_layers if layer.kind == kind]
        if len(ours) != len(theirs):
            raise InputError(
                f"{mismatch}: the file has {len(theirs)} {kind} layers, "
                f"the architecture {len(ours)}",
                path=weights_path,
            )
        for name, stored in zip(ours, theirs):
            missing = [key for key in order if key not in stored.arrays]
            if missing:
                raise InputError(
                    f"{mismatch}: layer {stored.name} lacks {missing[0]}", path=weights_path
                )
            found = [tuple(stored.arrays[key].shape) for key in order]
            wanted = [expected[name][key] for key in order]
            if found != wanted:
                raise InputError(
                    f"{mismatch}: layer {stored.name} has shapes {found}, expected {wanted}",
                    path=weights_path,
                )
            bound[name] = {key: np.asarray(stored.arrays[key], dtype=np.float32) for key in order}
    other = [layer.name for layer in file_layers if layer.kind == "other"]
    if other:
        raise InputError(f"{mismatch}: unexpected weighted layers {other}", path=weights_path)
    return {name: bound[name] for name in expected}  # the network's layer order


def folded_batch_norm(weights: Weights) -> tuple[np.ndarray, np.ndarray]:
    """The annotation batch norm at inference as ``x * scale + shift`` (float32)."""
    norm = weights[ANNOTATION_BN]
    scale = norm["gamma"] / np.sqrt(norm["moving_variance"] + np.float32(BATCH_NORM_EPSILON))
    shift = norm["beta"] - norm["moving_mean"] * scale
    return scale.astype(np.float32), shift.astype(np.float32)


def channels_first_kernel(kernel: np.ndarray) -> np.ndarray:
    """A Keras convolution kernel (*kernel, in, out) as (out, in, *kernel), for runtimes whose
    convolutions are channels-first (OpenVINO, ONNX)."""
    spatial = kernel.ndim - 2
    return np.ascontiguousarray(kernel.transpose(spatial + 1, spatial, *range(spatial)))


def parameter_count(network: Network) -> int:
    return sum(math.prod(shape) for arrays in weight_shapes(network).values()
               for shape in arrays.values())  # fmt: skip

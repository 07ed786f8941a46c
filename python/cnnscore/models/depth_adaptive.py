"""Exact depth-adaptive 2D inference: skip the empty read rows without changing a score.

Why it is exact. In a 2D read tensor every row after the last read is the same (reference channels
only). Follow a block of rows whose last row stands for "this row and every row below are equal":
- a (k, 1) valid convolution makes output row i from input rows i..i+k-1, so if the input rows from
  c on are equal, so are the output rows from c on; computing m output rows needs m + k - 1 input
  rows, the missing ones being copies of the last (constant) row;
- a (1, k) convolution, ReLU and bias act on each row alone: the block keeps its rows;
- a (p, 1) max-pool with stride p, aligned from the top, makes row j from rows pj..pj+p-1: rows j
  with pj >= c are all equal, so m' = ceil((m - 1) / p) + 1 rows carry everything.
Starting from the first B + 1 rows of a tensor with at most B reads (row B is an empty row), this
yields, before Flatten, the first m rows of the dense feature map, the rest being copies of row
m - 1; replicating it gives the full map and the unchanged head (Flatten, Dense, ...) computes the
same softmax, up to float summation order. Any other layer in the read branch (a (k, k) conv, a
stride, padding) breaks the argument: such models run dense, with the reason logged.

Variants are grouped into a few row-count buckets, one static-shape model per bucket, all sharing
the dense model's layers (and so its weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Bucket sizes tried, as "at most B reads" (B + 1 rows are computed); invalid ones are dropped.
CANDIDATE_BUCKETS = (15, 31, 47, 63, 79, 95)


class NotAdaptable(Exception):
    """The read branch has a layer the row argument does not cover."""


@dataclass(frozen=True)
class ChainStep:
    layer: object  # a Keras Conv2D or MaxPooling2D
    row_kernel: int  # k of a (k, 1) conv, 1 for a (1, k) conv, p of a (p, 1) pool
    is_pool: bool


def read_chain(model) -> tuple[list[ChainStep], object]:
    """The conv/pool layers from the read input to Flatten, checked, and the Flatten layer."""
    current = model.inputs[0]
    steps: list[ChainStep] = []
    by_input = {id(layer.input): layer for layer in model.layers if _single_input(layer)}
    while True:
        layer = by_input.get(id(current))
        if layer is None:
            raise NotAdaptable("the read input does not feed a single chain of layers")
        kind = type(layer).__name__
        if kind == "Flatten":
            return steps, layer
        config = layer.get_config()
        if kind == "Conv2D":
            kernel = tuple(config["kernel_size"])
            if (config["padding"] != "valid" or tuple(config["strides"]) != (1, 1)
                    or tuple(config["dilation_rate"]) != (1, 1) or 1 not in kernel):  # fmt: skip
                raise NotAdaptable(
                    f"layer {layer.name}: conv {kernel} is not (k,1) or (1,k), valid"
                )
            steps.append(ChainStep(layer, kernel[0] if kernel[1] == 1 else 1, False))
        elif kind == "MaxPooling2D":
            pool, strides = tuple(config["pool_size"]), tuple(config["strides"])
            if config["padding"] != "valid" or pool[1] != 1 or strides != pool:
                raise NotAdaptable(f"layer {layer.name}: pool {pool}/{strides} is not (p,1)")
            steps.append(ChainStep(layer, pool[0], True))
        else:
            raise NotAdaptable(f"layer {layer.name} ({kind}) in the read branch")
        current = layer.output


def _single_input(layer) -> bool:
    try:
        return not isinstance(layer.input, (list, tuple))
    except (AttributeError, ValueError):
        return False


def row_plan(steps: list[ChainStep], bucket: int, rows: int) -> list[int] | None:
    """Rows to replicate before each step (and a last entry before Flatten), or None when the
    bucket is too large for this network (a block would exceed the full height somewhere)."""
    computed, height, plan = bucket + 1, rows, []
    for step in steps:
        if step.is_pool:
            pooled = math.ceil((computed - 1) / step.row_kernel) + 1
            plan.append(step.row_kernel * pooled - computed)
            computed, height = pooled, height // step.row_kernel
        else:
            plan.append(step.row_kernel - 1)
            height -= step.row_kernel - 1
        if computed > height:
            return None
    plan.append(height - computed)
    return plan


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
            if self.count == 0:
                return x
            return concatenate([x, repeat(x[:, -1:, :, :], self.count, axis=1)], axis=1)

        def get_config(self):
            return {**super().get_config(), "count": self.count}

    return ReplicateLastRow


def build_bucket_model(model, steps: list[ChainStep], flatten, bucket: int, plan: list[int]):
    """The model for tensors with at most ``bucket`` reads: input rows [0, bucket], same weights."""
    import keras

    replicate = _replicate_last_row_layer()
    reads_input, annotations_input = model.inputs[0], model.inputs[1]
    tail = keras.Model([flatten.input, annotations_input], model.output)
    reads = keras.Input(shape=(bucket + 1, *reads_input.shape[2:]), name="read_tensor")
    annotations = keras.Input(shape=annotations_input.shape[1:],
                              name=annotations_input.name.split(":")[0])  # fmt: skip
    x = reads
    for step, extra in zip(steps, plan):
        if extra:
            x = replicate(extra)(x)
        x = step.layer(x)
    if plan[-1]:
        x = replicate(plan[-1])(x)
    return keras.Model([reads, annotations], tail([x, annotations]), name=f"rows_{bucket}")


def bucket_models(model, candidates=CANDIDATE_BUCKETS) -> dict[int, object]:
    """Models per bucket size, largest valid buckets included; raises NotAdaptable."""
    steps, flatten = read_chain(model)
    rows = model.inputs[0].shape[1]
    models = {}
    for bucket in candidates:
        plan = row_plan(steps, bucket, rows)
        if plan is not None and bucket < rows:
            models[bucket] = build_bucket_model(model, steps, flatten, bucket, plan)
    if not models:
        raise NotAdaptable("no bucket fits this network's row arithmetic")
    return models

"""The network built directly in OpenVINO's opset from the bound weights: no TensorFlow.

Converting a Keras model (``openvino.convert_model``) imports TensorFlow (~5 s, ~550 MB resident)
and traces every depth bucket (~2 s each). Building the same graph from the description takes
milliseconds. Layouts: Keras is channels-last, OpenVINO's convolutions are channels-first, so the
tensor is transposed once on entry and back before Flatten, which keeps Keras' flatten order and
so the dense weights unchanged.
"""

from __future__ import annotations

import functools

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
from .axis_dft import axis_dft, dft_blocks, use_dft, window_plan


def build_openvino_model(network: Network, weights: Weights, batch_size: int, dft: bool = False):
    """An ``openvino.Model`` with static shapes (batch_size, ...) computing the softmax.

    ``dft``: evaluate the 2D branch's long one-axis convolutions through DFT matrix products
    (:mod:`.axis_dft`) where that needs fewer multiply-adds; the same scores up to float
    summation order."""
    import openvino as ov
    import openvino.opset13 as ops

    spatial = len(network.tensor_shape) - 1
    tensor = ops.parameter([batch_size, *network.tensor_shape], np.float32,
                           name=network.tensor_input)  # fmt: skip
    annotations = ops.parameter([batch_size, network.annotation_count], np.float32,
                                name=network.annotation_input)  # fmt: skip
    tensor.output(0).get_tensor().set_names({network.tensor_input})
    annotations.output(0).get_tensor().set_names({network.annotation_input})

    if spatial == 2:
        x = _branch_2d(ops, tensor, network, weights, batch_size, dft)
    else:
        x = _branch_1d(ops, tensor, network, weights)
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


def _branch_1d(ops, tensor, network: Network, weights: Weights):
    """(N, L, C) -> channels-first convolutions and pools -> back to (N, L', C') for Flatten."""
    x = ops.transpose(tensor, _i64(ops, 0, 2, 1))
    for step in network.branch:
        if isinstance(step, Conv):
            arrays = weights[step.name]
            filters = channels_first_kernel(arrays["kernel"])
            x = ops.convolution(x, ops.constant(filters), [1], [0], [0], [1])
            x = ops.relu(ops.add(x, ops.constant(arrays["bias"].reshape(1, -1, 1))))
        elif isinstance(step, Pool):
            x = ops.max_pool(x, [step.rows], [1], [0], [0], [step.rows]).output(0)
    return ops.transpose(x, _i64(ops, 0, 2, 1))


class _Tensor:
    """A 2D-branch tensor with its axes named (N, C, H, W in some order) and their sizes, so each
    step can run in whatever layout suits it and the layout changes only where it must."""

    def __init__(self, ops, node, axes: str, sizes: dict[str, int]):
        self.ops, self.node, self.axes, self.sizes = ops, node, axes, dict(sizes)

    def shape(self, axes: str | None = None) -> list[int]:
        return [self.sizes[a] for a in (axes or self.axes)]

    def to(self, axes: str) -> _Tensor:
        if axes == self.axes:
            return self
        perm = _i64(self.ops, *[self.axes.index(a) for a in axes])
        return _Tensor(self.ops, self.ops.transpose(self.node, perm), axes, self.sizes)

    def bias_relu(self, bias: np.ndarray) -> _Tensor:
        shape = [len(bias) if a == "C" else 1 for a in self.axes]
        node = self.ops.relu(self.ops.add(self.node, self.ops.constant(bias.reshape(shape))))
        return _Tensor(self.ops, node, self.axes, self.sizes)


def _branch_2d(ops, tensor, network: Network, weights: Weights, batch: int, dft: bool):
    rows, width, channels = network.tensor_shape
    x = _Tensor(ops, tensor, "NHWC", {"N": batch, "H": rows, "W": width, "C": channels})
    copies = 0  # rows to append as copies of the last one, deferred: a DFT along H folds them
    for step in network.branch:
        if isinstance(step, ReplicateRows):
            copies += step.count
            continue
        if isinstance(step, Conv):
            arrays = weights[step.name]
            axis, taps = ("H", step.kernel[0]) if step.kernel[1] == 1 else ("W", step.kernel[1])
            length, filters = x.sizes[axis], arrays["kernel"].shape[-1]
            kept = None
            if axis == "H":
                length, kept = length + copies, length
            args = (length, taps, x.sizes["C"], filters)
            if dft and use_dft(*args, kept):
                kernel = arrays["kernel"].reshape(taps, x.sizes["C"], filters)
                if axis != "H":  # only a transform along the rows folds the copies in
                    x = _append_rows(ops, x, copies)
                plan = window_plan(length, taps, dft_blocks(*args, kept), kept)
                windows = [(start, read, _transform(kernel, size, read))
                           for start, size, read in plan]  # fmt: skip
                x = _dft_conv(ops, x, axis, windows)
            else:
                x = _append_rows(ops, x, copies).to("NCHW")
                filters_first = channels_first_kernel(arrays["kernel"])
                node = ops.convolution(x.node, ops.constant(filters_first), [1, 1], [0, 0],
                                       [0, 0], [1, 1])  # fmt: skip
                sizes = {**x.sizes, "C": filters, axis: x.sizes[axis] - taps + 1}
                x = _Tensor(ops, node, "NCHW", sizes)
            copies = 0
            x = x.bias_relu(arrays["bias"])
        elif isinstance(step, Pool):
            x = _pool_rows(ops, _append_rows(ops, x, copies), step.rows)
            copies = 0
    x = _append_rows(ops, x, copies)
    return x.to("NHWC").node  # Keras' flatten order, so the dense weights stay as they are


def _transform(kernel: np.ndarray, length: int, kept: int | None):
    """:func:`axis_dft`, computed once per kernel, length and kept rows: the window axis's
    transforms are the same in every depth bucket's model. The transforms were half of building
    small_2d's seven graphs (53 of 99 ms, a build holding the GIL while the others compile);
    sharing these takes 24 ms off it, the scores the same to the bit."""
    return _transform_of(kernel.tobytes(), kernel.shape, kernel.dtype.str, length, kept)


@functools.lru_cache(maxsize=32)  # a run's: 2-3 per model and 2 shared, up to 9 models
def _transform_of(data: bytes, shape: tuple, dtype: str, length: int, kept: int | None):
    return axis_dft(np.frombuffer(data, dtype).reshape(shape), length, kept)


def _append_rows(ops, x: _Tensor, count: int) -> _Tensor:
    """``count`` copies of the last row appended (depth-adaptive inference)."""
    if not count:
        return x
    at = x.axes.index("H")
    last = ops.slice(x.node, np.array([-1]), np.array([np.iinfo(np.int64).max]), np.array([1]),
                     np.array([at]))  # fmt: skip
    repeats = np.ones(4, np.int64)
    repeats[at] = count
    node = ops.concat([x.node, ops.tile(last, repeats)], axis=at)
    return _Tensor(ops, node, x.axes, {**x.sizes, "H": x.sizes["H"] + count})


def _dft_conv(ops, x: _Tensor, axis: str, windows: list) -> _Tensor:
    """A valid one-axis convolution (before bias) as forward DFT, per-bin channel mix, inverse,
    in one or more overlap-save blocks (``windows``: (first position, positions read, AxisDft)).

    The input is laid out channels first and the convolved axis innermost, (C, rest, L), so that
    the forward product (2F, L) x (C * rest, L)^T gives (F, 2C, rest): per bin, the mix's operand
    as it lies in memory. The mix gives (F, 2D, rest), which read as (2F, D * rest) is the
    inverse's operand, and the output (L', D, rest) puts the axis first, where the next step
    along it wants it (the next convolution along it, or a row pool); three matrix products and
    no copy between them, the only layout change the one into (C, rest, L).

    Blocks read their positions as slices of the last axis (strided copies). Consecutive blocks
    with the same transform are stacked, (g, C * rest, L_j), and run as one batch of the same three
    products, whose output (g, L'_j, D * rest) is already the blocks' outputs in order (on a
    2-core AVX-512 EPYC a 48-row bucket's batched mix took 1.27 ms against 2 x 0.73 ms as two
    chains, and one Gather of every block's window 0.3 ms against 0.1 ms for the slices). Groups
    with different transforms (a depth bucket's copied rows fold differently into each block)
    are concatenated along the leading axis."""
    others = "".join(a for a in x.axes if a not in (axis, "C"))
    x = x.to("C" + others + axis)
    rest = int(np.prod([x.sizes[a] for a in others]))
    flat = ops.reshape(x.node, _i64(ops, -1, x.sizes[axis]), False)  # (C * rest, L)
    groups: list[tuple[object, list]] = []  # (transform, its blocks' inputs)
    one = _i64(ops, 1)
    for start, read, dft in windows:
        if (start, read) == (0, x.sizes[axis]):
            window = flat
        else:
            window = ops.slice(flat, _i64(ops, start), _i64(ops, start + read), one, one)
        if groups and groups[-1][0] is dft:
            groups[-1][1].append(window)
        else:
            groups.append((dft, [window]))
    values = [_dft_products(ops, dft, blocks, x.sizes["C"], rest) for dft, blocks in groups]
    outputs = sum(dft.outputs * len(blocks) for dft, blocks in groups)
    node = values[0] if len(values) == 1 else ops.concat(values, axis=0)
    sizes = {**x.sizes, "C": windows[0][2].filters, axis: outputs}
    axes = axis + "C" + others
    node = ops.reshape(node, _i64(ops, *[sizes[a] for a in axes]), False)
    return _Tensor(ops, node, axes, sizes)


def _dft_products(ops, dft, blocks: list, channels: int, rest: int):
    """The three products for g blocks of (C * rest, L_j) with one transform: (g L', D * rest).
    More than one block runs as a batch (a leading axis of g; the constants broadcast)."""
    count, bins, filters = len(blocks), dft.bins, dft.filters
    lead = [count] if count > 1 else []
    window = blocks[0]
    if count > 1:
        window = ops.reshape(ops.concat(blocks, axis=0), _i64(ops, count, -1, dft.kept), False)
    spectrum = ops.matmul(ops.constant(dft.forward), window, False, True)  # (g, 2F, C * rest)
    operand = ops.reshape(spectrum, _i64(ops, *lead, bins, 2 * channels, rest), False)
    mixed = ops.matmul(ops.constant(dft.mix), operand, False, False)  # (g, F, 2D, rest)
    stacked = ops.reshape(mixed, _i64(ops, *lead, 2 * bins, filters * rest), False)
    values = ops.matmul(ops.constant(dft.inverse), stacked, False, False)  # (g, L', D * rest)
    if count > 1:
        values = ops.reshape(values, _i64(ops, count * dft.outputs, filters * rest), False)
    return values


def _pool_rows(ops, x: _Tensor, rows: int) -> _Tensor:
    """A (rows, 1) max-pool with stride rows (floor): on the leading axis when the rows lead,
    otherwise OpenVINO's pool on channels-first."""
    pooled = x.sizes["H"] // rows
    sizes = {**x.sizes, "H": pooled}
    if x.axes[0] == "H":
        kept = ops.slice(x.node, np.array([0]), np.array([pooled * rows]), np.array([1]),
                         np.array([0]))  # fmt: skip
        grouped = ops.reshape(kept, _i64(ops, pooled, rows, *x.shape(x.axes[1:])), False)
        return _Tensor(ops, ops.reduce_max(grouped, _i64(ops, 1), False), x.axes, sizes)
    x = x.to("NCHW")
    node = ops.max_pool(x.node, [rows, 1], [1, 1], [0, 0], [0, 0], [rows, 1]).output(0)
    return _Tensor(ops, node, "NCHW", sizes)


def _i64(ops, *values: int):
    return ops.constant(np.array(values, np.int64))


def _dense(ops, x, arrays, activation: str):
    y = ops.add(ops.matmul(x, ops.constant(arrays["kernel"]), False, False),
                ops.constant(arrays["bias"][None, :]))  # fmt: skip
    return ops.relu(y) if activation == "relu" else ops.softmax(y, 1)

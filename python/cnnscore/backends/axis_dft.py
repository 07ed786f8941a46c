"""Convolutions along one axis as discrete Fourier transforms written as matrix products.

GATK's 2D networks are chains of 25-tap convolutions along one axis ((1, 25) along the window,
(25, 1) along the reads). A valid correlation of a length-L signal with a T-tap kernel gives the
same L - T + 1 outputs as the circular correlation of length L, and a circular correlation is a
product per frequency bin. So each such convolution becomes three matrix products: a real DFT of
every input channel (L -> 2F values, F = L // 2 + 1 bins, one fewer for an even L: below), one
complex C -> D channel mix per bin, and an inverse real DFT straight to the L - T + 1 valid
outputs. For small_2d's (1, 25) layer that is ~3x fewer multiply-adds than direct evaluation,
all of it in dense matrix products that run at the CPU's fp32 rate; the results differ from
direct evaluation only by float summation order.

The channel mix of a bin is one real (2D, 2C) block matrix: for Y = X * conj(K) with A = Re K^T
and B = Im K^T, ``[Yr; Yi] = [[A, B], [-B, A]] [Xr; Xi]``. Gauss's three-product form (the
sessions before 2026-12-05) needs a quarter fewer multiply-adds, but its three additions, and the
splits and concatenation around them, cost more than they saved: on a 2-core Intel Xeon (AMX) the
block form ran small_2d's depth buckets 6-16% faster and compiled each in 40 against 66 ms (80
fewer graph nodes). The spectrum's rows interleave each bin's real and imaginary parts, so the
forward product's output is, read per bin, the (2C, ...) operand of the mix and the mix's output
the inverse's operand: no copy between the three products.

Two further cuts, each exact. A real signal's bins 0 and L / 2 are real, so for an even length
they share one bin (one real in each slot): L / 2 bins instead of L / 2 + 1. And because the
transforms are dense matrices, their cost grows with the square of the length while the mix's
grows with it: an axis can run as overlap-save blocks, each block a shorter transform of its own
positions and the taps - 1 before the next block's, the blocks' outputs one after another
(:func:`window_plan`, :func:`dft_blocks`). small_2d's window-axis layers, two blocks of 76
positions for 128 and of 64 for 104, need 1.2x fewer multiply-adds than one transform each; on a
2-core AVX-512 EPYC the depth buckets' models ran up to 1.13x faster, the dense model 1.16x
(bench/RESULTS.md, 2026-12-06 session 27).
Everything here is numpy (float64 to build, float32 to run), framework-free: the graph builders
use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..models.network import Conv, Dense, Network, Pool, ReplicateRows, weight_shapes


@dataclass(frozen=True)
class AxisDft:
    """The constant matrices of one convolution along an axis of length ``length``, of which
    the input holds the first ``kept`` positions, the last standing for itself and every one
    after it (depth-adaptive inference's copied rows, folded into the transform). Spectra are
    laid out bin by bin, each bin's real part then its imaginary part (index 2f + part); for an
    even length the first "bin" holds the two real-only bins, 0 and length / 2 (see
    :func:`axis_dft`)."""

    length: int
    kept: int
    outputs: int  # length - taps + 1
    forward: np.ndarray  # (2F, kept): row 2f the real part of bin f, 2f + 1 its imaginary part
    mix: np.ndarray  # (F, 2D, 2C): [[A, B], [-B, A]] per bin, from [Xr; Xi] to [Yr; Yi]
    inverse: np.ndarray  # (outputs, 2F): from the bins' [Yr; Yi] to the valid outputs

    @property
    def bins(self) -> int:
        return self.mix.shape[0]

    @property
    def filters(self) -> int:
        return self.mix.shape[1] // 2


def axis_dft(kernel: np.ndarray, length: int, kept: int | None = None) -> AxisDft:
    """The DFT form of a valid correlation along an axis: ``kernel`` is (taps, C, D) (Keras'
    kernel with the other spatial axis of extent 1 removed), ``length`` the input's extent,
    ``kept`` (default: all) how many positions the input holds before copies of its last one.
    The copies are linear in the last position, so the transform adds their columns into its
    column instead of the graph materialising them.

    A real signal's bins 0 and, for an even length, length / 2 are real: their imaginary rows
    of the transform are zero. So for an even length bin length / 2's real part takes bin 0's
    imaginary slot, and that packed bin's mix is [[A_0, 0], [0, A_(L/2)]]: L / 2 bins instead of
    L / 2 + 1, the same values (a bin's 4CD multiply-adds and two zero rows fewer)."""
    taps, _, _ = kernel.shape
    kept = length if kept is None else kept
    if taps > length:
        raise ValueError(f"a {taps}-tap kernel on {length} positions")
    if not 1 <= kept <= length:
        raise ValueError(f"{kept} positions kept of {length}")
    bins = length // 2 + 1
    frequencies = np.arange(bins)
    angle = 2.0 * np.pi * np.outer(frequencies, np.arange(length)) / length  # (F, length)
    forward = np.stack([np.cos(angle), -np.sin(angle)], axis=1)  # (F, part, length)
    tap_angle = 2.0 * np.pi * np.outer(np.arange(taps), frequencies) / length  # (taps, F)
    kernel64 = kernel.astype(np.float64)
    # K_f = sum_t k_t e^{-i 2 pi f t / L}; a correlation multiplies by conj(K_f)
    a = np.einsum("tcd,tf->fdc", kernel64, np.cos(tap_angle))  # Re K_f, (F, D, C)
    b = -np.einsum("tcd,tf->fdc", kernel64, np.sin(tap_angle))  # Im K_f
    filters, channels = a.shape[1:]
    mix = np.empty((bins, 2 * filters, 2 * channels))  # [[A, B], [-B, A]]
    mix[:, :filters, :channels] = a
    mix[:, :filters, channels:] = b
    mix[:, filters:, :channels] = -b
    mix[:, filters:, channels:] = a
    outputs = length - taps + 1
    weights = np.full(bins, 2.0)
    weights[0] = 1.0
    if length % 2 == 0:
        weights[-1] = 1.0
    out_angle = 2.0 * np.pi * np.outer(np.arange(outputs), frequencies) / length  # (outputs, F)
    inverse = np.stack([weights * np.cos(out_angle) / length,
                        -weights * np.sin(out_angle) / length], axis=2)  # fmt: skip
    if length % 2 == 0:  # bin L/2's real part into bin 0's (zero) imaginary slot
        forward[0, 1] = forward[-1, 0]
        inverse[:, 0, 1] = inverse[:, -1, 0]
        mix[0] = 0.0
        mix[0, :filters, :channels] = a[0]
        mix[0, filters:, channels:] = a[-1]
        forward, mix, inverse = forward[:-1], mix[:-1], inverse[:, :-1]
        bins -= 1
    forward = forward.reshape(2 * bins, length)
    forward = np.concatenate(
        [forward[:, : kept - 1], forward[:, kept - 1 :].sum(axis=1, keepdims=True)], axis=1
    )
    inverse = inverse.reshape(outputs, 2 * bins)  # columns as the spectrum's rows
    f32 = np.float32
    return AxisDft(length=length, kept=kept, outputs=outputs, forward=forward.astype(f32),
                   mix=mix.astype(f32), inverse=inverse.astype(f32))  # fmt: skip


def window_plan(
    length: int, taps: int, blocks: int, kept: int | None = None
) -> list[tuple[int, int, int]]:
    """(first input position, block length, positions read) of ``blocks`` equal overlap-save
    blocks: block j gives outputs [j m, (j + 1) m) from input positions [j m, j m + m + taps - 1)
    (m = outputs / blocks), so the blocks' outputs follow one another. Where the input holds only
    the first ``kept`` positions (the rest copies of the last), a block reads the kept ones it
    covers and its transform folds the copies in; a block of copies only reads the last one."""
    kept = length if kept is None else kept
    outputs = length - taps + 1
    if blocks < 1 or outputs % blocks:
        raise ValueError(f"{outputs} outputs in {blocks} blocks")
    step = outputs // blocks
    size = step + taps - 1
    plan = []
    for j in range(blocks):
        start = j * step
        if start >= kept:
            plan.append((kept - 1, size, 1))
        else:
            plan.append((start, size, min(size, kept - start)))
    return plan


def direct_macs(length: int, taps: int, channels: int, filters: int) -> int:
    """Multiply-adds per position of the other axes for direct evaluation."""
    return (length - taps + 1) * taps * channels * filters


def dft_macs(
    length: int, taps: int, channels: int, filters: int, kept: int | None = None, blocks: int = 1
) -> int:
    """The same through the DFT: per block, forward (over the positions it reads), a (2D, 2C)
    mix per bin (an even length's two real bins packed into one), inverse."""
    total = 0
    for _, size, read in window_plan(length, taps, blocks, kept):
        bins = (size + 1) // 2
        outputs = size - taps + 1
        total += 2 * bins * read * channels + 4 * bins * channels * filters
        total += outputs * 2 * bins * filters
    return total


#: A convolution goes through the DFT only when that needs this many times fewer multiply-adds:
#: the DFT's matrix products and layout changes run below the direct convolution's rate. On a
#: 2-core AVX-512 EPYC with one variant per request (OpenVINO's depth buckets), small_2d's
#: 64-row bucket ran 1.4x faster with its first layer (2.6x fewer) through the DFT as well, the
#: 48-row one 1.07x and the dense model 1.26x with the last layer (1.9-2.3x fewer) too; at 1.2
#: no faster than at 1.5.
DFT_GAIN = 1.5

#: The transform's matrices are dense, so their multiply-adds grow with the square of the length
#: while the mix grows with it: cutting a long axis into overlap-save blocks (each re-reading
#: taps - 1 positions of the one before) trades mix for transform. Blocks are used when they
#: need this many times fewer multiply-adds than one transform: each block's input is a strided
#: slice (a copy) and its products are smaller. MAX_BLOCKS bounds the choice.
BLOCK_GAIN = 1.1
MAX_BLOCKS = 4


def use_dft(length: int, taps: int, channels: int, filters: int, kept: int | None = None) -> bool:
    return dft_macs(length, taps, channels, filters, kept) * DFT_GAIN < direct_macs(
        length, taps, channels, filters
    )


def dft_blocks(length: int, taps: int, channels: int, filters: int, kept: int | None = None) -> int:
    """How many overlap-save blocks the DFT form of this convolution runs in (1: one transform
    of the whole axis)."""
    outputs = length - taps + 1
    costs = {
        blocks: dft_macs(length, taps, channels, filters, kept, blocks)
        for blocks in range(1, MAX_BLOCKS + 1)
        if outputs % blocks == 0
    }
    best = min(costs, key=costs.get)
    return best if costs[best] * BLOCK_GAIN <= costs[1] else 1


def branch_macs(network: Network, dft: bool) -> int:
    """Multiply-adds per variant of a network (convolutions, direct or through the DFT where
    :func:`use_dft` says so, in :func:`dft_blocks` blocks, and dense layers): what the backend
    computes, not what it could."""
    shape = dict(zip("HWC", network.tensor_shape)) if network.is_2d else None
    if shape is None:
        length, channels = network.tensor_shape
    total, copied = 0, 0  # copied: rows appended before this step, not yet materialised
    for step in network.branch:
        if isinstance(step, Conv) and shape is not None:
            axis, taps = ("H", step.kernel[0]) if step.kernel[1] == 1 else ("W", step.kernel[1])
            other = shape["W"] if axis == "H" else shape["H"]
            args = (shape[axis], taps, shape["C"], step.filters)
            kept = shape["H"] - copied if axis == "H" else None
            if dft and use_dft(*args, kept):
                total += other * dft_macs(*args, kept, dft_blocks(*args, kept))
            else:
                total += other * direct_macs(*args)
            shape = {**shape, "C": step.filters, axis: shape[axis] - taps + 1}
            copied = 0
        elif isinstance(step, Conv):
            total += direct_macs(length, step.kernel[0], channels, step.filters)
            length, channels = length - step.kernel[0] + 1, step.filters
        elif isinstance(step, Pool) and shape is not None:
            shape = {**shape, "H": shape["H"] // step.rows}
            copied = 0
        elif isinstance(step, Pool):
            length //= step.rows
        elif isinstance(step, ReplicateRows) and shape is not None:
            shape = {**shape, "H": shape["H"] + step.count}
            copied += step.count
    shapes = weight_shapes(network)
    for step in network.head:
        if isinstance(step, Dense):
            rows, columns = shapes[step.name]["kernel"]
            total += rows * columns
    return total


def correlate(x: np.ndarray, dft: AxisDft) -> np.ndarray:
    """Reference evaluation in numpy: ``x`` (..., C, kept) -> (..., D, outputs)."""
    spectrum = x @ dft.forward.T  # (..., C, 2F)
    parts = spectrum.reshape(*spectrum.shape[:-1], dft.bins, 2)  # (..., C, F, part)
    stacked = np.moveaxis(parts, (-2, -1), (0, 1))  # (F, part, ..., C)
    stacked = np.concatenate([stacked[:, 0], stacked[:, 1]], axis=-1)  # (F, ..., 2C)
    mixed = np.einsum("fec,f...c->f...e", dft.mix, stacked)  # (F, ..., 2D)
    filters = dft.filters
    bins = np.stack([mixed[..., :filters], mixed[..., filters:]], axis=1)  # (F, part, ..., D)
    bins = bins.reshape(2 * dft.bins, *bins.shape[2:])
    return np.einsum("ob,b...d->...do", dft.inverse, bins)


def correlate_blocks(
    x: np.ndarray, kernel: np.ndarray, length: int, blocks: int, kept: int | None = None
) -> np.ndarray:
    """Reference evaluation in overlap-save blocks: ``x`` (..., C, kept) -> (..., D, outputs),
    the blocks' outputs one after another, as the graph builder concatenates them."""
    taps = kernel.shape[0]
    parts = [
        correlate(x[..., start : start + read], axis_dft(kernel, size, read))
        for start, size, read in window_plan(length, taps, blocks, kept)
    ]
    return np.concatenate(parts, axis=-1)

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

Variants are grouped into a few row-count buckets, one static-shape network per bucket: the dense
network's description with fewer input rows and row copies inserted, so it uses the same weights.
Dropout (training only) does not count; any other step breaks the argument.
"""

from __future__ import annotations

import math

from .network import Conv, Dropout, Network, Pool, ReplicateRows

#: Bucket sizes tried, as "at most B reads" (B + 1 rows are computed); invalid ones are dropped.
#: Steps of 8 around 30-50x depth (39, 55): small_2d on the bench data (median 45 reads) 4% faster
#: end to end than with steps of 16, for ~0.2 s more model compilation per run.
CANDIDATE_BUCKETS = (15, 31, 39, 47, 55, 63, 79, 95)


class NotAdaptable(Exception):
    """The read branch has a step the row argument does not cover."""


def row_kernels(network: Network) -> list[tuple[int, bool]]:
    """(row extent, is a pool) per conv/pool step of the 2D branch, checked; dropout skipped.

    A (k, 1) conv has row extent k, a (1, k) conv 1 and a (p, 1) pool p."""
    if not network.is_2d:
        raise NotAdaptable("the network does not take a 2D read tensor")
    kernels = []
    for step in network.branch:
        if isinstance(step, Conv):
            if 1 not in step.kernel:
                raise NotAdaptable(f"layer {step.name}: conv {step.kernel} is not (k,1) or (1,k)")
            kernels.append((step.kernel[0] if step.kernel[1] == 1 else 1, False))
        elif isinstance(step, Pool):
            kernels.append((step.rows, True))
        elif not isinstance(step, Dropout):
            raise NotAdaptable(f"layer {step.name} ({type(step).__name__}) in the read branch")
    return kernels


def row_plan(kernels: list[tuple[int, bool]], bucket: int, rows: int) -> list[int] | None:
    """Rows to replicate before each step (and a last entry before Flatten), or None when the
    bucket is too large for this network (a block would exceed the full height somewhere)."""
    computed, height, plan = bucket + 1, rows, []
    for row_kernel, is_pool in kernels:
        if is_pool:
            pooled = math.ceil((computed - 1) / row_kernel) + 1
            plan.append(row_kernel * pooled - computed)
            computed, height = pooled, height // row_kernel
        else:
            plan.append(row_kernel - 1)
            height -= row_kernel - 1
        if computed > height:
            return None
    plan.append(height - computed)
    return plan


def bucket_network(network: Network, bucket: int, plan: list[int]) -> Network:
    """The network for tensors with at most ``bucket`` reads: input rows [0, bucket]."""
    branch, extras = [], iter(plan)
    for step in network.branch:
        if not isinstance(step, Dropout):
            extra = next(extras)
            if extra:
                branch.append(ReplicateRows(f"replicate_before_{step.name}", extra))
        branch.append(step)
    last = next(extras)
    if last:
        branch.append(ReplicateRows("replicate_before_flatten", last))
    return network.with_rows(bucket + 1, tuple(branch), f"rows_{bucket}")


def bucket_networks(network: Network, candidates=CANDIDATE_BUCKETS) -> dict[int, Network]:
    """Networks per bucket size, largest valid buckets included; raises NotAdaptable."""
    kernels = row_kernels(network)
    rows = network.tensor_shape[0]
    networks = {}
    for bucket in candidates:
        plan = row_plan(kernels, bucket, rows)
        if plan is not None and bucket < rows:
            networks[bucket] = bucket_network(network, bucket, plan)
    if not networks:
        raise NotAdaptable("no bucket fits this network's row arithmetic")
    return networks

"""Inference over a chunk of encoded variants: one backend, or one per read-row bucket.

For the 2D model, variants whose tensors hold at most B reads go to the bucket model computing
B + 1 rows (see models/depth_adaptive.py for why the scores do not change); the rest go to the
dense model. Each model is compiled once by the backend with a static batch shape; results come
back in input order.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..backends.base import InferenceBackend
from ..encode.compact import CompactTensors, Gathered
from ..encode.read_tensor import rows_at_height
from ..models.depth_adaptive import NotAdaptable, bucket_networks
from ..models.network import Network, Weights


def in_place_heights(backend_type, network: Network, depth_adaptive: bool) -> tuple[int, ...]:
    """The row buckets' heights, where the backend reads a variant's tensor stored at its
    bucket's height in place (``reads_in_place``): the encoder then stores each compact tensor
    at the smallest that holds it (encode.read_tensor.stored_height), a few empty rows more,
    and no one copies it per request. () otherwise: a backend that copies anyway gains
    nothing from the padding."""
    if not (depth_adaptive and network.is_2d and backend_type.reads_in_place):
        return ()
    try:
        return tuple(bucket + 1 for bucket in sorted(bucket_networks(network)))
    except NotAdaptable:
        return ()


class ChunkInference:
    def __init__(self, backend_type, network: Network, weights: Weights, batch_size: int,
                 threads: int, precision: str, depth_adaptive: bool,
                 convolution: str | None = None, compiled_cache: str | None = None,
                 on_core_free: Callable[[], None] = lambda: None):  # fmt: skip
        """``on_core_free`` (idempotent) is called as soon as compiling the models leaves one of
        the ``threads`` cores idle (at once where it never fills them): encoding beside
        inference starts then, not before, as on two cores it took a share of the compilation's
        CPU (bench/RESULTS.md, 2026-12-07)."""
        self.counts: Counter = Counter()
        networks = {}
        if depth_adaptive:
            try:
                networks = bucket_networks(network)
            except NotAdaptable as reason:
                print(f"cnnscore: depth-adaptive inference off for {network.name}: {reason}",
                      file=sys.stderr)  # fmt: skip
        # A chunk splits over the buckets and the dense model, and each group is padded to its
        # model's fixed batch: the backend's small batch keeps that padding small (per-call cost
        # is tiny next to ~2.9 GFLOP per dense variant).
        bucket_batch = (
            min(batch_size, backend_type.bucket_batch(threads)) if networks else batch_size
        )
        self.rows = network.tensor_shape[0] if network.is_2d else 0

        cached = {"compiled_cache": compiled_cache} if backend_type.caches_compiled else {}

        def build(each: Network):
            return backend_type(
                each, weights, bucket_batch, threads, precision, convolution, **cached
            )

        ordered = [network] + [networks[bucket] for bucket in sorted(networks)]
        if backend_type.builds_in_parallel and len(ordered) > 1 and threads > 1:
            # start-up is one compilation per bucket: on several cores, several at once
            at_once = min(threads, len(ordered))
            if at_once < threads:
                on_core_free()
            started = iter(range(1, len(ordered) + 1))  # next() is atomic under the GIL
            last_started = threading.Event()

            def build_then_free(each: Network):
                if next(started) == len(ordered):
                    last_started.set()
                try:
                    return build(each)
                finally:
                    if last_started.is_set():  # no model left for this thread: a core is free
                        on_core_free()

            with concurrent.futures.ThreadPoolExecutor(at_once) as pool:
                built = list(pool.map(build_then_free, ordered))
        else:
            if threads > 1:  # one compilation at a time leaves the other cores free
                on_core_free()
            built = [build(each) for each in ordered]
        on_core_free()  # every core (a no-op where it ran already)
        self.dense = built[0]
        self.buckets: dict[int, InferenceBackend] = dict(zip(sorted(networks), built[1:]))

    def gflop_per_variant(self) -> float:
        """Floating-point operations per variant scored so far (2 per multiply-add), as each
        compiled model evaluates the network: dense, or its row bucket, direct or DFT."""
        macs = {"dense": self.dense.macs_per_variant}
        macs.update({f"rows_{b + 1}": m.macs_per_variant for b, m in self.buckets.items()})
        scored = sum(self.counts.values())
        if not scored:
            return 0.0
        return 2 * sum(macs[k] * n for k, n in self.counts.items()) / scored / 1e9

    def request_sizes(self) -> dict[str, dict[str, int]]:
        """Per compiled model (dense, or a row bucket): the fixed batch a chunk's group is cut
        and padded into, and the variants each runtime request holds."""
        models = {"dense": self.dense}
        models.update({f"rows_{b + 1}": m for b, m in self.buckets.items()})
        return {name: {"batch": m.batch_size, "request": m.request_size}
                for name, m in models.items()}  # fmt: skip

    def read_in_place(self) -> int:
        """Variants so far that the runtime read where the encoder stored them, uncopied."""
        return sum(m.variants_read_in_place() for m in (self.dense, *self.buckets.values()))

    def compiled_cache(self) -> str:
        """The compiled-model cache's part in the start-up (backends.compiled_cache): ``off``,
        ``hit`` (every model read back), ``stored``, ``unwritable``, or a mix counted."""
        found = Counter(m.compiled_cache for m in (self.dense, *self.buckets.values()))
        if len(found) == 1:
            return next(iter(found))
        return ", ".join(f"{count} {state}" for state, count in sorted(found.items()))

    def effective_precision(self) -> str:
        """What the runtime computes in, over every compiled model (the buckets and the dense)."""
        found = {backend.effective_precision() for backend in (self.dense, *self.buckets.values())}
        return found.pop() if len(found) == 1 else ",".join(sorted(found))

    def submit(self, tensors: np.ndarray | CompactTensors, annotations: np.ndarray,
               read_rows: np.ndarray) -> PendingChunk:  # fmt: skip
        """Start inference on a chunk and return at once where the backend runs asynchronously
        (OpenVINO): every model's requests in flight together, no barrier per bucket, and the
        caller may submit the next chunk before it collects this one. 2D ``tensors`` may be
        compact: stacked (rows after the last repeat it) or ragged (pipeline.EncodedChunk)."""

        def at_height(height: int, chosen: np.ndarray | None = None) -> np.ndarray | Gathered:
            if isinstance(tensors, CompactTensors):
                if self.dense.takes_gathered:  # copied once, into the runtime's own memory
                    return tensors.gather(height, chosen)
                return tensors.at_height(height, chosen)
            return rows_at_height(tensors if chosen is None else tensors[chosen], height)

        pending = PendingChunk(len(tensors))
        if not self.buckets:
            self.counts["dense"] += len(tensors)
            inputs = [at_height(self.rows) if self.rows else tensors, annotations]
            pending.parts.append((None, self.dense, self.dense.submit(inputs)))
            return pending
        left = np.ones(len(tensors), dtype=bool)
        for bucket, backend in self.buckets.items():
            chosen = np.flatnonzero(left & (read_rows <= bucket))
            if chosen.size:
                handle = backend.submit([at_height(bucket + 1, chosen), annotations[chosen]])
                pending.parts.append((chosen, backend, handle))
                left[chosen] = False
                self.counts[f"rows_{bucket + 1}"] += int(chosen.size)
        rest = np.flatnonzero(left)
        if rest.size:
            handle = self.dense.submit([at_height(self.rows, rest), annotations[rest]])
            pending.parts.append((rest, self.dense, handle))
            self.counts["dense"] += int(rest.size)
        return pending

    def collect(self, pending: PendingChunk) -> np.ndarray:
        """The chunk's softmax probabilities (n, 4), in input order, once computed."""
        if pending.parts and pending.parts[0][0] is None:  # dense only: already in order
            _, backend, handle = pending.parts[0]
            return backend.collect(handle)
        probabilities = np.zeros((pending.size, 4), dtype=np.float32)
        for chosen, backend, handle in pending.parts:
            probabilities[chosen] = backend.collect(handle)
        return probabilities

    def predict(self, tensors: np.ndarray | CompactTensors, annotations: np.ndarray,
                read_rows: np.ndarray) -> np.ndarray:  # fmt: skip
        """:meth:`submit` then :meth:`collect`."""
        return self.collect(self.submit(tensors, annotations, read_rows))

    def close(self) -> None:
        """Wait for every request still running (a run ending early, by its own error: a
        request's failure here is not raised over it)."""
        for backend in (self.dense, *self.buckets.values()):
            with contextlib.suppress(Exception):
                backend.close()


@dataclass
class PendingChunk:
    """A submitted chunk: per model, the variants it holds (None: all, in order) and the
    backend's handle to collect."""

    size: int
    parts: list[tuple[np.ndarray | None, InferenceBackend, object]] = field(default_factory=list)

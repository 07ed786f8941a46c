"""A chunk of compact 2D read tensors kept ragged: each variant's stored rows, no padding.

A compact tensor holds a variant's read rows plus one row standing for every row after it (see
:func:`read_tensor.read_tensor`). Stacking a chunk at its tallest tensor's height, then cutting or
extending each depth bucket's share again, copied every variant at the height of the deepest one
in the chunk, twice: one 100-read site among 64 variants at 45 reads made the chunk 2.2 times
larger than its content, and the copies cost more than encoding itself (measured 2.3 s of
stacking for 2,000 bench variants against 0.8 s of compiled encoding). Here the rows are kept
once, as encoded, and each model's batch is gathered straight at its own height in one copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class CompactTensors:
    """Ragged compact tensors: one (stored rows, width, channels) array per variant, as the
    encoder made it (not even concatenated: that too was a copy of everything)."""

    def __init__(self, tensors: Sequence[np.ndarray]):
        if any(len(t) < 1 for t in tensors):
            raise ValueError("a compact tensor holds at least one row")
        self.tensors = list(tensors)
        self.heights = np.array([len(t) for t in self.tensors], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tensors)

    @property
    def shape(self) -> tuple[int, ...]:
        """(variants, tallest height, width, channels), as the stacked array would have."""
        if not self.tensors:
            return (0,)
        return (len(self), int(self.heights.max()), *self.tensors[0].shape[1:])

    def at_height(self, height: int, chosen: np.ndarray | None = None) -> np.ndarray:
        """The ``chosen`` variants (all by default) as one (k, height, width, channels) float32
        array: rows past a tensor's stored ones repeat its last row, rows past ``height`` are
        cut."""
        gathered = self.gather(height, chosen)
        out = np.empty((len(gathered), height, *self.tensors[0].shape[1:]), dtype=np.float32)
        gathered.write(0, out)
        return out

    def gather(self, height: int, chosen: np.ndarray | None = None) -> Gathered:
        """:meth:`at_height`, not yet copied anywhere."""
        return Gathered(self, height, np.arange(len(self)) if chosen is None else chosen)


class Gathered:
    """Some variants of a chunk at one height, copied only where they are needed: straight into
    a runtime's own input memory (OpenVINO's requests, ``backends.openvino_requests``) rather
    than first into an array of their own that the runtime then copies again. On 2 cores that
    second copy and its allocation were about half of the scoring thread's ~0.47 ms per request,
    time in which it holds the GIL that the encoder and the other requests wait for."""

    def __init__(self, compact: CompactTensors, height: int, indices: np.ndarray):
        self.compact, self.height, self.indices = compact, height, indices

    def __len__(self) -> int:
        return len(self.indices)

    def as_stored(self, position: int) -> np.ndarray | None:
        """Variant ``position`` as a one-variant batch (1, height, width, channels) without a
        copy, where the encoder stored it at exactly this height (scoring.inference
        .in_place_heights: a row bucket's); None where it must be copied (:meth:`write`)."""
        tensor = self.compact.tensors[self.indices[position]]
        if len(tensor) != self.height or not tensor.flags.c_contiguous:
            return None
        return tensor[np.newaxis]

    def write(self, start: int, out: np.ndarray) -> None:
        """Variants ``start``, ``start + 1``, ... into ``out``'s rows, as many as it has."""
        for slot, index in enumerate(self.indices[start : start + len(out)]):
            tensor = self.compact.tensors[index]
            stored = min(len(tensor), self.height)
            out[slot, :stored] = tensor[:stored]
            out[slot, stored:] = tensor[stored - 1]

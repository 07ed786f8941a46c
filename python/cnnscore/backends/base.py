"""The contract every inference backend meets.

A backend receives the network (a framework-free description, ``models.network``) with its bound
weights and one fixed batch size, builds its runtime graph from them and compiles it once, and
returns softmax probabilities for any number of inputs. The base class cuts inputs into full
batches and pads the last one with zeros, so a compiled static-shape model never meets a new
shape; the padded rows' outputs are discarded. Reduced precisions are opt-in per backend; fp32 is
the only one that may claim GATK-identical scores, and each backend reads back from its runtime
the precision it really runs (:meth:`InferenceBackend.effective_precision`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import ClassVar

import numpy as np

from ..models.network import Network, Weights
from .axis_dft import branch_macs


class InferenceBackend(ABC):
    name: ClassVar[str]
    #: Precisions this backend can run; the first is its default.
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    #: How it can evaluate long one-axis convolutions ("direct", or "dft": .axis_dft's matrix
    #: products); the first is its default.
    convolutions: ClassVar[tuple[str, ...]] = ("direct",)
    #: Whether several instances may be built at once from threads (a runtime whose compiler
    #: releases the GIL and is thread-safe): the depth buckets' models then compile together.
    builds_in_parallel: ClassVar[bool] = False
    #: Whether the constructor takes ``compiled_cache`` (a folder, backends.compiled_cache) and
    #: reads its compilation back from there when an identical one was stored.
    caches_compiled: ClassVar[bool] = False
    #: Whether :meth:`submit` also takes a chunk's variants not yet gathered
    #: (``encode.compact.Gathered``) and copies them straight into the runtime's own memory.
    takes_gathered: ClassVar[bool] = False
    #: Whether :meth:`submit` reads a one-variant batch from the memory the encoder stored it in,
    #: where it lies exactly as the model takes it (no copy: scoring.inference.in_place_heights).
    reads_in_place: ClassVar[bool] = False

    def __init__(
        self,
        network: Network,
        weights: Weights,
        batch_size: int,
        threads: int,
        precision: str = "fp32",
        convolution: str | None = None,
    ):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if precision not in self.precisions:
            raise ValueError(f"backend {self.name} supports {', '.join(self.precisions)}")
        convolution = convolution or self.auto_convolution(precision)
        if convolution not in self.convolutions:
            raise ValueError(f"backend {self.name} evaluates {', '.join(self.convolutions)}")
        self.batch_size = batch_size
        #: variants per request the runtime really runs (a backend that cuts a batch into
        #: micro-batches, one per stream or thread, says so); reported in the metrics
        self.request_size = batch_size
        #: the compiled-model cache's part in building this one: off, hit, stored, unwritable
        self.compiled_cache = "off"
        self.threads = threads
        self.precision = precision
        self.convolution = convolution
        #: what one variant costs as this backend evaluates the network
        self.macs_per_variant = branch_macs(network, convolution == "dft")
        self.input_names = network.input_names
        self.input_shapes = network.input_shapes

    @classmethod
    def auto_convolution(cls, precision: str) -> str:
        """How this backend evaluates long convolutions at ``precision`` on this CPU when not
        told (``--convolution auto``): the way measured faster (bench/RESULTS.md)."""
        return cls.convolutions[0]

    @classmethod
    def bucket_batch(cls, threads: int) -> int:
        """The fixed batch for depth-bucket models, where a chunk splits into several small
        groups and each group's last batch is padded: small, so that little is padded."""
        return 4

    @classmethod  # noqa: B027
    def configure_runtime(cls, threads: int) -> None:
        """Set process-wide runtime options; called once, before any model is built."""

    def variants_read_in_place(self) -> int:
        """Variants so far read from the memory they were handed in (``reads_in_place``)."""
        return 0

    @abstractmethod
    def effective_precision(self) -> str:
        """The precision the runtime really computes in (``fp32``, ``bf16`` or ``int8``), read
        back from the compiled runtime, not taken from the request: some runtimes lower the
        precision by themselves on some CPUs, and fp32 is what GATK-identical scores need."""

    @abstractmethod
    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (batch_size, 4) for exactly ``batch_size`` rows of each input."""

    def padded_batches(
        self, inputs: Sequence[np.ndarray], size: int | None = None
    ) -> Iterator[tuple[list[np.ndarray], int]]:
        """(full-size float32 batch, number of real rows) over the inputs; ``size`` defaults to
        the backend's batch size."""
        size = size or self.batch_size
        count = len(inputs[0])
        for start in range(0, count, size):
            chunk = [np.asarray(x[start : start + size], dtype=np.float32) for x in inputs]
            rows = len(chunk[0])
            if rows < size:
                chunk = [
                    np.concatenate([c, np.zeros((size - rows, *c.shape[1:]), np.float32)])
                    for c in chunk
                ]
            yield chunk, rows

    def submit(self, inputs: Sequence[np.ndarray]) -> object:
        """Start inference on ``inputs`` and return a handle for :meth:`collect`. A runtime that
        runs requests asynchronously returns at once, so that a caller can keep every model's
        requests in flight together (scoring.inference: all the row buckets of a chunk); here,
        for runtimes that do not, it computes them."""
        return self.predict(inputs)

    def collect(self, handle: object) -> np.ndarray:
        """The probabilities of a :meth:`submit`, in input order, once they are computed."""
        return handle  # type: ignore[return-value]

    def close(self) -> None:  # noqa: B027
        """Wait for whatever :meth:`submit` left running (a run that ends early, by an error,
        lets go of the runtime only after its requests are done)."""

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 4) float32 for n rows, in fixed-size padded batches."""
        outputs = [
            np.asarray(self.predict_batch(chunk), dtype=np.float32)[:rows]
            for chunk, rows in self.padded_batches(inputs)
        ]
        if not outputs:
            return np.zeros((0, 4), dtype=np.float32)
        return np.concatenate(outputs)

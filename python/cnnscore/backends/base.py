"""The contract every inference backend meets.

A backend receives the Keras model and one fixed batch size, prepares (compiles) it once, and
returns softmax probabilities for any number of inputs. The base class cuts inputs into full batches
and pads the last one with zeros, so a compiled static-shape model never sees a new shape; the
padded rows' outputs are discarded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

import numpy as np


class InferenceBackend(ABC):
    name: ClassVar[str]

    def __init__(self, model, batch_size: int, threads: int):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model
        self.batch_size = batch_size
        self.threads = threads
        self.input_shapes = [tuple(t.shape[1:]) for t in model.inputs]

    @classmethod  # noqa: B027 - an optional hook, empty by default
    def configure_runtime(cls, threads: int) -> None:
        """Set process-wide runtime options; called once, before any model is built."""

    @abstractmethod
    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (batch_size, 4) for exactly ``batch_size`` rows of each input."""

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 4) float32 for n rows, in fixed-size padded batches."""
        count = len(inputs[0])
        outputs = []
        for start in range(0, count, self.batch_size):
            chunk = [
                np.asarray(x[start : start + self.batch_size], dtype=np.float32) for x in inputs
            ]
            rows = len(chunk[0])
            if rows < self.batch_size:
                chunk = [
                    np.concatenate(
                        [c, np.zeros((self.batch_size - rows, *c.shape[1:]), np.float32)]
                    )
                    for c in chunk
                ]
            outputs.append(np.asarray(self.predict_batch(chunk), dtype=np.float32)[:rows])
        if not outputs:
            return np.zeros((0, 4), dtype=np.float32)
        return np.concatenate(outputs)

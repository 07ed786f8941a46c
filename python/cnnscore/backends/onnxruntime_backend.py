"""ONNX Runtime: the network written as ONNX from the description (``onnx_graph``, no TensorFlow),
static shapes, on the CPU execution provider.

Runs in flight, not one wide run: one session with one intra-op thread, a call's batch cut into
``threads`` micro-batches run at once from as many Python threads (ONNX Runtime releases the GIL
while it runs). On a 2-core AMD EPYC (AVX2) with a busy loop taking 35% of one core, small_2d ran
at 69 variants/s against 51 for one run on two intra-op threads (48-row bucket, batch 4) and 33
against 32 dense (128 rows, batch 64); with that load doubled, 58 against 48 and 31 against 27.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import InputError
from .base import InferenceBackend


class OnnxRuntimeBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, network, weights, batch_size, threads, precision="fp32", convolution=None):
        super().__init__(network, weights, batch_size, threads, precision, convolution)
        try:
            import onnxruntime

            from .onnx_graph import build_onnx_model
        except ImportError:
            raise InputError(
                "backend onnxruntime needs onnxruntime and onnx: "
                "pip install 'cnnscore[onnxruntime]'",
                setting="backend",
            ) from None
        self.runs = max(1, min(int(threads), batch_size))
        self.micro_batch = math.ceil(batch_size / self.runs)
        self.request_size = self.micro_batch
        model = build_onnx_model(network, weights, self.micro_batch)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._pool = ThreadPoolExecutor(self.runs) if self.runs > 1 else None

    def effective_precision(self) -> str:
        """fp32: the graph is written in float32 (``onnx_graph``) and the CPU execution provider
        has no precision of its own to lower to; checked on the session's inputs and outputs."""
        types = {arg.type for arg in (*self._session.get_inputs(), *self._session.get_outputs())}
        return "fp32" if types == {"tensor(float)"} else ",".join(sorted(types))

    def _run(self, chunk: list[np.ndarray]) -> np.ndarray:
        return self._session.run(None, dict(zip(self.input_names, chunk)))[0]

    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.predict(inputs)

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        batches = list(self.padded_batches(inputs, self.micro_batch))
        chunks = [chunk for chunk, _ in batches]
        outputs = self._pool.map(self._run, chunks) if self._pool else map(self._run, chunks)
        results = [output[:rows] for output, (_, rows) in zip(outputs, batches)]
        if not results:
            return np.zeros((0, 4), dtype=np.float32)
        return np.concatenate(results)

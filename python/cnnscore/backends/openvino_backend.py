"""OpenVINO's native runtime: the network built in OpenVINO's opset (``openvino_graph``, no
TensorFlow), static shapes, compiled once.

fp32 sets ``INFERENCE_PRECISION_HINT=f32`` explicitly: OpenVINO's CPU plugin otherwise picks bf16
on CPUs with avx512_bf16 and moves scores. bf16 asks for it; int8 quantizes the model with NNCF
post-training quantization on calibration batches (tensors from the input itself).

Streams, not one wide request: each of ``threads`` streams runs its own request on one core, and
a call's batch is cut into one micro-batch per stream, all in flight at once through an
``AsyncInferQueue``. A single request spread over every core stalls whenever another process (the
encoder) takes one of them — on 2 cores with the encoder busy a third of the time, measured
57 variants/s against 69 with two streams (48-row bucket, batch 4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from .base import InferenceBackend
from .openvino_graph import build_openvino_model

_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


def _import_openvino():
    try:
        import openvino
    except ImportError:
        raise InputError(
            "backend openvino needs the openvino package: pip install 'cnnscore[openvino]'",
            path="--backend",
        ) from None
    return openvino


class OpenVinoBackend(InferenceBackend):
    name = "openvino"
    precisions = ("fp32", "bf16", "int8")

    def __init__(self, network, weights, batch_size, threads, precision="fp32", calibration=None):
        super().__init__(network, weights, batch_size, threads, precision, calibration)
        ov = _import_openvino()
        self.streams = max(1, min(int(threads), batch_size))
        self.micro_batch = math.ceil(batch_size / self.streams)
        ov_model = build_openvino_model(network, weights, self.micro_batch)
        if precision == "int8":
            ov_model = self._quantize(ov_model, calibration)
        core = ov.Core()
        if precision == "bf16" and "BF16" not in core.get_property(
            "CPU", "OPTIMIZATION_CAPABILITIES"
        ):
            raise InputError(
                "this CPU has no bf16 support (no AVX512_BF16/AMX): OpenVINO would silently run "
                "fp32; use --precision fp32 or int8",
                path="--precision",
            )
        config = {
            "INFERENCE_PRECISION_HINT": _HINTS[precision],
            "PERFORMANCE_HINT": "THROUGHPUT",
            "NUM_STREAMS": self.streams,
            "INFERENCE_NUM_THREADS": int(threads),
        }
        self._compiled = core.compile_model(ov_model, "CPU", config)
        self._output = self._compiled.outputs[0]
        self._queue = ov.AsyncInferQueue(self._compiled, self.streams)

    def _quantize(self, ov_model, calibration):
        try:
            import nncf
        except ImportError:
            raise InputError(
                "int8 needs the nncf package: pip install 'cnnscore[openvino]'", path="--precision"
            ) from None
        if not calibration:
            raise InputError("int8 needs calibration tensors", path="--precision")
        batches = [
            dict(zip(self.input_names, chunk))
            for inputs in calibration
            for chunk, _ in self.padded_batches(inputs, self.micro_batch)
        ]
        samples = len(batches) * self.micro_batch
        return nncf.quantize(ov_model, nncf.Dataset(batches), subset_size=samples)

    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self.predict(inputs)

    def predict(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        results: dict[int, np.ndarray] = {}

        def done(request, userdata):
            index, rows = userdata
            results[index] = np.array(request.get_output_tensor(0).data[:rows], dtype=np.float32)

        self._queue.set_callback(done)
        count = 0
        for count, (chunk, rows) in enumerate(self.padded_batches(inputs, self.micro_batch), 1):
            self._queue.start_async(dict(zip(self.input_names, chunk)), (count, rows))
        self._queue.wait_all()
        if not results:
            return np.zeros((0, 4), dtype=np.float32)
        return np.concatenate([results[i] for i in range(1, count + 1)])

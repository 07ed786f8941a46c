"""ONNX Runtime: the model exported to ONNX once (tf2onnx, fixed batch shape) and run on its CPU
execution provider with the thread count the user gives."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..models.keras_builder import build_keras
from .base import InferenceBackend
from .tensorflow_backend import fixed_signature_function


class OnnxRuntimeBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, network, weights, batch_size, threads, precision="fp32", calibration=None):
        super().__init__(network, weights, batch_size, threads, precision, calibration)
        try:
            import onnxruntime
            import tf2onnx
        except ImportError:
            raise InputError(
                "backend onnxruntime needs onnxruntime and tf2onnx: "
                "pip install 'cnnscore[onnxruntime]'",
                path="--backend",
            ) from None
        model = build_keras(network, weights)
        function, signature = fixed_signature_function(model, batch_size)
        proto, _ = tf2onnx.convert.from_function(function, input_signature=signature, opset=17)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            proto.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self._names = [i.name for i in self._session.get_inputs()]
        if sorted(self._names) != sorted(self.input_names):
            raise RuntimeError(f"ONNX inputs {self._names} differ from {self.input_names}")

    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        feed = dict(zip(self.input_names, inputs))  # by name: export may reorder
        return self._session.run(None, {name: feed[name] for name in self._names})[0]

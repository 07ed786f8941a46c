"""Stock TensorFlow: the baseline every other backend is measured against.

A ``tf.function`` with a fixed input signature traces the graph once; ``model.predict`` would add
~45 ms per call and retrace for each new batch size.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import numpy as np

from ..errors import InputError
from ..models.keras_builder import build_keras
from .base import InferenceBackend


def require_tensorflow(purpose: str, setting: str | None = None) -> None:
    """TensorFlow is an extra (the default backend, OpenVINO, does not need it): where it is
    missing, one line says what to install instead of an ImportError's traceback."""
    if importlib.util.find_spec("tensorflow") is None:
        raise InputError(
            f"{purpose} needs TensorFlow, which is not installed: "
            "pip install 'cnnscore[tensorflow]'",
            setting=setting,
        )


def fixed_signature_function(model, batch_size: int):
    """The model as a ``tf.function`` over one fixed batch shape (also what ONNX export traces)."""
    import tensorflow as tf

    signature = [
        tf.TensorSpec((batch_size, *t.shape[1:]), tf.float32, name=t.name.split(":")[0])
        for t in model.inputs
    ]

    @tf.function(input_signature=signature, autograph=False)
    def infer(*inputs):
        return model(list(inputs), training=False)

    return infer, signature


#: oneDNN's fpmath modes below float32, as the precision they allow (``any`` allows bf16 too)
_FPMATH_PRECISIONS = {"bf16": "bf16", "any": "bf16", "f16": "fp16", "tf32": "tf32"}


class TensorFlowBackend(InferenceBackend):
    name = "tensorflow"

    @classmethod
    def configure_runtime(cls, threads: int) -> None:
        require_tensorflow("backend tensorflow", "backend")
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        # one fixed-shape function per depth bucket is by design, not a retracing problem
        tf.get_logger().setLevel("ERROR")
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(min(threads, 2))
        except RuntimeError:
            pass  # the runtime was already initialised in this process (e.g. by a test)

    def __init__(self, network, weights, batch_size, threads, precision="fp32", convolution=None):
        super().__init__(network, weights, batch_size, threads, precision, convolution)
        require_tensorflow("backend tensorflow", "backend")
        self.model = build_keras(network, weights)
        self._infer, _ = fixed_signature_function(self.model, batch_size)

    def effective_precision(self) -> str:
        """The model's compute dtype (float32 unless a mixed-precision policy is set), lowered
        where oneDNN is told it may compute below float32: by its own ``ONEDNN_DEFAULT_FPMATH_MODE``
        or by TensorFlow's ``TF_SET_ONEDNN_FPMATH_MODE`` (which sets the same default), to bf16,
        f16, tf32 or any. Whether this CPU then really does is oneDNN's choice, unseen from here,
        so the lowest precision allowed is the one reported (and refused for fp32)."""
        dtypes = {layer.dtype_policy.compute_dtype for layer in self.model.layers}
        if dtypes != {"float32"}:
            return ",".join(sorted(dtypes))
        for variable in ("ONEDNN_DEFAULT_FPMATH_MODE", "TF_SET_ONEDNN_FPMATH_MODE"):
            lowered = _FPMATH_PRECISIONS.get(os.environ.get(variable, "").lower())
            if lowered:
                return lowered
        return "fp32"

    def predict_batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        return self._infer(*inputs).numpy()

"""openvino-tensorflow: Intel's two-line integration that made GATK's CNN scoring 20-32% faster.

``import openvino_tensorflow; openvino_tensorflow.set_backend('CPU')`` makes TensorFlow hand
supported subgraphs to OpenVINO; the model itself runs exactly as the ``tensorflow`` backend runs it
(a fixed-signature ``tf.function`` over padded fixed-size batches, so nothing recompiles).
``OPENVINO_TF_DISABLE=1`` turns the integration off, leaving stock TensorFlow. The library needs
Python <= 3.9 and TensorFlow 2.9.x: it ships in its own image, docker/Dockerfile.ovtf.
"""

from __future__ import annotations

import os

from ..errors import InputError
from .tensorflow_backend import TensorFlowBackend


class OpenVinoTensorFlowBackend(TensorFlowBackend):
    name = "openvino-tensorflow"

    @classmethod
    def configure_runtime(cls, threads: int) -> None:
        super().configure_runtime(threads)
        try:
            import openvino_tensorflow
        except ImportError:
            raise InputError(
                "backend openvino-tensorflow needs the openvino-tensorflow package, which exists "
                "only for Python <= 3.9 with TensorFlow 2.9: use the image docker/Dockerfile.ovtf",
                path="--backend",
            ) from None
        if os.environ.get("OPENVINO_TF_DISABLE") == "1":
            openvino_tensorflow.disable()
        else:
            openvino_tensorflow.set_backend("CPU")

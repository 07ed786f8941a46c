"""openvino-tensorflow: Intel's two-line integration that made GATK's CNN scoring 20-32% faster.

``import openvino_tensorflow; openvino_tensorflow.set_backend('CPU')`` makes TensorFlow hand
supported subgraphs to OpenVINO; the model itself runs exactly as the ``tensorflow`` backend runs it
(a fixed-signature ``tf.function`` over padded fixed-size batches, so nothing recompiles).
``OPENVINO_TF_DISABLE=1`` turns the integration off, leaving stock TensorFlow. The library needs
Python <= 3.9 and TensorFlow 2.9.x: it ships in its own image, docker/Dockerfile.ovtf.

Precision. The OpenVINO bundled in openvino-tensorflow 2.3.0 (2022.3) compiles every cluster
with no configuration (``ie_backend_engine.cc``: ``ie_core.compile_model(model, "CPU")``), so its
CPU plugin picks bf16 by itself on avx512_bf16/AMX CPUs, and no openvino-tensorflow variable or
API changes that. The one setting it honours is a property in the ``plugins.xml`` beside its
libraries, read by the default ``ov::Core`` at the first compile:
``INFERENCE_PRECISION_HINT=f32``. The image writes it (docker/Dockerfile.ovtf). The backend reads
the hint back through the bundled OpenVINO C library, from a Core built the same way as
openvino-tensorflow's, and fp32 is refused where it would not hold.
"""

from __future__ import annotations

import ctypes
import glob
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
                setting="backend",
            ) from None
        if os.environ.get("OPENVINO_TF_DISABLE") == "1":
            openvino_tensorflow.disable()
            return
        openvino_tensorflow.set_backend("CPU")
        hint = bundled_cpu_precision_hint()
        if hint != "f32":
            raise InputError(
                f"openvino-tensorflow's OpenVINO would run {hint}, not fp32, on this CPU: its "
                "plugins.xml lacks the CPU property INFERENCE_PRECISION_HINT=f32 that the image "
                "docker/Dockerfile.ovtf writes (OPENVINO_TF_DISABLE=1 runs stock TensorFlow)",
                setting="precision",
            )

    def effective_precision(self) -> str:
        if os.environ.get("OPENVINO_TF_DISABLE") == "1":
            return super().effective_precision()
        hint = bundled_cpu_precision_hint()
        return {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}.get(hint, hint)


def bundled_cpu_precision_hint() -> str:
    """``INFERENCE_PRECISION_HINT`` of the CPU plugin as openvino-tensorflow's OpenVINO sees it
    (``f32`` or ``bf16``), asked through its C library (``libopenvino_c``)."""
    import openvino_tensorflow

    folder = os.path.dirname(openvino_tensorflow.__file__)
    libraries = sorted(glob.glob(os.path.join(folder, "libopenvino_c.so*")))
    if not libraries:
        return "unknown"
    library = ctypes.CDLL(libraries[-1])
    core, value = ctypes.c_void_p(), ctypes.c_char_p()
    if library.ov_core_create(ctypes.byref(core)) != 0:
        return "unknown"
    try:
        status = library.ov_core_get_property(
            core, b"CPU", b"INFERENCE_PRECISION_HINT", ctypes.byref(value)
        )
        if status != 0 or not value.value:
            return "unknown"
        hint = value.value.decode()
        library.ov_free(value)
        return hint
    finally:
        library.ov_core_free(core)

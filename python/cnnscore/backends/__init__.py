"""Inference backends, picked by name.

Like miniwdl's container backends: one module per runtime behind one abstract base
(``base.InferenceBackend``), looked up by name among the built-in ones and then among plugins that
register under the entry-point group ``cnnscore.backends``. Modules are imported only when picked,
so choosing one runtime never imports another.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import InputError
from .base import InferenceBackend

ENTRY_POINT_GROUP = "cnnscore.backends"
BUILTIN_BACKENDS = {
    "tensorflow": "cnnscore.backends.tensorflow_backend:TensorFlowBackend",
    "openvino": "cnnscore.backends.openvino_backend:OpenVinoBackend",
    "onnxruntime": "cnnscore.backends.onnxruntime_backend:OnnxRuntimeBackend",
    "openvino-tensorflow": (
        "cnnscore.backends.openvino_tensorflow_backend:OpenVinoTensorFlowBackend"
    ),
}


def available_backends() -> list[str]:
    names = set(BUILTIN_BACKENDS)
    names.update(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)


def backend_class(name: str) -> type[InferenceBackend]:
    """The backend class registered under ``name``; a clear error for an unknown one."""
    target = BUILTIN_BACKENDS.get(name)
    if target is None:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            if entry.name == name:
                return entry.load()
        raise InputError(
            f"unknown backend '{name}' (available: {', '.join(available_backends())})",
            setting="backend",
        )
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)

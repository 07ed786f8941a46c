"""GATK-style architecture JSONs for ``cnnscore train --model-kind``.

Training a model needs its architecture JSON, and the exported JSON must be one GATK and
``cnnscore score`` read. ``--model-kind`` spares the user finding GATK's file: it builds the same
content (the fields of GATK's ``1d_cnn_mix_train_full_bn.json`` / ``small_2d.json``),
so the trained model is built by the same code as GATK's defaults. ``compact-1d`` and
``compact-2d`` are cnnscore's own smaller networks (the shipped default models), in the same form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .spec import (
    OUTPUT_LABELS,
    READ_TENSOR,
    READ_TENSOR_CHANNEL_MAP,
    REFERENCE,
    REFERENCE_CHANNEL_MAP,
)

_INPUT_SYMBOLS = {"A": 0, "C": 1, "G": 2, "T": 3, "*": 4}
#: --model-kind -> (architecture id, tensor type, annotation set name)
MODEL_KINDS = {
    "1d": ("1d_cnn_mix_train_full_bn", REFERENCE, "annotations"),
    "2d": ("nova_hiseq_mix_small_tf", READ_TENSOR, "best_practices"),
    "compact-1d": ("cnnscore_compact_1d", REFERENCE, "annotations"),
    "compact-2d": ("cnnscore_compact_2d", READ_TENSOR, "best_practices"),
}


def architecture_json(kind: str, annotation_keys: Sequence[str]) -> dict[str, Any]:
    """The architecture JSON of GATK's default model of this kind (without ``architecture``,
    the weights file name, which the exporter sets)."""
    model_id, tensor_type, annotation_set = MODEL_KINDS[kind]
    data: dict[str, Any] = {
        "id": model_id,
        "input_tensor_map_name": tensor_type,
        "input_tensor_map": dict(
            READ_TENSOR_CHANNEL_MAP if tensor_type == READ_TENSOR else REFERENCE_CHANNEL_MAP
        ),
        "input_symbols": dict(_INPUT_SYMBOLS),
        "input_annotations": list(annotation_keys),
        "input_annotation_set": annotation_set,
        "output_labels": dict(OUTPUT_LABELS),
        "window_size": 128,
        "read_limit": 128,
    }
    if tensor_type == READ_TENSOR:
        data["channels_last"] = True
    return data

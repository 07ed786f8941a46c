"""Keras 2 ``.hd5`` weight files, read and written with h5py.

Keras 3 refuses GATK's files (the ``.hd5`` extension, the old SpatialDropout2D config), and the
TF1 loader is gone, so the weights are read directly: ``layer_names`` on the weights group gives the
layer order and each layer's ``weight_names`` gives its arrays in order. Writing the same layout
lets tests (and training) produce files GATK itself could load.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass

import h5py
import numpy as np

from ..errors import InputError

#: What GATK's model files say wrote them (Keras 2.2.4); Keras 2 readers check the attribute.
KERAS_VERSION = b"2.2.4"


@dataclass(frozen=True)
class LayerWeights:
    """One layer's arrays by short name (kernel, bias, gamma, beta, moving_mean, ...)."""

    name: str
    arrays: dict[str, np.ndarray]

    @property
    def kind(self) -> str:
        if "moving_mean" in self.arrays:
            return "batch_norm"
        kernel = self.arrays.get("kernel")
        if kernel is None:
            return "other"
        return "dense" if kernel.ndim == 2 else "conv"


def _short_name(weight_name: str) -> str:
    return weight_name.split("/")[-1].split(":")[0]


def read_keras2_weights(path: str) -> list[LayerWeights]:
    """Layers that carry weights, in the file's layer order."""
    if not os.path.isfile(path):
        raise InputError("weights file does not exist", path=path)
    try:
        with h5py.File(path, "r") as handle:
            group = handle.get("model_weights", handle)
            if "layer_names" not in group.attrs:
                raise InputError(
                    "HDF5 file has no Keras layer_names: not a Keras weights file", path=path
                )
            layers = []
            for raw_name in group.attrs["layer_names"]:
                name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
                layer_group = group[name]
                names = [
                    n.decode() if isinstance(n, bytes) else str(n)
                    for n in layer_group.attrs.get("weight_names", [])
                ]
                if names:
                    arrays = {
                        _short_name(n): np.asarray(layer_group[n], dtype=np.float32) for n in names
                    }
                    layers.append(LayerWeights(name, arrays))
            return layers
    except InputError:
        raise
    except (OSError, KeyError, ValueError) as err:
        raise InputError(f"not a readable Keras HDF5 weights file ({err})", path=path) from None


def write_keras2_weights(
    path: str,
    layers: Sequence[LayerWeights],
    layer_names: Sequence[str],
    model_config: dict | None = None,
) -> None:
    """Write a Keras-2-layout weights file (``model_weights`` group, Keras 2.2 attributes); with
    ``model_config`` (see keras2_config), a whole model Keras 2's ``load_model`` reads.

    The file is built in memory and written in one plain write: HDF5 closing a file on a full
    disk crashes the process (a segmentation fault in h5py 3.14), where a plain write raises
    ENOSPC like any other."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.attrs["keras_version"] = KERAS_VERSION
        handle.attrs["backend"] = b"tensorflow"
        if model_config is not None:
            handle.attrs["model_config"] = json.dumps(model_config).encode()
        group = handle.create_group("model_weights")
        group.attrs["keras_version"] = KERAS_VERSION
        group.attrs["backend"] = b"tensorflow"
        group.attrs["layer_names"] = np.array([n.encode() for n in layer_names])
        by_name = {layer.name: layer for layer in layers}
        for name in layer_names:
            layer_group = group.create_group(name)
            layer = by_name.get(name)
            weight_names = [f"{name}/{key}:0" for key in (layer.arrays if layer else {})]
            layer_group.attrs["weight_names"] = np.array([n.encode() for n in weight_names])
            if layer:
                for key, array in layer.arrays.items():
                    layer_group.create_dataset(f"{name}/{key}:0", data=array.astype(np.float32))
    with open(path, "wb") as out:
        out.write(buffer.getbuffer())

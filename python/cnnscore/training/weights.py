"""The weights of a training run: where they start (Keras' initialisers with the annotation
normalisation at the data's moments, or an earlier run's file) and how they are written (GATK's
Keras 2.2 .hd5, checked by loading it into the scoring graph before it takes its final name).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..models.network import Network, Weights, bind_weights
from ..models.spec import ModelSpec

_EXPORT_TOLERANCE = 1e-5


def start_normalisation(model, annotations: np.ndarray) -> None:
    """Start the annotation BatchNormalization's moving statistics at the training data's.

    Raw annotations differ in scale by orders of magnitude (DP ~50, SOR ~1), and the moving mean
    and variance start at 0 and 1 and move 1% per step, so for the first thousands of steps the
    inference-mode network (validation, scoring) sees badly normalised inputs; starting them at
    the data's moments makes the validation loss meaningful from the first epoch.
    """
    layers = [layer for layer in model.layers if type(layer).__name__ == "BatchNormalization"]
    for layer in layers:
        layer.moving_mean.assign(annotations.mean(axis=0).astype(np.float32))
        layer.moving_variance.assign(annotations.var(axis=0).astype(np.float32))


def initial_weights(path: str | None, network: Network) -> Weights | None:
    """The weights of an earlier run to continue from, checked against ``network`` layer by layer
    (their annotation normalisation comes with them), or None to start from Keras' initialisers.

    Why: a distillation run still improving when its epochs end can go on from where it stopped
    instead of paying again for the epochs it already ran (models/distill_compact_2d.sh's stages).
    """
    if path is None:
        return None
    from ..models.keras2_weights import read_keras2_weights

    return bind_weights(network, read_keras2_weights(path), os.path.basename(path), path)


def export_weights(model, spec: ModelSpec, path: str, check_inputs: Sequence[np.ndarray]) -> None:
    """Write the Keras-2 .hd5 at ``path`` (a temporary, published with the model's other files
    by the caller), then load it into the scoring graph and check that it predicts what the
    trained model predicts."""
    from ..models.architectures import network_for
    from ..models.keras2_config import write_gatk_model
    from ..models.keras2_weights import read_keras2_weights
    from ..models.keras_builder import build_model, model_weights

    write_gatk_model(path, network_for(spec), model_weights(model))
    scoring = build_model(spec, read_keras2_weights(path), path)
    expected = np.asarray(model(check_inputs, training=False))
    loaded = np.asarray(scoring(check_inputs, training=False))
    difference = float(np.max(np.abs(expected - loaded)))
    if difference > _EXPORT_TOLERANCE:
        raise RuntimeError(f"exported weights predict differently (max |diff| {difference})")

"""GATK's CNN architectures, as GATK's ``vqsr_cnn`` Python package builds them, as
:class:`~.network.Network` descriptions.

The JSON's ``id`` picks one; the JSON's shapes (window, read limit, annotations) fill it in. The
descriptions carry GATK's dropout layers for training; inference skips them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import InputError
from .network import (
    READ_CHANNELS,
    REFERENCE_CHANNELS,
    ConcatAnnotations,
    Conv,
    Dense,
    Dropout,
    Network,
    Pool,
    Weights,
    bind_weights,
)
from .spec import REFERENCE, ModelSpec


@dataclass(frozen=True)
class Architecture:
    name: str
    tensor_type: str
    describe: Callable[[ModelSpec], Network]


def _network(spec: ModelSpec, branch, annotation_units: int, head) -> Network:
    if spec.tensor_type == REFERENCE:
        tensor_input, shape = "reference", (spec.window_size, REFERENCE_CHANNELS)
    else:
        tensor_input, shape = "read_tensor", (spec.read_limit, spec.window_size, READ_CHANNELS)
    return Network(
        name=spec.model_id,
        tensor_input=tensor_input,
        tensor_shape=shape,
        annotation_input=spec.annotation_set,
        annotation_count=len(spec.annotations),
        branch=tuple(branch),
        annotation_units=annotation_units,
        head=tuple(head),
    )


def small_2d(spec: ModelSpec) -> Network:
    """``small_2d`` (GATK's default 2D model)."""
    return _network(
        spec,
        [
            Conv("conv_1", 64, (25, 1)),
            Dropout("spatial_dropout_1", 0.1, spatial=True),
            Conv("conv_2", 48, (1, 25)),
            Dropout("spatial_dropout_2", 0.1, spatial=True),
            Conv("conv_3", 32, (25, 1)),
            Dropout("spatial_dropout_3", 0.1, spatial=True),
            Pool("pool_1", 3),
            Conv("conv_4", 24, (1, 25)),
            Dropout("spatial_dropout_4", 0.1, spatial=True),
            Pool("pool_2", 3),
        ],
        64,
        [
            Dense("dense_fc", 24, "relu"),
            Dropout("dropout_fc", 0.3),
            Dense("softmax_predictions", 4, "softmax"),
        ],
    )


def cnn_2d_mix_train(spec: ModelSpec) -> Network:
    """``2d_cnn_mix_train`` (legacy 2D model; shape inferred from GATK's builder for it)."""
    return _network(
        spec,
        [
            Conv("conv_1", 216, (16, 1)),
            Conv("conv_2", 160, (1, 16)),
            Conv("conv_3", 128, (16, 1)),
            Pool("pool_1", 2),
            Conv("conv_4", 96, (1, 16)),
            Pool("pool_2", 2),
            Dropout("dropout_1", 0.2),
            Conv("conv_5", 64, (16, 1)),
            Pool("pool_3", 2),
            Dropout("dropout_2", 0.2),
        ],
        16,
        [
            Dense("dense_fc", 32, "relu"),
            ConcatAnnotations("concat_annotations"),
            Dropout("dropout_fc", 0.3),
            Dense("softmax_predictions", 4, "softmax"),
        ],
    )


def cnn_1d_mix_train_full_bn(spec: ModelSpec) -> Network:
    """``1d_cnn_mix_train_full_bn`` (GATK's default 1D model)."""
    return _network(
        spec,
        [
            Conv("conv_1", 256, (12,)),
            Conv("conv_2", 256, (12,)),
            Dropout("dropout_1", 0.1),
            Conv("conv_3", 128, (12,)),
            Dropout("dropout_2", 0.1),
        ],
        40,
        [
            Dense("dense_fc", 40, "relu"),
            Dropout("dropout_fc", 0.2),
            ConcatAnnotations("concat_annotations"),
            Dense("softmax_predictions", 4, "softmax"),
        ],
    )


def compact_2d(spec: ModelSpec) -> Network:
    """cnnscore's own 2D default: small_2d's alternation of per-read (1, k) and across-read (k, 1)
    convolutions with 16 filters and earlier pooling, ~0.13 of small_2d's 3.0 GFLOP per variant,
    so that it trains on a CPU and scores faster; GATK's two annotation concatenations."""
    return _network(
        spec,
        [
            Conv("conv_1", 16, (1, 7)),
            Conv("conv_2", 16, (7, 1)),
            Dropout("spatial_dropout_1", 0.1, spatial=True),
            Pool("pool_1", 4),
            Conv("conv_3", 16, (1, 7)),
            Conv("conv_4", 16, (5, 1)),
            Dropout("spatial_dropout_2", 0.1, spatial=True),
            Pool("pool_2", 4),
        ],
        16,
        [
            Dense("dense_fc", 24, "relu"),
            ConcatAnnotations("concat_annotations"),
            Dropout("dropout_fc", 0.3),
            Dense("softmax_predictions", 4, "softmax"),
        ],
    )


def compact_1d(spec: ModelSpec) -> Network:
    """cnnscore's own 1D default: two 32-filter convolutions over the reference window (GATK's
    1d_cnn_mix_train_full_bn has three of 256/256/128 and 20 MB of weights)."""
    return _network(
        spec,
        [
            Conv("conv_1", 32, (12,)),
            Conv("conv_2", 32, (12,)),
            Dropout("dropout_1", 0.1),
        ],
        16,
        [
            Dense("dense_fc", 32, "relu"),
            Dropout("dropout_fc", 0.2),
            ConcatAnnotations("concat_annotations"),
            Dense("softmax_predictions", 4, "softmax"),
        ],
    )


#: Architectures by the ``id`` in GATK's JSON (small_2d.json's id is nova_hiseq_mix_small_tf).
ARCHITECTURES: dict[str, Architecture] = {
    "nova_hiseq_mix_small_tf": Architecture("small_2d", "read_tensor", small_2d),
    "small_2d": Architecture("small_2d", "read_tensor", small_2d),
    "2d_cnn_mix_train": Architecture("2d_cnn_mix_train", "read_tensor", cnn_2d_mix_train),
    "1d_cnn_mix_train_full_bn": Architecture(
        "1d_cnn_mix_train_full_bn", REFERENCE, cnn_1d_mix_train_full_bn
    ),
    "cnnscore_compact_2d": Architecture("cnnscore_compact_2d", "read_tensor", compact_2d),
    "cnnscore_compact_1d": Architecture("cnnscore_compact_1d", REFERENCE, compact_1d),
}


def architecture_for(spec: ModelSpec) -> Architecture:
    architecture = ARCHITECTURES.get(spec.model_id)
    if architecture is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise InputError(
            f"unknown architecture id '{spec.model_id}' (known: {known})", path=spec.path
        )
    if architecture.tensor_type != spec.tensor_type:
        raise InputError(
            f"architecture {architecture.name} takes {architecture.tensor_type}, "
            f"but the JSON says {spec.tensor_type}",
            path=spec.path,
        )
    return architecture


def network_for(spec: ModelSpec) -> Network:
    return architecture_for(spec).describe(spec)


def load_network(spec: ModelSpec, file_layers, weights_path: str) -> tuple[Network, Weights]:
    """The network for ``spec`` and the file's weights bound to it (checked)."""
    network = network_for(spec)
    return network, bind_weights(network, file_layers, os.path.basename(spec.path), weights_path)

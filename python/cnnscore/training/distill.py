"""Distillation: train a student on a teacher model's outputs instead of the truth labels.

Why: cnnscore's compact 2D network is ~23x cheaper than GATK's small_2d, but trained on truth
labels from simulated reads it separates real calls far worse (GIAB margin 3.15 against small_2d's
8.30 on the NA12878 smoke set). Trained to reproduce small_2d's own outputs, over tensors from any
reads (no truth needed), it can approach GATK's calls at its own speed.

The teacher's softmax for every tensor is computed once, before training, by the scoring path
itself (any backend; depth-adaptive), and replaces the one-hot labels as the target. The loss is
the cross-entropy against those probabilities plus the squared difference of the two log-odds
(what ``cnnscore score`` writes): cross-entropy alone hardly sees the tails, where scores of 6 and
9 are probabilities of 0.9975 and 0.9999.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..encode.read_tensor import READ_TENSOR_CHANNELS, REFERENCE_CHANNEL_OFFSET
from ..errors import InputError
from ..models.spec import OUTPUT_LABELS
from ..scoring.scores import log_odds
from .batches import TensorIndex
from .tensor_store import TensorStore

#: Variants per teacher call: one shard's tensors are scored in pieces of this many.
_TEACHER_CHUNK = 256
_EPSILON = 1e-7
#: log-odds pairs: (positive channel, negative channel) for SNP and INDEL
_PAIRS = (
    (OUTPUT_LABELS["SNP"], OUTPUT_LABELS["NOT_SNP"]),
    (OUTPUT_LABELS["INDEL"], OUTPUT_LABELS["NOT_INDEL"]),
)
#: every channel but the five reference ones (A, C, G, T, * of the reference on every row)
_READ_CHANNELS = [
    c for c in range(READ_TENSOR_CHANNELS)
    if not REFERENCE_CHANNEL_OFFSET <= c < REFERENCE_CHANNEL_OFFSET + 5
]  # fmt: skip


def read_rows(tensors: np.ndarray) -> np.ndarray:
    """Rows holding a read in each dense 2D tensor: up to the last row with any read channel
    set (every later row carries the reference channels only), so depth buckets apply."""
    filled = np.any(tensors[..., _READ_CHANNELS] != 0, axis=(2, 3))  # (n, rows)
    last = filled.shape[1] - np.argmax(filled[:, ::-1], axis=1)
    return np.where(filled.any(axis=1), last, 0)


def teacher_targets(stores: Sequence[TensorStore], index: TensorIndex, inference) -> np.ndarray:
    """The teacher's probabilities (n, 4) for every entry of ``index``, in its order, with the
    index's annotation vectors (which :func:`with_annotation_draws` may have replaced);
    ``inference`` is a :class:`~cnnscore.scoring.inference.ChunkInference` of the teacher."""
    targets = np.full((len(index), len(OUTPUT_LABELS)), np.nan, dtype=np.float32)
    for store_number, store in enumerate(stores):
        for shard_number in range(len(store.shard_counts)):
            wanted = np.flatnonzero((index.store == store_number) & (index.shard == shard_number))
            if not wanted.size:
                continue
            shard = store.load(shard_number, ("tensors",))
            rows = index.row[wanted]
            for start in range(0, len(rows), _TEACHER_CHUNK):
                part = rows[start : start + _TEACHER_CHUNK]
                tensors = np.asarray(shard.tensors[part], dtype=np.float32)
                annotations = index.annotations[wanted[start : start + len(part)]]
                depth = read_rows(tensors) if tensors.ndim == 4 else np.zeros(len(part), int)
                targets[wanted[start : start + len(part)]] = inference.predict(
                    tensors, annotations, depth
                )
    if np.isnan(targets).any():
        raise RuntimeError("some tensors got no teacher output")
    return targets


#: Where HaplotypeCaller's annotations of real calls lie (GATK's best-practices keys), drawn from
#: when a tensor's own annotations are replaced: candidates from simulated reads and bcftools have
#: narrow, off-scale ones (QD ~5 against HaplotypeCaller's 2-40, MQ always 60, FS and MQRankSum
#: 0), so a student would never see the inputs that move small_2d's scores on real calls.
#: (kind, a, b, share missing): uniform [a, b], normal (mean a, sd b), or exponential (mean b)
#: added to a (its sign flipped when b < 0); missing values are 0, as the scorer encodes them.
ANNOTATION_DRAWS = {
    "MQ": ("exponential", 60.0, -8.0, 0.0),
    "DP": ("uniform", 3.0, 160.0, 0.0),
    "SOR": ("exponential", 0.0, 1.0, 0.0),
    "FS": ("exponential", 0.0, 8.0, 0.0),
    "QD": ("uniform", 0.5, 40.0, 0.0),
    "MQRankSum": ("normal", -0.3, 1.8, 0.35),
    "ReadPosRankSum": ("normal", 0.0, 1.2, 0.35),
}


def draw_annotations(keys: Sequence[str], count: int, own: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:  # fmt: skip
    """``count`` annotation vectors: each key from :data:`ANNOTATION_DRAWS`, or, for a key not
    there, the values of ``own`` (the store's vectors) in a random order."""
    drawn = np.zeros((count, len(keys)), dtype=np.float32)
    for column, key in enumerate(keys):
        if key not in ANNOTATION_DRAWS:
            drawn[:, column] = own[rng.integers(0, len(own), count), column]
            continue
        kind, a, b, missing = ANNOTATION_DRAWS[key]
        if kind == "uniform":
            values = rng.uniform(a, b, count)
        elif kind == "normal":
            values = rng.normal(a, b, count)
        else:
            values = a + np.sign(b) * rng.exponential(abs(b), count)
        values[rng.random(count) < missing] = 0.0
        drawn[:, column] = values
    return drawn


def with_annotation_draws(index: TensorIndex, keys: Sequence[str], draws: int,
                          seed: int) -> TensorIndex:  # fmt: skip
    """The index followed by ``draws`` copies of it whose annotation vectors are drawn anew
    (:func:`draw_annotations`): each tensor is then seen with annotations as real calls carry
    them, and the teacher says what those make of it."""
    if draws <= 0:
        return index
    rng = np.random.default_rng([seed, 17])
    copies = [index] + [
        TensorIndex(
            index.store,
            index.shard,
            index.row,
            index.labels,
            draw_annotations(keys, len(index), index.annotations, rng),
        )  # fmt: skip
        for _ in range(draws)
    ]
    return TensorIndex(*(np.concatenate(column) for column in zip(*(
        (c.store, c.shard, c.row, c.labels, c.annotations) for c in copies))))  # fmt: skip


def _is_snp(labels: np.ndarray) -> np.ndarray:
    """Whether each tensor is an SNP's (labels SNP or NOT_SNP) rather than an indel's."""
    return np.isin(labels, [OUTPUT_LABELS["SNP"], OUTPUT_LABELS["NOT_SNP"]])


def score_pairs(probabilities: np.ndarray) -> np.ndarray:
    """(n, 2) log-odds, SNP and INDEL, exactly as ``score`` computes them (float32)."""
    return np.stack(log_odds(probabilities), axis=1).astype(np.float64)


def agreement(student: np.ndarray, teacher: np.ndarray, labels: np.ndarray) -> dict:
    """How closely the student's scores follow the teacher's: per tensor the score ``score``
    would write for its type (SNP log-odds for SNP/NOT_SNP labels, INDEL for the others)."""
    column = np.where(_is_snp(labels), 0, 1)
    ours = score_pairs(student)[np.arange(len(column)), column]
    theirs = score_pairs(teacher)[np.arange(len(column)), column]
    difference = np.abs(ours - theirs)
    pearson = float(np.corrcoef(ours, theirs)[0, 1]) if len(ours) > 1 else float("nan")
    return {
        "tensors": int(len(ours)),
        "pearson_r": round(pearson, 4),
        "max_abs_delta": round(float(difference.max()), 3) if len(ours) else 0.0,
        "mean_abs_delta": round(float(difference.mean()), 3) if len(ours) else 0.0,
        "sign_agreement": round(float(np.mean(np.sign(ours) == np.sign(theirs))), 4),
    }


def typed_targets(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n, 5): the teacher's four probabilities and 1.0 where the tensor is an SNP's (labels
    SNP / NOT_SNP), 0.0 for an indel's: what :func:`distillation_loss` needs to weigh each
    tensor's own log-odds pair above the other."""
    is_snp = _is_snp(labels)[:, None].astype(probabilities.dtype)
    return np.concatenate([probabilities, is_snp], axis=1)


def distillation_loss(log_odds_weight: float, other_type_weight: float = 1.0):
    """Cross-entropy against the teacher's probabilities plus ``log_odds_weight`` times the
    squared difference of the log-odds, per tensor a weighted mean over its own type's pair
    (weight 1) and the other type's (``other_type_weight``).

    Why the weights: ``score`` writes only the record's own type's log-odds, but the teacher's
    other pair (the INDEL log-odds of an SNP's tensor) ranges from -12 to +3, and run 6's
    student's squared error there was 19-38 times its own pair's (bench/RESULTS.md): with equal
    weights that pair drew most of the small student's capacity. Targets of four columns (no
    type) weigh both pairs equally; five columns are :func:`typed_targets`.
    """
    from keras import ops

    def loss(targets, student):
        teacher = targets[:, : len(OUTPUT_LABELS)]
        student = ops.clip(student, _EPSILON, 1.0)
        cross_entropy = -ops.sum(teacher * ops.log(student), axis=-1)
        errors = []
        for a, b in _PAIRS:
            ours = ops.log(student[:, a] + _EPSILON) - ops.log(student[:, b] + _EPSILON)
            theirs = ops.log(teacher[:, a] + _EPSILON) - ops.log(teacher[:, b] + _EPSILON)
            errors.append(ops.square(ours - theirs))
        snp_error, indel_error = errors
        if targets.shape[-1] == len(OUTPUT_LABELS):
            squared = (snp_error + indel_error) / 2
        else:
            is_snp = targets[:, len(OUTPUT_LABELS)]
            own = is_snp * snp_error + (1.0 - is_snp) * indel_error
            other = is_snp * indel_error + (1.0 - is_snp) * snp_error
            squared = (own + other_type_weight * other) / (1.0 + other_type_weight)
        return cross_entropy + log_odds_weight * squared

    loss.__name__ = "distillation_loss"
    return loss


def teacher_accuracy(targets, student):
    """How often the student's most likely output is the teacher's (the targets' first four
    columns; :func:`typed_targets` appends the type)."""
    from keras import ops

    teacher = targets[:, : len(OUTPUT_LABELS)]
    agree = ops.equal(ops.argmax(teacher, axis=-1), ops.argmax(student, axis=-1))
    return ops.mean(ops.cast(agree, "float32"))


teacher_accuracy.__name__ = "accuracy"


def load_teacher(architecture: str, weights: str | None, store: TensorStore, threads: int):
    """The teacher as the scorer runs it (OpenVINO fp32, depth-adaptive, DFT) and what to
    record of it; it must take the store's tensors and annotations."""
    from ..backends import backend_class
    from ..io.files import sha256_file
    from ..models.architectures import load_network
    from ..models.keras2_weights import read_keras2_weights
    from ..models.spec import load_model_spec
    from ..scoring.inference import ChunkInference

    spec = load_model_spec(architecture)
    weights = weights or os.path.splitext(architecture)[0] + ".hd5"
    if not os.path.isfile(weights):
        raise InputError("teacher weights not found", path=weights)
    if spec.tensor_type != store.tensor_type:
        raise InputError(
            f"the teacher takes {spec.tensor_type} tensors, the store holds {store.tensor_type}",
            path=architecture,
        )
    if tuple(spec.annotations) != tuple(store.annotation_keys):
        raise InputError(
            f"the teacher takes annotations {', '.join(spec.annotations)}, the store holds "
            f"{', '.join(store.annotation_keys)}",
            path=architecture,
        )
    network, bound = load_network(spec, read_keras2_weights(weights), weights)
    inference = ChunkInference(backend_class("openvino"), network, bound, _TEACHER_CHUNK,
                               threads, "fp32", depth_adaptive=True)  # fmt: skip
    described = {
        "architecture": architecture,
        "weights": weights,
        "weights_sha256": sha256_file(weights),
        "model_id": spec.model_id,
    }
    return inference, described

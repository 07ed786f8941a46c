"""``cnnscore train``: fit a GATK CNN architecture to tensor stores and export it for scoring.

The network is built by the same code that scores (:mod:`cnnscore.models.architectures`, with
GATK's dropout switched on for training) and trained as GATK trained its models: Adam with
gradient-norm clipping 1.0, categorical cross-entropy over the four output channels, early stopping
on the validation loss keeping the best epoch's weights. The result is exported as GATK's pair, a
Keras-2 layout ``.hd5`` and its architecture ``.json``, and checked by loading it back into the
scoring graph; the report (:mod:`cnnscore.training.report`) says how good it is.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .. import __version__
from ..backends.cpu import usable_cores
from ..errors import InputError
from ..io.files import PartialOutput, complete_or_nothing, sha256_file
from ..io.locations import first_repeat, user_facing
from ..io.output_paths import check_output_folder
from ..models.gatk_json import MODEL_KINDS, architecture_json
from ..models.network import Weights
from ..models.spec import READ_TENSOR, ModelSpec, parse_model_spec, read_architecture_json
from .labels import LABELS
from .options import TrainOptions
from .report import SCHEMA, publish_model, report_paths, validation_metrics
from .tensor_store import TensorStore, same_tensors
from .weights import export_weights, initial_weights, start_normalisation


@dataclass
class TrainResult:
    weights: str
    architecture: str
    report_json: str
    report_html: str
    report: dict[str, Any]


def output_prefix(output: str) -> str:
    """``-O`` names the prefix; a trailing .hd5 or .json is taken off."""
    for suffix in (".hd5", ".json"):
        if output.endswith(suffix):
            return output[: -len(suffix)]
    return output


def _check_options(options: TrainOptions) -> None:
    if bool(options.architecture) == bool(options.model_kind):
        raise InputError(
            "give exactly one of --architecture and --model-kind", setting="architecture"
        )
    if options.model_kind and options.model_kind not in MODEL_KINDS:
        raise InputError(f"unknown model kind {options.model_kind}", setting="model_kind")
    if not 0.0 < options.validation_fraction < 1.0:
        raise InputError("must be between 0 and 1 (exclusive)", setting="validation_fraction")
    for name, value, least in (
        ("epochs", options.epochs, 1),
        ("batch_size", options.batch_size, 1),
        ("patience", options.patience, 0),
    ):
        if value < least:
            raise InputError(f"must be at least {least}", setting=name)
    if not (options.learning_rate > 0 and math.isfinite(options.learning_rate)):
        raise InputError("must be a positive, finite number", setting="learning_rate")
    if not options.log_odds_weight >= 0:
        raise InputError("must be 0 or more", setting="log_odds_weight")
    if not options.other_type_weight >= 0:
        raise InputError("must be 0 or more", setting="other_type_weight")
    for name, given in (("teacher_weights", options.teacher_weights),
                        ("annotation_draws", options.annotation_draws),
                        ("other_type_weight", options.other_type_weight != 1.0)):  # fmt: skip
        if given and not options.teacher_architecture:
            raise InputError("needs a teacher architecture (distillation)", setting=name)
    if options.annotation_draws < 0:
        raise InputError("must be 0 or more", setting="annotation_draws")
    if options.initial_weights and not os.path.isfile(options.initial_weights):
        raise InputError("initial weights not found", path=options.initial_weights)
    repeat = first_repeat(list(options.tensors))
    if repeat:  # its tensors would be trained on twice, copies in training and validation both
        path, earlier = repeat
        also = "" if earlier == path else f"; {earlier} is the same store"
        raise InputError(
            f"given twice (--tensors{also}): its tensors would be trained on twice, with copies "
            "on both sides of the validation split",
            path=path,
        )
    prefix = output_prefix(options.output)
    if not os.path.basename(prefix) or os.path.isdir(prefix):  # GATK's train takes a folder
        raise InputError(
            "names a folder: -O is the model's prefix, such as FOLDER/my_model (which writes "
            "my_model.hd5, my_model.json and its reports there)",
            path=options.output,
        )
    folder = os.path.dirname(os.path.abspath(prefix))
    if not os.path.isdir(folder):
        raise InputError("output folder does not exist", path=options.output)
    if not os.access(folder, os.W_OK):
        raise InputError("output folder is not writable", path=options.output)
    for written in (prefix + ".hd5", prefix + ".json", *report_paths(prefix)):
        check_output_folder(written, file=True)  # a link, device or folder there, found now


def _check_stores(stores: Sequence[TensorStore]) -> TensorStore:
    """All stores must hold the same kind of tensor, with GATK's label channels, and no store
    the tensors of another (:func:`same_tensors`)."""
    first = stores[0]
    for number, store in enumerate(stores):
        copied = next((other for other in stores[:number] if same_tensors(other, store)), None)
        if copied is not None:  # as a store given twice (_check_options)
            raise InputError(f"holds the same tensors as {copied.path} (a copy, or the same "
                             "write-tensors run): each would count twice",
                             path=store.path)  # fmt: skip
        if store.labels != LABELS:
            raise InputError(
                f"labels {store.labels} differ from the model's output channels {LABELS}",
                path=store.path,
            )
        for what, ours, theirs in (
            ("tensor type", store.tensor_type, first.tensor_type),
            ("tensor shape", store.tensor_shape, first.tensor_shape),
            ("annotation keys", store.annotation_keys, first.annotation_keys),
        ):
            if ours != theirs:
                raise InputError(
                    f"{what} {ours} differs from {theirs} of {first.path}", path=store.path
                )
    return first


def _architecture_data(options: TrainOptions, store: TensorStore) -> dict[str, Any]:
    """The JSON to export: the given architecture (or the --model-kind one) with the stores'
    annotation keys, which are what the model is fed."""
    if options.model_kind:
        return architecture_json(options.model_kind, store.annotation_keys)
    path = options.architecture
    data = read_architecture_json(path)
    parse_model_spec(data, path)
    given = tuple(data.get("input_annotations", ()))
    if len(given) != len(store.annotation_keys):
        raise InputError(
            f"the architecture takes {len(given)} annotations, the tensors have "
            f"{len(store.annotation_keys)} ({', '.join(store.annotation_keys)})",
            path=path,
        )
    if given != store.annotation_keys:
        print(
            "cnnscore: warning: the tensors' annotation keys differ from the architecture's; "
            "the exported JSON lists the tensors' (score with the same --info-annotation-keys)",
            file=sys.stderr,
        )
    return {**data, "input_annotations": list(store.annotation_keys)}


def _check_spec(spec: ModelSpec, store: TensorStore) -> None:
    if spec.tensor_type != store.tensor_type:
        raise InputError(
            f"the architecture takes {spec.tensor_type} tensors, the store holds "
            f"{store.tensor_type}",
            path=store.path,
        )
    expected = (
        (spec.read_limit, spec.window_size, 15)
        if spec.tensor_type == READ_TENSOR
        else (spec.window_size, 4)
    )
    if store.tensor_shape != expected:
        raise InputError(
            f"tensors have shape {store.tensor_shape}, the architecture takes {expected}",
            path=store.path,
        )


def _configure_keras(seed: int, threads: int) -> None:
    """Same seed, same weights: seeded Python/NumPy/TensorFlow streams and deterministic ops."""
    from ..backends.tensorflow_backend import TensorFlowBackend

    TensorFlowBackend.configure_runtime(threads)
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)


def _epoch_logger(epochs: int):
    import keras

    class EpochLog(keras.callbacks.Callback):
        """One line per epoch on stderr (Keras' progress bars are for terminals)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:  # the rate the epoch ended at, into the history (--cosine-decay)
                rate = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))
            values = " ".join(f"{key} {value:.4f}" for key, value in sorted((logs or {}).items()))
            seconds = time.monotonic() - self.started
            line = f"cnnscore: epoch {epoch + 1}/{epochs}: {values} ({seconds:.1f} s)"
            print(line, file=sys.stderr)

    return EpochLog()


def run_train(options: TrainOptions) -> TrainResult:
    """Train, export ``PREFIX.hd5`` + ``PREFIX.json``, and write the report."""
    started = time.monotonic()
    from ..backends.tensorflow_backend import require_tensorflow

    require_tensorflow("cnnscore train")
    _check_options(options)
    prefix = output_prefix(options.output)
    weights_path, json_path = prefix + ".hd5", prefix + ".json"
    stores = [TensorStore(path) for path in options.tensors]
    try:
        store = _check_stores(stores)
        data = _architecture_data(options, store)
        data["architecture"] = os.path.basename(weights_path)
        spec = parse_model_spec(data, json_path)
        from ..models.architectures import architecture_for

        architecture = architecture_for(spec)
        _check_spec(spec, store)
        # checked before any tensor is read: a mismatched file fails at once, not after the teacher
        initial = initial_weights(options.initial_weights, architecture.describe(spec))
        return _train(options, stores, spec, architecture, data, initial,
                      (weights_path, json_path), started)  # fmt: skip
    finally:
        for opened in stores:
            opened.close()


def _train(
    options: TrainOptions,
    stores: list[TensorStore],
    spec: ModelSpec,
    architecture,
    data: dict[str, Any],
    initial: Weights | None,
    paths: tuple[str, str],
    started: float,
) -> TrainResult:
    from .batches import TensorBatches, index_stores, missing_label_error, split_validation
    from .epochs import run_epochs

    weights_path, json_path = paths
    index = index_stores(stores)
    if len(index) < 2:
        raise InputError(
            f"{len(index)} tensors: too few to train and validate", path=options.tensors[0]
        )
    training_positions, validation_positions = split_validation(
        index.labels, options.validation_fraction, options.seed
    )
    training, validation = index.subset(training_positions), index.subset(validation_positions)
    counts = _label_counts(training.labels)
    # the report's AUCs were n/a, and the model published anyway; a teacher's outputs are the
    # targets of distillation, whose stores may label every candidate true (no truth needed)
    if not all(counts.values()) and not options.teacher_architecture:
        stored = _label_counts(index.labels)
        raise missing_label_error(counts, stored, options.validation_fraction, options.tensors[0])
    if len(validation) == 0:
        raise InputError(
            f"--validation-fraction {options.validation_fraction} of {len(index)} tensors holds "
            "none out: raise it or add tensors",
            setting="validation_fraction",
        )

    threads = options.threads or usable_cores()
    # what an epoch feeds and validates on: the tensors, and with a teacher their annotation draws
    fed, checked = training, validation
    training_targets = validation_targets = distillation = None
    if options.teacher_architecture:
        from .distill import (
            distillation_loss,
            load_teacher,
            teacher_accuracy,
            teacher_targets,
            typed_targets,
            with_annotation_draws,
        )

        teacher_started = time.monotonic()
        teacher, described = load_teacher(
            options.teacher_architecture, options.teacher_weights, stores[0], threads
        )
        fed = with_annotation_draws(
            training, stores[0].annotation_keys, options.annotation_draws, options.seed
        )
        checked = with_annotation_draws(
            validation, stores[0].annotation_keys, options.annotation_draws, options.seed + 1
        )
        training_targets = typed_targets(teacher_targets(stores, fed, teacher), fed.labels)
        validation_targets = typed_targets(teacher_targets(stores, checked, teacher),
                                           checked.labels)  # fmt: skip
        distillation = {
            "teacher": described,
            "log_odds_weight": options.log_odds_weight,
            "other_type_weight": options.other_type_weight,
            "annotation_draws": options.annotation_draws,
            "teacher_seconds": round(time.monotonic() - teacher_started, 3),
        }
    _configure_keras(options.seed, threads)
    import keras

    from ..models.keras_builder import build_keras

    model = build_keras(architecture.describe(spec), initial, dropout=options.dropout)
    initial_sha256 = sha256_file(options.initial_weights) if options.initial_weights else None
    if initial is None:
        start_normalisation(model, fed.annotations)
    classes = len(LABELS)
    training_batches = TensorBatches(stores, fed, options.batch_size, classes, options.seed,
                                     training_targets)  # fmt: skip
    validation_batches = TensorBatches(stores, checked, options.batch_size, classes,
                                       targets=validation_targets)  # fmt: skip
    learning_rate = options.learning_rate
    if options.cosine_decay:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            options.learning_rate, decay_steps=options.epochs * len(training_batches)
        )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=1.0),
        loss="categorical_crossentropy"
        if distillation is None
        else distillation_loss(options.log_odds_weight, options.other_type_weight),
        metrics=["accuracy" if distillation is None else teacher_accuracy],
    )
    stopper = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=options.patience, restore_best_weights=True
    )
    fit_started = time.monotonic()
    history = run_epochs(model, training_batches, validation_batches, options.epochs,
                         [stopper, _epoch_logger(options.epochs)])  # fmt: skip
    fit_seconds = time.monotonic() - fit_started
    # a value that is not finite is null in the report (JSON has no NaN)
    curves = {key: [float(v) if math.isfinite(v) else None for v in values]
              for key, values in history.items()}  # fmt: skip
    epochs_run = len(curves.get("loss", []))
    best_epoch = stopper.best_epoch + 1 if stopper.best_weights is not None else epochs_run
    if not all(np.isfinite(w).all() for w in model.get_weights()):
        # a model of NaN weights scores every record nan: nothing is written
        raise InputError(
            f"training diverged: the weights are not finite after epoch {epochs_run} "
            f"(loss {float(history['loss'][-1])}): try a lower rate",
            setting="learning_rate",
        )

    probabilities = np.concatenate(
        [
            np.asarray(model(inputs, training=False))
            for inputs, _ in (validation_batches[i] for i in range(len(validation_batches)))
        ]
    )
    validation_labels = checked.labels[validation_batches.order]
    metrics = validation_metrics(probabilities, validation_labels)
    if distillation is not None:
        from .distill import agreement

        teacher_validation = validation_batches.targets[validation_batches.order, :classes]
        distillation["validation_agreement"] = agreement(
            probabilities, teacher_validation, validation_labels
        )

    prefix = output_prefix(options.output)
    with _publishing(weights_path, prefix) as weights_output:
        export_weights(model, spec, weights_output.temp, validation_batches[0][0])
        weights_sha256 = sha256_file(weights_output.temp)
        data["cnnscore_training"] = {
            "cnnscore_version": __version__,
            "weights_sha256": weights_sha256,  # checked when scored (models.spec)
            "tensors": user_facing(list(options.tensors)),
            "seed": options.seed,
            "epochs_run": epochs_run,
            "best_epoch": best_epoch,
            "validation_auc": {kind: entry["auc"] for kind, entry in metrics["roc"].items()},
            "report": os.path.basename(report_paths(prefix)[0]),
        }
        if initial_sha256 is not None:
            data["cnnscore_training"]["initial_weights_sha256"] = initial_sha256
        if distillation is not None:
            data["cnnscore_training"]["distilled_from"] = {
                "model_id": distillation["teacher"]["model_id"],
                "weights_sha256": distillation["teacher"]["weights_sha256"],
                "validation_pearson_r": distillation["validation_agreement"]["pearson_r"],
            }
        description = (json.dumps(data, indent=2) + "\n").encode()

        report = {
            "schema": SCHEMA,
            "cnnscore_version": __version__,
            "model": {
                "id": spec.model_id,
                "architecture": architecture.name,
                "tensor_type": spec.tensor_type,
                "annotations": list(spec.annotations),
                "parameters": int(model.count_params()),
            },
            "options": {
                key: list(value) if isinstance(value, tuple) else value
                for key, value in asdict(options).items()
            },
            "data": {
                "stores": [_store_entry(store) for store in stores],
                "training_counts": counts,
                "validation_counts": _label_counts(validation.labels),
            },
            "training": {
                "tensors": len(training),
                "fed_per_epoch": len(fed),
                "epochs_run": epochs_run,
                "best_epoch": best_epoch,
                "stopped_early": epochs_run < options.epochs,
                "initial_weights": None
                if initial_sha256 is None
                else {"path": options.initial_weights, "sha256": initial_sha256},
                "seconds": round(fit_seconds, 3),
            },
            "history": curves,
            "validation": metrics,
            "distillation": distillation,
            "outputs": {
                "weights": {"path": weights_path, "sha256": weights_sha256},
                "architecture": {"path": json_path, "sha256": _sha256(description)},
            },
            "seconds": round(time.monotonic() - started, 3),
        }
        report = user_facing(report)
        report_json, report_html = publish_model(weights_output, json_path, description, report,
                                                 prefix)  # fmt: skip
    return TrainResult(weights_path, json_path, report_json, report_html, report)


@contextlib.contextmanager
def _publishing(weights_path: str, prefix: str) -> Iterator[PartialOutput]:
    """The weights' output, taken back with everything unpublished if the block fails: a
    full disk is main's to say; another write failure (a file too large, an I/O error) is one
    line here, not a traceback."""
    output = complete_or_nothing(weights_path)
    try:
        yield output
    except OSError as err:
        output.abort()
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise InputError(f"cannot write the model ({err.strerror})", path=prefix) from None
    except BaseException:
        output.abort()
        raise


def _store_entry(store: TensorStore) -> dict[str, Any]:
    return {"path": store.path, "tensors": len(store), "counts": store.manifest.get("counts")}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _label_counts(labels: np.ndarray) -> dict[str, int]:
    return {name: int(np.sum(labels == index)) for name, index in LABELS.items()}


def summary(result: TrainResult) -> str:
    report = result.report
    training, validation = report["training"], report["validation"]
    aucs = ", ".join(
        f"{kind} {entry['auc']:.3f}" if entry["auc"] is not None else f"{kind} n/a"
        for kind, entry in validation["roc"].items()
    )
    taught = ""
    if report.get("distillation"):
        agreed = report["distillation"]["validation_agreement"]
        taught = (
            f", held-out scores against the teacher's: Pearson r {agreed['pearson_r']:.4f}, "
            f"mean |delta| {agreed['mean_abs_delta']:.3f}"
        )
    return (
        f"cnnscore: trained {report['model']['id']} on {training['tensors']:,} tensors "
        f"({validation['tensors']:,} held out) for {training['epochs_run']} epoch(s), keeping "
        f"epoch {training['best_epoch']}: validation accuracy {validation['accuracy']:.3f}, "
        f"ROC AUC {aucs}{taught} ({training['seconds']:.1f} s) -> {result.weights}, "
        f"{result.architecture}, "
        f"{result.report_html}"
    )

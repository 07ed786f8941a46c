"""Models by name, and which one scores when none is given.

GATK always scored with its own models when the user gave none: ``small_2d`` for the 2D read
tensor, ``1d_cnn_mix_train_full_bn`` for the 1D reference tensor. cnnscore does the same wherever
GATK's files are in the model cache (``cnnscore models fetch gatk``; the task image carries them),
checked by size and sha256 before every use; where they are not, it scores with its own shipped
compact model and says so on stderr. ``--model NAME`` picks any of them by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError
from ..io.files import sha256_file
from .defaults import DEFAULT_MODELS, default_model
from .fetch import GATK_FILES, default_cache_dir
from .spec import READ_TENSOR, REFERENCE

GATK = "gatk"
CNNSCORE = "cnnscore"


@dataclass(frozen=True)
class NamedModel:
    name: str
    source: str  # GATK or CNNSCORE
    tensor_type: str


MODELS = {
    model.name: model
    for model in (
        NamedModel("small_2d", GATK, READ_TENSOR),
        NamedModel("2d_cnn_mix_train", GATK, READ_TENSOR),
        NamedModel("1d_cnn_mix_train_full_bn", GATK, REFERENCE),
        NamedModel(DEFAULT_MODELS[READ_TENSOR], CNNSCORE, READ_TENSOR),
        NamedModel(DEFAULT_MODELS[REFERENCE], CNNSCORE, REFERENCE),
    )
}
#: GATK's defaults per tensor type, used whenever their files are in the cache
GATK_DEFAULTS = {READ_TENSOR: "small_2d", REFERENCE: "1d_cnn_mix_train_full_bn"}


@dataclass(frozen=True)
class Located:
    model: NamedModel
    architecture: str
    weights: str


def gatk_folder(cache_dir: str | None = None) -> str:
    return os.path.join(cache_dir or default_cache_dir(), GATK)


def _gatk_problem(name: str, cache_dir: str | None) -> str | None:
    """Why GATK's model ``name`` cannot be used from the cache, or None when it can."""
    folder = gatk_folder(cache_dir)
    for suffix in (".json", ".hd5"):
        spec = GATK_FILES[name + suffix]
        path = os.path.join(folder, spec.name)
        if not os.path.isfile(path):
            return f"{spec.name} is not in the model cache {folder}"
        problem = spec.check(os.path.getsize(path), sha256_file(path))
        if problem:
            return f"{path} is not GATK's {spec.name}: {problem}"
    return None


def locate(name: str, cache_dir: str | None = None) -> Located:
    """The named model's files, checked; a clear error when it is unknown or not available."""
    model = MODELS.get(name)
    if model is None:
        raise InputError(f"unknown model; known: {', '.join(MODELS)}", path=name)
    if model.source == CNNSCORE:
        architecture, weights = default_model(model.tensor_type)
        return Located(model, architecture, weights)
    problem = _gatk_problem(name, cache_dir)
    if problem:
        raise InputError(
            f"GATK's {name} is not available ({problem}): cnnscore models fetch gatk --model "
            f"{name}",
            path="--model",
        )
    folder = gatk_folder(cache_dir)
    return Located(model, os.path.join(folder, f"{name}.json"), os.path.join(folder, f"{name}.hd5"))


def available(name: str, cache_dir: str | None = None) -> bool:
    model = MODELS[name]
    return model.source == CNNSCORE or _gatk_problem(name, cache_dir) is None


def default_for(tensor_type: str, cache_dir: str | None = None) -> tuple[Located, str]:
    """The model that scores ``tensor_type`` when none is given, and the stderr line saying so:
    GATK's default where its files are in the cache, as in GATK; otherwise cnnscore's own."""
    gatk_name = GATK_DEFAULTS[tensor_type]
    problem = _gatk_problem(gatk_name, cache_dir)
    if problem is None:
        located = locate(gatk_name, cache_dir)
        return located, (
            f"cnnscore: no model given: using GATK's {gatk_name}, GATK's default for "
            f"{tensor_type} ({located.weights})"
        )
    located = locate(DEFAULT_MODELS[tensor_type])
    return located, (
        f"cnnscore: no model given: using cnnscore's own {os.path.basename(located.weights)} "
        f"(see MODEL_CARD.md; GATK's {gatk_name} is unavailable: {problem}; "
        f"cnnscore models fetch gatk --model {gatk_name})"
    )


def listing(cache_dir: str | None = None) -> list[dict[str, str]]:
    """One row per named model: where it is, its weights' sha256, whether it is a default."""
    rows = []
    defaults = {tensor_type: default_for(tensor_type, cache_dir)[0].model.name
                for tensor_type in (READ_TENSOR, REFERENCE)}  # fmt: skip
    for name, model in MODELS.items():
        try:
            located = locate(name, cache_dir)
            where, digest = located.weights, sha256_file(located.weights)
        except InputError:
            where, digest = "not fetched (cnnscore models fetch gatk --model " + name + ")", "-"
        rows.append({
            "name": name, "source": model.source, "tensor_type": model.tensor_type,
            "default": "yes" if defaults[model.tensor_type] == name else "",
            "weights": where, "sha256": digest,
        })  # fmt: skip
    return rows

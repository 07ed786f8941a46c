"""Models by name, and which one scores when none is given.

GATK always scored with its own models when the user gave none: ``small_2d`` for the 2D read
tensor, ``1d_cnn_mix_train_full_bn`` for the 1D reference tensor. cnnscore does the same. GATK's
``small_2d`` ships inside the package (``gatk_small_2d/``), so a fresh install, an offline one and
every image score with it. GATK's other models are too large to ship (20-24 MB) and come from
the model cache (``cnnscore models fetch gatk``); where GATK's 1D model is not cached, cnnscore's
own ``cnnscore_compact_1d`` scores the reference tensor and stderr says so. Every file, shipped or
cached, is checked by size and sha256 before each use; ``--model NAME`` picks any of them by name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InputError
from ..io.files import sha256_file
from .defaults import DEFAULT_MODELS, default_model
from .fetch import GATK_FILES, default_cache_dir
from .spec import READ_TENSOR, REFERENCE, companion_path

GATK = "gatk"
CNNSCORE = "cnnscore"
#: GATK's small_2d as released (README.md and LICENSE.TXT beside the files)
SHIPPED_GATK_FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gatk_small_2d")


@dataclass(frozen=True)
class NamedModel:
    name: str
    source: str  # GATK or CNNSCORE: whose model it is
    tensor_type: str
    shipped: bool  # its files are inside the package; otherwise they come from the model cache


MODELS = {
    model.name: model
    for model in (
        NamedModel("small_2d", GATK, READ_TENSOR, shipped=True),
        NamedModel("2d_cnn_mix_train", GATK, READ_TENSOR, shipped=False),
        NamedModel("1d_cnn_mix_train_full_bn", GATK, REFERENCE, shipped=False),
        NamedModel(DEFAULT_MODELS[READ_TENSOR], CNNSCORE, READ_TENSOR, shipped=True),
        NamedModel(DEFAULT_MODELS[REFERENCE], CNNSCORE, REFERENCE, shipped=True),
    )
}
#: GATK's defaults per tensor type: small_2d always (shipped), the 1D model where it is cached
GATK_DEFAULTS = {READ_TENSOR: "small_2d", REFERENCE: "1d_cnn_mix_train_full_bn"}


@dataclass(frozen=True)
class Located:
    model: NamedModel
    architecture: str
    weights: str


def gatk_folder(cache_dir: str | None = None) -> str:
    return os.path.join(cache_dir or default_cache_dir(), GATK)


def _gatk_problem(name: str, folder: str) -> str | None:
    """Why GATK's model ``name`` in ``folder`` cannot be used, or None when it can."""
    for suffix in (".json", ".hd5"):
        spec = GATK_FILES[name + suffix]
        path = os.path.join(folder, spec.name)
        if not os.path.isfile(path):
            return f"{spec.name} is not in {folder}"
        problem = spec.check(os.path.getsize(path), sha256_file(path))
        if problem:
            return f"{path} is not GATK's {spec.name}: {problem}"
    return None


def _located_gatk(model: NamedModel, folder: str) -> Located:
    return Located(
        model, os.path.join(folder, f"{model.name}.json"), os.path.join(folder, f"{model.name}.hd5")
    )


def locate(name: str, cache_dir: str | None = None) -> Located:
    """The named model's files, checked; a clear error when it is unknown, not available or
    damaged."""
    model = MODELS.get(name)
    if model is None:
        raise InputError(f"unknown model; known: {', '.join(MODELS)}", path=name)
    if model.source == CNNSCORE:
        architecture, weights = default_model(model.tensor_type)
        return Located(model, architecture, weights)
    if model.shipped:
        problem = _gatk_problem(name, SHIPPED_GATK_FOLDER)
        if problem:
            raise InputError(
                f"the shipped copy of GATK's {name} is damaged or missing ({problem}): "
                "reinstall cnnscore",
                path=SHIPPED_GATK_FOLDER,
            )
        return _located_gatk(model, SHIPPED_GATK_FOLDER)
    folder = gatk_folder(cache_dir)
    problem = _gatk_problem(name, folder)
    if problem:
        raise InputError(
            f"GATK's {name} is not available ({problem}): cnnscore models fetch gatk --model "
            f"{name}",
            setting="model",
        )
    return _located_gatk(model, folder)


def default_for(tensor_type: str, cache_dir: str | None = None) -> tuple[Located, str]:
    """The model that scores ``tensor_type`` when none is given, and the stderr line saying so:
    GATK's default (shipped, or in the cache); otherwise cnnscore's own, with the reason."""
    gatk_name = GATK_DEFAULTS[tensor_type]
    model = MODELS[gatk_name]
    problem = None if model.shipped else _gatk_problem(gatk_name, gatk_folder(cache_dir))
    if problem is None:
        located = locate(gatk_name, cache_dir)
        where = "shipped with cnnscore" if model.shipped else "from the model cache"
        return located, (
            f"cnnscore: no model given: using GATK's {gatk_name}, GATK's default for "
            f"{tensor_type} ({where}: {located.weights})"
        )
    located = locate(DEFAULT_MODELS[tensor_type])
    return located, (
        f"cnnscore: no model given: using cnnscore's own {os.path.basename(located.weights)}, "
        f"an approximation of GATK's {gatk_name} (see MODEL_CARD.md), because GATK's "
        f"{gatk_name} is unavailable: {problem}; cnnscore models fetch gatk --model {gatk_name}"
    )


@dataclass(frozen=True)
class Chosen:
    """The model that scores, and what the user is told about it: ``note`` for stderr when none
    was given; ``own_model`` when it is one of cnnscore's own models, which the output's INFO
    line then names (its scores are not GATK's, and a VCF outlives the run's stderr)."""

    architecture: str
    weights: str
    note: str | None = None
    own_model: str | None = None


def choose_model(
    name: str | None, architecture: str | None, weights: str | None, tensor_type: str | None
) -> Chosen:
    """The model named (``--model``) or given by file; with none given, GATK's default for the
    tensor type where its files are available, as GATK does, otherwise cnnscore's own (the
    tensor type is GATK's default, reference, when none is given either)."""
    if name:
        if architecture or weights:
            raise InputError(
                "--model names a model: give it or --architecture/--weights, not both",
                setting="model",
            )
        located = locate(name)
        if tensor_type and tensor_type != located.model.tensor_type:
            raise InputError(
                f"{name} takes the {located.model.tensor_type} tensor, not {tensor_type}",
                setting="model",
            )
        return Chosen(located.architecture, located.weights, own_model=_own(located))
    if not architecture and not weights:
        located, note = default_for(tensor_type or REFERENCE)
        return Chosen(located.architecture, located.weights, note, _own(located))
    return Chosen(
        architecture or companion_path(weights, ".json"),  # type: ignore[arg-type]
        weights or companion_path(architecture, ".hd5"),  # type: ignore[arg-type]
    )


def _own(located: Located) -> str | None:
    return located.model.name if located.model.source == CNNSCORE else None


def listing(cache_dir: str | None = None) -> list[dict[str, str]]:
    """One row per named model: where it is, its weights' sha256, whether it is a default."""
    rows = []
    defaults = {tensor_type: default_for(tensor_type, cache_dir)[0].model.name
                for tensor_type in (READ_TENSOR, REFERENCE)}  # fmt: skip
    for name, model in MODELS.items():
        try:
            located = locate(name, cache_dir)
            where = "shipped" if model.shipped else "cached"
            path, digest = located.weights, sha256_file(located.weights)
        except InputError:
            where, path, digest = "missing", f"cnnscore models fetch gatk --model {name}", "-"
        rows.append({
            "name": name, "source": model.source, "tensor_type": model.tensor_type,
            "default": "yes" if defaults[model.tensor_type] == name else "",
            "where": where, "weights": path, "sha256": digest,
        })  # fmt: skip
    return rows

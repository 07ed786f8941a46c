"""Outputs that would land on an input, or on each other, refused before anything runs.

Every stage writes its outputs atomically (a temporary name, renamed when complete), so a run
whose ``-O`` or ``--metrics-json`` names one of its own inputs finishes "successfully" with that
input gone: a truth VCF replaced by filtered calls, the input VCF by metrics JSON. The settings
say which paths are read and which are written (``settings.path_kinds``), so one check covers
every subcommand, and a new path setting is covered without a change here.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import InputError
from ..io.locations import READS_INDEX_SUFFIXES, same_file, split_indexes
from ..io.vcf_output import INDEX_SUFFIX, names_a_variant_file, output_format
from ..models.spec import companion_path
from ..settings import (
    FASTA,
    OUTPUT,
    OUTPUT_DIR,
    READS,
    VCF,
    flag_of,
    path_kinds,
    prefix_suffixes,
)

#: The files read with an input of each kind, found beside it: htslib's index names (it takes
#: whichever exists, so a new file at any of them is read next time) and a FASTA's .fai/.gzi
#: (and GATK's .dict, added in ``_companions``).
_READ_BESIDE = {
    READS: READS_INDEX_SUFFIXES,
    FASTA: (".fai", ".gzi"),
    VCF: (".tbi", ".csi"),
}
#: A model file and the setting whose default is its partner (``models.spec.companion_path``).
_PARTNERS = {
    "weights": ("architecture", ".json"),
    "architecture": ("weights", ".hd5"),
    "teacher_architecture": ("teacher_weights", ".hd5"),
}


def _companions(options: Any, name: str, kind: str, path: str) -> list[str]:
    """The files an input given without ``##idx##`` is read with, beside it."""
    found = [path + suffix for suffix in _READ_BESIDE.get(kind, ())]
    stem, _ = os.path.splitext(path)
    if kind == READS:
        found += [stem + suffix for suffix in _READ_BESIDE[READS]]
    elif kind == FASTA:
        plain = stem if path.lower().endswith(".gz") else path
        found.append(os.path.splitext(plain)[0] + ".dict")
    partner, suffix = _PARTNERS.get(name, (None, ""))
    if partner is not None and hasattr(options, partner) and not getattr(options, partner):
        found.append(companion_path(path, suffix))
    return found


def _inside(path: str, folder: str) -> bool:
    """``path`` lies in the input folder ``folder`` (a tensor store, whose files it reads)."""
    if "://" in path or "://" in folder or not os.path.isdir(folder):
        return False
    return os.path.realpath(path).startswith(os.path.join(os.path.realpath(folder), ""))


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [item for item in items if isinstance(item, str) and item]


def _written(path: str, writes: tuple[str, ...] = ()) -> list[str]:
    """What an output writes: a prefix's files (``writes``), or the file and the index written
    beside it."""
    if writes:
        stem = next((path[: -len(s)] for s in writes if path.endswith(s)), path)
        return [stem + suffix for suffix in writes]
    if names_a_variant_file(path):  # an output VCF, and the index the writer puts beside it
        return [path, path + INDEX_SUFFIX[output_format(path)]]
    return [path]


def check_paths_apart(options: Any) -> None:
    """Raise InputError, naming the output's flag, if an output path is one of the inputs, or
    another output (or the index written beside it)."""
    options_class = type(options)
    prefixes = prefix_suffixes(options_class)
    inputs: list[tuple[str, str, str | None]] = []  # setting, path, the input it is read with
    outputs: list[tuple[str, str]] = []
    for name, kind in path_kinds(options_class).items():
        for value in _values(getattr(options, name, None)):
            main, indexes = split_indexes(value)
            if kind in (OUTPUT, OUTPUT_DIR):
                outputs.append((name, main))
                continue
            inputs.extend((name, path, None) for path in (main, *indexes))
            if not indexes:
                inputs.extend((name, c, main) for c in _companions(options, name, kind, main))

    def flag(name: str) -> str:
        return flag_of(options_class, name) or "--" + name.replace("_", "-")

    for position, (name, path) in enumerate(outputs):
        written = _written(path, prefixes.get(name, ()))
        # an input itself first, then the files read with one, then a folder's contents
        for input_name, input_path, read_with in sorted(inputs, key=lambda i: i[2] is not None):
            clash = next((w for w in written if same_file(w, input_path)), None)
            if clash is not None:
                what = "also an input" if read_with is None else f"read with {read_with}"
                raise InputError(
                    f"{clash} is {what} ({flag(input_name)}): writing it would destroy that input",
                    setting=name,
                )
        for input_name, input_path, read_with in inputs:
            clash = next((w for w in written if _inside(w, input_path)), None)
            if clash is not None and read_with is None:
                raise InputError(
                    f"{clash} is inside the input folder {input_path} ({flag(input_name)}): "
                    "writing it could destroy that input",
                    setting=name,
                )
        for other_name, other_path in outputs[position + 1 :]:
            theirs = _written(other_path, prefixes.get(other_name, ()))
            if any(same_file(a, b) for a in written for b in theirs):
                raise InputError(
                    f"{path} and {other_path} ({flag(other_name)}) would overwrite each other "
                    "(or the index written beside one of them)",
                    setting=name,
                )

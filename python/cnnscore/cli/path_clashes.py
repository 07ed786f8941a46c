"""Outputs that would land on an input, or on each other, refused before anything runs.

Every stage writes its outputs atomically (a temporary name, renamed when complete), so a run
whose ``-O`` or ``--metrics-json`` names one of its own inputs finishes "successfully" with that
input gone: a truth VCF replaced by filtered calls, the input VCF by metrics JSON. The settings
say which paths are read and which are written (``settings.path_kinds``), so one check covers
every subcommand, and a new path setting is covered without a change here.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..io.locations import same_file, split_indexes
from ..settings import OUTPUT, OUTPUT_DIR, flag_of, path_kinds, prefix_suffixes

#: Indexes written beside an output VCF (``io.vcf_output``): writing another output there
#: would be overwritten by, or overwrite, the index.
_INDEX_BESIDE = {".vcf.gz": ".tbi", ".vcf.bgz": ".tbi", ".bcf": ".csi"}


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    return [item for item in items if isinstance(item, str) and item]


def _written(path: str, writes: tuple[str, ...] = ()) -> list[str]:
    """What an output writes: a prefix's files (``writes``), or the file and the index written
    beside it."""
    if writes:
        stem = next((path[: -len(s)] for s in writes if path.endswith(s)), path)
        return [stem + suffix for suffix in writes]
    for suffix, index in _INDEX_BESIDE.items():
        if path.lower().endswith(suffix):
            return [path, path + index]
    return [path]


def check_paths_apart(options: Any) -> None:
    """Raise InputError, naming the output's flag, if an output path is one of the inputs, or
    another output (or the index written beside it)."""
    options_class = type(options)
    prefixes = prefix_suffixes(options_class)
    inputs: list[tuple[str, str]] = []
    outputs: list[tuple[str, str]] = []
    for name, kind in path_kinds(options_class).items():
        for value in _values(getattr(options, name, None)):
            main, indexes = split_indexes(value)
            if kind in (OUTPUT, OUTPUT_DIR):
                outputs.append((name, main))
            else:
                inputs.extend((name, path) for path in (main, *indexes))

    def flag(name: str) -> str:
        return flag_of(options_class, name) or "--" + name.replace("_", "-")

    for position, (name, path) in enumerate(outputs):
        written = _written(path, prefixes.get(name, ()))
        for input_name, input_path in inputs:
            clash = next((w for w in written if same_file(w, input_path)), None)
            if clash is not None:
                raise InputError(
                    f"{clash} is also an input ({flag(input_name)}): writing it would destroy "
                    "that input",
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

"""Which settings of a stage hold which kind of path, for the ``gs://`` layer.

Each stage declares its settings once (``settings.py``), a path setting with its kind; this
module reads those kinds, so that before a command runs its ``gs://`` values are swapped for what
:class:`~cnnscore.gcs.remote_files.RemoteFiles` hands out (cached copies, range-read URLs,
staging paths), and after it succeeds the staged outputs are uploaded. A new path setting works
with ``gs://`` without a change here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..models.spec import companion_path
from ..settings import path_kinds
from .client import is_gcs
from .remote_files import RemoteFiles


def _values(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def uses_gcs(options: Any) -> bool:
    """Whether any path setting of ``options`` is a gs:// URL."""
    return any(
        is_gcs(item)
        for name in path_kinds(type(options))
        for item in _values(getattr(options, name))
    )


def localize(options: Any, remote: RemoteFiles) -> Any:
    """A copy of ``options`` whose gs:// values are replaced by local paths or URLs."""
    changes: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(options)}
    if {"architecture", "weights"} <= names and "tensors" not in names:
        architecture, weights = options.architecture, options.weights
        if is_gcs(architecture) or is_gcs(weights):
            # GATK derives the missing half of the model by swapping .json/.hd5: do it on the
            # gs:// names, before the two are cached under names of their own
            changes["architecture"] = architecture or companion_path(weights, ".json")
            changes["weights"] = weights or companion_path(architecture, ".hd5")
    resolved = dataclasses.replace(options, **changes)
    changes = {}
    for name, kind in path_kinds(type(options)).items():
        method: Callable[[str], str] = getattr(remote, kind)
        value = getattr(resolved, name)
        if isinstance(value, tuple):
            changes[name] = tuple(method(item) if is_gcs(item) else item for item in value)
        elif is_gcs(value):
            changes[name] = method(value)
    return dataclasses.replace(resolved, **changes)

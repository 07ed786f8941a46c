"""Compiled models kept on disk between runs, so that a run on a machine that has scored before
starts without building and compiling its graphs again.

Start-up is one graph build and one compilation per depth bucket (seven for small_2d): on a 2-core
AVX-512 EPYC 0.11 s of building and 0.61 s of compiling one after another, against 0.30 s to read
back the seven exported models (bench/RESULTS.md). What OpenVINO's CPU plugin exports is the model
before its CPU-specific compilation: importing it compiles for the CPU at hand with the
configuration passed then (imported without one it ran bf16 where the CPU has it), so the
configuration is always passed, and the key holds everything a compilation depends on anyway:
the network and a digest of its weights, the source of the code that builds the graph, batch,
streams, threads, precision, convolution, the OpenVINO and cnnscore versions and the CPU's model
and full flag list. A blob that will not import (damaged, truncated) is removed and the model
compiled as if it were missing; one is written complete or not at all (io.files), so concurrent
runs (shards on one machine) never read a half-written one. The folder is kept under
:data:`BUDGET_BYTES`, least recently used first.

A fresh machine per task (Terra, Cromwell on GCP) never finds anything here, so the image turns
the cache off (``CNNSCORE_COMPILED_CACHE=off``, in any case); it pays on a workstation or a
long-lived VM.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
from collections.abc import Mapping

import numpy as np

from .. import __version__
from ..errors import InputError
from ..io import files
from ..settings import folder_or_off
from . import cpu

ENVIRONMENT = "CNNSCORE_COMPILED_CACHE"
OFF = "off"
#: Blobs kept at most (small_2d at one thread count: ~41 MB for its seven models).
BUDGET_BYTES = 512 * 1024 * 1024
SUFFIX = ".blob"


def default_folder() -> str:
    """``$CNNSCORE_COMPILED_CACHE`` (a folder, or ``off`` in any case), else
    ~/.cache/cnnscore/compiled."""
    if given := os.environ.get(ENVIRONMENT):
        return folder_or_off(given)
    return os.path.join(os.path.expanduser("~"), ".cache", "cnnscore", "compiled")


@functools.cache
def cpu_identity() -> str:
    """The CPU's model name and every flag it reports: a compilation is only reused on a CPU
    that looks exactly the same."""
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
    except OSError:
        return "unknown"
    model = next(
        (line.partition(":")[2].strip() for line in text.splitlines()
         if line.partition(":")[0].strip() == "model name"),
        "",
    )  # fmt: skip
    return f"{model}|{' '.join(sorted(cpu.parse_cpuinfo_flags(text)))}"


def source_digest(*modules: object) -> str:
    """sha256 of the modules' source files: a graph built by changed code is another graph, also
    between releases (the version alone would not tell a development tree's edits apart)."""
    digest = hashlib.sha256()
    for module in modules:
        with open(module.__file__, "rb") as handle:  # type: ignore[attr-defined]
            digest.update(handle.read())
    return digest.hexdigest()


def weights_digest(weights: Mapping[str, Mapping[str, np.ndarray]]) -> str:
    """sha256 over every bound array (layer, name, dtype, shape, bytes), in sorted order."""
    digest = hashlib.sha256()
    for layer in sorted(weights):
        for name in sorted(weights[layer]):
            array = np.ascontiguousarray(weights[layer][name])
            digest.update(f"{layer}/{name}/{array.dtype.str}/{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


class CompiledCache:
    """One folder of exported compiled models, named by the digest of what made them."""

    def __init__(self, folder: str):
        self.folder = folder

    @classmethod
    def at(cls, folder: str | None) -> CompiledCache | None:
        """The cache in ``folder`` (created), or None when it is ``off``, unset, or cannot be
        created or written: a cache only saves time, so its absence is never an error."""
        if not folder or folder.lower() == OFF:
            return None
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            return None
        return cls(folder) if os.access(folder, os.W_OK | os.X_OK) else None

    @staticmethod
    def key(**parts: object) -> str:
        """The name of a compilation: a digest of ``parts`` with the runtime's and the CPU's
        identity added."""
        described = dict(parts, cnnscore=__version__, cpu=cpu_identity())
        text = json.dumps(described, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, key + SUFFIX)

    def load(self, core, key: str, config: dict):
        """The compiled model stored under ``key``, imported with ``config``; None when there is
        none or it does not import (then it is removed)."""
        path = self._path(key)
        try:
            with open(path, "rb") as handle:
                blob = handle.read()
        except OSError:
            return None
        try:
            compiled = core.import_model(io.BytesIO(blob), "CPU", config)
        except Exception:  # OpenVINO raises RuntimeError, or worse, for a damaged blob
            with contextlib.suppress(OSError):
                os.remove(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: kept longest
        return compiled

    def store(self, key: str, compiled) -> bool:
        """Export ``compiled`` under ``key``; False when it could not be written (no room, no
        permission), which costs only the next run's time."""
        buffer = io.BytesIO()
        try:
            compiled.export_model(buffer)
            files.write_atomically(self._path(key), buffer.getvalue())
        except (OSError, RuntimeError, InputError):  # InputError: a link or pipe at its name
            if files.abandoned_for_space and files.abandoned_for_space[-1] == self._path(key):
                files.abandoned_for_space.pop()  # not an output: a full disk is not its error
            return False
        self.prune()
        return True

    def prune(self, budget: int = BUDGET_BYTES) -> None:
        """Remove the least recently used blobs until the folder holds at most ``budget``."""
        entries = []
        with contextlib.suppress(OSError), os.scandir(self.folder) as found:
            for entry in found:
                if entry.name.endswith(SUFFIX) and entry.is_file():
                    with contextlib.suppress(OSError):
                        status = entry.stat()
                        entries.append((status.st_mtime, status.st_size, entry.path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= budget:
                break
            with contextlib.suppress(OSError):
                os.remove(path)
                total -= size

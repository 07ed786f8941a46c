"""Which argument of which subcommand is what kind of file, for the ``gs://`` layer.

One table per subcommand keeps :mod:`cnnscore.cli.main` free of storage logic: before a
command runs, its ``gs://`` arguments are swapped for what
:class:`~cnnscore.gcs.remote_files.RemoteFiles` hands out (cached copies, range-read URLs, staging
paths); after it succeeds, the staged outputs are uploaded.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from ..models.spec import companion_path
from .client import is_gcs
from .remote_files import RemoteFiles

# argument name -> the RemoteFiles method that resolves it (lists are resolved item by item)
_KINDS: dict[str, dict[str, str]] = {
    "score": {
        "variant": "vcf",
        "reference": "fasta",
        "reads": "reads",
        "architecture": "file",
        "weights": "file",
        "intervals": "file",
        "output": "output",
        "metrics_json": "output",
    },
    "split-intervals": {
        "variant": "vcf",
        "reference": "fasta",
        "intervals": "file",
        "output": "output_dir",
    },
    "gather-vcfs": {"inputs": "vcf", "output": "output"},
    "filter": {"variant": "vcf", "resources": "vcf", "output": "output"},
    "compare": {
        "baseline": "vcf",
        "candidate": "vcf",
        "baseline_metrics": "file",
        "candidate_metrics": "file",
        "output": "output",
    },
    # a gs:// tensor store is one .zip object (the parsers refuse a gs:// folder)
    "write-tensors": {
        "variant": "vcf",
        "reference": "fasta",
        "reads": "reads",
        "truth_vcf": "vcf",
        "truth_bed": "file",
        "intervals": "file",
        "output": "output",
    },
    "train": {"tensors": "file", "architecture": "file", "output": "output"},
}


def uses_gcs(args: argparse.Namespace) -> bool:
    for name in _KINDS.get(args.command, {}):
        value = getattr(args, name, None)
        values = value if isinstance(value, list) else [value]
        if any(is_gcs(item) for item in values):
            return True
    return False


def localize(args: argparse.Namespace, remote: RemoteFiles) -> argparse.Namespace:
    """A copy of ``args`` whose gs:// values are replaced by local paths or URLs."""
    resolved = argparse.Namespace(**vars(args))
    if args.command == "score" and (is_gcs(args.architecture) or is_gcs(args.weights)):
        # GATK derives the missing half of the model by swapping .json/.hd5: do it on the gs://
        # names, before the two are cached under names of their own
        resolved.architecture = args.architecture or companion_path(args.weights, ".json")
        resolved.weights = args.weights or companion_path(args.architecture, ".hd5")
    for name, kind in _KINDS.get(args.command, {}).items():
        method: Callable[[str], str] = getattr(remote, kind)
        value = getattr(resolved, name, None)
        if isinstance(value, list):
            setattr(resolved, name, [method(item) if is_gcs(item) else item for item in value])
        elif is_gcs(value):
            setattr(resolved, name, method(value))
    return resolved

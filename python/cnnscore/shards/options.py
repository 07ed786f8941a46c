"""``cnnscore split-intervals`` and ``gather-vcfs``: their settings, each declared once
(``settings.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import (
    FASTA,
    OUTPUT,
    OUTPUT_DIR,
    VCF,
    intervals_setting,
    positive_int,
    setting,
)


@dataclass(frozen=True)
class SplitOptions:
    """Cut a VCF into interval-list shards of about equal record counts (the scatter)."""

    variants: str = setting("-V", "--variant", required=True, path=VCF, help="input VCF")
    reference: str = setting(
        "-R", "--reference", required=True, path=FASTA, help="indexed FASTA (for contig lengths)"
    )
    intervals: tuple[str, ...] = intervals_setting("restrict to these intervals first (union)")
    scatter_count: int = setting(
        "--scatter-count",
        required=True,
        parse=positive_int,
        help="shards wanted; fewer are written when the records allow fewer clean cuts",
    )
    output: str = setting(
        "-O",
        "--output",
        required=True,
        path=OUTPUT_DIR,
        help="folder the shard-NNNN.interval_list files are added to (an earlier run's are "
        "replaced, in a local folder; nothing else there is touched)",
    )


@dataclass(frozen=True)
class GatherOptions:
    """Concatenate scored shards, in the order given, into one indexed VCF (the gather)."""

    inputs: tuple[str, ...] = setting(
        "-I",
        "--input",
        repeated=True,
        required=True,
        path=VCF,
        help="shard VCF, repeatable, in shard order",
    )
    output: str = setting(
        "-O", "--output", required=True, path=OUTPUT, help="output .vcf, .vcf.gz or .bcf"
    )

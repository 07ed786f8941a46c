"""``cnnscore split-intervals`` and ``gather-vcfs``: the workflow's scatter and gather."""

from __future__ import annotations

from .arguments import positive_int


def add_split_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "split-intervals",
        help="cut a VCF into interval-list shards of about equal record counts (for scatter)",
    )
    p.add_argument("-V", "--variant", required=True, help="input VCF")
    p.add_argument("-R", "--reference", required=True, help="indexed FASTA (for contig lengths)")
    p.add_argument(
        "-L",
        "--intervals",
        action="append",
        default=[],
        help="restrict to these intervals first (as score's -L)",
    )
    p.add_argument(
        "--scatter-count",
        type=positive_int,
        required=True,
        help="shards wanted; fewer are written when the records allow fewer clean cuts",
    )
    p.add_argument("-O", "--output", required=True, help="folder for shard-NNNN.interval_list")


def add_gather_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "gather-vcfs", help="concatenate scored shards, in the order given, into one indexed VCF"
    )
    p.add_argument(
        "-I",
        "--input",
        action="append",
        required=True,
        dest="inputs",
        help="shard VCF, repeatable, in shard order",
    )
    p.add_argument("-O", "--output", required=True, help="output .vcf, .vcf.gz or .bcf")

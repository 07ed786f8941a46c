"""``cnnscore compare``'s flags: the two runs, cutoffs and ``--fail-if`` gates."""

from __future__ import annotations


def add_compare_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="score differences, classification concordance and speed between two runs",
        description="Match two scored VCFs by CHROM/POS/REF/ALT and report how their scores "
        "differ; writes PREFIX.json and PREFIX.html and prints a short table.",
    )
    p.add_argument("--baseline", required=True, help="scored VCF of the reference run")
    p.add_argument("--candidate", required=True, help="scored VCF of the run being checked")
    p.add_argument(
        "--baseline-metrics",
        nargs="+",
        default=[],
        metavar="JSON",
        help="the baseline's --metrics-json file(s), one per shard, for throughput",
    )
    p.add_argument(
        "--candidate-metrics", nargs="+", default=[], metavar="JSON", help="the same for candidate"
    )
    p.add_argument("--baseline-label", help="name shown for the baseline (default: its backend)")
    p.add_argument("--candidate-label", help="name shown for the candidate")
    p.add_argument("--info-key", default="CNN_2D", help="INFO key compared (default CNN_2D)")
    p.add_argument(
        "--snp-cutoff",
        type=float,
        help="tranche cutoff for SNPs: a SNP is filtered iff its score <= this (both sides)",
    )
    p.add_argument("--indel-cutoff", type=float, help="the same for indels")
    p.add_argument(
        "--compare-filters",
        action="store_true",
        help="the inputs are tranche-filtered VCFs: compare their FILTER columns",
    )
    p.add_argument(
        "--fail-if",
        action="append",
        default=[],
        metavar="GATE",
        help="exit 3 when e.g. 'max_abs_delta>0.01' or 'concordance<0.999' holds; repeatable",
    )
    p.add_argument("-O", "--output", required=True, help="report prefix: writes PREFIX.json/.html")

"""``cnnscore compare``'s settings, each declared once (``settings.py``): the two runs, the
cutoffs and the ``--fail-if`` gates."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import FILE, OUTPUT, VCF, finite_float, setting


@dataclass(frozen=True)
class CompareOptions:
    """Match two scored VCFs by CHROM/POS/REF/ALT and report how their scores differ."""

    baseline: str = setting(
        "--baseline", required=True, path=VCF, help="scored VCF of the reference run"
    )
    candidate: str = setting(
        "--candidate", required=True, path=VCF, help="scored VCF of the run being checked"
    )
    baseline_metrics: tuple[str, ...] = setting(
        "--baseline-metrics",
        repeated=True,
        path=FILE,
        metavar="JSON",
        help="the baseline's --metrics-json file(s), one per shard, for throughput",
    )
    candidate_metrics: tuple[str, ...] = setting(
        "--candidate-metrics",
        repeated=True,
        path=FILE,
        metavar="JSON",
        help="the same for candidate",
    )
    baseline_label: str | None = setting(
        "--baseline-label", help="name shown for the baseline (default: its backend)"
    )
    candidate_label: str | None = setting("--candidate-label", help="name shown for candidate")
    info_key: str = setting(
        "--info-key", default="CNN_2D", help="INFO key compared (default CNN_2D)"
    )
    snp_cutoff: float | None = setting(
        "--snp-cutoff",
        parse=finite_float,
        help="tranche cutoff for SNPs: a SNP is filtered iff its score <= this (both sides)",
    )
    indel_cutoff: float | None = setting(
        "--indel-cutoff", parse=finite_float, help="the same for indels"
    )
    compare_filters: bool = setting(
        "--compare-filters",
        switch=True,
        default=False,
        help="the inputs are tranche-filtered VCFs: compare their FILTER columns",
    )
    fail_if: tuple[str, ...] = setting(
        "--fail-if",
        repeated=True,
        metavar="GATE",
        help="exit 3 when e.g. 'max_abs_delta>0.01' or 'concordance<0.999' holds; repeatable",
    )
    output: str = setting(
        "-O",
        "--output",
        required=True,
        path=OUTPUT,
        writes=(".json", ".html"),
        help="report prefix: writes PREFIX.json/.html",
    )

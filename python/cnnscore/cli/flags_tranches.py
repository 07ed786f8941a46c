"""``cnnscore filter``'s flags: GATK FilterVariantTranches' names."""

from __future__ import annotations


def add_filter_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "filter",
        help="tranche-filter a scored VCF by truth sensitivity (GATK FilterVariantTranches)",
        description="Filter SNPs and indels whose score is at or below the score that keeps the "
        "given sensitivity to the resource-confirmed variants, as GATK FilterVariantTranches.",
    )
    p.add_argument("-V", "--variant", required=True, help="scored VCF (.vcf, .vcf.gz, .bcf)")
    p.add_argument(
        "--resource",
        action="append",
        required=True,
        dest="resources",
        metavar="VCF",
        help="truth VCF (bgzip + .tbi/.csi), e.g. HapMap or Mills; repeatable",
    )
    p.add_argument(
        "--info-key", default="CNN_2D", help="INFO key holding the score (default CNN_2D)"
    )
    p.add_argument(
        "--snp-tranche",
        type=float,
        action="append",
        dest="snp_tranches",
        metavar="T",
        help="SNP truth sensitivity in percent, 0 <= t < 100; repeatable (default 99.95)",
    )
    p.add_argument(
        "--indel-tranche",
        type=float,
        action="append",
        dest="indel_tranches",
        metavar="T",
        help="indel truth sensitivity in percent; repeatable (default 99.4)",
    )
    p.add_argument(
        "--invalidate-previous-filters",
        action="store_true",
        help="drop the input's FILTER values and ##FILTER lines first",
    )
    p.add_argument(
        "-O", "--output", required=True, help="output .vcf, .vcf.gz (+.tbi) or .bcf (+.csi)"
    )

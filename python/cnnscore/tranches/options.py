"""``cnnscore filter``'s settings, each declared once (``settings.py``): GATK
FilterVariantTranches' arguments under their names and GATK's single-dash spellings."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..scoring.options import ScoreOptions
from ..settings import (
    FASTA,
    OUTPUT,
    VCF,
    command_line_header_setting,
    exclude_intervals_setting,
    interval_exclusion_padding_setting,
    interval_merging_rule_setting,
    interval_padding_setting,
    interval_set_rule_setting,
    intervals_setting,
    output_index_setting,
    setting,
    tmp_dir_setting,
    verbosity_settings,
)
from .java_double import tranche

DEFAULT_INFO_KEY = "CNN_2D"
#: GATK 4.1.3.0+ defaults; earlier releases used 99.9, 99.99 (SNP) and 99.0, 99.5 (indel).
DEFAULT_SNP_TRANCHES = (99.95,)
DEFAULT_INDEL_TRANCHES = (99.4,)
_VERBOSITY, _QUIET = verbosity_settings()


def _score_setting(name: str) -> Any:
    """One of ``score``'s settings, taken as declared there (flags, GATK's spelling, parser,
    default, help), so the two subcommands cannot drift apart."""
    declared = next(f for f in dataclasses.fields(ScoreOptions) if f.name == name)
    return dataclasses.field(default=declared.default, metadata=declared.metadata)


@dataclass(frozen=True)
class FilterOptions:
    """The command line of ``cnnscore filter``, one field per GATK argument."""

    variants: str = setting(
        "-V",
        "--variant",
        required=True,
        path=VCF,
        help="scored VCF (.vcf, .vcf.gz, .bcf)",
    )
    resources: tuple[str, ...] = setting(
        "--resource",
        repeated=True,
        required=True,
        path=VCF,
        metavar="VCF",
        help="truth VCF (bgzip + .tbi/.csi beside it, or attached: VCF##idx##INDEX), e.g. HapMap "
        "or Mills; repeatable",
    )
    output: str = setting(
        "-O",
        "--output",
        required=True,
        path=OUTPUT,
        help="output .vcf (+.idx), .vcf.gz (+.tbi) or .bcf (+.csi)",
    )
    info_key: str = setting(
        "--info-key",
        default=DEFAULT_INFO_KEY,
        help="INFO key holding the score (default CNN_2D, as GATK)",
    )
    snp_tranches: tuple[float, ...] = setting(
        "--snp-tranche",
        repeated=True,
        parse=tranche,
        default=DEFAULT_SNP_TRANCHES,
        metavar="T",
        help="SNP truth sensitivity in percent, 0 <= t < 100; repeatable (default 99.95)",
    )
    indel_tranches: tuple[float, ...] = setting(
        "--indel-tranche",
        repeated=True,
        parse=tranche,
        default=DEFAULT_INDEL_TRANCHES,
        metavar="T",
        help="indel truth sensitivity in percent; repeatable (default 99.4)",
    )
    invalidate_previous_filters: bool = setting(
        "--invalidate-previous-filters",
        switch=True,
        default=False,
        help="drop the input's FILTER values and ##FILTER lines first",
    )
    intervals: tuple[str, ...] = intervals_setting(
        "only the records overlapping these run through both passes, so the cutoffs come from "
        "them, and only they are written, as GATK's -L: chr, chr:start-end, chr:start+, a BED, "
        ".interval_list, .list/.intervals of those strings, or a VCF; repeatable (combined by "
        "--interval-set-rule; the ##contig lengths bound them)"
    )
    exclude_intervals: tuple[str, ...] = exclude_intervals_setting()
    interval_padding: int = interval_padding_setting()
    interval_set_rule: str = interval_set_rule_setting()
    interval_exclusion_padding: int = interval_exclusion_padding_setting()
    interval_merging_rule: str | None = interval_merging_rule_setting()
    reference: str | None = setting(
        "-R",
        "--reference",
        path=FASTA,
        help="GATK's reference: read only for the contig lengths -L/-XL are read against where "
        "the input's header has none (as GATK does); otherwise not read",
    )
    # Every GATK tool takes reads (GATKTool's -I), so FilterVariantTranches' command lines may
    # carry them; it never opens them, and neither does this: no path kind, nothing checked.
    reads: tuple[str, ...] = setting(
        "-I", "--input", repeated=True, list_files=False, tags=True, metavar="READS",
        ignored="this command reads no reads (GATK takes -I on every tool)",
        help="GATK's reads: accepted with a note, not read (FilterVariantTranches reads none)",
    )  # fmt: skip
    read_indexes: tuple[str, ...] = setting(
        "--read-index", repeated=True, list_files=False, tags=True, metavar="INDEX",
        ignored="this command reads no reads, nor their indexes",
        help="GATK's read indexes: accepted with a note, not read",
    )  # fmt: skip
    progress_seconds: float = _score_setting("progress_seconds")
    command_line_header: bool = command_line_header_setting()
    create_index: bool = output_index_setting()
    tmp_dir: str | None = tmp_dir_setting()
    verbosity: str | None = _VERBOSITY
    quiet: bool = _QUIET

"""``cnnscore filter``: GATK FilterVariantTranches, turning CNN scores into FILTERs.

Scores alone do not filter a callset. GATK's FilterVariantTranches (docs/GATK_BEHAVIOUR.md,
"FilterVariantTranches") ranks the scores of the input variants that a truth resource confirms, and
filters every SNP (INDEL) scoring at or below the score that keeps the chosen truth sensitivity. It
is a two-pass tool, and so is this:

1. read the scored VCF once, collecting only the scores of resource-matched variants (memory grows
   with the number of matches, never with the number of records);
2. cut the sorted scores at each tranche, then read the VCF again and write every record.

Records stay text as elsewhere in cnnscore: only the FILTER column is rewritten, the way htsjdk
writes it (sorted, de-duplicated, ``PASS`` when empty), because GATK re-encodes every record and
sets ``PASS`` explicitly on each unfiltered one.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from .. import __version__
from ..encode.variant_type import SiteType, site_type
from ..errors import InputError
from ..io.intervals import IntervalFilter, resolve_intervals
from ..io.locations import split_indexes
from ..io.reference import reference_lengths
from ..io.sequence_dictionary import check_same_reference, vcf_dictionary
from ..io.vcf_output import AtomicVcfWriter, provenance_line
from ..io.vcf_text import VcfReader, VcfRecord, header_info_ids
from ..scoring.progress import ProgressMeter
from .java_double import parse_java_double
from .options import FilterOptions
from .truth_resources import ResourceCursor, matches_truth

_FILTER_ID = re.compile(r"##FILTER=<ID=([^,>]*)")
#: ``Double.parseDouble``'s grammar after ``String.trim()``: decimal or hex, an optional
#: f/F/d/D suffix, NaN and Infinity; Python's float() accepts more ("inf", "1_0") and less (hex).


@dataclass
class TruthScores:
    """What pass 1 learns: how many SNPs/indels carry a score, and the scores the resources
    confirm (matched MIXED/MNP sites land in the indel list, as in GATK)."""

    scored_snps: int = 0
    scored_indels: int = 0
    # 8 bytes a score, so a whole genome's truth matches fit in a small task's memory
    snp_scores: array = field(default_factory=lambda: array("d"))
    indel_scores: array = field(default_factory=lambda: array("d"))


@dataclass
class FilterResult:
    """Counts and cutoffs of one run (with the validated options), for the summary line."""

    options: FilterOptions
    truth: TruthScores
    snp_cutoffs: list[float]
    indel_cutoffs: list[float]
    records: int = 0
    filtered_snps: int = 0
    filtered_indels: int = 0


# --------------------------------------------------------------------------------------------
# tranches, names and numbers


def validate_tranches(values: Sequence[float], setting: str) -> tuple[float, ...]:
    """GATK's ``validateTranches``: at least one, each 0 <= t < 100, de-duplicated, ascending.
    As Java's ``Double.equals`` and ``compareTo``, -0.0 and 0.0 are two tranches, -0.0 first
    (a Python set would merge them). NaN and infinities are refused too (GATK would let NaN
    through and misname the filter)."""
    if not values:
        raise InputError("at least one tranche value is required", setting=setting)
    for value in values:
        if not math.isfinite(value) or not 0 <= value < 100:
            raise InputError(
                f"tranche {value!r} is out of range: each must be >= 0 and < 100",
                setting=setting,
            )
    distinct = {(value, math.copysign(1.0, value)): value for value in values}
    return tuple(distinct[key] for key in sorted(distinct))


def java_percent(value: float) -> str:
    """Java ``String.format("%.2f", value)``: HALF_UP rounding of the shortest decimal text."""
    return str(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def tranche_filter_id(key: str, kind: str, low: float, high: float) -> str:
    return f"{key}_{kind}_Tranche_{java_percent(low)}_{java_percent(high)}"


def tranche_filter_lines(key: str, kind: str, tranches: Sequence[float]) -> list[str]:
    """The ##FILTER lines GATK declares for one kind: each adjacent pair, then (last, 100),
    each once: two bands that print alike (99.995 and 99.996 are both 100.00) make one line, as
    GATK's header collects its lines in a set and htsjdk's header lines are equal by their text."""
    bounds = [*zip(tranches[:-1], tranches[1:]), (tranches[-1], 100.0)]
    lines = [
        f'##FILTER=<ID={tranche_filter_id(key, kind, low, high)},Description="{kind} truth '
        f"resource sensitivity between {java_percent(low)} and {java_percent(high)} for info key "
        f'{key}">'
        for low, high in bounds
    ]
    return list(dict.fromkeys(lines))


def tranche_cutoffs(scores: Sequence[float], tranches: Sequence[float]) -> list[float]:
    """Scores sorted descending (NaN first, as Java's reverse order), cut at
    ``(int)((t/100.0)*(n-1))`` for each tranche, in Java's double arithmetic."""
    if not scores:
        return []
    ordered = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    last = float(len(ordered) - 1)
    return [float(ordered[int((t / 100.0) * last)]) for t in tranches]


def tranche_filter(
    score: float, key: str, kind: str, tranches: Sequence[float], cutoffs: Sequence[float]
) -> str | None:
    """The FILTER a score earns, or None when it passes: filtered iff score <= the lowest
    tranche's cutoff; named by the first tranche whose cutoff it beats, else (last, 100)."""
    if not cutoffs or not score <= cutoffs[0]:
        return None
    for index in range(1, len(cutoffs)):
        if score > cutoffs[index]:
            return tranche_filter_id(key, kind, tranches[index - 1], tranches[index])
    return tranche_filter_id(key, kind, tranches[-1], 100.0)


# --------------------------------------------------------------------------------------------
# the two passes


def _score_of(record: VcfRecord, key: str, path: str) -> float | None:
    """The record's score, None without the key; a value Java cannot parse is an error."""
    values = record.info_values()
    if key not in values:
        return None
    text = values[key]
    if text is None:
        raise InputError(f"INFO {key} has no value", path=path, record=record.label)
    if " " in text:  # htsjdk refuses the record before Double.parseDouble could trim it
        raise InputError(
            f"INFO {key} value '{text}' holds a space: VCF allows no whitespace in INFO",
            path=path,
            record=record.label,
        )
    try:
        return parse_java_double(text)
    except ValueError:
        raise InputError(
            f"INFO {key} value '{text}' is not a number", path=path, record=record.label
        ) from None


def _open_resources(options: FilterOptions, stack: contextlib.ExitStack) -> list[ResourceCursor]:
    cursors = []
    for path in options.resources:
        cursor = ResourceCursor(path)
        stack.callback(cursor.close)
        cursors.append(cursor)
    return cursors


def _check_dictionaries(vcf: VcfReader, cursors: list[ResourceCursor]) -> None:
    """GATK's start-up check that each resource is on the input's reference: their sequence
    dictionaries must share a contig, and no shared contig may have two lengths. A wrong-build
    resource would otherwise confirm variants by position on another genome."""
    best = vcf_dictionary(vcf.header_lines, vcf.index_contigs, vcf.path)
    for cursor in cursors:
        check_same_reference(cursor.sequence_dictionary(), cursor.path, best, vcf.path)


@dataclass
class _Traversal:
    """What both passes read: the input's records, only those overlapping the intervals when
    -L/-XL are given (GATK's VariantWalker traverses just those, in both passes), and the
    progress meter they share."""

    vcf: VcfReader
    intervals: IntervalFilter | None
    meter: ProgressMeter
    count: int = 0

    def records(self) -> Iterator[VcfRecord]:
        for record in self.vcf.records(self.intervals):
            self.count += 1
            self.meter.update(self.count, f"{record.chrom}:{record.pos}")
            yield record


def _intervals(options: FilterOptions, vcf: VcfReader) -> IntervalFilter | None:
    """The -L/-XL intervals, read against the input's ##contig lengths, or where the header has
    none, the reference's (-R): GATK reads them against the best sequence dictionary it has, the
    reference's if given, else the driving VCF's. A reference not needed here is not read."""
    needed = bool(options.intervals or options.exclude_intervals)
    if options.reference and not (needed and not vcf.contig_lengths):
        print("cnnscore: note: -R is not read: filter reads a reference only for the contig "
              "lengths of -L/-XL where the input's header has none", file=sys.stderr)  # fmt: skip
    if not needed:
        return None
    lengths = vcf.contig_lengths
    if not lengths and options.reference:
        lengths = reference_lengths(options.reference)
    if not lengths:
        raise InputError(
            "the header has no ##contig lines with lengths, which -L and -XL are read against: "
            "give the reference with -R (GATK too needs a sequence dictionary for intervals)",
            path=vcf.path,
        )
    return IntervalFilter(
        resolve_intervals(
            options.intervals,
            lengths,
            padding=options.interval_padding,
            exclude=options.exclude_intervals,
            rule=options.interval_set_rule,
            exclusion_padding=options.interval_exclusion_padding,
        ),
        dictionary=lengths,
    )


def _truth_scores(traversal: _Traversal, key: str, cursors: list[ResourceCursor]) -> TruthScores:
    """Pass 1. Every scored record's value is checked here (GATK parses them all only in pass
    2), so a bad score fails before any record is written."""
    truth = TruthScores()
    vcf = traversal.vcf
    for record in traversal.records():
        score = _score_of(record, key, vcf.path)
        if score is None:
            continue
        kind = site_type(record.ref, record.alts)
        if kind is SiteType.SNP:
            truth.scored_snps += 1
        elif kind is SiteType.INDEL:
            truth.scored_indels += 1
        if matches_truth(record, cursors, "input"):
            (truth.snp_scores if kind is SiteType.SNP else truth.indel_scores).append(score)
    return truth


def _check_truth(truth: TruthScores, options: FilterOptions) -> None:
    """GATK's checks between the passes, in its order."""
    resources = ", ".join(_resource_names(options))
    problem = None
    if truth.scored_snps == 0 and truth.scored_indels == 0:
        problem = f"no SNPs or indels with INFO {options.info_key}: nothing to filter"
    elif not truth.snp_scores and not truth.indel_scores:
        problem = f"no scored variant matches the resources ({resources}): cannot filter"
    elif truth.scored_snps > 0 and not truth.snp_scores:
        problem = (
            f"{truth.scored_snps} scored SNPs but no SNP matches in the resources ({resources}): "
            "SNPs cannot be filtered"
        )
    elif truth.scored_indels > 0 and not truth.indel_scores:
        problem = (
            f"{truth.scored_indels} scored indels but no indel matches in the resources "
            f"({resources}): indels cannot be filtered"
        )
    if problem:
        raise InputError(problem, path=split_indexes(options.variants)[0])


def filter_column(existing: str, added: str | None, invalidate: bool) -> str:
    """FILTER as htsjdk writes it after ``builder.filter(added)``: the old filters (none with
    --invalidate-previous-filters; ``PASS`` and ``.`` are none) plus the new one, sorted and
    de-duplicated, or ``PASS`` when the set is empty (GATK 4.1.3.0+ sets PASS explicitly)."""
    filters = set()
    if not invalidate and existing not in ("", ".", "PASS"):
        filters.update(existing.split(";"))
    if added:
        filters.add(added)
    return ";".join(sorted(filters)) if filters else "PASS"


def _set_filter(line: str, value: str) -> str:
    columns = line.split("\t", 7)
    columns[6] = value
    return "\t".join(columns)


def filtered_header(
    header_lines: list[str], options: FilterOptions, provenance: str | None = None
) -> list[str]:
    """The input header with the tranche ##FILTER lines (replacing same-ID ones; all old ones go
    with --invalidate-previous-filters) placed in htsjdk's sorted order among the ##FILTER lines,
    plus a provenance line before #CHROM."""
    new_lines = tranche_filter_lines(options.info_key, "SNP", options.snp_tranches)
    new_lines += tranche_filter_lines(options.info_key, "INDEL", options.indel_tranches)
    new_ids = {_FILTER_ID.match(line).group(1) for line in new_lines}
    lines = []
    for line in header_lines:
        match = _FILTER_ID.match(line)
        if match and (options.invalidate_previous_filters or match.group(1) in new_ids):
            continue
        if provenance and line.startswith("##cnnscoreCommandLine=<ID=filter,"):
            continue
        lines.append(line)
    for new_line in new_lines:
        lines.insert(_filter_line_position(lines, new_line), new_line)
    if provenance:
        lines.insert(len(lines) - 1, provenance)
    return lines


def _filter_line_position(lines: list[str], new_line: str) -> int:
    rows = [i for i, line in enumerate(lines) if line.startswith("##FILTER=")]
    if rows:
        after = [i for i in rows if lines[i] > new_line]
        return after[0] if after else rows[-1] + 1
    later = [i for i, line in enumerate(lines) if line.startswith(("##FORMAT=", "##INFO="))]
    return later[0] if later else len(lines) - 1


def _resource_names(options: FilterOptions) -> list[str]:
    """The resources' file names, without an index attached (``VCF##idx##INDEX``)."""
    return [os.path.basename(split_indexes(path)[0]) for path in options.resources]


def _provenance(options: FilterOptions) -> str:
    """Which resources and tranches made these FILTERs; base names only, so a workflow run and a
    direct run of the same files write the same header."""
    return provenance_line(
        "cnnscoreCommandLine",
        "filter",
        {
            "Version": __version__,
            "InfoKey": options.info_key,
            "SnpTranches": ",".join(map(java_percent, options.snp_tranches)),
            "IndelTranches": ",".join(map(java_percent, options.indel_tranches)),
            "Resources": ",".join(_resource_names(options)),
            "InvalidatePreviousFilters": str(options.invalidate_previous_filters).lower(),
        },
    )


def _write_filtered(traversal: _Traversal, result: FilterResult, writer: AtomicVcfWriter) -> None:
    """Pass 2: every record (within the intervals), FILTER rewritten, everything else as read."""
    options, vcf = result.options, traversal.vcf
    provenance = _provenance(options) if options.command_line_header else None
    writer.write_lines(filtered_header(vcf.header_lines, options, provenance))
    for record in traversal.records():
        added = _tranche_filter_of(record, result, vcf.path)
        existing = record.line.split("\t", 7)[6]
        new_filter = filter_column(existing, added, options.invalidate_previous_filters)
        writer.write_record(_set_filter(record.line, new_filter))
        result.records += 1


def _tranche_filter_of(record: VcfRecord, result: FilterResult, path: str) -> str | None:
    """The tranche FILTER one record earns (and counts it); MIXED, MNP and unscored: none."""
    options = result.options
    score = _score_of(record, options.info_key, path)
    if score is None:
        return None
    kind = site_type(record.ref, record.alts)
    if kind is SiteType.SNP:
        added = tranche_filter(
            score, options.info_key, "SNP", options.snp_tranches, result.snp_cutoffs
        )
        result.filtered_snps += added is not None
    elif kind is SiteType.INDEL:
        added = tranche_filter(
            score, options.info_key, "INDEL", options.indel_tranches, result.indel_cutoffs
        )
        result.filtered_indels += added is not None
    else:
        added = None
    return added


def run_filter(options: FilterOptions) -> FilterResult:
    """Both passes. GATK's argument, start-up (resources readable and on the input's reference)
    and header checks come first; the output appears only when complete, and never after an
    error."""
    options = _validated(options)
    vcf = VcfReader(options.variants)
    with contextlib.ExitStack() as stack:
        cursors = _open_resources(options, stack)
        _check_dictionaries(vcf, cursors)
        if options.info_key not in header_info_ids(vcf.header_lines):
            raise InputError(
                f"the header has no ##INFO line for the info key {options.info_key}",
                path=vcf.path,
            )
        traversal = _Traversal(
            vcf, _intervals(options, vcf), ProgressMeter(options.progress_seconds)
        )
        return _two_passes(traversal, cursors, options)


def _two_passes(
    traversal: _Traversal, cursors: list[ResourceCursor], options: FilterOptions
) -> FilterResult:
    """Pass 1, the cutoffs, pass 2, into an output that appears only when complete."""
    vcf = traversal.vcf
    writer = AtomicVcfWriter(
        options.output, index=options.create_index, source=vcf.path, header=vcf.header_lines
    )
    try:
        truth = _truth_scores(traversal, options.info_key, cursors)
        _check_truth(truth, options)
        result = FilterResult(
            options=options,
            truth=truth,
            snp_cutoffs=tranche_cutoffs(truth.snp_scores, options.snp_tranches),
            indel_cutoffs=tranche_cutoffs(truth.indel_scores, options.indel_tranches),
        )
        _write_filtered(traversal, result, writer)
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return result


def _validated(options: FilterOptions) -> FilterOptions:
    if not options.resources:
        raise InputError("at least one resource VCF is required", setting="resources")
    return replace(
        options,
        resources=tuple(options.resources),
        snp_tranches=validate_tranches(options.snp_tranches, "snp_tranches"),
        indel_tranches=validate_tranches(options.indel_tranches, "indel_tranches"),
    )


def summary(result: FilterResult) -> str:
    """One stderr line: records, filtered SNPs/indels out of the scored ones, and the cutoffs."""

    def cutoffs(tranches: Sequence[float], values: list[float]) -> str:
        pairs = [f"{java_percent(t)} -> {v:.6g}" for t, v in zip(tranches, values)]
        return ", ".join(pairs) or "none"

    truth, options = result.truth, result.options
    return (
        f"cnnscore: filtered {result.filtered_snps:,} of {truth.scored_snps:,} SNPs and "
        f"{result.filtered_indels:,} of {truth.scored_indels:,} indels by {options.info_key} "
        f"in {result.records:,} records ({len(truth.snp_scores):,} SNP and "
        f"{len(truth.indel_scores):,} indel resource matches; SNP cutoffs "
        f"{cutoffs(options.snp_tranches, result.snp_cutoffs)}; indel cutoffs "
        f"{cutoffs(options.indel_tranches, result.indel_cutoffs)}) -> {options.output}"
    )

"""``cnnscore compare``: how far a candidate run's scores are from a baseline run's, per record.

Switching backend or precision is only safe if the answers stay the same, so this measures it the
way the seed did ("3 of 15,870 sites differed in the third significant digit, classification
identical") on the user's own data. Records are matched by CHROM, POS, REF and the ALT column
(bases in either case), in one streaming pass over both coordinate-sorted files, so memory grows
with the number of compared scores (16 bytes each, kept for the plots), not with the records'
text."""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..encode.variant_type import SiteType, site_type
from ..errors import InputError
from ..io.vcf_text import VcfReader, VcfRecord, header_contigs, header_info_ids
from ..tranches.java_double import parse_java_double

DELTA_THRESHOLDS = (0.001, 0.01, 0.1)
LARGEST_DELTAS_KEPT = 20
_DELTA_DECIMALS = 9
_FLOAT32_MAX = 3.4028234663852886e38
#: what to do about records out of order when the two headers agree on the contigs' order
_SORT_BOTH = "sort both files, e.g. bcftools sort"

#: a score as written (for the identical-text count) and its value, parsed once
Score = tuple[str, float]


@dataclass(frozen=True)
class Cutoffs:
    """Tranche cutoffs as FilterVariantTranches applies them: filtered iff score <= cutoff."""

    snp: float | None = None
    indel: float | None = None

    def classify(self, ref: str, alts: list[str], score: float | None) -> str | None:
        """'filtered' or 'pass'; None when the record's type has no cutoff given. A record
        without a score is never filtered by FilterVariantTranches: 'pass'."""
        kind = site_type(ref, alts)
        if kind is SiteType.SNP:
            cutoff = self.snp
        elif kind is SiteType.INDEL:
            cutoff = self.indel
        else:
            return "pass"  # MIXED, MNP and the rest are never filtered by tranches
        if cutoff is None:
            return None
        return "filtered" if score is not None and score <= cutoff else "pass"


@dataclass
class Agreement:
    """Classification concordance: how many records both sides put in the same class."""

    classified: int = 0
    concordant: int = 0
    baseline_filtered: int = 0
    candidate_filtered: int = 0

    def add(self, baseline: str, candidate: str) -> None:
        self.classified += 1
        self.concordant += baseline == candidate
        self.baseline_filtered += baseline != "pass"
        self.candidate_filtered += candidate != "pass"

    @property
    def concordance(self) -> float | None:
        return self.concordant / self.classified if self.classified else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "classified": self.classified,
            "concordant": self.concordant,
            "discordant": self.classified - self.concordant,
            "baseline_filtered": self.baseline_filtered,
            "candidate_filtered": self.candidate_filtered,
            "concordance": self.concordance,
        }


@dataclass
class Comparison:
    """Everything counted while walking the two files; the report is rendered from this."""

    info_key: str
    baseline_path: str
    candidate_path: str
    baseline_records: int = 0
    candidate_records: int = 0
    matched: int = 0
    missing_in_candidate: int = 0
    missing_in_baseline: int = 0
    unscored_in_baseline: int = 0
    unscored_in_candidate: int = 0
    identical_text: int = 0
    third_digit_differs: int = 0
    sign_flips: int = 0
    over_threshold: dict[float, int] = field(
        default_factory=lambda: dict.fromkeys(DELTA_THRESHOLDS, 0)
    )
    sum_abs_delta: float = 0.0
    max_abs_delta: float = 0.0
    baseline_scores: array = field(default_factory=lambda: array("d"))
    candidate_scores: array = field(default_factory=lambda: array("d"))
    largest: list[tuple[float, str, float, float]] = field(default_factory=list)
    cutoff_agreement: Agreement | None = None
    filter_agreement: Agreement | None = None
    #: records sharing CHROM/POS/REF/ALT with an earlier one of their file
    duplicates: int = 0
    #: whether a compared record carries a tranche filter of the key (--compare-filters)
    tranche_filters_seen: bool = False

    @property
    def compared(self) -> int:
        return len(self.baseline_scores)

    @property
    def mean_abs_delta(self) -> float | None:
        return self.sum_abs_delta / self.compared if self.compared else None

    def add_pair(self, label: str, baseline_score: Score, candidate_score: Score) -> None:
        (baseline_text, baseline), (candidate_text, candidate) = baseline_score, candidate_score
        # Scores are decimal text (float32 underneath): drop the binary noise of the subtraction
        # so that 2.346 vs 2.345 is a delta of exactly 0.001, not 0.0010000000000001.
        delta = round(abs(candidate - baseline), _DELTA_DECIMALS)
        self.baseline_scores.append(baseline)
        self.candidate_scores.append(candidate)
        self.sum_abs_delta += delta
        self.max_abs_delta = max(self.max_abs_delta, delta)
        for threshold in DELTA_THRESHOLDS:
            self.over_threshold[threshold] += delta > threshold
        self.identical_text += baseline_text == candidate_text
        self.third_digit_differs += _three_significant(baseline) != _three_significant(candidate)
        self.sign_flips += (baseline < 0) != (candidate < 0)
        entry = (delta, label, baseline, candidate)
        if len(self.largest) < LARGEST_DELTAS_KEPT:
            heapq.heappush(self.largest, entry)
        elif delta > self.largest[0][0]:
            heapq.heapreplace(self.largest, entry)


def _three_significant(value: float) -> float:
    """The value rounded to three significant digits (so -0 and 0 agree)."""
    return float(f"{value:.3g}")


def _score(record: VcfRecord, key: str, path: str) -> Score | None:
    """The key's INFO text and its value, None when absent or '.'; anything else must parse as a
    number, as Java parses it (filter's rule: ``1_0`` or non-ASCII digits are no number to
    GATK)."""
    text = record.info_values().get(key)
    if text is None or text == ".":
        return None
    try:
        value = parse_java_double(text)
    except ValueError:
        raise InputError(f"{key}={text} is not a number", path=path, record=record.label) from None
    if math.isnan(value):
        raise InputError(f"{key} is NaN", path=path, record=record.label)
    if math.isinf(value):
        raise InputError(
            f"{key}={text} is infinite: no score difference can be measured from it",
            path=path,
            record=record.label,
        )
    if abs(value) > _FLOAT32_MAX:  # their differences overflow, their plots stop matplotlib
        raise InputError(
            f"{key}={text} is beyond float32's range, where GATK's scores lie",
            path=path,
            record=record.label,
        )
    return text, value


def _filter_class(record: VcfRecord) -> str:
    """The FILTER column as a class: 'pass' for PASS or '.', else the sorted filter names."""
    column = record.line.split("\t", 7)[6]
    if column in ("PASS", "."):
        return "pass"
    return ";".join(sorted(column.split(";")))


class _SortedRecords:
    """One file's records grouped by position, checked to be sorted in the shared contig order."""

    def __init__(self, reader: VcfReader, contig_rank: dict[str, int], remedy: str):
        self.path = reader.path
        self._remedy = remedy
        self.count = 0
        self._rank = contig_rank
        self._records = reader.records()
        self._pending: VcfRecord | None = None
        self._last: tuple[int, int] = (-1, 0)
        self._advance()

    def _advance(self) -> None:
        record = next(self._records, None)
        if record is not None:
            if record.chrom not in self._rank:
                raise InputError(
                    f"contig {record.chrom} is in no ##contig header line of either file, so the "
                    "two files' order cannot be checked",
                    path=self.path,
                    record=record.label,
                )
            place = (self._rank[record.chrom], record.pos)
            if place < self._last:
                raise InputError(
                    f"records are not coordinate-sorted in the headers' contig order "
                    f"({self._remedy})",
                    path=self.path,
                    record=record.label,
                )
            self._last = place
            self.count += 1
        self._pending = record

    def peek(self) -> tuple[int, int] | None:
        if self._pending is None:
            return None
        return (self._rank[self._pending.chrom], self._pending.pos)

    def take_position(self) -> list[VcfRecord]:
        """Every record at the next position."""
        place = self.peek()
        group: list[VcfRecord] = []
        while self._pending is not None and self.peek() == place:
            group.append(self._pending)
            self._advance()
        return group


def _contig_rank(baseline: VcfReader, candidate: VcfReader) -> tuple[dict[str, int], str]:
    """One contig order for the single pass: the baseline header's ``##contig`` lines (with a
    length or not), then the candidate's others; and what to say if the candidate's records
    come out of that order. Two headers that order their shared contigs differently are
    refused only there, when records on both contigs occur (each file is sorted in its own
    header's order, and two orders cannot be walked together). A shared contig of two lengths
    is refused at once: another length is another reference build, whose positions hold other
    bases (filter refuses a resource on another build likewise)."""
    ours, theirs = header_contigs(baseline.header_lines), header_contigs(candidate.header_lines)
    for name, length in candidate.contig_lengths.items():
        other = baseline.contig_lengths.get(name)
        if other is not None and other != length:
            raise InputError(
                f"##contig {name} has length {length} here but {other} in {baseline.path}: "
                "the two files are on different reference builds",
                path=candidate.path,
            )
    shared_ours = [name for name in ours if name in theirs]
    shared_theirs = [name for name in theirs if name in ours]
    remedy = _SORT_BOTH
    for first, second in zip(shared_theirs, shared_ours, strict=True):
        if first != second:
            remedy = (
                f"its header lists contig {first} before {second}, {baseline.path}'s the other "
                "way round, and each file is sorted in its own header's order: give one file "
                "the other's ##contig lines (bcftools reheader) and sort it again (bcftools sort)"
            )
            break
    order = list(ours) + [name for name in theirs if name not in ours]
    return {name: rank for rank, name in enumerate(order)}, remedy


def _allele_key(record: VcfRecord) -> tuple[str, str]:
    """REF and ALT as matched: bases in either case are the same bases (REF is upper-cased
    where read; htsjdk writes every allele upper-cased), other alleles (symbolic, breakends)
    as written."""
    alts = ",".join(alt.upper() if alt.isalpha() else alt for alt in record.alts)
    return record.ref, alts


def _pair_groups(
    baseline: list[VcfRecord], candidate: list[VcfRecord], result: Comparison
) -> Iterator[tuple[VcfRecord | None, VcfRecord | None]]:
    """Records of one position paired by REF and ALT (duplicates pair in file order, and are
    counted: two records of one site in one file are a scatter-gather slip, not a second call)."""
    waiting: dict[tuple[str, str], list[VcfRecord]] = {}
    for record in candidate:
        waiting.setdefault(_allele_key(record), []).append(record)
    result.duplicates += sum(len(same) - 1 for same in waiting.values())
    seen: set[tuple[str, str]] = set()
    for record in baseline:
        key = _allele_key(record)
        result.duplicates += key in seen
        seen.add(key)
        same = waiting.get(key)
        yield record, (same.pop(0) if same else None)
    for rest in waiting.values():
        for record in rest:
            yield None, record


def _tranche_filter_prefixes(info_key: str) -> tuple[str, str]:
    """How the IDs of a key's tranche filters begin (tranches.filter.tranche_filter_id, GATK's)."""
    return f"{info_key}_SNP_Tranche_", f"{info_key}_INDEL_Tranche_"


def _declares(reader: VcfReader, filter_prefixes: tuple[str, ...]) -> bool:
    """Whether the header has a ##FILTER line whose ID starts with one of the prefixes."""
    lines = tuple(f"##FILTER=<ID={prefix}" for prefix in filter_prefixes)
    return any(line.startswith(lines) for line in reader.header_lines)


def compare_vcfs(
    baseline_path: str,
    candidate_path: str,
    info_key: str,
    cutoffs: Cutoffs | None = None,
    compare_filters: bool = False,
) -> Comparison:
    """Walk both files once and count every difference the report shows."""
    baseline_reader, candidate_reader = VcfReader(baseline_path), VcfReader(candidate_path)
    for reader in (baseline_reader, candidate_reader):  # else "compared 0", exit 0
        if info_key not in header_info_ids(reader.header_lines):
            raise InputError(
                f"no ##INFO line for {info_key}: not scored with that key (--info-key)",
                path=reader.path,
            )
    rank, remedy = _contig_rank(baseline_reader, candidate_reader)
    baseline = _SortedRecords(baseline_reader, rank, _SORT_BOTH)
    candidate = _SortedRecords(candidate_reader, rank, remedy)
    result = Comparison(info_key, baseline_path, candidate_path)
    if cutoffs is not None:
        result.cutoff_agreement = Agreement()
    if compare_filters:
        result.filter_agreement = Agreement()
    while baseline.peek() is not None or candidate.peek() is not None:
        here_b, here_c = baseline.peek(), candidate.peek()
        take_b = here_c is None or (here_b is not None and here_b <= here_c)
        take_c = here_b is None or (here_c is not None and here_c <= here_b)
        group_b = baseline.take_position() if take_b else []
        group_c = candidate.take_position() if take_c else []
        for left, right in _pair_groups(group_b, group_c, result):
            _count_pair(result, left, right, cutoffs)
    result.baseline_records, result.candidate_records = baseline.count, candidate.count
    tranche = _tranche_filter_prefixes(info_key)
    if result.filter_agreement is not None and not (
        result.tranche_filters_seen
        or any(_declares(reader, tranche) for reader in (baseline_reader, candidate_reader))
    ):  # else every record is 'pass' on both sides: concordance 1 whatever the scores
        raise InputError(
            f"neither file was tranche-filtered: no {info_key} tranche in "
            f"a ##FILTER line or a record of {baseline_path} or {candidate_path} (filter them "
            "with cnnscore filter, or leave --compare-filters out)",
            setting="compare_filters",
        )
    if not result.compared:  # else every count is 0 and a gate on one passes
        raise InputError(
            f"no record was compared: none has a {info_key} score in both files at the same "
            f"CHROM, POS, REF and ALT ({_counts(result)}); were both scored from the same calls, "
            "with the same contig names?",
            path=candidate_path,
        )
    return result


def _counts(result: Comparison) -> str:
    return (
        f"baseline {result.baseline_records:,} records, candidate {result.candidate_records:,}; "
        f"{result.missing_in_candidate:,} missing in the candidate, "
        f"{result.missing_in_baseline:,} in the baseline; {result.unscored_in_baseline:,} "
        f"unscored in the baseline, {result.unscored_in_candidate:,} in the candidate"
    )


def coverage_warnings(result: Comparison) -> list[str]:
    """What the deltas and concordance leave out, said aloud: they cover only the records
    scored in both files, so a candidate that lost records would otherwise look the same."""
    warnings = []
    left_out = (result.missing_in_candidate + result.missing_in_baseline
                + result.matched - result.compared)  # fmt: skip
    if left_out:
        warnings.append(
            f"records not in the deltas: {left_out:,} ({_counts(result)}); gate on "
            "missing_in_candidate, unscored_in_candidate (and the baseline's) to fail on them"
        )
    if result.duplicates:
        warnings.append(
            f"records sharing CHROM, POS, REF and ALT with another of their file: "
            f"{result.duplicates:,} (overlapping shards?); they were paired in file order"
        )
    return warnings


def _count_pair(
    result: Comparison,
    baseline: VcfRecord | None,
    candidate: VcfRecord | None,
    cutoffs: Cutoffs | None,
) -> None:
    if candidate is None:
        result.missing_in_candidate += 1
        return
    if baseline is None:
        result.missing_in_baseline += 1
        return
    result.matched += 1
    key = result.info_key
    baseline_score = _score(baseline, key, result.baseline_path)
    candidate_score = _score(candidate, key, result.candidate_path)
    result.unscored_in_baseline += baseline_score is None
    result.unscored_in_candidate += candidate_score is None
    if result.filter_agreement is not None:
        classes = _filter_class(baseline), _filter_class(candidate)
        result.filter_agreement.add(*classes)
        if not result.tranche_filters_seen:
            prefixes = _tranche_filter_prefixes(key)
            result.tranche_filters_seen = any(p in c for p in prefixes for c in classes)
    if baseline_score is None and candidate_score is None:
        return
    if cutoffs is not None and result.cutoff_agreement is not None:  # unscored: never filtered
        left = cutoffs.classify(baseline.ref, baseline.alts, _value(baseline_score))
        right = cutoffs.classify(candidate.ref, candidate.alts, _value(candidate_score))
        if left is not None and right is not None:
            result.cutoff_agreement.add(left, right)
    if baseline_score is not None and candidate_score is not None:
        result.add_pair(baseline.label, baseline_score, candidate_score)


def _value(score: Score | None) -> float | None:
    return None if score is None else score[1]

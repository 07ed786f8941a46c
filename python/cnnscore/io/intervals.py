"""``-L`` intervals: ``chr:start-end`` strings, BED files and Picard ``.interval_list`` files.

Everything is held as 1-based inclusive ``Interval``s, GATK's convention, whatever the source
format (BED is 0-based half-open and is converted on reading).
"""

from __future__ import annotations

import gzip
import os
import re
import sys
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import InputError

_REGION = re.compile(r"^(?P<contig>.+?)(?::(?P<start>[\d,]+)(?:-(?P<end>[\d,]+))?(?P<plus>\+)?)?$")


@dataclass(frozen=True, order=True)
class Interval:
    contig: str
    start: int  # 1-based, inclusive
    end: int  # 1-based, inclusive

    def __str__(self) -> str:
        return f"{self.contig}:{self.start}-{self.end}"


def _parse_region(
    text: str, contig_lengths: dict[str, int], setting: str = "intervals"
) -> Interval:
    if text in contig_lengths:
        return Interval(text, 1, contig_lengths[text])
    match = _REGION.match(text)
    if not match or match.group("contig") not in contig_lengths:
        raise InputError(f"interval '{text}' names no contig of the reference", setting=setting)
    contig = match.group("contig")
    start = int(match.group("start").replace(",", ""))
    length = contig_lengths[contig]
    if match.group("end") is not None:
        end = int(match.group("end").replace(",", ""))
    elif match.group("plus"):
        end = length
    else:
        end = start
    if start < 1 or end < start:
        raise InputError(f"interval '{text}' is empty or starts before 1", setting=setting)
    if end > length:
        raise InputError(f"interval '{text}' {_past_the_end(contig, length)}", setting=setting)
    return Interval(contig, start, end)


def _past_the_end(contig: str, length: int) -> str:
    """GATK refuses an interval past its contig's end ("The genome loc coordinates ... exceed
    the contig size"): the intervals were made on another reference, or mistyped; clipping it
    would hide that."""
    return f"ends past the end of {contig} ({length:,} bases)"


def _check_sequence_line(line: str, contig_lengths: dict[str, int], where: str, path: str) -> None:
    """An interval list's @SQ line must agree with the reference (as a VCF's ##contig must):
    another length means the intervals were made on another reference."""
    fields = dict(f.split(":", 1) for f in line.rstrip("\r\n").split("\t")[1:] if ":" in f)
    name, length = fields.get("SN"), fields.get("LN", "")
    if name in contig_lengths and length.isdigit() and int(length) != contig_lengths[name]:
        raise InputError(
            f"{where}: @SQ gives {name} length {length}, the reference {contig_lengths[name]}: "
            "the intervals were made on another reference",
            path=path,
        )


#: A BED by its name, as htsjdk's BEDCodec tells one (any case, block-compressed or not): GATK
#: reads such a file 0-based, any other as a Picard interval list or GATK's chr:start-end lines.
_BED_NAME = re.compile(r"\.bed(\.(gz|gzip|bgz|bgzf))?$", re.IGNORECASE)
_COMPRESSED = (".gz", ".gzip", ".bgz", ".bgzf")
#: BEDCodec splits a line at a tab or at a run of spaces
_BED_FIELDS = re.compile(r"\t| +")


def is_bed_name(path: str) -> bool:
    return _BED_NAME.search(path) is not None


def _read_interval_file(path: str, contig_lengths: dict[str, int]) -> list[Interval]:
    is_bed = is_bed_name(path)
    intervals = []
    headed = False  # a Picard interval list's @HD/@SQ lines come first
    try:
        compressed = path.lower().endswith(_COMPRESSED)
        with gzip.open(path) if compressed else open(path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    line = raw.decode()
                except UnicodeDecodeError:
                    raise InputError(f"line {number} is not text (not UTF-8)", path=path) from None
                if line.startswith("@SQ"):
                    _check_sequence_line(line, contig_lengths, f"line {number}", path)
                headed = headed or line.startswith("@")
                if not line.strip() or line.startswith(("@", "#", "track", "browser")):
                    continue
                where = f"line {number}"
                if not is_bed and not headed and "\t" in line.strip():
                    raise InputError(
                        f"{where} has tab-separated columns, but the file is neither named as a "
                        "BED (.bed: 0-based starts) nor headed as a Picard interval list (@HD/@SQ "
                        "lines: 1-based), so which one is meant is unknown (GATK refuses such a "
                        "file, or reads no interval from it and scores everything)",
                        path=path,
                    )
                interval = _line_interval(line, is_bed, contig_lengths, where, path)
                if interval is not None:
                    intervals.append(interval)
    except (OSError, EOFError, zlib.error) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise InputError(f"cannot read interval file ({reason})", path=path) from None
    return intervals


def _line_interval(
    line: str, is_bed: bool, contig_lengths: dict[str, int], where: str, path: str
) -> Interval | None:
    """One line of a BED (0-based, half-open), a Picard interval list (1-based, inclusive) or a
    GATK interval file (``chr:start-end``). An empty interval is GATK's call: a BED line with
    start == end is refused (htsjdk's BEDCodec makes it end one base before its start, which
    GenomeLocParser refuses); an interval-list line ending one base before its start is skipped
    with a warning (IntervalUtils tolerates it for an off-by-one exome list, GATK issue 2089)."""
    text = line.rstrip("\r\n")
    fields = _BED_FIELDS.split(text) if is_bed else text.split("\t")
    try:
        contig = fields[0]
        if is_bed:
            start, end = int(fields[1]) + 1, int(fields[2])
        elif len(fields) >= 3:
            start, end = int(fields[1]), int(fields[2])
        else:
            return _region_line(fields[0].strip(), contig_lengths, where, path)
    except (IndexError, ValueError):
        raise InputError(f"{where} is not a valid interval", path=path) from None
    if contig not in contig_lengths:
        raise InputError(f"{where}: contig '{contig}' is not in the reference", path=path)
    if start < 1:  # as GATK (GenomeLocParser): "The start position ... is less than 1"
        first = "0 in a BED" if is_bed else "1 in an interval list"
        raise InputError(
            f"{where}: the interval starts ({fields[1]}) before the contig's first base ({first})",
            path=path,
        )
    if end < start - 1:
        reversed_ = f"the interval ends ({end}) before it starts ({start})"
        raise InputError(f"{where}: {reversed_}", path=path)
    if end == start - 1 and is_bed:
        raise InputError(
            f"{where}: the interval is empty (start {fields[1]} == end {fields[2]}; a BED start is "
            "0-based, so one base at 0-based start s is 's s+1')",
            path=path,
        )
    if end == start - 1:
        print(
            f"cnnscore: warning: {path}: {where}: ignoring an interval that ends one base before "
            f"it starts ({contig}:{start}-{end}), as GATK does",
            file=sys.stderr,
        )
    if end > contig_lengths[contig]:
        past = _past_the_end(contig, contig_lengths[contig])
        raise InputError(f"{where}: the interval {past}", path=path)
    return Interval(contig, start, end) if end >= start else None


def _region_line(text: str, contig_lengths: dict[str, int], where: str, path: str) -> Interval:
    """A ``chr:start-end`` line of a GATK interval file, its refusal naming the file and line."""
    try:
        return _parse_region(text, contig_lengths)
    except InputError as err:
        raise InputError(f"{where}: {err.message}", path=path) from None


#: a VCF given as intervals (GATK takes any feature file): each record's span is one interval
_VCF_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz", ".bcf")


def _vcf_intervals(path: str, contig_lengths: dict[str, int]) -> list[Interval]:
    """The records' spans (POS to the end of REF, or END), as GATK reads a VCF given to -L."""
    from .vcf_text import VcfReader  # it imports this module (IntervalFilter)

    intervals = []
    for record in VcfReader(path).records():
        if record.chrom not in contig_lengths:
            raise InputError(
                f"contig '{record.chrom}' is not in the reference", path=path, record=record.label
            )
        length = contig_lengths[record.chrom]
        if record.pos < 1 or record.end > length:
            outside = f"{record.chrom} ({length:,} bases)"
            raise InputError(
                f"its span {record.pos}-{record.end} lies outside {outside}",
                path=path,
                record=record.label,
            )
        intervals.append(Interval(record.chrom, record.pos, record.end))
    return intervals


def parse_intervals(
    specs: Sequence[str], contig_lengths: dict[str, int], setting: str = "intervals"
) -> list[Interval]:
    """Turn the ``-L`` values into intervals; a value that is an existing file is read as one
    (a VCF as its records' spans)."""
    intervals: list[Interval] = []
    for spec in specs:
        is_vcf = spec.lower().endswith(_VCF_SUFFIXES)
        listed = is_bed_name(spec) or spec.lower().endswith(
            (".interval_list", ".intervals", ".list")
        )
        if os.path.exists(spec) or listed or is_vcf:
            reader = _vcf_intervals if is_vcf else _read_interval_file
            found = reader(spec, contig_lengths)
            if not found:  # a run over nothing is a mistake, not an empty result (GATK
                # refuses an empty .list; an empty BED it takes as no restriction at all)
                raise InputError("the interval file holds no interval", path=spec)
            intervals.extend(found)
        else:
            intervals.append(_parse_region(spec, contig_lengths, setting))
    return intervals


def _warn_unsorted_for_intersection(
    specs: Sequence[str], given: Sequence[list[Interval]], contig_lengths: dict[str, int]
) -> None:
    """GATK 4.6.0 intersects the -L values as given, with a walk that assumes each is in
    reference order (IntervalUtils.mergeListsBySetOperator): an overlap behind its pointer is
    dropped, so a list sorted by name (chr1, chr10, ...) loses records there. cnnscore takes
    the whole intersection, and says where the two differ."""
    rank = {contig: index for index, contig in enumerate(contig_lengths)}
    for spec, intervals in zip(specs, given):
        keys = [(rank[i.contig], i.start) for i in intervals]
        if keys != sorted(keys):
            print(
                f"cnnscore: warning: -L {spec} is not in reference order: with "
                "--interval-set-rule INTERSECTION GATK 4.6.0 would drop overlaps behind its "
                "place in such a list and score fewer records; cnnscore intersects it whole",
                file=sys.stderr,
            )


def resolve_intervals(
    specs: Sequence[str],
    contig_lengths: dict[str, int],
    *,
    padding: int = 0,
    exclude: Sequence[str] = (),
    rule: str = "UNION",
    exclusion_padding: int = 0,
) -> list[Interval]:
    """GATK's engine interval arguments: each ``-L`` value padded by ``padding`` bases on both
    sides (``-ip``, clipped to the contig), the values combined by ``rule`` (``UNION`` or
    ``INTERSECTION`` of the values' sets, ``--interval-set-rule``), then the ``-XL`` intervals
    taken out, each padded by ``exclusion_padding`` (``-ixp``). Returns the merged runs, sorted."""
    if rule not in ("UNION", "INTERSECTION"):
        raise InputError(f"unknown rule {rule}: UNION or INTERSECTION", setting="interval_set_rule")
    given = [parse_intervals([spec], contig_lengths) for spec in specs]
    if rule == "INTERSECTION" and len(specs) > 1:
        _warn_unsorted_for_intersection(specs, given, contig_lengths)
    if rule == "INTERSECTION":
        sets = [merge_intervals(_padded(one, padding, contig_lengths)) for one in given]
        combined = sets[0] if sets else {}
        for other in sets[1:]:
            combined = _intersect(combined, other)
    else:  # one merge of every value's intervals (one merge per value grew with their square)
        combined = merge_intervals(
            _padded([i for one in given for i in one], padding, contig_lengths)
        )
    excluded = merge_intervals(
        _padded(
            parse_intervals(exclude, contig_lengths, "exclude_intervals"),
            exclusion_padding,
            contig_lengths,
        )
    )
    if excluded and not specs:  # -XL alone: everything but the excluded intervals
        combined = {c: [Interval(c, 1, length)] for c, length in contig_lengths.items()}
    if specs and not _flatten(combined):  # as GATK: nothing to run over is an error
        raise InputError(
            "the intervals have no base in common (--interval-set-rule INTERSECTION): no record "
            "would be read",
            setting="intervals",
        )
    runs = [run for run in _flatten(_subtract(combined, excluded)) if run.end >= run.start]
    if not runs and (specs or excluded):
        chosen = "the -L intervals chose" if specs else "of every contig"
        raise InputError(
            f"removes every base {chosen}: no record would be read", setting="exclude_intervals"
        )
    return runs


def _padded(
    intervals: list[Interval], padding: int, contig_lengths: dict[str, int]
) -> list[Interval]:
    """Each interval widened by ``padding`` bases on both sides, within its contig."""
    return [
        Interval(
            i.contig, max(1, i.start - padding), min(contig_lengths[i.contig], i.end + padding)
        )
        for i in intervals
    ]


def _flatten(runs: dict[str, list[Interval]]) -> list[Interval]:
    return [interval for contig in runs for interval in runs[contig]]


def _intersect(a: dict[str, list[Interval]], b: dict[str, list[Interval]]) -> dict:
    """The bases in both, each contig's sorted runs walked side by side (linear in the runs)."""
    out: dict[str, list[Interval]] = {}
    for contig in a.keys() & b.keys():
        xs, ys = a[contig], b[contig]
        i = j = 0
        while i < len(xs) and j < len(ys):
            x, y = xs[i], ys[j]
            start, end = max(x.start, y.start), min(x.end, y.end)
            if start <= end:
                out.setdefault(contig, []).append(Interval(contig, start, end))
            if x.end < y.end:
                i += 1
            else:
                j += 1
    return merge_intervals(_flatten(out))


def _subtract(a: dict[str, list[Interval]], b: dict[str, list[Interval]]) -> dict:
    """The bases of ``a`` outside ``b``; both hold each contig's runs sorted and disjoint (merged),
    walked side by side (linear in the runs: each cut is passed once)."""
    out: dict[str, list[Interval]] = {}
    for contig, runs in a.items():
        cuts = b.get(contig, [])
        pieces = out.setdefault(contig, [])
        first = 0  # the first cut that may reach this run or a later one
        for run in runs:
            while first < len(cuts) and cuts[first].end < run.start:
                first += 1
            start = run.start
            k = first
            while k < len(cuts) and cuts[k].start <= run.end:
                if cuts[k].start > start:
                    pieces.append(Interval(contig, start, cuts[k].start - 1))
                start = max(start, cuts[k].end + 1)
                k += 1
            if start <= run.end:
                pieces.append(Interval(contig, start, run.end))
    return out


def _order(interval: Interval) -> tuple[str, int, int]:
    """The dataclass's own order as a tuple, which sorts several times faster than its __lt__."""
    return (interval.contig, interval.start, interval.end)


def merge_intervals(intervals: Iterable[Interval]) -> dict[str, list[Interval]]:
    """Union of the intervals, per contig, sorted and with overlapping or abutting ones joined."""
    merged: dict[str, list[Interval]] = {}
    for interval in sorted(intervals, key=_order):
        runs = merged.setdefault(interval.contig, [])
        if runs and interval.start <= runs[-1].end + 1:
            if interval.end > runs[-1].end:
                runs[-1] = Interval(interval.contig, runs[-1].start, interval.end)
        else:
            runs.append(interval)
    return merged


class IntervalFilter:
    """Answers "does this record overlap the union of the intervals?" for records in file order.

    ``dictionary``: the contigs in the order of the sequence dictionary they were read against
    (the reference's): an indexed VCF is traversed interval by interval in its header's contig
    order, as GATK sorts its intervals, and in this order where the header lists no contigs."""

    def __init__(self, intervals: Iterable[Interval], dictionary: Iterable[str] = ()):
        self.dictionary = tuple(dictionary)
        self._by_contig = merge_intervals(intervals)
        self._starts = {c: [i.start for i in runs] for c, runs in self._by_contig.items()}

    @property
    def by_contig(self) -> dict[str, list[Interval]]:
        return self._by_contig

    def overlaps(self, contig: str, start: int, end: int) -> bool:
        runs = self._by_contig.get(contig)
        if not runs:
            return False
        index = bisect_right(self._starts[contig], end) - 1
        return index >= 0 and runs[index].end >= start

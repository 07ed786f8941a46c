"""``cnnscore split-intervals``: cut a VCF into shards of about equal record counts for scatter.

Each shard is an interval list such that scoring the VCF with ``-L shard`` selects exactly that
shard's records, every record is in exactly one shard, and the union equals the unsharded run
(with the user's ``-L`` if given). Two properties make that hold under GATK's overlap semantics:
cuts fall only where no earlier record's REF span reaches the next record's start ("clean" cuts),
and each shard's range per contig (first start .. furthest end) is intersected with the user's
intervals, so no unselected record can sneak in.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InputError
from ..io.files import check_folder_to_fill, replace_in_folder
from ..io.intervals import Interval, IntervalFilter, merge_intervals, parse_intervals
from ..io.output_paths import check_output_folder
from ..io.vcf_output import SortOrder
from ..io.vcf_text import VcfReader, VcfRecord, header_contig_rank, listed_before


@dataclass
class _Shard:
    count: int = 0
    ranges: dict[str, list[int]] | None = None  # contig -> [first start, furthest end]

    def add(self, contig: str, start: int, end: int) -> None:
        self.count += 1
        if self.ranges is None:
            self.ranges = {}
        span = self.ranges.setdefault(contig, [start, end])
        span[1] = max(span[1], end)


def _clip(ranges: dict[str, list[int]], chosen: dict[str, list[Interval]] | None) -> list[Interval]:
    intervals = []
    for contig, (start, end) in ranges.items():
        if chosen is None:
            intervals.append(Interval(contig, start, end))
            continue
        for run in chosen.get(contig, []):
            low, high = max(start, run.start), min(end, run.end)
            if low <= high:
                intervals.append(Interval(contig, low, high))
    return intervals


def _count_checked(
    vcf_path: str, records: Iterable[VcfRecord], lengths: dict[str, int], rank: dict[str, int]
) -> int:
    """The records counted, each checked as the cuts need it: in order (a record before an
    earlier one fell outside its shard's range, and an unsorted VCF's shards selected only some
    of its records, exit 0; GATK cannot index, so cannot scatter, such a VCF), its contigs in
    the header's order (``rank``: gather-vcfs refuses shards out of it, after all the scoring),
    and on a contig of the reference (a shard naming another failed only when scored)."""
    order = SortOrder(vcf_path, "so it cannot be cut into shards (sort it, e.g. bcftools sort)")
    total = 0
    previous: str | None = None
    for record in records:
        order.record(record.chrom, record.pos)
        behind = previous is not None and record.chrom != previous
        if behind and listed_before(rank, record.chrom, previous):
            raise InputError(
                f"comes after {previous} records, but the header lists {record.chrom} before "
                f"{previous}: the scored shards could not be gathered in the header's order "
                "(sort it, e.g. bcftools sort)",
                path=vcf_path,
                record=record.label,
            )
        previous = record.chrom
        if record.chrom not in lengths:  # as score refuses it (and -L a VCF, intervals.py)
            raise InputError(
                f"contig '{record.chrom}' is not in the reference",
                path=vcf_path,
                record=record.label,
            )
        total += 1
    return total


def split_vcf(
    vcf_path: str, contig_lengths: dict[str, int], scatter_count: int, user_intervals: list[str]
) -> list[list[Interval]]:
    """Shards (lists of intervals, in file order); at most ``scatter_count``, and at least one:
    a shard holds records unless there are none to hold."""
    if scatter_count < 1:
        raise InputError("must be at least 1", setting="scatter_count")
    vcf = VcfReader(vcf_path)
    selection = None
    chosen = None
    if user_intervals:
        parsed = parse_intervals(user_intervals, contig_lengths)
        selection = IntervalFilter(parsed, contig_lengths)
        chosen = merge_intervals(parsed)
    rank = header_contig_rank(vcf.header_lines)
    total = _count_checked(vcf_path, vcf.records(selection), contig_lengths, rank)
    shards: list[_Shard] = [_Shard()]
    furthest: tuple[str, int] | None = None  # contig and furthest REF end of records so far
    for seen, record in enumerate(vcf.records(selection)):
        target = (len(shards) * total) / scatter_count
        clean = furthest is None or furthest[0] != record.chrom or furthest[1] < record.pos
        if seen >= target and clean and len(shards) < scatter_count:
            shards.append(_Shard())
        # a span past its contig's end (a symbolic END beyond it) is clipped there: an interval
        # past the end is refused (as GATK refuses it), and nothing lies beyond the end anyway
        shards[-1].add(
            record.chrom, record.pos, min(record.end, contig_lengths.get(record.chrom, record.end))
        )
        if furthest is None or furthest[0] != record.chrom:
            furthest = (record.chrom, record.end)
        else:
            furthest = (record.chrom, max(furthest[1], record.end))
    kept = [_clip(shard.ranges, chosen) for shard in shards if shard.count]
    if kept:
        return kept
    # No record to score (a VCF without records, or none in -L): one shard all the same, over
    # all that is chosen, so that a scatter scores nothing and its gather writes the header, a
    # VCF without records as GATK writes one, where no shards at all made the gather fail
    everything = [Interval(contig, 1, length) for contig, length in contig_lengths.items()]
    if chosen is None:
        return [everything]
    return [[run for each in everything for run in chosen.get(each.contig, [])]]


#: The shard files' names: those of an earlier run in the output folder are replaced (all of
#: them, so none beyond the new count is scored twice); no other file there is touched.
SHARD_NAME = re.compile(r"shard-[0-9]{4,}\.interval_list")


def shard_names(count: int) -> list[str]:
    """``shard-NNNN.interval_list``, numbered from 0 with as many digits as the last needs (at
    least 4): the workflows collect the shards with a glob, which Cromwell and miniwdl return
    sorted by name, so the names must sort in shard order (shard-10000 before shard-1001 would
    gather the VCF out of order)."""
    width = max(4, len(str(count - 1)))
    return [f"shard-{index:0{width}d}.interval_list" for index in range(count)]


def interval_list_text(intervals: list[Interval], contig_lengths: dict[str, int]) -> str:
    """A Picard interval list (1-based, inclusive) with a sequence dictionary header."""
    lines = ["@HD\tVN:1.6"]
    lines += [f"@SQ\tSN:{name}\tLN:{length}" for name, length in contig_lengths.items()]
    lines += [f"{i.contig}\t{i.start}\t{i.end}\t+\t." for i in intervals]
    return "\n".join(lines) + "\n"


def _refuse_inputs_among(earlier: list[str], folder: str, inputs: list[str]) -> None:
    """An input that is one of the earlier shards this run replaces (``-L shards/shard-0003...``
    with ``-O shards``) would be deleted by the run that reads it."""
    replaced = {os.path.realpath(os.path.join(folder, name)) for name in earlier}
    for given in inputs:
        if os.path.exists(given) and os.path.realpath(given) in replaced:
            raise InputError(
                "is an earlier run's shard in the output folder, which this run replaces: "
                "give another -O or move it first",
                path=given,
            )


def run_split(
    vcf: str,
    reference_fai_lengths: dict[str, int],
    scatter_count: int,
    intervals: list[str],
    output_dir: str,
) -> list[str]:
    """Write ``shard-NNNN.interval_list`` files into ``output_dir`` (made if absent), all or
    none; returns their paths. As GATK's SplitIntervals, the shards are added to the folder and
    nothing else in it is touched (it may be ``-O .``, holding the inputs); an earlier run's
    shard files there are replaced, all of them, so that none is left to be scored twice."""
    parent = os.path.dirname(os.path.abspath(output_dir))
    if not os.path.isdir(parent):
        raise InputError("output folder's parent does not exist", path=output_dir)
    check_output_folder(output_dir)  # writable, and no link or pipe to replace: before the work
    if os.path.exists(output_dir):
        earlier = check_folder_to_fill(output_dir, SHARD_NAME)
        _refuse_inputs_among(earlier, output_dir, [vcf, *intervals])
    shards = split_vcf(vcf, reference_fai_lengths, scatter_count, intervals)
    names = shard_names(len(shards))
    contents = [
        (name, interval_list_text(shard, reference_fai_lengths).encode())
        for name, shard in zip(names, shards)
    ]
    made = False
    try:
        if not os.path.isdir(output_dir):
            os.mkdir(output_dir)
            made = True
        replace_in_folder(output_dir, contents, SHARD_NAME)
    except BaseException as err:
        if made:  # a folder made here and left empty would look like a run with no shards
            with contextlib.suppress(OSError):
                os.rmdir(output_dir)
        if isinstance(err, OSError):
            raise InputError(f"cannot write the shards ({err.strerror})", path=output_dir) from None
        raise
    return [os.path.join(output_dir, name) for name in names]

"""Reads for the 2D tensor: GATK's read filters, multi-file merge and reservoir downsampling.

GATK hands Python, per variant, the reads overlapping the variant's REF span that pass
WellformedReadFilter and the artificial-haplotype read-group blacklist, downsampled by a reservoir
drawing from one process-wide ``java.util.Random``. This module reproduces that selection.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pysam

from ..errors import InputError
from ..io import cram_reference, locations
from ..io.index_checks import check_reads_index_kind, index_problem
from .javarandom import JavaRandom, reservoir_sample

# pysam / BAM CIGAR operation codes
CIGAR_M, CIGAR_I, CIGAR_D, CIGAR_N, CIGAR_S, CIGAR_H = 0, 1, 2, 3, 4, 5
CIGAR_LETTERS = "MIDNSHP=XB"
_QUERY_CONSUMING = {0, 1, 4, 7, 8}
_REFERENCE_CONSUMING = {0, 2, 3, 7, 8}
_BLACKLISTED_READ_GROUPS = {"ArtificialHaplotypeRG", "ArtificialHaplotype"}


def declared_blacklisted_read_groups(files: list[pysam.AlignmentFile]) -> frozenset[str]:
    """The blacklisted read groups (HaplotypeCaller's bamout ones) that a header declares. GATK's
    ReadGroupBlackListReadFilter looks the read's RG up in the (merged) header and keeps the read
    when the header has no such read group, so a read tagged ArtificialHaplotypeRG without its
    @RG line is scored with the others."""
    declared = set()
    for handle in files:
        declared.update(group.get("ID") for group in handle.header.to_dict().get("RG", []))
    return frozenset(_BLACKLISTED_READ_GROUPS & declared)


#: The start GATK sends for an unmapped read. An aligner places an unmapped mate at its mate's
#: position, so a region query returns it and GATK's read filters keep it, but GATK's read
#: adapter answers getUnclippedStart() with ReadConstants.UNSET_POSITION for any unmapped read:
#: its row is cut to nothing (or to other reads' pads) and sorts first.
UNMAPPED_START = 0


@dataclass(frozen=True)
class ReadData:
    """The eight fields GATK's Java side sends per read, in the types the encoder needs."""

    seq: bytes  # stored bases, soft clips included, hard clips absent
    qual: np.ndarray  # uint8 phred per base
    cigar: tuple[tuple[int, int], ...]  # (op code, length)
    reverse: bool
    mate_reverse: bool  # False for unpaired reads
    first: bool  # first of pair; False for unpaired reads
    mapping_quality: int
    unclipped_start: int  # 1-based, leading S and H subtracted


def _coordinate_key(read: pysam.AlignedSegment) -> tuple:
    """htsjdk's SAMRecordCoordinateComparator order, used to merge several inputs."""
    return (
        read.reference_start,
        read.is_reverse,
        read.query_name,
        read.flag,
        read.mapping_quality,
        read.next_reference_id,
        read.next_reference_start,
        read.template_length,
    )


def _refuse_repeats(paths: Sequence[str]) -> None:
    """The same reads file given twice would put each of its reads in every tensor twice, and
    every score would move without a word: refused (a link or another index to it included)."""
    repeat = locations.first_repeat(list(paths))
    if repeat:
        raise InputError(
            "given twice (-I): its reads would count twice in every read tensor", path=repeat[0]
        )


def _refuse_no_shared_contig(
    reads: pysam.AlignmentFile, path: str, reference: str, reference_lengths: dict[str, int]
) -> None:
    """Reads named on other contigs than the reference's (``20`` against ``chr20``: another
    build's naming) would give every variant an empty pileup and a score without a word; GATK
    stops on it ("No overlapping contigs found"). Checked per file, not over all -I together as
    GATK does, since one such file among others would add nothing and say nothing."""
    names = list(reads.references)
    if not names or any(name in reference_lengths for name in names):
        return
    raise InputError(
        f"its contigs ({_first_names(names)}) share none with the reference "
        f"{os.path.basename(reference)} ({_first_names(list(reference_lengths))}): the reads were "
        "aligned to another reference, or name its contigs otherwise",
        path=locations.split_indexes(path)[0],
    )


def _first_names(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def _htsjdk_ends_before(read: pysam.AlignedSegment, start: int) -> bool:
    """A mapped read that covers no reference base (all soft clip or insertion) and starts at or
    before ``start`` (1-based): htslib's region query counts it as covering its first position,
    htsjdk's ends it one base before (start + reference length - 1), so GATK's query for a
    variant at that position skips it (BAMQueryMultipleIntervalsIteratorFilter)."""
    if read.is_unmapped or read.reference_start + 1 > start:
        return False
    return not any(n for op, n in read.cigartuples or () if op in _REFERENCE_CONSUMING)


class ReadSource:
    """One or more BAM/CRAM files, opened once, queried per variant."""

    def __init__(
        self,
        paths: Sequence[str],
        reference_path: str,
        reference_lengths: dict[str, int],
        threads: int = 1,
    ):
        """``threads`` > 1 gives htslib that many threads to decompress BGZF blocks (or decode
        CRAM slices) ahead of the reader: worth it where a core would otherwise wait."""
        self.paths = list(paths)
        self._reference = reference_path
        _refuse_repeats(self.paths)
        self._files: list[pysam.AlignmentFile] = []
        self._warned_no_read_group = False
        for path in self.paths:
            self._files.append(self._open(path, reference_path, reference_lengths, threads))
        self.blacklisted_read_groups = declared_blacklisted_read_groups(self._files)

    @staticmethod
    def _open(
        path: str, reference_path: str, reference_lengths: dict[str, int], threads: int = 1
    ) -> pysam.AlignmentFile:
        if not locations.exists(path):
            raise InputError("reads file does not exist", path=path)
        check_reads_index_kind(path)  # before htslib loads the index: a tabix one crashes it
        reference_file, _ = locations.split_indexes(reference_path)
        try:
            reads = pysam.AlignmentFile(
                path, "r", reference_filename=reference_file, threads=max(1, threads)
            )
        except (OSError, ValueError):
            raise InputError("not a readable BAM/CRAM file", path=path) from None
        if reads.is_sam:
            raise InputError("SAM input is not indexable; convert it to BAM or CRAM", path=path)
        try:
            indexed = reads.has_index() and reads.check_index()
        except (OSError, ValueError):
            indexed = False
        if not indexed:
            raise InputError("index (.bai/.crai/.csi) is missing; run samtools index", path=path)
        problem = index_problem(reads, path, reference_path)
        if problem:
            with contextlib.suppress(OSError):  # the failed query's error: the problem says it
                reads.close()
            raise InputError(problem, path=locations.split_indexes(path)[0])
        for name, length in zip(reads.references, reads.lengths):
            if name in reference_lengths and reference_lengths[name] != length:
                raise InputError(
                    f"contig {name} has length {length} here but {reference_lengths[name]} in the "
                    "reference: the reads were aligned to another reference",
                    path=path,
                )
        _refuse_no_shared_contig(reads, path, reference_file, reference_lengths)
        return reads

    @property
    def files(self) -> list[pysam.AlignmentFile]:
        """The open files, in the order given (the compiled encoder reads them too)."""
        return self._files

    def close(self) -> None:
        """Close every file. A read-only file whose reading failed (a corrupt block, a remote
        read given up on) can fail to close as well; that second error would only hide the
        first, which says what is wrong, so it is dropped: nothing written can be lost."""
        for handle in self._files:
            with contextlib.suppress(OSError):
                handle.close()

    def check_contig(self, contig: str, record: str) -> None:
        """GATK queries one reads file through its own sequence dictionary and stops on a contig
        that is not there ("not present in reads sequence dictionary"); with several files it
        skips the files without it (ReadsPathDataSource), so the site only has fewer reads."""
        if len(self._files) == 1 and contig not in self._files[0].references:
            raise InputError(
                f"contig {contig} is not in the reads file's header (GATK stops here too; with "
                "several -I, a file without it only adds no reads)",
                path=locations.split_indexes(self.paths[0])[0],
                record=record,
            )

    def warn_no_read_group(self, read_name: str) -> None:
        """One warning per source: GATK drops reads without an RG tag."""
        if not self._warned_no_read_group:
            self._warned_no_read_group = True
            print(
                f"cnnscore: warning: reads without an RG tag are dropped, as GATK does "
                f"(first: {read_name})",
                file=sys.stderr,
            )

    def _passes_filters(self, read: pysam.AlignedSegment) -> bool:
        """WellformedReadFilter plus the ArtificialHaplotype read-group blacklist."""
        if not read.has_tag("RG"):
            self.warn_no_read_group(read.query_name)
            return False
        if read.get_tag("RG") in self.blacklisted_read_groups:
            return False
        if not read.query_sequence:
            return False
        if read.query_qualities is None:  # QUAL '*': MatchingBasesAndQualsReadFilter drops it
            return False
        cigar = read.cigartuples or ()
        if any(op == CIGAR_N for op, _ in cigar):  # CigarContainsNoNOperator: unmapped reads too
            return False
        if read.is_unmapped:  # ReadLengthEqualsCigarLength passes unmapped reads
            return True
        return sum(n for op, n in cigar if op in _QUERY_CONSUMING) == read.query_length

    def _overlapping(self, contig: str, start: int, end: int) -> Iterator[pysam.AlignedSegment]:
        iterators = []
        for handle in self._files:
            if contig in handle.references:
                iterators.append(handle.fetch(contig, start - 1, end))
        if len(iterators) == 1:
            return iterators[0]
        return heapq.merge(*iterators, key=_coordinate_key)

    def reads_for_variant(
        self, contig: str, start: int, end: int, limit: int, rng: JavaRandom, *, record: str
    ) -> list[ReadData]:
        """Filtered reads overlapping [start, end] (1-based), reservoir-sampled to ``limit``."""
        try:
            candidates = (
                r for r in self._overlapping(contig, start, end)
                if self._passes_filters(r) and not _htsjdk_ends_before(r, start)
            )  # fmt: skip
            kept = reservoir_sample(candidates, limit, rng)
        except (OSError, ValueError) as err:
            raise self.read_failure(contig, start, err, record) from None
        return [self.read_data(read) for read in kept]

    def read_failure(self, contig: str, start: int, err: Exception, record: str) -> InputError:
        """The error for reads that would not come at ``contig:start``: a CRAM read with another
        reference than it was made with says so (htslib's message reads as a truncated file)."""
        for path, handle in zip(self.paths, self._files):
            mismatch = cram_reference.reference_mismatch(handle, self._reference, contig)
            if mismatch:
                return InputError(mismatch, path=locations.split_indexes(path)[0], record=record)
        why = str(err)
        if re.search(r"error -4 while|: -4$", why):  # htslib's code: a record it cannot decode
            why += (
                ": a record htslib cannot decode, such as one whose CIGAR and sequence lengths "
                f"differ; `samtools view FILE {contig}:{start}-{start}` prints htslib's reason"
            )
        return InputError(
            f"cannot read the reads at {contig}:{start} ({why})",
            path=",".join(self.paths),
            record=record,
        )

    def read_data(self, read: pysam.AlignedSegment) -> ReadData:
        qualities = read.query_qualities  # present: _passes_filters dropped reads without
        cigar = tuple(read.cigartuples or ())
        leading_clip = 0
        for op, length in cigar:
            if op not in (CIGAR_S, CIGAR_H):
                break
            leading_clip += length
        return ReadData(
            seq=read.query_sequence.encode("ascii"),
            qual=np.frombuffer(bytes(qualities), dtype=np.uint8),
            cigar=cigar,
            reverse=read.is_reverse,
            mate_reverse=read.is_paired and read.mate_is_reverse,
            first=read.is_paired and read.is_read1,
            mapping_quality=read.mapping_quality,
            unclipped_start=(
                UNMAPPED_START if read.is_unmapped else read.reference_start + 1 - leading_clip
            ),
        )

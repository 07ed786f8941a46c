"""Does this index belong to this BAM/CRAM? htslib does not ask.

Given another file's index, htslib opens it without complaint: queries then return no reads, or
other reads, and the scores are silently wrong (on the smoke BAM with HG002's .bai, every query
returned nothing); an index with fewer contigs than the file crashes pysam's index statistics.
Workflows pass each reads file with an index named in a separate input (``reads_indexes``), so a
swapped or stale index is a plausible mistake. Two cheap checks catch it before any scoring:

- the index's own contig count (BAI, CSI, CRAI) must be the file's header's;
- where the index says a contig holds reads, a query of that contig must return some (the first
  and the last such contig, at most a few reads each).
"""

from __future__ import annotations

import gzip
import os
import struct

import pysam

from .locations import INDEX_DELIMITER, is_url

READS_INDEX_SUFFIXES = (".bai", ".csi", ".crai")


def index_of(location: str) -> str | None:
    """The index htslib will use for a reads file: the one attached with ``##idx##``, else one
    beside it (``x.bam.bai``, ``x.bai``, and .csi / .crai likewise); None for a remote file with
    none attached (htslib looks beside it by URL)."""
    if INDEX_DELIMITER in location:
        return location.split(INDEX_DELIMITER, 1)[1]
    if is_url(location):
        return None
    stem, _ = os.path.splitext(location)
    for candidate in [location + s for s in READS_INDEX_SUFFIXES] + [
        stem + s for s in READS_INDEX_SUFFIXES
    ]:
        if os.path.isfile(candidate):
            return candidate
    return None


def _crai_regions(index_path: str) -> list[tuple[int, int, int]] | None:
    """(contig number, 0-based start, span) of each container a CRAI lists; None when the file
    is not gzip-compressed text of that form."""
    try:
        with gzip.open(index_path, "rb") as handle:
            lines = [line.split(b"\t") for line in handle.read().splitlines() if line.strip()]
        return [(int(f[0]), int(f[1]) - 1, int(f[2])) for f in lines]
    except (OSError, EOFError, ValueError, IndexError):
        return None


def index_contigs(index_path: str) -> tuple[int, bool] | None:
    """(contigs, exact) from the index's own header: a BAI or CSI states its contig count
    exactly; a CRAI lists only the contigs its containers hold, so its highest contig number
    bounds the count from below. None when the format is none of these or the file cannot be
    read (htslib then says so itself)."""
    try:
        with open(index_path, "rb") as handle:
            head = handle.read(8)
        if head[:4] == b"BAI\1":
            return struct.unpack("<i", head[4:8])[0], True
        with gzip.open(index_path, "rb") as handle:
            head = handle.read(16)
            if head[:4] == b"CSI\1":  # BGZF-compressed binary
                (aux_length,) = struct.unpack("<i", head[12:16])
                handle.read(aux_length)
                return struct.unpack("<i", handle.read(4))[0], True
    except (OSError, EOFError, struct.error):
        return None
    regions = _crai_regions(index_path)
    placed = [contig for contig, _, _ in regions or () if contig >= 0]
    return (max(placed) + 1, False) if placed else None


def index_problem(reads: pysam.AlignmentFile, location: str) -> str | None:
    """Why the index cannot be this file's, or None when nothing says so."""
    index_path = index_of(location)
    header_count = len(reads.references)
    local_index = index_path if index_path and not is_url(index_path) else None
    stated = index_contigs(local_index) if local_index else None
    if stated is not None:
        count, exact = stated
        if (exact and count != header_count) or (not exact and count > header_count):
            described = f"describes {count} contigs" if exact else f"names contig {count}"
            return (
                f"its index {index_path} {described} and the file has {header_count} contigs: "
                "the index belongs to another file"
            )
    regions = _regions_with_reads(reads, local_index)
    for contig, start, end in regions[:1] + regions[-1:]:
        try:
            found = next(iter(reads.fetch(contig, start, end)), None)
        except (OSError, ValueError) as err:
            return (
                f"its index {index_path} points at unreadable data for {contig} ({err}): the "
                "index belongs to another file, or the file is damaged"
            )
        if found is None or found.reference_name != contig:
            return (
                f"its index {index_path} lists reads at {contig}:{start + 1}-{end} that the file "
                "does not hold there: the index belongs to another file (or the file changed "
                "after it was indexed)"
            )
    return None


def _regions_with_reads(
    reads: pysam.AlignmentFile, index_path: str | None
) -> list[tuple[str, int, int | None]]:
    """Where the index says the file holds mapped reads: contigs with mapped reads in a BAI/CSI
    (whole contigs), or the CRAI's containers of placed reads."""
    if not reads.is_cram:
        return [(s.contig, 0, None) for s in reads.get_index_statistics() if s.mapped > 0]
    regions = _crai_regions(index_path) if index_path else None
    names = reads.references
    return [
        (names[contig], start, start + max(span, 1))
        for contig, start, span in regions or ()
        if 0 <= contig < len(names)
    ]


def tabix_index_problem(tabix: pysam.TabixFile, index_path: str | None) -> str | None:
    """The same question for a bgzip VCF's .tbi/.csi: where the index says a contig's records
    are, the file must hold records of that contig (first and last contig it names)."""
    contigs = list(tabix.contigs)
    for contig in dict.fromkeys(contigs[:1] + contigs[-1:]):
        try:
            line = next(iter(tabix.fetch(contig)), None)
        except (OSError, ValueError) as err:
            return (
                f"its index {index_path} points at unreadable data for {contig} ({err}): the "
                "index belongs to another file, or the file is damaged"
            )
        if line is None or line.split("\t", 1)[0] != contig:
            return (
                f"its index {index_path} lists records of {contig} that the file does not hold "
                "there: the index belongs to another file (or the file changed after it was "
                "indexed)"
            )
    return None

"""Whether a CRAM was written against the reference it is read with.

A CRAM holds its reads as differences from the reference it was made with. Decoded against
another, htslib fails on a checksum it reports only at a verbosity cnnscore silences, and what
reaches the caller reads as a truncated file or an index of another file. Each ``@SQ`` line of a
CRAM carries the MD5 of its contig's bases (``M5``), so on the way to such an error the cause can
be told and said. Only then: hashing a contig reads all of it (chr1: 250 MB).

Where the ``@SQ`` line has no ``M5`` (the SAM specification makes it optional), each slice of a
CRAM 3 still carries the MD5 of the reference bases it was encoded against (its header's
``reference MD5``, what htslib's silenced error compares): the first slices the .crai lists for
the contig are compared (:func:`_slice_mismatch`), one small read and one window hashed each.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
import zlib

import pysam

from . import locations
from .cram_format import container_data, crai_lines, is_cram3, itf8, ltf8


@functools.lru_cache(maxsize=4)
def _contig_md5(reference: str, contig: str) -> str | None:
    """The SAM specification's M5 of the reference's contig: MD5 of its bases in upper case."""
    fasta, indexes = locations.split_indexes(reference)
    fai, gzi = (indexes + [None, None])[:2]
    try:
        with pysam.FastaFile(fasta, filepath_index=fai, filepath_index_compressed=gzi) as handle:
            bases = handle.fetch(contig)
    except (OSError, ValueError, KeyError):
        return None
    return hashlib.md5(bases.upper().encode("ascii", "replace")).hexdigest()


def reference_mismatch(reads: pysam.AlignmentFile, reference: str, contig: str) -> str | None:
    """Why ``reads`` cannot be decoded at ``contig`` with ``reference``, when its ``@SQ M5``
    says the CRAM was made against other bases there; None when it was not, or cannot say."""
    if not reads.is_cram:
        return None
    stated = {line.get("SN"): line.get("M5") for line in reads.header.to_dict().get("SQ", [])}.get(
        contig
    )
    if not stated:
        return _slice_mismatch(reads, reference, contig)
    found = _contig_md5(reference, contig)
    if found is None or found == stated.lower():
        return None
    name = os.path.basename(locations.split_indexes(reference)[0])
    return (
        f"it was written against another reference than {name}: its @SQ M5 of {contig} is "
        f"{stated}, and this reference's {contig} hashes to {found} (give -R the reference the "
        "CRAM was made with)"
    )


#: slices compared for a CRAM without M5 (each: a few hundred bytes read, its window hashed)
_SLICES_COMPARED = 64


def _slice_mismatch(reads: pysam.AlignmentFile, reference: str, contig: str) -> str | None:
    """Why a local CRAM 3 without ``M5`` cannot be decoded at ``contig`` with ``reference``: a
    slice of it whose reference MD5 is not that of this reference's bases where it lies; None
    when the first slices listed agree, or nothing can be read to tell."""

    path = os.fsdecode(reads.filename)
    index = locations.index_of(path)
    tid = reads.get_tid(contig)
    if locations.is_url(path) or not index or locations.is_url(index) or tid < 0:
        return None
    fasta, indexes = locations.split_indexes(reference)
    fai, gzi = (indexes + [None, None])[:2]
    try:
        rows = crai_lines(index)
        if rows is None:
            return None
        slices = [(int(r[3]), int(r[4])) for r in rows if int(r[0]) == tid][:_SLICES_COMPARED]
        with open(path, "rb") as cram:
            if not is_cram3(cram):
                return None
            with pysam.FastaFile(fasta, filepath_index=fai, filepath_index_compressed=gzi) as bases:
                return _first_mismatch(cram, bases, slices, contig, os.path.basename(fasta))
    except (OSError, ValueError, KeyError, IndexError, struct.error):
        return None


def _first_mismatch(cram, bases: pysam.FastaFile, slices, contig: str, name: str) -> str | None:
    """The line for the first of ``slices`` (container, offset) whose reference MD5 is not that
    of ``bases`` where it lies; None when all agree."""
    for container, offset in slices:
        start, span, stated = _slice_reference(cram, container, offset)
        window = bases.fetch(contig, start - 1, start - 1 + span).upper()
        found = hashlib.md5(window.encode("ascii", "replace")).hexdigest()
        if span and stated != "0" * 32 and found != stated:
            return (
                f"it was written against another reference than {name}: its slice at "
                f"{contig}:{start}-{start + span - 1} was encoded against bases whose MD5 is "
                f"{stated}, and this reference's there hash to {found} (its @SQ line carries no "
                "M5; give -R the reference the CRAM was made with)"
            )
    return None


def _slice_reference(cram, container: int, offset: int) -> tuple[int, int, str]:
    """(start, span, reference MD5) from the header of the slice ``offset`` bytes into the data
    of the CRAM 3 container at byte ``container`` (the .crai's fourth and fifth columns)."""
    data, _ = container_data(cram, container)
    cram.seek(data + offset)
    block = cram.read(512)
    if block[:2] != b"\x00\x02":  # a slice header (content type 2) is written raw (method 0)
        raise ValueError("no raw slice header there")
    _, at = itf8(block, 2)  # content id
    size, at = itf8(block, at)
    _, at = itf8(block, at)  # raw size
    crc = block[at + size : at + size + 4]
    if len(crc) < 4 or zlib.crc32(block[: at + size]) != struct.unpack("<I", crc)[0]:
        raise ValueError("slice header CRC32 mismatch")  # damaged: not the reference's fault
    _, at = itf8(block, at)  # reference sequence id
    start, at = itf8(block, at)
    span, at = itf8(block, at)
    _, at = itf8(block, at)  # records
    _, at = ltf8(block, at)  # record counter
    _, at = itf8(block, at)  # blocks
    ids, at = itf8(block, at)
    for _ in range(ids):
        _, at = itf8(block, at)
    _, at = itf8(block, at)  # embedded reference block id
    if at + 16 > len(block):
        raise ValueError("short slice header")
    return start, span, block[at : at + 16].hex()

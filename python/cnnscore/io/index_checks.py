"""Does this index belong to this BAM/CRAM? htslib does not ask.

Given another file's index, htslib opens it without complaint: queries then return no reads, or
other reads, and the scores are silently wrong (on the smoke BAM with HG002's .bai, every query
returned nothing); an index with fewer contigs than the file crashes pysam's index statistics.
Workflows pass each reads file with an index named in a separate input (``reads_indexes``), so a
swapped or stale index is a plausible mistake. Two cheap checks catch it before any scoring:

- the index's own contig count (BAI, CSI, CRAI) must be the file's header's;
- where the index says a contig holds reads, a query of that contig must return some (the first
  and the last such contig, at most a few reads each).

A BAI is also read whole for damage that htslib would trust (a flipped bin number hides that
bin's reads from every query of their region): :mod:`.bai_check`; a local CRAM's .crai must list
each contig's first container, where htslib starts reading (:mod:`.crai_check`).

Before either, the index must be of the right kind at all (:func:`check_reads_index_kind`,
:func:`check_vcf_index_kind`), told by its own magic bytes before htslib reads it: htslib loads a
tabix index given for a BAM as if it were one, and pysam's index statistics then crash the
process (a segfault, nothing printed); other wrong kinds come back only as "index missing".

A bgzip VCF's index is also checked to cover the whole file (:func:`index_coverage_problem`):
htslib trusts it, so an index made before the file was rewritten with more records answers
queries of the new records with nothing, and the run ends "successfully" with records missing.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
import zlib

import pysam

from ..errors import InputError
from . import bai_check, crai_check, cram_format, cram_reference
from .locations import index_of, is_url, split_indexes

# What an index file is, told by its content (htslib reads BAI, CSI and TBI through BGZF, which
# also passes uncompressed data through; a CRAI is gzip-compressed or plain text).
BAI, CSI, TABIX_CSI, TBI, CRAI = "BAI", "CSI", "TABIX_CSI", "TBI", "CRAI"
_KIND_NAMES = {
    BAI: "a BAM index (BAI)",
    CSI: "a BAM CSI index",
    TABIX_CSI: "a tabix (VCF) CSI index",
    TBI: "a tabix (VCF) index",
    CRAI: "a CRAM index (CRAI)",
}
#: a tabix configuration (format, columns, meta character, skip, names length): 7 int32
_TABIX_CONF_BYTES = 28
#: a CRAI line: contig, start, span, container offset, slice offset, slice size
_CRAI_LINE = re.compile(rb"-?\d+\t-?\d+\t\d+\t\d+\t\d+\t\d+\r?")
_GZIP_MAGIC = b"\x1f\x8b"
#: how much of an index its kind is told from
_HEAD_BYTES = 65536


def _head(path: str, size: int = _HEAD_BYTES) -> bytes:
    """Up to ``size`` bytes of the file's content, decompressed when it is gzip/BGZF."""
    with open(path, "rb") as handle:
        raw = handle.read(size)
    if raw[:2] != _GZIP_MAGIC:
        return raw
    with gzip.open(path, "rb") as handle:
        return handle.read(size)


def index_kind(index_path: str) -> str | None:
    """BAI, CSI (a BAM's, no tabix configuration), TABIX_CSI, TBI or CRAI, from the file's
    content whatever its name; None for anything else (empty, text, damaged, random bytes)."""
    try:
        with open(index_path, "rb") as handle:
            compressed = handle.read(2) == _GZIP_MAGIC
        head = _head(index_path)
    except (OSError, EOFError, zlib.error):
        return None
    magic = head[:4]
    if magic in (b"BAI\1", b"TBI\1"):
        return BAI if magic == b"BAI\1" else TBI
    if magic == b"CSI\1":
        if len(head) < 16:
            return None
        (aux_length,) = struct.unpack_from("<i", head, 12)
        return TABIX_CSI if aux_length >= _TABIX_CONF_BYTES else CSI
    if not head:  # an empty file is no index; an empty CRAM's CRAI is an empty gzip member
        return CRAI if compressed else None
    lines = head.split(b"\n")
    if len(head) == _HEAD_BYTES:
        lines = lines[:-1]  # the last may be cut short
    lines = [line for line in lines if line]
    return CRAI if lines and all(_CRAI_LINE.fullmatch(line) for line in lines) else None


def _reads_format(path: str) -> str | None:
    """BAM or CRAM from the file's first bytes; None for anything else (SAM, damaged: pysam
    says what is wrong when it opens it) or a file that cannot be read here."""
    try:
        with open(path, "rb") as handle:
            if handle.read(4) == b"CRAM":
                return "CRAM"
        return "BAM" if _head(path, 4) == b"BAM\1" else None
    except (OSError, EOFError, zlib.error):
        return None


def _kind_problem(index_path: str, wanted: tuple[str, ...], wanted_name: str) -> str | None:
    """Why the index is not one of the ``wanted`` kinds, or None when it is."""
    kind = index_kind(index_path)
    if kind in wanted:
        return None
    if kind is not None:
        return f"its index {index_path} is {_KIND_NAMES[kind]}, not {wanted_name}"
    try:
        empty = os.path.getsize(index_path) == 0
    except OSError:
        return None  # not there or unreadable: the opener says so in its own words
    if empty:
        return f"its index {index_path} is an empty file, not {wanted_name}"
    return (
        f"its index {index_path} is not {wanted_name}, nor any index htslib reads (BAI, CSI, "
        "tabix, CRAI): a damaged file, or another kind of file"
    )


def reads_index_kind_problem(location: str) -> str | None:
    """Why the index htslib would use for this BAM/CRAM is of the wrong kind, or None: a BAM
    takes a BAI or a BAM CSI, a CRAM a CRAI (htslib reads no other for it), a remote file of
    unknown format any of the three."""
    index_path = index_of(location)
    if index_path is None or is_url(index_path) or not os.path.isfile(index_path):
        return None
    main = split_indexes(location)[0]
    file_format = None if is_url(main) else _reads_format(main)
    if file_format is None and not is_url(main):
        return None
    if file_format == "BAM":
        return _kind_problem(index_path, (BAI, CSI), "a BAM index (.bai or .csi)")
    if file_format == "CRAM":
        return _kind_problem(index_path, (CRAI,), "a CRAM index (.crai)")
    return _kind_problem(index_path, (BAI, CSI, CRAI), "a BAM or CRAM index")


def _local_bai_problem(location: str) -> str | None:
    """Why a local BAM's local BAI is damaged (:mod:`.bai_check`), or None."""
    index_path = index_of(location)
    main = split_indexes(location)[0]
    if index_path is None or is_url(index_path) or is_url(main) or not os.path.isfile(index_path):
        return None
    if index_kind(index_path) != BAI or _reads_format(main) != "BAM":
        return None
    return bai_check.bai_problem(index_path, main)


def check_reads_index_kind(location: str) -> None:
    """Raise InputError when the reads file's index is of the wrong kind, or a damaged BAI; to
    be called before pysam opens the file, so htslib never loads such an index (a tabix one, or
    a BAI with a negative count, crashes it)."""
    problem = reads_index_kind_problem(location) or _local_bai_problem(location)
    if problem:
        raise InputError(problem, path=split_indexes(location)[0])


def check_vcf_index_kind(vcf_path: str, index_path: str | None) -> None:
    """Raise InputError when a bgzip VCF's index is not a tabix one (TBI, or CSI with a tabix
    configuration); htslib would refuse it too, but saying only that it "could not open index"."""
    if index_path is None or is_url(index_path) or not os.path.isfile(index_path):
        return
    problem = _kind_problem(index_path, (TBI, TABIX_CSI), "a VCF index (tabix .tbi or .csi)")
    if problem:
        raise InputError(problem, path=vcf_path)


def _crai_regions(index_path: str) -> list[tuple[int, int, int]] | None:
    """(contig number, 0-based start, span) of each container a CRAI lists; None when the file
    is not gzip-compressed text of that form."""
    lines = cram_format.crai_lines(index_path)
    try:
        return None if lines is None else [(int(f[0]), int(f[1]) - 1, int(f[2])) for f in lines]
    except (ValueError, IndexError):
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


def index_problem(
    reads: pysam.AlignmentFile, location: str, reference: str | None = None
) -> str | None:
    """Why the index cannot be this file's, or None when nothing says so. A CRAM that will not
    decode where its index points may be read with another reference than it was made with:
    with ``reference`` given, that is told apart (cram_reference) and said instead."""
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
    if local_index and not reads.is_cram and is_url(split_indexes(location)[0]):
        # a local BAM's BAI was checked before htslib loaded it (check_reads_index_kind)
        damage = bai_check.bai_problem(local_index, None, tuple(reads.references))
        if damage:
            return damage
    if local_index and reads.is_cram and not is_url(split_indexes(location)[0]):
        damage = crai_check.crai_problem(split_indexes(location)[0], local_index)
        if damage:
            return damage
    regions = _regions_with_reads(reads, local_index)
    for contig, start, end in regions[:1] + regions[-1:]:
        try:
            found = next(iter(reads.fetch(contig, start, end)), None)
        except (OSError, ValueError) as err:
            mismatch = reference and cram_reference.reference_mismatch(reads, reference, contig)
            return mismatch or (
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
    are, the file must hold records of that contig (first and last contig it names); and the
    index must know the file's last record (:func:`index_coverage_problem`), which an index made
    before records were added does not."""
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
    vcf_path = os.fsdecode(tabix.filename)
    return None if is_url(vcf_path) else index_coverage_problem(tabix, vcf_path, index_path)


_BGZF_MAGIC = b"\x1f\x8b\x08\x04"
#: the tail read first: at least one whole BGZF block (64 KiB at most) and the end-of-file one
_TAIL_BYTES = 1 << 17


def _bgzf_block(data: bytes, at: int) -> tuple[int, int] | None:
    """(size, header size) of the BGZF block starting at ``at`` in ``data``, or None where
    none starts."""
    if data[at : at + 4] != _BGZF_MAGIC or at + 12 > len(data):
        return None
    (extra_length,) = struct.unpack_from("<H", data, at + 10)
    extra = data[at + 12 : at + 12 + extra_length]
    field = 0
    while field + 4 <= len(extra):
        (field_length,) = struct.unpack_from("<H", extra, field + 2)
        if extra[field : field + 2] == b"BC" and field_length == 2 and field + 6 <= len(extra):
            return struct.unpack_from("<H", extra, field + 4)[0] + 1, 12 + extra_length
        field += 4 + field_length
    return None


def _blocks_to_end(data: bytes) -> list[tuple[int, int, int]] | None:
    """(start, size, header size) of the BGZF blocks that run from the earliest block start in
    ``data`` to its very end, each ending where the next starts: a chain that long does not
    happen by chance in compressed bytes. None when there is no such chain (not BGZF, or
    damaged)."""
    at = data.find(_BGZF_MAGIC)
    while at >= 0:
        chain, here = [], at
        while here < len(data) and (block := _bgzf_block(data, here)) is not None:
            chain.append((here, *block))
            here += block[0]
        if chain and here == len(data):
            return chain
        at = data.find(_BGZF_MAGIC, at + 1)
    return None


def _last_line(vcf_path: str) -> bytes | None:
    """The last non-blank line of a bgzip file, read from its tail only (the window widens for
    a line longer than it); None when the file is empty or its tail is not BGZF."""
    size = os.path.getsize(vcf_path)
    window = _TAIL_BYTES
    with open(vcf_path, "rb") as handle:
        while True:
            start = max(0, size - window)
            handle.seek(start)
            data = handle.read(size - start)
            chain = _blocks_to_end(data)
            if chain is None:
                return None
            pieces: list[bytes] = []  # decompressed blocks, last first
            for at, length, header in reversed(chain):  # back to the last line's start only
                pieces.append(zlib.decompress(data[at + header : at + length - 8], -15))
                if b"\n" in b"".join(reversed(pieces[-2:])).rstrip():
                    break
            else:
                if start > 0:
                    window *= 4
                    continue
                if chain[0][0] != 0:
                    return None  # bytes before the first block: not a bgzip file
            content = b"".join(reversed(pieces)).rstrip()
            return content[content.rfind(b"\n") + 1 :] or None


def index_coverage_problem(
    tabix: pysam.TabixFile, vcf_path: str, index_path: str | None
) -> str | None:
    """Why a bgzip VCF's index does not cover the whole file, or None. htslib trusts an index:
    one made before the file was rewritten with more records answers every query of the new
    records with nothing, and a run ends "successfully" with records missing. The file's last
    record, read from its tail (a block or two, whatever the file's size), must be found where
    the index says it is; a query of one position reads a block or two more."""
    try:
        line = _last_line(vcf_path)
    except (OSError, zlib.error, struct.error):
        return None  # a damaged tail: the reading of the records says so in its own words
    if line is None or line.startswith(b"#"):
        return None  # no records: nothing the index could miss
    line = line.rstrip(b"\r")
    fields = line.split(b"\t", 2)
    try:
        contig, pos = fields[0].decode(), int(fields[1])
    except (IndexError, ValueError):
        return None  # not a record: the VCF reader says what is wrong with it
    stale = (
        f"its index {index_path} does not list the file's last record ({contig}:{pos}): the "
        "index is older than the file, and htslib would find none of the records added since "
        "(re-index it with `tabix -p vcf`)"
    )
    if contig not in tabix.contigs:
        return stale
    wanted = line.decode(errors="replace")
    try:
        found = any(
            hit.rstrip("\r") == wanted for hit in tabix.fetch(contig, max(pos - 1, 0), max(pos, 1))
        )
    except UnicodeDecodeError:
        return None  # a record htslib cannot hand over as text: no answer either way
    except (OSError, ValueError) as err:
        return (
            f"its index {index_path} points at unreadable data for {contig}:{pos} ({err}): the "
            "index is older than the file or belongs to another file "
            "(re-index it with `tabix -p vcf`)"
        )
    return None if found else stale

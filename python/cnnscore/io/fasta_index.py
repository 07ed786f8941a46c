"""A FASTA's .fai checked against the FASTA it sits beside, before any base is read.

htslib trusts the index: it computes where a base is from the contig's offset and line sizes and
reads whatever is there. An index of another FASTA (the same genome written with another line
width, a renamed or re-exported file) therefore hands out other bases, and since GATK's
conversion keeps only A/C/G/T/N, most of them still look like bases: every score moves and the
run exits 0. Two checks stop that: the index must be the five numeric columns samtools writes
(:func:`check_columns`), and a sample of its contigs must start where the FASTA's header lines for
those names end (:func:`offsets_problem`), read from the file itself (plain, or bgzip through its
.gzi).
"""

from __future__ import annotations

import bisect
import functools
import gzip
import io
import os
import struct
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable
from typing import NamedTuple

from ..errors import InputError

#: Contigs whose offsets are checked: the first and last few and some spread between, so that a
#: genome of thousands of contigs costs milliseconds (a wrong index is wrong from its second
#: contig on, where the first contig's line width decides the offset).
_FIRST, _LAST, _SPREAD = 8, 8, 16
#: For a FASTA read by URL, where each contig costs about three range requests to the bucket:
#: the first two contigs (the second is where another line width shows), the last, one between.
_URL_SAMPLE = (2, 1, 1)
#: URLs read by HTTP range requests (a gs:// FASTA is one here: gcs.range_server's); others (ftp)
#: are left to htslib.
_BY_RANGE = ("http://", "https://")
_URL_TIMEOUT = 60
#: Bytes read before an offset to find the header line that ends there.
_HEADER_SPAN = 4096
#: A BGZF block's header: gzip's, with the extra field "BC" (the block's size) at bytes 12-13,
#: which htslib and htsjdk look for; a plain gzip file has no such field and no positions.
_BGZF_HEADER = 18
#: A BGZF block's most compressed bytes, and the uncompressed text bgzip puts in one.
_BGZF_BLOCK_BYTES, _BGZF_BLOCK_TEXT = 65536, 65280


class _NoRanges(Exception):
    """The server of a URL FASTA answers a range request with the whole file."""


class Entry(NamedTuple):
    """One contig's line of a .fai."""

    name: str
    length: int
    offset: int
    line_bases: int
    line_bytes: int


def check_columns(fai: str) -> list[Entry]:
    """The entries of a FASTA's .fai as samtools writes it: five numeric columns
    after the name, each line holding at least its bases. htslib takes a sixth column as a FASTQ
    index and then hands out other bases (all N for a bgzip FASTA, found by the fuzz battery)."""
    try:
        with open(fai, "rb") as handle:
            lines = handle.read().split(b"\n")
    except OSError:
        return []  # htslib reports a missing or unreadable index in its own words
    entries = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        fields = line.split(b"\t")
        problem = None
        if len(fields) != 5:
            problem = (
                "6 columns: a FASTQ index, not a FASTA's"
                if len(fields) == 6
                else f"{len(fields)} columns where a FASTA index has 5"
            )
        elif not all(f.isdigit() for f in fields[1:]):
            problem = "a length, offset or line size that is not a whole number"
        else:
            length, offset, line_bases, line_bytes = (int(f) for f in fields[1:])
            if length and (line_bases < 1 or line_bytes < line_bases):
                problem = "line sizes that cannot be (bytes per line below bases per line)"
            name = fields[0].decode("utf-8", "replace")
            entries.append(Entry(name, length, offset, line_bases, line_bytes))
        if problem:
            raise InputError(f"line {number} of the index: {problem}", path=fai)
    return entries


def _sample(entries: list[Entry], first: int, last: int, spread: int) -> list[Entry]:
    if len(entries) <= first + last + spread:
        return entries
    middle = entries[first:-last]
    step = len(middle) / spread
    return entries[:first] + [middle[int(i * step)] for i in range(spread)] + entries[-last:]


def _file_bytes(fasta: str) -> Callable[[int, int], bytes]:
    """Bytes [start, end) of the file as stored (compressed for bgzip): a local file by seeking,
    an http(s) URL by a Range request (a gs:// reference is such a URL here, served by
    gcs.range_server from the bucket). Fewer bytes come back past the end of the file."""
    if fasta.startswith(_BY_RANGE):
        # the range server listens on loopback: never through a proxy the environment names
        loopback = urllib.parse.urlsplit(fasta).hostname in ("127.0.0.1", "localhost", "::1")
        opener = urllib.request.build_opener(
            *([urllib.request.ProxyHandler({})] if loopback else [])
        )

        def fetch(start: int, end: int) -> bytes:
            wanted = urllib.request.Request(fasta, headers={"Range": f"bytes={start}-{end - 1}"})
            with opener.open(wanted, timeout=_URL_TIMEOUT) as response:
                if response.status != 206 and start:
                    raise _NoRanges  # a server that sends whole files: htslib's to judge
                return response.read(end - start)

        return fetch

    def read(start: int, end: int) -> bytes:
        with open(fasta, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start)

    return read


def _gzi_offsets(gzi: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(compressed, uncompressed) offsets of the BGZF blocks a .gzi lists, the first block's
    (0, 0) included."""
    with open(gzi, "rb") as handle:
        data = handle.read()
    (count,) = struct.unpack_from("<Q", data)
    pairs = struct.unpack_from(f"<{2 * count}Q", data, 8)
    compressed_at = (0, *pairs[0::2])
    uncompressed_at = (0, *pairs[1::2])  # ascending: the blocks in file order
    if any(later < earlier for earlier, later in zip(uncompressed_at, uncompressed_at[1:])):
        raise ValueError("its block offsets are out of order")
    return compressed_at, uncompressed_at


def _bgzip_reader(stored: Callable[[int, int], bytes], gzi: str) -> Callable[[int, int], bytes]:
    """Uncompressed bytes [start, end) of a bgzip file, from the block the .gzi places before
    ``start`` (each BGZF block is a whole gzip member, so reading may start at any of them).
    Enough compressed bytes are taken for the blocks the span can cross, plus one: a block holds
    at most 64 KiB either way."""
    compressed_at, uncompressed_at = _gzi_offsets(gzi)

    def read(start: int, end: int) -> bytes:
        block = bisect.bisect_right(uncompressed_at, start) - 1
        compressed, uncompressed = compressed_at[block], uncompressed_at[block]
        blocks = (end - uncompressed) // _BGZF_BLOCK_TEXT + 2
        data = stored(compressed, compressed + blocks * _BGZF_BLOCK_BYTES)
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as text:
            text.read(start - uncompressed)
            return text.read(end - start)

    return read


def offsets_problem(fasta: str, entries: list[Entry], gzi: str | None) -> str | None:
    """Why the index's offsets do not fit this FASTA, or None: for each sampled contig the bytes
    before its offset must end with its header line, ``>name`` (and an optional description),
    its first line must end where the index's line sizes say, and so must its last base.
    A local bgzip FASTA without a .gzi is refused, as GATK (htsjdk) refuses it: htslib would
    build one and write it into the reference's folder, and where it cannot, pysam crashed
    (a segmentation fault, found by a first-user review).
    A URL (a gs:// reference, through the range server) is checked on fewer contigs, each a few
    range requests, once per process (:func:`_url_offsets_problem`)."""
    if not entries:
        return None
    if fasta.startswith(_BY_RANGE):
        return _url_offsets_problem(fasta, tuple(entries), gzi)
    if not os.path.isfile(fasta):
        return None
    return _sample_problem(fasta, gzi, _sample(entries, _FIRST, _LAST, _SPREAD))


@functools.lru_cache(maxsize=8)
def _url_offsets_problem(fasta: str, entries: tuple[Entry, ...], gzi: str | None) -> str | None:
    """A reference read by URL is opened several times per run (its lengths, the encoder); each
    contig checked costs range requests to the bucket, so fewer are sampled, and once."""
    try:
        return _sample_problem(fasta, gzi, _sample(list(entries), *_URL_SAMPLE))
    except _NoRanges:
        return None


def _sample_problem(fasta: str, gzi: str | None, sample: list[Entry]) -> str | None:
    """The first sampled contig whose offsets do not fit the file, said as the error."""
    stored = _file_bytes(fasta)
    try:
        start = stored(0, _BGZF_HEADER)
    except OSError as err:
        return f"cannot be read ({err})"
    bgzip = start[:2] == b"\x1f\x8b"
    if bgzip and start[12:14] != b"BC":  # a gzip member without BGZF's block-size field
        return (
            "is compressed with plain gzip, which cannot be read by position: recompress it "
            "with bgzip (zcat FASTA | bgzip > FASTA), then index it with samtools faidx"
        )
    if bgzip and not gzi and fasta.startswith(_BY_RANGE):
        return None  # the .gzi comes with a URL reference (gcs.remote_files); none: htslib's say
    gzi = gzi or fasta + ".gzi"
    if bgzip and not os.path.isfile(gzi):
        return (
            f"is bgzip-compressed but has no .gzi index ({os.path.basename(gzi)}): samtools "
            "faidx makes it with the .fai"
        )
    try:
        read = _bgzip_reader(stored, gzi) if bgzip else stored
    except (OSError, struct.error, ValueError) as err:
        return f"its .gzi index cannot be read ({err})"
    for entry in sample:
        try:
            problem = _header_problem(read, entry) or _line_problem(read, entry)
        except (OSError, EOFError, zlib.error, ValueError) as err:  # a damaged or cut file
            return f"cannot be read around contig {entry.name} ({err})"
        if problem:
            return (
                f"its index does not fit it: contig {entry.name} {problem} (an index of "
                "another FASTA? samtools faidx rebuilds it)"
            )
    return None


def _header_problem(read: Callable[[int, int], bytes], entry: Entry) -> str | None:
    before = read(max(0, entry.offset - _HEADER_SPAN), entry.offset)
    if entry.offset > _HEADER_SPAN and b"\n" not in before[:-1]:
        return None  # a header line longer than the span read: not judged
    header = before[: -1 if before.endswith(b"\n") else None].rsplit(b"\n", 1)[-1].rstrip(b"\r")
    expected = b">" + entry.name.encode()
    if before.endswith(b"\n") and (
        header == expected or header[len(expected) : len(expected) + 1] in (b" ", b"\t")
        and header.startswith(expected)
    ):  # fmt: skip
        return None
    shown = header[-40:].decode("ascii", "replace") or "nothing"
    return (
        f"should start after the line '>{entry.name}', but offset {entry.offset} follows '{shown}'"
    )


def _line_problem(read: Callable[[int, int], bytes], entry: Entry) -> str | None:
    """The first line holds line_bases bases and then its line end; the last base is followed
    by a line end (or the end of the file)."""
    if not entry.length:
        return None
    first = read(entry.offset, entry.offset + min(entry.length, entry.line_bases) + 2)
    bases = first[: min(entry.length, entry.line_bases)]
    if b"\n" in bases or b">" in bases or first[len(bases) :][:1] not in (b"\n", b"\r", b""):
        return f"does not have lines of {entry.line_bases} bases where the index says"
    last = entry.length - 1
    at = entry.offset + last // entry.line_bases * entry.line_bytes + last % entry.line_bases
    tail = read(at, at + 2)
    if tail[:1] in (b"", b"\n", b"\r", b">") or tail[1:2] not in (b"", b"\n", b"\r"):
        return f"does not end after {entry.length} bases where the index says"
    return None

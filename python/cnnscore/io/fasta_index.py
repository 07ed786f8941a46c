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
import gzip
import os
import struct
import zlib
from collections.abc import Callable
from typing import NamedTuple

from ..errors import InputError

#: Contigs whose offsets are checked: the first and last few and some spread between, so that a
#: genome of thousands of contigs costs milliseconds (a wrong index is wrong from its second
#: contig on, where the first contig's line width decides the offset).
_FIRST, _LAST, _SPREAD = 8, 8, 16
#: Bytes read before an offset to find the header line that ends there.
_HEADER_SPAN = 4096


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


def _sample(entries: list[Entry]) -> list[Entry]:
    if len(entries) <= _FIRST + _LAST + _SPREAD:
        return entries
    middle = entries[_FIRST:-_LAST]
    step = len(middle) / _SPREAD
    return entries[:_FIRST] + [middle[int(i * step)] for i in range(_SPREAD)] + entries[-_LAST:]


def _bgzip_reader(fasta: str, gzi: str) -> Callable[[int, int], bytes]:
    """Uncompressed bytes [start, end) of a bgzip file, from the block the .gzi places before
    ``start`` (each BGZF block is a whole gzip member, so reading may start at any of them)."""
    with open(gzi, "rb") as handle:
        data = handle.read()
    (count,) = struct.unpack_from("<Q", data)
    pairs = struct.unpack_from(f"<{2 * count}Q", data, 8)
    compressed_at = (0, *pairs[0::2])
    uncompressed_at = (0, *pairs[1::2])  # ascending: the blocks in file order
    if any(later < earlier for earlier, later in zip(uncompressed_at, uncompressed_at[1:])):
        raise ValueError("its block offsets are out of order")

    def read(start: int, end: int) -> bytes:
        block = bisect.bisect_right(uncompressed_at, start) - 1
        compressed, uncompressed = compressed_at[block], uncompressed_at[block]
        with open(fasta, "rb") as raw:
            raw.seek(compressed)
            with gzip.GzipFile(fileobj=raw) as text:
                text.read(start - uncompressed)
                return text.read(end - start)

    return read


def _plain_reader(fasta: str) -> Callable[[int, int], bytes]:
    def read(start: int, end: int) -> bytes:
        with open(fasta, "rb") as handle:
            handle.seek(start)
            return handle.read(end - start)

    return read


def offsets_problem(fasta: str, entries: list[Entry], gzi: str | None) -> str | None:
    """Why the index's offsets do not fit this FASTA, or None: for each sampled contig the bytes
    before its offset must end with its header line, ``>name`` (and an optional description),
    its first line must end where the index's line sizes say, and so must its last base.
    A FASTA that cannot be read this way (a URL, a bgzip one without .gzi) is not checked here:
    htslib reports what it cannot read."""
    if not entries or not os.path.isfile(fasta):
        return None
    with open(fasta, "rb") as handle:
        bgzip = handle.read(2) == b"\x1f\x8b"
    gzi = gzi or fasta + ".gzi"
    if bgzip and not os.path.isfile(gzi):
        return None
    try:
        read = _bgzip_reader(fasta, gzi) if bgzip else _plain_reader(fasta)
    except (OSError, struct.error, ValueError) as err:
        return f"its .gzi index cannot be read ({err})"
    for entry in _sample(entries):
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

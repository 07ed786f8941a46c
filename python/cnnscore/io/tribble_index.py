"""The Tribble index (``OUTPUT.vcf.idx``) that GATK writes beside a plain ``.vcf`` output.

Workflows written for GATK list that file among a task's outputs (warp's CNNScoreVariants task
does for an uncompressed VCF), and Cromwell fails a task whose listed output is missing, after
the work is done. htslib neither writes nor reads the format, so it is laid out here as htsjdk
lays out its ``LinearIndex`` (version 3, little-endian): a header naming the indexed file, its
size and modification time, then for each contig the file offset at which each bin of
``BIN_WIDTH`` bases starts, with the longest record so that a query looks far enough back.

htsjdk's writer builds a linear index and an interval tree and keeps the one it expects to
seek faster: the linear one unless records are dense or long (2,000 x records per base x
ceil(longest record / 2,000) above 75: a gVCF, or a VCF of calls holding a deletion of tens of
kilobases). htsjdk's readers take either and return the same records, so the linear one is
always written here; the bin width (2,000 bases) and the merging of sparse bins are htsjdk's,
so its bins are byte for byte those of htsjdk's linear index of the same file.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

MAGIC = b"TIDX"
LINEAR_INDEX_TYPE = 1
VERSION = 3
#: htsjdk's bin width for on-the-fly VCF indexes (a quarter of its default 8,000, "for seek time")
BIN_WIDTH = 2000
#: htsjdk merges neighbouring bins while the densest holds at most this many average records
MAX_RECORDS_PER_BIN = 100
#: and never makes a bin wider than this once a contig has two records or more
MAX_OCCUPIED_BIN_WIDTH = 1_024_000


@dataclass
class _ContigBins:
    """One contig's bins: ``starts[i]`` is the offset of the first record whose start lies past
    ``i * width`` (records starting in bin i are read from there), ``end`` where its last ends."""

    name: str
    width: int
    starts: list[int] = field(default_factory=list)
    end: int = 0
    longest: int = 0
    records: int = 0

    def merged(self) -> _ContigBins:
        """Bins twice as wide (each pair joined), as htsjdk widens sparse bins."""
        return _ContigBins(self.name, self.width * 2, self.starts[::2], self.end, self.longest,
                           self.records)  # fmt: skip

    def densest_bin_records(self) -> float:
        """How many records of average size the largest bin holds (htsjdk's score)."""
        bounds = [*self.starts, self.end]
        largest = max(bounds[i + 1] - bounds[i] for i in range(len(self.starts)))
        return largest / ((self.end - self.starts[0]) / self.records)

    def optimized(self) -> _ContigBins:
        """htsjdk's adaptive widening: keep doubling the bin width while the densest bin stays
        within MAX_RECORDS_PER_BIN; the last width that did is kept."""
        best = current = self
        for _ in range(31):
            too_wide = current.width > 1_000_000_000 or (
                current.records > 1 and current.width > MAX_OCCUPIED_BIN_WIDTH
            )
            if (current.densest_bin_records() > MAX_RECORDS_PER_BIN or len(current.starts) == 1
                    or too_wide):  # fmt: skip
                return best
            best, current = current, current.merged()
        return best

    def encoded(self) -> bytes:
        parts = [_string(self.name), struct.pack("<iiiii", self.width, len(self.starts),
                                                  self.longest, 0, self.records)]  # fmt: skip
        parts.append(struct.pack(f"<{len(self.starts) + 1}q", *self.starts, self.end))
        return b"".join(parts)


def _string(text: str) -> bytes:
    return text.encode() + b"\0"


class LinearIndexBuilder:
    """Fed each record's contig, start, end and file offset as the VCF is written, in file
    order; the caller keeps records sorted (each contig in one run, starts not decreasing),
    without which no index can find them."""

    def __init__(self) -> None:
        self._contigs: list[_ContigBins] = []
        self._dictionary: dict[str, str] = {}

    def add_contig_line(self, name: str, length: str) -> None:
        """A header ##contig line: htsjdk's writer records the dictionary as ``DICT:name``
        properties (kept for fidelity: neither htsjdk's readers nor GATK use them)."""
        self._dictionary[name] = length

    def add_record(self, contig: str, start: int, end: int, offset: int) -> None:
        if not self._contigs or self._contigs[-1].name != contig:
            if self._contigs:
                self._contigs[-1].end = offset
            self._contigs.append(_ContigBins(contig, BIN_WIDTH, [offset]))
        bins = self._contigs[-1]
        while start > len(bins.starts) * BIN_WIDTH:
            bins.starts.append(offset)
        bins.longest = max(bins.longest, end - start + 1)
        bins.records += 1

    def write(self, index_path: str, vcf_path: str, written: str) -> None:
        """Write the index of ``written`` (the finished text, not yet renamed) under
        ``index_path``, naming ``vcf_path``, the name it will have: a rename keeps the size and
        modification time recorded here, and the index is written after the VCF is closed, so
        GATK does not find it older than its file."""
        status = os.stat(written)
        if self._contigs:
            self._contigs[-1].end = status.st_size
        properties = [(f"DICT:{name}", length) for name, length in self._dictionary.items()]
        properties.append(("FEATURE_COUNT", str(sum(c.records for c in self._contigs))))
        parts = [
            MAGIC,
            struct.pack("<ii", LINEAR_INDEX_TYPE, VERSION),
            _string(Path(os.path.abspath(vcf_path)).as_uri()),
            struct.pack("<qq", status.st_size, status.st_mtime_ns // 1_000_000),
            _string(""),  # no MD5, as htsjdk writes it
            struct.pack("<ii", 0, len(properties)),
        ]
        for key, value in properties:
            parts += [_string(key), _string(value)]
        parts.append(struct.pack("<i", len(self._contigs)))
        parts += [contig.optimized().encoded() for contig in self._contigs]
        with open(index_path, "wb") as index:
            index.write(b"".join(parts))


def record_span(columns: list[str]) -> tuple[int, int]:
    """A record's start and end as htsjdk reads them: POS, and INFO's END where given (the last
    one, as htsjdk's map of INFO keeps it, and the reader), else the last base of REF. The
    reader (io.vcf_text.parse_record) has refused a record whose END is not a number, or whose
    POS or END is beyond a Java int, which the index could not hold."""
    start = int(columns[1])
    info = columns[7]
    if "END=" in info:  # most records have none: skip splitting their INFO
        end_text = None
        for item in info.split(";"):
            key, sep, value = item.partition("=")
            if key == "END":
                end_text = value if sep else None
        if end_text:
            return start, int(end_text)
    return start, start + len(columns[3]) - 1

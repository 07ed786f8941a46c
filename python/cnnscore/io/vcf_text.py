"""Reading VCF records as text, so that every byte we do not annotate is written back unchanged.

GATK re-encodes records through htsjdk; a drop-in replacement must not disturb the user's fields,
so records are kept as their original text lines and only the INFO column is edited on output.
BCF input has no text form: it is decoded by htslib (pysam) and re-serialised once.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pysam

from ..errors import InputError
from .index_checks import check_vcf_index_kind, tabix_index_problem
from .intervals import IntervalFilter
from .locations import local_file_and_index

_BGZF_MAGIC = b"\x1f\x8b"
#: the empty block that ends every file bgzip, htslib and htsjdk write (the SAM spec's "EOF
#: marker"): without it the file was cut short between two blocks, where gzip sees no damage
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@dataclass
class VcfRecord:
    """One data line, split into the columns the scorer reads; ``line`` is the untouched text."""

    line: str
    chrom: str
    pos: int
    ref: str
    alts: list[str]
    info: str
    end: int = field(default=0)

    @property
    def label(self) -> str:
        return f"{self.chrom}:{self.pos} {self.ref}>{','.join(self.alts) or '.'}"

    def info_values(self) -> dict[str, str | None]:
        """INFO as key -> raw text value (None for flags), parsed only when asked for."""
        values: dict[str, str | None] = {}
        if self.info in ("", "."):
            return values
        for item in self.info.split(";"):
            key, sep, value = item.partition("=")
            values[key] = value if sep else None
        return values


def parse_record(line: str, path: str, where: str, columns_expected: int = 0) -> VcfRecord:
    """One data line; with ``columns_expected`` (the header's #CHROM line's count) checked: the
    same number of columns, no INFO key with an empty value, no sample with more fields than
    FORMAT names. A line cut short (a download that stopped) fails here. Stricter than htsjdk,
    which reads ``KEY=`` as missing and checks the sample columns only when it decodes them
    (neither GATK tool does): docs/GATK_BEHAVIOUR.md lists these refusals."""
    columns = line.split("\t", 8)
    if len(columns) < 8:
        raise InputError(
            f"{where} has {len(columns)} columns, a VCF record needs at least 8", path=path
        )
    if columns_expected:
        _check_columns(line, columns, columns_expected, path, where)
    chrom, pos_text, _id, ref, alt, _qual, _filter, info = columns[:8]
    try:
        pos = int(pos_text)
    except ValueError:
        raise InputError(f"{where} has a non-numeric POS '{pos_text}'", path=path) from None
    if not 0 <= pos <= LARGEST_POSITION:
        raise InputError(f"{where} has POS {pos}, {_OUT_OF_RANGE}", path=path)
    if not ref or ref == ".":
        raise InputError(f"{where} has no REF allele", path=path)
    alts = [] if alt == "." else alt.split(",")
    record = VcfRecord(line, chrom, pos, ref.upper(), alts, info)
    record.end = pos + len(ref) - 1
    if "END=" in info:
        end_text = record.info_values().get("END")
        if end_text:
            try:
                record.end = int(end_text)
            except ValueError:
                raise InputError(f"{where} has a non-integer END '{end_text}'", path=path) from None
            _check_end(record, path)
    return record


#: htsjdk reads POS and END as Java ints; beyond them GATK stops on the record
LARGEST_POSITION = 2**31 - 1
_OUT_OF_RANGE = f"outside 0..{LARGEST_POSITION:,}, the positions htsjdk (GATK) reads"


def _check_end(record: VcfRecord, path: str) -> None:
    """END before POS is a reversed span: GATK refuses it (its SimpleInterval of the record needs
    end >= start), and every use of the span here (the -L overlap, split-intervals' cuts, a VCF
    given as -L) would otherwise go wrong far from the cause."""
    if record.end < record.pos:
        raise InputError(
            f"END {record.end} is before POS {record.pos}", path=path, record=record.label
        )
    if record.end > LARGEST_POSITION:
        raise InputError(f"END {record.end} is {_OUT_OF_RANGE}", path=path, record=record.label)


def _check_columns(line: str, columns: list[str], expected: int, path: str, where: str) -> None:
    count = line.count("\t") + 1
    if count != expected:
        raise InputError(
            f"{where} has {count} columns but the header's #CHROM line has {expected} (a line "
            "cut short, or a sample column missing or extra)",
            path=path,
        )
    info = columns[7]
    if "=" in info and ("=;" in info or info.endswith("=")):
        key = next(item for item in info.split(";") if item.endswith("=")).rstrip("=")
        raise InputError(f"{where} has an empty value for INFO {key}", path=path)
    if expected > 9:
        keys, *samples = columns[8].split("\t")
        separators = keys.count(":")
        for sample in samples:
            if sample.count(":") > separators:
                raise InputError(
                    f"{where} has a sample with more fields than FORMAT {keys} names", path=path
                )


def check_bgzf_end(path: str) -> None:
    """Refuse a BGZF file without its end-of-file block (every VCF read: inputs, resources,
    truth sets)."""
    if _cut_between_blocks(path):
        raise InputError(
            "the bgzip file ends without its end-of-file block: it was cut short (a copy or a "
            "write that stopped), so records may be missing; copy or write it again",
            path=path,
        )


def _cut_between_blocks(path: str) -> bool:
    """Whether a BGZF file (its first block has BGZF's ``BC`` field) lacks the end-of-file
    block. Cut between two blocks, every block left is whole, so gzip reads the records before
    the cut as the whole file, htsjdk too, and htslib with a warning nobody sees."""
    with open(path, "rb") as handle:
        head = handle.read(18)
        if len(head) < 18 or head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
            return False  # plain gzip: a cut shows as an unfinished stream or an unended line
        handle.seek(max(0, os.path.getsize(path) - len(_BGZF_EOF)))
        return handle.read() != _BGZF_EOF


class VcfReader:
    """A VCF (plain, bgzip or gzip) or BCF file: header lines plus an iterator over records.

    A bgzip VCF's index is the one attached with htslib's ``VCF##idx##INDEX`` (the workflow
    passes it so: Cromwell may localise an index away from its VCF), else ``VCF.tbi``/``.csi``
    beside it; with neither, records are read from the start and filtered by the intervals."""

    def __init__(self, location: str):
        path, self._attached_index = local_file_and_index(location, "VCF file does not exist")
        self.path = path
        with open(path, "rb") as probe:
            magic = probe.read(4)
        self.is_bcf = False
        self.compressed = magic[:2] == _BGZF_MAGIC
        if self.compressed:
            try:
                with gzip.open(path, "rb") as raw:
                    self.is_bcf = raw.read(3) == b"BCF"
            except (OSError, EOFError, zlib.error) as err:
                raise InputError(f"not a readable VCF ({err})", path=path) from None
        elif magic[:3] == b"BCF":
            self.is_bcf = True
        if self.compressed:
            check_bgzf_end(path)
        self.header_lines: list[str] = []
        self._data_offset_lines = 0
        self._read_header()
        self.contig_lengths = _contig_lengths(self.header_lines, path)
        _check_samples(self.samples, path)

    def _open_text(self):
        if self.compressed:
            return gzip.open(self.path, "rt", newline="\n")
        return open(self.path, newline="\n")

    def _read_header(self) -> None:
        if self.is_bcf:
            try:
                with pysam.VariantFile(self.path) as bcf:
                    text = str(bcf.header)
            except (OSError, ValueError) as err:
                raise InputError(f"not a readable BCF ({err})", path=self.path) from None
            self.header_lines = text.rstrip("\n").split("\n")
        else:
            try:
                with self._open_text() as handle:
                    for line in handle:
                        if not line.startswith("#"):
                            break
                        self.header_lines.append(line.rstrip("\r\n"))
            except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
                raise InputError(f"not a readable VCF ({err})", path=self.path) from None
        self._data_offset_lines = len(self.header_lines)
        #: columns every record must have: the #CHROM line's (8, or 9 and one per sample)
        self.columns = len(self.header_lines[-1].split("\t")) if self.header_lines else 0
        if not self.header_lines or not self.header_lines[0].startswith("##fileformat=VCF"):
            raise InputError("not a VCF: the first line is not ##fileformat=VCF...", path=self.path)
        if not self.header_lines[-1].startswith("#CHROM"):
            raise InputError("not a VCF: no #CHROM header line", path=self.path)

    @property
    def samples(self) -> list[str]:
        return self.header_lines[-1].split("\t")[9:]

    def _text_lines(self) -> Iterator[tuple[str, str]]:
        """(line, where) for every data line, in file order."""
        if self.is_bcf:
            with pysam.VariantFile(self.path) as bcf:
                floats = {key for key, line in bcf.header.info.items() if line.type == "Float"}
                for number, record in enumerate(bcf, 1):
                    yield _bcf_line(record, floats), f"record {number}"
            return
        try:
            with self._open_text() as handle:
                for number, line in enumerate(handle, 1):
                    if number <= self._data_offset_lines:
                        continue
                    if not line.endswith("\n") and not self.compressed:
                        raise InputError(
                            f"line {number} has no newline at its end: the file stops in the "
                            "middle of a record (cut short?)",
                            path=self.path,
                        )
                    line = line.rstrip("\r\n")
                    if line:
                        yield line, f"line {number}"
        except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
            raise InputError(f"VCF is corrupt or truncated ({err})", path=self.path) from None

    def _index_path(self) -> str | None:
        if self._attached_index is not None:
            return self._attached_index
        for suffix in (".tbi", ".csi"):
            if os.path.exists(self.path + suffix):
                return self.path + suffix
        return None

    def index_contigs(self) -> list[str]:
        """The contigs a bgzip VCF's index lists; none for another file, or one with no index
        or one that cannot be opened (reading records by it reports that)."""
        index = self._index_path()
        if not self.compressed or self.is_bcf or index is None:
            return []
        try:
            with pysam.TabixFile(self.path, index=index) as tabix:
                return list(tabix.contigs)
        except (OSError, ValueError, NotImplementedError):
            return []

    def _indexed_lines(self, intervals: IntervalFilter) -> Iterator[tuple[str, str]]:
        """Lines overlapping the intervals, fetched by the tabix index, each once: contig by
        contig in the order of the header's ``##contig`` lines, else of the dictionary the
        intervals were read against, as GATK traverses its sorted intervals (it takes the driving
        VCF's dictionary, or the reference's where the header has none: VariantWalkerBase's
        getBestAvailableSequenceDictionary), so a file whose contigs run in another order than
        its header's comes out in the header's; within a contig, in file order."""
        check_vcf_index_kind(self.path, self._index_path())
        try:
            tabix = pysam.TabixFile(self.path, index=self._index_path())
        except NotImplementedError:  # htslib cannot seek in plain gzip (or damaged BGZF headers)
            raise InputError(
                "VCF is gzip- but not bgzip-compressed (or its blocks are damaged), so its index "
                "cannot be used: recompress it with bgzip and index it with `tabix -p vcf`",
                path=self.path,
            ) from None
        except (OSError, ValueError) as err:
            raise InputError(f"cannot open the VCF index ({err})", path=self.path) from None
        with tabix:
            problem = tabix_index_problem(tabix, self._index_path())
            if problem:
                raise InputError(problem, path=self.path)
            rank = header_contig_rank(self.header_lines) or {
                name: place for place, name in enumerate(intervals.dictionary)
            }
            # sorted is stable: contigs the order does not list follow, in the index's order
            for contig in sorted(tabix.contigs, key=lambda name: rank.get(name, len(rank))):
                previous_end = 0
                for run in intervals.by_contig.get(contig, []):
                    try:
                        lines = tabix.fetch(contig, run.start - 1, run.end)
                        for line in lines:
                            record_start = int(line.split("\t", 2)[1])
                            # A record spanning two runs was already written with the first one.
                            if record_start <= previous_end:
                                continue
                            yield line, f"{contig}:{record_start}"
                    except (OSError, ValueError, NotImplementedError) as err:
                        raise InputError(f"VCF is corrupt ({err})", path=self.path) from None
                    previous_end = run.end

    def records(self, intervals: IntervalFilter | None = None) -> Iterator[VcfRecord]:
        """Records in file order; with intervals, only those overlapping them (GATK's -L)."""
        use_index = intervals is not None and self.compressed and not self.is_bcf
        use_index = use_index and self._index_path() is not None
        source = self._indexed_lines(intervals) if use_index else self._text_lines()
        for line, where in source:
            record = parse_record(line, self.path, where, 0 if self.is_bcf else self.columns)
            if intervals is None or intervals.overlaps(record.chrom, record.pos, record.end):
                yield record


def _bcf_line(record: pysam.VariantRecord, float_keys: set[str]) -> str:
    """A BCF record as VCF text, its INFO floats written exactly: htslib prints a float with six
    significant digits (``MQ=59.724321`` stored as a 32-bit float comes back ``59.7243``), so
    the annotations the models read would differ from the same calls' VCF (the smoke calls given
    8-digit annotations: two of 252 scores moved by 0.001). A float htslib's text does not give
    back is written as the shortest text that reads back as the stored 32-bit value, which is
    also what that VCF's text becomes in the model's float32 input; the rest (``60``, missing,
    non-finite) keep htslib's text."""
    columns = str(record).rstrip("\n").split("\t", 8)
    if columns[7] == "." or not float_keys:
        return "\t".join(columns)
    items = columns[7].split(";")
    for index, item in enumerate(items):
        key, sep, text = item.partition("=")
        if not sep or key not in float_keys:
            continue
        values = record.info[key]
        values = values if isinstance(values, tuple) else (values,)
        shown = text.split(",")
        if len(values) == len(shown):
            items[index] = f"{key}=" + ",".join(map(_exact_float, values, shown))
    columns[7] = ";".join(items)
    return "\t".join(columns)


def _exact_float(value: float | None, shown: str) -> str:
    """``shown`` (htslib's text of ``value``) where it reads back as the same 32-bit float, else
    the shortest text that does."""
    if value is None or not math.isfinite(value):
        return shown
    try:
        if np.float32(float(shown)) == np.float32(value):
            return shown
    except ValueError:
        pass
    return str(np.float32(value))


def header_contig_rank(header_lines: list[str]) -> dict[str, int]:
    """Contig -> its place among the header's ``##contig`` lines: the sequence dictionary order
    Picard's GatherVcfs orders shards by, so split-intervals holds its input to it too."""
    names = [line[len("##contig=<ID=") :].split(",")[0].rstrip(">") for line in header_lines
             if line.startswith("##contig=<ID=")]  # fmt: skip
    return {name: place for place, name in enumerate(names)}


def listed_before(rank: dict[str, int], contig: str, previous: str) -> bool:
    """``contig`` comes before ``previous`` in the header's order (``header_contig_rank``): a
    record on it after ``previous``'s is out of that order. A contig the header does not list
    counts as after every listed one, and nothing is before an unlisted ``previous``."""
    return rank.get(contig, len(rank)) < rank.get(previous, -1)


def _contig_lengths(header_lines: list[str], path: str) -> dict[str, int]:
    """The ##contig lengths, of the lines that give one."""
    return {
        name: contig_length(name, length, path)
        for name, length in header_contigs(header_lines).items()
        if length is not None
    }


def contig_length(name: str, text: str, path: str) -> int:
    """A ##contig length; one that is not a number is refused, as htsjdk refuses it (its
    sequence dictionary parses it as an integer) and htslib cannot write it as BCF."""
    try:
        return int(text)
    except ValueError:
        raise InputError(f"##contig {name} has length '{text}', not a number", path=path) from None


def _check_samples(samples: list[str], path: str) -> None:
    """A sample named twice in the #CHROM line: htsjdk refuses the header ("duplicate sample
    names") and htslib cannot write it as BCF; which column a tool reads would be a guess."""
    seen: set[str] = set()
    for sample in samples:
        if sample in seen:
            raise InputError(f"sample {sample} is named twice in the #CHROM line", path=path)
        seen.add(sample)


def _structured_fields(body: str) -> dict[str, str]:
    """Key=value pairs of a structured header line, honouring quoted values."""
    fields: dict[str, str] = {}
    key, value, in_quotes, reading_key = "", "", False, True
    for char in body + ",":
        if reading_key:
            if char == "=":
                reading_key = False
            elif char != ",":
                key += char
        elif char == '"':
            in_quotes = not in_quotes
        elif char == "," and not in_quotes:
            fields[key.strip()] = value
            key, value, reading_key = "", "", True
        else:
            value += char
    return fields


def header_contigs(header_lines: Sequence[str]) -> dict[str, str | None]:
    """The ``##contig`` lines' IDs, in header order, each with its length text (None without)."""
    contigs: dict[str, str | None] = {}
    for line in header_lines:
        if line.startswith("##contig=<"):
            fields = _structured_fields(line[len("##contig=<") : -1])
            if "ID" in fields:
                contigs[fields["ID"]] = fields.get("length")
    return contigs


def header_info_ids(header_lines: list[str]) -> set[str]:
    return {
        _structured_fields(line[len("##INFO=<") : -1]).get("ID", "")
        for line in header_lines
        if line.startswith("##INFO=<")
    }

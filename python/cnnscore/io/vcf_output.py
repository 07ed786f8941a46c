"""Writing the annotated VCF: header lines, the INFO edit, and an output that is whole or absent.

The output is written under a hidden temporary name in the destination folder and renamed into
place only after the last record (and its index) is written, so a failure never leaves a file that
looks complete.
"""

from __future__ import annotations

import contextlib
import re
import sys

import pysam
import pysam.bcftools

from ..errors import InputError
from .files import complete_or_nothing
from .output_paths import check_name_fits, check_output_folder
from .tribble_index import LinearIndexBuilder, record_span
from .vcf_text import header_contigs

INFO_HEADER_LINES = {
    "CNN_1D": '##INFO=<ID=CNN_1D,Number=1,Type=Float,Description="Log odds of being a true variant '
    'versus being false under the trained 1D Convolutional Neural Network">',
    "CNN_2D": '##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="Log odds of being a true variant '
    'versus being false under the trained 2D Convolutional Neural Network">',
}

#: The endings GATK writes as bgzip VCF, told in any case, whatever precedes them (its writer asks
#: htsjdk's IOUtil.hasBlockCompressedExtension): x.vcf.gz, x.VCF.GZ, x.gz, x.vcf.bgzf alike
BLOCK_COMPRESSED = (".gz", ".gzip", ".bgz", ".bgzf")
#: The index written beside each format's output, as GATK writes them (a plain .vcf gets htsjdk's
#: Tribble index, which htslib does not read: io/tribble_index.py)
INDEX_SUFFIX = {".vcf.gz": ".tbi", ".bcf": ".csi", ".vcf": ".idx"}


def output_format(path: str) -> str:
    """The format GATK gives the name, its ending told in any case: bgzip VCF for a
    :data:`BLOCK_COMPRESSED` ending, BCF for ``.bcf``, else plain VCF (``.vcf``, and any name
    GATK cannot type, for which it falls back to VCF with a warning: the writer notes it)."""
    name = path.lower()
    if name.endswith(BLOCK_COMPRESSED):
        return ".vcf.gz"
    return ".bcf" if name.endswith(".bcf") else ".vcf"


def names_a_variant_file(path: str) -> bool:
    """Whether the name says a VCF format (else it is written as plain VCF with a note)."""
    return path.lower().endswith((*BLOCK_COMPRESSED, ".vcf", ".bcf"))


def annotated_header(
    header_lines: list[str],
    key: str,
    provenance: str | None = None,
    own_model: str | None = None,
) -> list[str]:
    """The input header with GATK's INFO line for ``key`` (replacing any old one), kept sorted
    among the ##INFO lines as htsjdk writes them, plus an optional provenance line.
    ``own_model``: the cnnscore model that scored, named in the INFO line's description, so
    that the file itself says its scores are not GATK's model's (GATK's own text otherwise)."""
    new_line = info_header_line(key, own_model)
    lines = [line for line in header_lines if not line.startswith(f"##INFO=<ID={key},")]
    info_rows = [i for i, line in enumerate(lines) if line.startswith("##INFO=")]
    if info_rows:
        after = [i for i in info_rows if lines[i] > new_line]
        position = after[0] if after else info_rows[-1] + 1
    else:
        position = len(lines) - 1  # just before #CHROM
    lines.insert(position, new_line)
    if provenance:
        lines.insert(len(lines) - 1, provenance)
    return lines


def info_header_line(key: str, own_model: str | None = None) -> str:
    """GATK's ``##INFO`` line for ``key``; for a cnnscore model, its description also names it."""
    line = INFO_HEADER_LINES[key]
    if own_model is None:
        return line
    return line[: -len('">')] + (
        f" (here cnnscore's own {own_model}, not GATK's model: see its MODEL_CARD.md)" + '">'
    )


def provenance_line(key: str, tool: str, fields: dict[str, str]) -> str:
    """``##key=<ID=tool,Name="value",...>``, each value quoted as VCF 4.3 (1.4.2) says: a
    backslash or double quote escaped with a backslash. The values hold file names, which may
    hold anything: a control character (a newline would cut the header in two) or an undecodable
    byte of the name is written as an escaped backslash and its code (``x0a``), so the line
    always parses and still shows what the name held."""
    quoted = ",".join(f'{name}="{_quoted(value)}"' for name, value in fields.items())
    return f"##{key}=<ID={tool},{quoted}>"


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return "".join(_printable(char) for char in escaped)


def _printable(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte of the name that is not UTF-8 (surrogateescape)
        code -= 0xDC00
    elif code >= 0x20 and not 0x7F <= code <= 0x9F:
        return char
    return f"\\\\x{code:02x}"


def annotate_info(info: str, key: str, value: str) -> str:
    """INFO with ``key=value`` set: replaced in place if present, else inserted before the first key
    that sorts after it (htsjdk writes INFO keys sorted), leaving every other key untouched.
    A key present more than once (a malformed input) is written once: readers that keep the last
    copy (htsjdk, and so GATK's FilterVariantTranches; cnnscore's own) would otherwise read a
    stale score after the new one, as GATK's decoding and re-encoding never would."""
    if info in ("", "."):
        return f"{key}={value}"
    items = info.split(";")
    new_item = f"{key}={value}"
    found = [index for index, item in enumerate(items) if item.partition("=")[0] == key]
    if found:
        items[found[0]] = new_item
        return ";".join(item for index, item in enumerate(items) if index not in found[1:])
    for index, item in enumerate(items):
        if item.partition("=")[0] > key:
            items.insert(index, new_item)
            return ";".join(items)
    items.append(new_item)
    return ";".join(items)


def annotate_line(line: str, key: str, value: str) -> str:
    columns = line.split("\t", 8)
    columns[7] = annotate_info(columns[7], key, value)
    return "\t".join(columns)


#: Why an indexed output refuses unsorted records, and what to do
_UNINDEXABLE = (
    "so the output cannot be indexed (sort the VCF, e.g. bcftools sort, or pass "
    "--create-output-variant-index false)"
)


class SortOrder:
    """Records in the order an index needs (each contig in one run, positions not decreasing),
    checked as they are written: htslib finds out only when it indexes the finished file, after
    the whole run, and says only that building the index failed. split-intervals checks its
    input the same way (``consequence``: what the disorder would break, and the remedy)."""

    def __init__(self, source: str, consequence: str = _UNINDEXABLE):
        self.source = source
        self.consequence = consequence
        self._contig: str | None = None
        self._position = 0
        self._finished: set[str] = set()

    def check(self, lines: list[str], source: str | None = None) -> None:
        """``source``: the file these lines come from, if not the writer's (a gathered shard)."""
        for line in lines:
            if line.startswith("#"):
                continue
            contig, _, rest = line.partition("\t")
            try:
                position = int(rest.partition("\t")[0])
            except ValueError:
                continue  # not a record line the reader let through: nothing to order by
            self.record(contig, position, source)

    def record(self, contig: str, position: int, source: str | None = None) -> None:
        """The next record is at ``contig:position``; refused if out of order."""
        if contig == self._contig:
            if position < self._position:
                what = f"{contig}:{position} comes after {contig}:{self._position}"
                self._refuse(what, source)
            self._position = position
            return
        if contig in self._finished:
            self._refuse(f"{contig}:{position} comes after records of another contig", source)
        if self._contig is not None:
            self._finished.add(self._contig)
        self._contig, self._position = contig, position

    def _refuse(self, what: str, source: str | None) -> None:
        raise InputError(
            f"record {what}: the records are not sorted, {self.consequence}",
            path=source or self.source,
        )


#: header lines that define what a BCF record may name, by the column that names it
_DEFINED_BY = {
    "##contig=<": "contig", "##INFO=<": "INFO", "##FORMAT=<": "FORMAT", "##FILTER=<": "FILTER",
}  # fmt: skip


_ID = re.compile(r"[<,]ID=([^,>]+)")


def _defined_id(line: str) -> tuple[str, str] | None:
    """(kind, ID) of a ##contig/INFO/FORMAT/FILTER line, else None."""
    for prefix, kind in _DEFINED_BY.items():
        if line.startswith(prefix):
            found = _ID.search(line, len(prefix) - 1)
            return (kind, found.group(1)) if found else None
    return None


def _record_label(columns: list[str]) -> str:
    return f"{columns[0]}:{columns[1]} {columns[3]}>{columns[4]}"


def _has_contigs(header_lines: list[str]) -> bool:
    return any(line.startswith("##contig=<") for line in header_lines)


def _no_contig_lines(source: str) -> InputError:
    """BCF stores contigs as indexes into the header's ##contig lines: without them htslib can
    write no record (htsjdk's BCF2Writer refuses too: "Cannot write BCF2 file with missing contig
    lines"; GATK writes the input's header, not the reference's dictionary)."""
    return InputError(
        "the header has no ##contig lines, which BCF output needs: write .vcf.gz, or add the "
        "reference's contigs to the header (bcftools reheader --fai)",
        path=source,
    )


class _BcfNames:
    """What BCF records name must be defined in the header: htslib stores contigs and INFO,
    FORMAT and FILTER IDs as indexes into its dictionaries and cannot write a record naming one
    that is not (htsjdk's BCF2Writer refuses it too). Checked as records are written, naming the
    record and the missing definition, instead of a traceback from htslib after all the work."""

    def __init__(self) -> None:
        self._defined: dict[str, set[str]] = {kind: set() for kind in _DEFINED_BY.values()}
        self._defined["FILTER"].add("PASS")  # htslib defines PASS itself

    def check(self, lines: list[str], source: str) -> None:
        for line in lines:
            if line.startswith("#"):
                found = _defined_id(line)
                if found:
                    self._defined[found[0]].add(found[1])
                elif line.startswith("#CHROM") and not self._defined["contig"]:
                    raise _no_contig_lines(source)
                continue
            columns = line.split("\t", 9)
            for kind, name in self._named(columns):
                if name not in self._defined[kind]:
                    raise InputError(
                        f"{kind} {name} has no ##{kind} line in the header, which BCF output "
                        "needs: declare it, or write .vcf.gz",
                        path=source,
                        record=_record_label(columns),
                    )

    @staticmethod
    def _named(columns: list[str]) -> list[tuple[str, str]]:
        """(kind, ID) of every contig, FILTER, INFO key and FORMAT key the record names."""
        named = [("contig", columns[0])]
        if columns[6] not in (".", ""):
            named += [("FILTER", name) for name in columns[6].split(";")]
        if columns[7] not in (".", ""):
            named += [("INFO", item.partition("=")[0]) for item in columns[7].split(";")]
        if len(columns) > 8 and columns[8] not in (".", ""):
            named += [("FORMAT", key) for key in columns[8].split(":")]
        return named


#: Records held for one write (write_record), whichever limit comes first: a joint-called VCF's
#: line of 1,000 samples is ~100 KB, and 10,000 of them, held while joined and encoded, took a
#: gather or filter task to 2.8 GB (the scale review), past the workflow's 2 GiB for it
BUFFER_LINES = 10_000
BUFFER_BYTES = 8 * 1024 * 1024


class AtomicVcfWriter:
    """VCF/VCF.gz/BCF output by extension, published by rename only when complete."""

    def __init__(
        self,
        path: str,
        *,
        index: bool = True,
        source: str | None = None,
        header: list[str] | None = None,
    ):
        """``source``: the VCF the records come from, named if they cannot be written (not
        sorted, or not fit for BCF). ``header``: its header, checked here, before the work, for
        what the output format needs."""
        self.path = path
        self.format = output_format(path)
        self.index = index  # GATK's --create-output-variant-index
        self.source = source or path
        self._order = SortOrder(self.source) if index else None
        self._tribble = LinearIndexBuilder() if index and self.format == ".vcf" else None
        self._offset = 0  # bytes of text written so far: where the next record starts
        self._bcf_names = _BcfNames() if self.format == ".bcf" else None
        if self._bcf_names is not None and header is not None and not _has_contigs(header):
            raise _no_contig_lines(self.source)  # found before the work
        # a folder at ``path`` itself is refused by complete_or_nothing, as for every output
        check_output_folder(path, companions=(".tbi", ".csi", ".idx"))
        if index:  # a name that fits may leave no room for .tbi
            check_name_fits(path + INDEX_SUFFIX[self.format], path)
        try:
            self._output = complete_or_nothing(path, suffix=self.format)
            try:
                self._handle = self._open_text()
            except BaseException:
                self._output.abort()
                raise
        except OSError as err:
            raise InputError(f"cannot write the output ({err.strerror})", path=path) from None
        self._closed = False
        self._held: list[str] = []  # records not yet written (write_record)
        self._held_bytes = 0
        self._held_source: str | None = None
        if not names_a_variant_file(path):  # said once the output could be opened
            print(f"cnnscore: note: {path}: the name does not end in .vcf, .vcf.gz or .bcf: "
                  "written as plain VCF, as GATK does", file=sys.stderr)  # fmt: skip

    def _open_text(self):
        """The text VCF is always written first; .vcf.gz and .bcf are made from it at the end
        (a .vcf.gz in place, a .bcf from a scratch text file beside it)."""
        if self.format == ".bcf":
            self._text_path = self._output.beside(".vcf", publish=False)
        else:
            self._text_path = self._output.temp
        if self.format == ".vcf.gz":
            return pysam.BGZFile(self._text_path, "wb")
        return open(self._text_path, "wb")  # noqa: SIM115 - closed in commit/abort

    def write_lines(self, lines: list[str], source: str | None = None) -> None:
        """``source``: the file these lines come from, if not the writer's (a gathered shard)."""
        if lines:
            if self._order is not None:
                self._order.check(lines, source)
            if self._bcf_names is not None:
                self._bcf_names.check(lines, source or self.source)
            if self._tribble is not None:
                self._index_lines(lines)
            self._handle.write(("\n".join(lines) + "\n").encode())

    def write_record(self, line: str, source: str | None = None) -> None:
        """One record line, held and written with others (:data:`BUFFER_LINES`,
        :data:`BUFFER_BYTES`); ``source`` as in :meth:`write_lines`."""
        if source != self._held_source:
            self._write_held()
            self._held_source = source
        self._held.append(line)
        self._held_bytes += len(line)
        if len(self._held) >= BUFFER_LINES or self._held_bytes >= BUFFER_BYTES:
            self._write_held()

    def _write_held(self) -> None:
        lines, self._held, self._held_bytes = self._held, [], 0
        self.write_lines(lines, self._held_source)

    def _index_lines(self, lines: list[str]) -> None:
        """Each record's span and offset to the Tribble index, and the header's contigs."""
        offset = self._offset
        for line in lines:
            if line.startswith("##contig=<"):
                for name, length in header_contigs([line]).items():
                    if length is not None:
                        self._tribble.add_contig_line(name, length)
            elif not line.startswith("#"):
                columns = line.split("\t", 8)
                with contextlib.suppress(ValueError, IndexError):  # no record: skipped, as by
                    # the order check (every writer's lines are records the reader parsed)
                    start, end = record_span(columns)
                    self._tribble.add_record(columns[0], start, end, offset)
            offset += (len(line) if line.isascii() else len(line.encode())) + 1
        self._offset = offset

    def _close_handle(self) -> None:
        if not self._closed:
            self._handle.close()
            self._closed = True

    def commit(self) -> None:
        """Finish (compress/convert, index) and move the result into place, then its index."""
        self._write_held()
        self._close_handle()
        final = self._output.temp
        self._retire_stale_indexes()
        if self.format == ".vcf.gz" and self.index:
            self._output.beside(".tbi")
            pysam.tabix_index(final, preset="vcf", force=True)
        elif self.format == ".bcf":
            self._convert_to_bcf(final)
            if self.index:
                self._output.beside(".csi")
                pysam.bcftools.index(final)
        elif self._tribble is not None:
            self._tribble.write(self._output.beside(".idx"), self.path, final)
        self._output.commit()
        if self.format == ".bcf":  # said of an output that exists
            print(f"cnnscore: note: {self.path}: written as BCF 2.2, which bcftools reads and "
                  "GATK 4.6 does not (it reads its own BCF 2.1): write .vcf.gz for GATK",
                  file=sys.stderr)  # fmt: skip

    def _retire_stale_indexes(self) -> None:
        """An earlier output's index that this one does not replace goes when this one is
        published (kept if it never is): htslib prefers a .csi to a .tbi, so an old .csi beside
        a new .vcf.gz would answer every region query from the old file's offsets."""
        written = INDEX_SUFFIX[self.format] if self.index else None
        for suffix in (".tbi", ".csi", ".idx"):
            if suffix != written:
                self._output.retire(suffix)

    def _convert_to_bcf(self, final: str) -> None:
        """The text written so far as BCF. What _BcfNames checks is what htslib is known to
        refuse; anything else it cannot encode is still one line, not a traceback."""
        try:
            with (
                pysam.VariantFile(self._text_path) as source,
                pysam.VariantFile(final, "wb", header=source.header) as sink,
            ):
                for record in source:
                    sink.write(record)
        except (OSError, ValueError, TypeError) as err:
            raise InputError(
                f"htslib cannot write these records as BCF ({err}): write .vcf.gz",
                path=self.source,
            ) from None

    def abort(self) -> None:
        """Remove every temporary file; the destination is never touched."""
        with contextlib.suppress(OSError):
            self._close_handle()
        self._output.abort()

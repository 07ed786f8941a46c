"""Writing the annotated VCF: header lines, the INFO edit, and an output that is whole or absent.

The output is written under a hidden temporary name in the destination folder and renamed into
place only after the last record (and its index) is written, so a failure never leaves a file that
looks complete.
"""

from __future__ import annotations

import contextlib
import os

import pysam
import pysam.bcftools

from ..errors import InputError
from .files import check_name_fits, check_output_folder, complete_or_nothing

INFO_HEADER_LINES = {
    "CNN_1D": '##INFO=<ID=CNN_1D,Number=1,Type=Float,Description="Log odds of being a true variant '
    'versus being false under the trained 1D Convolutional Neural Network">',
    "CNN_2D": '##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="Log odds of being a true variant '
    'versus being false under the trained 2D Convolutional Neural Network">',
}

OUTPUT_SUFFIXES = (".vcf", ".vcf.gz", ".bcf")
#: The index written beside each format's output (a plain .vcf gets none)
INDEX_SUFFIX = {".vcf.gz": ".tbi", ".bcf": ".csi"}


def output_format(path: str) -> str:
    for suffix in (".vcf.gz", ".vcf.bgz", ".bcf", ".vcf"):
        if path.endswith(suffix):
            return {".vcf.bgz": ".vcf.gz"}.get(suffix, suffix)
    raise InputError("output name must end in .vcf, .vcf.gz or .bcf", path=path)


def annotated_header(header_lines: list[str], key: str, provenance: str | None = None) -> list[str]:
    """The input header with GATK's INFO line for ``key`` (replacing any old one), kept sorted
    among the ##INFO lines as htsjdk writes them, plus an optional provenance line."""
    new_line = INFO_HEADER_LINES[key]
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


def annotate_info(info: str, key: str, value: str) -> str:
    """INFO with ``key=value`` set: replaced in place if present, else inserted before the first key
    that sorts after it (htsjdk writes INFO keys sorted), leaving every other key untouched."""
    if info in ("", "."):
        return f"{key}={value}"
    items = info.split(";")
    new_item = f"{key}={value}"
    for index, item in enumerate(items):
        name = item.partition("=")[0]
        if name == key:
            items[index] = new_item
            return ";".join(items)
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


class _SortOrder:
    """Records in the order an index needs (each contig in one run, positions not decreasing),
    checked as they are written: htslib finds out only when it indexes the finished file, after
    the whole run, and says only that building the index failed."""

    def __init__(self, source: str):
        self.source = source
        self._contig: str | None = None
        self._position = 0
        self._finished: set[str] = set()

    def check(self, lines: list[str]) -> None:
        for line in lines:
            if line.startswith("#"):
                continue
            contig, _, rest = line.partition("\t")
            try:
                position = int(rest.partition("\t")[0])
            except ValueError:
                continue  # not a record line the reader let through: nothing to order by
            if contig == self._contig:
                if position < self._position:
                    self._refuse(f"{contig}:{position} comes after {contig}:{self._position}")
                self._position = position
                continue
            if contig in self._finished:
                self._refuse(f"{contig}:{position} comes after records of another contig")
            if self._contig is not None:
                self._finished.add(self._contig)
            self._contig, self._position = contig, position

    def _refuse(self, what: str) -> None:
        raise InputError(
            f"record {what}: the records are not sorted, so the output cannot be indexed "
            "(sort the VCF, e.g. bcftools sort, or pass --create-output-variant-index false)",
            path=self.source,
        )


class AtomicVcfWriter:
    """VCF/VCF.gz/BCF output by extension, published by rename only when complete."""

    def __init__(self, path: str, *, index: bool = True, source: str | None = None):
        """``source``: the VCF the records come from, named if they turn out not to be sorted."""
        self.path = path
        self.format = output_format(path)
        self.index = index  # GATK's --create-output-variant-index
        self._order = _SortOrder(source or path) if index and self.format != ".vcf" else None
        # a folder at ``path`` itself is refused by complete_or_nothing, as for every output
        check_output_folder(path, companions=(".tbi", ".csi", ".idx"))
        if index and self.format in INDEX_SUFFIX:  # a name that fits may leave no room for .tbi
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

    def write_lines(self, lines: list[str]) -> None:
        if lines:
            if self._order is not None:
                self._order.check(lines)
            self._handle.write(("\n".join(lines) + "\n").encode())

    def _close_handle(self) -> None:
        if not self._closed:
            self._handle.close()
            self._closed = True

    def commit(self) -> None:
        """Finish (compress/convert, index) and move the result into place, its index first."""
        self._close_handle()
        final = self._output.temp
        if not self.index:
            for suffix in (".tbi", ".csi", ".idx"):  # an earlier file's index would be wrong
                if os.path.exists(self.path + suffix):
                    os.remove(self.path + suffix)
            if self.format == ".vcf.gz":
                self._output.commit()
                return
        if self.format == ".vcf.gz":
            self._output.beside(".tbi")
            pysam.tabix_index(final, preset="vcf", force=True)
        elif self.format == ".bcf":
            with (
                pysam.VariantFile(self._text_path) as source,
                pysam.VariantFile(final, "wb", header=source.header) as sink,
            ):
                for record in source:
                    sink.write(record)
            if self.index:
                self._output.beside(".csi")
                pysam.bcftools.index(final)
        elif os.path.exists(self.path + ".idx"):
            os.remove(self.path + ".idx")  # a stale index of an earlier file
        self._output.commit()

    def abort(self) -> None:
        """Remove every temporary file; the destination is never touched."""
        with contextlib.suppress(OSError):
            self._close_handle()
        self._output.abort()

"""Writing the annotated VCF: header lines, the INFO edit, and an output that is whole or absent.

The output is written under a hidden temporary name in the destination folder and renamed into
place only after the last record (and its index) is written, so a failure never leaves a file that
looks complete.
"""

from __future__ import annotations

import contextlib
import os
import sys

import pysam
import pysam.bcftools

from ..errors import InputError
from .files import check_output_folder

INFO_HEADER_LINES = {
    "CNN_1D": '##INFO=<ID=CNN_1D,Number=1,Type=Float,Description="Log odds of being a true variant '
    'versus being false under the trained 1D Convolutional Neural Network">',
    "CNN_2D": '##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="Log odds of being a true variant '
    'versus being false under the trained 2D Convolutional Neural Network">',
}

OUTPUT_SUFFIXES = (".vcf", ".vcf.gz", ".bcf")


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


class AtomicVcfWriter:
    """VCF/VCF.gz/BCF output by extension, published by rename only when complete."""

    def __init__(self, path: str):
        self.path = path
        self.format = output_format(path)
        check_output_folder(path)
        folder = os.path.dirname(os.path.abspath(path))
        stem = f".{os.path.basename(path)}.partial-{os.getpid()}"
        # The text VCF is always written first; .vcf.gz and .bcf are made from it at the end.
        text_suffix = ".vcf.gz" if self.format == ".vcf.gz" else ".vcf"
        self._text_path = os.path.join(folder, stem + text_suffix)
        self._final_temp = os.path.join(folder, stem + self.format)
        self._temps = {self._text_path, self._final_temp}
        try:
            if self.format == ".vcf.gz":
                self._handle = pysam.BGZFile(self._text_path, "wb")
            else:
                self._handle = open(self._text_path, "wb")  # noqa: SIM115 - closed in commit/abort
        except OSError as err:
            raise InputError(f"cannot write the output ({err.strerror})", path=path) from None
        self._closed = False

    def write_lines(self, lines: list[str]) -> None:
        if lines:
            self._handle.write(("\n".join(lines) + "\n").encode())

    def _close_handle(self) -> None:
        if not self._closed:
            self._handle.close()
            self._closed = True

    def commit(self) -> None:
        """Finish (compress/convert, index) and move the result into place."""
        self._close_handle()
        index_suffix = None
        if self.format == ".vcf.gz":
            pysam.tabix_index(self._text_path, preset="vcf", force=True)
            index_suffix = ".tbi"
        elif self.format == ".bcf":
            with (
                pysam.VariantFile(self._text_path) as source,
                pysam.VariantFile(self._final_temp, "wb", header=source.header) as sink,
            ):
                for record in source:
                    sink.write(record)
            pysam.bcftools.index(self._final_temp)
            index_suffix = ".csi"
        if index_suffix:
            self._temps.add(self._final_temp + index_suffix)
            os.replace(self._final_temp + index_suffix, self.path + index_suffix)
        elif os.path.exists(self.path + ".idx"):
            os.remove(self.path + ".idx")
        os.replace(self._final_temp, self.path)
        if self._text_path != self._final_temp:
            os.remove(self._text_path)

    def abort(self) -> None:
        """Remove every temporary file; the destination is never touched."""
        with contextlib.suppress(OSError):
            self._close_handle()
        for temp in self._temps:
            try:
                os.remove(temp)
            except FileNotFoundError:
                pass
            except OSError as err:
                print(f"cnnscore: warning: could not remove {temp}: {err}", file=sys.stderr)

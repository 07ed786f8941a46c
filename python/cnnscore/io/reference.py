"""Reference bases exactly as GATK's CachingIndexedFastaSequenceFile hands them to the CNN.

GATK upper-cases every base and turns every non-ACGT code into N before the tensors see it, so the
models only ever meet A, C, G, T and N from the reference.
"""

from __future__ import annotations

import os

import pysam

from ..errors import InputError
from . import locations

_GATK_BASES = bytes((c if c in b"ACGT" else ord("N")) for c in bytes(range(256)).upper())
# Map every byte to upper-case, then anything but A/C/G/T to N (GATK's IUPAC -> N conversion).
_TO_GATK = bytes.maketrans(bytes(range(256)), _GATK_BASES)

#: Reference bases GATK sends per variant: the window [start-64, end+64], first 128 bytes.
REFERENCE_WINDOW = 128
_HALF_WINDOW = REFERENCE_WINDOW // 2


def reference_lengths(path: str) -> dict[str, int]:
    """Contig lengths of an indexed FASTA, checked like any reference, without keeping it open."""
    reference = Reference(path)
    reference.close()
    return reference.lengths


def check_fasta_index(fai: str) -> None:
    """A FASTA's .fai as samtools writes it: five numeric columns after the name, each line
    holding at least its bases. htslib takes a sixth column as a FASTQ index and then hands out
    other bases (all N for a bgzip FASTA, found by the fuzz battery), which match any REF, so a
    wrong index would score silently against the wrong sequence."""
    try:
        with open(fai, "rb") as handle:
            lines = handle.read().split(b"\n")
    except OSError:
        return  # htslib reports a missing or unreadable index in its own words
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
            length, _, line_bases, line_bytes = (int(f) for f in fields[1:])
            if length and (line_bases < 1 or line_bytes < line_bases):
                problem = "line sizes that cannot be (bytes per line below bases per line)"
        if problem:
            raise InputError(f"line {number} of the index: {problem}", path=fai)


class Reference:
    """An indexed FASTA (plain or bgzip) with GATK's base conversion and window rules."""

    def __init__(self, path: str):
        self.path = path
        fasta, indexes = locations.split_indexes(path)  # a gs:// reference: URL + cached indexes
        if not locations.exists(fasta):
            raise InputError("reference FASTA does not exist", path=path)
        if not indexes and not os.path.exists(fasta + ".fai"):
            raise InputError(
                f"reference index {os.path.basename(path)}.fai is missing (samtools faidx)",
                path=path,
            )
        fai, gzi = (indexes + [None, None])[:2]
        check_fasta_index(fai or fasta + ".fai")
        try:
            self._fasta = pysam.FastaFile(fasta, filepath_index=fai, filepath_index_compressed=gzi)
        except (OSError, ValueError) as err:
            raise InputError(f"not a readable indexed FASTA ({err})", path=path) from None
        self.lengths: dict[str, int] = dict(zip(self._fasta.references, self._fasta.lengths))

    def close(self) -> None:
        self._fasta.close()

    def bases(self, contig: str, start: int, end: int) -> bytes:
        """GATK-converted bases of 1-based inclusive [start, end], clipped to the contig."""
        try:
            text = self._fasta.fetch(contig, max(start, 1) - 1, min(end, self.lengths[contig]))
        except (KeyError, ValueError, OSError) as err:
            raise InputError(
                f"cannot read {contig}:{start}-{end} ({err})", path=self.path
            ) from None
        return text.encode("ascii", "replace").translate(_TO_GATK)

    def window(self, contig: str, start: int, end: int) -> bytes:
        """The 128 reference bytes GATK sends for a variant spanning [start, end].

        GATK takes [max(1, start-64), min(len, end+64)] and copies its first 128 bytes, NUL-padding
        a shorter window. So near the contig start the variant is not centred, and a short REF there
        leaves trailing NULs while a long one brings extra bases: GATK's behaviour, kept.
        """
        first = max(1, start - _HALF_WINDOW)
        last = min(end + _HALF_WINDOW, first + REFERENCE_WINDOW - 1)
        bases = self.bases(contig, first, last)
        return bases.ljust(REFERENCE_WINDOW, b"\x00")

"""Reference bases exactly as GATK's CachingIndexedFastaSequenceFile hands them to the CNN.

GATK upper-cases every base and turns every IUPAC ambiguity code into N before the tensors see it,
so the models only ever meet A, C, G, T and N from the reference; any other byte stops it.
"""

from __future__ import annotations

import os
import re

import pysam

from ..errors import InputError
from . import fasta_index, locations

_GATK_BASES = bytes((c if c in b"ACGT" else ord("N")) for c in bytes(range(256)).upper())
# Map every byte to upper-case, then anything but A/C/G/T to N (GATK's IUPAC -> N conversion).
_TO_GATK = bytes.maketrans(bytes(range(256)), _GATK_BASES)

#: What GATK's reference reader accepts (htsjdk's BaseUtils.convertIUPACtoN with
#: errorOnBadReferenceBase): A, C, G, T and the IUPAC codes, either case; anything else, a '.',
#: '-', 'X', '*' or a byte beyond ASCII, stops it rather than being read as N.
_NOT_A_BASE = re.compile(r"[^ACGTNRYMKWSBDHVacgtnrymkwsbdhv]")

#: Reference bases GATK sends per variant: the window [start-64, end+64], first 128 bytes.
REFERENCE_WINDOW = 128
_HALF_WINDOW = REFERENCE_WINDOW // 2


def reference_lengths(path: str) -> dict[str, int]:
    """Contig lengths of an indexed FASTA, checked like any reference, without keeping it open."""
    reference = Reference(path)
    reference.close()
    return reference.lengths


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
        entries = fasta_index.check_columns(fai or fasta + ".fai")
        problem = fasta_index.offsets_problem(fasta, entries, gzi)
        if problem:
            raise InputError(problem, path=path)
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
        bad = _NOT_A_BASE.search(text)
        if bad:
            raise InputError(
                f"{contig}:{max(start, 1) + bad.start()} holds {bad.group()!r}, which is neither "
                "a base nor an IUPAC code (GATK refuses such a reference: a damaged or "
                "non-nucleotide FASTA)",
                path=self.path,
            )
        return text.encode("ascii").translate(_TO_GATK)

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

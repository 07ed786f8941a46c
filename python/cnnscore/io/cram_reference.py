"""Whether a CRAM was written against the reference it is read with.

A CRAM holds its reads as differences from the reference it was made with. Decoded against
another, htslib fails on a checksum it reports only at a verbosity cnnscore silences, and what
reaches the caller reads as a truncated file or an index of another file. Each ``@SQ`` line of a
CRAM carries the MD5 of its contig's bases (``M5``), so on the way to such an error the cause can
be told and said. Only then: hashing a contig reads all of it (chr1: 250 MB).
"""

from __future__ import annotations

import functools
import hashlib
import os

import pysam

from . import locations


@functools.lru_cache(maxsize=4)
def _contig_md5(reference: str, contig: str) -> str | None:
    """The SAM specification's M5 of the reference's contig: MD5 of its bases in upper case."""
    fasta, indexes = locations.split_indexes(reference)
    fai, gzi = (indexes + [None, None])[:2]
    try:
        with pysam.FastaFile(fasta, filepath_index=fai, filepath_index_compressed=gzi) as handle:
            bases = handle.fetch(contig)
    except (OSError, ValueError, KeyError):
        return None
    return hashlib.md5(bases.upper().encode("ascii", "replace")).hexdigest()


def reference_mismatch(reads: pysam.AlignmentFile, reference: str, contig: str) -> str | None:
    """Why ``reads`` cannot be decoded at ``contig`` with ``reference``, when its ``@SQ M5``
    says the CRAM was made against other bases there; None when it was not, or cannot say."""
    if not reads.is_cram:
        return None
    stated = {line.get("SN"): line.get("M5") for line in reads.header.to_dict().get("SQ", [])}.get(
        contig
    )
    if not stated:
        return None
    found = _contig_md5(reference, contig)
    if found is None or found == stated.lower():
        return None
    name = os.path.basename(locations.split_indexes(reference)[0])
    return (
        f"it was written against another reference than {name}: its @SQ M5 of {contig} is "
        f"{stated}, and this reference's {contig} hashes to {found} (give -R the reference the "
        "CRAM was made with)"
    )

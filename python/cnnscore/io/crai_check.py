"""Does this .crai list every contig's first container? htslib does not ask.

htslib reads a region of a CRAM from the left-most container its .crai lists for the region and
on from there (``cram_index.h``: "slices may be absent from the index"), so a .crai that lists
its containers out of the file's order, or does not list a contig's first container (its line
dropped, or given another contig), makes queries of that contig miss reads without a word: the
pileups thin and the scores move, the run ending "successfully" (found by the fuzz battery's CRAM
cases). A .crai written by htslib or htsjdk lists every slice of every container in file order
(htsjdk sorts by contig, unplaced last, then start, which for a coordinate-sorted file is file
order), so containers follow one another with no gap where the contig changes; checking that
costs one container header read per contig.
"""

from __future__ import annotations

import struct

from .cram_format import container_data, crai_lines, is_cram3

#: a CRAM's file definition: magic, version, 20-byte file id; the header container follows
_FILE_DEFINITION = 26
_REINDEX = "the index is damaged (run samtools index again)"


def _container_end(cram, container: int) -> int:
    data, length = container_data(cram, container)
    return data + length


def _listed(index_path: str) -> list[tuple[int, int]] | None:
    """(container offset, contig number) of each .crai line, in its order; None when the file
    is not gzip-compressed text of that form (index_checks says so elsewhere)."""
    lines = crai_lines(index_path)
    try:
        return None if lines is None else [(int(fields[3]), int(fields[0])) for fields in lines]
    except (ValueError, IndexError):
        return None


def crai_problem(cram_path: str, index_path: str) -> str | None:
    """Why ``index_path`` cannot list every container htslib must start from in the local CRAM
    3 file ``cram_path``, or None. The lines must follow the file; the first container listed
    must be the one after the header, and each container where the contig changes (in the
    header's order, unplaced reads, -1, last) the one right after the container listed before
    it."""
    listed = _listed(index_path)
    if not listed:
        return None
    if any(later < earlier for (earlier, _), (later, _) in zip(listed, listed[1:])):
        return f"its index {index_path} lists containers out of the file's order: {_REINDEX}"
    first_contig: dict[int, int] = {}
    for offset, contig in listed:  # a multi-reference container: its first line's contig
        first_contig.setdefault(offset, contig)
    containers = sorted(first_contig.items())
    try:
        with open(cram_path, "rb") as cram:
            if not is_cram3(cram):
                return None  # CRAM 2 (or not CRAM): containers of another layout
            previous, previous_contig = None, None
            for offset, contig in containers:
                if previous is None:
                    after, expected = "the header", _container_end(cram, _FILE_DEFINITION)
                elif contig == previous_contig:
                    previous = offset
                    continue
                elif previous_contig == -1 or 0 <= contig < previous_contig:
                    return (
                        f"its index {index_path} lists contig {contig} after contig "
                        f"{previous_contig}: {_REINDEX}"
                    )
                else:
                    after, expected = f"byte {previous}", _container_end(cram, previous)
                if offset != expected:
                    return (
                        f"its index {index_path} does not list the container at byte {expected} "
                        f"(the next after {after}), whose reads every query would miss: the "
                        "index belongs to another file or is damaged (run samtools index again)"
                    )
                previous, previous_contig = offset, contig
    except (OSError, IndexError, struct.error):
        return None  # unreadable here: htslib's own reading reports it
    return None

"""Is this BAI whole? htslib does not ask.

htslib (and htsjdk, so GATK too) trusts a BAM index's bin numbers and chunk offsets: a flipped
bit in one bin number files that bin's reads under another part of the contig, every query of
their own region then finds no reads, the pileups are empty and the scores move with the run
ending "successfully". :func:`bai_problem` reads the whole index (tens of MB for a genome, parsed
with numpy in a fraction of a second) and checks what every BAI that htslib (``samtools index``,
``pysam.index``, ``--write-index``) or htsjdk (Picard BuildBamIndex, GATK's
``--create-output-bam-index``, the index merged by GATK's Spark tools) writes for a
coordinate-sorted BAM holds. Each invariant below says why both writers keep it; refusing a good
index would be worse than the damage it catches, so none is stricter than both writers' rules.

Terms: a bin at level ``L`` (0..5) covers ``8 ** (5 - L)`` 16 kb windows from its first window
``w0``; an alignment's bin is the smallest one holding its start and its last base (htslib
``hts_reg2bin`` of [pos, end), htsjdk ``computeIndexingBin``; an unmapped placed read counts one
base). Both write, per bin, chunks of virtual offsets ``[beg, end)``: runs of consecutive
alignments of that bin, adjacent runs joined (htslib's ``compress_binning`` also moves a small
bin's chunks into its parent bin, which holds its region). The linear index gives, per window,
the offset of the first alignment overlapping it; windows no alignment overlaps are filled from a
neighbour (htslib: from the next window, before 1.12 from the previous one, leading ones from
the contig's first offset; htsjdk: from the previous window, leading ones 0); htslib before 1.15
left unmapped reads out of it. Each rule was checked against thousands of indexes that htslib
1.9, 1.16 and pysam's, and htsjdk 3.0.4, wrote for random BAMs of awkward shapes.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

#: bins hold positions below 2 ** 29 (both writers refuse larger ones for a BAI): at most
#: ``4681 + (2 ** 29 - 1 >> 14)``; 37450 is the summary pseudo-bin, 37449 never used
_LAST_BIN = 37448
_PSEUDO_BIN = 37450
#: first bin number of each level, 0 (whole contig) to 5 (one 16 kb window)
_LEVEL_FIRST = np.array([0, 1, 9, 73, 585, 4681], dtype=np.int64)
_REBUILD = "the index is damaged; rebuild it with samtools index"


class _Damaged(Exception):
    """What is wrong, said as the end of the sentence that names the index, and what follows."""

    def __init__(self, what: str, cause: str = _REBUILD):
        super().__init__(f"{what}: {cause}")


def _bin_windows(bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first window, window count) of ordinary bins (``hts_bin_bot`` and the level's width)."""
    level = np.searchsorted(_LEVEL_FIRST, bins, side="right") - 1
    shift = 3 * (5 - level)
    return (bins - _LEVEL_FIRST[level]) << shift, np.int64(1) << shift


def _read_reference(data: bytes, at: int, words: dict[int, np.ndarray]):
    """One reference's bins and linear index: (bin numbers, chunk counts, chunk begs, chunk
    ends, pseudo-bin chunk count and its four values or None, linear index, offset after it).
    A negative count or one running past the file's end raises ValueError or struct.error."""
    (n_bin,) = struct.unpack_from("<i", data, at)
    if n_bin < 0:
        raise ValueError("negative bin count")
    at += 4
    numbers, counts, starts = [], [], []
    pseudo_chunks = summary = None
    for _ in range(n_bin):
        number, n_chunk = struct.unpack_from("<Ii", data, at)
        if n_chunk < 0 or at + 8 + 16 * n_chunk > len(data):
            raise ValueError("bad chunk count")
        if number == _PSEUDO_BIN and pseudo_chunks is None:
            pseudo_chunks = n_chunk
            if n_chunk == 2:  # (first offset, end offset), (mapped, unmapped placed reads)
                summary = struct.unpack_from("<QQQQ", data, at + 8)
        else:
            numbers.append(number)
            counts.append(n_chunk)
            starts.append(at + 8)
        at += 8 + 16 * n_chunk
    (n_intv,) = struct.unpack_from("<i", data, at)
    if n_intv < 0 or at + 4 + 8 * n_intv > len(data):
        raise ValueError("bad linear index size")
    linear = np.frombuffer(data, dtype="<u8", count=n_intv, offset=at + 4)
    counts_array = np.array(counts, dtype=np.int64)
    total = int(counts_array.sum())
    # every chunk of one reference lies at the same offset modulo 8: gathered from a word view
    first = np.repeat(np.array(starts, dtype=np.int64), counts_array)
    within = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(counts_array) - counts_array, counts_array
    )
    positions = first + 16 * within
    residue = (at + 4) % 8 if not total else int(positions[0] % 8)
    view = words.setdefault(
        residue, np.frombuffer(data, dtype="<u8", offset=residue, count=(len(data) - residue) // 8)
    )
    slots = (positions - residue) // 8
    return (
        np.array(numbers, dtype=np.int64),
        counts_array,
        view[slots],
        view[slots + 1],
        pseudo_chunks,
        summary,
        linear,
        at + 4 + 8 * n_intv,
    )


def _check_reference(name, numbers, counts, begs, ends, pseudo_chunks, summary, linear, file_size):
    """Raise _Damaged where this reference's part of the index breaks a rule both writers keep."""
    if pseudo_chunks is not None and pseudo_chunks != 2:
        # both write the summary bin as exactly two pairs: first and last offset, then the
        # mapped and unmapped counts (htslib hts_idx_finish, htsjdk writeChunkMetaData)
        raise _Damaged(f"has {pseudo_chunks} chunks in {name}'s summary bin {_PSEUDO_BIN}, not 2")
    bad = numbers[(numbers < 0) | (numbers > _LAST_BIN)]
    if bad.size:  # the pseudo-bin a second time lands here too
        raise _Damaged(f"lists bin {bad[0]} for {name}, a number no BAI bin has")
    unique, seen = np.unique(numbers, return_counts=True)
    if (seen > 1).any():  # htslib keeps bins in a hash, htsjdk in an array: one entry per number
        raise _Damaged(f"lists bin {unique[seen > 1][0]} of {name} twice")
    chunk_bin = np.repeat(numbers, counts)
    n_intv = linear.size
    if file_size is not None:
        # each chunk begins at an alignment and ends at the next one or the data's end; each
        # linear entry is an alignment's offset (or htsjdk's 0): all within the BAM
        past = (begs >> 16 >= file_size) | (ends >> 16 > file_size)
        if past.any() or (linear >> 16 >= file_size).any():
            where = f"bin {chunk_bin[past][0]}" if past.any() else "the linear index"
            raise _Damaged(
                f"points past the end of the BAM file ({where} of {name})",
                "the BAM file is cut short, or the index belongs to another file",
            )
    backwards = begs > ends
    if backwards.any():
        raise _Damaged(
            f"has a chunk of bin {chunk_bin[backwards][0]} of {name} that ends before it starts"
        )
    # Within a bin, chunks are in file order and do not overlap: htslib appends runs as the file
    # is read, sorts a bin that received its children's chunks and joins overlapping neighbours;
    # htsjdk appends each alignment's span, joined to the last chunk when in the same block.
    same_bin = chunk_bin[1:] == chunk_bin[:-1]
    overlap = same_bin & (begs[1:] < ends[:-1])
    if overlap.any():
        raise _Damaged(f"has chunks of bin {chunk_bin[1:][overlap][0]} of {name} out of order")
    if not numbers.size:
        if linear.size:  # both write a contig without reads as no bins and no linear index
            raise _Damaged(f"has a linear index for {name} but no bins")
        return
    unmapped = None
    if summary is not None:
        # the summary's offsets are the contig's first alignment and the end of its last, which
        # begins and ends a chunk (htslib: the same file positions; htsjdk: the least alignment
        # start and the greatest end)
        unmapped = summary[3]
        if begs.size and (begs.min() != summary[0] or ends.max() != summary[1]):
            raise _Damaged(
                f"has chunks of {name} that do not span the file offsets its summary bin "
                f"{_PSEUDO_BIN} gives"
            )
    w0, width = _bin_windows(numbers)
    # A mapped alignment sets the linear index up to its last window, which its bin covers, so
    # the bin starts before the linear index ends: w0 < n_intv. Not so for unmapped reads placed
    # at a position (htslib before 1.15 left them out of the linear index; htsjdk counts one on a
    # window's first base from the window before): only where the summary bin says there are
    # none.
    beyond = w0 >= n_intv
    if unmapped == 0 and beyond.any():
        raise _Damaged(
            f"lists bin {numbers[beyond][0]} of {name} at {name}:"
            f"{(w0[beyond][0] << 14) + 1}, past the end of its linear index "
            f"({name}:{n_intv << 14})"
        )
    _check_linear_floor(name, numbers, counts, begs, w0, linear)
    _check_order(name, numbers, counts, begs, ends, w0, width)
    _check_windows_held(name, numbers, counts, begs, ends, w0, width, linear, summary)


def _check_linear_floor(name, numbers, counts, begs, w0, linear):
    """A chunk begins at an alignment A of the bin (or of a child bin moved into it), at or after
    the window w0. Every window two or more before A's own holds only alignments before A (those
    after A start at A's position or later; htsjdk counts an unmapped read from the window before
    its position), and a filled window copies a neighbour (or is 0, or the contig's first
    offset): so linear[w0 - 2] <= beg.
    (htslib's index keeps linear[w0] <= beg; htsjdk's may not, for an unmapped read on a window's
    first base.)"""
    chunk_w0 = np.repeat(w0, counts)
    has_floor = (chunk_w0 >= 2) & (chunk_w0 - 2 < linear.size)
    floor = np.zeros_like(begs)
    floor[has_floor] = linear[chunk_w0[has_floor] - 2]
    early = begs < floor
    if early.any():
        bin_number = np.repeat(numbers, counts)[early][0]
        raise _Damaged(
            f"has bin {bin_number} of {name} begin before its linear index says reads there begin"
        )


def _check_order(name, numbers, counts, begs, ends, w0, width):
    """Bins whose regions do not overlap hold alignments in the file's coordinate order: every
    alignment of a bin (its children's included) starts inside the bin's region, so all those of
    a bin lie before all those of a bin to its right, and a chunk ends at the alignment after its
    run: the last chunk end of a bin is at most the first chunk beg of any bin to its right."""
    held = counts > 0
    if held.sum() < 2:
        return
    starts = np.repeat(np.arange(counts.size), counts)
    first_beg = np.full(counts.size, np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(first_beg, starts, begs)
    last_end = np.zeros(counts.size, dtype=np.uint64)
    np.maximum.at(last_end, starts, ends)
    w0, width = w0[held], width[held]
    first_beg, last_end, numbers = first_beg[held], last_end[held], numbers[held]
    order = np.argsort(w0, kind="stable")
    sorted_w0 = w0[order]
    suffix_min = np.minimum.accumulate(first_beg[order][::-1])[::-1]
    suffix_min = np.append(suffix_min, np.iinfo(np.uint64).max)
    right = np.searchsorted(sorted_w0, w0 + width, side="left")
    late = last_end > suffix_min[right]
    if late.any():
        raise _Damaged(
            f"has bin {numbers[late][0]} of {name} hold reads that the file holds "
            "after those of a bin to its right"
        )


def _check_windows_held(name, numbers, counts, begs, ends, w0, width, linear, summary):
    """A window that an alignment overlapped holds the offset of the first one, which lies inside
    a chunk of its bin, and the bin covers the window (htsjdk: the window or the next, for an
    unmapped read on a window's first base). A window no alignment overlapped is filled with its
    previous window's value (htsjdk, htslib before 1.12), its next one's (htslib since), the
    contig's first offset (leading windows, htslib before 1.12) or 0 (leading windows, htsjdk):
    any other value must be held so."""
    n_intv = linear.size
    if not n_intv:
        return
    # the last window: htslib's is an alignment's last window; htsjdk's may be the window before
    # a zero-length alignment on a window's first base, whose bin covers both
    last = np.int64(n_intv - 1)
    if not ((w0 <= last + 1) & (w0 + width > last)).any():
        raise _Damaged(
            f"says reads of {name} reach {name}:{(int(last) << 14) + 1}-"
            f"{int(last + 1) << 14}, where none of its bins lies"
        )
    filled = linear == 0
    if summary is not None:
        filled |= linear == summary[0]
    filled[1:] |= linear[1:] == linear[:-1]
    filled[:-1] |= linear[:-1] == linear[1:]
    windows = np.flatnonzero(~filled).astype(np.int64)
    if not windows.size:
        return
    values = linear[windows]
    # chunks sorted by (bin, beg), checked above to be in order within a bin; a chunk holds x
    # when the last chunk of the bin beginning at or before x ends after it
    key_begs = np.sort(begs)
    rank = np.searchsorted(key_begs, begs, side="right").astype(np.int64)
    scale = np.int64(begs.size + 1)
    chunk_bin = np.repeat(numbers, counts)
    chunk_key = chunk_bin * scale + rank
    order = np.argsort(chunk_key, kind="stable")
    chunk_key, chunk_end = chunk_key[order], ends[order]
    value_rank = np.searchsorted(key_begs, values, side="right").astype(np.int64)
    held = np.zeros(windows.size, dtype=bool)
    for window in (windows, windows + 1):
        for level in range(6):
            candidate = _LEVEL_FIRST[level] + (window >> (3 * (5 - level)))
            at = np.searchsorted(chunk_key, candidate * scale + value_rank, side="right") - 1
            ok = at >= 0
            at = np.maximum(at, 0)
            ok &= chunk_key[at] // scale == candidate
            ok &= chunk_end[at] > values
            held |= ok
    if not held.all():
        window = int(windows[~held][0])
        raise _Damaged(
            f"says reads of {name} overlap {name}:{(window << 14) + 1}-"
            f"{(window + 1) << 14}, where none of its bins holds them"
        )


def _bam_names(bam_path: str) -> tuple[str, ...] | None:
    """The contig names of a BAM's header, read without htslib (which would load the index);
    None when it is no readable BAM (pysam then says what is wrong)."""
    try:
        with gzip.open(bam_path, "rb") as handle:
            magic, text_length = struct.unpack("<4si", handle.read(8))
            if magic != b"BAM\1" or text_length < 0:
                return None
            handle.seek(8 + text_length)
            (count,) = struct.unpack("<i", handle.read(4))
            names = []
            for _ in range(count):
                (length,) = struct.unpack("<i", handle.read(4))
                names.append(handle.read(length + 4)[: length - 1].decode(errors="replace"))
            return tuple(names)
    except (OSError, EOFError, struct.error, zlib.error, ValueError):
        return None


def bai_problem(
    index_path: str, bam_path: str | None, names: tuple[str, ...] | None = None
) -> str | None:
    """Why the BAI at ``index_path`` cannot be one htslib or htsjdk wrote for a coordinate-sorted
    BAM, or None. ``bam_path``, when local, bounds its offsets and, without ``names``, gives the
    contig names (read from its header, so this can run before htslib loads the index: a negative
    chunk count crashes it). Not a BAI (a CSI has another layout), unreadable, or of another
    contig count (index_checks says it belongs to another file): None."""
    try:
        with open(index_path, "rb") as handle:
            data = handle.read()
        file_size = os.path.getsize(bam_path) if bam_path else None
    except OSError:
        return None
    if data[:4] != b"BAI\1" or len(data) < 8:
        return None
    if names is None:
        names = _bam_names(bam_path) if bam_path else None
        if names is None:
            return None
    (n_ref,) = struct.unpack_from("<i", data, 4)
    if n_ref != len(names):
        return None
    words: dict[int, np.ndarray] = {}
    at = 8
    try:
        for tid in range(n_ref):
            if data[at : at + 8] == bytes(8):  # no bins, no linear index: a contig without reads
                at += 8
                continue
            *parts, at = _read_reference(data, at, words)
            _check_reference(names[tid], *parts, file_size)
    except (struct.error, ValueError):
        # both write every count in full; htslib loads a BAI cut short as no index, and crashes
        # on a negative count
        return f"its index {index_path} is cut short or garbled: {_REBUILD}"
    except _Damaged as damage:
        return f"its index {index_path} {damage}"
    return None

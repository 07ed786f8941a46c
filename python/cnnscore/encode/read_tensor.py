"""The 2D ``read_tensor``: GATK's read pileup encoding, quirks included.

Each step follows GATK's Python encoder (docs/GATK_BEHAVIOUR.md, "The 2D read tensor"): a
pileup-wide insertion map keyed in read-cursor units, rows sorted by unclipped start then by a
"sort character", each read truncated to the window *before* it is shifted, pads applied from the
highest key down (so several indels in one read land where GATK puts them, not where they belong),
p-hot base qualities, flags over the half-open range [first, last) of filled columns, and reference
channels on every row. The strings are built exactly as GATK builds them; only filling the tensor
is vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .reads import CIGAR_D, CIGAR_I, CIGAR_LETTERS, CIGAR_M, ReadData
from .reference_tensor import BASE_VECTORS, KNOWN_BASES

SKIP = ord("~")  # column not covered by the read
PAD = ord("*")  # insertion padding or deleted base
#: CIGAR operations that move GATK's read cursor; N, H, P, = and X do not (a GATK quirk).
_CURSOR_OPS = frozenset((0, 1, 2, 4))

# channels_last layout of the 15-channel read tensor
READ_BASE_CHANNELS = slice(0, 4)
READ_PAD_CHANNEL = 4
REFERENCE_CHANNEL_OFFSET = 5
# the read-flag channels (reverse, mate reverse, first of pair, not first) and mapping quality
FLAG_CHANNELS_START, MAPPING_QUALITY_CHANNEL = 10, 14
READ_TENSOR_CHANNELS = 15
MAPPING_QUALITY_MAX = 60.0

#: p-hot: the called base gets p = 1 - 10^(-q/10); each other base gets (1 - p) / 3. Computed with
#: Python floats, as GATK's lookup table is: the same doubles before the float32 cast.
P_CALLED = np.array([1.0 - 10.0 ** (float(-q) / 10.0) for q in range(256)], dtype=np.float64)
P_OTHER = np.array([(1.0 - p) / 3.0 for p in P_CALLED.tolist()], dtype=np.float64)

_BASE_INDEX = np.full(256, -1, dtype=np.int64)
for _i, _b in enumerate(b"ACGT"):
    _BASE_INDEX[_b] = _i
_REFERENCE_INDEX = _BASE_INDEX.copy()
_REFERENCE_INDEX[PAD] = 4


class ReadSymbolError(ValueError):
    """A read's SEQ holds a symbol the encoding has no channel for (``=``, BAM's "same as the
    reference"): a fault of the reads file, which the caller names (GATK fails here too)."""


def insertion_map(reads: Sequence[ReadData], window_start: int, window: int) -> dict[int, int]:
    """Longest insertion per key ``cursor - d`` over reads with |d| < window, d=wstart-ustart."""
    inserts: dict[int, int] = {}
    for read in reads:
        offset = window_start - read.unclipped_start
        if abs(offset) >= window or not any(op == CIGAR_I for op, _ in read.cigar):
            continue
        cursor = 0
        for op, length in read.cigar:
            if op == CIGAR_I:
                key = cursor - offset
                if length > inserts.get(key, 0):
                    inserts[key] = length
            if op in _CURSOR_OPS:
                cursor += length
    return inserts


def sort_character(read: ReadData, pos: int, type_label: str) -> str:
    """The character GATK sorts rows by: the read base at the variant, or a CIGAR letter."""
    if not read.seq:
        return "Z"
    last = len(read.seq) - 1
    if type_label == "SNP":
        return chr(read.seq[min(max(pos - read.unclipped_start, 0), last)])
    target = pos - read.unclipped_start + 1
    total = 0
    for op, length in read.cigar:
        total += length
        if total > target:
            if op == CIGAR_M:
                return chr(read.seq[min(max(target, 0), last)])
            return CIGAR_LETTERS[op]
    return "Y"


def sorted_reads(reads: Sequence[ReadData], pos: int, type_label: str) -> list[ReadData]:
    """Stable sort by unclipped start, then stable sort by the sort character."""
    by_start = sorted(reads, key=lambda read: read.unclipped_start)
    return sorted(by_start, key=lambda read: sort_character(read, pos, type_label))


def aligned_read(
    read: ReadData, window_start: int, inserts: dict[int, int], window: int
) -> tuple[bytes, np.ndarray]:
    """The read's row string and qualities before encoding, built as GATK builds them."""
    offset = window_start - read.unclipped_start
    own: dict[int, int] = {}
    cursor = 0
    for op, length in read.cigar:
        key = cursor - offset
        if op == CIGAR_I and key in inserts:
            own[key] = inserts[key] - length
        elif op == CIGAR_D:
            own[key] = length
        if op in _CURSOR_OPS:
            cursor += length
    for key, length in inserts.items():
        own.setdefault(key, length)

    seq = read.seq[:window]
    qual = read.qual[:window]
    if offset > 0:
        seq, qual = seq[offset:], qual[offset:]
    elif offset < 0:
        seq = bytes([SKIP]) * -offset + seq
        qual = np.concatenate([np.zeros(-offset, dtype=np.uint8), qual])

    for key in sorted(own, reverse=True):
        n = own[key]
        if n <= 0:
            continue
        pad, zeros = bytes([PAD]) * n, np.zeros(n, dtype=np.uint8)
        if key < 1:
            seq, qual = pad + seq, np.concatenate([zeros, qual])
        else:
            seq = seq[:key] + pad + seq[key:]
            qual = np.concatenate([qual[:key], zeros, qual[key:]])
    return seq, qual


def reference_row(reference_window: bytes, inserts: dict[int, int], window: int) -> bytes:
    """The reference string with the pileup-wide insertion pads, cut to the window."""
    text = reference_window
    for key in sorted(inserts, reverse=True):
        pad = bytes([PAD]) * inserts[key]
        text = pad + text if key < 0 else text[:key] + pad + text[key:]
    return text[:window]


def read_tensor(
    reads: Sequence[ReadData],
    pos: int,
    type_label: str,
    reference_window: bytes,
    window: int = 128,
    read_limit: int = 128,
    *,
    compact: bool = False,
    heights: Sequence[int] = (),
) -> np.ndarray:
    """(read_limit, window, 15) float32 tensor for one variant (channels_last).

    Every row after the last read is the same (reference channels only). ``compact=True`` stops
    after the first of them, or at the first of ``heights`` that holds it (:func:`stored_height`),
    and :func:`rows_at_height` restores any height by repeating the last row. At 30-50x that is a
    third of the work and of the bytes sent from the encoder process."""
    window_start = pos - window // 2
    inserts = insertion_map(reads, window_start, window)
    rows = sorted_reads(reads, pos, type_label)[:read_limit]
    height = stored_height(len(rows), read_limit, heights) if compact else read_limit

    chars = np.full((height, window), SKIP, dtype=np.uint8)
    quals = np.zeros((height, window), dtype=np.uint8)
    flags = np.zeros((height, 5), dtype=np.float32)
    spans = np.zeros((height, 2), dtype=np.int64)
    for row, read in enumerate(rows):
        seq, qual = aligned_read(read, window_start, inserts, window)
        seq, qual = seq[:window], qual[:window]
        chars[row, : len(seq)] = np.frombuffer(seq, dtype=np.uint8)
        quals[row, : len(qual)] = qual
        filled = np.flatnonzero(chars[row] != SKIP)
        if filled.size >= 2:  # GATK's [first, last) range; empty with one filled column
            spans[row] = filled[0], filled[-1]
        flags[row] = (
            read.reverse,
            read.mate_reverse,
            read.first,
            not read.first,
            read.mapping_quality / MAPPING_QUALITY_MAX,
        )

    tensor = np.zeros((height, window, READ_TENSOR_CHANNELS), dtype=np.float32)
    _fill_read_channels(tensor, chars, quals)
    columns = np.arange(window)
    in_span = (columns >= spans[:, :1]) & (columns < spans[:, 1:])
    tensor[:, :, FLAG_CHANNELS_START : MAPPING_QUALITY_CHANNEL + 1] = np.where(
        in_span[:, :, None], flags[:, None, :], np.float32(0)
    )
    _fill_reference_channels(tensor, reference_row(reference_window, inserts, window))
    return tensor


def stored_height(reads: int, read_limit: int, heights: Sequence[int] = ()) -> int:
    """The rows a compact tensor of ``reads`` reads is stored with: its reads and one empty row
    standing for every row after them, or more empty rows, up to the smallest of ``heights`` that
    holds those (the heights inference takes tensors at, scoring.inference.in_place_heights: a
    tensor stored at its model's height is read where it lies, not copied per request)."""
    height = min(reads + 1, read_limit)
    return min((h for h in heights if height <= h <= read_limit), default=height)


def rows_at_height(tensors: np.ndarray, height: int) -> np.ndarray:
    """Compact 2D tensors (axis 1 = rows, the last row standing for every row after it) cut or
    extended to ``height`` rows."""
    if tensors.shape[1] >= height:
        return tensors[:, :height]
    extra = np.repeat(tensors[:, -1:], height - tensors.shape[1], axis=1)
    return np.concatenate([tensors, extra], axis=1)


def _fill_read_channels(tensor: np.ndarray, chars: np.ndarray, quals: np.ndarray) -> None:
    base = _BASE_INDEX[chars]
    is_base = base >= 0
    is_pad = chars == PAD
    is_ambiguous = KNOWN_BASES[chars] & ~is_base
    unknown = ~(is_base | is_pad | is_ambiguous | (chars == SKIP))
    if unknown.any():
        raise ReadSymbolError(f"unknown symbol {chr(chars[unknown][0])!r} in a read sequence")
    other = P_OTHER[quals].astype(np.float32)
    called = P_CALLED[quals].astype(np.float32)
    read_bases = np.where(is_base[..., None], other[..., None], np.float32(0)).repeat(4, axis=-1)
    rows, cols = np.nonzero(is_base)
    read_bases[rows, cols, base[rows, cols]] = called[rows, cols]
    read_bases[is_ambiguous] = BASE_VECTORS[chars[is_ambiguous]]
    tensor[..., READ_BASE_CHANNELS] = read_bases
    tensor[..., READ_PAD_CHANNEL] = is_pad


def _fill_reference_channels(tensor: np.ndarray, reference: bytes) -> None:
    codes = np.frombuffer(reference, dtype=np.uint8)
    columns = np.arange(len(codes))
    index = _REFERENCE_INDEX[codes]
    exact = index >= 0
    tensor[:, columns[exact], REFERENCE_CHANNEL_OFFSET + index[exact]] = 1.0
    ambiguous = KNOWN_BASES[codes] & ~exact
    if ambiguous.any():
        tensor[:, columns[ambiguous], REFERENCE_CHANNEL_OFFSET : REFERENCE_CHANNEL_OFFSET + 4] = (
            BASE_VECTORS[codes[ambiguous]]
        )

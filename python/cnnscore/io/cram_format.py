"""CRAM 3's own bytes, read without htslib: its ITF8 and LTF8 integers, where a container's data
begins, and the lines of a .crai.

htslib exposes none of these, and cnnscore reads them only to check or explain what htslib will
do with a file (:mod:`.crai_check`, :mod:`.cram_reference`, :mod:`.index_checks`).
"""

from __future__ import annotations

import gzip
import struct


def is_cram3(cram) -> bool:
    """Whether the open file is CRAM 3.x, whose container and slice headers these readers know
    (its file definition: ``CRAM``, then the major version)."""
    cram.seek(0)
    return cram.read(5)[4:] == b"\x03"


def crai_lines(index_path: str) -> list[list[bytes]] | None:
    """The tab-separated fields of each non-blank line of a .crai (gzip-compressed text: contig,
    start, span, container offset, slice offset, slice size), or None when it cannot be read as
    gzip. Fields stay bytes: each reader converts the ones it uses, and says what a bad one
    means for it."""
    try:
        with gzip.open(index_path, "rb") as handle:
            return [line.split(b"\t") for line in handle.read().splitlines() if line.strip()]
    except (OSError, EOFError):
        return None


def container_data(cram, container: int) -> tuple[int, int]:
    """(where its data begins, its data's length) for the CRAM 3 container at byte
    ``container``: past its header (length, reference, start, span, records, record counter,
    bases, blocks, landmarks) and the header's CRC32. A header longer than 512 bytes (hundreds
    of slices) or cut short raises IndexError."""
    cram.seek(container)
    head = cram.read(512)
    (length,) = struct.unpack_from("<i", head)
    at = 4
    for reader in (itf8, itf8, itf8, itf8, ltf8, ltf8, itf8):
        _, at = reader(head, at)
    count, at = itf8(head, at)
    for _ in range(count):  # landmarks
        _, at = itf8(head, at)
    return container + at + 4, length


def itf8(data: bytes, at: int) -> tuple[int, int]:
    """CRAM's ITF8 integer at ``at`` of ``data``: (value as unsigned, the offset after it)."""
    first = data[at]
    extra = next((n for n, top in enumerate((0x80, 0xC0, 0xE0, 0xF0)) if first < top), 4)
    if extra == 4:
        value = (first & 0x0F) << 28 | int.from_bytes(data[at + 1 : at + 4], "big") << 4
        return value | data[at + 4] & 0x0F, at + 5
    value = first & (0xFF >> (extra + 1))
    return value << 8 * extra | int.from_bytes(data[at + 1 : at + 1 + extra], "big"), at + 1 + extra


def ltf8(data: bytes, at: int) -> tuple[int, int]:
    """CRAM's LTF8 integer at ``at``: (value, the offset after it)."""
    first, extra = data[at], 0
    while extra < 8 and first & (0x80 >> extra):
        extra += 1
    value = first & (0xFF >> (extra + 1)) if extra < 8 else 0
    return value << 8 * extra | int.from_bytes(data[at + 1 : at + 1 + extra], "big"), at + 1 + extra

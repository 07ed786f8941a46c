"""The CRAM inputs of the fuzz battery (tests/fuzz_battery.py): the cut BAM's reads written as a
CRAM 3.0 against the battery's reference, which is needed to decode it (no reference embedded, as
users' CRAMs are), its .crai, and the same CRAM with no ``M5`` in its ``@SQ`` line.

Cases: byte flips and truncation of the CRAM; the .crai's raw bytes, or its decompressed lines
dropped, repeated, swapped or with a number changed (recompressed); and ``other-reference``, a
sound CRAM read with a reference that differs from the one it was written against in a few bases
(inside the reads' span, where each slice's reference MD5 covers them, or far outside it, where
only the header's ``M5`` does), with or without that ``M5``. A CRAM decoded against other bases
gives other reads, so such a case may only end ``same`` (the reads and every reference window
scored are unchanged) or rejected by a line that says it was written against another reference
(the @SQ M5, or without it a slice's reference MD5, tells it): any other output is silently
different.
"""

from __future__ import annotations

import gzip
import os
import random
import struct
import zlib
from pathlib import Path

CRAM_TARGETS = ("reads.cram", "reads.cram.crai", "other-reference")
#: the header's UR: where the reference was on the machine that wrote the CRAM (not here)
_UR = "file:///data/references/ref.fa.gz"


def build_cram(folder: Path, contig: str) -> None:
    """reads.cram (+ .crai) and reads.nom5.cram (+ .crai) from ``folder``'s reads.bam, written
    against its ref.fa.gz. The header keeps only ``contig`` (the reference holds no other, and an
    @SQ that htslib cannot hash makes it embed a reference); a mate on another contig loses its
    position (RNEXT '*'), which nothing the 2D tensor reads depends on."""
    import pysam

    cram, nom5 = str(folder / "reads.cram"), str(folder / "reads.nom5.cram")
    with pysam.AlignmentFile(str(folder / "reads.bam")) as bam:
        layout = bam.header.to_dict()
        layout["SQ"] = [dict(sq, UR=_UR) for sq in layout["SQ"] if sq["SN"] == contig]
        header = pysam.AlignmentHeader.from_dict(layout)
        options = [b"version=3.0", b"seqs_per_slice=300", b"embed_ref=0"]
        with pysam.AlignmentFile(cram, "wc", header=header, format_options=options,
                                 reference_filename=str(folder / "ref.fa.gz")) as sink:  # fmt: skip
            for read in bam:
                fields = read.to_dict()
                if fields["next_ref_name"] not in ("=", "*", contig):
                    fields["next_ref_name"], fields["next_ref_pos"] = "*", "0"
                sink.write(pysam.AlignedSegment.from_dict(fields, header))
    pysam.index(cram)
    with pysam.AlignmentFile(cram, reference_filename=str(folder / "ref.fa.gz")) as written:
        sq = written.header.to_dict()["SQ"]
        text = str(written.header)
    if not all(line.get("M5") for line in sq):
        raise RuntimeError("the battery's CRAM has no M5: htslib embedded its reference")
    (folder / "reads.nom5.cram").write_bytes((folder / "reads.cram").read_bytes())
    header_lines = [f"{line}\n" for line in text.splitlines() if line.startswith("@")]
    (folder / "nom5.sam").write_text("".join(header_lines).replace(f"\tM5:{sq[0]['M5']}", ""))
    pysam.samtools.reheader("-i", str(folder / "nom5.sam"), nom5)  # in place: same offsets
    (folder / "nom5.sam").unlink()
    (folder / "reads.nom5.cram.crai").write_bytes((folder / "reads.cram.crai").read_bytes())


def mutate_crai(data: bytes, rng: random.Random):
    """The .crai's decompressed lines, one dropped, repeated, swapped with another or with a
    number changed, gzipped again; returns (bytes, how, line, detail)."""
    text = gzip.decompress(data)
    lines = text.splitlines(keepends=True)
    index = rng.randrange(len(lines))
    how = rng.choice(["drop_line", "dup_line", "swap_lines", "number", "number"])
    if how == "drop_line":
        lines[index : index + 1] = []
    elif how == "swap_lines":
        other = rng.randrange(len(lines))
        lines[index], lines[other] = lines[other], lines[index]
    elif how == "dup_line":
        lines.insert(index, lines[index])
    else:
        fields = lines[index].rstrip(b"\n").split(b"\t")
        column = rng.randrange(len(fields))
        old = int(fields[column])
        new = rng.choice([0, -1, old + 1, old - 1, old + rng.randrange(1, 5000), old * 2, 2**31])
        fields[column] = str(new).encode()
        lines[index] = b"\t".join(fields) + b"\n"
        return gzip.compress(b"".join(lines)), f"text:{how}", index, f"column {column}: {new}"
    return gzip.compress(b"".join(lines)), f"text:{how}", index, ""


def other_reference(base: Path, folder: Path, rng: random.Random, span: tuple[int, int]) -> str:
    """Lay out ``folder`` with a reference differing from base's in a few bases (within the
    reads' ``span`` or far from it) and, half the time, the CRAM without M5; returns the detail."""
    fai = (base / "ref.fa.gz.fai").read_text().split("\t")
    offset, line_bases, line_width = (int(x) for x in fai[2:5])
    inside = rng.random() < 0.6
    if inside:
        positions = sorted(rng.randrange(*span) for _ in range(rng.choice([1, 1, 3])))
    else:  # known bases beyond the reads, or an N far from them
        positions = [rng.choice([span[1] + 20_000 + rng.randrange(100_000),
                                 rng.randrange(1_000_000, 9_000_000)])]  # fmt: skip
    data = bytearray((base / "ref.fa.gz").read_bytes())
    gzi = _read_gzi(base / "ref.fa.gz.gzi")
    changed = []
    for position in positions:
        at = offset + position // line_bases * line_width + position % line_bases
        data, gzi, was, now = _change_base(data, gzi, at, rng)
        changed.append(f"{position + 1}:{was}>{now}")
    for name in ("ref.fa.gz", "ref.fa.gz.gzi"):
        (folder / name).unlink()
    (folder / "ref.fa.gz").write_bytes(bytes(data))
    _write_gzi(folder / "ref.fa.gz.gzi", gzi)
    m5 = rng.random() < 0.5
    if not m5:
        for suffix in ("", ".crai"):
            (folder / f"reads.cram{suffix}").unlink()
            os.link(base / f"reads.nom5.cram{suffix}", folder / f"reads.cram{suffix}")
    return f"{'inside' if inside else 'outside'} the reads, {'with' if m5 else 'no'} M5: {changed}"


def _read_gzi(path: Path) -> list[tuple[int, int]]:
    raw = path.read_bytes()
    (count,) = struct.unpack_from("<Q", raw)
    return [struct.unpack_from("<QQ", raw, 8 + 16 * i) for i in range(count)]


def _write_gzi(path: Path, entries: list[tuple[int, int]]) -> None:
    path.write_bytes(struct.pack("<Q", len(entries)) + b"".join(struct.pack("<QQ", *e)
                                                                for e in entries))  # fmt: skip


def _change_base(data: bytearray, gzi: list[tuple[int, int]], at: int, rng: random.Random):
    """Another base at uncompressed offset ``at`` of the bgzip FASTA ``data``: its one BGZF block
    recompressed, the .gzi's later compressed offsets moved by the change in size."""
    block_start, plain_start = max(((c, u) for c, u in [(0, 0), *gzi] if u <= at))
    size = struct.unpack_from("<H", data, block_start + 16)[0] + 1
    plain = bytearray(zlib.decompress(bytes(data[block_start + 18 : block_start + size - 8]), -15))
    was = chr(plain[at - plain_start])
    now = rng.choice([b for b in "ACGT" if b != was.upper()])
    plain[at - plain_start] = ord(now)
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflated = packer.compress(bytes(plain)) + packer.flush()
    block = (b"\x1f\x8b\x08\x04\0\0\0\0\0\xff\x06\0BC\x02\0"
             + struct.pack("<H", len(deflated) + 25) + deflated
             + struct.pack("<II", zlib.crc32(plain), len(plain)))  # fmt: skip
    delta = len(block) - size
    data[block_start : block_start + size] = block
    moved = [(c + delta if c > block_start else c, u) for c, u in gzi]
    return data, moved, was, now

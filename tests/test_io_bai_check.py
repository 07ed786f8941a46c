"""A damaged BAI that htslib trusts (io/bai_check.py).

A flipped bit in a bin number of the fuzz battery's ``reads.bam.bai`` (its byte 212) filed the
region's reads under another bin: every query found none, the scores moved and the run ended with
exit 0 (``tests/fuzz_battery.py --cases 1500 --seed 6262``). Such an index is now refused with one
line, and indexes that htslib and htsjdk write for good BAMs of awkward shapes still pass: the
rules may not be stricter than either writer's.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from pathlib import Path

import pysam
import pytest

from cnnscore.errors import InputError
from cnnscore.io.bai_check import bai_problem
from cnnscore.io.index_checks import check_reads_index_kind
from conftest import HG002, SMOKE, SMOKE_BAM, SMOKE_REF, SMOKE_VCF, run_cli

ERROR_PREFIX = "cnnscore: error: "
DAMAGED = "the index is damaged"
#: the fuzz battery's reads (tests/fuzz_battery.py REGION) and the byte the fuzz flipped
REGION = ("chr20", 9_999_000, 10_004_000)
BIN_BYTE = 212
W = 16384


@pytest.fixture(scope="module")
def battery(tmp_path_factory) -> Path:
    """The battery's ``reads.bam`` and its ``.bai``, cut from the smoke BAM the same way."""
    bam = tmp_path_factory.mktemp("battery") / "reads.bam"
    with (
        pysam.AlignmentFile(str(SMOKE_BAM)) as source,
        pysam.AlignmentFile(str(bam), "wb", header=source.header) as sink,
    ):
        for read in source.fetch(*REGION):
            sink.write(read)
    pysam.index(str(bam))
    return bam


def damaged_copy(battery: Path, folder: Path, at: int, mask: int) -> Path:
    """A copy of the battery's BAM beside its BAI with the byte ``at`` xor ``mask``."""
    bam = folder / "reads.bam"
    bam.write_bytes(battery.read_bytes())
    data = bytearray(Path(f"{battery}.bai").read_bytes())
    data[at] ^= mask
    Path(f"{bam}.bai").write_bytes(bytes(data))
    return bam


def problem_of(bam: Path) -> str | None:
    """The refusal of the reads file's index before htslib loads it, or None."""
    try:
        check_reads_index_kind(str(bam))
    except InputError as refusal:
        return str(refusal)
    return None


@pytest.mark.parametrize("bit", range(8))
def test_a_flipped_bin_number_is_refused(battery, tmp_path, bit):
    """Each flip of the byte the fuzz found moves chr20's only bin (5291, the 16 kb window of
    every read) to one that covers no read's window: 7 of the 8 went unnoticed and emptied every
    pileup."""
    data = Path(f"{battery}.bai").read_bytes()
    assert struct.unpack_from("<I", data, BIN_BYTE)[0] == 5291  # the battery's layout
    problem = problem_of(damaged_copy(battery, tmp_path, BIN_BYTE, 1 << bit))
    assert problem and DAMAGED in problem and "chr20" in problem, problem


def test_a_flipped_bin_number_is_refused_by_the_cli(battery, tmp_path):
    """Through ``cnnscore score``: one line naming the BAM and its index, exit 1, no output."""
    bam = damaged_copy(battery, tmp_path, BIN_BYTE, 1)
    output = tmp_path / "out" / "scored.vcf.gz"
    output.parent.mkdir()
    result = run_cli(
        "score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", bam, "--tensor-type", "read_tensor",
        "-L", "chr20:10000000-10001000", "-O", output,
    )  # fmt: skip
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1, result.stderr
    assert f"{bam}: its index {bam}.bai says reads of chr20" in errors[0], errors[0]
    assert DAMAGED in errors[0] and "samtools index" in errors[0], errors[0]
    assert not any(output.parent.iterdir())


def linear_entry(bam: Path, window: int) -> int:
    """Where chr20's linear index entry for ``window`` lies in the battery's BAI (the contigs
    before chr20 hold nothing: 8 bytes each)."""
    data = Path(f"{bam}.bai").read_bytes()
    with pysam.AlignmentFile(str(bam)) as reads:
        before = reads.references.index("chr20")
    at = 8 + 8 * before
    assert data[8:at] == bytes(at - 8)
    for _ in range(struct.unpack_from("<i", data, at)[0]):
        at += 8 + 16 * struct.unpack_from("<i", data, at + 8)[0]
    return at + 8 + 8 * window


@pytest.mark.parametrize(
    "window, byte, mask, says",
    [(300, 2, 0x01, "where none of its bins holds them"),  # an empty window's entry changed
     (610, 6, 0x40, "points past the end of the BAM file")],  # the reads' window, far away
)  # fmt: skip
def test_a_damaged_linear_index_is_refused(battery, tmp_path, window, byte, mask, says):
    """A linear index entry that htslib would start a query at: a window no read overlaps that
    no longer copies its neighbours, or an offset beyond the file."""
    bam = damaged_copy(battery, tmp_path, linear_entry(battery, window) + byte, mask)
    problem = problem_of(bam)
    assert problem and f"its index {bam}.bai" in problem and says in problem, problem


@pytest.mark.parametrize(
    "at, mask, says",
    [(BIN_BYTE + 20, 0x02, "do not span the file offsets its summary bin"),  # a chunk cut short
     (BIN_BYTE + 7, 0x80, "is cut short or garbled")],  # a negative chunk count: htslib crashed
)  # fmt: skip
def test_a_damaged_chunk_is_refused(battery, tmp_path, at, mask, says):
    """chr20's one chunk ending early (its reads after that offset went unread, silently), and
    its chunk count made negative (htslib crashed as it loaded the index: exit 139, no word)."""
    bam = damaged_copy(battery, tmp_path, at, mask)
    problem = problem_of(bam)
    assert problem and f"its index {bam}.bai" in problem and says in problem, problem


def varied_bam(path: Path, seed: int = 7) -> Path:
    """A coordinate-sorted BAM of awkward shapes: several contigs (one empty), a dense stretch
    (htslib keeps its 16 kb bins) and sparse reads (merged into parent bins), reads across many
    windows, on window boundaries and at contig ends, unmapped reads placed on boundaries after
    gaps, an insertion-only read, and unplaced reads."""
    rng = random.Random(seed)
    lengths = {"a": 1_000_000, "empty": 5_000, "b": 50 * W, "c": W + 1}
    header = {"HD": {"VN": "1.6", "SO": "coordinate"},
              "SQ": [{"SN": name, "LN": n} for name, n in lengths.items()]}  # fmt: skip
    reads = []  # (tid, pos, flag, cigar)
    for _ in range(20_000):  # dense: about 100x over 20 kb
        reads.append((0, rng.randrange(200_000, 220_000), 0, [(0, 100)]))
    for _ in range(300):
        reads.append((0, rng.randrange(1_000_000 - 100), 16, [(0, 100)]))
    for k in (1, 3, 17, 40, 60):
        reads.append((0, k * W, 4 | 1 | 8, None))  # unmapped, placed where its mate is
        reads.append((0, k * W, 1 | 32, [(0, 100)]))
        reads.append((0, k * W - 1, 0, [(0, 2)]))
    reads += [(0, 5 * W + 7, 0, [(0, 30), (3, 40 * W), (0, 30)]), (0, 0, 0, [(0, 50)]),
              (0, 1_000_000 - 50, 0, [(0, 50)]), (0, 9 * W, 0, [(1, 5)])]  # fmt: skip
    reads += [(2, 2 * W, 0, [(0, 50)]), (2, 30 * W, 0, [(0, 20), (2, 3 * W), (0, 20)]),
              (2, 49 * W, 4, None), (3, W, 0, [(0, 1)]), (3, 0, 4, None)]  # fmt: skip
    reads.sort(key=lambda read: (read[0], read[1]))
    reads += [(-1, -1, 4, None)] * 3
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for number, (tid, pos, flag, cigar) in enumerate(reads):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.flag = f"r{number}", flag
            read.reference_id, read.reference_start = tid, pos
            length = sum(n for op, n in cigar if op in (0, 1)) if cigar else 50
            read.query_sequence = "".join(rng.choice("ACGT") for _ in range(length))
            read.query_qualities = pysam.qualitystring_to_array("I" * length)
            if cigar:
                read.cigartuples, read.mapping_quality = cigar, 60
            out.write(read)
    return path


def test_htslib_bais_of_varied_shapes_pass(tmp_path):
    """``samtools index`` (pysam.index) and an index written while sorting
    (``samtools sort --write-index``) of the varied BAM: both pass."""
    bam = varied_bam(tmp_path / "varied.bam")
    pysam.index(str(bam))
    sorted_bam = tmp_path / "sorted.bam"
    pysam.sort("--write-index", "-o", f"{sorted_bam}##idx##{sorted_bam}.bai", str(bam))
    names = ("a", "empty", "b", "c")
    assert bai_problem(f"{bam}.bai", str(bam), names) is None
    assert bai_problem(f"{sorted_bam}.bai", str(sorted_bam), names) is None
    assert problem_of(bam) is None and problem_of(sorted_bam) is None


#: a small BAM (written uncompressed) and the BAIs that htsjdk 3.0.4's BAMIndexer (what Picard
#: BuildBamIndex and GATK run) and htslib 1.9's sam_index_build wrote for it, zlib + base64. Its
#: reads: an unmapped read placed on a window's first base after a gap and sorted before its
#: mate, a read across six windows, an insertion-only read on a window's first base, an unmapped
#: read placed after the contig's last mapped read, an empty contig. htsjdk counts that unmapped
#: read from the window before; htslib before 1.15 leaves unmapped reads out of the linear index:
#: each breaks a stricter form of a rule (w0 < n_intv, a chunk at or after linear[w0], ...).
OTHER_WRITERS = (
    "eNrFVE1LG0EYfmZnlWxAqFGhIGiPntpkY/wIOSRpLVnRbXSlF0+xevDgB0GEHlKqJ0FP9g+0p15KT/4A6e/owbt/"
    "QYjz9cpm3ASDKX2X5d155v14ZuaZnT5PuZDWHkb1rYPvYKdotauVVbYh0HLtnfcxLOZez3nRh+Kng4Pm9u5+42gn"
    "XY7WvCgsNryVsJjPSiNoZ+/w6LOECzFwSwK+juOiriPeBm6+uRgWXyoFZ2Ma30J5hMN7X5k4FaNpi6Dnsls+fteE"
    "tm3x8lKQYcL7MsqYnGtm8Uo0y9SSn9GZvs03XVFm4AgzwAjSdtccrOon8axSKLg2ULKzfFz34KqfmWfYT8MhrUgE"
    "kKdQt0nk8VWcAMdL5XuTGQytJNt42C9HUF1XZztlU53FDbMpjj6t7h8hO17aTK5b6L9u0wgavbQ4N2gtvqGu17Lr"
    "iuo6ZHedxxpk1xcqZekhRWqgrlLG7ZQFKVP0Pl2fCgmZcETiHriP78GifQ/ysQgXteSsXNZOm/rdbt3yx3+CSaVh"
    "bdVKwORI/k0C8cqV5dgPNffX+CCjcUCPj40PDU5jyls3OOXPOtpvGpzGF8YvX5IMOvEhw5EZPxaL6eaJyy+L07/y"
    "tBYyyTlwNGeH67kC79xHWh/N1w1OcV+MjwxO4yveuV9Uh3Bu7Vc6FtOvL1jciQNL0E238+5XT8/VRzc9PkU3+M+6"
    "4THd0PoGpYPUAHRAte4BKjtmAw=="
)
OTHER_SIZES = {"edge.bam": 1223, "edge.htsjdk.bai": 568, "edge.htslib19.bai": 504}


def test_htsjdk_and_old_htslib_bais_pass(tmp_path):
    """The indexes htsjdk and htslib 1.9 wrote for a BAM with their awkward cases pass, as
    does a fresh htslib one of the same BAM."""
    blob, at, files = zlib.decompress(base64.b64decode(OTHER_WRITERS)), 0, {}
    for name, size in OTHER_SIZES.items():
        files[name] = tmp_path / name
        files[name].write_bytes(blob[at : at + size])
        at += size
    assert at == len(blob)
    bam = str(files["edge.bam"])
    names = ("a", "empty", "b")
    assert bai_problem(str(files["edge.htsjdk.bai"]), bam, names) is None
    assert bai_problem(str(files["edge.htslib19.bai"]), bam, names) is None
    pysam.index(bam, f"{bam}.bai")
    assert bai_problem(f"{bam}.bai", bam, names) is None


@pytest.mark.parametrize(
    "bam", [SMOKE_BAM, HG002 / "HG002.chr20_10M_10.1M.bam"], ids=["smoke", "hg002"]
)
def test_the_shipped_bais_pass(bam):
    """The indexes shipped with the test data (the smoke set's and HG002's) pass."""
    assert SMOKE.is_dir()
    with pysam.AlignmentFile(str(bam)) as reads:
        assert bai_problem(f"{bam}.bai", str(bam), reads.references) is None

"""A .crai that htslib would read past (io/crai_check.py).

htslib reads a CRAM region from the left-most container its .crai lists for it, so a .crai that
lost a contig's first line, or lists containers out of order, dropped reads from the fuzz
battery's queries with exit 0. Such an index is refused; the indexes htslib writes for CRAMs of
several shapes (many containers, several slices per container, slices of several contigs) pass,
and so does a .crai that only lost a line in the middle, which htslib reads past harmlessly.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pysam
import pytest

from cnnscore.io.crai_check import crai_problem
from conftest import SMOKE_BAM, SMOKE_REF

#: CRAM 3.0 with small slices, so that the smoke reads fill many containers
SMALL_SLICES = [b"version=3.0", b"seqs_per_slice=500"]


def _write_cram(reads, header, path: Path, reference: str, options: list[bytes]) -> Path:
    with pysam.AlignmentFile(
        str(path), "wc", header=header, reference_filename=reference, format_options=options
    ) as sink:
        for read in reads:
            sink.write(read)
    pysam.index(str(path))
    return path


@pytest.fixture(scope="module")
def smoke_cram(tmp_path_factory) -> Path:
    """The smoke BAM's reads (chr20:10.00-10.10 Mb, ~52,000) as a CRAM of ~100 containers."""
    folder = tmp_path_factory.mktemp("crai")
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        header["SQ"] = [sq for sq in header["SQ"] if sq["SN"] == "chr20"]
        reads = [read.to_dict() for read in source.fetch("chr20")]
    with pysam.AlignmentFile(str(folder / "h.sam"), "w", header=header) as template:
        records = [pysam.AlignedSegment.from_dict(r, template.header) for r in reads]
        for record in records:
            if record.next_reference_name not in ("chr20", None):
                record.next_reference_id = -1  # a mate elsewhere: the header keeps chr20 only
        return _write_cram(records, template.header, folder / "reads.cram", str(SMOKE_REF),
                           SMALL_SLICES)  # fmt: skip


def _lines(cram: Path) -> list[bytes]:
    return gzip.decompress(Path(f"{cram}.crai").read_bytes()).splitlines(keepends=True)


def _with_lines(cram: Path, lines: list[bytes], folder: Path) -> str:
    path = folder / "edited.crai"
    path.write_bytes(gzip.compress(b"".join(lines)))
    return str(path)


def test_the_index_htslib_wrote_for_the_smoke_reads_passes(smoke_cram):
    assert len(_lines(smoke_cram)) > 50
    assert crai_problem(str(smoke_cram), f"{smoke_cram}.crai") is None


def test_a_dropped_first_line_is_refused(smoke_cram, tmp_path):
    edited = _with_lines(smoke_cram, _lines(smoke_cram)[1:], tmp_path)
    problem = crai_problem(str(smoke_cram), edited)
    assert problem and "does not list the container at byte" in problem, problem
    assert "the next after the header" in problem


def test_lines_out_of_order_are_refused(smoke_cram, tmp_path):
    lines = _lines(smoke_cram)
    edited = _with_lines(smoke_cram, [lines[0], lines[2], lines[1], *lines[3:]], tmp_path)
    assert "out of the file's order" in crai_problem(str(smoke_cram), edited)


def test_a_line_lost_in_the_middle_passes(smoke_cram, tmp_path):
    """htslib finds the container before the lost one and reads on through it: no read lost."""
    lines = _lines(smoke_cram)
    edited = _with_lines(smoke_cram, lines[:20] + lines[21:], tmp_path)
    assert crai_problem(str(smoke_cram), edited) is None


CONTIGS = {"c1": 60_000, "c2": 300, "c3": 45_000, "c4": 20_000}  # c2 holds no reads


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    rng = random.Random(7)
    path = tmp_path_factory.mktemp("ref") / "ref.fa"
    with open(path, "w") as fasta:
        for name, length in CONTIGS.items():
            bases = "".join(rng.choice("ACGT") for _ in range(length))
            lines = (bases[at : at + 60] + "\n" for at in range(0, length, 60))
            fasta.write(f">{name}\n" + "".join(lines))
    pysam.faidx(str(path))
    return str(path)


def _contigs_cram(path: Path, reference: str, options: list[bytes]) -> Path:
    """Reads on c1, c3 and c4 (some unmapped but placed), then unplaced ones."""
    rng = random.Random(11)
    header = pysam.AlignmentHeader.from_dict(
        {"HD": {"VN": "1.6", "SO": "coordinate"},
         "SQ": [{"SN": name, "LN": length} for name, length in CONTIGS.items()]}
    )  # fmt: skip
    bases = pysam.FastaFile(reference)
    placed = sorted(
        (tid, rng.randrange(0, length - 100))
        for tid, (name, length) in enumerate(CONTIGS.items())
        if name != "c2"
        for _ in range(400)
    )
    reads = []
    for number, (tid, start) in enumerate([*placed, *[(-1, -1)] * 20]):
        read = pysam.AlignedSegment(header)
        read.query_name = f"r{number}"
        read.reference_id, read.reference_start = tid, start
        read.query_sequence = (
            bases.fetch(read.reference_name, start, start + 100) if tid >= 0 else "ACGT" * 25
        )
        read.query_qualities = pysam.qualitystring_to_array("I" * 100)
        if tid < 0 or number % 20 == 0:
            read.flag = 4
        else:
            read.cigarstring, read.mapping_quality = "100M", 60
        reads.append(read)
    return _write_cram(reads, header, path, reference, [b"version=3.0", *options])


@pytest.mark.parametrize(
    "options",
    [
        [b"seqs_per_slice=50"],
        [b"seqs_per_slice=40", b"multi_seq_per_slice=1"],
        [b"seqs_per_slice=25", b"slices_per_container=3", b"multi_seq_per_slice=1"],
    ],
    ids=["small slices", "slices of several contigs", "several slices per container"],
)
def test_each_contigs_first_line_is_needed(reference, tmp_path, options):
    cram = _contigs_cram(tmp_path / "reads.cram", reference, options)
    lines = _lines(cram)
    assert crai_problem(str(cram), f"{cram}.crai") is None
    firsts: dict[bytes, int] = {}
    for number, line in enumerate(lines):
        firsts.setdefault(line.split(b"\t")[0], number)
    for contig, number in firsts.items():
        container = lines[number].split(b"\t")[3]
        edited = lines[:number] + lines[number + 1 :]
        if contig == b"-1" or any(line.split(b"\t")[3] == container for line in edited):
            continue  # unplaced reads are never queried; a container still listed is read
        problem = crai_problem(str(cram), _with_lines(cram, edited, tmp_path))
        assert problem and "does not list the container" in problem, (contig, problem)

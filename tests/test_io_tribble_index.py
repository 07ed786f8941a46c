"""A plain .vcf output gets GATK's Tribble index (``OUTPUT.vcf.idx``), and htsjdk itself reads it
(Debian's libhtsjdk-java through tests/java/TribbleQuery.java, the calls GATK's FeatureDataSource
makes): its version check passes, every indexed query returns exactly the records that overlap
the interval, found here by reading the whole file, and the bins are byte for byte those of the
index htsjdk itself makes of the same file. A workflow written for GATK lists
that file among a task's outputs (warp's CNN task does for an uncompressed VCF); without it
Cromwell fails the task."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import data_lines, header_lines, run_cli, smoke_2d_args

HTSJDK = Path("/usr/share/java/htsjdk.jar")
QUERY = Path(__file__).parent / "java" / "TribbleQuery.java"


def htsjdk_reads(vcf: Path, intervals: list[str]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """What htsjdk says of the index (``current``, ``contigs``, ``indexed``, properties as
    ``property:KEY``) and, for each interval, the records (``contig:pos``) its query returns."""
    if not HTSJDK.is_file() or shutil.which("java") is None:
        pytest.fail(
            "Java and htsjdk are needed: apt-get install openjdk-17-jdk-headless "
            "libhtsjdk-java (make test installs them)"
        )
    result = subprocess.run(
        ["java", "-cp", str(HTSJDK), str(QUERY), str(vcf), f"{vcf}.htsjdk", *intervals],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    facts: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "query":
            interval, _, records = rest.partition("\t")
            found[interval] = records.split(",") if records else []
        elif kind == "property":
            key, _, value = rest.partition("=")
            facts[f"property:{key}"] = value
        else:
            facts[kind] = rest
    return facts, found


def overlapping(vcf: Path, interval: str) -> list[str]:
    """The records of ``vcf`` overlapping ``contig:start-end`` by reading every line: a record
    spans POS to INFO's END where given, else to the last base of REF (htsjdk's reading)."""
    contig, _, span = interval.partition(":")
    start, end = map(int, span.split("-"))
    hits = []
    for line in data_lines(vcf):
        columns = line.split("\t")
        position = int(columns[1])
        info = dict(item.partition("=")[::2] for item in columns[7].split(";"))
        last = int(info["END"]) if "END" in info else position + len(columns[3]) - 1
        if columns[0] == contig and position <= end and last >= start:
            hits.append(f"{contig}:{position}")
    return hits


def assert_queries_exact(vcf: Path, intervals: list[str]) -> dict[str, str]:
    facts, found = htsjdk_reads(vcf, intervals)
    assert facts["current"] == "true" and facts["indexed"] == "true", facts
    expected = {interval: overlapping(vcf, interval) for interval in intervals}
    wrong = {i: (found[i], expected[i]) for i in intervals if found[i] != expected[i]}
    assert not wrong, f"htsjdk's indexed queries differ from the file's records: {wrong}"
    assert sum(map(len, found.values())) > 0
    ours, htsjdks = (contig_sections(Path(f"{vcf}{suffix}")) for suffix in (".idx", ".htsjdk"))
    assert ours == htsjdks, "the bins differ from those of htsjdk's own index of the file"
    return facts


def contig_sections(index: Path) -> bytes:
    """What follows an index's properties (the contigs' bins): htsjdk's on-the-fly writer and
    its file indexer differ only in the properties they record."""
    data = index.read_bytes()
    offset = data.index(b"\0", 12) + 1 + 8 + 8 + 1 + 4  # path, size, time, empty MD5, flags
    (count,) = struct.unpack_from("<i", data, offset)
    offset += 4
    for _ in range(2 * count):
        offset = data.index(b"\0", offset) + 1
    return data[offset:]


def index_header(index: Path) -> tuple[str, int, int]:
    """The indexed file's URI, size and modification time (ms) as the .idx records them."""
    data = index.read_bytes()
    assert data[:4] == b"TIDX" and struct.unpack_from("<ii", data, 4) == (1, 3)
    end = data.index(b"\0", 12)
    size, modified = struct.unpack_from("<qq", data, end + 1)
    return data[12:end].decode(), size, modified


def test_a_scored_vcf_is_indexed_as_gatk_reads_it(tmp_path):
    """The smoke set scored with small_2d to a plain .vcf, queried through htsjdk over every
    record's own position, 300 random windows and the whole slice."""
    output = tmp_path / "out" / "scored.vcf"
    output.parent.mkdir()
    run_cli(*smoke_2d_args(output, "--backend", "openvino"), check=True)
    index = Path(f"{output}.idx")
    assert sorted(p.name for p in output.parent.iterdir()) == ["scored.vcf", "scored.vcf.idx"]
    positions = [int(line.split("\t")[1]) for line in data_lines(output)]
    rng = random.Random(7)
    windows = []
    for _ in range(300):
        start = rng.randint(positions[0] - 5000, positions[-1] + 5000)
        windows.append(f"chr20:{start}-{start + rng.choice([0, 1, 50, 2000, 4001, 30000])}")
    intervals = [f"chr20:{p}-{p}" for p in positions] + windows + ["chr20:1-63025520"]
    facts = assert_queries_exact(output, intervals)
    assert facts["contigs"] == "chr20"
    assert facts["property:DICT:chr20"] == "63025520"  # the header's ##contig, as GATK's dictionary
    assert facts["property:FEATURE_COUNT"] == str(len(positions))
    uri, size, modified = index_header(index)
    status = output.stat()
    assert (uri, size, modified) == (output.as_uri(), status.st_size, status.st_mtime_ns // 10**6)
    # GATK warns of an index older than its file (IndexUtils.checkIndexVersionAndModificationTime)
    assert index.stat().st_mtime_ns >= status.st_mtime_ns


def test_contigs_long_records_and_sparse_bins(tmp_path):
    """Three contigs; a dense cluster and records megabases apart (bins merged as htsjdk merges
    them); a deletion given by END that covers 30 kb, found by a query far from its start, and
    one whose END is given twice (the last counts); a contig with one record and one absent from
    the records. Written through the writer every
    command uses."""
    from cnnscore.io.vcf_output import AtomicVcfWriter

    header = [
        "##fileformat=VCFv4.2",
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End">',
        "##contig=<ID=chr1,length=5000000>",
        "##contig=<ID=chr2,length=3000000>",
        "##contig=<ID=chr3,length=100>",
        "##contig=<ID=chrM,length=16569>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    records = [("chr1", p, "A", ".") for p in range(1000, 1300, 3)]
    records += [("chr1", 50_000, "C", "END=80000"), ("chr1", 50_010, "ACGTACGT", ".")]
    records += [("chr1", p, "G", ".") for p in (90_000, 1_500_000, 1_500_000, 4_999_999)]
    # END given twice: htsjdk (and the reader) keep the last one
    records += [("chr2", 100, "A", "END=110;END=40000"), ("chr2", 2_000_000, "T", ".")]
    records += [("chr3", 1, "ACGTACGTAC", ".")]
    output = tmp_path / "made.vcf"
    writer = AtomicVcfWriter(str(output))
    try:
        writer.write_lines(header)
        writer.write_lines([f"{c}\t{p}\t.\t{r}\t<DEL>\t.\t.\t{i}" for c, p, r, i in records])
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    intervals = ["chr1:70000-70000", "chr1:79990-85000", "chr1:1-999", "chr1:1299-1299",
                 "chr1:1-5000000", "chr1:1499999-1500000", "chr1:4999999-5000000",
                 "chr2:1-1999999", "chr2:30000-30000", "chr2:2000000-2000000", "chr3:5-5",
                 "chr3:11-100"]  # fmt: skip
    rng = random.Random(11)
    for _ in range(200):
        start = rng.randint(1, 5_000_000)
        intervals.append(f"chr1:{start}-{start + rng.choice([0, 10, 3000, 100_000])}")
    facts = assert_queries_exact(output, intervals)
    assert facts["contigs"] == "chr1,chr2,chr3"
    assert [facts[f"property:DICT:{c}"] for c in ("chr1", "chr2", "chr3", "chrM")] == [
        "5000000", "3000000", "100", "16569"]  # fmt: skip


def test_no_index_when_gatk_writes_none(tmp_path):
    """--create-output-variant-index false writes no .idx, and an earlier run's .idx beside the
    name goes when the new output is published (it would point into the old file)."""
    output = tmp_path / "scored.vcf"
    Path(f"{output}.idx").write_bytes(b"TIDX stale")
    result = run_cli(*smoke_2d_args(output, "--backend", "openvino",
                                    "--create-output-variant-index", "false"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(tmp_path)) == ["scored.vcf"]
    assert header_lines(output)[0].startswith("##fileformat")


@pytest.mark.parametrize(("pos", "info", "said"), [
    ("200", "END=3000000000", "END 3000000000 is outside 0..2,147,483,647"),
    ("100000000000000", ".", "POS 100000000000000, outside 0..2,147,483,647"),
])  # fmt: skip
def test_positions_beyond_a_java_int_are_refused_where_read(tmp_path, pos, info, said):
    """htsjdk reads POS and END as Java ints, so no .idx (nor GATK) can hold more: one line
    naming the record (an END beyond it was a traceback, a POS a loop filling memory)."""
    shard = tmp_path / "shard.vcf"
    shard.write_text("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=5000>\n"
                     "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                     f"chr1\t{pos}\t.\tA\t<DEL>\t.\t.\t{info}\n")  # fmt: skip
    output = tmp_path / "out" / "gathered.vcf"
    output.parent.mkdir()
    result = run_cli("gather-vcfs", "-I", shard, "-O", output, timeout=120)
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    assert str(shard) in errors[0] and said in errors[0], errors[0]
    assert not list(output.parent.iterdir())

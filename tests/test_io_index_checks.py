"""Indexes of the wrong kind, and bgzip VCF indexes older than their file (io/index_checks.py).

htslib reads whatever index it is given: a tabix index given for a BAM crashed the process
(pysam's index statistics, exit 139, nothing printed), other wrong kinds came back as "index
missing", and a VCF's .tbi made before the file was rewritten with more records made ``-L`` runs
exit 0 with records silently missing. Every file here is real data from ``testdata/`` (or made
from it) in pytest's ``tmp_path``; the refusals go through the real CLI and readers, and fresh
indexes of every kind must still pass.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pysam
import pytest

from cnnscore.errors import InputError
from cnnscore.io.index_checks import (
    BAI,
    CRAI,
    CSI,
    TABIX_CSI,
    TBI,
    index_kind,
    reads_index_kind_problem,
    tabix_index_problem,
)
from cnnscore.io.intervals import IntervalFilter, parse_intervals
from cnnscore.io.vcf_text import VcfReader
from cnnscore.tranches.truth_resources import ResourceCursor
from conftest import SMOKE_BAM, SMOKE_REF, SMOKE_VCF, TESTDATA, run_cli

ERROR_PREFIX = "cnnscore: error: "
CHR20 = {"chr20": 64_444_167}
#: the window of the smoke VCF the stale-index case reads: 104 of its 252 records
WINDOW = "chr20:10060000-10100000"
WINDOW_RECORDS = 104


# --------------------------------------------------------------------------------------------
# the files: real reads, calls and their indexes, and files that are no index


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Copies of the smoke BAM and VCF with their own indexes (BAI, CSI, tabix TBI and CSI), the
    BAM as CRAM with its CRAI, and three files that are no index at all."""
    folder = tmp_path_factory.mktemp("indexes")
    bam = folder / "reads.bam"
    shutil.copyfile(SMOKE_BAM, bam)
    pysam.index(str(bam), str(folder / "reads.bam.bai"))
    pysam.index("-c", str(bam), str(folder / "reads.bam.csi"))
    cram = folder / "reads.cram"
    pysam.view("-C", "-T", str(SMOKE_REF), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    vcf = folder / "calls.vcf.gz"
    shutil.copyfile(SMOKE_VCF, vcf)
    shutil.copyfile(f"{SMOKE_VCF}.tbi", folder / "calls.vcf.gz.tbi")
    csi_vcf = folder / "calls_csi.vcf.gz"
    shutil.copyfile(SMOKE_VCF, csi_vcf)
    pysam.tabix_index(str(csi_vcf), preset="vcf", csi=True, force=True)
    (folder / "random.idx").write_bytes(bytes((i * 131 + 7) % 256 for i in range(3000)))
    (folder / "empty.idx").write_bytes(b"")
    (folder / "text.idx").write_text("chr20\t10000000\t10100000\n")
    named = {
        "bam": bam, "bai": folder / "reads.bam.bai", "bam_csi": folder / "reads.bam.csi",
        "cram": cram, "crai": folder / "reads.cram.crai",
        "vcf": vcf, "tbi": folder / "calls.vcf.gz.tbi",
        "csi_vcf": csi_vcf, "vcf_csi": folder / "calls_csi.vcf.gz.csi",
        "random": folder / "random.idx", "empty": folder / "empty.idx",
        "text": folder / "text.idx",
    }  # fmt: skip
    return named


@pytest.mark.parametrize(
    "name, kind",
    [("bai", BAI), ("bam_csi", CSI), ("crai", CRAI), ("tbi", TBI), ("vcf_csi", TABIX_CSI),
     ("random", None), ("empty", None), ("text", None)],
)  # fmt: skip
def test_index_kind_from_content(files, name, kind):
    """Each kind is told by its content, whatever its name; files that are none are None."""
    assert index_kind(str(files[name])) == kind


# --------------------------------------------------------------------------------------------
# reads: an index of the wrong kind is refused before htslib loads it


def score(output: Path, reads: Path | str, *extra: str | Path):
    """``cnnscore score`` of the first smoke calls with the reads (and options) given."""
    return run_cli(
        "score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", reads, "--tensor-type", "read_tensor",
        "-L", "chr20:10000000-10001000", "-O", output, *extra,
    )  # fmt: skip


def assert_refused(result, output: Path, *named: Path | str) -> str:
    """One ``cnnscore: error:`` line naming ``named``, exit 1, nothing left in -O's folder."""
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert result.returncode == 1, f"exit {result.returncode}:\n{result.stderr}"
    assert len(errors) == 1, result.stderr
    for name in named:
        assert str(name) in errors[0], errors[0]
    assert not any(output.parent.iterdir()), sorted(output.parent.iterdir())
    return errors[0]


def out_path(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    folder.mkdir()
    return folder / "out.vcf.gz"


WRONG_FOR_READS = {
    "bam": [("tbi", "is a tabix (VCF) index, not a BAM index"),
            ("vcf_csi", "is a tabix (VCF) CSI index, not a BAM index"),
            ("crai", "is a CRAM index (CRAI), not a BAM index"),
            ("random", "is not a BAM index (.bai or .csi), nor any index"),
            ("empty", "is an empty file, not a BAM index"),
            ("text", "is not a BAM index (.bai or .csi), nor any index")],
    "cram": [("tbi", "is a tabix (VCF) index, not a CRAM index"),
             ("bai", "is a BAM index (BAI), not a CRAM index"),
             ("bam_csi", "is a BAM CSI index, not a CRAM index"),
             ("random", "is not a CRAM index (.crai), nor any index"),
             ("empty", "is an empty file, not a CRAM index")],
}  # fmt: skip


@pytest.mark.parametrize(
    "reads, index, says",
    [(reads, index, says) for reads, cases in WRONG_FOR_READS.items() for index, says in cases],
)
def test_reads_index_of_the_wrong_kind_is_refused(files, tmp_path, reads, index, says):
    """--read-index of the wrong kind: a tabix one crashed the process (exit 139, no word),
    the others read as "index missing"; now one line saying what the index is."""
    output = out_path(tmp_path)
    result = score(output, files[reads], "--read-index", files[index])
    error = assert_refused(result, output, files[reads], files[index])
    assert says in error, error


def test_tabix_index_beside_a_bam_as_its_bai_is_refused(files, tmp_path):
    """The VCF's .tbi copied beside a BAM as ``x.bam.bai``: htslib finds it by name (it crashed
    the process); the file's content says what it is."""
    folder = tmp_path / "in"
    folder.mkdir()
    bam = folder / "x.bam"
    shutil.copyfile(files["bam"], bam)
    shutil.copyfile(files["tbi"], folder / "x.bam.bai")
    output = out_path(tmp_path)
    error = assert_refused(score(output, bam), output, bam, f"{bam}.bai")
    assert "is a tabix (VCF) index, not a BAM index" in error


def test_the_index_checked_is_the_one_htslib_picks(files, tmp_path):
    """htslib takes ``x.bam.csi`` over ``x.bam.bai`` when both lie beside the file: a damaged
    .csi beside a good .bai is the index in use, and is refused."""
    folder = tmp_path / "in"
    folder.mkdir()
    bam = folder / "x.bam"
    shutil.copyfile(files["bam"], bam)
    shutil.copyfile(files["bai"], folder / "x.bam.bai")
    shutil.copyfile(files["random"], folder / "x.bam.csi")
    assert f"its index {bam}.csi is not a BAM index" in reads_index_kind_problem(str(bam))


@pytest.mark.parametrize("reads, index", [("bam", "bai"), ("bam", "bam_csi"), ("cram", "crai")])
def test_reads_indexes_of_the_right_kind_pass(files, reads, index):
    """Fresh samtools indexes, attached or beside the file, are each of the right kind."""
    assert reads_index_kind_problem(f"{files[reads]}##idx##{files[index]}") is None
    assert reads_index_kind_problem(str(files[reads])) is None


# --------------------------------------------------------------------------------------------
# VCFs: an index that is no tabix index


def window() -> IntervalFilter:
    return IntervalFilter(parse_intervals([WINDOW], CHR20))


@pytest.mark.parametrize(
    "index, says",
    [("bai", "is a BAM index (BAI), not a VCF index"),
     ("bam_csi", "is a BAM CSI index, not a VCF index"),
     ("crai", "is a CRAM index (CRAI), not a VCF index"),
     ("random", "is not a VCF index (tabix .tbi or .csi), nor any index"),
     ("empty", "is an empty file, not a VCF index"),
     ("text", "is not a VCF index (tabix .tbi or .csi), nor any index")],
)  # fmt: skip
def test_vcf_index_of_the_wrong_kind_is_refused(files, index, says):
    """Attached as ``VCF##idx##INDEX`` to a VCF read by -L, or to a truth resource: htslib
    said only "could not open index"; now the line names the index and what it is."""
    location = f"{files['vcf']}##idx##{files[index]}"
    with pytest.raises(InputError) as read:
        list(VcfReader(location).records(window()))
    with pytest.raises(InputError) as resource:
        ResourceCursor(location)
    for raised in (read.value, resource.value):
        assert raised.path == str(files["vcf"])
        assert f"its index {files[index]} {says}" in raised.message


# --------------------------------------------------------------------------------------------
# VCFs: an index older than the file


def smoke_lines() -> tuple[list[str], list[str]]:
    """The smoke VCF's header lines and record lines, each with its newline."""
    with gzip.open(SMOKE_VCF, "rt") as handle:
        lines = handle.readlines()
    return [x for x in lines if x.startswith("#")], [x for x in lines if not x.startswith("#")]


def indexed_vcf(folder: Path, name: str, text: str, csi: bool = False) -> tuple[Path, Path]:
    """``text`` bgzip-compressed as ``name``.vcf.gz with a fresh tabix index (.tbi or .csi)."""
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / f"{name}.vcf"
    plain.write_text(text)
    vcf = Path(pysam.tabix_index(str(plain), preset="vcf", force=True, csi=csi))
    return vcf, Path(f"{vcf}.{'csi' if csi else 'tbi'}")


def rewrite(vcf: Path, text: str) -> None:
    """The file rewritten in place (bgzip), its index left as it was."""
    plain = vcf.with_suffix("")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(vcf), force=True)


def stale_vcf(folder: Path, csi: bool = False) -> tuple[Path, Path]:
    """The smoke VCF indexed when it held its first 100 records, then rewritten with all 252:
    htslib trusts the index and finds none of the records after the first 100."""
    header, records = smoke_lines()
    vcf, index = indexed_vcf(folder, "stale", "".join(header + records[:100]), csi)
    rewrite(vcf, "".join(header + records))
    return vcf, index


@pytest.mark.parametrize("csi", [False, True], ids=["tbi", "csi"])
def test_index_older_than_the_vcf_is_refused_by_the_readers(tmp_path, csi):
    """-L through the old index found 0 of the window's 104 records, silently."""
    vcf, index = stale_vcf(tmp_path, csi)
    with pytest.raises(InputError) as read:
        list(VcfReader(str(vcf)).records(window()))
    with pytest.raises(InputError) as resource:
        ResourceCursor(f"{vcf}##idx##{index}")
    for raised in (read.value, resource.value):
        assert raised.path == str(vcf)
        assert f"its index {index} does not list the file's last record" in raised.message
        assert "older than the file" in raised.message and "tabix -p vcf" in raised.message
    pysam.tabix_index(str(vcf), preset="vcf", force=True, csi=csi)  # re-indexed: all there
    assert len(list(VcfReader(str(vcf)).records(window()))) == WINDOW_RECORDS


def test_index_older_than_the_vcf_is_refused_by_the_cli(tmp_path):
    """``score -L`` exited 0 with 0 records of the 104; now one line, exit 1, no output."""
    vcf, index = stale_vcf(tmp_path / "in")
    output = out_path(tmp_path)
    result = run_cli(
        "score", "-V", vcf, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type", "read_tensor",
        "-L", WINDOW, "-O", output,
    )  # fmt: skip
    assert "older than the file" in assert_refused(result, output, vcf, index)


def boundary_text(copies: int) -> tuple[str, list[str]]:
    """A VCF text of exactly a whole number of BGZF blocks (65,280 bytes each): the smoke
    records repeated ``copies`` times 200 kb apart, padded by a header line; and the records of
    one copy more (to append)."""
    header, records = smoke_lines()

    def shifted(copy: int) -> list[str]:
        out = []
        for line in records:
            fields = line.split("\t")
            fields[1] = str(int(fields[1]) + copy * 200_000)
            out.append("\t".join(fields))
        return out

    body = "".join(line for copy in range(copies) for line in shifted(copy))
    short = -len(("".join(header) + body).encode()) % 65_280
    short += 65_280 if short < 10 else 0
    pad = "##padding=" + "x" * (short - len("##padding=\n")) + "\n"
    text = header[0] + pad + "".join(header[1:]) + body
    assert len(text.encode()) % 65_280 == 0
    return text, shifted(copies)


@pytest.mark.parametrize("csi", [False, True], ids=["tbi", "csi"])
def test_index_older_than_the_vcf_ending_on_a_block_boundary(tmp_path, csi):
    """The old file's records ended exactly where a BGZF block did, so its index's last offset
    is a block start in the new file too: the records added after it are still found out."""
    text, more = boundary_text(20)
    vcf, index = indexed_vcf(tmp_path, "boundary", text, csi)
    with pysam.TabixFile(str(vcf), index=str(index)) as tabix:
        assert tabix_index_problem(tabix, str(index)) is None  # fresh, ending on the boundary
    rewrite(vcf, text + "".join(more))
    with pytest.raises(InputError) as raised:
        list(VcfReader(f"{vcf}##idx##{index}").records(window()))
    assert f"its index {index} does not list the file's last record" in raised.value.message


# --------------------------------------------------------------------------------------------
# fresh indexes pass


def fresh_cases(folder: Path) -> list[tuple[Path, Path]]:
    """Every .tbi/.csi in testdata (GATK/htsjdk-made), and pysam-made ones (TBI and CSI) of: a
    file ending on a BGZF block boundary, several contigs, one record, no record, and a last
    record longer than two BGZF blocks."""
    cases = []
    for index in sorted([*TESTDATA.rglob("*.tbi"), *TESTDATA.rglob("*.csi")]):
        copy = folder / "testdata" / index.parent.name
        copy.mkdir(parents=True, exist_ok=True)
        vcf = Path(str(index)[: -len(".tbi")])
        shutil.copyfile(vcf, copy / vcf.name)
        shutil.copyfile(index, copy / index.name)
        cases.append((copy / vcf.name, copy / index.name))
    header, records = smoke_lines()
    contigs = ["chr20", "chr21", "chr22", "chrX"]
    several = "".join(header) + "".join(
        "\t".join([contig, *line.split("\t")[1:]]) for contig in contigs for line in records
    )
    last = records[-1].rstrip("\n") + ";LONG=" + "y" * 200_000 + "\n"
    texts = {
        "boundary": boundary_text(20)[0],
        "contigs": several,
        "one": "".join(header + records[:1]),
        "none": "".join(header),
        "long_last": "".join(header + records[:-1]) + last,
    }
    for csi in (False, True):
        for name, text in texts.items():
            cases.append(indexed_vcf(folder / ("csi" if csi else "tbi"), name, text, csi))
    return cases


def test_fresh_indexes_pass(tmp_path):
    """No fresh index is taken for an old one, whatever made it and wherever its file ends."""
    cases = fresh_cases(tmp_path)
    assert len(cases) >= 15
    for vcf, index in cases:
        with pysam.TabixFile(str(vcf), index=str(index)) as tabix:
            assert tabix_index_problem(tabix, str(index)) is None, (vcf, index)
        list(VcfReader(f"{vcf}##idx##{index}").records(window()))
        ResourceCursor(f"{vcf}##idx##{index}").close()


def test_fresh_vcf_indexes_read_the_window(files):
    """The smoke VCF through its GATK-made .tbi and a pysam-made .csi: all 104 records."""
    for vcf, index in [(files["vcf"], files["tbi"]), (files["csi_vcf"], files["vcf_csi"])]:
        records = list(VcfReader(f"{vcf}##idx##{index}").records(window()))
        assert len(records) == WINDOW_RECORDS

"""Bad input to ``cnnscore score``: one clear error line, exit code 1 and no output left behind.

Each test builds one broken input from the real data in ``testdata/`` (modified copies live in
pytest's ``tmp_path``) and runs the real CLI. The contract checked by ``assert_input_error``:

* stderr holds exactly one line starting ``cnnscore: error: `` (other lines may only be
  ``cnnscore: warning:`` lines), naming the offending file (and the record where one is at fault);
* the exit code is 1;
* nothing is left in the output folder: neither the ``-O`` path, its ``.tbi``, nor a hidden
  ``.<name>.partial-*`` temporary.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pysam
import pysam.bcftools
import pytest

from conftest import (
    MODELS,
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    header_lines,
    run_cli,
)

ERROR_PREFIX = "cnnscore: error: "
WARNING_PREFIX = "cnnscore: warning:"
GZ_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------------------------
# helpers


def assert_input_error(result, output: Path, *named: str | Path) -> str:
    """Check the bad-input contract and return the error line."""
    stderr = result.stderr
    lines = stderr.splitlines()
    errors = [line for line in lines if line.startswith(ERROR_PREFIX)]
    others = [line for line in lines if not line.startswith((ERROR_PREFIX, WARNING_PREFIX))]
    assert len(errors) == 1, f"expected one '{ERROR_PREFIX}' line, stderr was:\n{stderr}"
    assert not others, f"stderr has lines besides the error and warnings:\n{stderr}"
    error = errors[0]
    for name in named:
        assert str(name) in error, f"error line does not name {name!s}: {error}"
    assert result.returncode == 1, f"exit code {result.returncode}, stderr:\n{stderr}"
    assert_no_output(output)
    return error


def assert_no_output(output: Path) -> None:
    """Neither the output, its index, nor any temporary is left in the output folder."""
    folder = output.parent
    assert not output.exists(), f"{output} was left behind"
    for suffix in (".tbi", ".csi", ".idx"):
        assert not Path(f"{output}{suffix}").exists(), f"{output}{suffix} was left behind"
    if folder.is_dir():
        left = sorted(p.name for p in folder.iterdir())
        assert not left, f"files left in the output folder {folder}: {left}"


def out_path(tmp_path: Path, name: str = "out.vcf.gz") -> Path:
    """An -O path in an empty folder of its own, so that anything left there is a failure."""
    folder = tmp_path / "out"
    folder.mkdir(exist_ok=True)
    return folder / name


def in_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return folder


def score_2d(
    output: Path,
    *,
    vcf: Path | str = SMOKE_VCF,
    ref: Path | str = SMOKE_REF,
    bam: Path | str | None = SMOKE_BAM,
    weights: Path | str = SMALL_2D_HD5,
    architecture: Path | str = SMALL_2D_JSON,
    extra: tuple[str, ...] = (),
):
    """``cnnscore score`` with the small 2D model, any input swapped for a broken one."""
    args: list[str | Path] = ["score", "-V", vcf, "-R", ref]
    if bam is not None:
        args += ["-I", bam]
    args += [
        "--tensor-type", "read_tensor", "--weights", weights, "--architecture", architecture,
        "-O", output, *extra,
    ]  # fmt: skip
    return run_cli(*args)


def small_vcf(tmp_path: Path, count: int = 3, *, edit=None, name: str = "small.vcf") -> Path:
    """The smoke VCF's header and first ``count`` records as a plain VCF, optionally edited.

    ``edit(headers, records)`` may change both lists of lines in place.
    """
    headers = header_lines(SMOKE_VCF)
    records = data_lines(SMOKE_VCF)[:count]
    if edit is not None:
        edit(headers, records)
    path = in_dir(tmp_path) / name
    path.write_text("\n".join([*headers, *records]) + "\n")
    return path


def set_column(line: str, index: int, value: str) -> str:
    columns = line.split("\t")
    columns[index] = value
    return "\t".join(columns)


def label(line: str) -> str:
    """``CHROM:POS REF>ALT`` of a record line, as the contract names records."""
    chrom, pos, _id, ref, alt = line.split("\t")[:5]
    return f"{chrom}:{pos} {ref}>{alt}"


# --------------------------------------------------------------------------------------------
# -V


def test_vcf_missing(tmp_path):
    output = out_path(tmp_path)
    vcf = in_dir(tmp_path) / "absent.vcf.gz"
    result = score_2d(output, vcf=vcf)
    assert_input_error(result, output, vcf)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_vcf_corrupt(tmp_path, damage):
    output = out_path(tmp_path)
    vcf = in_dir(tmp_path) / "corrupt.vcf.gz"
    data = SMOKE_VCF.read_bytes()
    if damage == "truncated":
        vcf.write_bytes(data[: len(data) // 2])  # cut mid-record, inside a BGZF block
    else:
        vcf.write_bytes(GZ_MAGIC + bytes(range(7, 250)) * 40)  # gzip magic, then garbage
    result = score_2d(output, vcf=vcf)
    assert_input_error(result, output, vcf)


def test_vcf_gzip_not_bgzip_read_by_its_index(tmp_path):
    """-L reads the VCF through its index, which needs bgzip's blocks: a plain-gzip copy with the
    original's index beside it (the fuzzed-input battery found the same from flipped bytes in a
    block header) is one clear line, not htslib's NotImplementedError."""
    output = out_path(tmp_path)
    vcf = in_dir(tmp_path) / "gzip.vcf.gz"
    vcf.write_bytes(gzip.compress(gzip.decompress(SMOKE_VCF.read_bytes())))
    shutil.copy(f"{SMOKE_VCF}.tbi", f"{vcf}.tbi")
    result = score_2d(output, vcf=vcf, extra=("-L", "chr20:10000000-10010000"))
    assert "not bgzip-compressed" in assert_input_error(result, output, vcf)


# --------------------------------------------------------------------------------------------
# -R


def test_reference_missing(tmp_path):
    output = out_path(tmp_path)
    ref = in_dir(tmp_path) / "absent.fa.gz"
    result = score_2d(output, vcf=small_vcf(tmp_path), ref=ref)
    assert_input_error(result, output, ref)


def test_reference_without_fai(tmp_path):
    output = out_path(tmp_path)
    ref = in_dir(tmp_path) / SMOKE_REF.name
    shutil.copyfile(SMOKE_REF, ref)
    shutil.copyfile(f"{SMOKE_REF}.gzi", f"{ref}.gzi")  # only the .fai is missing
    result = score_2d(output, vcf=small_vcf(tmp_path), ref=ref)
    error = assert_input_error(result, output, ref)
    assert ".fai" in error
    assert not Path(f"{ref}.fai").exists(), "the tool must not build the index itself"


def _score_with_fai(tmp_path, damage):
    """Score with the smoke reference beside a .fai whose fields ``damage`` rewrote."""
    output = out_path(tmp_path)
    ref = in_dir(tmp_path) / SMOKE_REF.name
    shutil.copyfile(SMOKE_REF, ref)
    shutil.copyfile(f"{SMOKE_REF}.gzi", f"{ref}.gzi")
    fields = Path(f"{SMOKE_REF}.fai").read_text().rstrip("\n").split("\t")
    Path(f"{ref}.fai").write_text("\t".join(damage(fields)) + "\n")
    return score_2d(output, vcf=small_vcf(tmp_path), ref=ref), output, ref


@pytest.mark.parametrize(
    "damage, says",
    [
        # found by the fuzz battery: a repeated column makes htslib read it as a FASTQ index,
        # which hands out N for every base of a bgzip FASTA, and N matches any REF
        (lambda f: f[:4] + [f[3]] + f[4:], "a FASTQ index"),
        (lambda f: f[:3], "3 columns"),
        (lambda f: f[:2] + ["7x"] + f[3:], "not a whole number"),
        (lambda f: f[:3] + ["60", "50"], "cannot be"),
    ],
)
def test_reference_index_that_cannot_be_a_fasta_index(tmp_path, damage, says):
    result, output, ref = _score_with_fai(tmp_path, damage)
    error = assert_input_error(result, output, f"{ref}.fai")
    assert says in error


def _reference_with(tmp_path: Path, byte: bytes) -> Path:
    """The smoke reference (chr20) with ``byte`` at chr20:10000107, ten bases before the first
    record: inside its 128-base window."""
    sequence = bytearray(pysam.FastaFile(str(SMOKE_REF)).fetch("chr20").encode())
    sequence[10000107 - 1] = byte[0]
    fasta = tmp_path / "ref.fa"
    with open(fasta, "wb") as handle:
        handle.write(b">chr20\n")
        handle.writelines(bytes(sequence[i : i + 60]) + b"\n" for i in range(0, len(sequence), 60))
    pysam.faidx(str(fasta))
    return fasta


@pytest.mark.parametrize("byte", [b".", b"-", b"X", b"*"], ids=["dot", "dash", "X", "star"])
def test_reference_bytes_that_are_no_base(tmp_path, byte):
    """GATK stops on a reference byte that is neither a base nor an IUPAC code; cnnscore read it
    as N and scored on (9.291 became 6.500 for the first record). (A byte beyond ASCII is not
    counted as a base by htslib's faidx, so the index check refuses that FASTA first.)"""
    fasta = _reference_with(tmp_path, byte)
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), ref=fasta)
    error = assert_input_error(result, output, fasta)
    assert "chr20:10000107 holds" in error and "neither a base nor an IUPAC code" in error


def test_reference_iupac_codes_are_read_as_n(tmp_path):
    """An IUPAC code (lower case too) is N to GATK: accepted, and scored as an N."""
    scored = {}
    for name, byte in (("iupac", b"r"), ("n", b"N")):
        folder = tmp_path / name
        folder.mkdir()
        scored[name] = out_path(folder)
        fasta = _reference_with(folder, byte)
        result = score_2d(scored[name], vcf=small_vcf(folder), ref=fasta)
        assert result.returncode == 0, result.stderr
    assert data_lines(scored["iupac"]) == data_lines(scored["n"])


def _chr20_cram(folder: Path) -> Path:
    """The smoke reads as a CRAM whose header names chr20 alone: htslib then refers to the
    reference by MD5 (@SQ M5) instead of embedding it, as for a real CRAM of a whole genome."""
    cram = folder / "reads.cram"
    with pysam.AlignmentFile(str(SMOKE_BAM)) as bam:
        header = bam.header.to_dict()
        header["SQ"] = [line for line in header["SQ"] if line["SN"] == "chr20"]
        with pysam.AlignmentFile(
            str(cram), "wc", header=header, reference_filename=str(SMOKE_REF)
        ) as out:
            for read in bam.fetch("chr20"):
                out.write(pysam.AlignedSegment.fromstring(read.to_string(), out.header))
    pysam.index(str(cram))
    return cram


def _without_m5(cram: Path) -> None:
    """The CRAM's @SQ lines without M5 (samtools reheader in place: same offsets, same .crai)."""
    with pysam.AlignmentFile(str(cram), reference_filename=str(SMOKE_REF)) as reads:
        text = "".join(f"{line}\n" for line in str(reads.header).splitlines() if line[:1] == "@")
    header = cram.with_suffix(".sam")
    header.write_text(re.sub(r"\tM5:[0-9a-f]+", "", text))
    pysam.samtools.reheader("-i", str(header), str(cram))
    with pysam.AlignmentFile(str(cram), reference_filename=str(SMOKE_REF)) as reads:
        assert not any("M5" in line for line in reads.header.to_dict()["SQ"])


@pytest.mark.parametrize("m5", [True, False], ids=["M5", "no-M5"])
@pytest.mark.parametrize(
    "changed", [(10_000_000, 10_100_000), (10_045_000, 10_055_000)], ids=["throughout", "mid-file"]
)
def test_cram_read_with_another_reference(tmp_path, changed, m5):
    """A CRAM decoded with a reference whose bases differ from those it was made with: htslib's
    checksum error was silenced, and the line blamed the index (or said "truncated file" where
    only a middle container differs). Its @SQ M5 tells the cause, and the line says it. Without
    M5 (found by the fuzz battery's CRAM cases: the line blamed the index), each slice's
    reference MD5 tells it."""
    cram = _chr20_cram(tmp_path)
    if not m5:
        _without_m5(cram)
    spans = set()  # the records' REF bases stay, so that only the reads can tell
    for line in data_lines(SMOKE_VCF):
        pos, ref = int(line.split("\t")[1]), line.split("\t")[3]
        spans.update(range(pos, pos + len(ref)))
    sequence = bytearray(pysam.FastaFile(str(SMOKE_REF)).fetch("chr20").encode())
    swap = {ord("A"): ord("C"), ord("C"): ord("G"), ord("G"): ord("T"), ord("T"): ord("A")}
    for position in range(changed[0], changed[1], 50):
        if position not in spans:
            sequence[position - 1] = swap.get(sequence[position - 1], sequence[position - 1])
    other = tmp_path / "other.fa"
    with open(other, "wb") as handle:
        handle.write(b">chr20\n")
        handle.writelines(bytes(sequence[i : i + 60]) + b"\n" for i in range(0, len(sequence), 60))
    pysam.faidx(str(other))
    output = out_path(tmp_path)
    result = score_2d(output, ref=other, bam=cram)
    error = assert_input_error(result, output, cram)
    assert "it was written against another reference than other.fa: its " in error
    if m5:
        assert "its @SQ M5 of chr20" in error
    else:
        assert re.search(r"its slice at chr20:\d+-\d+ was encoded against bases whose MD5", error)
        assert "carries no M5" in error


@pytest.mark.parametrize(
    "damage",
    [
        lambda f: f[:2] + [str(int(f[2]) + 1)] + f[3:],  # offset: inside the header line
        lambda f: f[:3] + ["60", "61"],  # the same sequence written 60 bases a line
        lambda f: [f[0], str(int(f[1]) + 3)] + f[2:],  # a longer contig of the same name
    ],
)
def test_reference_index_of_another_fasta(tmp_path, damage):
    """A well-formed .fai that describes another FASTA: htslib would read other bases (mostly
    still A/C/G/T/N, so every score would move silently); one line naming the FASTA instead."""
    result, output, ref = _score_with_fai(tmp_path, damage)
    error = assert_input_error(result, output, ref)
    assert "index does not fit it" in error and "samtools faidx" in error


# --------------------------------------------------------------------------------------------
# -I


def test_reads_missing(tmp_path):
    output = out_path(tmp_path)
    bam = in_dir(tmp_path) / "absent.bam"
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=bam)
    assert_input_error(result, output, bam)


def test_reads_corrupt(tmp_path):
    output = out_path(tmp_path)
    bam = in_dir(tmp_path) / "garbage.bam"
    bam.write_bytes(bytes((i * 37 + 11) % 256 for i in range(20_000)))
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=bam)
    assert_input_error(result, output, bam)


def test_reads_without_index(tmp_path):
    output = out_path(tmp_path)
    bam = in_dir(tmp_path) / SMOKE_BAM.name
    shutil.copyfile(SMOKE_BAM, bam)  # no .bai beside it
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=bam)
    assert_input_error(result, output, bam)


def _later_half(folder: Path, suffix: str) -> Path:
    """The smoke reads from 10.05 Mb on, same header, as BAM or CRAM, indexed: a file whose
    index fits the smoke file's header but not its contents."""
    bam = folder / "later.bam"
    with (
        pysam.AlignmentFile(str(SMOKE_BAM)) as source,
        pysam.AlignmentFile(str(bam), "wb", header=source.header) as sink,
    ):
        for read in source.fetch("chr20", 10_050_000, 10_100_000):
            sink.write(read)
    pysam.index(str(bam))
    if suffix == ".bam":
        return bam
    cram = folder / "later.cram"
    pysam.view("-C", "-T", str(SMOKE_REF), "-o", str(cram), str(bam), catch_stdout=False)
    pysam.index(str(cram))
    return cram


@pytest.mark.parametrize("suffix", [".bam", ".cram"])
def test_reads_with_another_files_index(tmp_path, suffix):
    """htslib opens another file's index without a word and queries then find nothing (on the
    smoke BAM with such an index every query returned no reads): refused, naming both."""
    output = out_path(tmp_path)
    later = _later_half(in_dir(tmp_path), suffix)
    if suffix == ".bam":
        reads = f"{SMOKE_BAM}##idx##{later}.bai"
    else:
        whole = in_dir(tmp_path) / "whole.cram"
        pysam.view("-C", "-T", str(SMOKE_REF), "-o", str(whole), str(SMOKE_BAM),
                   catch_stdout=False)  # fmt: skip
        pysam.index(str(whole))
        reads = f"{whole}##idx##{later}.crai"
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=reads)
    error = assert_input_error(result, output, reads.split("##idx##")[0])
    assert "index" in error and ("another file" in error), error


@pytest.mark.parametrize("again", ["same path", "a link to it"])
def test_reads_given_twice(tmp_path, again):
    """Each read would count twice in every tensor and every score move: refused."""
    second = SMOKE_BAM
    if again == "a link to it":
        second = in_dir(tmp_path) / "link.bam"
        second.symlink_to(SMOKE_BAM)
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), extra=("-I", str(second)))
    assert "given twice" in assert_input_error(result, output, second)


def test_reads_with_an_index_of_another_reference(tmp_path):
    """HG002's index (86 contigs) given for the smoke BAM (25): refused before any query."""
    output = out_path(tmp_path)
    index = SMOKE_BAM.parents[1] / "hg002_chr20_10M_10.1M" / "HG002.chr20_10M_10.1M.bam.bai"
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=f"{SMOKE_BAM}##idx##{index}")
    error = assert_input_error(result, output, SMOKE_BAM)
    assert f"its index {index} describes 86 contigs and the file has 25 contigs" in error


def test_reads_naming_no_contig_of_the_reference(tmp_path):
    """HG002's BAM (b37's 1, 2, ... 20) against the smoke reference (chr20): every pileup would
    be empty and every score wrong, with exit 0; GATK stops ("No overlapping contigs found")."""
    output = out_path(tmp_path)
    other_build = SMOKE_BAM.parents[1] / "hg002_chr20_10M_10.1M" / "HG002.chr20_10M_10.1M.bam"
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=str(other_build))
    error = assert_input_error(result, output, other_build)
    assert "its contigs (1, 2, 3, 4, ...) share none with the reference ref.chr20.fa.gz" in error


# --------------------------------------------------------------------------------------------
# records that disagree with the reference or the model


def test_record_contig_not_in_reference(tmp_path):
    def rename(headers, records):
        chr20 = headers.index("##contig=<ID=chr20,length=63025520>")
        headers.insert(chr20 + 1, "##contig=<ID=chr20_renamed,length=63025520>")
        records[1] = set_column(records[1], 0, "chr20_renamed")

    vcf = small_vcf(tmp_path, edit=rename)
    bad = data_lines(vcf)[1]
    output = out_path(tmp_path)
    result = score_2d(output, vcf=vcf)
    error = assert_input_error(result, output, vcf, f"record {label(bad)}")
    assert "chr20_renamed" in error


def test_record_ref_mismatch(tmp_path):
    def change_ref(_headers, records):
        columns = records[1].split("\t")
        assert len(columns[3]) == 1, "the second smoke record is expected to be a SNP"
        columns[3] = {"A": "C", "C": "G", "G": "T", "T": "A"}[columns[3]]
        records[1] = "\t".join(columns)

    vcf = small_vcf(tmp_path, edit=change_ref)
    bad = data_lines(vcf)[1]
    output = out_path(tmp_path)
    result = score_2d(output, vcf=vcf)
    assert_input_error(result, output, vcf, f"record {label(bad)}")


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [(3, "R", "REF R has a base other than A, C, G, T and N"),
     (4, "{alt},,{alt2}", "ALT has an empty allele in its list"),
     (4, "{ref}", "allele {ref} is given twice"),
     (7, "MQ= 60.00", "INFO has a space")],
    ids=["iupac REF", "empty ALT", "ALT equals REF", "space in INFO"],
)  # fmt: skip
def test_records_gatks_vcf_reader_stops_on(tmp_path, column, value, says):
    """htsjdk stops GATK on these records; cnnscore scored them without a word (an IUPAC REF
    even passed the REF check, as the reference's N matches anything there)."""
    first = data_lines(SMOKE_VCF)[1].split("\t")
    ref, alt = first[3], first[4]
    alt2 = next(b for b in "ACGT" if b not in (ref, alt))
    value, says = (text.format(ref=ref, alt=alt, alt2=alt2) for text in (value, says))

    def change(_headers, records):
        records[1] = set_column(records[1], column, value)

    vcf = small_vcf(tmp_path, edit=change)
    bad = data_lines(vcf)[1]
    output = out_path(tmp_path)
    error = assert_input_error(score_2d(output, vcf=vcf), output, vcf, f"record {label(bad)}")
    assert says in error and "GATK's VCF reader stops here too" in error


def test_bad_record_while_earlier_chunks_are_still_running(tmp_path):
    """Small chunks on OpenVINO: when the 30th record fails, earlier chunks' requests are still
    in flight (scoring.score keeps one running while it encodes the next); the run still ends
    with the one error line and nothing written."""

    def change_ref(_headers, records):
        columns = records[29].split("\t")
        columns[3] = "".join({"A": "C", "C": "G", "G": "T", "T": "A"}[b] for b in columns[3])
        records[29] = "\t".join(columns)

    vcf = small_vcf(tmp_path, 40, edit=change_ref)
    bad = data_lines(vcf)[29]
    output = out_path(tmp_path)
    extra = ("--backend", "openvino", "--inference-batch-size", "4", "--threads", "2")
    result = score_2d(output, vcf=vcf, extra=extra)
    assert_input_error(result, output, vcf, f"record {label(bad)}")


@pytest.mark.parametrize(
    ("value", "says"),
    [(".", "annotation MQ is '.'"),
     ("inf", "annotation MQ is 'inf', beyond what a 32-bit float holds"),
     ("-Infinity", "annotation MQ is '-Infinity', beyond what a 32-bit float holds"),
     ("4e38", "annotation MQ is '4e38', beyond what a 32-bit float holds")],
    ids=["missing", "inf", "-Infinity", "past float32"],
)  # fmt: skip
def test_record_annotation_the_model_cannot_use(tmp_path, value, says):
    """A '.' stops GATK (float('.')); an infinite value GATK fed to the network, whose answer
    then depended on the runtime (0.148 on TensorFlow and OpenVINO, NaN on ONNX Runtime): each
    refused, naming key and record."""

    def set_mq(_headers, records):
        info = records[1].split("\t")[7]
        items = [f"MQ={value}" if item.startswith("MQ=") else item for item in info.split(";")]
        assert f"MQ={value}" in items, "the second smoke record is expected to carry MQ"
        records[1] = set_column(records[1], 7, ";".join(items))

    vcf = small_vcf(tmp_path, edit=set_mq)
    bad = data_lines(vcf)[1]
    output = out_path(tmp_path)
    result = score_2d(output, vcf=vcf)
    error = assert_input_error(result, output, vcf, f"record {label(bad)}")
    assert says in error


def _reads_with_one_changed(tmp_path: Path, vcf: Path, name: str, count: int, which: int,
                            change) -> tuple[Path, str]:  # fmt: skip
    """A BAM of the first ``count`` smoke reads over the VCF's first record, ``change(read)``
    applied to the read at ``which``; (the BAM, that record)."""
    record = data_lines(vcf)[0]
    chrom, pos = record.split("\t")[0], int(record.split("\t")[1])
    bam = in_dir(tmp_path) / name
    with pysam.AlignmentFile(SMOKE_BAM) as source:
        reads = list(source.fetch(chrom, pos - 1, pos))[:count]
        assert len(reads) == count
        with pysam.AlignmentFile(bam, "wb", header=source.header) as sink:
            for index, read in enumerate(reads):
                if index == which:
                    change(read)
                sink.write(read)
    pysam.index(str(bam))
    return bam, record


def test_a_read_without_base_qualities_is_dropped_as_gatk_drops_it(tmp_path):
    """GATK's WellformedReadFilter (MatchingBasesAndQuals) drops a read with QUAL '*' and scores
    the site from the others; the run stopped on it (a report-only review found it)."""
    vcf = small_vcf(tmp_path, count=1)

    def no_qualities(read) -> None:
        assert read.query_qualities is not None
        read.query_qualities = None  # QUAL '*'

    bam, record = _reads_with_one_changed(tmp_path, vcf, "no_quals.bam", 6, 3, no_qualities)
    chrom, pos = record.split("\t")[0], int(record.split("\t")[1])
    removed = in_dir(tmp_path) / "removed.bam"
    with pysam.AlignmentFile(bam) as check:
        stored = list(check.fetch(chrom, pos - 1, pos))
        assert len(stored) == 6 and sum(r.query_qualities is None for r in stored) == 1
        with pysam.AlignmentFile(removed, "wb", header=check.header) as sink:
            for read in stored:
                if read.query_qualities is not None:
                    sink.write(read)
    pysam.index(str(removed))
    outputs = {}
    for name, reads in (("dropped", bam), ("removed", removed)):
        outputs[name] = tmp_path / f"{name}.vcf"
        result = score_2d(outputs[name], vcf=vcf, bam=reads)
        assert result.returncode == 0, result.stderr
    assert data_lines(outputs["dropped"]) == data_lines(outputs["removed"])
    assert data_lines(outputs["dropped"]) != data_lines(vcf)  # scored


# --------------------------------------------------------------------------------------------
# flags and models


def test_read_tensor_without_reads(tmp_path):
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), bam=None)
    error = assert_input_error(result, output, "-I")
    assert "read_tensor" in error


def test_architecture_and_weights_disagree(tmp_path):
    architecture = MODELS / "1d_cnn_mix_train_full_bn.json"
    output = out_path(tmp_path)
    result = run_cli(
        "score", "-V", small_vcf(tmp_path), "-R", SMOKE_REF,
        "--architecture", architecture, "--weights", SMALL_2D_HD5, "-O", output,
    )  # fmt: skip
    error = assert_input_error(result, output)
    assert str(SMALL_2D_HD5) in error or str(architecture) in error, (
        f"error names neither the architecture nor the weights: {error}"
    )


def test_weights_not_hdf5(tmp_path):
    weights = in_dir(tmp_path) / "small_2d.hd5"
    weights.write_bytes(b"this is not an HDF5 file\n" * 100)
    with pytest.raises(OSError):
        h5py.File(weights, "r").close()
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), weights=weights)
    assert_input_error(result, output, weights)


@pytest.mark.parametrize("backend", ["openvino", "tensorflow"])
def test_weights_that_score_nan_are_refused(tmp_path, backend):
    """Weights of a training run that diverged are NaN, and every score with them is `nan`: it
    was written, exit 0, and only FilterVariantTranches stopped at it. The record and the
    weights are named, and nothing is written."""
    weights = in_dir(tmp_path) / "diverged.hd5"
    shutil.copy(SMALL_2D_HD5, weights)
    with h5py.File(weights, "r+") as handle:
        handle["model_weights/softmax_predictions/softmax_predictions/bias:0"][...] = np.nan
    output = out_path(tmp_path)
    vcf = small_vcf(tmp_path)
    result = score_2d(output, vcf=vcf, weights=weights, extra=("--backend", backend))
    first = label(data_lines(vcf)[0])
    error = assert_input_error(result, output, weights, f"record {first}")
    assert "the model scores it nan" in error


def test_output_folder_missing(tmp_path):
    output = tmp_path / "no_such_folder" / "out.vcf.gz"
    result = score_2d(output, vcf=small_vcf(tmp_path))
    assert_input_error(result, output, output)
    assert not output.parent.exists()


def test_output_parent_is_a_file(tmp_path):
    parent = tmp_path / "a_file"
    parent.write_text("not a folder\n")
    output = parent / "out.vcf.gz"
    result = score_2d(output, vcf=small_vcf(tmp_path))
    assert_input_error(result, output, output)
    assert parent.read_text() == "not a folder\n"
    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("a_file", "in"))
    assert not left, f"files left beside the output's parent: {left}"


@pytest.mark.parametrize("where", ["-O", "its index", "--metrics-json", "metrics' folder"])
def test_an_output_that_only_the_last_step_could_not_write(tmp_path, where):
    """A folder where the output, its index or the metrics go, or no folder for the metrics:
    found before scoring (it was a traceback at the final rename, or exit 1 with the scored
    VCF left behind), one line, nothing written."""
    output = out_path(tmp_path)
    extra: tuple[str, ...] = ()
    if where == "-O":
        output.mkdir()
    elif where == "its index":
        Path(f"{output}.tbi").mkdir()
    elif where == "--metrics-json":
        extra = ("--metrics-json", str(in_dir(tmp_path)))
    else:
        extra = ("--metrics-json", str(tmp_path / "no_such_folder" / "m.json"))
    result = score_2d(output, vcf=small_vcf(tmp_path), extra=extra)
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR_PREFIX)]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    assert "Traceback" not in result.stderr
    expected = {
        "-O": "is a folder",
        "its index": "a folder is where its index goes",
        "--metrics-json": "is a folder",
        "metrics' folder": "output folder does not exist",
    }
    assert expected[where] in errors[0], errors[0]
    left = sorted(p.name for p in output.parent.iterdir())
    assert left == (["out.vcf.gz"] if where == "-O" else ["out.vcf.gz.tbi"] if where == "its index"
                    else []), left  # fmt: skip


@pytest.mark.parametrize("name", ["out.vcf.gz", "out.bcf", "out.vcf"])
def test_unsorted_records_for_an_indexed_output(tmp_path, name):
    """An index needs sorted records: found at the first one out of order, naming it (htslib
    found it only after the whole run, a traceback); without an index the same VCF scores."""

    def swap(_headers, records):
        records[1], records[2] = records[2], records[1]

    vcf = small_vcf(tmp_path, count=4, edit=swap)
    (chrom, late), (_, early) = (line.split("\t")[:2] for line in data_lines(vcf)[1:3])
    assert int(early) < int(late)
    output = out_path(tmp_path, name)
    error = assert_input_error(score_2d(output, vcf=vcf), output, vcf)
    assert f"record {chrom}:{early} comes after {chrom}:{late}" in error
    unindexed = out_path(tmp_path, "unindexed.vcf.gz")
    result = score_2d(unindexed, vcf=vcf, extra=("--create-output-variant-index", "false"))
    assert result.returncode == 0, result.stderr
    assert len(data_lines(unindexed)) == 4


def test_unknown_backend(tmp_path):
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), extra=("--backend", "no_such_backend"))
    error = assert_input_error(result, output, "--backend")
    assert "no_such_backend" in error


def test_vcf_contig_length_disagrees_with_reference(tmp_path):
    def lengthen(headers, _records):
        old = "##contig=<ID=chr20,length=63025520>"
        assert old in headers
        headers[headers.index(old)] = "##contig=<ID=chr20,length=63025521>"

    vcf = small_vcf(tmp_path, edit=lengthen)
    output = out_path(tmp_path)
    result = score_2d(output, vcf=vcf)
    error = assert_input_error(result, output, vcf)
    assert "chr20" in error


def test_resource_with_another_files_index(tmp_path):
    """A truth resource whose .tbi is another VCF's: refused, not read as if it had no sites."""
    output = out_path(tmp_path)
    resource = in_dir(tmp_path) / "truth.vcf.gz"
    shutil.copyfile(SMOKE_VCF.parent / "giab_truth.vcf.gz", resource)
    shutil.copyfile(f"{SMOKE_VCF}.tbi", f"{resource}.tbi")  # the HaplotypeCaller calls' index
    scored = SMOKE_VCF.parent / "gatk460_oracle.cnn_2d.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", resource, "-O", output)
    error = assert_input_error(result, output, resource)
    assert "the index belongs to another file" in error


# --------------------------------------------------------------------------------------------
# records that do not fit their header (htsjdk refuses them; a copy that stopped early)


def _cut_short(headers, records) -> None:
    """The last record cut in its INFO, as a download that stopped leaves it."""
    records[-1] = records[-1][: records[-1].index("AN=") + 3]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_cut_short, "has no newline at its end: the file stops in the middle of a record"),
        (
            lambda h, r: r.__setitem__(1, "\t".join(r[1].split("\t")[:9])),
            "has 9 columns but the header's #CHROM line has 10",
        ),
        (
            lambda h, r: r.__setitem__(1, r[1] + "\t0/1"),
            "has 11 columns but the header's #CHROM line has 10",
        ),
        (
            lambda h, r: r.__setitem__(1, r[1].replace(";AN=2;", ";AN=;")),
            "has an empty value for INFO AN",
        ),
        (
            lambda h, r: r.__setitem__(1, r[1] + ":7"),
            "has a sample with more fields than FORMAT GT:AD:DP:GQ:PL names",
        ),
    ],
    ids=["cut short", "a column missing", "a column extra", "empty INFO value", "FORMAT/sample"],
)
def test_records_that_do_not_fit_the_header(tmp_path, edit, expected):
    output = out_path(tmp_path)
    vcf = small_vcf(tmp_path, 3, edit=edit)
    if edit is _cut_short:  # no newline after the cut
        vcf.write_text(vcf.read_text().rstrip("\n"))
    result = score_2d(output, vcf=vcf)
    error = assert_input_error(result, output, vcf)
    assert expected in error, error


def _bgzf_block_starts(data: bytes) -> list[int]:
    """Where each BGZF block of ``data`` starts (BSIZE, bytes 16-17 of a block, is its size - 1)."""
    starts, at = [], 0
    while at < len(data):
        starts.append(at)
        at += int.from_bytes(data[at + 16 : at + 18], "little") + 1
    return starts


def _smoke_calls_in_blocks(tmp_path: Path) -> bytes:
    """The smoke calls, each record eight times (sorted), bgzipped: several 64 KiB blocks."""
    plain = in_dir(tmp_path) / "many.vcf"
    records = [line for line in data_lines(SMOKE_VCF) for _ in range(8)]
    plain.write_text("\n".join([*header_lines(SMOKE_VCF), *records]) + "\n")
    pysam.tabix_compress(str(plain), f"{plain}.gz")
    plain.unlink()
    data = Path(f"{plain}.gz").read_bytes()
    Path(f"{plain}.gz").unlink()
    return data


@pytest.mark.parametrize("cut", ["after the second block", "only the end-of-file block"])
@pytest.mark.parametrize("command", ["score", "compare"])
def test_a_bgzip_vcf_cut_between_blocks(tmp_path, cut, command):
    """Cut where a block ends (a copy or a write that stopped), every block left is whole: gzip
    read the records before the cut as the whole file, its last line part of a record, and
    score and compare went on with exit 0 (the missing-newline check was for plain files)."""
    data = _smoke_calls_in_blocks(tmp_path)
    starts = _bgzf_block_starts(data)
    assert len(starts) > 4, "the test needs several blocks"
    kept = data[: starts[2]] if cut == "after the second block" else data[: starts[-1]]
    vcf = in_dir(tmp_path) / "cut.vcf.gz"
    vcf.write_bytes(kept)
    output = out_path(tmp_path)
    if command == "score":
        result = score_2d(output, vcf=vcf)
    else:
        output = output.with_name("report")
        full = in_dir(tmp_path) / "full.vcf.gz"
        full.write_bytes(data)
        args = ("compare", "--baseline", full, "--candidate", vcf, "--info-key", "MQ")
        result = run_cli(*args, "-O", output)
    error = assert_input_error(result, output, vcf)
    assert error.endswith("the bgzip file ends without its end-of-file block: it was cut short "
                          "(a copy or a write that stopped), so records may be missing; copy or "
                          "write it again"), error  # fmt: skip


@pytest.mark.parametrize("command", ["filter", "write-tensors"])
def test_a_resource_or_truth_vcf_cut_between_blocks(tmp_path, command):
    """Truth sets are read by their index, not as the input is: cut between blocks, the index
    still answered, with the sites after the cut missing (cutoffs moved, labels turned false)."""
    truth = in_dir(tmp_path) / "truth.vcf.gz"
    data = (SMOKE_VCF.parent / "giab_truth.vcf.gz").read_bytes()
    truth.write_bytes(data[: _bgzf_block_starts(data)[-1]])  # the end-of-file block lost
    shutil.copyfile(SMOKE_VCF.parent / "giab_truth.vcf.gz.tbi", f"{truth}.tbi")
    output = out_path(tmp_path, "out.vcf.gz" if command == "filter" else "store")
    if command == "filter":
        scored = SMOKE_VCF.parent / "gatk460_oracle.cnn_2d.vcf.gz"
        result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    else:
        bed = SMOKE_VCF.parent / "giab_truth.bed"
        result = run_cli("write-tensors", "-V", SMOKE_VCF, "-R", SMOKE_REF, "--truth-vcf", truth,
                         "--truth-bed", bed, "-O", output)  # fmt: skip
    error = assert_input_error(result, output, truth)
    assert error.endswith("the bgzip file ends without its end-of-file block: it was cut short "
                          "(a copy or a write that stopped), so records may be missing; copy or "
                          "write it again"), error  # fmt: skip


# --------------------------------------------------------------------------------------------
# a record whose END lies before its POS (GATK: SimpleInterval refuses end < start)


def _end_before_pos(headers, records) -> None:
    """The second record made a symbolic deletion whose END is 61 bases before its POS."""
    headers.insert(1, '##INFO=<ID=END,Number=1,Type=Integer,Description="End position">')
    chrom, pos, *_ = records[1].split("\t")
    record = set_column(records[1], 4, "<DEL>")
    records[1] = set_column(record, 7, f"END={int(pos) - 61};MQ=60")


@pytest.mark.parametrize("where", ["score", "score -L", "split-intervals"])
def test_record_end_before_pos(tmp_path, where):
    """Scored, it was kept; under an -L covering its POS it vanished; split-intervals wrote a
    reversed shard; given as -L it gave a line blaming -XL. Each is now refused where the
    record is read, naming the file and the record."""
    vcf = small_vcf(tmp_path, edit=_end_before_pos)
    bad = data_lines(vcf)[1]
    output = out_path(tmp_path, "shards" if where == "split-intervals" else "out.vcf.gz")
    if where == "score":
        result = score_2d(output, vcf=vcf)
    elif where == "score -L":  # the broken VCF is the intervals; the smoke VCF is scored
        result = score_2d(output, extra=("-L", str(vcf)))
    else:
        args = ("split-intervals", "-V", vcf, "-R", SMOKE_REF, "--scatter-count", "3", "-O")
        result = run_cli(*args, output)
    error = assert_input_error(result, output, vcf, f"record {label(bad)}")
    pos = int(bad.split("\t")[1])
    assert error.endswith(f": END {pos - 61} is before POS {pos}"), error


# --------------------------------------------------------------------------------------------
# headers htsjdk refuses when it reads them (and htslib cannot write as BCF)


def _sample_twice(headers, records) -> None:
    headers[-1] += "\t" + headers[-1].split("\t")[9]
    records[:] = [f"{line}\t{line.split(chr(9))[9]}" for line in records]


def _length_not_a_number(headers, _records) -> None:
    at = headers.index("##contig=<ID=chr20,length=63025520>")
    headers[at] = "##contig=<ID=chr20,length=abc>"


@pytest.mark.parametrize("name", ["out.vcf", "out.bcf"])
@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_sample_twice, "sample NA12878 is named twice in the #CHROM line"),
        (_length_not_a_number, "##contig chr20 has length 'abc', not a number"),
    ],
    ids=["a sample twice", "a contig length not a number"],
)
def test_headers_that_htsjdk_refuses(tmp_path, edit, expected, name):
    """Written into a .vcf with exit 0, a traceback for .bcf: now refused when the header is
    read, whatever the output."""
    output = out_path(tmp_path, name)
    vcf = small_vcf(tmp_path, edit=edit)
    error = assert_input_error(score_2d(output, vcf=vcf), output, vcf)
    assert error.endswith(expected), error


# --------------------------------------------------------------------------------------------
# BCF output of a header htslib cannot encode (htsjdk's BCF2Writer refuses these too)


def _no_contig_lines(headers, _records) -> None:
    headers[:] = [line for line in headers if not line.startswith("##contig=")]


def _undeclared(column: int, old: str, new: str):
    """An edit of the second record's ``column``: ``old`` replaced by ``new``."""

    def edit(_headers, records):
        value = records[1].split("\t")[column]
        assert old in value
        records[1] = set_column(records[1], column, value.replace(old, new))

    return edit


def _symbolic_without_end_line(headers, records) -> None:
    """The second record a symbolic deletion with END and SVTYPE, neither declared."""
    pos = int(records[1].split("\t")[1])
    records[1] = set_column(records[1], 4, "<DEL>")
    records[1] = set_column(records[1], 7, f"END={pos + 61};MQ=60;SVTYPE=DEL")


BCF_HEADERS = {
    "no ##contig lines": (_no_contig_lines, "the header has no ##contig lines"),
    "INFO": (_undeclared(7, "AC=", "FOO=1;AC="), "INFO FOO has no ##INFO line"),
    "FILTER": (_undeclared(6, ".", "MYFILTER"), "FILTER MYFILTER has no ##FILTER line"),
    "FORMAT": (_undeclared(8, ":PL", ":PL:ZZ"), "FORMAT ZZ has no ##FORMAT line"),
    "symbolic END": (_symbolic_without_end_line, "INFO END has no ##INFO line"),
}


@pytest.mark.parametrize("case", BCF_HEADERS)
def test_bcf_output_of_a_header_htslib_cannot_encode(tmp_path, case):
    """A traceback from htslib after all the work ("Can't write record"); the same input to
    .vcf.gz is written. Now one line naming the input, the record and the missing definition."""
    edit, expected = BCF_HEADERS[case]
    vcf = small_vcf(tmp_path, edit=edit)
    output = out_path(tmp_path, "out.bcf")
    error = assert_input_error(score_2d(output, vcf=vcf), output, vcf)
    assert expected in error and "BCF output needs" in error, error
    if case != "no ##contig lines":
        assert f"record {label(data_lines(vcf)[1])}: " in error, error


@pytest.mark.parametrize("command", ["filter", "gather-vcfs"])
def test_bcf_output_without_contig_lines_in_filter_and_gather(tmp_path, command):
    """Both crashed as score did, after the work."""
    golden = SMOKE_VCF.parent / "gatk460_oracle.cnn_2d.vcf.gz"
    scored = in_dir(tmp_path) / "scored.vcf"
    lines = [h for h in header_lines(golden) if not h.startswith("##contig=")]
    scored.write_text("\n".join([*lines, *data_lines(golden)]) + "\n")
    output = out_path(tmp_path, "out.bcf")
    truth = SMOKE_VCF.parent / "giab_truth.vcf.gz"
    args = ("-V", scored, "--resource", truth) if command == "filter" else ("-I", scored)
    result = run_cli(command, *args, "-O", output)
    assert "the header has no ##contig lines" in assert_input_error(result, output, scored)


# --------------------------------------------------------------------------------------------
# an earlier output's index of another kind


def test_an_earlier_outputs_csi_goes_when_the_new_output_is_published(tmp_path):
    """htslib prefers a .csi to a .tbi: an old .csi left beside the new .vcf.gz (published with
    a .tbi) answered region queries from the old file's offsets, finding nothing. A failed run
    leaves the old output and its .csi as they were; a complete one takes the .csi away."""
    output = out_path(tmp_path)
    records = data_lines(SMOKE_VCF)
    with pysam.BGZFile(str(output), "wb") as old:
        old.write(("\n".join([*header_lines(SMOKE_VCF), *records[99:110]]) + "\n").encode())
    pysam.bcftools.index(str(output))  # bcftools' default: a .csi
    before = output.read_bytes(), Path(f"{output}.csi").read_bytes()

    bad = small_vcf(tmp_path, edit=lambda _h, r: r.__setitem__(1, set_column(r[1], 3, "A")))
    assert score_2d(output, vcf=bad).returncode == 1
    assert (output.read_bytes(), Path(f"{output}.csi").read_bytes()) == before

    result = score_2d(output, vcf=small_vcf(tmp_path, 5))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in output.parent.iterdir()) == ["out.vcf.gz", "out.vcf.gz.tbi"]
    chrom, pos = records[1].split("\t")[:2]
    with pysam.VariantFile(str(output)) as scored:
        found = [r.pos for r in scored.fetch(chrom, int(pos) - 1, int(pos))]
    assert found == [int(pos)]


# --------------------------------------------------------------------------------------------
# -L intervals off their contig (GATK's GenomeLocParser refuses a start below 1 and an end past
# the contig: "The genome loc coordinates ... exceed the contig size")

CHR20_LENGTH = 63_025_520

INTERVALS_OFF_THE_CONTIG = {
    "BED start below 0": ("x.bed", "chr20\t-5\t10000300\n", "line 1: the interval starts (-5)"),
    "interval list start 0": (
        "x.interval_list",
        f"@HD\tVN:1.6\n@SQ\tSN:chr20\tLN:{CHR20_LENGTH}\nchr20\t0\t10000300\t+\t.\n",
        "line 3: the interval starts (0)",
    ),
    "BED end past the contig": (
        "x.bed", f"chr20\t10000000\t{CHR20_LENGTH + 1}\n", "line 1: the interval ends past"
    ),
    "interval list end past the contig": (
        "x.interval_list", f"@HD\tVN:1.6\nchr20\t10000000\t{CHR20_LENGTH + 1}\t+\t.\n",
        "line 2: the interval ends past",
    ),
    "GATK interval file": ("x.list", "chr20:10000000-10000300\nchr20:0-10\n", "line 2: interval"),
    "-L chr:a-b past the contig": (
        None, "chr20:5-99999999999", "-L: interval 'chr20:5-99999999999' ends past"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", INTERVALS_OFF_THE_CONTIG)
def test_intervals_off_the_contig(tmp_path, case):
    """Files took a start below 1 and clipped an end past the contig without a word (while -L
    chr20:0-10 was refused); chr:a-b clipped its end too. All refused, naming the file and line
    (or the -L value)."""
    name, content, expected = INTERVALS_OFF_THE_CONTIG[case]
    value = content
    if name is not None:
        value = in_dir(tmp_path) / name
        value.write_text(content)
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), extra=("-L", str(value)))
    error = assert_input_error(result, output, value)
    assert expected in error, error


def test_a_vcf_given_as_intervals_with_a_span_past_its_contig(tmp_path):
    """GATK makes each record of a VCF given as -L an interval that must lie on the reference."""

    def at_the_end(headers, records):
        headers.insert(1, '##INFO=<ID=END,Number=1,Type=Integer,Description="End position">')
        records[1] = "\t".join(
            ["chr20", str(CHR20_LENGTH - 10), ".", "N", "<DEL>", "50", ".",
             f"END={CHR20_LENGTH + 90}", "GT", "0/1"]
        )  # fmt: skip

    sites = small_vcf(tmp_path, edit=at_the_end, name="sites.vcf")
    output = out_path(tmp_path)
    result = score_2d(output, vcf=small_vcf(tmp_path), extra=("-L", str(sites)))
    error = assert_input_error(result, output, sites, f"record chr20:{CHR20_LENGTH - 10} N><DEL>")
    assert error.endswith(f"lies outside chr20 ({CHR20_LENGTH:,} bases)"), error


# --------------------------------------------------------------------------------------------
# the line names the input at fault


def test_a_vcf_piped_to_dev_stdin(tmp_path):
    """`cat calls.vcf | cnnscore score -V /dev/stdin` said the VCF "does not exist": it is a
    pipe, which cannot be read more than once, as the VCF is."""
    output = out_path(tmp_path)
    vcf = small_vcf(tmp_path).read_text()
    result = run_cli(
        "score", "-V", "/dev/stdin", "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
        "read_tensor", "--weights", SMALL_2D_HD5, "--architecture", SMALL_2D_JSON, "-O", output,
        stdin_text=vcf,
    )  # fmt: skip
    error = assert_input_error(result, output, "/dev/stdin")
    assert "is not a regular file (a pipe or a device)" in error, error


@pytest.mark.parametrize("encoder", ["python", "compiled"])
def test_a_read_with_equals_bases_names_the_reads_file(tmp_path, encoder):
    """'=' in a read's SEQ (BAM's "same as the reference"): GATK fails too, but the line named
    the VCF; it names the reads file and the record."""
    vcf = small_vcf(tmp_path, count=1)

    def equals_bases(read) -> None:
        qualities, bases = read.query_qualities, read.query_sequence
        read.query_sequence = bases[:30] + "=" * 10 + bases[40:]
        read.query_qualities = qualities

    bam, record = _reads_with_one_changed(tmp_path, vcf, "equals.bam", 8, 2, equals_bases)
    output = out_path(tmp_path)
    result = score_2d(output, vcf=vcf, bam=bam, extra=("--encoder", encoder))
    error = assert_input_error(result, output, f"{bam}: record {label(record)}: ")
    assert error.endswith("unknown symbol '=' in a read sequence") and str(vcf) not in error


# --------------------------------------------------------------------------------------------
# running out of memory

#: Python run before the CLI: the output's first write (its header) goes through, the next one
#: raises MemoryError, as an allocation does when the task's memory is spent
MEMORY_RUNS_OUT = """
from cnnscore.io.vcf_output import AtomicVcfWriter
written = AtomicVcfWriter.write_lines
def write_lines(self, *args, **kwargs):
    self.calls = getattr(self, "calls", 0) + 1
    if self.calls > 1:
        raise MemoryError()
    return written(self, *args, **kwargs)
AtomicVcfWriter.write_lines = write_lines
"""


@pytest.mark.parametrize("command", ["score", "gather-vcfs"])
def test_running_out_of_memory_is_one_line_that_cromwell_retries_on(tmp_path, command):
    """A MemoryError printed a traceback ending in ``MemoryError``, which neither of the words
    Cromwell's "retry with more memory" greps a task's stderr for (``OutOfMemory``, ``Killed``)
    matches: one ``cnnscore: error: OutOfMemory`` line, exit 1, the half-written output and its
    metrics removed; the batch sizes are suggested where the command has them."""
    output = out_path(tmp_path)
    if command == "score":
        args = ["score", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type",
                "read_tensor", "--weights", SMALL_2D_HD5, "--architecture", SMALL_2D_JSON,
                "--metrics-json", output.parent / "metrics.json", "-O", output]  # fmt: skip
    else:
        args = ["gather-vcfs", "-I", SMOKE_VCF, "-O", output]
    result = run_cli(*args, prelude=MEMORY_RUNS_OUT)
    error = assert_input_error(result, output)
    assert error.startswith("cnnscore: error: OutOfMemory: "), error
    assert "more memory" in error
    batch_sizes = "--inference-batch-size / --transfer-batch-size"
    assert (batch_sizes in error) is (command == "score"), error

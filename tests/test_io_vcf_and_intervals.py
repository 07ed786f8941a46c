"""VCF text handling, htsjdk typing, INFO editing, atomic output and -L intervals."""

from __future__ import annotations

import gzip
import random
import re
from itertools import pairwise
from pathlib import Path

import numpy as np
import pysam
import pytest

from cnnscore.encode.reference_tensor import annotation_vector
from cnnscore.encode.variant_type import (
    SiteType,
    allele_problem,
    is_symbolic_or_sv,
    site_type,
    tensor_type_label,
)
from cnnscore.errors import InputError
from cnnscore.io import vcf_output
from cnnscore.io.intervals import (
    Interval,
    IntervalFilter,
    merge_intervals,
    parse_intervals,
    resolve_intervals,
)
from cnnscore.io.vcf_output import AtomicVcfWriter, annotate_info, annotated_header
from cnnscore.io.vcf_text import VcfReader
from conftest import TESTDATA

LENGTHS = {"chr1": 1000, "chr2": 500}


@pytest.mark.parametrize(
    ("ref", "alts", "expected", "label"),
    [
        ("A", ["T"], SiteType.SNP, "SNP"),
        ("A", ["T", "G"], SiteType.SNP, "SNP"),  # multi-allelic SNP
        ("G", ["GACAC", "GACACAC"], SiteType.INDEL, "INDEL"),
        ("CTCTT", ["C"], SiteType.INDEL, "INDEL"),
        ("AC", ["TG"], SiteType.MNP, "OTHER"),
        ("A", ["T", "AT"], SiteType.MIXED, "OTHER"),
        ("A", ["<NON_REF>"], SiteType.SYMBOLIC, "OTHER"),
        ("A", ["T", "<NON_REF>"], SiteType.MIXED, "OTHER"),
        ("A", ["T", "*"], SiteType.SNP, "SNP"),  # '*' has length 1 in htsjdk
        ("A", [], SiteType.NO_VARIATION, "OTHER"),
        ("A", ["A[chr2:10["], SiteType.SYMBOLIC, "OTHER"),
        ("C", ["CA", "."], SiteType.INDEL, "INDEL"),  # htsjdk drops a no-call ALT (was MIXED)
        ("C", [".", "T"], SiteType.SNP, "SNP"),
    ],
)
def test_htsjdk_site_types(ref, alts, expected, label):
    assert site_type(ref, alts) is expected
    assert tensor_type_label(expected) == label


@pytest.mark.parametrize(
    ("ref", "alts", "says"),
    [
        ("R", ["A"], "REF R has a base other than"),
        ("A", ["Y"], "ALT Y has a base other than"),
        ("A", ["A-"], "ALT A- has a base other than"),
        ("C", ["A", "", "G"], "ALT has an empty allele"),
        ("T", ["T"], "allele T is given twice"),
        ("T", ["t"], "allele t is given twice"),
        ("T", ["A", "A"], "allele A is given twice"),
        ("T", ["<NON_REF>", "<NON_REF>"], "allele <NON_REF> is given twice"),
        ("<DEL>", ["A"], "REF <DEL> is a symbolic allele"),
    ],
)
def test_alleles_htsjdk_stops_on(ref, alts, says):
    """What htsjdk's VCF reader stops GATK on (AbstractVCFCodec.checkAllele, VariantContext's
    duplicate check): score refuses it (test_cli_bad_input), where it scored such records."""
    problem = allele_problem(ref, alts)
    assert problem is not None and problem.startswith(says)


@pytest.mark.parametrize(
    "alts", [["T"], ["*"], ["T", "*"], ["<NON_REF>"], ["T", "<NON_REF>"], ["CA", "."], [],
             ["A[chr2:10["], ["acgtn"], [".T"]],
)  # fmt: skip
def test_alleles_htsjdk_reads(alts):
    assert allele_problem("C", alts) is None


def test_symbolic_or_sv():
    assert is_symbolic_or_sv("A", ["<DEL>"])
    assert is_symbolic_or_sv("A", ["A" + "C" * 151])  # insertion longer than 150
    assert not is_symbolic_or_sv("A" + "C" * 200, ["A"])  # deletions never count (htsjdk)
    assert not is_symbolic_or_sv("A", ["T", "<NON_REF>"])  # MIXED, not SYMBOLIC


def test_annotate_info_inserts_sorted_replaces_and_handles_empty():
    assert annotate_info("AC=1;BaseQRankSum=0.1;ClippingRankSum=0;DB", "CNN_1D", "2.432") == (
        "AC=1;BaseQRankSum=0.1;CNN_1D=2.432;ClippingRankSum=0;DB"
    )
    assert annotate_info("Z=1;A=2", "CNN_2D", "1.000") == "CNN_2D=1.000;Z=1;A=2"  # no re-sorting
    assert annotate_info("DP=3;CNN_2D=9.9;X=1", "CNN_2D", "-0.000") == "DP=3;CNN_2D=-0.000;X=1"
    assert annotate_info(".", "CNN_2D", "1.500") == "CNN_2D=1.500"
    assert annotate_info("zz=1", "CNN_2D", "1.500") == "CNN_2D=1.500;zz=1"
    # a key given twice (malformed input) is written once, with the new score
    assert annotate_info("CNN_1D=1;DP=3;CNN_1D=2", "CNN_1D", "-4.962") == "CNN_1D=-4.962;DP=3"


def test_annotated_header_places_and_replaces_info_line():
    header = [
        "##fileformat=VCFv4.2",
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="x">',
        '##INFO=<ID=CNN_2D,Number=1,Type=String,Description="old">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">',
        "#CHROM\tPOS",
    ]
    lines = annotated_header(header, "CNN_2D", "##cnnscoreCommandLine=<ID=score>")
    assert [line[:15] for line in lines] == [
        "##fileformat=VC",
        "##INFO=<ID=AC,N",
        "##INFO=<ID=CNN_",
        "##INFO=<ID=DP,N",
        "##cnnscoreComma",
        "#CHROM\tPOS",
    ]
    assert sum(line.startswith("##INFO=<ID=CNN_2D") for line in lines) == 1
    assert lines[2].endswith('2D Convolutional Neural Network">')
    assert lines[-2] == "##cnnscoreCommandLine=<ID=score>" and lines[-1] == "#CHROM\tPOS"
    bare = annotated_header(["##fileformat=VCFv4.2", "#CHROM"], "CNN_1D")
    assert bare[1].startswith("##INFO=<ID=CNN_1D") and bare[-1] == "#CHROM"


#: a header with one contig and one record on it
ONE_RECORD = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr1,length=1000>",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    "chr1\t5\t.\tA\tC\t.\t.\t.",
]


def test_atomic_writer_publishes_only_on_commit(tmp_path):
    target = tmp_path / "out.vcf.gz"
    writer = AtomicVcfWriter(str(target))
    writer.write_lines(["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"])
    assert not target.exists()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
    writer = AtomicVcfWriter(str(target))
    writer.write_lines(ONE_RECORD)
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.vcf.gz", "out.vcf.gz.tbi"]
    with gzip.open(target, "rt") as handle:
        assert handle.read().endswith("chr1\t5\t.\tA\tC\t.\t.\t.\n")


def test_output_name_of_no_vcf_extension_is_plain_vcf(tmp_path, capsys):
    """As GATK: htsjdk cannot tell the type, and GATK writes plain VCF (it was refused)."""
    writer = AtomicVcfWriter(str(tmp_path / "out.txt"))
    writer.write_lines(["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"])
    writer.commit()
    # indexed as a plain .vcf, the index named as GATK names it (Tribble.indexPath: name + .idx)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt", "out.txt.idx"]
    assert (tmp_path / "out.txt").read_text().startswith("##fileformat=VCFv4.2\n")
    assert "does not end in .vcf, .vcf.gz or .bcf: written as plain VCF" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["out.VCF.GZ", "out.gz", "out.vcf.bgzf", "out.vcf.gzip"])
def test_output_names_gatk_compresses_are_bgzip_with_a_tbi(tmp_path, capsys, name):
    """GATK writes bgzip VCF for any name ending in .gz, .gzip, .bgz or .bgzf in any case (its
    writer asks htsjdk's IOUtil.hasBlockCompressedExtension); these were written as plain text
    under the compressed name."""
    target = tmp_path / name
    writer = AtomicVcfWriter(str(target))
    writer.write_lines(ONE_RECORD)
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name, name + ".tbi"]
    assert target.read_bytes()[:4] == b"\x1f\x8b\x08\x04"  # BGZF's first block
    with pysam.TabixFile(str(target), index=str(target) + ".tbi") as tabix:
        assert list(tabix.fetch("chr1", 0, 10)) == ["chr1\t5\t.\tA\tC\t.\t.\t."]
    assert "note" not in capsys.readouterr().err


def test_bcf_output_says_gatk_does_not_read_it(tmp_path, capsys):
    writer = AtomicVcfWriter(str(tmp_path / "out.bcf"))
    writer.write_lines(
        ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=1000>",
         "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    )  # fmt: skip
    writer.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bcf", "out.bcf.csi"]
    assert "written as BCF 2.2, which bcftools reads and GATK 4.6 does not" in (
        capsys.readouterr().err
    )


def write_vcf(path, records, header_extra=()):
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=1000>",
        "##contig=<ID=chr2,length=500>",
        '##INFO=<ID=END,Number=1,Type=Integer,Description="e">',
        *header_extra,
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    path.write_text("\n".join(lines + records) + "\n")
    return path


RECORDS = [
    "chr1\t10\t.\tA\tC\t.\t.\t.",
    "chr1\t95\t.\tACGTACGTAC\tA\t.\t.\t.",  # spans 95-104
    "chr1\t200\t.\tA\t<DEL>\t.\t.\tEND=260",
    "chr1\t300\t.\tA\tT\t.\t.\t.",
    "chr2\t50\t.\tG\tT\t.\t.\t.",
]


def test_reader_parses_records_and_end(tmp_path):
    reader = VcfReader(str(write_vcf(tmp_path / "a.vcf", RECORDS)))
    records = list(reader.records())
    assert [(r.chrom, r.pos, r.end) for r in records] == [
        ("chr1", 10, 10),
        ("chr1", 95, 104),
        ("chr1", 200, 260),
        ("chr1", 300, 300),
        ("chr2", 50, 50),
    ]
    assert reader.contig_lengths == {"chr1": 1000, "chr2": 500}
    assert records[0].line == RECORDS[0]


@pytest.mark.parametrize("indexed", [False, True])
def test_interval_selection_streamed_and_indexed_agree(tmp_path, indexed):
    path = write_vcf(tmp_path / "a.vcf", RECORDS)
    if indexed:
        path = pysam.tabix_index(str(path), preset="vcf", force=True)
    reader = VcfReader(str(path))
    # 100-110 overlaps the deletion at 95-104; 250 overlaps the END=260 record; chr2 whole contig;
    # the deletion also overlaps 96-97, and must come out once.
    chosen = IntervalFilter(
        parse_intervals(["chr1:100-110", "chr1:96-97", "chr1:250", "chr2"], LENGTHS)
    )
    assert [(r.chrom, r.pos) for r in reader.records(chosen)] == [
        ("chr1", 95),
        ("chr1", 200),
        ("chr2", 50),
    ]


@pytest.mark.parametrize("header_lists_contigs", [True, False])
def test_indexed_intervals_come_in_the_dictionarys_contig_order(tmp_path, header_lists_contigs):
    """Records of chr2 before chr1 in the file (a file sorted by name, chr10 before chr2, is the
    real case): GATK traverses its -L intervals sorted by the VCF header's dictionary, or the
    reference's where the header has none, so chr1's records come first (they came in the
    file's order, and with them the reservoir's random stream)."""
    header = ["##fileformat=VCFv4.2"]
    if header_lists_contigs:
        header += ["##contig=<ID=chr1,length=1000>", "##contig=<ID=chr2,length=500>"]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    path = tmp_path / "a.vcf"
    path.write_text("\n".join(header + RECORDS[4:] + RECORDS[:1]) + "\n")
    path = pysam.tabix_index(str(path), preset="vcf")
    dictionary = list(LENGTHS) if not header_lists_contigs else ["chr2", "chr1"]  # header wins
    chosen = IntervalFilter(parse_intervals(["chr2", "chr1"], LENGTHS), dictionary)
    assert [(r.chrom, r.pos) for r in VcfReader(path).records(chosen)] == [
        ("chr1", 10),
        ("chr2", 50),
    ]


def test_an_index_attached_from_elsewhere_is_the_one_used(tmp_path):
    """``VCF##idx##INDEX``, as the workflow passes a VCF (Cromwell may localise its index in
    another folder): the records through that index; one of another VCF, or none there, refused."""
    path = pysam.tabix_index(str(write_vcf(tmp_path / "a.vcf", RECORDS)), preset="vcf")
    other = pysam.tabix_index(str(write_vcf(tmp_path / "b.vcf", RECORDS[4:])), preset="vcf")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "a.vcf.gz.tbi").rename(elsewhere / "its_index")
    chosen = IntervalFilter(parse_intervals(["chr1:100-110", "chr2"], LENGTHS))
    reader = VcfReader(f"{path}##idx##{elsewhere / 'its_index'}")
    assert reader.path == path
    assert [(r.chrom, r.pos) for r in reader.records(chosen)] == [("chr1", 95), ("chr2", 50)]
    with pytest.raises(InputError, match="the index belongs to another file"):
        list(VcfReader(f"{path}##idx##{other}.tbi").records(chosen))
    with pytest.raises(InputError, match="its index .*nothere does not exist"):
        VcfReader(f"{path}##idx##{elsewhere / 'nothere'}")


def as_bcf(vcf):
    """The VCF written again as BCF by htslib, beside it."""
    bcf = vcf.with_suffix(".bcf")
    with (
        pysam.VariantFile(str(vcf)) as source,
        pysam.VariantFile(str(bcf), "wb", header=source.header) as sink,
    ):
        for record in source:
            sink.write(record)
    return bcf


def test_bcf_input_is_read(tmp_path):
    reader = VcfReader(str(as_bcf(write_vcf(tmp_path / "a.vcf", RECORDS[:2]))))
    assert [(r.chrom, r.pos, r.ref, r.alts) for r in reader.records()] == [
        ("chr1", 10, "A", ["C"]),
        ("chr1", 95, "ACGTACGTAC", ["A"]),
    ]


def test_interval_files_and_merging(tmp_path):
    bed = tmp_path / "x.bed"
    bed.write_text("track name=x\nchr1\t0\t10\nchr1\t10\t20\nchr2\t99\t100\n")
    listing = tmp_path / "x.interval_list"
    listing.write_text("@HD\tVN:1.6\n@SQ\tSN:chr1\tLN:1000\nchr1\t50\t60\t+\tname\n")
    intervals = parse_intervals([str(bed), str(listing), "chr1:999-1,000"], LENGTHS)
    assert intervals == [
        Interval("chr1", 1, 10),
        Interval("chr1", 11, 20),
        Interval("chr2", 100, 100),
        Interval("chr1", 50, 60),
        Interval("chr1", 999, 1000),
    ]
    merged = merge_intervals(intervals)
    assert merged["chr1"] == [
        Interval("chr1", 1, 20),
        Interval("chr1", 50, 60),
        Interval("chr1", 999, 1000),
    ]


def test_a_bed_is_told_by_its_name_in_any_case_and_split_as_htsjdk_splits_it(tmp_path):
    """htsjdk's BEDCodec takes x.BED or x.bed.bgz as BED (0-based) and splits a line at a tab or
    a run of spaces: an upper-case .BED was read 1-based (each interval one base early, exit 0)
    and a space-separated BED refused. A headerless tab-separated file under another name is
    neither a BED nor a Picard interval list to GATK: refused, rather than guessed 1-based."""
    line = "chr1\t99\t110\n"
    for name, text in (("upper.BED", line), ("mixed.Bed", line), ("spaced.bed", "chr1 99   110\n")):
        path = tmp_path / name
        path.write_text(text)
        assert parse_intervals([str(path)], LENGTHS) == [Interval("chr1", 100, 110)], name
    compressed = tmp_path / "x.bed.bgz"
    pysam.tabix_compress(str(tmp_path / "upper.BED"), str(compressed))
    assert parse_intervals([str(compressed)], LENGTHS) == [Interval("chr1", 100, 110)]
    for name in ("x.list", "x.intervals", "x.txt", "x.interval_list"):
        path = tmp_path / name
        path.write_text(line)
        with pytest.raises(InputError, match="line 1 has tab-separated columns, but the file is "
                           "neither named as a BED"):  # fmt: skip
            parse_intervals([str(path)], LENGTHS)
    headed = tmp_path / "headed.list"  # a Picard interval list under another name: 1-based
    headed.write_text("@HD\tVN:1.6\n" + line)
    assert parse_intervals([str(headed)], LENGTHS) == [Interval("chr1", 99, 110)]


def test_an_unsorted_list_intersected_is_intersected_whole_with_a_warning(tmp_path, capsys):
    """GATK 4.6.0's INTERSECTION walks the -L lists as given, assuming reference order, and
    drops an overlap behind its place (a name-sorted BED: chr1, chr10, ...); cnnscore takes the
    whole intersection and warns where GATK would score fewer records."""
    in_order, out_of_order = tmp_path / "sorted.bed", tmp_path / "unsorted.bed"
    in_order.write_text("chr1\t100\t200\nchr1\t500\t600\n")
    out_of_order.write_text("chr1\t550\t560\nchr1\t150\t160\n")
    whole = [Interval("chr1", 151, 160), Interval("chr1", 551, 560)]
    specs = [str(in_order), str(out_of_order)]
    assert resolve_intervals(specs, LENGTHS, rule="INTERSECTION") == whole
    assert f"-L {out_of_order} is not in reference order" in capsys.readouterr().err
    assert resolve_intervals(specs, LENGTHS) == [Interval("chr1", 101, 200),
                                                 Interval("chr1", 501, 600)]  # fmt: skip
    assert resolve_intervals(specs[::-1], LENGTHS, rule="INTERSECTION") == whole
    assert "reference order" in capsys.readouterr().err
    resolve_intervals([str(in_order), str(in_order)], LENGTHS, rule="INTERSECTION")
    assert "reference order" not in capsys.readouterr().err


def test_an_interval_list_line_one_base_short_is_skipped_with_a_warning(tmp_path, capsys):
    """GATK's IntervalUtils skips (and warns of) an interval-list line whose end is one base
    before its start (an off-by-one exome list); a BED line of that shape is refused instead."""
    listing = tmp_path / "short.interval_list"
    listing.write_text("@HD\tVN:1.6\nchr1\t50\t49\t+\ta\nchr1\t70\t80\t+\tb\n")
    assert parse_intervals([str(listing)], LENGTHS) == [Interval("chr1", 70, 80)]
    warned = capsys.readouterr().err
    assert "short.interval_list: line 2: ignoring an interval that ends one base before" in warned


def test_bad_intervals_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="names no contig"):
        parse_intervals(["chr9:1-5"], LENGTHS)
    bad = tmp_path / "bad.bed"
    bad.write_text("chr1\tx\t5\n")
    with pytest.raises(InputError, match="line 1 is not a valid interval"):
        parse_intervals([str(bad)], LENGTHS)
    binary = tmp_path / "flipped.interval_list"  # found by the fuzz battery: a traceback
    binary.write_bytes(b"@HD\tVN:1.6\n@SQ\tSN:chr1\t\xb4N:1000\nchr1\t50\t60\t+\t.\n")
    with pytest.raises(InputError, match=r"flipped.interval_list: line 2 is not text"):
        parse_intervals([str(binary)], LENGTHS)


def test_a_vcf_given_as_intervals_is_its_records_spans(tmp_path):
    """GATK takes a VCF as -L: each record, from POS to the end of its REF (or its END)."""
    vcf = write_vcf(tmp_path / "sites.vcf", RECORDS)
    assert parse_intervals([str(vcf)], LENGTHS) == [
        Interval("chr1", 10, 10),
        Interval("chr1", 95, 104),
        Interval("chr1", 200, 260),
        Interval("chr1", 300, 300),
        Interval("chr2", 50, 50),
    ]
    gzipped = pysam.tabix_index(str(vcf), preset="vcf", force=True)
    assert parse_intervals([gzipped], LENGTHS)[1] == Interval("chr1", 95, 104)
    with pytest.raises(InputError, match="record chr2:50 G>T: contig 'chr2' is not in the ref"):
        parse_intervals([gzipped], {"chr1": 1000})


def test_intervals_that_choose_nothing_are_refused(tmp_path):
    """As GATK stops: an interval file with no interval, a BED line that ends before it starts,
    -L values with nothing in common under INTERSECTION, -XL taking out everything. Each would
    otherwise score nothing and exit 0, an empty VCF looking like a clean result."""
    empty, zero_length, reversed_bed = (tmp_path / n for n in ("e.bed", "z.bed", "r.bed"))
    empty.write_text("track name=x\n")
    zero_length.write_text("chr1\t10\t10\n")  # BED's empty interval: refused, as GATK
    reversed_bed.write_text("chr1\t0\t10\nchr1\t50\t40\n")
    with pytest.raises(InputError, match="e.bed: the interval file holds no interval"):
        parse_intervals([str(empty)], LENGTHS)
    with pytest.raises(InputError, match=r"z.bed: line 1: the interval is empty \(start 10 == end"):
        parse_intervals([str(zero_length)], LENGTHS)
    with pytest.raises(InputError, match="r.bed: line 2: the interval ends .40. before it starts"):
        parse_intervals([str(reversed_bed)], LENGTHS)
    apart = ["chr1:1-10", "chr1:20-30"]
    with pytest.raises(InputError, match="no base in common") as caught:
        resolve_intervals(apart, LENGTHS, rule="INTERSECTION")
    assert caught.value.setting == "intervals"
    for specs, exclude in [(["chr1:1-10"], ["chr1:1-20"]), ([], ["chr1", "chr2"])]:
        with pytest.raises(InputError, match="removes every base") as caught:
            resolve_intervals(specs, LENGTHS, exclude=exclude)
        assert caught.value.setting == "exclude_intervals"
    assert resolve_intervals(apart, LENGTHS) == [Interval("chr1", 1, 10), Interval("chr1", 20, 30)]
    with pytest.raises(InputError, match="names no contig") as caught:  # the -XL value at fault
        resolve_intervals(apart, LENGTHS, exclude=["chr9"])
    assert caught.value.setting == "exclude_intervals"
    other_build = tmp_path / "other.interval_list"
    other_build.write_text("@HD\tVN:1.6\n@SQ\tSN:chr1\tLN:1001\nchr1\t50\t60\t+\t.\n")
    with pytest.raises(InputError, match="line 2: @SQ gives chr1 length 1001, the reference 1000"):
        parse_intervals([str(other_build)], LENGTHS)
    assert resolve_intervals([], LENGTHS, exclude=["chr1"]) == [Interval("chr2", 1, 500)]


def test_a_bgzip_bed_is_read_as_bed(tmp_path):
    bed = tmp_path / "x.bed.gz"
    with gzip.open(bed, "wt") as handle:
        handle.write("chr1\t0\t10\n")
    assert parse_intervals([str(bed)], LENGTHS) == [Interval("chr1", 1, 10)]
    broken = tmp_path / "broken.bed.gz"
    broken.write_bytes(bed.read_bytes()[:-6])
    with pytest.raises(InputError, match="broken.bed.gz: cannot read interval file"):
        parse_intervals([str(broken)], LENGTHS)


def test_a_bcf_that_htslib_refuses_at_the_end_is_one_line(tmp_path, monkeypatch):
    """What the record checks do not foresee and htslib still refuses when it writes the BCF
    is an InputError naming the input, not htslib's traceback; nothing is left."""
    monkeypatch.setattr(vcf_output._BcfNames, "check", lambda self, lines, source: None)
    writer = AtomicVcfWriter(str(tmp_path / "out.bcf"), source="in.vcf")
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
    writer.write_lines(["##fileformat=VCFv4.2", columns])  # no ##contig line
    writer.write_lines(["chr1\t10\t.\tA\tC\t.\t.\t."])
    with pytest.raises(InputError, match="^in.vcf: htslib cannot write these records as BCF"):
        try:
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    assert list(tmp_path.iterdir()) == []


def test_a_bcf_gives_the_models_the_annotations_of_its_vcf(tmp_path):
    """GATK's 1D test calls with two more digits on every float annotation, as VCF and as BCF:
    htslib prints a BCF's floats with six significant digits (QD=10.24567 came back 10.2457),
    so the annotation vectors the models read differed from the VCF's; now they are the same
    32-bit values."""
    source = TESTDATA / "gatk_cnn1d_expected_chr20" / "input.hc_vqsr.vcf.gz"
    with gzip.open(source, "rt") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    longer = re.compile(r"\b(QD|FS|SOR|MQ|MQRankSum|ReadPosRankSum)=(-?\d+)(?:\.(\d+))?")
    records = [
        longer.sub(lambda m: f"{m[1]}={m[2]}.{m[3] or ''}4567", line)
        for line in lines
        if not line.startswith("#")
    ]
    vcf = tmp_path / "precise.vcf"
    vcf.write_text("\n".join(header + records) + "\n")
    bcf = as_bcf(vcf)
    keys = ["MQ", "DP", "SOR", "FS", "QD", "MQRankSum", "ReadPosRankSum"]

    def vectors(path):
        return np.stack(
            [
                annotation_vector(r.info_values(), keys, path=str(path), record=r.label)
                for r in VcfReader(str(path)).records()
            ]
        )

    from_vcf, from_bcf = vectors(vcf), vectors(bcf)
    assert len(from_vcf) == 472
    assert np.array_equal(from_vcf, from_bcf)


def test_interval_rules_are_the_set_arithmetic_of_their_bases(tmp_path):
    """-L values united or intersected, padded, and -XL taken out, over random lists: the runs
    are those of the same arithmetic on sets of bases. (Union merged once, intersection and
    exclusion walked side by side: the loops over pairs of runs grew with their square, 40,000
    intervals took 14.5 s to intersect.)"""
    rng = random.Random(3206)

    def random_list(name: str) -> str:
        intervals = sorted(
            (contig, start, min(LENGTHS[contig], start + rng.randrange(0, 40)))
            for contig in LENGTHS
            for start in rng.sample(range(1, LENGTHS[contig] + 1), rng.randrange(0, 12))
        )
        path = tmp_path / f"{name}.intervals"
        path.write_text("".join(f"{c}:{s}-{e}\n" for c, s, e in intervals))
        return str(path)

    def bases(spec: str, padding: int) -> set[tuple[str, int]]:
        return {
            (i.contig, position)
            for i in parse_intervals([spec], LENGTHS)
            for position in range(
                max(1, i.start - padding), min(LENGTHS[i.contig], i.end + padding) + 1
            )
        }

    for trial in range(150):
        specs = [random_list(f"l{trial}_{k}") for k in range(rng.randrange(1, 4))]
        specs = [s for s in specs if (Path(s).read_text())]  # an empty list is refused
        exclude = [random_list(f"x{trial}")] if rng.random() < 0.6 else []
        exclude = [s for s in exclude if Path(s).read_text()]
        if not specs:
            continue
        rule = rng.choice(["UNION", "INTERSECTION"])
        padding, exclusion_padding = rng.randrange(0, 4), rng.randrange(0, 4)
        sets = [bases(spec, padding) for spec in specs]
        expected = set.union(*sets) if rule == "UNION" else set.intersection(*sets)
        for spec in exclude:
            expected -= bases(spec, exclusion_padding)
        arguments = dict(padding=padding, exclude=exclude, rule=rule,
                         exclusion_padding=exclusion_padding)  # fmt: skip
        if not expected:
            with pytest.raises(InputError, match="no record would be read"):
                resolve_intervals(specs, LENGTHS, **arguments)
            continue
        runs = resolve_intervals(specs, LENGTHS, **arguments)
        got = {(r.contig, p) for r in runs for p in range(r.start, r.end + 1)}
        assert got == expected, (trial, rule)
        assert runs == sorted(runs, key=lambda r: (r.contig, r.start)), trial  # merged, in order
        assert all(a.contig != b.contig or a.end + 1 < b.start for a, b in pairwise(runs))


def test_records_are_held_up_to_10000_lines_or_8_mb(tmp_path, monkeypatch):
    """gather and filter hand the writer one record at a time; it writes them in pieces of at
    most 10,000 lines or 8 MB of text: a joint-called VCF's lines of ~100 KB, held 10,000 at a
    time, took those tasks to 2.8 GB, past the workflow's 2 GiB for them."""
    writer = AtomicVcfWriter(str(tmp_path / "out.vcf"))
    pieces: list[int] = []
    monkeypatch.setattr(writer, "write_lines", lambda lines, source=None: pieces.append(len(lines)))
    wide = "chr1\t5\t.\tA\tC\t.\t.\t" + "x" * (3 * 1024 * 1024)
    for _ in range(5):
        writer.write_record(wide)
    assert pieces == [3]  # 9 MB held: written
    for _ in range(10_000):
        writer.write_record("chr1\t5\t.\tA\tC\t.\t.\t.")
    assert pieces == [3, 10_000]
    writer.write_record("chr1\t6\t.\tA\tC\t.\t.\t.", source="another shard")  # a new source
    assert pieces == [3, 10_000, 2]  # the first source's records go out before its
    writer.abort()

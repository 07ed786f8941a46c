"""``cnnscore filter`` (GATK FilterVariantTranches, spec §8) on hand-built VCFs and the smoke set.

The small cases are written out record by record with the expected FILTER of each, computed by
hand in the comments: truth scores sorted descending, cutoff index ``int(t/100 * (n-1))``, filtered
iff score <= the lowest tranche's cutoff, named by the first tranche whose cutoff the score beats.
The smoke case is checked against an independent computation from pysam's reading of the files.
"""

from __future__ import annotations

import gzip
import math
import shutil
from pathlib import Path

import numpy as np
import pysam
import pytest

from cnnscore.tranches.filter import java_percent, tranche_cutoffs
from cnnscore.tranches.java_double import parse_java_double
from cnnscore.tranches.truth_resources import ResourceCursor, is_allele_in_list
from conftest import GOLDEN_2D, SMOKE, data_lines, header_lines, run_cli

GIAB = SMOKE / "giab_truth.vcf.gz"
INFO_2D = (
    '##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="Log odds of being a true variant versus '
    'being false under the trained 2D Convolutional Neural Network">'
)
HEADER = [
    "##fileformat=VCFv4.2",
    '##FILTER=<ID=LowQual,Description="Low quality">',
    INFO_2D,
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    "##contig=<ID=chr1,length=10000>",
    "##contig=<ID=chr3,length=10000>",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
]
RESOURCE_HEADER = [
    "##fileformat=VCFv4.2",
    "##contig=<ID=chr1,length=10000>",
    "##contig=<ID=chr2,length=10000>",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
]

# (chrom, pos, ref, alt, FILTER in, CNN_2D or None, FILTER expected) with SNP tranches 50, 80, 90
# and indel tranches 50, 99.4.
#
# SNP truth scores (records 100-200): 9 8 7 7 6 5 5 5 3 2 1, n = 11, n-1 = 10:
#   50 -> index 5 -> 5;  80 -> index 8 -> 3;  90 -> index 9 -> 2.   Filtered iff s <= 5;
#   s > 3: 50.00_80.00;  s > 2: 80.00_90.00;  else 90.00_100.00.
# Indel-list truth scores (records 300-340; MIXED 330 and MNP 340 land here too): 4 3 2.5 2 1,
#   n-1 = 4: 50 -> index 2 -> 2.5;  99.4 -> int(3.976) = 3 -> 2.   Filtered iff s <= 2.5;
#   s > 2: 50.00_99.40;  else 99.40_100.00.  MIXED/MNP are never filtered.
SNP = "CNN_2D_SNP_Tranche_"
INDEL = "CNN_2D_INDEL_Tranche_"
RECORDS = [
    # truth SNPs
    ("chr1", 100, "A", "G", ".", "9", "PASS"),
    ("chr1", 110, "C", "T", ".", "8", "PASS"),  # resource writes it in lower case
    ("chr1", 120, "A", "C,G", ".", "7", "PASS"),  # multi-allelic, G is in the resource
    ("chr1", 130, "G", "A", ".", "7", "PASS"),  # tie
    ("chr1", 140, "C", "T", ".", "6", "PASS"),  # resource has C>A, then CAG>TAG,C (longer REF)
    ("chr1", 150, "T", "C", ".", "5", SNP + "50.00_80.00"),  # at the cutoff: filtered
    ("chr1", 160, "A", "G", "PASS", "5", SNP + "50.00_80.00"),  # PASS replaced
    ("chr1", 170, "G", "C", ".", "5", SNP + "50.00_80.00"),
    ("chr1", 180, "T", "A", ".", "3", SNP + "80.00_90.00"),
    ("chr1", 190, "C", "G", ".", "2.0", SNP + "90.00_100.00"),
    ("chr1", 200, "G", "T", "LowQual", "1", f"{SNP}90.00_100.00;LowQual"),  # appended, sorted
    # SNPs the resource does not confirm
    ("chr1", 210, "A", "T", ".", "10", "PASS"),  # resource has A>C here
    ("chr1", 220, "C", "A", ".", "4", SNP + "50.00_80.00"),  # resource deletion from 219 spans it
    ("chr1", 230, "T", "G", ".", "2.5", SNP + "80.00_90.00"),
    ("chr1", 240, "G", "A", "LowQual", "10", "LowQual"),
    ("chr1", 250, "A", "C", ".", "0", SNP + "90.00_100.00"),
    ("chr1", 260, "T", "C", ".", None, "PASS"),  # no score: PASS all the same
    ("chr1", 270, "G", "A", "LowQual", None, "LowQual"),
    # truth indels (and a MIXED and an MNP, whose scores join the indel list)
    ("chr1", 300, "ACT", "A", ".", "4", "PASS"),
    ("chr1", 310, "GTA", "GTTA", ".", "2", INDEL + "99.40_100.00"),  # resource G>GT (shorter REF)
    ("chr1", 320, "ACT", "A,AC", ".", "1", INDEL + "99.40_100.00"),  # resource ACT>AC
    ("chr1", 330, "A", "G,AT", ".", "3", "PASS"),  # MIXED
    ("chr1", 340, "AC", "GT", ".", "2.5", "PASS"),  # MNP at the cutoff: never filtered
    # indels the resource does not confirm
    ("chr1", 350, "T", "TA", ".", "2.4", INDEL + "50.00_99.40"),
    ("chr1", 360, "CA", "C", ".", "5", "PASS"),
    ("chr1", 370, "A", "G,AT", ".", "-10", "PASS"),  # MIXED
    ("chr1", 380, "AC", "GT", ".", "-1e1", "PASS"),  # MNP
    ("chr1", 390, "TTT", "T", ".", "2.5", INDEL + "50.00_99.40"),  # resource TT>T: another event
    ("chr3", 100, "A", "G", ".", "100", "PASS"),  # a contig the resource lacks
]
RESOURCE = [
    ("chr1", 100, "A", "G"),
    ("chr1", 110, "c", "t"),
    ("chr1", 120, "A", "G,T"),
    ("chr1", 130, "G", "A"),
    ("chr1", 140, "C", "A"),
    ("chr1", 140, "CAG", "TAG,C"),
    ("chr1", 150, "T", "C"),
    ("chr1", 160, "A", "G"),
    ("chr1", 170, "G", "C"),
    ("chr1", 180, "T", "A"),
    ("chr1", 190, "C", "G"),
    ("chr1", 200, "G", "T"),
    ("chr1", 210, "A", "C"),
    ("chr1", 219, "GC", "G"),
    ("chr1", 300, "ACT", "A"),
    ("chr1", 310, "G", "GT"),
    ("chr1", 320, "ACT", "AC"),
    ("chr1", 330, "A", "AT"),
    ("chr1", 340, "AC", "GT"),
    ("chr1", 390, "TT", "T"),
    ("chr2", 100, "A", "G"),
]
TRANCHE_ARGS = [
    "--snp-tranche", "90", "--snp-tranche", "50", "--snp-tranche", "80", "--snp-tranche", "50",
    "--indel-tranche", "99.4", "--indel-tranche", "50",
]  # fmt: skip
EXPECTED_FILTER_LINES = [
    f'##FILTER=<ID={INDEL}50.00_99.40,Description="INDEL truth resource sensitivity between '
    '50.00 and 99.40 for info key CNN_2D">',
    f'##FILTER=<ID={INDEL}99.40_100.00,Description="INDEL truth resource sensitivity between '
    '99.40 and 100.00 for info key CNN_2D">',
    f'##FILTER=<ID={SNP}50.00_80.00,Description="SNP truth resource sensitivity between 50.00 '
    'and 80.00 for info key CNN_2D">',
    f'##FILTER=<ID={SNP}80.00_90.00,Description="SNP truth resource sensitivity between 80.00 '
    'and 90.00 for info key CNN_2D">',
    f'##FILTER=<ID={SNP}90.00_100.00,Description="SNP truth resource sensitivity between 90.00 '
    'and 100.00 for info key CNN_2D">',
]


# --------------------------------------------------------------------------------------------
# helpers


def record_line(chrom: str, pos: int, ref: str, alt: str, filt: str, score: str | None) -> str:
    info = "DP=10" if score is None else f"DP=10;CNN_2D={score}"
    return f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t50\t{filt}\t{info}"


def write_vcf(path: Path, header: list[str], lines: list[str], index: bool = True) -> Path:
    """A bgzip VCF (+ .tbi when asked) from text; plain text when ``path`` ends in .vcf."""
    text = "\n".join([*header, *lines]) + "\n"
    if path.suffix == ".vcf":
        path.write_text(text)
        return path
    plain = path.with_name(path.name.removesuffix(".gz"))
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    if index:
        pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_resource(path: Path, sites: list[tuple[str, int, str, str]], index: bool = True) -> Path:
    lines = [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t." for c, p, r, a in sites]
    return write_vcf(path, RESOURCE_HEADER, lines, index)


@pytest.fixture()
def small(tmp_path: Path) -> tuple[Path, Path]:
    """The hand-built scored VCF and its resource."""
    lines = [record_line(*record[:6]) for record in RECORDS]
    return (
        write_vcf(tmp_path / "scored.vcf.gz", HEADER, lines),
        write_resource(tmp_path / "truth.vcf.gz", RESOURCE),
    )


def filters(path: Path) -> list[str]:
    return [line.split("\t")[6] for line in data_lines(path)]


def without_filter(lines: list[str]) -> list[list[str]]:
    return [line.split("\t")[:6] + line.split("\t")[7:] for line in lines]


def assert_error(result, output: Path, *named: str | Path) -> str:
    """One ``cnnscore: error:`` line naming what is at fault, exit 1, nothing left behind."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error: ")]
    assert result.returncode == 1, result.stderr
    assert len(errors) == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    for name in named:
        assert str(name) in errors[0], errors[0]
    leftovers = [p.name for p in output.parent.iterdir() if p.name.startswith(output.name)]
    leftovers += [p.name for p in output.parent.iterdir() if ".partial-" in p.name]
    assert not leftovers, leftovers
    return errors[0]


# --------------------------------------------------------------------------------------------
# units


@pytest.mark.parametrize(
    ("ref", "alt", "other_ref", "other_alts", "expected"),
    [
        ("A", "G", "A", ["C", "G"], True),
        ("A", "G", "A", ["C"], False),
        ("C", "T", "CAG", ["TAG", "C"], True),  # the shorter REF's alt gets the extra "AG"
        ("C", "A", "CAG", ["TAG", "C"], False),
        ("GTA", "GTTA", "G", ["GT"], True),  # the resource's alt gets the extra "TA"
        ("TTT", "T", "TT", ["T"], False),  # TTT>T is a 2 bp deletion, TT>T a 1 bp one
        ("A", "*", "AC", ["*"], True),  # a spanning deletion maps to itself
        ("A", "<DEL>", "AC", ["<DEL>"], False),  # a symbolic allele cannot be extended
        ("AC", "<DEL>", "AC", ["<DEL>"], True),
    ],
)
def test_is_allele_in_list_extends_the_shorter_ref(ref, alt, other_ref, other_alts, expected):
    assert is_allele_in_list(ref, alt, other_ref, other_alts) is expected


def test_is_allele_in_list_refuses_equal_length_different_refs():
    with pytest.raises(ValueError):
        is_allele_in_list("A", "G", "C", ["G"])


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", 1.5), (" -2e3 ", -2000.0), ("3.", 3.0), (".5", 0.5), ("1.0d", 1.0), ("2f", 2.0),
     ("0x1p3", 8.0), ("Infinity", math.inf), ("-Infinity", -math.inf)],
)  # fmt: skip
def test_parse_java_double_accepts_what_java_does(text, value):
    assert parse_java_double(text) == value


@pytest.mark.parametrize(
    "text",
    [".", "", "inf", "nan", "1_0", "1.5,2", "abc", "0x1", "\u0663", "1e\u0663", "0x1p\u0663"],
)  # fmt: skip  (U+0663, Arabic-Indic 3: a digit to Python's float and regex, none to Java)
def test_parse_java_double_refuses_what_java_refuses(text):
    with pytest.raises(ValueError):
        parse_java_double(text)


def test_java_percent_rounds_half_up_on_the_decimal_text():
    assert [java_percent(t) for t in (99.95, 99.4, 0.125, 0.0, 1e-5, 99.995)] == [
        "99.95", "99.40", "0.13", "0.00", "0.00", "100.00",
    ]  # fmt: skip


def test_cutoffs_index_the_descending_scores():
    # n-1 = 200: 99 -> int(198.0) = 198 -> score 2;  99.5 -> 199 -> 1;  0 -> index 0 -> 200.
    scores = list(range(201))
    assert tranche_cutoffs(scores, [0.0, 99.0, 99.5]) == [200.0, 2.0, 1.0]
    assert math.isnan(tranche_cutoffs([1.0, float("nan"), 3.0], [0.0])[0])  # NaN first, as Java


def test_resource_cursor_answers_any_query_order(tmp_path):
    """Forward steps, jumps past many records (an index seek), going back, other contigs."""
    sites = [("chr1", pos, "A", "G") for pos in range(10, 2000, 10)]
    sites += [("chr1", 500, "AC", "A"), ("chr2", 100, "C", "T")]
    sites.sort(key=lambda site: (site[0], site[1]))
    truth = write_resource(tmp_path / "truth.vcf.gz", sites)
    cursor = ResourceCursor(str(truth))
    try:
        queries = [("chr1", 10), ("chr1", 15), ("chr1", 500), ("chr1", 500), ("chr1", 1990),
                   ("chr2", 100), ("chr1", 20), ("chrX", 5), ("chr1", 1000)]  # fmt: skip
        got = [[(s.pos, s.ref, s.alts) for s in cursor.at(*query)] for query in queries]
    finally:
        cursor.close()
    assert got == [
        [(10, "A", ("G",))], [], [(500, "A", ("G",)), (500, "AC", ("A",))],
        [(500, "A", ("G",)), (500, "AC", ("A",))], [(1990, "A", ("G",))], [(100, "C", ("T",))],
        [(20, "A", ("G",))], [], [(1000, "A", ("G",))],
    ]  # fmt: skip


# --------------------------------------------------------------------------------------------
# the hand-built set


def test_hand_computed_tranches(small, tmp_path):
    scored, truth = small
    output = tmp_path / "filtered.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, *TRANCHE_ARGS, "-O", output)
    assert result.returncode == 0, result.stderr
    assert filters(output) == [record[6] for record in RECORDS]
    # everything but FILTER is the input text, in input order
    assert without_filter(data_lines(output)) == without_filter(data_lines(scored))
    assert Path(str(output) + ".tbi").is_file()
    # 17 scored SNPs (11 confirmed), 6 scored indels; 5 in the indel list; 9 + 4 filtered
    assert "filtered 9 of 17 SNPs and 4 of 6 indels" in result.stderr
    assert "11 SNP and 5 indel resource matches" in result.stderr
    assert "50.00 -> 5, 80.00 -> 3, 90.00 -> 2" in result.stderr


def test_header_gets_sorted_filter_lines_and_provenance(small, tmp_path):
    scored, truth = small
    output = tmp_path / "filtered.vcf"
    run_cli("filter", "-V", scored, "--resource", truth, *TRANCHE_ARGS, "-O", output, check=True)
    header = header_lines(output)
    filter_lines = [line for line in header if line.startswith("##FILTER=")]
    assert filter_lines == [*EXPECTED_FILTER_LINES, HEADER[1]]  # htsjdk's sorted order
    assert header[:2] == [HEADER[0], EXPECTED_FILTER_LINES[0]]
    assert header[-2].startswith('##cnnscoreCommandLine=<ID=filter,Version="')
    assert 'SnpTranches="50.00,80.00,90.00"' in header[-2]
    assert 'Resources="truth.vcf.gz"' in header[-2]
    assert header[-1] == HEADER[-1]
    # filtering the output again replaces the tranche lines rather than repeating them
    again = tmp_path / "again.vcf"
    run_cli("filter", "-V", output, "--resource", truth, *TRANCHE_ARGS, "-O", again, check=True)
    assert header_lines(again) == header
    assert filters(again) == filters(output)


def test_invalidate_previous_filters(small, tmp_path):
    scored, truth = small
    output = tmp_path / "filtered.vcf.gz"
    run_cli(
        "filter", "-V", scored, "--resource", truth, *TRANCHE_ARGS,
        "--invalidate-previous-filters", "-O", output, check=True,
    )  # fmt: skip
    expected = [record[6].replace(";LowQual", "").replace("LowQual", "PASS") for record in RECORDS]
    assert filters(output) == expected
    assert "LowQual" not in "\n".join(header_lines(output))
    assert [line for line in header_lines(output) if line.startswith("##FILTER")] == (
        EXPECTED_FILTER_LINES
    )


def test_default_tranches(small, tmp_path):
    """99.95 for SNPs (index int(9.995) = 9 -> 2) and 99.4 for indels (index 3 -> 2)."""
    scored, truth = small
    output = tmp_path / "filtered.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    assert result.returncode == 0, result.stderr
    by_pos = {(r[0], r[1]): f for r, f in zip(RECORDS, filters(output), strict=True)}
    for pos in (190, 200, 250):  # SNP scores 2, 1, 0
        assert by_pos["chr1", pos].startswith(SNP + "99.95_100.00")
    for pos in (150, 180, 230):  # SNP scores 5, 3, 2.5: above the single cutoff 2
        assert by_pos["chr1", pos] == "PASS"
    assert by_pos["chr1", 310] == by_pos["chr1", 320] == INDEL + "99.40_100.00"
    assert by_pos["chr1", 350] == by_pos["chr1", 390] == "PASS"
    assert [line for line in header_lines(output) if "_Tranche_" in line] == [
        f'##FILTER=<ID={INDEL}99.40_100.00,Description="INDEL truth resource sensitivity between '
        '99.40 and 100.00 for info key CNN_2D">',
        f'##FILTER=<ID={SNP}99.95_100.00,Description="SNP truth resource sensitivity between '
        '99.95 and 100.00 for info key CNN_2D">',
    ]


def test_minus_zero_and_zero_are_two_tranches(small, tmp_path):
    """Java's Double.equals tells -0.0 from 0.0 and compareTo sorts -0.0 first, so GATK keeps
    both: bands (-0.00, 0.00) and (0.00, 100.00). Both cut at index 0 (score 9); no score beats
    the second cutoff, so every filtered SNP gets the last band."""
    output = tmp_path / "filtered.vcf.gz"
    assert _snp_filter_lines(small, output, "0", "-0.0") == [
        f"##FILTER=<ID={SNP}-0.00_0.00",
        f"##FILTER=<ID={SNP}0.00_100.00",
    ]
    by_pos = {(r[0], r[1]): f for r, f in zip(RECORDS, filters(output), strict=True)}
    assert by_pos["chr1", 100] == by_pos["chr1", 190] == SNP + "0.00_100.00"
    assert by_pos["chr1", 210] == "PASS"  # score 10 beats the cutoff 9
    assert not any("-0.00" in f for f in by_pos.values())


def test_bands_that_print_alike_are_declared_once(small, tmp_path):
    """99.995 and 99.996 both print 100.00, so two bands are CNN_2D_SNP_Tranche_100.00_100.00:
    GATK collects its header lines in a set (FilterVariantTranches.writeVCFHeader), and one line
    declares the name, as any reader needs it declared once."""
    assert _snp_filter_lines(small, tmp_path / "filtered.vcf", "99.995", "99.996") == [
        f"##FILTER=<ID={SNP}100.00_100.00",
    ]


def _snp_filter_lines(small, output, *tranches: str) -> list[str]:
    """The SNP ##FILTER lines' starts after filtering the small set at ``tranches``."""
    scored, truth = small
    snp_tranches = [word for tranche in tranches for word in ("--snp-tranche", tranche)]
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output, *snp_tranches)
    assert result.returncode == 0, result.stderr
    return [line.split(",")[0] for line in header_lines(output) if SNP in line]


def test_intermediate_tranche_names_with_201_truth_snps(tmp_path):
    """Truth SNP scores 0..200: 99 -> index int(0.99*200) = 198 -> 2; 99.5 -> 199 -> 1. No
    indels at all is fine (nothing to filter there)."""
    bases = "ACGT"
    lines, sites = [], []
    for i in range(201):
        ref, alt = bases[i % 4], bases[(i + 1) % 4]
        lines.append(record_line("chr1", 1000 + i, ref, alt, ".", str(i)))
        sites.append(("chr1", 1000 + i, ref, alt))
    lines.append(record_line("chr1", 2000, "A", "C", ".", "1.5"))
    lines.append(record_line("chr1", 2001, "A", "C", ".", "2.5"))
    scored = write_vcf(tmp_path / "scored.vcf.gz", HEADER, lines)
    truth = write_resource(tmp_path / "truth.vcf.gz", sites)
    output = tmp_path / "out.vcf.gz"
    run_cli(
        "filter", "-V", scored, "--resource", truth, "--snp-tranche", "99.5",
        "--snp-tranche", "99", "-O", output, check=True,
    )  # fmt: skip
    got = filters(output)
    assert got[:3] == [SNP + "99.50_100.00", SNP + "99.50_100.00", SNP + "99.00_99.50"]
    assert set(got[3:201]) == {"PASS"}
    assert got[201:] == [SNP + "99.00_99.50", "PASS"]


def test_two_resources_and_a_bcf_output(small, tmp_path):
    """Each variant counts once even when both resources confirm it; the output format follows
    the extension, as for `score`."""
    scored, truth = small
    second = write_resource(tmp_path / "second.vcf.gz", RESOURCE[:4])
    output = tmp_path / "filtered.bcf"
    result = run_cli(
        "filter", "-V", scored, "--resource", second, "--resource", truth, *TRANCHE_ARGS,
        "-O", output,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "11 SNP and 5 indel resource matches" in result.stderr
    with pysam.VariantFile(str(output)) as bcf:
        got = [";".join(sorted(r.filter.keys())) for r in bcf]
    assert got == [record[6] for record in RECORDS]
    assert Path(str(output) + ".csi").is_file()


# --------------------------------------------------------------------------------------------
# errors: one line naming the file, exit 1, no output


def test_error_no_scored_variants(tmp_path):
    lines = [record_line("chr1", 100, "A", "G", ".", None), record_line(*RECORDS[21][:6])]
    scored = write_vcf(tmp_path / "scored.vcf.gz", HEADER, lines)  # unscored SNP, scored MIXED
    truth = write_resource(tmp_path / "truth.vcf.gz", RESOURCE)
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    assert "no SNPs or indels with INFO CNN_2D" in assert_error(result, output, scored)


def test_error_no_resource_matches(small, tmp_path):
    scored, _ = small
    truth = write_resource(tmp_path / "other.vcf.gz", [("chr2", 100, "A", "G")])
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    error = assert_error(result, output, scored, "other.vcf.gz")
    assert "no scored variant matches the resources" in error


def test_error_snps_without_snp_matches(small, tmp_path):
    scored, _ = small
    indels_only = write_resource(tmp_path / "indels.vcf.gz", RESOURCE[14:])
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", indels_only, "-O", output)
    assert "17 scored SNPs but no SNP matches" in assert_error(result, output, scored)


def test_error_indels_without_indel_matches(small, tmp_path):
    scored, _ = small
    snps_only = write_resource(tmp_path / "snps.vcf.gz", RESOURCE[:14])
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", snps_only, "-O", output)
    assert "6 scored indels but no indel matches" in assert_error(result, output, scored)


def test_error_header_lacks_the_info_key(small, tmp_path):
    scored, truth = small
    output = tmp_path / "out.vcf.gz"
    result = run_cli(
        "filter", "-V", scored, "--resource", truth, "--info-key", "CNN_1D", "-O", output
    )
    assert "no ##INFO line for the info key CNN_1D" in assert_error(result, output, scored)


def resource_with_contigs(path: Path, contigs: list[str], sites=RESOURCE) -> Path:
    """The resource with these ##contig lines instead of its own (and these records)."""
    lines = [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t." for c, p, r, a in sites]
    return write_vcf(path, [RESOURCE_HEADER[0], *contigs, RESOURCE_HEADER[-1]], lines)


B37_SITES = [("1", *site[1:]) for site in RESOURCE if site[0] == "chr1"]
OTHER_REFERENCE = {  # as GATK's SequenceDictionaryUtils.validateDictionaries refuses them
    "a shared contig's length differs": (
        ["##contig=<ID=chr1,length=5000>", "##contig=<ID=chr2,length=10000>"],
        RESOURCE,
        "contig chr1 has length 5000 in this file but 10000 in",
    ),
    "no shared contig": (["##contig=<ID=1,length=10000>"], B37_SITES, "no contig in common"),
    "no shared contig, the resource's dictionary from its index": (
        [],  # no ##contig lines: GATK takes the contig names its index lists, here only chr2
        [site for site in RESOURCE if site[0] == "chr2"],
        "no contig in common",
    ),
}


@pytest.mark.parametrize("case", OTHER_REFERENCE)
def test_error_resource_on_another_reference(small, tmp_path, case):
    """A resource of another build confirms variants by position on another genome: wrong
    cutoffs, exit 0. GATK refuses it at start-up; so does filter, in one line naming both."""
    scored, _ = small
    contigs, sites, message = OTHER_REFERENCE[case]
    resource = resource_with_contigs(tmp_path / "other.vcf.gz", contigs, sites)
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", resource, "-O", output)
    assert message in assert_error(result, output, resource, scored)


SAME_REFERENCE = {  # where GATK has no length, or no dictionary, to compare
    "no lengths": ["##contig=<ID=chr1>", "##contig=<ID=chr2,length=0>"],
    "no ##contig lines, the index lists chr1": [],
    "another length for chr2, which the input lacks": [
        "##contig=<ID=chr1,length=10000>",
        "##contig=<ID=chr2,length=99999>",
    ],
    "a header in UTF-8 beyond ASCII": [
        "##contig=<ID=chr1,length=10000>",
        "##comment=Résumé des sites vérifiés",
    ],
}


def test_error_resource_header_not_utf8(small, tmp_path):
    """A header byte that is not UTF-8 (the fuzz battery's flip of a resource's header) is one
    line naming the resource: reading the dictionary raised a traceback."""
    scored, _ = small
    text = "\n".join([*RESOURCE_HEADER[:2], "##comment=caf\udcee", *RESOURCE_HEADER[2:],
                      "chr1\t100\t.\tA\tG\t.\tPASS\t."]) + "\n"  # fmt: skip
    plain = tmp_path / "bad.vcf"
    plain.write_bytes(text.encode("utf-8", "surrogateescape"))
    resource = tmp_path / "bad.vcf.gz"
    pysam.tabix_compress(str(plain), str(resource))
    pysam.tabix_index(str(resource), preset="vcf")
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", resource, "-O", output)
    assert "the header is not UTF-8 text" in assert_error(result, output, resource)


@pytest.mark.parametrize("case", SAME_REFERENCE)
def test_resource_dictionary_without_lengths_is_accepted(small, tmp_path, case):
    scored, _ = small
    resource = resource_with_contigs(tmp_path / "truth2.vcf.gz", SAME_REFERENCE[case])
    output = tmp_path / "filtered.vcf"
    run_cli("filter", "-V", scored, "--resource", resource, *TRANCHE_ARGS, "-O", output,
            check=True)  # fmt: skip
    assert filters(output) == [record[6] for record in RECORDS]


def test_input_without_a_dictionary_is_not_checked(tmp_path):
    """An unindexed input with no ##contig lines has no dictionary for GATK: nothing to check."""
    header = [line for line in HEADER if not line.startswith("##contig")]
    scored = write_vcf(tmp_path / "scored.vcf", header, [record_line(*r[:6]) for r in RECORDS])
    resource = resource_with_contigs(tmp_path / "short.vcf.gz", ["##contig=<ID=chr1,length=500>"])
    output = tmp_path / "filtered.vcf"
    run_cli("filter", "-V", scored, "--resource", resource, *TRANCHE_ARGS, "-O", output,
            check=True)  # fmt: skip
    assert filters(output) == [record[6] for record in RECORDS]
    # indexed, it has one: the contigs its index lists (chr1, chr3)
    indexed = write_vcf(tmp_path / "scored.vcf.gz", header, data_lines(scored))
    b37 = resource_with_contigs(tmp_path / "b37.vcf.gz", ["##contig=<ID=1>"], B37_SITES)
    output = tmp_path / "out.vcf"
    result = run_cli("filter", "-V", indexed, "--resource", b37, "-O", output)
    assert "no contig in common with" in assert_error(result, output, b37, indexed)


RESOURCE_PROBLEMS = {
    "missing": ("nope.vcf.gz", "does not exist"),
    "unindexed": ("noindex.vcf.gz", "has no index"),
    "plain": ("plain.vcf", "has no index"),
    "gzip": ("gzip.vcf.gz", "not bgzip-compressed"),
    "bcf": ("truth.bcf", "BCF resources are not supported"),
}


@pytest.mark.parametrize("problem", RESOURCE_PROBLEMS)
def test_error_resource_unreadable(small, tmp_path, problem):
    scored, truth = small
    name, message = RESOURCE_PROBLEMS[problem]
    resource = tmp_path / name
    if problem in ("unindexed", "plain"):
        write_resource(resource, RESOURCE, index=False)
    elif problem == "gzip":  # a plain-gzip copy beside the bgzip file's index
        resource.write_bytes(gzip.compress(gzip.decompress(truth.read_bytes())))
        shutil.copy(str(truth) + ".tbi", str(resource) + ".tbi")
    elif problem == "bcf":
        with (
            pysam.VariantFile(str(truth)) as source,
            pysam.VariantFile(str(resource), "wb", header=source.header) as sink,
        ):
            for record in source:
                sink.write(record)
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", resource, "-O", output)
    assert message in assert_error(result, output, resource)


def test_a_resource_index_attached_anywhere_is_used_or_refused(tmp_path):
    """``VCF##idx##INDEX`` (how the workflow passes each resource, as Cromwell may localise the
    index elsewhere) reads the VCF through that index under any name; a missing one, or one of
    another VCF, ends with one line; found beside the VCF, the same filtering."""
    scored = GOLDEN_2D  # GATK's own CNN_2D scores of the smoke set
    truth = tmp_path / "alone" / "giab_truth.vcf.gz"
    truth.parent.mkdir()
    shutil.copy(SMOKE / "giab_truth.vcf.gz", truth)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(SMOKE / "giab_truth.vcf.gz.tbi", elsewhere / "its_index")
    shutil.copy(SMOKE / "hc.gatk4.vcf.gz.tbi", elsewhere / "another_vcfs_index")
    beside = tmp_path / "beside.vcf.gz"
    run_cli("filter", "-V", scored, "--resource", SMOKE / "giab_truth.vcf.gz", "-O", beside,
            check=True)  # fmt: skip
    attached = tmp_path / "attached.vcf.gz"
    run_cli("filter", "-V", scored, "--resource", f"{truth}##idx##{elsewhere / 'its_index'}",
            "-O", attached, check=True)  # fmt: skip
    assert data_lines(attached) == data_lines(beside)
    assert header_lines(attached) == header_lines(beside)  # Resources= names the VCF, not INDEX
    assert sum("PASS" not in line.split("\t")[6] for line in data_lines(attached)) > 0
    for index, message in [
        ("missing", "its index"),
        ("another_vcfs_index", "the index belongs to another file"),
    ]:
        output = tmp_path / f"{index}.vcf.gz"
        result = run_cli("filter", "-V", scored, "--resource",
                         f"{truth}##idx##{elsewhere / index}", "-O", output)  # fmt: skip
        assert message in assert_error(result, output, truth)
    output = tmp_path / "unattached.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    assert "has no index" in assert_error(result, output, truth)


def _plain_with_tribble_index(bgzipped: Path, plain: Path) -> Path:
    """``bgzipped`` as a plain-text VCF with the Tribble .idx GATK's IndexFeatureFile makes."""
    from cnnscore.io.tribble_index import LinearIndexBuilder, record_span

    plain.write_bytes(gzip.decompress(bgzipped.read_bytes()))
    builder, offset = LinearIndexBuilder(), 0
    for line in plain.read_bytes().splitlines(keepends=True):
        if not line.startswith(b"#"):
            columns = line.decode().split("\t")
            builder.add_record(columns[0], *record_span(columns), offset)
        offset += len(line)
    builder.write(str(plain) + ".idx", str(plain), str(plain))
    return plain


def test_a_plain_text_resource_with_gatks_tribble_index_is_read(tmp_path):
    """GATK reads a plain .vcf resource through its Tribble .idx (the hg38 bundle's dbSNP comes
    so, as warp's inputs use it); htslib reads no .idx, and cnnscore refused it as having no
    index (GATK command-line review). It is read through a bgzip copy with a tabix index made in
    the temporary folder (--tmp-dir), said on stderr and removed; the filtering is the bgzip
    resource's. Without its .idx, refused as GATK refuses it; an .idx that is not Tribble's,
    refused in one line."""
    scored = GOLDEN_2D
    plain = _plain_with_tribble_index(GIAB, tmp_path / "giab.vcf")
    expected = tmp_path / "from_bgzip.vcf.gz"
    run_cli("filter", "-V", scored, "--resource", GIAB, "-O", expected, check=True)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    output = tmp_path / "from_plain.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", plain, "-O", output, "--tmp-dir",
                     temporary, check=True)  # fmt: skip
    assert f"{plain} is plain text: read through a bgzip copy" in result.stderr
    assert data_lines(output) == data_lines(expected)
    assert sum("PASS" not in line.split("\t")[6] for line in data_lines(output)) > 0
    assert list(temporary.iterdir()) == []  # the copy removed
    elsewhere = tmp_path / "its.idx"
    shutil.move(str(plain) + ".idx", elsewhere)
    attached = tmp_path / "attached.vcf.gz"
    run_cli("filter", "-V", scored, "--resource", f"{plain}##idx##{elsewhere}", "-O", attached,
            check=True)  # fmt: skip
    assert data_lines(attached) == data_lines(expected)
    refused = tmp_path / "refused.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", plain, "-O", refused)
    assert "plain text and has no index" in assert_error(result, refused, plain)
    shutil.copy(SMOKE / "giab_truth.vcf.gz.tbi", str(plain) + ".idx")
    result = run_cli("filter", "-V", scored, "--resource", plain, "-O", refused)
    assert "is not a Tribble index" in assert_error(result, refused, plain)
    # unsorted: the copy cannot be indexed; one line, and the temporary copy not left behind
    lines = plain.read_text().splitlines(keepends=True)
    body = [line for line in lines if not line.startswith("#")]
    plain.write_text("".join([line for line in lines if line.startswith("#")] + body[::-1]))
    shutil.move(str(elsewhere), str(plain) + ".idx")
    result = run_cli("filter", "-V", scored, "--resource", plain, "-O", refused, "--tmp-dir",
                     temporary)  # fmt: skip
    assert "is it a VCF sorted by position?" in assert_error(result, refused, plain)
    assert list(temporary.iterdir()) == []


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--snp-tranche", "100"), ("--snp-tranche", "-0.5"), ("--indel-tranche", "NaN")],
)
def test_error_bad_tranche(small, tmp_path, flag, value):
    scored, truth = small
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, flag, value, "-O", output)
    assert "out of range" in assert_error(result, output, flag)


@pytest.mark.parametrize("value", [".", "high", "1,2", "\u0663"])
def test_error_score_not_a_number(tmp_path, value):
    lines = [record_line(*record[:6]) for record in RECORDS]
    lines[25] = record_line("chr1", 370, "A", "G,AT", ".", value)  # even on a MIXED record
    scored = write_vcf(tmp_path / "scored.vcf.gz", HEADER, lines)
    truth = write_resource(tmp_path / "truth.vcf.gz", RESOURCE)
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    assert_error(result, output, scored, "chr1:370", f"'{value}' is not a number")


def test_error_score_with_a_space(tmp_path):
    """htsjdk refuses INFO holding whitespace before the score reaches Double.parseDouble, which
    would have trimmed it; a plain float() trims too."""
    lines = [record_line(*record[:6]) for record in RECORDS]
    lines[0] = record_line("chr1", 100, "A", "G", ".", " 9")
    scored = write_vcf(tmp_path / "scored.vcf.gz", HEADER, lines)
    truth = write_resource(tmp_path / "truth.vcf.gz", RESOURCE)
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output)
    assert_error(result, output, scored, "chr1:100", "value ' 9' holds a space")


def test_error_inconsistent_references(small, tmp_path):
    scored, _ = small
    bad = write_resource(tmp_path / "bad.vcf.gz", [("chr1", 100, "C", "G"), *RESOURCE[1:]])
    output = tmp_path / "out.vcf.gz"
    result = run_cli("filter", "-V", scored, "--resource", bad, "-O", output)
    error = assert_error(result, output, bad, "chr1:100")
    assert "inconsistent references" in error


def test_error_leaves_an_existing_output_alone(small, tmp_path):
    scored, truth = small
    output = tmp_path / "out.vcf"
    output.write_text("old\n")
    result = run_cli("filter", "-V", scored, "--resource", truth, "--snp-tranche", "100",
                     "-O", output)  # fmt: skip
    assert result.returncode == 1
    assert output.read_text() == "old\n"


# --------------------------------------------------------------------------------------------
# GATK's engine arguments: -L and its kin, -R, progress

# chr1:150-400 holds the truth SNPs 150-200 only: scores 5 5 5 3 2 1, n-1 = 5, so the SNP cutoffs
# are 50 -> index 2 -> 5, 80 -> int(4.0) = 4 -> 2, 90 -> int(4.5) = 4 -> 2 (whole file: 5, 3, 2).
SAME_AS_CHR1_150_400 = {
    "-L": ["-L", "chr1:150-400"],
    "-L -ip": ["-L", "chr1:160-390", "--interval-padding", "10"],
    "-XL": ["-XL", "chr1:1-149", "-XL", "chr1:401-10000", "-XL", "chr3"],
    "-isr INTERSECTION": ["-L", "chr1:1-400", "-L", "chr1:150-10000", "-isr", "INTERSECTION"],
}


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "plain"])
@pytest.mark.parametrize("case", SAME_AS_CHR1_150_400)
def test_intervals_filter_as_the_input_cut_to_them(small, tmp_path, case, indexed):
    """GATK's VariantWalker traverses only the records overlapping the intervals, in both passes:
    the cutoffs come from them and only they are written. So filter -L X is filter on the input
    cut to X (by htslib here), read through the index or, unindexed, by a scan."""
    scored, truth = small
    with pysam.TabixFile(str(scored)) as tabix:
        cut_lines = list(tabix.fetch("chr1", 149, 400))
    cut = write_vcf(tmp_path / "cut.vcf.gz", HEADER, cut_lines)
    expected = tmp_path / "expected.vcf"
    cut_run = run_cli("filter", "-V", cut, "--resource", truth, *TRANCHE_ARGS, "-O", expected,
                      check=True)  # fmt: skip
    given = scored if indexed else write_vcf(tmp_path / "scored.vcf", HEADER, data_lines(scored))
    output = tmp_path / "filtered.vcf"
    result = run_cli("filter", "-V", given, "--resource", truth, *TRANCHE_ARGS, "-O", output,
                     *SAME_AS_CHR1_150_400[case], check=True)  # fmt: skip
    assert output.read_text() == expected.read_text()
    assert len(data_lines(output)) == len(cut_lines) == 23
    assert "SNP cutoffs 50.00 -> 5, 80.00 -> 2, 90.00 -> 2" in result.stderr
    assert result.stderr.splitlines()[-1] == cut_run.stderr.splitlines()[-1].replace(
        str(expected), str(output)
    )
    whole = run_cli("filter", "-V", scored, "--resource", truth, *TRANCHE_ARGS, "-O",
                    tmp_path / "whole.vcf", check=True)  # fmt: skip
    assert "SNP cutoffs 50.00 -> 5, 80.00 -> 3, 90.00 -> 2" in whole.stderr


def test_intervals_need_contig_lengths(tmp_path):
    header = [line for line in HEADER if not line.startswith("##contig")]
    scored = write_vcf(tmp_path / "scored.vcf", header, [record_line(*r[:6]) for r in RECORDS])
    truth = write_resource(tmp_path / "truth.vcf.gz", RESOURCE)
    output = tmp_path / "out.vcf"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-L", "chr1", "-O", output)
    assert "no ##contig lines with lengths" in assert_error(result, output, scored)
    # as GATK, the reference's dictionary serves instead (-R): read only then
    reference = tmp_path / "ref.fa"
    reference.write_text("".join(f">{c}\n" + "A" * 10000 + "\n" for c in ("chr1", "chr3")))
    pysam.faidx(str(reference))
    result = run_cli("filter", "-V", scored, "--resource", truth, "-L", "chr1:100-130",
                     "-R", reference, "-O", output, "--snp-tranche", "50", check=True)  # fmt: skip
    assert "-R is not read" not in result.stderr
    assert [line.split("\t")[1] for line in data_lines(output)] == ["100", "110", "120", "130"]


def test_reference_and_progress_of_gatk_command_lines(small, tmp_path):
    """-R is taken and not read where the input's header gives -L/-XL their contig lengths or
    no interval is given (FilterVariantTranches needs no reference); progress lines come as
    often as --seconds-between-progress-updates asks, over both passes."""
    scored, truth = small
    output = tmp_path / "filtered.vcf"
    result = run_cli("filter", "-V", scored, "--resource", truth, "-O", output, *TRANCHE_ARGS,
                     "-R", tmp_path / "absent.fasta", "--seconds-between-progress-updates", "0",
                     check=True)  # fmt: skip
    assert "cnnscore: note: -R is not read" in result.stderr
    progress = [line for line in result.stderr.splitlines() if "chr1:100 " in line]
    assert len(progress) == 2  # one line a record, each pass
    assert filters(output) == [record[6] for record in RECORDS]


# --------------------------------------------------------------------------------------------
# the real smoke set, scored with small_2d, against GIAB truth


def _site_kind(ref: str, alts: tuple[str, ...]) -> str:
    """SNP / INDEL / OTHER as htsjdk types plain-base sites (the smoke set has no symbolic)."""
    kinds = set()
    for alt in alts:
        same_length = len(alt) == len(ref)
        kinds.add("INDEL" if not same_length else "SNP" if len(ref) == 1 else "MNP")
    return kinds.pop() if len(kinds) == 1 and kinds != {"MNP"} else "OTHER"


def _confirmed(ref: str, alts: tuple[str, ...], truth: list[tuple[str, tuple[str, ...]]]) -> bool:
    """Both records written over the longer REF (pad the shorter one's alleles), then any
    shared alt."""
    for truth_ref, truth_alts in truth:
        common = max(ref, truth_ref, key=len)
        mine = {a + common[len(ref) :] for a in alts}
        theirs = {a + common[len(truth_ref) :] for a in truth_alts}
        if mine & theirs:
            return True
    return False


def test_smoke_set_against_giab(smoke_2d_output, tmp_path):
    output = tmp_path / "filtered.vcf.gz"
    result = run_cli("filter", "-V", smoke_2d_output, "--resource", GIAB, "-O", output)
    assert result.returncode == 0, result.stderr

    with pysam.VariantFile(str(GIAB)) as giab:
        truth: dict[int, list] = {}
        for rec in giab:
            truth.setdefault(rec.pos, []).append((rec.ref.upper(), rec.alts or ()))
    records = []
    with pysam.VariantFile(str(smoke_2d_output)) as scored:
        for rec in scored:
            score = float(rec.info["CNN_2D"])
            kind = _site_kind(rec.ref, rec.alts)
            records.append((kind, score, _confirmed(rec.ref, rec.alts, truth.get(rec.pos, []))))
    lists = {
        kind: np.sort([s for k, s, hit in records if hit and (k == "SNP") == (kind == "SNP")])[::-1]
        for kind in ("SNP", "INDEL")
    }
    cutoff = {
        "SNP": lists["SNP"][int((99.95 / 100.0) * (len(lists["SNP"]) - 1))],
        "INDEL": lists["INDEL"][int((99.4 / 100.0) * (len(lists["INDEL"]) - 1))],
    }
    name = {"SNP": SNP + "99.95_100.00", "INDEL": INDEL + "99.40_100.00"}
    expected = [
        name[kind] if kind in name and score <= cutoff[kind] else "PASS"
        for kind, score, _ in records
    ]
    got = filters(output)
    assert got == expected
    assert len(got) == 252 and set(got) <= {"PASS", *name.values()}

    snps = sum(kind == "SNP" for kind, _, _ in records)
    indels = sum(kind == "INDEL" for kind, _, _ in records)
    matched = f"{len(lists['SNP'])} SNP and {len(lists['INDEL'])} indel resource matches"
    counts = (
        f"filtered {expected.count(name['SNP'])} of {snps} SNPs and "
        f"{expected.count(name['INDEL'])} of {indels} indels"
    )
    assert counts in result.stderr and matched in result.stderr
    assert len(lists["SNP"]) + len(lists["INDEL"]) >= 218  # GIAB confirms 218 of the 252 calls
    assert expected.count(name["SNP"]) > 0 and expected.count(name["INDEL"]) > 0
    assert without_filter(data_lines(output)) == without_filter(data_lines(smoke_2d_output))


def test_a_resource_name_that_needs_quoting_keeps_the_header_readable(small, tmp_path):
    """A resource named with a `"` or a newline broke the Resources="..." value (exit 0 and an
    unreadable VCF): quoted as VCF 4.3 says, a control character written as \\xNN."""
    scored, truth = small
    odd = tmp_path / 'tr"u\\th\n.vcf.gz'
    truth.rename(odd)
    Path(f"{truth}.tbi").rename(f"{odd}.tbi")
    output = tmp_path / "filtered.vcf"
    run_cli("filter", "-V", scored, "--resource", odd, *TRANCHE_ARGS, "-O", output, check=True)
    (line,) = [h for h in header_lines(output) if h.startswith("##cnnscoreCommandLine")]
    assert r'Resources="tr\"u\\th\\x0a.vcf.gz"' in line, line
    with pysam.VariantFile(str(output)) as filtered:
        assert [r.filter.keys() for r in filtered] == [f.split(";") for f in filters(output)]

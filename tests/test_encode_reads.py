"""Read selection for the 2D tensor on small BAMs written here: GATK's filters, unclipped starts
(hard clips included), flags, reservoir downsampling and the merge of several inputs."""

from __future__ import annotations

import pysam
import pytest

from cnnscore.encode.javarandom import JavaRandom, reservoir_sample
from cnnscore.encode.reads import ReadSource
from cnnscore.errors import InputError
from conftest import data_lines, run_cli

LENGTHS = {"chr1": 1000}
HEADER = {
    "HD": {"VN": "1.6", "SO": "coordinate"},
    "SQ": [{"SN": "chr1", "LN": 1000}],
    "RG": [{"ID": "rg1", "SM": "s"}, {"ID": "ArtificialHaplotypeRG", "SM": "s"}],
}


def segment(header, name, start0, cigar, seq=None, *, flag=0, rg="rg1", quals=True, mq=60):
    read = pysam.AlignedSegment(header)
    read.query_name = name
    read.flag = flag
    read.reference_id = 0
    read.reference_start = start0
    read.mapping_quality = mq
    if cigar:
        read.cigarstring = cigar
    length = seq if isinstance(seq, int) else None
    bases = "ACGT" * 50
    read.query_sequence = bases[: length or 50] if not isinstance(seq, str) else seq
    if quals:
        read.query_qualities = pysam.qualitystring_to_array("I" * len(read.query_sequence))
    if rg:
        read.set_tag("RG", rg)
    return read


def write_bam(path, make_reads, header=HEADER):
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        reads = make_reads(bam.header)
        for read in sorted(reads, key=lambda r: r.reference_start):
            bam.write(read)
    pysam.index(str(path))
    return str(path)


@pytest.fixture
def fasta(tmp_path):
    path = tmp_path / "ref.fa"
    path.write_text(">chr1\n" + "ACGT" * 250 + "\n")
    pysam.faidx(str(path))
    return str(path)


def test_filters_unclipped_start_and_flags(tmp_path, fasta, capsys):
    def make(header):
        return [
            segment(header, "clipped", 99, "5H10S40M", 50, flag=0x1 | 0x40 | 0x20),
            segment(header, "no_rg", 99, "50M", rg=None),
            segment(header, "artificial", 99, "50M", rg="ArtificialHaplotypeRG"),
            segment(header, "spliced", 99, "20M100N30M"),
            segment(header, "unpaired_rev", 100, "50M", flag=0x10),
            segment(header, "read2", 101, "50M", flag=0x1 | 0x80 | 0x10),
            segment(header, "elsewhere", 300, "50M"),
        ]

    source = ReadSource([write_bam(tmp_path / "a.bam", make)], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="chr1:120 A>C")
    by_start = {r.unclipped_start: r for r in reads}
    assert sorted(by_start) == [100 - 15, 101, 102]  # 1-based; 5H + 10S subtracted
    clipped = by_start[85]
    assert (clipped.first, clipped.mate_reverse, clipped.reverse) == (True, True, False)
    unpaired = by_start[101]
    assert (unpaired.first, unpaired.mate_reverse, unpaired.reverse) == (False, False, True)
    read2 = by_start[102]
    assert (read2.first, read2.reverse, read2.mapping_quality) == (False, True, 60)
    assert "reads without an RG tag are dropped" in capsys.readouterr().err
    source.close()


def test_the_read_group_blacklist_drops_only_read_groups_the_header_declares(tmp_path, fasta):
    """GATK's ReadGroupBlackListReadFilter looks the read's RG up in the header and keeps the read
    when it finds none: a read tagged ArtificialHaplotypeRG without that @RG line is scored (it
    was dropped on its tag alone). Declared in any input's header, it is dropped from all."""

    def make(header):
        return [
            segment(header, "artificial", 99, "50M", rg="ArtificialHaplotypeRG"),
            segment(header, "kept", 100, "50M"),
        ]

    undeclared = dict(HEADER, RG=[{"ID": "rg1", "SM": "s"}])
    bam = write_bam(tmp_path / "undeclared.bam", make, undeclared)
    source = ReadSource([bam], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="chr1:120 A>C")
    assert [r.unclipped_start for r in reads] == [100, 101]
    source.close()
    declared = write_bam(tmp_path / "declared.bam", lambda h: [segment(h, "other", 90, "50M")])
    source = ReadSource([bam, declared], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="chr1:120 A>C")
    assert [r.unclipped_start for r in reads] == [91, 101]
    source.close()


def test_a_read_without_qualities_is_dropped_as_gatk_drops_it(tmp_path, fasta):
    """GATK's WellformedReadFilter (MatchingBasesAndQuals) drops a read with QUAL '*'; it
    stopped the run here."""

    def make(header):
        return [
            segment(header, "noqual", 99, "50M", quals=False),
            segment(header, "kept", 99, "50M"),
        ]

    source = ReadSource([write_bam(tmp_path / "a.bam", make)], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="chr1:120 A>C")
    assert [r.unclipped_start for r in reads] == [100]
    source.close()


def test_an_unmapped_read_placed_beside_its_mate_starts_at_zero_as_gatk_sends_it(tmp_path, fasta):
    """An aligner places an unmapped mate at its mate's position: the region query returns it and
    GATK's read filters keep it, but GATK's read adapter gives any unmapped read the start
    ReadConstants.UNSET_POSITION (0), which is what its Java side sends to the encoder. Scores on
    BWA BAMs moved (smoke calls by up to 0.12) while cnnscore placed it at its mate's position."""

    def make(header):
        unmapped = segment(header, "unmapped", 119, None, flag=0x1 | 0x4 | 0x40)
        unmapped.next_reference_id, unmapped.next_reference_start = 0, 119
        return [segment(header, "mate", 119, "50M", flag=0x1 | 0x8 | 0x80), unmapped]

    source = ReadSource([write_bam(tmp_path / "a.bam", make)], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="chr1:120 A>C")
    assert sorted(r.unclipped_start for r in reads) == [0, 120]
    source.close()


def test_a_read_covering_no_reference_base_is_read_as_htsjdk_ends_it(tmp_path, fasta):
    """A mapped read of soft clips or an insertion only covers no reference base: htslib's
    region query counts it as covering its start, htsjdk ends it a base before its start, so
    GATK's query for a variant at that start skips it (a 20-base insertion read there shifted
    every row of the tensor: a score off by 9.9); a variant that begins before it, as a
    deletion's REF, still has it, in both (review of session 31, GATK emulated)."""

    def make(header):
        return [
            segment(header, "soft", 119, "50S", 50),
            segment(header, "insertion", 119, "10S20I", 30),
            segment(header, "kept", 99, "50M"),
        ]

    source = ReadSource([write_bam(tmp_path / "a.bam", make)], fasta, LENGTHS)
    at_its_start = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="x")
    assert [r.unclipped_start for r in at_its_start] == [100]
    deletion = source.reads_for_variant("chr1", 119, 121, 128, JavaRandom(), record="y")
    assert sorted(r.unclipped_start for r in deletion) == [70, 100, 110]  # 1-based, less clips
    source.close()


def test_an_unmapped_read_with_an_n_in_its_cigar_is_dropped_as_gatk_drops_it(tmp_path, fasta):
    """GATK's CigarContainsNoNOperator filter has no exception for unmapped reads (its
    ReadLengthEqualsCigarLength has one): an unmapped read placed at a variant with an N in its
    CIGAR was kept."""

    def make(header):
        unmapped = segment(header, "unmapped_n", 119, "20M100N30M", flag=0x1 | 0x4 | 0x40)
        other = segment(header, "unmapped_m", 119, "80M", flag=0x1 | 0x4 | 0x40)  # length: exempt
        for read in (unmapped, other):
            read.next_reference_id, read.next_reference_start = 0, 119
        return [segment(header, "mate", 119, "50M", flag=0x1 | 0x8 | 0x80), unmapped, other]

    source = ReadSource([write_bam(tmp_path / "a.bam", make)], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="chr1:120 A>C")
    assert sorted(r.unclipped_start for r in reads) == [0, 120]  # unmapped_m (at 0) and mate
    source.close()


@pytest.mark.parametrize(
    "htslib_error",
    ["error -4 while reading file", "error while reading file b'x.bam': -4"],
    ids=["compiled", "python"],
)
def test_a_record_htslib_cannot_decode_is_named_as_such(tmp_path, fasta, htslib_error):
    """htslib refuses a BAM record whose CIGAR and sequence lengths differ (GATK, reading with
    SILENT validation, drops the read and goes on) with code -4 and its reason on stderr, which
    cnnscore holds back: the one line said only "error -4 while reading file" (unusual-reads
    review). It now says what -4 means and how to see htslib's reason. (Such a record can only
    be made by patching a BAM's bytes: pysam and samtools refuse to write it.)"""
    bam = write_bam(tmp_path / "a.bam", lambda h: [segment(h, "r", 99, "50M")])
    source = ReadSource([bam], fasta, LENGTHS)
    error = source.read_failure("chr1", 120, OSError(htslib_error), "chr1:120 A>C")
    source.close()
    said = ("a record htslib cannot decode, such as one whose CIGAR and sequence lengths differ; "
            "`samtools view FILE chr1:120-120` prints htslib's reason")  # fmt: skip
    assert said in str(error)
    other = ReadSource([bam], fasta, LENGTHS).read_failure("chr1", 120, OSError("error -40"), "x")
    assert "cannot decode" not in str(other)


def test_deep_site_is_downsampled_with_gatks_reservoir(tmp_path, fasta):
    # 200 reads at one site, told apart by their mapping quality (= their BAM order index).
    def make(header):
        return [segment(header, f"r{i:03d}", 99, "50M", mq=i) for i in range(200)]

    source = ReadSource([write_bam(tmp_path / "deep.bam", make)], fasta, LENGTHS)
    rng = JavaRandom()
    first_site = source.reads_for_variant("chr1", 120, 120, 128, rng, record="x")
    second_site = source.reads_for_variant("chr1", 121, 121, 128, rng, record="y")
    reference_rng = JavaRandom()  # reservoir_sample is checked against a JVM in test_javarandom
    expected_first = reservoir_sample(range(200), 128, reference_rng)
    expected_second = reservoir_sample(range(200), 128, reference_rng)  # the stream continues
    assert [r.mapping_quality for r in first_site] == expected_first
    assert [r.mapping_quality for r in second_site] == expected_second
    assert expected_first != expected_second


def test_several_inputs_merge_in_coordinate_order(tmp_path, fasta):
    first = write_bam(
        tmp_path / "a.bam", lambda h: [segment(h, "a1", 90, "50M"), segment(h, "a2", 110, "50M")]
    )
    second = write_bam(tmp_path / "b.bam", lambda h: [segment(h, "b1", 100, "50M")])
    source = ReadSource([first, second], fasta, LENGTHS)
    reads = source.reads_for_variant("chr1", 120, 120, 128, JavaRandom(), record="x")
    assert [r.unclipped_start for r in reads] == [91, 101, 111]


def test_a_record_on_a_contig_the_only_reads_file_lacks_stops_as_in_gatk(tmp_path):
    """GATK queries a single -I through its own dictionary and stops on a contig missing there;
    cnnscore scored such a record from no reads, without a word. With several -I, GATK skips
    the files without the contig, and so does cnnscore."""
    fasta = tmp_path / "two.fa"
    fasta.write_text(">chr1\n" + "ACGT" * 250 + "\n>chr2\n" + "ACGT" * 125 + "\n")
    pysam.faidx(str(fasta))
    vcf = tmp_path / "calls.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n##contig=<ID=chr2,length=500>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr1\t121\t.\tA\tC\t50\tPASS\tMQ=60\nchr2\t101\t.\tA\tC\t50\tPASS\tMQ=60\n"
    )
    only_chr1 = write_bam(tmp_path / "a.bam", lambda h: [segment(h, "a", 99, "50M")])
    both = dict(HEADER, SQ=[*HEADER["SQ"], {"SN": "chr2", "LN": 500}])
    with_chr2 = write_bam(tmp_path / "b.bam", lambda h: [segment(h, "b", 90, "50M")], both)
    args = ("score", "-V", vcf, "-R", fasta, "--tensor-type", "read_tensor")
    result = run_cli(*args, "-I", only_chr1, "-O", tmp_path / "one.vcf")
    assert result.returncode == 1 and not (tmp_path / "one.vcf").exists()
    assert result.stderr.count("cnnscore: error:") == 1
    assert "contig chr2 is not in the reads file's header" in result.stderr
    assert "a.bam" in result.stderr and "chr2:101 A>C" in result.stderr
    run_cli(*args, "-I", only_chr1, "-I", with_chr2, "-O", tmp_path / "two.vcf", check=True)
    assert len(data_lines(tmp_path / "two.vcf")) == 2


def test_contig_length_mismatch_with_reference_is_refused(tmp_path, fasta):
    bam = write_bam(tmp_path / "a.bam", lambda h: [segment(h, "a", 10, "50M")])
    with pytest.raises(InputError, match="aligned to another reference"):
        ReadSource([bam], fasta, {"chr1": 999})

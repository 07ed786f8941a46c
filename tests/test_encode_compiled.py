"""The compiled read-tensor encoder against the Python reference: byte-identical tensors, the
same reads kept, the same random stream afterwards, the same warnings and errors.

On both real BAMs in testdata/ (NA12878 52x 101 bp, HG002 30x 148 bp), two BAMs made from a
5 kb slice of the NA12878 reads (the multi-file merge) and stress BAMs built here from the real
NA12878 reads: every read three times (sites far above 128 reads, so the reservoir draws),
leading soft clips turned into hard clips, unpaired reads, =/X/P and N CIGAR operations,
insertions and deletions spread over every offset (so some fall on window edges),
duplicate/secondary/QC-fail/placed-unmapped reads, reads without an RG tag or in GATK's
blacklisted read group; as BAM and as CRAM. Records are the real calls and, on the other sets, a
SNP, deletion or insertion every few dozen bases.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pysam
import pytest

from cnnscore.encode.compiled import unavailable_reason
from cnnscore.encode.read_tensor import rows_at_height
from cnnscore.errors import InputError
from cnnscore.io.vcf_text import VcfReader
from cnnscore.models.spec import DEFAULT_ANNOTATION_KEYS, READ_TENSOR
from cnnscore.scoring.pipeline import Encoder, EncoderConfig
from conftest import (
    HG002,
    SLICE_LENGTH,
    SLICE_START,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    run_cli,
    smoke_2d_args,
)


def test_the_compiled_encoder_is_built_and_usable():
    """CI builds it (make setup): a missing or mismatched build must fail here, not fall back."""
    assert unavailable_reason() is None


def encode_all(vcf: Path, reference: Path, bams: list[Path], encoder: str, scope: str = "run",
               reader_threads: int = 1, heights: tuple[int, ...] = ()):  # fmt: skip
    config = EncoderConfig(
        vcf_path=str(vcf), reference_path=str(reference), reads_paths=tuple(map(str, bams)),
        tensor_type=READ_TENSOR, annotation_keys=DEFAULT_ANNOTATION_KEYS, window_size=128,
        read_limit=128, reservoir_scope=scope, encoder=encoder, reader_threads=reader_threads,
        heights=heights,
    )  # fmt: skip
    encoder_ = Encoder(config)
    try:
        out = [encoder_.encode(record) for record in VcfReader(str(vcf)).records()]
    finally:
        encoder_.close()
    return out, encoder_.rng._seed


def assert_identical(vcf, reference, bams, scope="run", *, deep: bool = False, heights=()):
    """The Python reference reading each file in one thread; the compiled encoder as score runs
    it in-process, with htslib decompressing ahead in a second thread."""
    python, python_seed = encode_all(vcf, reference, bams, "python", scope, heights=heights)
    compiled, compiled_seed = encode_all(vcf, reference, bams, "compiled", scope, 2, heights)
    assert len(python) == len(compiled) > 0
    for index, (a, b) in enumerate(zip(python, compiled, strict=True)):
        assert a[0].shape == b[0].shape, index
        assert a[0].dtype == b[0].dtype == np.float32
        assert a[0].tobytes() == b[0].tobytes(), f"record {index}: tensors differ"
        assert a[1].tobytes() == b[1].tobytes() and a[2:] == b[2:], index
    assert python_seed == compiled_seed  # the GATK random stream advanced identically
    if deep:
        assert max(a[3] for a in python) == 128, "no site reached the read limit"
    return python


@pytest.mark.parametrize("scope", ["run", "site"])
def test_identical_on_the_na12878_smoke_set(scope):
    assert_identical(SMOKE_VCF, SMOKE_REF, [SMOKE_BAM], scope)


ARTIFICIAL = "ArtificialHaplotypeRG"


def _write_vcf(path: Path, reference: Path, contig: str, start: int, stop: int, step: int) -> Path:
    """A SNP, a deletion or an insertion every ``step`` bases, REF taken from the reference."""
    return _write_vcf_at(path, reference, contig, range(start, stop, step))


def _write_vcf_at(path: Path, reference: Path, contig: str, positions) -> Path:
    """A SNP, a deletion or an insertion in turn at each of ``positions``."""
    fasta = pysam.FastaFile(str(reference))
    lines = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={contig},length={fasta.get_reference_length(contig)}>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    for index, pos in enumerate(positions):
        bases = fasta.fetch(contig, pos - 1, pos + 1).upper()
        if "N" in bases:
            continue
        other = "C" if bases[0] != "C" else "G"
        ref, alt = [(bases[0], other), (bases, bases[0]), (bases[0], bases[0] + "TT")][index % 3]
        lines.append(f"{contig}\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\tDP=30;MQ=60;QD=10")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_identical_where_unmapped_reads_are_placed_beside_their_mates(tmp_path):
    """GATK starts an unmapped read at 0 wherever its aligner placed it (encode/reads.py): a
    record at the position of each of the smoke BAM's first 60 placed-unmapped reads, so that
    both encoders meet them in their pileups."""
    with pysam.AlignmentFile(str(SMOKE_BAM)) as bam:
        starts = sorted({r.reference_start + 1 for r in bam.fetch("chr20") if r.is_unmapped})
    vcf = _write_vcf_at(tmp_path / "unmapped.vcf", SMOKE_REF, "chr20", starts[:60])
    assert_identical(vcf, SMOKE_REF, [SMOKE_BAM])


def test_identical_with_the_blacklisted_read_group_declared_or_not(tmp_path):
    """Every fifth read of the 5 kb slice tagged ArtificialHaplotypeRG: dropped by both encoders
    where the header declares that read group, kept by both where it does not (GATK's filter
    looks the read group up in the header, encode/reads.py)."""
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        reads = list(source.fetch("chr20", SLICE_START, SLICE_START + SLICE_LENGTH))
    groups = header.get("RG", [])
    for name, declared in (("undeclared", groups), ("declared", [*groups, {"ID": ARTIFICIAL}])):
        with pysam.AlignmentFile(
            str(tmp_path / f"{name}.bam"), "wb", header=dict(header, RG=declared)
        ) as bam:
            for index, read in enumerate(reads):
                if index % 5 == 0:
                    read.set_tag("RG", ARTIFICIAL)
                bam.write(read)
        pysam.index(str(tmp_path / f"{name}.bam"))
    start, stop = SLICE_START + 100, SLICE_START + SLICE_LENGTH - 100
    vcf = _write_vcf(tmp_path / "slice.vcf", SMOKE_REF, "chr20", start, stop, 29)
    kept = assert_identical(vcf, SMOKE_REF, [tmp_path / "undeclared.bam"])
    dropped = assert_identical(vcf, SMOKE_REF, [tmp_path / "declared.bam"])
    assert sum(a[3] for a in kept) > 1.15 * sum(a[3] for a in dropped)


def test_identical_with_reads_that_cover_no_reference_base_and_unmapped_ones_with_n(tmp_path):
    """Reads GATK reads otherwise than htslib (encode/reads.py): beside every fourth smoke read of
    the 5 kb slice, a copy made all soft clip and one made an insertion (they cover no reference
    base), and an unmapped copy with an N in its CIGAR, placed where the read starts; records at
    those starts (kept there by htslib, skipped by htsjdk) and one base before (kept by both)."""
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        reads = list(source.fetch("chr20", SLICE_START, SLICE_START + SLICE_LENGTH))
    written, starts = [], set()
    for index, read in enumerate(reads):
        written.append(read)
        if index % 4 or read.is_unmapped or read.query_length < 40:
            continue
        starts.add(read.reference_start + 1)
        length = read.query_length
        odd_kinds = (("soft", f"{length}S", read.flag), ("ins", f"5S{length - 5}I", read.flag),
                     ("unmapped_n", f"20M100N{length - 20}M", read.flag | 0x4))  # fmt: skip
        for name, cigar, flag in odd_kinds:
            odd = pysam.AlignedSegment.from_dict(read.to_dict(), read.header)
            odd.query_name, odd.cigarstring, odd.flag = f"{read.query_name}_{name}", cigar, flag
            written.append(odd)
    path = tmp_path / "odd.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for read in sorted(written, key=lambda r: r.reference_start):
            bam.write(read)
    pysam.index(str(path))
    positions = sorted({p for start in starts for p in (start, start - 1)})
    vcf = _write_vcf_at(tmp_path / "odd.vcf", SMOKE_REF, "chr20", positions[:90])
    assert_identical(vcf, SMOKE_REF, [path])


def test_identical_through_and_after_a_structural_variants_long_span(tmp_path):
    """A symbolic deletion whose END lies 40 kb on: its reads are those of the whole span (GATK
    queries the record's span), which the compiled encoder now streams instead of keeping them
    for the calls inside the span (a 10 Mb <DEL> made those 27x slower; bench/RESULTS.md, session
    31); the calls inside and after it are encoded as the Python encoder does."""
    vcf = _write_vcf(tmp_path / "calls.vcf", SMOKE_REF, "chr20", SLICE_START + 200,
                     SLICE_START + 4_800, 97)  # fmt: skip
    lines = vcf.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    records = [line for line in lines if not line.startswith("#")]
    fasta = pysam.FastaFile(str(SMOKE_REF))
    pos = SLICE_START + 150
    base = fasta.fetch("chr20", pos - 1, pos).upper()
    sv = f"chr20\t{pos}\t.\t{base}\t<DEL>\t50\tPASS\tDP=30;MQ=60;QD=10;END={pos + 40_000}"
    header.insert(-1, '##ALT=<ID=DEL,Description="Deletion">')
    header.insert(-1, '##INFO=<ID=END,Number=1,Type=Integer,Description="End">')
    vcf.write_text("\n".join(header + [sv] + records) + "\n")
    encoded = assert_identical(vcf, SMOKE_REF, [SMOKE_BAM])
    assert encoded[0][3] == 128 and len(encoded) == len(records) + 1  # the SV: a full pileup


def _long_reads_bam(folder: Path, starts: range, length: int, every: int) -> Path:
    """Reads of ``length`` bases from each of ``starts``, with a deletion (1-3 bases) and, more
    rarely, an insertion every ``every`` bases and soft clips at both ends: long-read alignments,
    with hundreds of indels outside any one 128-column window; now and then a deletion of length
    0 followed by an = (which GATK's cursor skips) and another deletion at the same key."""
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
    group = header["RG"][0]["ID"]
    path = folder / "long.bam"
    with pysam.AlignmentFile(str(path), "wb", header=header) as bam:
        for number, start in enumerate(starts):
            ops, query = [(4, 20 + number % 7)], 20 + number % 7
            while query < length - 40:
                ops.append((0, every - 1))
                ops.append((2, 1 + number % 3) if (query // every) % 5 else (1, 2))
                query += every - 1 + (2 if ops[-1][0] == 1 else 0)
                if (query // every) % 7 == 0:  # a deletion of length 0, then another at its key
                    ops[-1:] = [(2, 0), (7, 1), (2, 1)] if ops[-1][0] == 2 else ops[-1:]
                    query += 1 if ops[-1] == (2, 1) else 0
            ops += [(0, 20), (4, 20)]
            query += 40
            read = pysam.AlignedSegment(bam.header)
            read.query_name, read.flag = f"long{number}", 0
            read.reference_id = bam.header.get_tid("chr20")
            read.reference_start, read.mapping_quality, read.cigartuples = start, 60, ops
            read.query_sequence = "ACGTTGCA" * (query // 8) + "ACGTTGCA"[: query % 8]
            read.query_qualities = pysam.qualitystring_to_array("I" * query)
            read.set_tag("RG", group)
            bam.write(read)
    pysam.index(str(path))
    return path


def test_identical_on_long_reads_without_falling_back_to_python(tmp_path, monkeypatch):
    """Reads of 3 kb with a deletion or an insertion every 9 bases (~330 indels each): each read's
    pad map held every deletion, most of them far outside the window, and past 256 the compiled
    encoder rebuilt the tensor in Python at every such site (a 50 ms site; the scale review's
    long reads fell back at 124 of 124). The deletions outside a row are now summed at its ends:
    byte-identical tensors, and no site falls back."""
    from cnnscore.encode import compiled

    fell_back = []
    python_read_tensor = compiled.read_tensor

    def counted(*args, **kwargs):
        fell_back.append(1)
        return python_read_tensor(*args, **kwargs)

    monkeypatch.setattr(compiled, "read_tensor", counted)
    bam = _long_reads_bam(tmp_path, range(SLICE_START - 2_500, SLICE_START + 2_000, 90), 3_000, 9)
    vcf = _write_vcf(tmp_path / "calls.vcf", SMOKE_REF, "chr20", SLICE_START + 100,
                     SLICE_START + 2_000, 61)  # fmt: skip
    encoded = assert_identical(vcf, SMOKE_REF, [bam])
    assert min(e[3] for e in encoded) >= 20  # every site has long reads in its pileup
    assert fell_back == []  # compiled.read_tensor is the fallback's (Python) builder


def test_identical_on_hg002(tmp_path):
    reference = HG002 / "ref.20.fa.gz"
    vcf = _write_vcf(tmp_path / "hg002.vcf", reference, "20", 10_000_050, 10_040_000, 61)
    assert_identical(vcf, reference, [HG002 / "HG002.chr20_10M_10.1M.bam"])


def _two_bams_from_the_slice(folder: Path) -> list[Path]:
    """The smoke reads of the 5 kb slice dealt into two BAMs by read name (mates together), each
    with a read group and sample of its own: two files whose reads interleave at every depth."""
    bams = [folder / "half_a.bam", folder / "half_b.bam"]
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        outputs = []
        for index, path in enumerate(bams):
            half = dict(header, RG=[{"ID": f"half{index}", "SM": f"S{index}", "PL": "ILLUMINA"}])
            outputs.append(pysam.AlignmentFile(str(path), "wb", header=half))
        for read in source.fetch("chr20", SLICE_START, SLICE_START + SLICE_LENGTH):
            index = sum(read.query_name.encode()) % 2
            read.set_tag("RG", f"half{index}")
            outputs[index].write(read)
        for output in outputs:
            output.close()
    for path in bams:
        pysam.index(str(path))
    return bams


def test_identical_when_two_bams_merge(tmp_path):
    bams = _two_bams_from_the_slice(tmp_path)
    start, stop = SLICE_START + 100, SLICE_START + SLICE_LENGTH - 100
    vcf = _write_vcf(tmp_path / "slice.vcf", SMOKE_REF, "chr20", start, stop, 23)
    assert_identical(vcf, SMOKE_REF, bams)


# ------------------------------------------------------------------------------------------------
# stress BAMs from real reads


def _ops(read: pysam.AlignedSegment) -> list[tuple[int, int]]:
    return list(read.cigartuples or [])


def _split_first_match(ops, index: int, make):
    """Replace the first M of length >= 12 by ``make(length, cut)`` (same query length)."""
    for at, (op, length) in enumerate(ops):
        if op == 0 and length >= 12:
            cut = 2 + index % (length - 8)
            return ops[:at] + make(length, cut) + ops[at + 1 :]
    return ops


def _stress(read: pysam.AlignedSegment, index: int) -> pysam.AlignedSegment:
    ops = _ops(read)
    if index % 7 == 0 and ops and ops[0][0] == 4:  # leading soft clip -> hard clip
        clip = ops[0][1]
        sequence, qualities = read.query_sequence[clip:], read.query_qualities[clip:]
        read.cigartuples = [(5, clip), *ops[1:]]
        read.query_sequence, read.query_qualities = sequence, qualities
        ops = _ops(read)
    if index % 11 == 0:  # unpaired
        read.flag &= ~(1 | 2 | 8 | 32 | 64 | 128)
        read.next_reference_id, read.next_reference_start, read.template_length = -1, -1, 0
    if index % 13 == 0:  # =, X and P: GATK's cursor skips them
        ops = _split_first_match(ops, index, lambda n, c: [(7, c), (6, 2), (8, 1), (0, n - c - 1)])
    elif index % 19 == 0:  # an insertion, at an offset that moves with the read
        ops = _split_first_match(ops, index, lambda n, c: [(0, c), (1, 2), (0, n - c - 2)])
    elif index % 23 == 0:  # a deletion
        ops = _split_first_match(ops, index, lambda n, c: [(0, c), (2, 1 + index % 5), (0, n - c)])
    elif index % 53 == 0:  # an N: WellformedReadFilter drops the read
        ops = _split_first_match(ops, index, lambda n, c: [(0, c), (3, 40), (0, n - c)])
    if ops:
        read.cigartuples = ops
    for step, flag in ((29, 1024), (31, 256), (37, 512)):
        if index % step == 0:
            read.flag |= flag
    if index % 47 == 0:
        read.flag |= 4  # placed unmapped: kept, as GATK keeps it
    if index % 41 == 0:
        read.set_tag("RG", None)
    elif index % 43 == 0:
        read.set_tag("RG", "ArtificialHaplotypeRG")
    read.mapping_quality = index % 61
    return read


@pytest.fixture(scope="module")
def stress_bam(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stress")
    unsorted, path = folder / "unsorted.bam", folder / "stress.bam"
    with pysam.AlignmentFile(str(SMOKE_BAM)) as source:
        header = source.header.to_dict()
        header["RG"] = [*header.get("RG", []), {"ID": "ArtificialHaplotypeRG", "SM": "x"}]
        with pysam.AlignmentFile(str(unsorted), "wb", header=header) as sink:
            index = 0
            for read in source.fetch("chr20", 10_020_000, 10_032_000):
                for copy in range(3):
                    clone = pysam.AlignedSegment.fromstring(read.to_string(), sink.header)
                    clone.query_name = f"{read.query_name}:{copy}" if copy else read.query_name
                    sink.write(_stress(clone, index))
                    index += 1
    pysam.sort("-o", str(path), str(unsorted))
    pysam.index(str(path))
    return path


@pytest.fixture(scope="module")
def stress_vcf(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stress_vcf")
    return _write_vcf(folder / "stress.vcf", SMOKE_REF, "chr20", 10_020_100, 10_031_900, 37)


@pytest.mark.parametrize("scope", ["run", "site"])
def test_identical_on_stress_reads(stress_bam, stress_vcf, scope):
    assert_identical(stress_vcf, SMOKE_REF, [stress_bam], scope, deep=True)


def test_stored_at_row_bucket_heights_identical_and_the_same_tensors(stress_bam, stress_vcf):
    """With the row buckets' heights (scoring.inference.in_place_heights) each compact tensor is
    stored at the smallest that holds its reads and standing row, the extra rows empty: both
    encoders byte-identical (the smoke set at ~50x, the stress reads far above the read limit),
    and every tensor at any height what it was without them."""
    heights = (16, 32, 40, 48, 56, 64)
    grew = 0
    for vcf, bam in ((SMOKE_VCF, SMOKE_BAM), (stress_vcf, stress_bam)):
        plain = assert_identical(vcf, SMOKE_REF, [bam])
        padded = assert_identical(vcf, SMOKE_REF, [bam], heights=heights)
        for (before, *_, reads), (after, *_) in zip(plain, padded, strict=True):
            assert len(after) == min((h for h in heights if h > reads), default=len(before))
            grew += len(after) > len(before)
            for height in (len(before), len(after), 128):
                assert rows_at_height(after[None], height).tobytes() == (
                    rows_at_height(before[None], height).tobytes()
                )
    assert grew > 100  # most smoke sites were raised to a bucket's height


def test_identical_on_stress_reads_as_cram(stress_bam, stress_vcf, tmp_path):
    cram = tmp_path / "stress.cram"
    pysam.view("-C", "-T", str(SMOKE_REF), "-o", str(cram), str(stress_bam), catch_stdout=False)
    pysam.index(str(cram))
    assert_identical(stress_vcf, SMOKE_REF, [cram], deep=True)


def test_identical_across_a_bam_and_its_stressed_copy(stress_bam, stress_vcf):
    """Two inputs covering the same sites: the coordinate merge with its tie-breaks."""
    assert_identical(stress_vcf, SMOKE_REF, [SMOKE_BAM, stress_bam], deep=True)


def test_same_warning_for_reads_without_a_read_group(stress_bam, stress_vcf, tmp_path):
    program = (
        "import sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_encode_compiled import encode_all\n"
        "encode_all(sys.argv[2], sys.argv[3], [sys.argv[4]], sys.argv[5])\n"
    )
    stderr = {}
    for encoder in ("python", "compiled"):
        done = subprocess.run(
            [sys.executable, "-c", program, str(Path(__file__).parent), str(stress_vcf),
             str(SMOKE_REF), str(stress_bam), encoder],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        stderr[encoder] = done.stderr
    assert stderr["python"] == stderr["compiled"]
    assert stderr["python"].startswith("cnnscore: warning: reads without an RG tag are dropped")


def _error_from_both_encoders(broken: Path, stress_vcf: Path, spoil) -> str:
    """The smoke slice's reads with the 500th spoiled by ``spoil``, as ``broken``: the error line
    each encoder gives for it, which must be the same."""
    source = pysam.AlignmentFile(str(SMOKE_BAM))
    with source, pysam.AlignmentFile(str(broken), "wb", header=source.header) as sink:
        for number, read in enumerate(source.fetch("chr20", 10_020_000, 10_032_000)):
            if number == 500:
                spoil(read)
            sink.write(read)
    pysam.index(str(broken))
    messages = {}
    for encoder in ("python", "compiled"):
        with pytest.raises(InputError) as error:
            encode_all(stress_vcf, SMOKE_REF, [broken], encoder)
        messages[encoder] = str(error.value)
    assert messages["python"] == messages["compiled"]
    return messages["compiled"]


def test_reads_without_qualities_are_dropped_by_both_encoders(tmp_path, stress_vcf):
    """GATK's WellformedReadFilter (MatchingBasesAndQuals) drops a read whose QUAL is '*', before
    the reservoir: both encoders now do, so the tensors are those of the reads without it (the
    run stopped on the first such read; found by a report-only review)."""
    spoiled, removed = tmp_path / "noqual.bam", tmp_path / "removed.bam"
    source = pysam.AlignmentFile(str(SMOKE_BAM))
    with source, pysam.AlignmentFile(str(spoiled), "wb", header=source.header) as with_them, \
            pysam.AlignmentFile(str(removed), "wb", header=source.header) as without:  # fmt: skip
        for number, read in enumerate(source.fetch("chr20", 10_020_000, 10_032_000)):
            if number % 7 == 3:
                read.query_qualities = None
            else:
                without.write(read)
            with_them.write(read)
    for bam in (spoiled, removed):
        pysam.index(str(bam))
    dropped = assert_identical(stress_vcf, SMOKE_REF, [spoiled])
    expected, _ = encode_all(stress_vcf, SMOKE_REF, [removed], "python")
    assert len(dropped) == len(expected)
    for index, (a, b) in enumerate(zip(dropped, expected, strict=True)):
        assert a[0].tobytes() == b[0].tobytes() and a[2:] == b[2:], index


def test_same_error_for_an_unknown_read_symbol(tmp_path, stress_vcf):
    """The compiled encoder finds it without the GIL and reports it after: same line as Python's."""

    def equals_signs(read: pysam.AlignedSegment) -> None:
        qualities = read.query_qualities
        read.query_sequence = "=" * read.query_length  # a BAM code GATK cannot encode
        read.query_qualities = qualities

    message = _error_from_both_encoders(tmp_path / "equals.bam", stress_vcf, equals_signs)
    assert "unknown symbol '='" in message


def _calls_beside_another_thread() -> tuple[int, int]:
    """(read_tensor calls during which another Python thread ran, calls): the smoke set encoded
    by the compiled encoder in a thread while this one counts (and sleeps 0 s between counts, so
    the encoder thread gets the GIL back as soon as it asks)."""
    config = EncoderConfig(
        vcf_path=str(SMOKE_VCF), reference_path=str(SMOKE_REF), reads_paths=(str(SMOKE_BAM),),
        tensor_type=READ_TENSOR, annotation_keys=DEFAULT_ANNOTATION_KEYS, window_size=128,
        read_limit=128, reservoir_scope="run", encoder="compiled",
    )  # fmt: skip
    encoder = Encoder(config)
    pileup = encoder.compiled._pileup
    counter, moved, done = [0], [], threading.Event()

    def counted(*args):
        before = counter[0]
        tensor = pileup.read_tensor(*args)
        moved.append(counter[0] > before)
        return tensor

    encoder.compiled._pileup = SimpleNamespace(
        read_tensor=counted, TooManyPads=pileup.TooManyPads,
    )  # fmt: skip
    records = list(VcfReader(str(SMOKE_VCF)).records())

    def encode() -> None:
        try:
            encoder.encode_chunk(records)
        finally:
            done.set()

    thread = threading.Thread(target=encode)
    thread.start()
    while not done.is_set():
        counter[0] += 1
        time.sleep(0)
    thread.join()
    encoder.close()
    assert len(moved) == len(records)
    return sum(moved), len(moved)


def test_the_tensor_is_built_without_the_gil():
    """While the encoder thread builds a tensor, another Python thread runs: the scoring thread,
    which starts every inference request, is not held up by encoding (encode/_pileup.pyx). On 2
    cores another thread ran during 250-252 of the 252 calls; with the GIL held through the build
    (before) during 7-15, in numpy's allocations. Three tries, for a machine busy elsewhere."""
    tries = [_calls_beside_another_thread()]
    while tries[-1][0] * 2 < tries[-1][1] and len(tries) < 3:
        tries.append(_calls_beside_another_thread())
    assert any(ran * 2 >= calls for ran, calls in tries), f"another thread ran during {tries}"


def test_score_with_either_encoder_writes_the_same_vcf(tmp_path):
    outputs = {}
    for encoder in ("python", "compiled"):
        out, metrics = tmp_path / f"{encoder}.vcf", tmp_path / f"{encoder}.json"
        run_cli(*smoke_2d_args(out, "--encoder", encoder, "--metrics-json", metrics), check=True)
        outputs[encoder] = out.read_bytes()
        data = json.loads(metrics.read_text())
        assert data["encoder"] == encoder
        # in-process (compiled) encoding gets a decompression thread; a worker process does not
        assert data["reader_threads"] == (2 if encoder == "compiled" else 1)
        # make setup builds pysam from source against libdeflate (io/htslib.py)
        assert data["htslib_libdeflate"] is True
    assert outputs["python"] == outputs["compiled"]


def test_auto_falls_back_with_one_warning_when_the_build_does_not_match(monkeypatch):
    from cnnscore.encode import compiled

    monkeypatch.setattr(compiled, "unavailable_reason", lambda: "built for pysam 0.0")
    assert compiled.resolve_encoder("python") == "python"
    assert compiled.resolve_encoder("auto") == "python"
    with pytest.raises(InputError, match="the compiled encoder is unavailable: built for pysam"):
        compiled.resolve_encoder("compiled")


def test_encoder_config_default_is_the_reference():
    config = EncoderConfig("v", "r", (), READ_TENSOR, (), 128, 128, "run")
    assert config.encoder == "python" and replace(config, encoder="compiled").encoder == "compiled"

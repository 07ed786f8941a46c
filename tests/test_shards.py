"""Scatter/gather: split-intervals shards, scored one by one and gathered, equal the direct run.

The WDL workflow runs exactly these three subcommands; here they run in-process on the real smoke
data, with user intervals that cut through overlapping deletions and a multi-allelic '*' site.
"""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from cnnscore.io.intervals import IntervalFilter, parse_intervals
from cnnscore.io.reference import reference_lengths
from cnnscore.io.vcf_text import VcfReader
from cnnscore.scoring.score import ScoreOptions, run_score
from cnnscore.shards.gather import gather_vcfs
from cnnscore.shards.split import run_split
from conftest import (
    SMALL_2D_HD5,
    SMALL_2D_JSON,
    SMOKE_BAM,
    SMOKE_REF,
    SMOKE_VCF,
    data_lines,
    header_lines,
    run_cli,
)

USER_INTERVALS = ["chr20:10064000-10067100", "chr20:10068165-10070000", "chr20:10096000-10098000"]


def smoke_lengths() -> dict[str, int]:
    return reference_lengths(str(SMOKE_REF))


def score(output, intervals) -> None:
    run_score(ScoreOptions(
        variants=str(SMOKE_VCF), reference=str(SMOKE_REF), output=str(output),
        reads=[str(SMOKE_BAM)], tensor_type="read_tensor", architecture=str(SMALL_2D_JSON),
        weights=str(SMALL_2D_HD5), intervals=list(intervals), inference_batch_size=8,
        transfer_batch_size=16, progress_seconds=3600,
    ))  # fmt: skip


@pytest.fixture(scope="module")
def direct(tmp_path_factory):
    output = tmp_path_factory.mktemp("direct") / "direct.vcf.gz"
    score(output, USER_INTERVALS)
    return output


@pytest.mark.parametrize("scatter_count", [1, 3, 40])
def test_scatter_then_gather_equals_the_direct_run(tmp_path, direct, scatter_count):
    shards = run_split(
        str(SMOKE_VCF), smoke_lengths(), scatter_count, USER_INTERVALS, str(tmp_path / "shards")
    )
    direct_records = data_lines(direct)
    assert len(direct_records) == 19
    assert len(shards) == min(scatter_count, 17)  # 19 records, two overlapping pairs: 17 at most
    scored = []
    for index, shard in enumerate(shards):
        scored.append(tmp_path / f"scored-{index}.vcf.gz")
        score(scored[-1], [shard])
    gathered = tmp_path / "gathered.vcf.gz"
    assert gather_vcfs([str(p) for p in scored], str(gathered)) == 19
    assert data_lines(gathered) == direct_records
    assert header_lines(gathered) == header_lines(direct)
    assert (tmp_path / "gathered.vcf.gz.tbi").is_file()


def test_shards_partition_the_records_and_balance_counts(tmp_path):
    shards = run_split(str(SMOKE_VCF), smoke_lengths(), 3, [], str(tmp_path))
    reader = VcfReader(str(SMOKE_VCF))
    per_shard = [
        [r.line for r in reader.records(IntervalFilter(parse_intervals([s], smoke_lengths())))]
        for s in shards
    ]
    assert [len(p) for p in per_shard] == [84, 84, 84]
    assert sum(per_shard, []) == data_lines(SMOKE_VCF)


def test_split_and_gather_cli(tmp_path):
    result = run_cli(
        "split-intervals",
        "-V",
        SMOKE_VCF,
        "-R",
        SMOKE_REF,
        "--scatter-count",
        "2",
        "-O",
        tmp_path / "s",
        check=True,
    )
    assert "wrote 2 shards" in result.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "shard-0000.interval_list",
        "shard-0001.interval_list",
    ]
    bad = run_cli("gather-vcfs", "-I", tmp_path / "missing.vcf.gz", "-O", tmp_path / "g.vcf.gz")
    assert bad.returncode == 1 and "VCF file does not exist" in bad.stderr
    assert not (tmp_path / "g.vcf.gz").exists()


@pytest.mark.parametrize("intervals", [[], USER_INTERVALS[1:]], ids=["whole", "with -L"])
def test_no_records_to_score_make_one_shard_and_a_header_only_vcf(tmp_path, intervals):
    """A VCF without records (or none inside -L) gave no shards, and the workflow's gather then
    failed ("no shards given"): now one shard over all that is chosen, which scores nothing, and
    the gathered VCF is the scored header without records, as the direct run writes it."""
    empty = tmp_path / "empty.vcf"
    empty.write_text("".join(line + "\n" for line in header_lines(SMOKE_VCF)))
    pysam.tabix_index(str(empty), preset="vcf")
    variants = f"{empty}.gz"
    lengths = smoke_lengths()

    def score_empty(output, chosen: list[str]) -> None:
        run_score(ScoreOptions(
            variants=variants, reference=str(SMOKE_REF), output=str(output),
            reads=[str(SMOKE_BAM)], tensor_type="read_tensor", architecture=str(SMALL_2D_JSON),
            weights=str(SMALL_2D_HD5), intervals=chosen, progress_seconds=3600,
        ))  # fmt: skip

    (shard,) = run_split(variants, lengths, 3, intervals, str(tmp_path / "shards"))
    assert parse_intervals([shard], lengths) == parse_intervals(intervals or ["chr20"], lengths)
    scatter, direct = tmp_path / "shard.vcf.gz", tmp_path / "direct.vcf.gz"
    score_empty(scatter, [shard])
    gathered = tmp_path / "gathered.vcf.gz"
    assert gather_vcfs([str(scatter)], str(gathered)) == 0
    score_empty(direct, list(intervals))
    assert data_lines(gathered) == [] and any("ID=CNN_2D" in h for h in header_lines(gathered))
    assert header_lines(gathered) == header_lines(direct)


def test_gather_keeps_every_distinct_provenance_line(tmp_path):
    """Shards scored on different CPUs (or precisions) each keep their provenance line."""
    head = ["##fileformat=VCFv4.2", '##INFO=<ID=CNN_2D,Number=1,Type=Float,Description="x">']
    line_a = '##cnnscoreCommandLine=<ID=score,Version="0.1.0",Precision="fp32",CPU="avx2">'
    line_b = '##cnnscoreCommandLine=<ID=score,Version="0.1.0",Precision="fp32",CPU="avx2 avx512f">'
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
    shards = []
    for index, (provenance, pos) in enumerate([(line_a, 10), (line_b, 20), (line_a, 30)]):
        path = tmp_path / f"shard{index}.vcf"
        record = f"chr20\t{pos}\t.\tA\tC\t.\t.\tCNN_2D=1.000"
        path.write_text("\n".join([*head, provenance, columns, record]) + "\n")
        shards.append(str(path))
    assert gather_vcfs(shards, str(tmp_path / "all.vcf")) == 3
    assert header_lines(tmp_path / "all.vcf") == [*head, line_a, line_b, columns]


def test_gather_refuses_a_shard_whose_header_defines_other_things(tmp_path):
    """A CNN_1D shard among CNN_2D shards (another model), or one scored against another
    reference: gathered, its records would sit under a header that does not describe them, and
    filtering by CNN_2D would pass them unscored."""
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"

    def shard(name: str, key: str, contig: str, pos: int) -> str:
        head = ["##fileformat=VCFv4.2", contig,
                f'##INFO=<ID={key},Number=1,Type=Float,Description="x">']  # fmt: skip
        path = tmp_path / name
        path.write_text("\n".join([*head, columns, f"chr20\t{pos}\t.\tA\tC\t.\t.\t{key}=1.0\n"]))
        return str(path)

    chr20 = "##contig=<ID=chr20,length=63025520>"
    first = shard("a.vcf", "CNN_2D", chr20, 10)
    for other, says in [
        (shard("b.vcf", "CNN_1D", chr20, 20), "only this shard has ##INFO=<ID=CNN_1D,...>"),
        (shard("c.vcf", "CNN_2D", "##contig=<ID=chr20,length=64444167>", 20),
         "##contig=<ID=chr20,...>"),
    ]:  # fmt: skip
        output = tmp_path / "all.vcf"
        result = run_cli("gather-vcfs", "-I", first, "-I", other, "-O", output)
        errors = [line for line in result.stderr.splitlines() if "cnnscore: error" in line]
        assert result.returncode == 1 and len(errors) == 1, result.stderr
        assert other in errors[0] and says in errors[0], errors[0]
        assert not output.exists()
    assert gather_vcfs([first, shard("d.vcf", "CNN_2D", chr20, 20)], str(tmp_path / "ok.vcf")) == 2


def test_gather_takes_a_bcf_shard_beside_a_vcf_shard(tmp_path):
    """htslib writes ##FILTER=<ID=PASS> into every BCF header: a .bcf and a .vcf shard of one
    run were refused as scored with another model or reference."""
    header, records = header_lines(SMOKE_VCF), data_lines(SMOKE_VCF)
    first, second = tmp_path / "first.vcf", tmp_path / "second.vcf"
    first.write_text("\n".join([*header, *records[:2]]) + "\n")
    second.write_text("\n".join([*header, *records[2:5]]) + "\n")
    bcf = tmp_path / "first.bcf"
    assert run_cli("gather-vcfs", "-I", first, "-O", bcf).returncode == 0
    with pysam.VariantFile(str(bcf)) as written:
        assert "##FILTER=<ID=PASS," in str(written.header)
    output = tmp_path / "all.vcf.gz"
    result = run_cli("gather-vcfs", "-I", bcf, "-I", second, "-O", output)
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[:5] for line in data_lines(output)] == [
        line.split("\t")[:5] for line in records[:5]
    ]


def _gather_refused(tmp_path, shards: list, *named, name: str = "gathered.vcf.gz") -> str:
    """gather-vcfs on the shards: one error line naming ``named``, exit 1, no output."""
    output = tmp_path / "out" / name
    output.parent.mkdir(exist_ok=True)
    result = run_cli("gather-vcfs", *[a for s in shards for a in ("-I", s)], "-O", output)
    errors = [line for line in result.stderr.splitlines() if line.startswith("cnnscore: error:")]
    assert result.returncode == 1 and len(errors) == 1, result.stderr
    assert all(str(name) in errors[0] for name in named), errors[0]
    assert list(output.parent.iterdir()) == []
    return errors[0]


@pytest.mark.parametrize("again", ["same path", "a link to it"])
def test_gather_refuses_a_shard_given_twice(tmp_path, again):
    """Each of its records was written twice (Picard's GatherVcfs refuses this too: its first
    record is not after the previous file's first record)."""
    shard = tmp_path / "shard.vcf"
    shard.write_text("".join(f"{line}\n" for line in header_lines(SMOKE_VCF)))
    with shard.open("a") as handle:
        handle.write("".join(f"{line}\n" for line in data_lines(SMOKE_VCF)[:3]))
    second = shard
    if again == "a link to it":
        second = tmp_path / "link.vcf"
        second.symlink_to(shard)
    assert "given twice (-I" in _gather_refused(tmp_path, [shard, second], second)


def test_gather_refuses_shards_that_overlap_at_a_record(tmp_path):
    """Two shards both holding the record at one position: it was written twice (the order check
    let equal positions pass). The line names the record and both shards."""
    header, records = header_lines(SMOKE_VCF), data_lines(SMOKE_VCF)
    first, second = tmp_path / "first.vcf", tmp_path / "second.vcf"
    first.write_text("\n".join([*header, *records[:3]]) + "\n")
    second.write_text("\n".join([*header, *records[2:5]]) + "\n")
    chrom, pos, _id, ref, alt = records[2].split("\t")[:5]
    error = _gather_refused(tmp_path, [first, second], second, first)
    assert f"record {chrom}:{pos} {ref}>{alt}: " in error and "shards overlap" in error, error


def _two_contig_shards(tmp_path) -> dict:
    """Shards of a header declaring chr20 then chr21: early chr20 records, chr21 records, later
    chr20 records."""
    header, records = header_lines(SMOKE_VCF), data_lines(SMOKE_VCF)
    at = next(i for i, line in enumerate(header) if line.startswith("##contig=<ID=chr20,"))
    header.insert(at + 1, "##contig=<ID=chr21,length=48129895>")
    parts = {"a": records[:3], "b": [r.replace("chr20", "chr21", 1) for r in records[:3]],
             "c": records[9:12]}  # fmt: skip
    shards = {}
    for name, lines in parts.items():
        shards[name] = tmp_path / f"{name}.vcf"
        shards[name].write_text("\n".join([*header, *lines]) + "\n")
    return shards


@pytest.mark.parametrize("output", ["gathered.vcf.gz", "gathered.vcf"])
def test_gather_refuses_shards_out_of_the_headers_contig_order(tmp_path, output):
    """Picard's GatherVcfs orders shards by the sequence dictionary: chr21's shard before
    chr20's, or chr20 again after chr21, wrote a VCF unsorted for its own header (exit 0)."""
    shards = _two_contig_shards(tmp_path)
    wrong = [shards["b"], shards["a"]]
    chrom, pos = data_lines(shards["a"])[0].split("\t")[:2]
    error = _gather_refused(tmp_path, wrong, shards["a"], f"record {chrom}:{pos} ", name=output)
    assert "puts chr20 before chr21" in error and "create-output-variant-index" not in error
    split = [shards["a"], shards["b"], shards["c"]]
    chrom, pos = data_lines(shards["c"])[0].split("\t")[:2]
    error = _gather_refused(tmp_path, split, shards["c"], f"record {chrom}:{pos} ", name=output)
    assert "shards out of order" in error and "create-output-variant-index" not in error
    gathered = tmp_path / output
    assert gather_vcfs([str(shards["a"]), str(shards["c"]), str(shards["b"])], str(gathered)) == 9


def test_gather_names_a_shard_that_is_not_sorted(tmp_path):
    """Within one shard, a record before the one above it: the line says the shard is unsorted,
    without GATK's --create-output-variant-index, which gather-vcfs does not take."""
    header, records = header_lines(SMOKE_VCF), data_lines(SMOKE_VCF)
    first, second = tmp_path / "first.vcf", tmp_path / "second.vcf"
    first.write_text("\n".join([*header, *records[:2]]) + "\n")
    second.write_text("\n".join([*header, records[4], records[3]]) + "\n")
    chrom, pos = records[3].split("\t")[:2]
    error = _gather_refused(tmp_path, [first, second], second, f"record {chrom}:{pos} ")
    assert "not sorted" in error and "create-output-variant-index" not in error, error


def test_gather_to_bcf_names_the_shard_with_an_undeclared_key(tmp_path):
    """htslib cannot write a BCF record naming an undeclared INFO key: the line names the shard
    that holds it (not the output, nor the first shard), and the record."""
    header, records = header_lines(SMOKE_VCF), data_lines(SMOKE_VCF)
    first, second = tmp_path / "first.vcf", tmp_path / "second.vcf"
    first.write_text("\n".join([*header, *records[:2]]) + "\n")
    undeclared = records[3].replace("\tAC=", "\tFOO=1;AC=")
    second.write_text("\n".join([*header, records[2], undeclared]) + "\n")
    chrom, pos, _id, ref, alt = records[3].split("\t")[:5]
    where = f"{second}: record {chrom}:{pos} {ref}>{alt}: "
    error = _gather_refused(tmp_path, [first, second], where, name="gathered.bcf")
    assert "INFO FOO has no ##INFO line" in error, error


def test_a_record_reaching_past_its_contig_makes_a_shard_that_scores(tmp_path):
    """A symbolic record whose END lies past its contig's end: its shard ends at the contig's
    end (an interval past it is refused, as GATK refuses it), and still selects the record."""
    length = smoke_lengths()["chr20"]
    header, records = header_lines(SMOKE_VCF), data_lines(SMOKE_VCF)[:3]
    end_line = '##INFO=<ID=END,Number=1,Type=Integer,Description="End position">'
    beyond = f"chr20\t{length - 10}\t.\tN\t<DEL>\t50\t.\tEND={length + 90}\tGT\t0/1"
    vcf = tmp_path / "calls.vcf"
    vcf.write_text("\n".join([header[0], end_line, *header[1:], *records, beyond]) + "\n")
    shards = run_split(str(vcf), smoke_lengths(), 2, [], str(tmp_path / "shards"))
    assert parse_intervals([shards[-1]], smoke_lengths())[-1].end == length
    scored = tmp_path / "scored.vcf"
    run_cli("score", "-V", vcf, "-R", SMOKE_REF, "-I", SMOKE_BAM, "--tensor-type", "read_tensor",
            "-L", shards[-1], "-O", scored, check=True)  # fmt: skip
    assert data_lines(scored)[-1].split("\t")[:5] == beyond.split("\t")[:5]


def test_split_adds_its_shards_to_a_folder_and_touches_nothing_else(tmp_path):
    """An existing -O folder was replaced whole: every file in it (the VCF being split, too)
    was deleted, exit 0, and -O . gave a traceback. Now the shards are added, as GATK's
    SplitIntervals adds them; an earlier run's shard files (one beyond the new count too) are
    replaced, and nothing else is touched, with -O . as well."""
    folder = tmp_path / "project"
    folder.mkdir()
    variants = folder / "in.vcf.gz"
    variants.write_bytes(SMOKE_VCF.read_bytes())
    (folder / "in.vcf.gz.tbi").write_bytes(Path(f"{SMOKE_VCF}.tbi").read_bytes())
    (folder / "notes.txt").write_text("my notes\n")
    (folder / "shard-0005.interval_list").write_text("an earlier run's shard\n")
    mine = ["in.vcf.gz", "in.vcf.gz.tbi", "notes.txt"]
    split = ["split-intervals", "-V", variants, "-R", SMOKE_REF, "--scatter-count"]
    run_cli(*split, "2", "-O", folder, check=True)
    assert sorted(p.name for p in folder.iterdir()) == [*mine, *four_digit_names(2)]
    assert (folder / "notes.txt").read_text() == "my notes\n"
    here = f"import os; os.chdir({str(folder)!r})"
    result = run_cli(*split, "3", "-O", ".", prelude=here, check=True)
    assert "wrote 3 shards to ." in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == [*mine, *four_digit_names(3)]
    run_cli(*split, "1", "-O", folder, prelude=here, check=True)
    assert sorted(p.name for p in folder.iterdir()) == [*mine, *four_digit_names(1)]
    assert data_lines(variants) == data_lines(SMOKE_VCF)


def four_digit_names(count: int) -> list[str]:
    """The shard file names expected under 10,000 shards."""
    return [f"shard-{index:04d}.interval_list" for index in range(count)]


def test_split_refuses_an_unsorted_vcf(tmp_path):
    """Records out of order fell outside their shard's range: the shards of 20 records in
    descending order selected 1 of them, exit 0. Now one line naming the file and the first
    record out of order, exit 1, and no shards."""
    records = data_lines(SMOKE_VCF)[:20]
    unsorted = tmp_path / "unsorted.vcf"
    unsorted.write_text("\n".join([*header_lines(SMOKE_VCF), *reversed(records)]) + "\n")
    second, first = (line.split("\t")[:2] for line in records[18:20])
    _assert_split_refused(
        tmp_path, unsorted, 4,
        f"{unsorted}: record {':'.join(second)} comes after {':'.join(first)}: the records are "
        "not sorted, so it cannot be cut into shards (sort it, e.g. bcftools sort)",
    )  # fmt: skip


def _assert_split_refused(tmp_path, variants, scatter_count: int, error: str) -> None:
    """split-intervals stops with this one error line, exit 1, and writes no shard."""
    result = run_cli(
        "split-intervals", "-V", variants, "-R", SMOKE_REF, "--scatter-count", scatter_count,
        "-O", tmp_path / "shards",
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"cnnscore: error: {error}"]
    assert not (tmp_path / "shards").exists()


def test_split_refuses_a_contig_not_in_the_reference(tmp_path):
    """A record on a contig the reference lacks made a shard naming it (exit 0), which failed
    only when scored, after the scatter had started. Now refused at split time, as score refuses
    it: one line naming the file and the record, exit 1, no shards."""
    records = data_lines(SMOKE_VCF)
    other = [line.replace("chr20", "chrZ", 1) for line in records[:4]]
    header = [
        f"{line}\n##contig=<ID=chrZ,length=20000000>" if line.startswith("##contig=<ID=chr20,")
        else line
        for line in header_lines(SMOKE_VCF)
    ]  # fmt: skip
    variants = tmp_path / "in.vcf"
    variants.write_text("\n".join([*header, *records[:6], *other]) + "\n")
    chrom, pos, _id, ref, alt = other[0].split("\t")[:5]
    _assert_split_refused(
        tmp_path, variants, 3,
        f"{variants}: record {chrom}:{pos} {ref}>{alt}: contig 'chrZ' is not in the reference",
    )  # fmt: skip


def test_shard_names_sort_in_shard_order_past_ten_thousand():
    """The workflows take the shards in glob order, which is name order: 4 digits (shard-0000)
    as before, more where the count needs them, so that shard-10000 never sorts before
    shard-1001."""
    from cnnscore.shards.split import SHARD_NAME, shard_names

    assert shard_names(3) == four_digit_names(3)
    for count in (10_000, 10_001, 123_456):
        names = shard_names(count)
        assert sorted(names) == names and len(set(names)) == count
        assert all(SHARD_NAME.fullmatch(name) for name in (names[0], names[-1]))


def test_split_refuses_contigs_out_of_the_headers_order(tmp_path):
    """Contig blocks out of the header's order (chr2 records, then chr1's, the header listing
    chr1 first) were cut and every shard scored, and gather-vcfs then refused the shards, as
    Picard's GatherVcfs does: refused in the first task now, before any scoring."""
    import pysam

    bases = pysam.FastaFile(str(SMOKE_REF)).fetch("chr20", 10_000_000, 10_002_000)
    reference = tmp_path / "two.fa"
    reference.write_text("".join(f">{name}\n{bases}\n" for name in ("chr1", "chr2")))
    pysam.faidx(str(reference))
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=2000>",
        "##contig=<ID=chr2,length=2000>",
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    records = [f"{contig}\t{pos}\t.\t{bases[pos - 1]}\tN\t50\t.\t."
               for contig in ("chr2", "chr1") for pos in (100, 900)]  # fmt: skip
    variants = tmp_path / "blocks.vcf"
    variants.write_text("\n".join([*header, *records]) + "\n")
    result = run_cli("split-intervals", "-V", variants, "-R", reference, "--scatter-count", "2",
                     "-O", tmp_path / "shards")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"cnnscore: error: {variants}: record chr1:100 {bases[99]}>N: comes after chr2 records, "
        "but the header lists chr1 before chr2: the scored shards could not be gathered in the "
        "header's order (sort it, e.g. bcftools sort)"
    ]
    assert not (tmp_path / "shards").exists()
    variants.write_text("\n".join([*header, *records[2:], *records[:2]]) + "\n")
    run_cli("split-intervals", "-V", variants, "-R", reference, "--scatter-count", "2",
            "-O", tmp_path / "shards", check=True)  # fmt: skip


def test_split_refuses_to_replace_a_shard_it_reads(tmp_path):
    """-L an earlier shard of the -O folder: the run deleted the file it read (exit 0)."""
    split = ["split-intervals", "-V", SMOKE_VCF, "-R", SMOKE_REF, "-O", tmp_path / "shards"]
    run_cli(*split, "--scatter-count", "4", check=True)
    earlier = tmp_path / "shards" / "shard-0003.interval_list"
    kept = earlier.read_text()
    result = run_cli(*split, "--scatter-count", "2", "-L", earlier)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"cnnscore: error: {earlier}: is an earlier run's shard in the output folder, which this "
        "run replaces: give another -O or move it first"
    ]
    assert earlier.read_text() == kept and len(list((tmp_path / "shards").iterdir())) == 4

"""One declaration per option (``cnnscore/settings.py``): every subcommand's parser, options
object and gs:// kinds come from its stage's options class, GATK's spellings and value forms
included, and an error about a setting is shown under its flag."""

from __future__ import annotations

import dataclasses

import pytest

from cnnscore.cli.main import _error_line
from cnnscore.cli.parser import BY_NAME, COMMANDS, build_parser, options_from
from cnnscore.errors import InputError
from cnnscore.gcs.remote_args import localize, uses_gcs
from cnnscore.scoring.options import ScoreOptions
from cnnscore.settings import declared, path_kinds
from cnnscore.training.options import TrainOptions
from cnnscore.tranches.options import FilterOptions


def _parse(*argv: str):
    args = build_parser().parse_args(list(argv))
    name = args.command if not getattr(args, "subcommand", None) else (
        f"{args.command} {args.subcommand}")  # fmt: skip
    return options_from(BY_NAME[name].options, args)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_field_of_every_options_class_is_a_declared_setting(command):
    fields = {f.name for f in dataclasses.fields(command.options)}
    assert fields == {f.name for f, _ in declared(command.options)}
    names = [n for _, flag in declared(command.options) for n in (*flag.names, *flag.gatk)]
    assert len(names) == len(set(names)), "a flag declared twice"


def test_gatk_value_forms_mean_what_they_mean_in_gatk():
    base = ("filter", "-V", "in.vcf.gz", "--resource", "a.vcf.gz", "-O", "out.vcf")
    java, _ = _parse(*base, "--snp-tranche", "99.5d", " 95 ", "0x1.8p6")  # as Double.valueOf
    assert java.snp_tranches == (99.5, 95.0, 96.0)
    repeated, _ = _parse(*base, "--snp-tranche", "99.9", "--snp-tranche", "95.0")
    listed, _ = _parse(*base, "--snp-tranche", "99.9", "95.0")
    short, _ = _parse(
        *base, "-snp-tranche", "99.9", "-snp-tranche", "95.0", "-resource", "b.vcf.gz"
    )
    assert repeated.snp_tranches == listed.snp_tranches == short.snp_tranches == (99.9, 95.0)
    assert short.resources == ("a.vcf.gz", "b.vcf.gz")
    default, _ = _parse(*base)
    assert default.snp_tranches == (99.95,) and default.invalidate_previous_filters is False
    for switch, expected in ((("--invalidate-previous-filters",), True),
                             (("--invalidate-previous-filters", "true"), True),
                             (("--invalidate-previous-filters", "FALSE"), False),
                             (("--invalidate-previous-filters", "T"), True),  # Barclay's T/F
                             (("--invalidate-previous-filters", "f"), False)):  # fmt: skip
        assert _parse(*base, *switch)[0].invalidate_previous_filters is expected
    with pytest.raises(SystemExit):
        _parse(*base, "--invalidate-previous-filters", "maybe")


def test_engine_names_reach_the_same_setting_and_read_indexes_pair_with_reads():
    options, notes = _parse("score", "-V", "v.vcf", "-R", "r.fa", "-O", "o.vcf", "-I", "a.bam",
                            "-I", "b.bam", "--read-index", "x.bai", "--read-index", "y.bai",
                            "--intra-op-threads", "3", "--seconds-between-progress-updates",
                            "30", "--inter-op-threads", "2")  # fmt: skip
    assert options.reads == ("a.bam##idx##x.bai", "b.bam##idx##y.bai")
    assert (options.threads, options.progress_seconds) == (3, 30.0)
    assert notes == [
        "cnnscore: note: --inter-op-threads has no effect here: TensorFlow's "
        "inter-op pool has no counterpart here: --threads sizes inference"
    ]
    with pytest.raises(InputError) as mismatch:
        ScoreOptions(variants="v", reference="r", output="o", reads=("a",), read_indexes=("x", "y"))
    assert _error_line(mismatch.value, BY_NAME["score"]).startswith("--read-index: 2 indexes")


@pytest.mark.parametrize("word", ["-LEX", "-OVMX", "-VSX", "-Lchr20"])
def test_a_single_dash_word_is_one_name_as_gatk_reads_it(capsys, word):
    """argparse split GATK's short names into one of ours plus a value (-OVM: -O VM; -LE: -L E)
    and blamed that flag ("-O given more than once", "interval 'E' names no contig"); Barclay
    reads the word whole, so the line names it as given (GATK's -LE, -OVM, -VS, -RF are
    engine arguments now, each read whole: tests/test_cli_gatk_command_lines.py)."""
    with pytest.raises(SystemExit) as exit_:
        _parse("score", "-V", "v.vcf", "-R", "r.fa", "-O", "o.vcf", word, "x")
    assert exit_.value.code == 2
    assert f"unrecognized arguments: {word} x" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("cnnscore score", ["score", "-V", "v.vcf", "-R", "r.fa", "-O", "o.vcf"]),
        ("cnnscore filter", ["filter", "-V", "v.vcf", "--resource", "r.vcf", "-O", "o.vcf"]),
        ("cnnscore models fetch", ["models", "fetch", "gatk"]),
    ],
)
def test_an_unknown_flag_is_refused_by_its_subcommand(capsys, name, arguments):
    """The line names the subcommand and its help, which lists its flags (the top-level parser
    answered before: "cnnscore: unrecognized arguments ... (see cnnscore --help)")."""
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*arguments, "--no-such", "true"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == (
        f"cnnscore: error: {name}: unrecognized arguments: --no-such true (see {name} --help)\n"
    )


def test_gatks_short_name_for_the_output_index_is_taken():
    options, _ = _parse("score", "-V", "v.vcf", "-R", "r.fa", "-O", "o.vcf.gz", "-OVI", "false")
    assert options.create_index is False


def test_a_negative_thread_count_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_:
        _parse("score", "-V", "v.vcf", "-R", "r.fa", "-O", "o.vcf", "--threads", "-3")
    assert exit_.value.code == 2


def test_errors_name_the_flag_the_command_declares():
    error = InputError("must be at least 1", setting="scatter_count")
    assert _error_line(error, BY_NAME["split-intervals"]) == "--scatter-count: must be at least 1"
    assert str(error) == "scatter-count: must be at least 1"  # outside the command line
    reads = InputError("read_tensor needs reads", setting="reads")
    assert _error_line(reads, BY_NAME["score"]) == "-I: read_tensor needs reads"


def test_path_kinds_come_from_the_declarations():
    assert path_kinds(FilterOptions) == {
        "variants": "vcf", "resources": "vcf", "output": "output",
        "intervals": "file", "exclude_intervals": "file", "reference": "fasta",
    }  # fmt: skip
    kinds = path_kinds(TrainOptions)
    for name in ("teacher_architecture", "teacher_weights", "initial_weights", "architecture"):
        assert kinds[name] == "file", name


class _RecordingRemote:
    """RemoteFiles' interface, recording which kind each gs:// value was resolved as."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, kind):
        def resolve(value):
            self.calls.append((kind, value))
            return f"/local/{value[len('gs://') :]}"

        return resolve


def test_a_path_setting_works_with_gs_without_a_change_in_gcs():
    """train's teacher and initial weights (once missing from the gs:// table) are paths by
    their declaration alone."""
    options = TrainOptions(
        tensors=("gs://b/s.zip",),
        output="gs://b/out/model",
        model_kind="compact-2d",
        teacher_architecture="gs://b/t.json",
        teacher_weights="gs://b/t.hd5",
        initial_weights="gs://b/w.hd5",
    )
    assert uses_gcs(options)
    remote = _RecordingRemote()
    local = localize(options, remote)
    assert (local.teacher_architecture, local.teacher_weights, local.initial_weights) == (
        "/local/b/t.json", "/local/b/t.hd5", "/local/b/w.hd5")  # fmt: skip
    assert sorted(remote.calls) == sorted([
        ("file", "gs://b/s.zip"), ("output", "gs://b/out/model"), ("file", "gs://b/t.json"),
        ("file", "gs://b/t.hd5"), ("file", "gs://b/w.hd5"),
    ])  # fmt: skip
    assert not uses_gcs(dataclasses.replace(options, **{
        f: "x" for f in ("output", "teacher_architecture", "teacher_weights", "initial_weights")
    }, tensors=("s.zip",)))  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ("score", "-V", "v", "-R", "r", "-O", "o", "--threads", "-3"),
        ("score", "-V", "v", "-R", "r", "-O", "o", "--progress-seconds", "-1"),
        ("score", "-V", "v", "-R", "r", "-O", "o", "--inference-batch-size", "0"),
        ("score", "-V", "v", "-R", "r", "-O", "o", "--read-limit", "-1"),
        ("score", "-V", "v", "-R", "r", "-O", "o", "--window-size", "x"),
        ("score", "-V", "v", "-R", "r", "-O", "o", "--encode-workers", "-1"),
        ("score", "-V", "v", "-R", "r", "-O", "o", "-ip", "-5"),
        ("split-intervals", "-V", "v", "-R", "r", "-O", "o", "--scatter-count", "0"),
        ("filter", "-V", "v", "--resource", "r", "-O", "o", "--snp-tranche", "high"),
        ("filter", "-V", "v", "--resource", "r", "-O", "o", "--indel-tranche", "9_9.5"),  # Java
        ("compare", "--baseline", "a", "--candidate", "b", "-O", "o", "--snp-cutoff", "x"),
        ("compare", "--baseline", "a", "--candidate", "b", "-O", "o", "--snp-cutoff", "nan"),
        ("compare", "--baseline", "a", "--candidate", "b", "-O", "o", "--indel-cutoff", "NaN"),
        ("compare", "--baseline", "a", "--candidate", "b", "-O", "o", "--snp-cutoff", "inf"),
        (
            "write-tensors",
            "-V",
            "v",
            "-R",
            "r",
            "--truth-vcf",
            "t",
            "--truth-bed",
            "b",
            "-O",
            "o",
            "--downsample-snps",
            "1.5",
        ),
        ("train", "--tensors", "s", "--model-kind", "1d", "-O", "o", "--epochs", "0"),
        ("train", "--tensors", "s", "--model-kind", "1d", "-O", "o", "--threads", "-1"),
    ],
    ids=lambda argv: f"{argv[0]} {argv[-2]} {argv[-1]}",
)
def test_numeric_settings_are_checked_when_parsed(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        _parse(*argv)
    assert exit_.value.code == 2
    (error,) = capsys.readouterr().err.strip().splitlines()  # one line, not the usage text
    assert error.startswith(f"cnnscore: error: cnnscore {argv[0]}: argument {argv[-2]}"), error
    assert error.endswith(f"(see cnnscore {argv[0]} --help)"), error


def test_gatk_subcommands_take_every_long_name_with_one_dash():
    """GATK's parser takes any argument name after one or two dashes (its WDL writes -resource
    for an argument with no short name); score and filter do too, and only they."""
    options, _ = _parse(
        "score",
        "-variant",
        "v.vcf",
        "-reference",
        "r.fa",
        "-output",
        "o.vcf",
        "-tensor-type",
        "read_tensor",
        "-input",
        "a.bam",
        "-intervals",
        "chr1",
    )
    assert (options.variants, options.reference, options.output) == ("v.vcf", "r.fa", "o.vcf")
    assert (options.tensor_type, options.reads, options.intervals) == (
        "read_tensor", ("a.bam",), ("chr1",))  # fmt: skip
    with pytest.raises(SystemExit):
        _parse("split-intervals", "-variant", "v", "-R", "r", "-O", "o", "--scatter-count", "2")
